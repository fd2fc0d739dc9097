//! Higgs Audio v2 (Boson AI) in Rust on candle: the Llama-3.2 backbone with its DualFFN audio
//! adapter, the delay-pattern sampler, and the audio tokenizer that turns codes into 24 kHz
//! audio and reference clips into codes, served over `tts.v1` like the Kokoro worker.

pub mod cli;
pub mod codec;
pub mod config;
pub mod engine;
pub mod model;
pub mod server;
pub mod startup;
pub mod voices;

/// Log levels unless `RUST_LOG` says otherwise.
pub const LOG_FILTER: &str = "info";
