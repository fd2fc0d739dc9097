//! Kokoro-82M text-to-speech on CPU: text → phonemes → ONNX Runtime → streamed PCM over gRPC.

pub mod audio;
pub mod chunking;
pub mod cli;
pub mod config;
pub mod g2p;
pub mod model;
pub mod server;
pub mod startup;
pub mod synthesis;
pub mod words;

/// Log levels unless `RUST_LOG` says otherwise.
pub const LOG_FILTER: &str = "info,ort=warn";
