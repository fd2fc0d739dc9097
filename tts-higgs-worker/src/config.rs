//! Configuration from the environment (or flags), validated before anything loads: every
//! mistake is reported by the variable's name, before minutes go into loading weights.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use candle_core::{DType, Device};

use crate::{engine::EngineConfig, model::Sampling};

const DEFAULT_QUEUE_TIMEOUT_MS: u64 = 30_000;
/// One block per call: the gateway's blocks are at most 300 characters, and Higgs reads up to
/// about this much in one generation without drifting.
const DEFAULT_MAX_TEXT_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{variable} must be at least {min}, got {value}")]
    TooSmall {
        variable: &'static str,
        min: f64,
        value: f64,
    },
    #[error("{variable} must be at most {max}, got {value}")]
    TooLarge {
        variable: &'static str,
        max: f64,
        value: f64,
    },
    #[error(
        "HIGGS_DEVICE={0:?} asks for CUDA, but this build has no CUDA support: build with `--features cuda` (docs/higgs-worker.md) or set HIGGS_DEVICE=cpu"
    )]
    NoCudaBuild(String),
    #[error("HIGGS_DEVICE={device:?}: cannot open the GPU: {source}")]
    Cuda {
        device: String,
        source: candle_core::Error,
    },
}

/// Where the model runs: `auto` is the first GPU when this build has CUDA and one is present,
/// else the CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChoice {
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| format!("{s:?} is not a device; use auto, cpu, cuda or cuda:N")),
        }
    }
}

impl DeviceChoice {
    pub fn open(&self) -> Result<Device, ConfigError> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Auto if candle_core::utils::cuda_is_available() => {
                Ok(Device::new_cuda(0).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "HIGGS_DEVICE=auto: no usable GPU; running on the CPU");
                    Device::Cpu
                }))
            }
            Self::Auto => Ok(Device::Cpu),
            Self::Cuda(n) if candle_core::utils::cuda_is_available() => Device::new_cuda(*n)
                .map_err(|source| ConfigError::Cuda {
                    device: format!("cuda:{n}"),
                    source,
                }),
            Self::Cuda(n) => Err(ConfigError::NoCudaBuild(format!("cuda:{n}"))),
        }
    }
}

/// The numbers the weights are computed in: `auto` is bf16 on a GPU and f32 on the CPU (the
/// CPU's bf16 matmuls are slow and the parity suite runs in f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DTypeChoice {
    Auto,
    F32,
    Bf16,
    F16,
}

impl FromStr for DTypeChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "f32" | "float32" => Ok(Self::F32),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            "f16" | "float16" => Ok(Self::F16),
            _ => Err(format!("{s:?} is not a dtype; use auto, f32, bf16 or f16")),
        }
    }
}

impl DTypeChoice {
    pub fn resolve(self, device: &Device) -> DType {
        match self {
            Self::Auto if device.is_cuda() => DType::BF16,
            Self::Auto | Self::F32 => DType::F32,
            Self::Bf16 => DType::BF16,
            Self::F16 => DType::F16,
        }
    }
}

/// Where the model is and how to run it; shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// The Higgs Audio v2 checkpoint: config.json, the safetensors shards (with
    /// model.safetensors.index.json) and tokenizer.json (docs/higgs-worker.md).
    #[arg(long, env = "HIGGS_MODEL_DIR", default_value = "models/higgs/model")]
    pub model_dir: PathBuf,
    /// The audio tokenizer, converted once to config.json + model.safetensors by
    /// scripts/higgs-reference/convert_tokenizer.py.
    #[arg(
        long,
        env = "HIGGS_TOKENIZER_DIR",
        default_value = "models/higgs/tokenizer"
    )]
    pub tokenizer_dir: PathBuf,
    /// Reference clips: `<slug>.wav` (any rate, mono or stereo) with its transcript in
    /// `<slug>.txt`; each is one voice.
    #[arg(long, env = "HIGGS_VOICES_DIR", default_value = "models/higgs/voices")]
    pub voices_dir: PathBuf,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "HIGGS_DEVICE", default_value = "auto")]
    pub device: DeviceChoice,
    /// auto (bf16 on a GPU, f32 on the CPU), f32, bf16 or f16.
    #[arg(long, env = "HIGGS_DTYPE", default_value = "auto")]
    pub dtype: DTypeChoice,
    /// Model version reported in Info and part of every cache key; default derived from the
    /// checkpoint's config and tensor headers and the sampling settings.
    #[arg(long, env = "HIGGS_MODEL_VERSION")]
    pub model_version: Option<String>,
    /// Sampling temperature (0 is greedy).
    #[arg(long, env = "HIGGS_TEMPERATURE", default_value_t = 0.3)]
    pub temperature: f32,
    /// Codes considered per codebook and step.
    #[arg(long, env = "HIGGS_TOP_K", default_value_t = 50)]
    pub top_k: usize,
    /// Nucleus kept per codebook and step.
    #[arg(long, env = "HIGGS_TOP_P", default_value_t = 0.95)]
    pub top_p: f32,
    /// Seed of every call's sampler: the same text and voice give the same audio, so a block's
    /// audio is reproducible and its cache entry stays true.
    #[arg(long, env = "HIGGS_SEED", default_value_t = 123_456)]
    pub seed: u64,
    /// Longest audio one call may generate, in seconds; a call that reaches it ends there.
    #[arg(long, env = "HIGGS_MAX_AUDIO_SECS", default_value_t = 45)]
    pub max_audio_secs: u32,
    /// Audio in the first chunk of a call, in milliseconds: smaller means earlier first sound;
    /// each later chunk doubles, up to HIGGS_MAX_CHUNK_MS.
    #[arg(long, env = "HIGGS_FIRST_CHUNK_MS", default_value_t = 480)]
    pub first_chunk_ms: u32,
    /// The most audio in one chunk, in milliseconds.
    #[arg(long, env = "HIGGS_MAX_CHUNK_MS", default_value_t = 3840)]
    pub max_chunk_ms: u32,
}

