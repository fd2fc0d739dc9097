//! Content addressing: one hash per distinct piece of audio.

use sha2::{Digest, Sha256};

/// The audio encoding every variant is stored in: WAV, mono, 16-bit PCM at the model's rate.
pub const CODEC: &str = "wav-s16le-mono";

/// Everything that changes the audio of a block, and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant<'a> {
    pub text: &'a str,
    pub model: &'a str,
    pub model_version: &'a str,
    pub voice: &'a str,
    pub speed: f32,
}

impl Variant<'_> {
    /// SHA-256 over the length-prefixed fields (so no two field lists collide), in lower hex.
    /// Speed is rounded to hundredths: 1.0 and 1.0000001 are one variant.
    pub fn hash(&self) -> String {
        let speed = format!("{:.2}", self.speed);
        let mut hasher = Sha256::new();
        for field in [
            self.text,
            self.model,
            self.model_version,
            self.voice,
            &speed,
            CODEC,
        ] {
            hasher.update((field.len() as u64).to_le_bytes());
            hasher.update(field.as_bytes());
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A hash as this module writes it: 64 lower-case hex digits. Anything else is refused before
/// it reaches a file name or a Redis key.
pub fn is_valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Variant<'static> {
        Variant {
            text: "Hello there.",
            model: "kokoro",
            model_version: "v1.0-abc",
            voice: "af_heart",
            speed: 1.0,
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let h = base().hash();
        assert!(is_valid_hash(&h));
        assert_eq!(h, base().hash(), "the hash is deterministic");
        let changed = [
            Variant {
                text: "Hello there!",
                ..base()
            },
            Variant {
                model: "higgs",
                ..base()
            },
            Variant {
                model_version: "v1.0-abd",
                ..base()
            },
            Variant {
                voice: "af_bella",
                ..base()
            },
            Variant {
                speed: 1.25,
                ..base()
            },
        ];
        for v in changed {
            assert_ne!(v.hash(), h, "{v:?} must be another variant");
        }
    }

    #[test]
    fn field_boundaries_do_not_collide() {
        let a = Variant {
            text: "ab",
            voice: "c",
            ..base()
        };
        let b = Variant {
            text: "a",
            voice: "bc",
            ..base()
        };
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn speed_noise_is_one_variant() {
        assert_eq!(
            base().hash(),
            Variant {
                speed: 1.000_001,
                ..base()
            }
            .hash()
        );
    }

    #[test]
    fn only_lower_hex_of_the_right_length_is_a_hash() {
        assert!(!is_valid_hash("../../etc/passwd"));
        assert!(!is_valid_hash(&"A".repeat(64)));
        assert!(!is_valid_hash(&"a".repeat(63)));
    }
}
