//! Documents nobody has heard: each listener reads its own, and no paragraph repeats within a
//! benchmark, so every block is a real synthesis (the gateway's cache and its de-duplication of
//! identical blocks never help).

use std::collections::HashSet;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

/// Plain prose without digits, quotes or Markdown that the normaliser might rewrite; 40 to 65
/// characters each, so a paragraph of two or three is 85 to 200 characters (5 to 12 s of audio),
/// the size of a short article's paragraphs.
const SENTENCES: &[&str] = &[
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

/// Hands out documents whose paragraphs were never handed out before.
pub struct Documents {
    rng: StdRng,
    seen: HashSet<String>,
}

impl Documents {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            seen: HashSet::new(),
        }
    }

    /// A Markdown document of `paragraphs` fresh paragraphs, each of two or three sentences.
    pub fn next(&mut self, paragraphs: usize) -> String {
        let mut out = Vec::with_capacity(paragraphs);
        while out.len() < paragraphs {
            let count = self.rng.random_range(2..=3);
            let sentences: Vec<&str> = SENTENCES
                .choose_multiple(&mut self.rng, count)
                .copied()
                .collect();
            let paragraph = sentences.join(" ");
            if self.seen.insert(paragraph.clone()) {
                out.push(paragraph);
            }
        }
        out.join("\n\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_never_repeat_and_fit_a_block() {
        let mut documents = Documents::new(3);
        let mut all = HashSet::new();
        for _ in 0..200 {
            let document = documents.next(16);
            let paragraphs: Vec<&str> = document.split("\n\n").collect();
            assert_eq!(paragraphs.len(), 16);
            for p in paragraphs {
                let chars = p.chars().count();
                assert!((80..=300).contains(&chars), "{chars}: {p}");
                assert!(all.insert(p.to_string()), "repeated: {p}");
            }
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
}
