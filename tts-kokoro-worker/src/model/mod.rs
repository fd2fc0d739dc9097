//! The Kokoro-82M ONNX model: the ONNX Runtime environment, one inference session, the phoneme
//! vocabulary and the voice packs.

mod vocab;
mod voices;

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use ort::{
    environment::Environment,
    session::{RunOptions, Session, builder::GraphOptimizationLevel},
    value::Tensor,
};

pub use vocab::{Vocab, VocabError};
pub use voices::{
    DEFAULT_VOICE, PACK_ROWS, ResolveError, STYLE_DIM, VoiceError, VoicePack, VoiceSet,
};

/// Kokoro's output rate.
pub const SAMPLE_RATE: u32 = 24_000;
/// Phoneme tokens one inference takes: the model's 512-token context less the two pad tokens.
pub const MAX_TOKENS: usize = 510;
/// Samples per duration frame: the decoder's hop of 300 samples, upsampled twice.
pub const SAMPLES_PER_FRAME: usize = 600;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "cannot load the ONNX Runtime library {path}: {reason}. Set ORT_DYLIB_PATH to libonnxruntime.so (make setup installs it under .venv)"
    )]
    Runtime { path: String, reason: String },
    #[error("the model file {0} does not exist; run `make models` or set KOKORO_MODEL")]
    MissingModel(String),
    #[error("cannot load the model {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("inference failed: {0}")]
    Inference(String),
}

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// ONNX Runtime allows one environment per process; every session shares it. The library is
/// loaded from `dylib` on first use (ort's load-dynamic), never downloaded.
pub fn runtime(dylib: &Path) -> Result<&'static Environment, ModelError> {
    let runtime_error = |reason: String| ModelError::Runtime {
        path: dylib.display().to_string(),
        reason,
    };
    if !dylib.is_file() {
        return Err(runtime_error("no such file".into()));
    }
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(dylib)
                .map_err(|e| e.to_string())?
                .with_name("yapit-kokoro")
                .with_telemetry(false)
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|reason| runtime_error(reason.clone()))
}

/// One inference session. It is driven by one OS thread at a time (`run` takes `&mut self`).
pub struct KokoroSession {
    session: Session,
    /// The model returns each token's duration (`make models` writes such a file); an
    /// official export returns audio only.
    timed: bool,
}

/// What one inference returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Inference {
    /// Float samples at [`SAMPLE_RATE`].
    pub samples: Vec<f32>,
    /// Frames ([`SAMPLES_PER_FRAME`] samples each) of every token in order, the leading and
    /// trailing pad token included (so `durations[i + 1]` is phoneme id `i`'s); they sum to the
    /// samples' length. Empty from a model without the `durations` output.
    pub durations: Vec<u32>,
}

impl KokoroSession {
    pub fn load(
        environment: &Environment,
        model: &Path,
        intra_threads: usize,
    ) -> Result<Self, ModelError> {
        if !model.is_file() {
            return Err(ModelError::MissingModel(model.display().to_string()));
        }
        let load_error = |reason: String| ModelError::Load {
            path: model.display().to_string(),
            reason,
        };
        // Inter-op 1: replicas scale better than threads. Intra-op threads spin briefly between
        // operators: Kokoro runs many small ones, and waking a sleeping thread for each cost
        // 17% of throughput on a 500-character paragraph at 2 threads (RTF 2.36 against 2.84).
        // Memory patterns are planned per input shape and every utterance has a new one;
        // without them the peak resident memory on that paragraph fell from 680 MiB to 487 MiB
        // at no cost in speed (both measured with `tts-kokoro-worker bench`).
        let session = Session::builder(environment)
            .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::All)?))
            .and_then(|b| Ok(b.with_intra_threads(intra_threads)?))
            .and_then(|b| Ok(b.with_inter_threads(1)?))
            .and_then(|b| Ok(b.with_intra_op_spinning(true)?))
            .and_then(|b| Ok(b.with_memory_pattern(false)?))
            .and_then(|mut b| b.commit_from_file(model))
            .map_err(|e| load_error(e.to_string()))?;
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for expected in ["tokens", "style", "speed"] {
            if !names.contains(&expected) {
                return Err(load_error(format!(
                    "not a Kokoro v1.0 export: inputs are {names:?}, expected tokens, style and speed"
                )));
            }
        }
        let timed = session.outputs().iter().any(|o| o.name() == "durations");
        let mut loaded = Self { session, timed };
        // ONNX Runtime plans memory and picks kernels on the first run; doing that here keeps
        // it out of the first listener's time to first audio.
        let warm_up = RunOptions::new().map_err(|e| load_error(e.to_string()))?;
        loaded
            .infer(&[50, 83, 54, 156, 57, 4], &[0.0; STYLE_DIM], 1.0, &warm_up)
            .map_err(|e| load_error(format!("warm-up inference failed: {e}")))?;
        Ok(loaded)
    }

    /// Whether [`Inference::durations`] is filled.
    pub fn is_timed(&self) -> bool {
        self.timed
    }

    /// Runs the model on one utterance of at most [`MAX_TOKENS`] phoneme ids (more are cut).
    /// `run_options` lets another thread terminate the run.
    pub fn infer(
        &mut self,
        phoneme_ids: &[i64],
        style: &[f32],
        speed: f32,
        run_options: &RunOptions,
    ) -> Result<Inference, ModelError> {
        let ids = &phoneme_ids[..phoneme_ids.len().min(MAX_TOKENS)];
        let mut tokens = Vec::with_capacity(ids.len() + 2);
        tokens.push(0);
        tokens.extend_from_slice(ids);
        tokens.push(0);
        let inference = |e: ort::Error| ModelError::Inference(e.to_string());
        let tokens = Tensor::from_array(([1usize, tokens.len()], tokens)).map_err(inference)?;
        let style = Tensor::from_array(([1usize, STYLE_DIM], style.to_vec())).map_err(inference)?;
        let speed = Tensor::from_array(([1usize], vec![speed])).map_err(inference)?;
        let outputs = self
            .session
            .run_with_options(
                ort::inputs! {"tokens" => tokens, "style" => style, "speed" => speed},
                run_options,
            )
            .map_err(inference)?;
        let (_, samples) = outputs[0].try_extract_tensor::<f32>().map_err(inference)?;
        let mut durations = Vec::new();
        if self.timed {
            let (_, frames) = outputs["durations"]
                .try_extract_tensor::<i64>()
                .map_err(inference)?;
            if frames.len() == ids.len() + 2 {
                durations = frames
                    .iter()
                    .map(|&f| f.clamp(0, i64::from(u32::MAX)) as u32)
                    .collect();
            }
        }
        Ok(Inference {
            samples: samples.to_vec(),
            durations,
        })
    }
}

/// Where the model's files are; see `scripts/fetch_models.py` for the default layout.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub model: PathBuf,
    pub voices: PathBuf,
    pub vocab: PathBuf,
    pub lexicon_dir: PathBuf,
    /// jpreprocess's naist-jdic dictionary folder (`make models`; scripts/ja-dict.sh).
    pub ja_dict: PathBuf,
}
