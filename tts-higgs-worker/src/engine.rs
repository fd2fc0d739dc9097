//! The synthesis engine: one call is one block of text in one voice. The language model
//! generates audio frames after the voice's cloning prompt; each complete frame goes straight to
//! the codec's streaming decoder, and the audio leaves in chunks that grow from a short first
//! one (early first sound) to a few seconds (few segments). Calls run on blocking threads, at
//! most `capacity` at once; more wait, bounded, for a slot.

use std::{
    io::Read,
    ops::ControlFlow,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use candle_core::{DType, Device};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::{
    codec::{AudioTokenizer, CodecError},
    model::{HiggsModel, ModelError, Sampling},
    voices::{Voice, VoiceError, Voices},
};

pub use crate::codec::SAMPLE_RATE;

/// Everything the engine needs, validated by the config layer.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub model_dir: PathBuf,
    pub tokenizer_dir: PathBuf,
    pub voices_dir: PathBuf,
    pub device: Device,
    pub dtype: DType,
    /// Calls generated at once.
    pub capacity: usize,
    /// How long a call waits for a free slot before RESOURCE_EXHAUSTED.
    pub queue_timeout: Duration,
    pub max_text_chars: usize,
    pub sampling: Sampling,
    /// Longest audio one call generates.
    pub max_audio: Duration,
    /// Audio in a call's first chunk; each later chunk doubles up to `max_chunk`.
    pub first_chunk: Duration,
    pub max_chunk: Duration,
    /// Overrides the version derived from the checkpoint and the sampling settings.
    pub model_version: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("loading the language model from {dir}: {source}")]
    Model {
        dir: PathBuf,
        source: Box<ModelError>,
    },
    #[error("loading the audio tokenizer from {dir}: {source}")]
    Codec {
        dir: PathBuf,
        source: Box<CodecError>,
    },
    #[error(transparent)]
    Voices(Box<VoiceError>),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why a call was refused or ended; the server maps each to a gRPC status.
#[derive(Debug, thiserror::Error)]
pub enum SynthesisError {
    #[error("text is empty")]
    EmptyText,
    #[error("text is {chars} characters long; the limit is {limit}")]
    TextTooLong { chars: usize, limit: usize },
    #[error("unknown voice '{voice}'; this worker has: {}", available.join(", "))]
    UnknownVoice {
        voice: String,
        available: Vec<String>,
    },
    #[error("speed {0} is out of range; use 0.5 to 2.0")]
    BadSpeed(f32),
    #[error(
        "Higgs speaks at its voice's own pace only: speed {0} is not supported, send 1.0 (the player changes speed on playback)"
    )]
    SpeedUnsupported(f32),
    #[error(
        "all {capacity} synthesis slots stayed busy for {waited:?}; try again or another replica"
    )]
    Busy { capacity: usize, waited: Duration },
    #[error("the worker is shutting down")]
    ShuttingDown,
    #[error("the model ended without any audio for this text")]
    NoAudio,
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// One call.
#[derive(Debug, Clone)]
pub struct SynthesisRequest {
    pub text: String,
    pub voice: String,
    /// 0 means 1.0; Higgs accepts only 1.0.
    pub speed: f32,
    pub request_id: String,
}

/// Audio as it leaves the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedChunk {
    /// 16-bit little-endian mono PCM at [`SAMPLE_RATE`].
    pub pcm: Vec<u8>,
    /// The call's text on its first chunk (Higgs does not say which words a chunk speaks).
    pub text: String,
    pub sequence: u32,
    pub last: bool,
}

pub type ChunkReceiver = mpsc::Receiver<Result<RenderedChunk, SynthesisError>>;

pub struct Engine {
    config: EngineConfig,
    model: HiggsModel,
    codec: AudioTokenizer,
    voices: Voices,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    model_version: String,
}

