//! Voice blends, as Kokoro-FastAPI writes them: `af_bella(2)+af_sky(1)` mixes the two voices'
//! style vectors two to one. A plain slug is a blend of one voice. Part of the contract: the
//! gateway checks and canonicalises a blend before it becomes a cache key, and the worker
//! mixes the packs.

use std::{collections::BTreeMap, fmt};

/// Voices one blend may mix; more is noise, and it bounds the work a request can ask for.
pub const MAX_BLEND_VOICES: usize = 8;

/// A parsed blend: voices in slug order with weights that sum to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceBlend {
    parts: Vec<(String, f64)>,
}

/// A share rounded to thousandths, halves up (the web player rounds the same way).
fn thousandths(share: f64) -> u32 {
    (share * 1000.0).round() as u32
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BlendError {
    #[error("the voice is empty")]
    Empty,
    #[error(
        "voice blend {spec:?}: {part:?} is not a voice with an optional weight, like af_bella(2)"
    )]
    Malformed { spec: String, part: String },
    #[error("voice blend {spec:?}: the weight of {voice} must be a number above 0, got {weight:?}")]
    BadWeight {
        spec: String,
        voice: String,
        weight: String,
    },
    #[error("voice blend {spec:?} mixes {count} voices; at most {MAX_BLEND_VOICES} may be blended")]
    TooMany { spec: String, count: usize },
    #[error(
        "voice blend {spec:?}: {voice} would make up less than a thousandth of the mix; raise its weight or leave it out"
    )]
    TooSmall { spec: String, voice: String },
}

impl VoiceBlend {
    /// Parses `slug`, `slug(weight)` terms joined by `+`; spaces around terms are ignored and
    /// a voice named twice adds up its weights.
    pub fn parse(spec: &str) -> Result<VoiceBlend, BlendError> {
        if spec.trim().is_empty() {
            return Err(BlendError::Empty);
        }
        let malformed = |part: &str| BlendError::Malformed {
            spec: spec.to_owned(),
            part: part.to_owned(),
        };
        let mut weights: BTreeMap<String, f64> = BTreeMap::new();
        let terms: Vec<&str> = spec.split('+').map(str::trim).collect();
        if terms.len() > MAX_BLEND_VOICES {
            return Err(BlendError::TooMany {
                spec: spec.to_owned(),
                count: terms.len(),
            });
        }
        for term in terms {
            let (slug, weight) = match term.split_once('(') {
                Some((slug, rest)) => {
                    let weight = rest.strip_suffix(')').ok_or_else(|| malformed(term))?;
                    (slug.trim(), Some(weight.trim()))
                }
                None => (term, None),
            };
            let well_formed = !slug.is_empty()
                && slug.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !well_formed {
                return Err(malformed(term));
            }
            let value = match weight {
                None => 1.0,
                Some(text) => text
                    .parse::<f64>()
                    .ok()
                    .filter(|w| w.is_finite() && *w > 0.0)
                    .ok_or_else(|| BlendError::BadWeight {
                        spec: spec.to_owned(),
                        voice: slug.to_owned(),
                        weight: text.to_owned(),
                    })?,
            };
            *weights.entry(slug.to_owned()).or_default() += value;
        }
        let total: f64 = weights.values().sum();
        let mut parts = Vec::with_capacity(weights.len());
        for (slug, weight) in weights {
            let share = weight / total;
            // The canonical spelling keeps three decimals; a share that rounds to 0 could not
            // be read back.
            if thousandths(share) == 0 {
                return Err(BlendError::TooSmall {
                    spec: spec.to_owned(),
                    voice: slug,
                });
            }
            parts.push((slug, share));
        }
        Ok(VoiceBlend { parts })
    }

    /// The voices and their weights (summing to 1), in slug order.
    pub fn parts(&self) -> impl Iterator<Item = (&str, f32)> {
        self.parts
            .iter()
            .map(|(slug, w)| (slug.as_str(), *w as f32))
    }

    pub fn voices(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(|(slug, _)| slug.as_str())
    }

    pub fn is_single(&self) -> bool {
        self.parts.len() == 1
    }
}

/// The canonical spelling: a single voice is its slug; a blend lists its voices in slug order
/// with weights normalised to sum to 1, written with at most three decimals. Two spellings of
/// the same mix (`af_sky+af_bella(2)`, `af_bella(4)+af_sky(2)`) give the same slug, hence the
/// same cached audio.
impl fmt::Display for VoiceBlend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [(slug, _)] = self.parts.as_slice() {
            return f.write_str(slug);
        }
        for (i, (slug, weight)) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            let share = format!("{:.3}", f64::from(thousandths(*weight)) / 1000.0);
            let trimmed = share.trim_end_matches('0').trim_end_matches('.');
            write!(f, "{slug}({trimmed})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(spec: &str) -> String {
        VoiceBlend::parse(spec).unwrap().to_string()
    }

    #[test]
    fn a_single_voice_is_its_own_slug() {
        assert_eq!(canonical("af_heart"), "af_heart");
        assert_eq!(canonical(" af_heart(3) "), "af_heart");
        assert!(VoiceBlend::parse("af_heart").unwrap().is_single());
    }

    #[test]
    fn blends_are_canonical_in_order_and_weights() {
        assert_eq!(
            canonical("af_bella(2)+af_sky(1)"),
            "af_bella(0.667)+af_sky(0.333)"
        );
        assert_eq!(
            canonical("af_sky + af_bella(2)"),
            "af_bella(0.667)+af_sky(0.333)"
        );
        assert_eq!(
            canonical("af_bella(4)+af_sky(2)"),
            "af_bella(0.667)+af_sky(0.333)"
        );
        assert_eq!(canonical("af_bella+af_sky"), "af_bella(0.5)+af_sky(0.5)");
        assert_eq!(
            canonical("af_bella(1)+af_sky+af_bella"),
            "af_bella(0.667)+af_sky(0.333)"
        );
        let blend = VoiceBlend::parse("af_bella(0.25)+af_sky(0.75)").unwrap();
        let parts: Vec<(&str, f32)> = blend.parts().collect();
        assert_eq!(parts, [("af_bella", 0.25), ("af_sky", 0.75)]);
        // A share of exactly half a thousandth rounds up, as in the player.
        assert_eq!(
            canonical("af_bella(1)+af_sky(15)"),
            "af_bella(0.063)+af_sky(0.938)"
        );
        // The canonical form parses back to itself.
        let again = canonical("af_bella(0.667)+af_sky(0.333)");
        assert_eq!(again, "af_bella(0.667)+af_sky(0.333)");
    }

    #[test]
    fn bad_blends_say_what_is_wrong() {
        let err = |spec| VoiceBlend::parse(spec).unwrap_err().to_string();
        assert_eq!(VoiceBlend::parse(" "), Err(BlendError::Empty));
        assert!(err("af_bella(0)+af_sky").contains("weight of af_bella must be a number above 0"));
        assert!(err("af_bella(-1)+af_sky").contains("got \"-1\""));
        assert!(err("af_bella(two)").contains("got \"two\""));
        assert!(err("af_bella(2+af_sky").contains("not a voice with an optional weight"));
        assert!(err("af_bella++af_sky").contains("\"\""));
        assert!(err("AF_Bella").contains("not a voice"));
        let many = ["af_heart"; 9].join("+");
        assert!(err(&many).contains("at most 8"));
        assert!(
            err("af_bella(1)+af_sky(5000)")
                .contains("af_bella would make up less than a thousandth")
        );
    }
}
