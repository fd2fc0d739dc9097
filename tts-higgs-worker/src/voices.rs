//! Voices are reference clips: `<slug>.wav` and its transcript `<slug>.txt` in one folder. Each
//! clip is read (any rate, mono or stereo), encoded to audio codes once at start, and the codes
//! and transcript are the voice-cloning prompt of every call in that voice.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use crate::{codec::AudioTokenizer, model::VoicePrompt};

/// The longest reference clip accepted: the prompt's codes take 25 positions a second of the
/// model's context, and the reference's voice prompts are 5–15 s.
pub const MAX_CLIP_SECS: f32 = 30.0;

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("cannot read the voices folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the voices folder {0} holds no voice: put `<slug>.wav` reference clips there, each with its transcript in `<slug>.txt` (docs/higgs-worker.md)"
    )]
    Empty(PathBuf),
    #[error(
        "voice {slug}: the transcript {path} is missing or unreadable ({source}); every clip needs the words it says"
    )]
    Transcript {
        slug: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("voice {slug}: the transcript {path} is empty")]
    EmptyTranscript { slug: String, path: PathBuf },
    #[error("voice {slug}: cannot read {path} as WAV: {source}")]
    Wav {
        slug: String,
        path: PathBuf,
        source: hound::Error,
    },
    #[error(
        "voice {slug}: {path} is {secs:.1} s long; a reference clip must be between 0.5 and {MAX_CLIP_SECS} s"
    )]
    Length {
        slug: String,
        path: PathBuf,
        secs: f32,
    },
    #[error("voice {slug}: encoding {path} failed: {source}")]
    Encode {
        slug: String,
        path: PathBuf,
        source: Box<crate::codec::CodecError>,
    },
}

/// One voice as the worker serves it.
#[derive(Debug, Clone)]
pub struct Voice {
    pub slug: String,
    /// Name for people, from the seed catalogue (else the slug).
    pub name: String,
    /// BCP 47 language of the clip, from the seed catalogue (else `und`).
    pub language: String,
    pub prompt: VoicePrompt,
}

/// Every voice the worker loaded, by slug.
#[derive(Debug, Clone, Default)]
pub struct Voices {
    voices: BTreeMap<String, Voice>,
}

/// A reference clip as read from disk: mono samples at their own rate.
#[derive(Debug, Clone)]
pub struct Clip {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Clip {
    pub fn seconds(&self) -> f32 {
        self.samples.len() as f32 / self.sample_rate as f32
    }
}

/// Reads a WAV file (integer or float samples, any channel count) as mono f32.
pub fn read_wav(path: &Path) -> Result<Clip, hound::Error> {
    let mut reader = hound::WavReader::open(path)?;
    let spec = reader.spec();
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    let channels = usize::from(spec.channels.max(1));
    let samples = interleaved
        .chunks(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    Ok(Clip {
        samples,
        sample_rate: spec.sample_rate,
    })
}

impl Voices {
    /// Loads every `<slug>.wav` of `dir`, encoding each with `codec`. Names and languages come
    /// from the seed catalogue's Higgs voices; a clip the catalogue lacks is served under its
    /// slug, with a warning, since the gateway offers only catalogue voices.
    pub fn load(dir: &Path, codec: &AudioTokenizer) -> Result<Self, VoiceError> {
        let folder = |source| VoiceError::Folder {
            path: dir.to_path_buf(),
            source,
        };
        let mut clips: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(folder)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(folder)?;
        clips.retain(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")));
        clips.sort();
        let catalog = seed::Catalog::builtin();
        let known = catalog.model(crate::server::MODEL_SLUG);
        let mut voices = BTreeMap::new();
        for wav in clips {
            let Some(slug) = wav.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            let txt = wav.with_extension("txt");
            let transcript = std::fs::read_to_string(&txt)
                .map_err(|source| VoiceError::Transcript {
                    slug: slug.clone(),
                    path: txt.clone(),
                    source,
                })?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if transcript.is_empty() {
                return Err(VoiceError::EmptyTranscript { slug, path: txt });
            }
            let clip = read_wav(&wav).map_err(|source| VoiceError::Wav {
                slug: slug.clone(),
                path: wav.clone(),
                source,
            })?;
            let secs = clip.seconds();
            if !(0.5..=MAX_CLIP_SECS).contains(&secs) {
                return Err(VoiceError::Length {
                    slug,
                    path: wav,
                    secs,
                });
            }
            let codes = codec
                .encode(&clip.samples, clip.sample_rate)
                .map_err(|source| VoiceError::Encode {
                    slug: slug.clone(),
                    path: wav.clone(),
                    source: Box::new(source),
                })?;
            let entry = known.and_then(|m| m.voices.iter().find(|v| v.slug == slug));
            if entry.is_none() {
                tracing::warn!(voice = %slug, "not in the seed catalogue; served, but the gateway will not offer it");
            }
            tracing::info!(voice = %slug, seconds = secs, frames = codes.first().map_or(0, Vec::len), "voice encoded");
            voices.insert(
                slug.clone(),
                Voice {
                    name: entry.map_or_else(|| slug.clone(), |v| v.name.clone()),
                    language: entry.map_or_else(|| "und".into(), |v| v.lang.clone()),
                    prompt: VoicePrompt { transcript, codes },
                    slug,
                },
            );
        }
        if voices.is_empty() {
            return Err(VoiceError::Empty(dir.to_path_buf()));
        }
        Ok(Self { voices })
    }

    pub fn get(&self, slug: &str) -> Option<&Voice> {
        self.voices.get(slug)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Voice> {
        self.voices.values()
    }

    pub fn slugs(&self) -> Vec<String> {
        self.voices.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, channels: u16, rate: u32, frames: &[Vec<i16>]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for frame in frames {
            for &s in frame {
                w.write_sample(s).unwrap();
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn stereo_clips_are_read_as_the_mean_of_their_channels() {
        let dir = std::env::temp_dir().join(format!("higgs-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stereo.wav");
        write_wav(&path, 2, 44_100, &[vec![16_384, 0], vec![-16_384, -16_384]]);
        let clip = read_wav(&path).unwrap();
        assert_eq!(clip.sample_rate, 44_100);
        assert_eq!(clip.samples, vec![0.25, -0.5]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
