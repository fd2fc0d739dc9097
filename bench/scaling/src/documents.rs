//! Documents nobody has heard: each listener reads its own, and no paragraph repeats within a
//! benchmark, so every block is a real synthesis (the gateway's cache and its de-duplication of
//! identical blocks never help).

use std::collections::HashSet;

use bench_gateway::texts::SENTENCES;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

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

    /// A Markdown document of `paragraphs` fresh paragraphs, each of two or three sentences of
    /// 40 to 65 characters: 85 to 200 characters (5 to 12 s of audio), the size of a short
    /// article's paragraphs.
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
}
