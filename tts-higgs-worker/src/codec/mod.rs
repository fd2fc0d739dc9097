//! The Higgs Audio v2 audio tokenizer (xcodec-style: DAC + HuBERT semantic features + RVQ).
//!
//! Encoding (voice reference clips): the clip is resampled to 24 kHz, the DAC encoder makes the
//! acoustic latent, HuBERT (on a 16 kHz copy, every hidden state averaged, every second frame
//! kept) makes the semantic one, both are concatenated, projected and quantized by an 8-layer
//! residual VQ into codes, 25 frames per second. Decoding sums the codebook vectors, projects
//! them back to the acoustic latent and runs the DAC decoder.
//!
//! Loads only the converted format (`model.safetensors` + `config.json`) that
//! `scripts/higgs-reference/convert_tokenizer.py` writes from the published `model.pth`.
//! Codes are laid out `[codebook][frame]` everywhere.

mod config;
mod dac;
mod hubert;
mod layers;
pub mod resample;
mod rvq;
mod semantic;
mod stream;

use std::path::{Path, PathBuf};

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;

pub use config::{CodecConfig, HubertConfig, SemanticEncoderConfig};
pub use stream::{DEFAULT_FIRST_CHUNK_FRAMES, DEFAULT_STREAM_CHUNK_FRAMES, StreamDecoder};

use dac::{DacDecoder, DacEncoder};
use hubert::Hubert;
use layers::Linear;
use rvq::Rvq;
use semantic::SemanticEncoder;

/// Rate of the audio the codec decodes to (and encodes from, after resampling).
pub const SAMPLE_RATE: u32 = 24_000;

/// Zero samples the reference puts on each side of the 16 kHz waveform before HuBERT.
const SEMANTIC_PAD: usize = 160;

/// Everything that can go wrong loading or running the tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("cannot read audio tokenizer file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audio tokenizer config {path} is not valid JSON for this codec: {source}")]
    ConfigJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("audio tokenizer config: {0}")]
    InvalidConfig(String),
    #[error("audio tokenizer weights {path} do not fit the config: {source}")]
    Weights {
        path: PathBuf,
        source: candle_core::Error,
    },
    #[error("expected codes for {expected} codebooks, got {got}")]
    CodebookCount { expected: usize, got: usize },
    #[error("codebook {codebook} has {len} frames but codebook 0 has {first}")]
    RaggedCodes {
        codebook: usize,
        len: usize,
        first: usize,
    },
    #[error(
        "code {code} (codebook {codebook}, frame {frame}) is out of range: codebooks have {size} entries"
    )]
    CodeOutOfRange {
        code: u32,
        codebook: usize,
        frame: usize,
        size: usize,
    },
    #[error("no frames to decode")]
    NoFrames,
    #[error("empty audio: nothing to encode")]
    EmptyAudio,
    #[error("audio contains a non-finite sample at index {0}")]
    NonFiniteAudio(usize),
    #[error("sample rate must be positive")]
    ZeroSampleRate,
    #[error("audio too short to encode: {samples} samples at {sample_rate} Hz give no frame")]
    AudioTooShort { samples: usize, sample_rate: u32 },
    #[error("audio tokenizer computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// The loaded tokenizer; immutable after `load`, so it is `Send + Sync` and can be shared.
#[derive(Debug)]
pub struct AudioTokenizer {
    cfg: CodecConfig,
    device: Device,
    encoder: DacEncoder,
    decoder: DacDecoder,
    hubert: Hubert,
    semantic_encoder: SemanticEncoder,
    fc_prior: Linear,
    fc_post2: Linear,
    rvq: Rvq,
    /// Frames of (left, right) context the decoder needs for exact windowed decoding.
    context: (usize, usize),
}

