//! Paragraphs that nothing has cached yet, in pairs of the same shape, and the prose they are
//! made of (which `bench/scaling` builds its documents from too).
//!
//! A pair is one set of sentences in two orders: both texts have the same characters, words and
//! sentence breaks, so they cost the model the same, yet hash differently, so the gateway's
//! cache cannot answer either. A seed from the clock keeps one run's texts apart from the last.

use std::collections::HashSet;

/// Plain prose: no Markdown, quotes or digits that the gateway or the phonemizer might rewrite;
/// 40 to 65 characters each.
pub const SENTENCES: &[&str] = &[
    "The ferry left the harbor an hour before sunrise.",
    "A thin fog still covered the water near the pier.",
    "Gulls followed the boat and cried over the wake.",
    "The captain checked the charts twice before noon.",
    "Most passengers slept on the benches below deck.",
    "A child counted the lighthouses along the coast.",
    "Rain began to fall as they passed the last island.",
    "The cook served hot soup and bread in the galley.",
    "Someone played a slow tune on an old accordion.",
    "Far to the west the clouds turned a pale orange.",
    "The engine hummed steadily through the long day.",
    "By evening the wind had dropped to a soft breeze.",
    "Two sailors argued quietly about the best route.",
    "The mainland rose out of the mist like a shadow.",
    "An old woman knitted a scarf without looking up.",
    "They reached the town just as the lamps came on.",
    "The library opened its doors a little after nine.",
    "Students gathered around the long oak tables.",
    "A librarian sorted returned books onto a cart.",
    "Sunlight fell across the maps on the far wall.",
    "Somebody sneezed and the whole room looked up.",
    "The old clock above the entrance ran five minutes slow.",
    "A boy searched the shelves for a book about volcanoes.",
    "Outside, a delivery van blocked half of the street.",
    "The garden behind the house was full of tall weeds.",
    "Her grandfather planted apple trees along the fence.",
    "Every autumn the family pressed the fruit into cider.",
    "Bees moved slowly between the last flowers of summer.",
    "A wooden bench stood under the largest of the trees.",
    "The neighbors often stopped to talk across the gate.",
    "In winter the path to the shed disappeared under snow.",
    "A robin built its nest in the ivy beside the door.",
    "The train was late, so the platform slowly filled up.",
    "A man in a grey coat read the timetable twice.",
    "Pigeons walked between the benches looking for crumbs.",
    "An announcement promised a new arrival time.",
    "Two friends shared a flask of tea and waited.",
    "When the train finally came, it was nearly empty.",
    "The valley below looked green after the spring rain.",
    "Hikers followed a narrow trail along the river bank.",
    "A wooden bridge crossed the stream near the old mill.",
    "Fish rested in the shade beneath the overhanging rocks.",
    "At the top of the hill the wind smelled of pine.",
    "The group stopped to eat lunch beside a stone wall.",
    "Clouds drifted over the peaks in slow white rows.",
    "They walked back down as the shadows grew longer.",
    "The bakery on the corner sold bread until it ran out.",
    "Early customers waited in line with their collars up.",
];

/// Deterministic xorshift: enough to shuffle sentences, no dependency needed.
struct Shuffler(u64);

impl Shuffler {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Hands out pairs of fresh paragraphs of at most `max_chars` characters.
pub struct FreshParagraphs {
    shuffler: Shuffler,
    max_chars: usize,
    seen: HashSet<String>,
}

impl FreshParagraphs {
    pub fn new(seed: u64, max_chars: usize) -> Self {
        Self {
            shuffler: Shuffler(seed | 1),
            max_chars,
            seen: HashSet::new(),
        }
    }

    /// Two texts made of the same sentences in different orders, neither handed out before.
    pub fn pair(&mut self) -> (String, String) {
        loop {
            let mut pool: Vec<&str> = SENTENCES.to_vec();
            self.shuffler.shuffle(&mut pool);
            // Greedy fill: take each shuffled sentence that still fits.
            let mut chosen: Vec<&str> = Vec::new();
            let mut chars = 0;
            for sentence in pool {
                let extra = sentence.len() + usize::from(!chosen.is_empty());
                if chars + extra <= self.max_chars {
                    chosen.push(sentence);
                    chars += extra;
                }
            }
            let first = chosen.join(" ");
            chosen.reverse();
            let second = chosen.join(" ");
            if chosen.len() > 1 && !self.seen.contains(&first) && !self.seen.contains(&second) {
                self.seen.insert(first.clone());
                self.seen.insert(second.clone());
                return (first, second);
            }
        }
    }
}

/// Short distinct paragraphs for the blocks the cached stage warms up once.
pub fn short_paragraphs(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| SENTENCES[i % SENTENCES.len()].to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_fresh_same_length_and_fit() {
        let mut fresh = FreshParagraphs::new(42, 300);
        let mut all = HashSet::new();
        for _ in 0..20 {
            let (a, b) = fresh.pair();
            assert_ne!(a, b);
            assert_eq!(a.len(), b.len());
            assert!(
                a.chars().count() <= 300 && a.chars().count() > 250,
                "{}",
                a.len()
            );
            assert!(all.insert(a) && all.insert(b));
        }
    }

    #[test]
    fn sentences_are_distinct_plain_prose() {
        let unique: HashSet<_> = SENTENCES.iter().collect();
        assert_eq!(unique.len(), SENTENCES.len());
        for s in SENTENCES {
            assert!((40..=65).contains(&s.len()), "{} chars: {s}", s.len());
            assert!(!s.contains(|c: char| c.is_ascii_digit() || "\"*#_`".contains(c)));
        }
    }

    #[test]
    fn short_paragraphs_are_distinct() {
        let paragraphs = short_paragraphs(8);
        let unique: HashSet<_> = paragraphs.iter().collect();
        assert_eq!(unique.len(), 8);
    }
}
