//! Word timings: when each written word of a block is spoken, kept beside its cached audio as
//! JSON so the player can highlight the word being read and seek to a word.

use serde::{Deserialize, Serialize};

/// One written word of a block and when its audio speaks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordTiming {
    /// The word as written, e.g. "1897" (spoken as four words, timed as one).
    pub word: String,
    /// Where it is in the block's text, in Unicode scalar values, end excluded.
    pub start_char: u32,
    pub end_char: u32,
    /// When it is spoken, in seconds from the start of the block's audio.
    pub start: f64,
    pub end: f64,
}

/// The worker's timings (samples at `sample_rate`) as the player reads them (seconds, to the
/// millisecond).
pub fn from_worker(words: &[proto::v1::WordTiming], sample_rate: u32) -> Vec<WordTiming> {
    let seconds =
        |samples: u64| (samples as f64 * 1000.0 / f64::from(sample_rate.max(1))).round() / 1000.0;
    words
        .iter()
        .map(|w| WordTiming {
            word: w.text.clone(),
            start_char: w.char_start,
            end_char: w.char_end,
            start: seconds(w.start_sample),
            end: seconds(w.end_sample),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_become_seconds() {
        let worker = proto::v1::WordTiming {
            char_start: 3,
            char_end: 7,
            text: "1897".into(),
            start_sample: 6_480,
            end_sample: 36_960,
        };
        let words = from_worker(&[worker], 24_000);
        assert_eq!(
            words,
            [WordTiming {
                word: "1897".into(),
                start_char: 3,
                end_char: 7,
                start: 0.27,
                end: 1.54,
            }]
        );
        let json = serde_json::to_string(&words).unwrap();
        assert!(json.contains(r#""start":0.27"#), "{json}");
    }
}
