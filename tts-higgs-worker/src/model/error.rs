use std::path::PathBuf;

/// Everything that can go wrong loading or running the Higgs language model, worded for the
/// person who has to fix the model directory or the request.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid Higgs config: {source}")]
    Config {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the checkpoint's config asks for something this implementation does not support: {0}")]
    Unsupported(String),
    #[error(
        "no weights in {0}: expected model.safetensors, or shards listed in model.safetensors.index.json"
    )]
    NoWeights(PathBuf),
    #[error("{path} is not a valid safetensors index: {reason}")]
    BadIndex { path: PathBuf, reason: String },
    #[error("the checkpoint lacks tensor `{0}` that the model needs")]
    MissingTensor(String),
    #[error(
        "tensor `{name}` has shape {found:?} in the checkpoint, the config implies {expected:?}"
    )]
    TensorShape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("the checkpoint has tensors the model does not use: {0:?}")]
    UnexpectedTensors(Vec<String>),
    #[error("cannot load tokenizer {path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    #[error("the tokenizer has no token `{0}`, which the prompt format needs")]
    MissingSpecialToken(String),
    #[error(
        "special token `{token}` is id {tokenizer} in the tokenizer but {config} in config.json"
    )]
    SpecialTokenMismatch {
        token: String,
        tokenizer: u32,
        config: u32,
    },
    #[error("cannot tokenize the prompt: {0}")]
    Encode(String),
    #[error("invalid voice prompt: {0}")]
    Voice(String),
    #[error("invalid sampling settings: {0}")]
    Sampling(String),
    #[error("invalid model input: {0}")]
    Input(String),
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}