impl AudioTokenizer {
    /// Loads `dir/config.json` and `dir/model.safetensors` (the converted format) in f32.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, CodecError> {
        let config_path = dir.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|source| CodecError::Io {
            path: config_path.clone(),
            source,
        })?;
        let cfg: CodecConfig =
            serde_json::from_str(&text).map_err(|source| CodecError::ConfigJson {
                path: config_path.clone(),
                source,
            })?;
        cfg.validate()?;
        let weights_path = dir.join("model.safetensors");
        if !weights_path.is_file() {
            return Err(CodecError::Io {
                path: weights_path,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
            });
        }
        let weights_err = |source| CodecError::Weights {
            path: weights_path.clone(),
            source,
        };
        let tensors = candle_core::safetensors::load(&weights_path, device).map_err(weights_err)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let qdim = cfg.quantizer_dim();
        let sem = cfg.semantic_dim;
        let build = || -> candle_core::Result<Self> {
            Ok(Self {
                encoder: DacEncoder::load(vb.pp("encoder"), &cfg)?,
                decoder: DacDecoder::load(vb.pp("decoder_2"), &cfg)?,
                hubert: Hubert::load(vb.pp("semantic_model"), &cfg.hubert)?,
                semantic_encoder: SemanticEncoder::load(
                    vb.pp("encoder_semantic"),
                    &cfg.semantic_encoder,
                    sem,
                )?,
                fc_prior: Linear::load(vb.pp("fc_prior"), cfg.d + sem, qdim)?,
                fc_post2: Linear::load(vb.pp("fc_post2"), qdim, cfg.d)?,
                rvq: Rvq::load(
                    vb.pp("quantizer"),
                    cfg.n_q,
                    cfg.bins,
                    qdim,
                    cfg.codebook_dim,
                )?,
                context: dac::decoder_context_frames(&cfg),
                device: device.clone(),
                cfg: cfg.clone(),
            })
        };
        build().map_err(weights_err)
    }

    pub fn config(&self) -> &CodecConfig {
        &self.cfg
    }

    pub fn num_codebooks(&self) -> usize {
        self.cfg.n_q
    }

    /// Entries per codebook (1024 for the published tokenizer).
    pub fn codebook_size(&self) -> usize {
        self.cfg.bins
    }

    /// Codec frames per second (25 for the published tokenizer).
    pub fn frame_rate(&self) -> f64 {
        self.cfg.frame_rate()
    }

    /// Samples of 24 kHz audio per frame (960).
    pub fn samples_per_frame(&self) -> usize {
        self.cfg.hop_length()
    }

    /// Frames of (left, right) context around a window that streaming decode uses.
    pub fn decoder_context_frames(&self) -> (usize, usize) {
        self.context
    }

    /// Mono samples at any rate -> codes `[codebook][frame]`.
    ///
    /// Other rates are resampled to 24 kHz with [`resample::resample_hq`], which approximates
    /// the reference's `librosa.resample` (soxr HQ) closely but not bit for bit, so a frame of a
    /// non-24 kHz clip that is within ~1e-4 of a codebook tie could get a different code.
    pub fn encode(&self, samples: &[f32], sample_rate: u32) -> Result<Vec<Vec<u32>>, CodecError> {
        let latent = self.quantizer_input(samples, sample_rate)?;
        Ok(self.rvq.encode(&latent)?)
    }

    /// The quantizer's input for a clip, (frames, quantizer_dim): the concatenated acoustic and
    /// semantic latents after `fc_prior`. Exposed for parity checks.
    pub fn quantizer_input(&self, samples: &[f32], sample_rate: u32) -> Result<Tensor, CodecError> {
        check_audio(samples, sample_rate)?;
        let wav = if sample_rate == self.cfg.sample_rate {
            samples.to_vec()
        } else {
            resample::resample_hq(samples, sample_rate, self.cfg.sample_rate)
        };
        let too_short = CodecError::AudioTooShort {
            samples: samples.len(),
            sample_rate,
        };
        let semantic = match self.semantic_features(&wav) {
            Err(CodecError::AudioTooShort { .. }) => return Err(too_short),
            other => other?,
        };
        let e_sem = self
            .semantic_encoder
            .forward(&semantic.t()?.unsqueeze(0)?.contiguous()?)?;
        let sem_frames = e_sem.dim(D::Minus1)?;
        // As the reference: when the acoustic frame count differs from the semantic one, encode
        // the acoustic input padded like the semantic one instead (decided from the lengths
        // here rather than by encoding twice).
        let n = wav.len();
        let mut x = Tensor::from_vec(wav, (1, 1, n), &self.device)?;
        if DacEncoder::frames_for(&self.cfg, n) != sem_frames {
            let pad = SEMANTIC_PAD * self.cfg.semantic_downsample_factor();
            x = x.pad_with_zeros(D::Minus1, pad, pad)?;
        }
        if DacEncoder::frames_for(&self.cfg, x.dim(D::Minus1)?) == 0 || sem_frames == 0 {
            return Err(too_short);
        }
        let e_ac = self.encoder.forward(&x)?;
        let frames = e_ac.dim(D::Minus1)?.min(sem_frames);
        let e = Tensor::cat(
            &[
                e_ac.narrow(D::Minus1, 0, frames)?,
                e_sem.narrow(D::Minus1, 0, frames)?,
            ],
            1,
        )?;
        let e = e.squeeze(0)?.t()?.contiguous()?;
        Ok(self.fc_prior.forward(&e)?)
    }

    /// The semantic target for 24 kHz samples: HuBERT on the 16 kHz resampled, zero-padded
    /// clip, all hidden states averaged, every `semantic_downsample_factor`-th frame kept.
    /// Returns (frames, semantic_dim).
    pub fn semantic_features(&self, samples_24k: &[f32]) -> Result<Tensor, CodecError> {
        check_audio(samples_24k, self.cfg.sample_rate)?;
        let wav16 = resample::resample(
            samples_24k,
            self.cfg.sample_rate,
            self.cfg.semantic_sample_rate,
        );
        let len = wav16.len() + 2 * SEMANTIC_PAD;
        if Hubert::num_frames(&self.cfg.hubert, len) == 0 {
            return Err(CodecError::AudioTooShort {
                samples: samples_24k.len(),
                sample_rate: self.cfg.sample_rate,
            });
        }
        let x = Tensor::from_vec(wav16, (1, len - 2 * SEMANTIC_PAD), &self.device)?
            .pad_with_zeros(D::Minus1, SEMANTIC_PAD, SEMANTIC_PAD)?;
        let feats = self.hubert.mean_hidden_states(&x)?.squeeze(0)?;
        let step = self.cfg.semantic_downsample_factor();
        if step > 1 {
            let keep: Vec<u32> = (0..feats.dim(0)? as u32).step_by(step).collect();
            let ids = Tensor::new(keep.as_slice(), &self.device)?;
            return Ok(feats.index_select(&ids, 0)?);
        }
        Ok(feats)
    }

    /// Codes `[codebook][frame]` -> 24 kHz mono samples (`frames * samples_per_frame()`).
    pub fn decode(&self, codes: &[Vec<u32>]) -> Result<Vec<f32>, CodecError> {
        let frames = self.check_codes(codes)?;
        if frames == 0 {
            return Err(CodecError::NoFrames);
        }
        self.decode_checked(codes.iter().map(|c| c.as_slice()), frames)
    }

    /// Streaming decoder with the default windows ([`DEFAULT_FIRST_CHUNK_FRAMES`], then
    /// [`DEFAULT_STREAM_CHUNK_FRAMES`]).
    pub fn stream(&self) -> StreamDecoder<'_> {
        StreamDecoder::new(
            self,
            DEFAULT_FIRST_CHUNK_FRAMES,
            DEFAULT_STREAM_CHUNK_FRAMES,
        )
    }

    /// Streaming decoder whose first window emits `first_chunk_frames` frames and every later
    /// one `chunk_frames` (each at least 1). Smaller windows give earlier, more frequent audio
    /// at the cost of decoding the context frames more often.
    pub fn stream_with(&self, first_chunk_frames: usize, chunk_frames: usize) -> StreamDecoder<'_> {
        StreamDecoder::new(self, first_chunk_frames, chunk_frames)
    }

    /// Checks shape and range of `[codebook][frame]` codes; returns the frame count.
    fn check_codes(&self, codes: &[Vec<u32>]) -> Result<usize, CodecError> {
        if codes.len() != self.cfg.n_q {
            return Err(CodecError::CodebookCount {
                expected: self.cfg.n_q,
                got: codes.len(),
            });
        }
        let first = codes[0].len();
        for (codebook, row) in codes.iter().enumerate() {
            if row.len() != first {
                return Err(CodecError::RaggedCodes {
                    codebook,
                    len: row.len(),
                    first,
                });
            }
            self.check_row(codebook, row, 0)?;
        }
        Ok(first)
    }

    fn check_row(
        &self,
        codebook: usize,
        row: &[u32],
        first_frame: usize,
    ) -> Result<(), CodecError> {
        if let Some((i, &code)) = row
            .iter()
            .enumerate()
            .find(|(_, c)| **c as usize >= self.cfg.bins)
        {
            return Err(CodecError::CodeOutOfRange {
                code,
                codebook,
                frame: first_frame + i,
                size: self.cfg.bins,
            });
        }
        Ok(())
    }

    /// Decodes already-checked rows (one per codebook, `frames` long each).
    fn decode_checked<'c>(
        &self,
        rows: impl Iterator<Item = &'c [u32]>,
        frames: usize,
    ) -> Result<Vec<f32>, CodecError> {
        let ids = rows
            .map(|row| Tensor::from_slice(row, frames, &self.device))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let quantized = self.rvq.decode(&ids)?;
        let latent = self
            .fc_post2
            .forward(&quantized)?
            .t()?
            .unsqueeze(0)?
            .contiguous()?;
        let wav = self.decoder.forward(&latent)?;
        Ok(wav.flatten_all()?.to_vec1::<f32>()?)
    }
}

