//! Configuration from the environment (or flags), validated before anything loads.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use crate::{
    chunking::{ChunkPlan, DEFAULT_FIRST_CHUNK_CHARS, DEFAULT_MAX_CHUNK_CHARS},
    model::ModelFiles,
    synthesis::EngineConfig,
};

const DEFAULT_QUEUE_TIMEOUT_MS: u64 = 30_000;
const DEFAULT_MAX_TEXT_CHARS: usize = 8_192;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "ORT_DYLIB_PATH is not set: point it at libonnxruntime.so (`make setup` installs the onnxruntime wheel, whose library is under .venv/lib/python3*/site-packages/onnxruntime/capi/)"
    )]
    MissingOrtDylib,
    #[error("{variable} must be at least {min}, got {value}")]
    TooSmall {
        variable: &'static str,
        min: usize,
        value: usize,
    },
}

/// Where the model is and how to run it; shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Folder holding kokoro-v1.0-timed.onnx, voices/, vocab.json, lexicon/ and ja-dict/
    /// (`make models`; the server takes another dictionary from KOKORO_JA_DICT).
    #[arg(long, env = "KOKORO_MODEL_DIR", default_value = "models")]
    pub model_dir: PathBuf,
    /// The ONNX model (fp32, fp16 or int8 Kokoro v1.0 export); default
    /// MODEL_DIR/kokoro-v1.0-timed.onnx, the export with its phoneme durations as a second output
    /// (`make models`). An export without them works, but its audio carries no word timings.
    #[arg(long, env = "KOKORO_MODEL")]
    pub model: Option<PathBuf>,
    /// Voice packs: a folder of raw `<slug>.bin` packs (510×256 little-endian float32) or an
    /// npz of 510×1×256 float32 arrays (the official voices-v1.0.bin works); default
    /// MODEL_DIR/voices.
    #[arg(long, env = "KOKORO_VOICES")]
    pub voices: Option<PathBuf>,
    /// Model version reported in Info and part of every cache key; default derived from the
    /// model file's SHA-256.
    #[arg(long, env = "KOKORO_MODEL_VERSION")]
    pub model_version: Option<String>,
    /// The ONNX Runtime shared library (loaded at run time, never downloaded).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_dylib_path: Option<PathBuf>,
    /// Intra-op threads per inference; inter-op is always 1. Scale with replicas, not threads.
    #[arg(long, env = "KOKORO_THREADS", default_value_t = 1)]
    pub threads: usize,
    /// Character budget of a request's first utterance: smaller means faster first audio.
    #[arg(long, env = "KOKORO_FIRST_CHUNK_CHARS", default_value_t = DEFAULT_FIRST_CHUNK_CHARS)]
    pub first_chunk_chars: usize,
    /// Character budget no utterance exceeds.
    #[arg(long, env = "KOKORO_MAX_CHUNK_CHARS", default_value_t = DEFAULT_MAX_CHUNK_CHARS)]
    pub max_chunk_chars: usize,
}

/// The gRPC server.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Address the gRPC server listens on.
    #[arg(long, env = "KOKORO_ADDR", default_value = "127.0.0.1:50051")]
    pub addr: SocketAddr,
    /// Requests rendered at once (one ONNX session each, ~200 MB apiece).
    #[arg(long, env = "KOKORO_CAPACITY", default_value_t = 1)]
    pub capacity: usize,
    /// How long a request waits for a free slot before RESOURCE_EXHAUSTED, in milliseconds.
    #[arg(long, env = "KOKORO_QUEUE_TIMEOUT_MS", default_value_t = DEFAULT_QUEUE_TIMEOUT_MS)]
    pub queue_timeout_ms: u64,
    /// Longest text one request may carry, in characters.
    #[arg(long, env = "KOKORO_MAX_TEXT_CHARS", default_value_t = DEFAULT_MAX_TEXT_CHARS)]
    pub max_text_chars: usize,
    /// On SIGTERM, how long running requests may finish before they are cancelled, in seconds.
    #[arg(long, env = "KOKORO_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Where Prometheus metrics are served (`yapit_worker_*`); none when unset.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// The Japanese dictionary (OpenJTalk's naist-jdic built for jpreprocess by `make
    /// models`); default MODEL_DIR/ja-dict. Without it the `j` voices are refused
    /// (FAILED_PRECONDITION) and the others work.
    #[arg(long, env = "KOKORO_JA_DICT")]
    pub ja_dict: Option<PathBuf>,
}

impl ModelArgs {
    pub fn files(&self) -> ModelFiles {
        ModelFiles {
            model: self
                .model
                .clone()
                .unwrap_or_else(|| self.model_dir.join("kokoro-v1.0-timed.onnx")),
            voices: self
                .voices
                .clone()
                .unwrap_or_else(|| self.model_dir.join("voices")),
            vocab: self.model_dir.join("vocab.json"),
            lexicon_dir: self.model_dir.join("lexicon"),
            ja_dict: self.model_dir.join("ja-dict"),
        }
    }

    /// An engine configuration for `capacity` sessions with the server's defaults for the rest
    /// (`say` and `bench` have no queue and no request limit of their own).
    pub fn engine_config(&self, capacity: usize) -> Result<EngineConfig, ConfigError> {
        let at_least = |variable, min, value| {
            if value < min {
                Err(ConfigError::TooSmall {
                    variable,
                    min,
                    value,
                })
            } else {
                Ok(())
            }
        };
        at_least("KOKORO_THREADS", 1, self.threads)?;
        at_least("KOKORO_CAPACITY", 1, capacity)?;
        at_least("KOKORO_FIRST_CHUNK_CHARS", 8, self.first_chunk_chars)?;
        at_least(
            "KOKORO_MAX_CHUNK_CHARS",
            self.first_chunk_chars,
            self.max_chunk_chars,
        )?;
        Ok(EngineConfig {
            files: self.files(),
            ort_dylib: self
                .ort_dylib_path
                .clone()
                .ok_or(ConfigError::MissingOrtDylib)?,
            threads: self.threads,
            capacity,
            queue_timeout: Duration::from_millis(DEFAULT_QUEUE_TIMEOUT_MS),
            max_text_chars: DEFAULT_MAX_TEXT_CHARS,
            chunk_plan: ChunkPlan {
                first_chunk_chars: self.first_chunk_chars,
                max_chunk_chars: self.max_chunk_chars,
            },
            model_version: self.model_version.clone(),
        })
    }
}

impl ServeArgs {
    pub fn engine_config(&self) -> Result<EngineConfig, ConfigError> {
        let mut config = EngineConfig {
            queue_timeout: Duration::from_millis(self.queue_timeout_ms),
            max_text_chars: self.max_text_chars,
            ..self.model.engine_config(self.capacity)?
        };
        if let Some(ja_dict) = &self.ja_dict {
            config.files.ja_dict = ja_dict.clone();
        }
        Ok(config)
    }
}
