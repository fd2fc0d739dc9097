//! Listening: the WebSocket through which the player asks for blocks (`ws`), the audio they
//! point at (`audio`), and the OpenAI-compatible speech endpoint (`speech`) with its voice list
//! and OpenAI's names (`openai`).

pub mod audio;
pub mod openai;
pub mod speech;
pub mod ws;

use std::sync::Arc;

use axum::{
    Router,
    routing::{get, post},
};

use crate::startup::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/ws/tts", get(ws::upgrade))
        .route("/v1/audio/{hash}", get(audio::get_audio))
        .route("/v1/audio/speech", post(speech::speech))
        .route("/v1/audio/voices", get(speech::voices))
        .route("/v1/dev/phonemize", post(speech::phonemize))
}

/// Where a cached variant can be downloaded.
pub fn audio_url(hash: &str) -> String {
    format!("/v1/audio/{hash}")
}