fn check_audio(samples: &[f32], sample_rate: u32) -> Result<(), CodecError> {
    if sample_rate == 0 {
        return Err(CodecError::ZeroSampleRate);
    }
    if samples.is_empty() {
        return Err(CodecError::EmptyAudio);
    }
    if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
        return Err(CodecError::NonFiniteAudio(i));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AudioTokenizer>();
    }

    #[test]
    fn published_config_reads_with_the_reference_defaults() {
        // The published config.json as is, without the converter's additions.
        let cfg: CodecConfig = serde_json::from_str(
            r#"{"n_filters": 32, "D": 256, "codebook_dim": 64, "target_bandwidths": [0.5, 1, 1.5, 2, 4],
                "ratios": [8, 5, 4, 2, 3], "sample_rate": 24000, "bins": 1024, "n_q": 8,
                "semantic_techer": "hubert_base_general"}"#,
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.hop_length(), 960);
        assert_eq!(cfg.frame_rate(), 25.0);
        assert_eq!(cfg.semantic_downsample_factor(), 2);
        assert_eq!(cfg.quantizer_dim(), 1024);
        assert_eq!(
            (cfg.encoder_dim, cfg.decoder_dim, cfg.semantic_dim),
            (64, 1024, 768)
        );
        assert_eq!(cfg.hubert.num_hidden_layers, 12);
    }

    #[test]
    fn inconsistent_config_is_rejected() {
        let cfg = CodecConfig {
            semantic_dim: 512,
            ..CodecConfig::default()
        };
        let err = cfg.validate().unwrap_err();
        assert!(err.to_string().contains("semantic_dim"), "{err}");
        let cfg = CodecConfig {
            ratios: vec![],
            ..CodecConfig::default()
        };
        assert!(cfg.validate().is_err());
    }
}