impl Engine {
    /// Loads the language model, the audio tokenizer and every voice (encoding its clip). Slow:
    /// call it on a blocking thread.
    pub fn load(config: EngineConfig) -> Result<Self, LoadError> {
        let started = std::time::Instant::now();
        let model = HiggsModel::load(&config.model_dir, &config.device, config.dtype).map_err(
            |source| LoadError::Model {
                dir: config.model_dir.clone(),
                source: Box::new(source),
            },
        )?;
        let codec =
            AudioTokenizer::load(&config.tokenizer_dir, &config.device).map_err(|source| {
                LoadError::Codec {
                    dir: config.tokenizer_dir.clone(),
                    source: Box::new(source),
                }
            })?;
        let voices =
            Voices::load(&config.voices_dir, &codec).map_err(|e| LoadError::Voices(Box::new(e)))?;
        let model_version = match &config.model_version {
            Some(v) => v.clone(),
            None => derived_version(&config)?,
        };
        tracing::info!(
            device = ?config.device,
            dtype = ?config.dtype,
            voices = voices.slugs().join(","),
            %model_version,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "higgs model loaded"
        );
        Ok(Self {
            slots: Arc::new(Semaphore::new(config.capacity)),
            config,
            model,
            codec,
            voices,
            shutdown: CancellationToken::new(),
            model_version,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn model_version(&self) -> &str {
        &self.model_version
    }

    pub fn voices(&self) -> &Voices {
        &self.voices
    }

    /// Refuses new calls and stops running ones at their next frame.
    pub fn shut_down(&self) {
        self.shutdown.cancel();
        self.slots.close();
    }

    fn check(&self, request: &SynthesisRequest) -> Result<Voice, SynthesisError> {
        if request.text.trim().is_empty() {
            return Err(SynthesisError::EmptyText);
        }
        let chars = request.text.chars().count();
        if chars > self.config.max_text_chars {
            return Err(SynthesisError::TextTooLong {
                chars,
                limit: self.config.max_text_chars,
            });
        }
        let speed = if request.speed == 0.0 {
            1.0
        } else {
            request.speed
        };
        if !(0.5..=2.0).contains(&speed) {
            return Err(SynthesisError::BadSpeed(request.speed));
        }
        if (speed - 1.0).abs() > 1e-3 {
            return Err(SynthesisError::SpeedUnsupported(request.speed));
        }
        self.voices
            .get(&request.voice)
            .cloned()
            .ok_or_else(|| SynthesisError::UnknownVoice {
                voice: request.voice.clone(),
                available: self.voices.slugs(),
            })
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, SynthesisError> {
        let acquire = Arc::clone(&self.slots).acquire_owned();
        tokio::select! {
            _ = self.shutdown.cancelled() => Err(SynthesisError::ShuttingDown),
            permit = tokio::time::timeout(self.config.queue_timeout, acquire) => match permit {
                Ok(Ok(permit)) => Ok(permit),
                Ok(Err(_closed)) => Err(SynthesisError::ShuttingDown),
                Err(_elapsed) => Err(SynthesisError::Busy {
                    capacity: self.config.capacity,
                    waited: self.config.queue_timeout,
                }),
            },
        }
    }

    /// Checks the call, waits for a slot and starts generating; the chunks arrive on the
    /// returned channel, the last one marked. Dropping the receiver stops the generation at
    /// its next frame.
    pub async fn synthesize(
        self: &Arc<Self>,
        request: SynthesisRequest,
    ) -> Result<ChunkReceiver, SynthesisError> {
        let voice = self.check(&request)?;
        let permit = self.slot().await?;
        let (tx, rx) = mpsc::channel(8);
        let engine = Arc::clone(self);
        let span = tracing::info_span!("synthesize", request_id = %request.request_id, voice = %voice.slug);
        tokio::task::spawn_blocking(move || {
            let _span = span.entered();
            let _permit = permit;
            if let Err(e) = engine.render(&request.text, &voice, &tx) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Ok(rx)
    }

    /// Generates and decodes one call, sending chunks as they fill. Returns early: Ok when the
    /// caller went away, ShuttingDown when the worker stops.
    fn render(
        &self,
        text: &str,
        voice: &Voice,
        tx: &mpsc::Sender<Result<RenderedChunk, SynthesisError>>,
    ) -> Result<(), SynthesisError> {
        let frame_rate = self.codec.frame_rate();
        let sampling = Sampling {
            max_frames: (self.config.max_audio.as_secs_f64() * frame_rate).ceil() as usize,
            ..self.config.sampling.clone()
        };
        let mut chunks = Chunker::new(
            text,
            samples_of(self.config.first_chunk),
            samples_of(self.config.max_chunk),
        );
        let mut decoder = self.codec.stream();
        let mut gone = false;
        let mut failed = None;
        let mut on_frame = |frame: &[u32]| {
            if self.shutdown.is_cancelled() || tx.is_closed() {
                gone = true;
                return ControlFlow::Break(());
            }
            match decoder.push(frame) {
                Ok(samples) => {
                    for chunk in chunks.push(&samples) {
                        if tx.blocking_send(Ok(chunk)).is_err() {
                            gone = true;
                            return ControlFlow::Break(());
                        }
                    }
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    failed = Some(e);
                    ControlFlow::Break(())
                }
            }
        };
        self.model
            .generate(&plain(text), Some(&voice.prompt), &sampling, &mut on_frame)?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        if gone {
            if self.shutdown.is_cancelled() {
                // The caller hears why its stream ends short (UNAVAILABLE: try another replica).
                return Err(SynthesisError::ShuttingDown);
            }
            tracing::info!("call ended early: the caller went away");
            return Ok(());
        }
        let rest = decoder.finish()?;
        let tail = chunks.finish(&rest);
        if tail.is_empty() {
            return Err(SynthesisError::NoAudio);
        }
        for chunk in tail {
            if tx.blocking_send(Ok(chunk)).is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// The text as words to read, never as the prompt's control tokens: the tokenizer would read a
/// `<|eot_id|>` in a document as the end of the turn (the reference does), so `<|` loses its
/// meaning by a space.
fn plain(text: &str) -> String {
    text.replace("<|", "< |")
}

fn samples_of(duration: Duration) -> usize {
    (duration.as_secs_f64() * f64::from(SAMPLE_RATE)).round() as usize
}

/// Gathers decoded samples into chunks: the first holds `first` samples, each later one twice
/// the one before, up to `max`; `finish` sends what is left as the last chunk.
#[derive(Debug)]
pub struct Chunker {
    text: Option<String>,
    buffer: Vec<f32>,
    target: usize,
    max: usize,
    sequence: u32,
    sent_samples: usize,
}

impl Chunker {
    pub fn new(text: &str, first: usize, max: usize) -> Self {
        Self {
            text: Some(text.to_owned()),
            buffer: Vec::new(),
            target: first.max(1),
            max: max.max(first).max(1),
            sequence: 0,
            sent_samples: 0,
        }
    }

    fn take(&mut self, n: usize, last: bool) -> RenderedChunk {
        let rest = self.buffer.split_off(n);
        let samples = std::mem::replace(&mut self.buffer, rest);
        self.sent_samples += samples.len();
        let chunk = RenderedChunk {
            pcm: pcm16(&samples),
            text: self.text.take().unwrap_or_default(),
            sequence: self.sequence,
            last,
        };
        self.sequence += 1;
        self.target = (self.target * 2).min(self.max);
        chunk
    }

    pub fn push(&mut self, samples: &[f32]) -> Vec<RenderedChunk> {
        self.buffer.extend_from_slice(samples);
        let mut out = Vec::new();
        while self.buffer.len() >= self.target {
            let n = self.target;
            out.push(self.take(n, false));
        }
        out
    }

    /// The rest: chunks of the growing size as before, the last one marked (and empty when
    /// nothing is left); none at all when the call made no audio.
    pub fn finish(mut self, samples: &[f32]) -> Vec<RenderedChunk> {
        self.buffer.extend_from_slice(samples);
        if self.sent_samples == 0 && self.buffer.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        while self.buffer.len() > self.target {
            let n = self.target;
            out.push(self.take(n, false));
        }
        let n = self.buffer.len();
        out.push(self.take(n, true));
        out
    }
}

/// f32 samples in [-1, 1] as 16-bit little-endian PCM (clipped).
pub fn pcm16(samples: &[f32]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes())
        .collect()
}

/// A version that changes whenever the audio would: the checkpoint's config and tensor headers,
/// the tokenizer's config, the sampling settings and the longest audio of a call, hashed.
fn derived_version(config: &EngineConfig) -> Result<String, LoadError> {
    let mut hash = Sha256::new();
    let mut files = vec![
        config.model_dir.join("config.json"),
        config.tokenizer_dir.join("config.json"),
    ];
    let mut shards: Vec<PathBuf> = std::fs::read_dir(&config.model_dir)
        .map_err(|source| LoadError::Read {
            path: config.model_dir.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    shards.sort();
    files.extend(shards);
    for path in &files {
        hash.update(
            path.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or(b""),
        );
        hash.update(header_of(path)?);
    }
    let s = &config.sampling;
    hash.update(
        format!(
            "{} {} {} {} {} {} {}",
            s.temperature,
            s.top_k,
            s.top_p,
            s.seed,
            s.ras_window,
            s.ras_max_repeat,
            config.max_audio.as_millis()
        )
        .as_bytes(),
    );
    let digest = hash.finalize();
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("v2-{hex}"))
}

/// A JSON file whole, or a safetensors file's header (its tensor names, shapes and offsets),
/// without reading gigabytes of weights.
fn header_of(path: &Path) -> Result<Vec<u8>, LoadError> {
    let read = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    if path.extension().is_some_and(|e| e == "json") {
        return std::fs::read(path).map_err(read);
    }
    let mut file = std::fs::File::open(path).map_err(read)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(read)?;
    let n = u64::from_le_bytes(len).min(100 << 20);
    let mut header = Vec::new();
    file.take(n).read_to_end(&mut header).map_err(read)?;
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(chunk: &RenderedChunk) -> usize {
        chunk.pcm.len() / 2
    }

    #[test]
    fn chunks_grow_from_the_first_to_the_max_and_the_last_takes_the_rest() {
        let mut chunker = Chunker::new("Hello there.", 100, 350);
        let mut out = Vec::new();
        for _ in 0..20 {
            out.extend(chunker.push(&[0.1; 50]));
        }
        out.extend(chunker.finish(&[0.2; 430]));
        let sizes: Vec<usize> = out.iter().map(samples).collect();
        assert_eq!(sizes, [100, 200, 350, 350, 350, 80]);
        assert_eq!(sizes.iter().sum::<usize>(), 20 * 50 + 430);
        assert_eq!(out[0].text, "Hello there.");
        assert!(out[1..].iter().all(|c| c.text.is_empty()));
        let sequences: Vec<u32> = out.iter().map(|c| c.sequence).collect();
        assert_eq!(sequences, [0, 1, 2, 3, 4, 5]);
        assert!(out[..5].iter().all(|c| !c.last) && out[5].last);
    }

    #[test]
    fn a_call_without_audio_has_no_last_chunk_but_an_empty_tail_after_audio_does() {
        assert!(Chunker::new("x", 10, 10).finish(&[]).is_empty());
        let mut chunker = Chunker::new("x", 10, 10);
        assert_eq!(chunker.push(&[0.0; 10]).len(), 1);
        let tail = chunker.finish(&[]);
        assert_eq!(tail.len(), 1);
        assert!(tail[0].last && tail[0].pcm.is_empty() && tail[0].sequence == 1);
    }

    #[test]
    fn control_tokens_in_a_text_are_read_as_text() {
        assert_eq!(plain("a <|eot_id|> b"), "a < |eot_id|> b");
        assert_eq!(plain("x < y | z"), "x < y | z");
    }

    #[test]
    fn pcm_is_clipped_little_endian_16_bit() {
        assert_eq!(
            pcm16(&[0.0, 1.0, -1.0, 2.0, 0.5]),
            [0, 0, 0xff, 0x7f, 0x01, 0x80, 0xff, 0x7f, 0x00, 0x40]
        );
    }
}