/// The gRPC server.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Address the gRPC server listens on.
    #[arg(long, env = "HIGGS_ADDR", default_value = "127.0.0.1:50061")]
    pub addr: SocketAddr,
    /// Calls generated at once, one slot each (batch 1 per slot; the weights are shared).
    #[arg(long, env = "HIGGS_CAPACITY", default_value_t = 1)]
    pub capacity: usize,
    /// How long a call waits for a free slot before RESOURCE_EXHAUSTED, in milliseconds.
    #[arg(long, env = "HIGGS_QUEUE_TIMEOUT_MS", default_value_t = DEFAULT_QUEUE_TIMEOUT_MS)]
    pub queue_timeout_ms: u64,
    /// Longest text one call may carry, in characters.
    #[arg(long, env = "HIGGS_MAX_TEXT_CHARS", default_value_t = DEFAULT_MAX_TEXT_CHARS)]
    pub max_text_chars: usize,
    /// On SIGTERM, how long running calls may finish before they are cancelled, in seconds.
    #[arg(long, env = "HIGGS_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Where Prometheus metrics are served (`yapit_worker_*`); none when unset.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

fn at_least(variable: &'static str, min: f64, value: f64) -> Result<(), ConfigError> {
    if value < min {
        return Err(ConfigError::TooSmall {
            variable,
            min,
            value,
        });
    }
    Ok(())
}

fn at_most(variable: &'static str, max: f64, value: f64) -> Result<(), ConfigError> {
    if value > max {
        return Err(ConfigError::TooLarge {
            variable,
            max,
            value,
        });
    }
    Ok(())
}

impl ModelArgs {
    /// An engine configuration for `capacity` slots with the server's defaults for the rest
    /// (`say` has no queue and no request limit of its own).
    pub fn engine_config(&self, capacity: usize) -> Result<EngineConfig, ConfigError> {
        at_least("HIGGS_CAPACITY", 1.0, capacity as f64)?;
        at_least("HIGGS_TEMPERATURE", 0.0, f64::from(self.temperature))?;
        at_most("HIGGS_TEMPERATURE", 2.0, f64::from(self.temperature))?;
        at_least("HIGGS_TOP_K", 1.0, self.top_k as f64)?;
        at_least("HIGGS_TOP_P", 0.01, f64::from(self.top_p))?;
        at_most("HIGGS_TOP_P", 1.0, f64::from(self.top_p))?;
        at_least("HIGGS_MAX_AUDIO_SECS", 1.0, f64::from(self.max_audio_secs))?;
        at_least("HIGGS_FIRST_CHUNK_MS", 40.0, f64::from(self.first_chunk_ms))?;
        at_least(
            "HIGGS_MAX_CHUNK_MS",
            f64::from(self.first_chunk_ms),
            f64::from(self.max_chunk_ms),
        )?;
        let device = self.device.open()?;
        let dtype = self.dtype.resolve(&device);
        Ok(EngineConfig {
            model_dir: self.model_dir.clone(),
            tokenizer_dir: self.tokenizer_dir.clone(),
            voices_dir: self.voices_dir.clone(),
            device,
            dtype,
            capacity,
            queue_timeout: Duration::from_millis(DEFAULT_QUEUE_TIMEOUT_MS),
            max_text_chars: DEFAULT_MAX_TEXT_CHARS,
            sampling: Sampling {
                temperature: self.temperature,
                top_k: self.top_k,
                top_p: self.top_p,
                seed: self.seed,
                ..Sampling::default()
            },
            max_audio: Duration::from_secs(u64::from(self.max_audio_secs)),
            first_chunk: Duration::from_millis(u64::from(self.first_chunk_ms)),
            max_chunk: Duration::from_millis(u64::from(self.max_chunk_ms)),
            model_version: self.model_version.clone(),
        })
    }
}

impl ServeArgs {
    pub fn engine_config(&self) -> Result<EngineConfig, ConfigError> {
        at_least("HIGGS_MAX_TEXT_CHARS", 1.0, self.max_text_chars as f64)?;
        Ok(EngineConfig {
            queue_timeout: Duration::from_millis(self.queue_timeout_ms),
            max_text_chars: self.max_text_chars,
            ..self.model.engine_config(self.capacity)?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_name_the_choices_when_wrong() {
        assert_eq!("CPU".parse::<DeviceChoice>(), Ok(DeviceChoice::Cpu));
        assert_eq!("cuda".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(0)));
        assert_eq!("cuda:3".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(3)));
        let err = "tpu".parse::<DeviceChoice>().unwrap_err();
        assert!(err.contains("auto, cpu, cuda or cuda:N"), "{err}");
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn auto_dtype_is_f32_on_the_cpu() {
        assert_eq!(DTypeChoice::Auto.resolve(&Device::Cpu), DType::F32);
        assert_eq!(DTypeChoice::Bf16.resolve(&Device::Cpu), DType::BF16);
        assert!("f64".parse::<DTypeChoice>().is_err());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn asking_for_a_gpu_without_cuda_support_says_how_to_get_it() {
        let err = DeviceChoice::Cuda(0).open().unwrap_err().to_string();
        assert!(err.contains("--features cuda"), "{err}");
        assert!(DeviceChoice::Auto.open().unwrap().is_cpu());
    }
}
