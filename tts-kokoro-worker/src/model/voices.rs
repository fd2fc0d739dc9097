//! Kokoro voice packs: a folder of `<slug>.bin` files, each raw little-endian float32 510×256 (as
//! the npm package kokoro-js ships them), or an npz archive with one float32 array of 510×1×256
//! per voice (the official `voices-v1.0.bin` has this layout). Row `n` is the style vector for an
//! utterance of `n` phoneme tokens.

use std::{collections::BTreeMap, fs::File, io::BufReader, path::Path, sync::Arc};

use ndarray::{Array2, ArrayD, Axis, Ix2};
use ndarray_npy::NpzReader;
use proto::blend::VoiceBlend;

/// Kokoro's best-rated voice, the default wherever no voice is named.
pub const DEFAULT_VOICE: &str = "af_heart";
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
    #[error(
        "voice file {path} has {bytes} bytes; a raw Kokoro voice pack is {PACK_ROWS}×{STYLE_DIM} little-endian float32 ({} bytes)",
        PACK_ROWS * STYLE_DIM * 4
    )]
    RawSize { path: String, bytes: usize },
    #[error("{path} holds no voices (expected <slug>.bin files or an npz archive)")]
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
    /// Loads a folder of raw `<slug>.bin` packs, or an npz archive.
    pub fn load(path: &Path) -> Result<Self, VoiceError> {
        let voices = if path.is_dir() {
            load_folder(path)?
        } else {
            load_npz(path)?
        };
        if voices.is_empty() {
            return Err(VoiceError::Empty {
                path: path.display().to_string(),
            });
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

    /// The pack for a voice or a blend: a blend's styles are the weighted sum of its voices'
    /// (Kokoro-FastAPI's mix), its slug the blend's canonical spelling. Every voice of a blend
    /// must be known and of one language, which its G2P follows.
    pub fn resolve(&self, blend: &VoiceBlend) -> Result<Arc<VoicePack>, ResolveError> {
        let packs = blend
            .parts()
            .map(|(slug, weight)| {
                self.get(slug)
                    .map(|pack| (pack, weight))
                    .ok_or_else(|| ResolveError::Unknown(slug.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let [(pack, _)] = packs.as_slice() {
            return Ok(Arc::clone(pack));
        }
        let first = packs[0].0;
        if packs.iter().any(|(p, _)| p.language != first.language) {
            let mut languages: Vec<String> = packs
                .iter()
                .map(|(p, _)| format!("{} is {}", p.slug, p.language))
                .collect();
            languages.dedup();
            return Err(ResolveError::MixedLanguages(languages));
        }
        let mut styles = Array2::<f32>::zeros((PACK_ROWS, STYLE_DIM));
        for (pack, weight) in &packs {
            styles.scaled_add(*weight, &pack.styles);
        }
        Ok(Arc::new(VoicePack {
            slug: blend.to_string(),
            name: packs
                .iter()
                .map(|(p, _)| p.name.as_str())
                .collect::<Vec<_>>()
                .join(" + "),
            language: first.language.clone(),
            styles,
        }))
    }
}

/// Why a voice or blend names no usable pack.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolveError {
    /// This voice is not loaded.
    Unknown(String),
    /// The blend's voices speak different languages ("af_heart is en-US", …).
    MixedLanguages(Vec<String>),
}

type Packs = BTreeMap<String, Arc<VoicePack>>;

fn pack(slug: String, styles: Array2<f32>) -> Arc<VoicePack> {
    let (name, language) = describe(&slug);
    Arc::new(VoicePack {
        slug,
        name,
        language,
        styles,
    })
}

fn load_folder(dir: &Path) -> Result<Packs, VoiceError> {
    let open = |path: &Path, source| VoiceError::Open {
        path: path.display().to_string(),
        source,
    };
    let mut voices = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| open(dir, e))? {
        let path = entry.map_err(|e| open(dir, e))?.path();
        let Some(slug) = path
            .extension()
            .filter(|ext| *ext == "bin")
            .and(path.file_stem())
            .and_then(|stem| stem.to_str())
        else {
            continue;
        };
        let bytes = std::fs::read(&path).map_err(|e| open(&path, e))?;
        if bytes.len() != PACK_ROWS * STYLE_DIM * 4 {
            return Err(VoiceError::RawSize {
                path: path.display().to_string(),
                bytes: bytes.len(),
            });
        }
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let styles = Array2::from_shape_vec((PACK_ROWS, STYLE_DIM), values)
            .expect("the length was checked against the shape");
        voices.insert(slug.to_owned(), pack(slug.to_owned(), styles));
    }
    Ok(voices)
}

fn load_npz(path: &Path) -> Result<Packs, VoiceError> {
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
        voices.insert(slug.clone(), pack(slug, styles));
    }
    Ok(voices)
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

    fn temp_folder(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("yapit-voices-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn raw_pack(first_column: impl Fn(usize) -> f32) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(PACK_ROWS * STYLE_DIM * 4);
        for row in 0..PACK_ROWS {
            for column in 0..STYLE_DIM {
                let value = if column == 0 { first_column(row) } else { 0.5 };
                bytes.extend_from_slice(&value.to_le_bytes());
            }
        }
        bytes
    }

    #[test]
    fn loads_a_folder_of_raw_packs_by_file_name() {
        let dir = temp_folder("folder");
        std::fs::write(dir.join("af_heart.bin"), raw_pack(|row| row as f32)).unwrap();
        std::fs::write(dir.join("ef_dora.bin"), raw_pack(|_| -1.0)).unwrap();
        std::fs::write(dir.join("README.txt"), b"not a voice").unwrap();
        let voices = VoiceSet::load(&dir).unwrap();
        assert_eq!(voices.slugs(), ["af_heart", "ef_dora"]);
        let heart = voices.get("af_heart").unwrap();
        assert_eq!(heart.style_for(7)[0], 7.0);
        assert_eq!(heart.style_for(7)[1], 0.5);
        let dora = voices.get("ef_dora").unwrap();
        assert_eq!((dora.name.as_str(), dora.language.as_str()), ("Dora", "es"));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn rejects_a_raw_pack_of_the_wrong_size_naming_the_file() {
        let dir = temp_folder("short");
        std::fs::write(dir.join("af_short.bin"), vec![0u8; 1000]).unwrap();
        let message = VoiceSet::load(&dir).unwrap_err().to_string();
        assert!(
            message.contains("af_short.bin") && message.contains("1000 bytes"),
            "{message}"
        );
        let empty = temp_folder("empty");
        let message = VoiceSet::load(&empty).unwrap_err().to_string();
        assert!(message.contains("holds no voices"), "{message}");
        std::fs::remove_dir_all(dir).ok();
        std::fs::remove_dir_all(empty).ok();
    }

    #[test]
    fn a_blend_mixes_styles_by_weight_and_checks_its_voices() {
        let dir = temp_folder("blend");
        std::fs::write(dir.join("af_bella.bin"), raw_pack(|_| 1.0)).unwrap();
        std::fs::write(dir.join("af_sky.bin"), raw_pack(|_| 4.0)).unwrap();
        std::fs::write(dir.join("jf_alpha.bin"), raw_pack(|_| 0.0)).unwrap();
        let voices = VoiceSet::load(&dir).unwrap();
        let resolve = |spec| voices.resolve(&VoiceBlend::parse(spec).unwrap());

        let mix = resolve("af_sky(1)+af_bella(2)").unwrap();
        assert_eq!(mix.slug, "af_bella(0.667)+af_sky(0.333)");
        assert_eq!(
            (mix.name.as_str(), mix.language.as_str()),
            ("Bella + Sky", "en-US")
        );
        // 2/3 of 1.0 and 1/3 of 4.0.
        assert!(
            (mix.style_for(10)[0] - 2.0).abs() < 1e-5,
            "{}",
            mix.style_for(10)[0]
        );
        assert!((mix.style_for(10)[1] - 0.5).abs() < 1e-5);
        assert_eq!(resolve("af_sky").unwrap().slug, "af_sky");

        assert_eq!(
            resolve("af_bella+af_nobody").unwrap_err(),
            ResolveError::Unknown("af_nobody".into())
        );
        assert_eq!(
            resolve("af_bella+jf_alpha").unwrap_err(),
            ResolveError::MixedLanguages(vec!["af_bella is en-US".into(), "jf_alpha is ja".into()])
        );
        std::fs::remove_dir_all(dir).ok();
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
