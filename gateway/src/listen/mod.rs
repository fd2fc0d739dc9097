//! Listening: the WebSocket through which the player asks for blocks (`ws`, over `blocks`,
//! `window` and `waits`), the audio they point at (`audio`), and the OpenAI-compatible speech
//! endpoint (`speech`) with its voice list and OpenAI's names (`openai`).

pub mod audio;
mod blocks;
mod frames;
pub mod openai;
pub mod speech;
mod waits;
mod window;
pub mod ws;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    routing::{get, post},
};

use uuid::Uuid;

use crate::startup::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/ws/tts", get(ws::upgrade))
        .route("/v1/audio/{hash}", get(audio::get_audio))
        .route("/v1/audio/{hash}/segments/{index}", get(audio::get_segment))
        .route("/v1/audio/{hash}/words", get(audio::get_words))
        .route("/v1/audio/speech", post(speech::speech))
        .route("/v1/audio/voices", get(speech::voices))
        .route("/v1/dev/phonemize", post(speech::phonemize))
        .route("/v1/dev/captioned_speech", post(speech::captioned))
}

/// Blocks each user waits for on this gateway's sockets, across all of them, so that one user
/// with many sockets cannot fill the queue (`MAX_QUEUED_PER_USER`), and each user's open
/// sockets, so that a user's second, third … socket ranks behind other users' first.
#[derive(Default)]
pub struct QueuedPerUser {
    counts: Mutex<HashMap<Uuid, usize>>,
    sockets: Mutex<HashMap<Uuid, u32>>,
}

impl QueuedPerUser {
    /// A socket of `user` opens; returns how many of the user's sockets were open before it
    /// (its rank: its blocks go that many tiers behind the same blocks of a first socket).
    pub fn open_socket(&self, user: Uuid) -> u32 {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let open = sockets.entry(user).or_default();
        *open += 1;
        *open - 1
    }

    pub fn close_socket(&self, user: Uuid) {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = sockets.get_mut(&user) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                sockets.remove(&user);
            }
        }
    }

    /// Counts one more block for `user`, unless that would pass `cap`.
    pub fn try_add(&self, user: Uuid, cap: usize) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(user).or_default();
        if *count >= cap {
            return false;
        }
        *count += 1;
        true
    }

    pub fn remove(&self, user: Uuid) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&user);
            }
        }
    }
}
