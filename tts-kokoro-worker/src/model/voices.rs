//! Kokoro voice packs: an npz archive with one float32 array of 510×1×256 per voice (the official
//! `voices-v1.0.bin` has this layout too). Row `n` is the style vector for an utterance of `n`
//! phoneme tokens.

use std::{collections::BTreeMap, fs::File, io::BufReader, path::Path, sync::Arc};

use ndarray::{Array2, ArrayD, Axis, Ix2};
use ndarray_npy::NpzReader;

/// Rows in a pack: one per possible token count of an utterance.
pub const PACK_ROWS: usize = 510;
/// Width of a style vector.
pub const STYLE_DIM: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("cannot open the voice file {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("the voice file {path} is not an npz archive of float32 arrays: {source}")]
    Format {
        path: String,
        source: ndarray_npy::ReadNpzError,
    },
    #[error(
        "voice '{voice}' in {path} has shape {shape:?}; a Kokoro voice pack must be {PACK_ROWS}×1×{STYLE_DIM} (or {PACK_ROWS}×{STYLE_DIM}) float32"
    )]
    Shape {
        path: String,
        voice: String,
        shape: Vec<usize>,
    },
    #[error("the voice file {path} holds no voices")]
    Empty { path: String },
}

/// One loaded voice.
#[derive(Debug, Clone)]
pub struct VoicePack {
    pub slug: String,
    pub name: String,
    pub language: String,
    styles: Array2<f32>,
}

impl VoicePack {
    /// The style vector for an utterance of `token_count` phoneme tokens (clamped to the pack).
    pub fn style_for(&self, token_count: usize) -> &[f32] {
        let row = token_count.min(PACK_ROWS - 1);
        self.styles
            .row(row)
            .to_slice()
            .expect("rows of a standard-layout Array2 are contiguous")
    }
}

/// The voices a worker has loaded, by slug, in slug order. Packs are shared with the jobs that
/// use them, so a job never copies one.
#[derive(Debug, Clone)]
pub struct VoiceSet {
    voices: BTreeMap<String, Arc<VoicePack>>,
}

impl VoiceSet {
    pub fn load(path: &Path) -> Result<Self, VoiceError> {
        let display = path.display().to_string();
        let file = File::open(path).map_err(|source| VoiceError::Open {
            path: display.clone(),
            source,
        })?;
        let format = |source| VoiceError::Format {
            path: display.clone(),
            source,
        };
        let mut npz = NpzReader::new(BufReader::new(file)).map_err(format)?;
        let mut voices = BTreeMap::new();
        for slug in npz.names().map_err(format)? {
            let raw: ArrayD<f32> = npz.by_name(&slug).map_err(format)?;
            let styles = into_pack(raw).map_err(|shape| VoiceError::Shape {
                path: display.clone(),
                voice: slug.clone(),
                shape,
            })?;
            let (name, language) = describe(&slug);
            voices.insert(
                slug.clone(),
                Arc::new(VoicePack {
                    slug,
                    name,
                    language,
                    styles,
                }),
            );
        }
        if voices.is_empty() {
            return Err(VoiceError::Empty { path: display });
        }
        Ok(Self { voices })
    }

    pub fn get(&self, slug: &str) -> Option<&Arc<VoicePack>> {
        self.voices.get(slug)
    }

    pub fn iter(&self) -> impl Iterator<Item = &VoicePack> {
        self.voices.values().map(Arc::as_ref)
    }

    pub fn slugs(&self) -> Vec<&str> {
        self.voices.keys().map(String::as_str).collect()
    }
}

/// Accepts 510×1×256 (the official layout) or 510×256; anything else is the wrong file.
fn into_pack(raw: ArrayD<f32>) -> Result<Array2<f32>, Vec<usize>> {
    let shape = raw.shape().to_vec();
    let squeezed = match shape.as_slice() {
        [PACK_ROWS, 1, STYLE_DIM] => raw.remove_axis(Axis(1)),
        [PACK_ROWS, STYLE_DIM] => raw,
        _ => return Err(shape),
    };
    let pack = squeezed
        .into_dimensionality::<Ix2>()
        .map_err(|_| shape.clone())?;
    Ok(pack.as_standard_layout().into_owned())
}

/// Kokoro's slugs encode language and gender in the first two letters (`af_heart`: American
/// English, female); the rest is the name.
fn describe(slug: &str) -> (String, String) {
    let (prefix, rest) = slug.split_once('_').unwrap_or(("", slug));
    let language = match prefix.chars().next() {
        Some('a') => "en-US",
        Some('b') => "en-GB",
        Some('e') => "es",
        Some('f') => "fr-FR",
        Some('h') => "hi",
        Some('i') => "it",
        Some('j') => "ja",
        Some('p') => "pt-BR",
        Some('z') => "zh",
        _ => "und",
    };
    let name = rest
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    (name, language.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use ndarray_npy::NpzWriter;

    fn write_npz(path: &Path, arrays: &[(&str, ArrayD<f32>)]) {
        let mut npz = NpzWriter::new(File::create(path).unwrap());
        for (name, array) in arrays {
            npz.add_array(*name, array).unwrap();
        }
        npz.finish().unwrap();
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("yapit-voices-{}-{name}.npz", std::process::id()))
    }

    #[test]
    fn loads_official_layout_and_picks_row_by_token_count() {
        let path = temp_path("ok");
        let mut pack = Array3::<f32>::zeros((PACK_ROWS, 1, STYLE_DIM));
        for row in 0..PACK_ROWS {
            pack[[row, 0, 0]] = row as f32;
        }
        write_npz(&path, &[("af_heart", pack.into_dyn())]);
        let voices = VoiceSet::load(&path).unwrap();
        let heart = voices.get("af_heart").unwrap();
        assert_eq!(heart.name, "Heart");
        assert_eq!(heart.language, "en-US");
        assert_eq!(heart.style_for(42)[0], 42.0);
        assert_eq!(heart.style_for(10_000)[0], (PACK_ROWS - 1) as f32);
        assert_eq!(heart.style_for(42).len(), STYLE_DIM);
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn rejects_a_pack_of_the_wrong_shape_naming_the_voice() {
        let path = temp_path("bad");
        let good = Array3::<f32>::zeros((PACK_ROWS, 1, STYLE_DIM)).into_dyn();
        let bad = Array3::<f32>::zeros((400, 1, 128)).into_dyn();
        write_npz(&path, &[("af_good", good), ("jf_broken", bad)]);
        let err = VoiceSet::load(&path).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, VoiceError::Shape { .. }), "{message}");
        assert!(message.contains("jf_broken"), "{message}");
        assert!(message.contains("[400, 1, 128]"), "{message}");
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn rejects_a_file_that_is_not_npz() {
        let path = temp_path("garbage");
        std::fs::write(&path, b"not a zip archive").unwrap();
        let err = VoiceSet::load(&path).unwrap_err();
        assert!(matches!(err, VoiceError::Format { .. }), "{err}");
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn describes_slugs() {
        assert_eq!(
            describe("jf_alpha"),
            ("Alpha".to_string(), "ja".to_string())
        );
        assert_eq!(
            describe("bm_george"),
            ("George".to_string(), "en-GB".to_string())
        );
        assert_eq!(describe("odd"), ("Odd".to_string(), "und".to_string()));
    }
}
