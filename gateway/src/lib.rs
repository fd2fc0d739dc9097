//! The yapit gateway: accounts, documents, the model catalogue, and synthesis: a WebSocket for
//! the player, Redis queues and the audio cache, and gRPC fan-out to TTS worker replicas.

pub mod auth;
pub mod catalog;
pub mod config;
pub mod documents;
pub mod edge;
pub mod error;
pub mod health;
pub mod lexicon;
pub mod listen;
pub mod metrics;
pub mod probe;
pub mod startup;
pub mod synthesis;
pub mod usage;
pub mod web;

/// Log levels unless `RUST_LOG` says otherwise.
pub const LOG_FILTER: &str = "info,tower_http=info,sqlx=warn";
