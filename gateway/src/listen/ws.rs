//! `GET /v1/ws/tts`: the player asks for blocks of a document and hears, per block, `queued`,
//! `processing`, then `cached` with an audio URL (or `skipped` / `error`). Blocks that fall out
//! of the window around the listener's cursor while still queued are evicted.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{
        Query, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::HeaderMap,
    response::Response,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use uuid::Uuid;

use crate::{
    auth::{self, CurrentUser},
    error::ApiError,
    startup::AppState,
    synthesis::{
        self, Enqueued, Event, EventKind, HubMessage, JobSpec, Released, Requested, Subscription,
        Synthesis, Target,
        queue::{score, tier_for},
        unserved,
    },
    usage,
};

/// Frames longer than this close the socket ("message too big").
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// What the WebSocket library itself accepts before we look (so we can answer in words).
const HARD_FRAME_BYTES: usize = 4 * 1024 * 1024;
const CLOSE_POLICY_VIOLATION: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let user = authenticate(&state, &headers, query.token).await;
    ws.max_message_size(HARD_FRAME_BYTES)
        .max_frame_size(HARD_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            match user {
                Ok(user) => Session::new(state, user, socket).run().await,
                Err(why) => {
                    let mut socket = socket;
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame {
                            code: CLOSE_POLICY_VIOLATION,
                            reason: why.into(),
                        })))
                        .await;
                }
            }
        })
}

/// The cookie, a Bearer header, or the `token` query parameter (browsers cannot set headers on
/// a WebSocket).
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<String>,
) -> Result<CurrentUser, String> {
    if let Some(local) = &state.local_user {
        return Ok(local.clone());
    }
    let token = token
        .filter(|t| !t.is_empty())
        .or_else(|| auth::presented_token(headers))
        .ok_or_else(|| "sign in first: no session token was sent".to_string())?;
    auth::user_for_token(&state.pool, &token)
        .await
        .map_err(|e| match e {
            ApiError::Unauthorized(why) => why,
            _ => "cannot check the session right now; try again".to_string(),
        })
}

#[derive(Deserialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Synthesize {
        document_id: Uuid,
        block_indices: Vec<i64>,
        cursor: Option<i64>,
        model: String,
        voice: String,
        speed: Option<f32>,
    },
    CursorMoved {
        document_id: Uuid,
        cursor: i64,
    },
}

#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum BlockStatus {
    Queued,
    Processing,
    Cached,
    Skipped,
    Error,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    Status {
        document_id: Uuid,
        block_idx: i64,
        status: BlockStatus,
        audio_url: Option<String>,
        duration_ms: Option<u64>,
        error: Option<&'a str>,
        model: &'a str,
        voice: &'a str,
    },
    Evicted {
        document_id: Uuid,
        block_indices: Vec<i64>,
    },
    Error {
        error: &'a str,
    },
}

/// A document's blocks as this socket needs them.
struct DocumentBlocks {
    blocks: Vec<(String, bool)>,
}

/// A block this socket waits for.
struct Pending {
    hash: String,
    model: String,
    voice: String,
    speed: f32,
    sample_rate: u32,
    deadline: Instant,
}

type BlockKey = (Uuid, i64);

struct Session {
    state: Arc<AppState>,
    user: CurrentUser,
    socket: WebSocket,
    subscription: Subscription,
    documents: HashMap<Uuid, Arc<DocumentBlocks>>,
    cursors: HashMap<Uuid, i64>,
    pending: HashMap<BlockKey, Pending>,
    waiting_on: HashMap<String, HashSet<BlockKey>>,
    closed: bool,
}

enum Flow {
    Continue,
    Close,
}

impl Session {
    fn new(state: Arc<AppState>, user: CurrentUser, socket: WebSocket) -> Self {
        let subscription = state.synthesis.hub.subscribe();
        Self {
            state,
            user,
            socket,
            subscription,
            documents: HashMap::new(),
            cursors: HashMap::new(),
            pending: HashMap::new(),
            waiting_on: HashMap::new(),
            closed: false,
        }
    }

    #[tracing::instrument(skip_all, fields(user = %self.user.id))]
    async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.closed {
            tokio::select! {
                incoming = self.socket.recv() => {
                    let flow = match incoming {
                        None => Flow::Close,
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "websocket read failed");
                            let _ = self.close(CLOSE_TOO_BIG, "message too big").await;
                            Flow::Close
                        }
                        Some(Ok(message)) => self.on_frame(message).await,
                    };
                    if matches!(flow, Flow::Close) {
                        break;
                    }
                }
                Some(message) = self.subscription.recv() => self.on_hub(message).await,
                _ = tick.tick() => self.expire().await,
                // The gateway stops: what this listener queued stays queued for the others
                // (and for this listener when it reconnects to another gateway).
                _ = self.state.stop.cancelled() => {
                    let _ = self.close(1012, "the server is restarting; reconnect").await;
                    return;
                }
            }
        }
        self.leave().await;
    }

    async fn close(&mut self, code: u16, reason: &str) -> Result<(), axum::Error> {
        self.closed = true;
        self.socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await
    }

    async fn send(&mut self, message: &ServerMessage<'_>) {
        let json = serde_json::to_string(message).unwrap_or_default();
        if self.socket.send(Message::Text(json.into())).await.is_err() {
            self.closed = true;
        }
    }

    async fn say_error(&mut self, error: &str) {
        self.send(&ServerMessage::Error { error }).await;
    }

    #[allow(clippy::too_many_arguments)]
    async fn status(
        &mut self,
        (document_id, block_idx): BlockKey,
        status: BlockStatus,
        hash: Option<&str>,
        duration_ms: Option<u64>,
        error: Option<&str>,
        model: &str,
        voice: &str,
    ) {
        self.send(&ServerMessage::Status {
            document_id,
            block_idx,
            status,
            audio_url: hash.map(super::audio_url),
            duration_ms,
            error,
            model,
            voice,
        })
        .await;
    }

    async fn on_frame(&mut self, message: Message) -> Flow {
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                self.say_error("binary frames are not understood; send JSON text frames")
                    .await;
                return Flow::Continue;
            }
            Message::Close(_) => return Flow::Close,
            Message::Ping(_) | Message::Pong(_) => return Flow::Continue,
        };
        if text.len() > MAX_FRAME_BYTES {
            let _ = self.close(CLOSE_TOO_BIG, "message too big").await;
            return Flow::Close;
        }
        let message = match parse(text.as_str()) {
            Ok(message) => message,
            Err(why) => {
                self.say_error(&why).await;
                return Flow::Continue;
            }
        };
        let result = match message {
            ClientMessage::Synthesize {
                document_id,
                block_indices,
                cursor,
                model,
                voice,
                speed,
            } => {
                self.synthesize(
                    document_id,
                    block_indices,
                    cursor,
                    &model,
                    &voice,
                    speed.unwrap_or(1.0),
                )
                .await
            }
            ClientMessage::CursorMoved {
                document_id,
                cursor,
            } => self.cursor_moved(document_id, cursor).await,
        };
        if let Err(why) = result {
            self.say_error(&why).await;
        }
        Flow::Continue
    }

    async fn document(&mut self, id: Uuid) -> Result<Arc<DocumentBlocks>, String> {
        if let Some(document) = self.documents.get(&id) {
            return Ok(Arc::clone(document));
        }
        // Every stored document has at least one block, so no rows means not this user's.
        let blocks: Vec<(String, bool)> = sqlx::query_as(
            "SELECT b.text, b.speakable FROM blocks b JOIN documents d ON d.id = b.document_id
             WHERE d.id = $1 AND d.user_id = $2 ORDER BY b.idx",
        )
        .bind(id)
        .bind(self.user.id)
        .fetch_all(&self.state.pool)
        .await
        .map_err(|_| "cannot read the document right now; try again".to_string())?;
        if blocks.is_empty() {
            return Err(format!("document {id} not found"));
        }
        let document = Arc::new(DocumentBlocks { blocks });
        self.documents.insert(id, Arc::clone(&document));
        Ok(document)
    }

    async fn synthesize(
        &mut self,
        document_id: Uuid,
        indices: Vec<i64>,
        cursor: Option<i64>,
        model: &str,
        voice: &str,
        speed: f32,
    ) -> Result<(), String> {
        let max = self.state.config.ws_max_indices;
        if indices.is_empty() {
            return Err("block_indices is empty: name at least one block".into());
        }
        if indices.len() > max {
            return Err(format!(
                "too many block indices ({}); ask for at most {max} per message",
                indices.len()
            ));
        }
        synthesis::check_speed(speed)?;
        // A blend is cached and reported under its canonical spelling.
        let voice = &self.state.catalog.check(model, voice)?;
        let document = self.document(document_id).await?;
        let count = document.blocks.len() as i64;
        if let Some(bad) = indices.iter().find(|&&i| i < 0 || i >= count) {
            return Err(format!(
                "block {bad} does not exist: document {document_id} has blocks 0 to {}",
                count - 1
            ));
        }
        if let Some(cursor) = cursor {
            if cursor < 0 || cursor >= count {
                return Err(format!(
                    "cursor {cursor} is outside document {document_id} (blocks 0 to {})",
                    count - 1
                ));
            }
            self.move_cursor(document_id, cursor).await;
        }
        let cursor = self
            .cursors
            .get(&document_id)
            .copied()
            .unwrap_or_else(|| indices.iter().copied().min().unwrap_or(0));
        let (behind, ahead) = self.window();
        let mut outside = Vec::new();
        let mut seen = HashSet::new();
        for idx in indices {
            if !seen.insert(idx) {
                continue;
            }
            if idx < cursor - behind || idx > cursor + ahead {
                outside.push(idx);
                continue;
            }
            let (text, speakable) = &document.blocks[idx as usize];
            self.request_block(
                (document_id, idx),
                text.clone(),
                *speakable,
                cursor,
                model,
                voice,
                speed,
            )
            .await?;
        }
        if !outside.is_empty() {
            self.send(&ServerMessage::Evicted {
                document_id,
                block_indices: outside,
            })
            .await;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn request_block(
        &mut self,
        key: BlockKey,
        text: String,
        speakable: bool,
        cursor: i64,
        model: &str,
        voice: &str,
        speed: f32,
    ) -> Result<(), String> {
        if !speakable || text.trim().is_empty() {
            self.status(key, BlockStatus::Skipped, None, None, None, model, voice)
                .await;
            return Ok(());
        }
        let synthesis = Arc::clone(&self.state.synthesis);
        let Some(target) = synthesis.target(&text, model, voice, speed) else {
            return Err(unserved(model, voice));
        };
        if let Some(pending) = self.pending.get(&key) {
            if pending.hash == target.hash {
                return Ok(()); // already waiting for exactly this
            }
            // Another voice or speed for the same block: the old one is not wanted any more.
            self.forget(key, true).await;
        }
        if let Some(duration_ms) = synthesis.cached_duration_ms(&target).await {
            let hash = target.hash.clone();
            self.status(
                key,
                BlockStatus::Cached,
                Some(&hash),
                Some(duration_ms),
                None,
                model,
                voice,
            )
            .await;
            return Ok(());
        }
        if !synthesis.pool.serves(model, voice) {
            return Err(unserved(model, voice));
        }
        if let Err(e) = usage::check_quota(&self.state, self.user.id, text.chars().count()).await {
            let why = e.to_string();
            self.status(
                key,
                BlockStatus::Error,
                None,
                None,
                Some(&why),
                model,
                voice,
            )
            .await;
            return Ok(());
        }
        let spec = JobSpec {
            hash: target.hash.clone(),
            model: model.to_string(),
            voice: voice.to_string(),
            speed,
            text,
            user_id: self.user.id.to_string(),
        };
        let score = score(tier_for(key.1, cursor), synthesis::now_ms());
        let requested = synthesis
            .request(&spec, &target, score, &self.subscription)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot queue a block");
                "the synthesis queue is unreachable; try again in a moment".to_string()
            })?;
        match requested {
            Requested::Cached { duration_ms } => {
                self.status(
                    key,
                    BlockStatus::Cached,
                    Some(&target.hash),
                    Some(duration_ms),
                    None,
                    model,
                    voice,
                )
                .await;
            }
            Requested::Waiting(enqueued) => {
                self.track(key, &target, model, voice, speed);
                let status = if enqueued == Enqueued::Processing {
                    BlockStatus::Processing
                } else {
                    BlockStatus::Queued
                };
                self.status(key, status, None, None, None, model, voice)
                    .await;
            }
        }
        Ok(())
    }

    fn track(&mut self, key: BlockKey, target: &Target, model: &str, voice: &str, speed: f32) {
        let timeout = Duration::from_secs(self.state.config.synthesis_timeout_secs);
        self.pending.insert(
            key,
            Pending {
                hash: target.hash.clone(),
                model: model.to_string(),
                voice: voice.to_string(),
                speed,
                sample_rate: target.sample_rate,
                deadline: Instant::now() + timeout,
            },
        );
        self.waiting_on
            .entry(target.hash.clone())
            .or_default()
            .insert(key);
    }

    /// Stops waiting for a block; with `release`, tells the queue this listener left.
    async fn forget(&mut self, key: BlockKey, tell_queue: bool) -> Option<Released> {
        let (model, hash) = self.forget_here(key)?;
        if !tell_queue {
            return None;
        }
        let synthesis = Arc::clone(&self.state.synthesis);
        release(&synthesis, &model, &hash).await
    }

    /// Forgets a block on this socket only; returns its model and hash when no other block of
    /// this socket waits for the same audio (then the queue may be told).
    fn forget_here(&mut self, key: BlockKey) -> Option<(String, String)> {
        let pending = self.pending.remove(&key)?;
        let keys = self.waiting_on.get_mut(&pending.hash)?;
        keys.remove(&key);
        if !keys.is_empty() {
            return None;
        }
        self.waiting_on.remove(&pending.hash);
        self.state
            .synthesis
            .hub
            .unwatch(self.subscription.id, &pending.hash);
        Some((pending.model, pending.hash))
    }

    fn window(&self) -> (i64, i64) {
        (
            i64::from(self.state.config.ws_window_behind),
            i64::from(self.state.config.ws_window_ahead),
        )
    }

    async fn cursor_moved(&mut self, document_id: Uuid, cursor: i64) -> Result<(), String> {
        let document = self.document(document_id).await?;
        let count = document.blocks.len() as i64;
        if cursor < 0 || cursor >= count {
            return Err(format!(
                "cursor {cursor} is outside document {document_id} (blocks 0 to {})",
                count - 1
            ));
        }
        self.move_cursor(document_id, cursor).await;
        Ok(())
    }

    /// Evicts this document's queued blocks outside the window around the new cursor (a block a
    /// worker already renders stays: its audio is nearly there) and re-ranks the rest from it.
    async fn move_cursor(&mut self, document_id: Uuid, cursor: i64) {
        let previous = self.cursors.insert(document_id, cursor);
        let (behind, ahead) = self.window();
        let outside: Vec<BlockKey> = self
            .pending
            .keys()
            .filter(|(doc, idx)| {
                *doc == document_id && (*idx < cursor - behind || *idx > cursor + ahead)
            })
            .copied()
            .collect();
        let mut evicted = Vec::new();
        for key in outside {
            let Some(pending) = self.pending.get(&key) else {
                continue;
            };
            let (model, hash) = (pending.model.clone(), pending.hash.clone());
            let last_here = self.waiting_on.get(&hash).is_none_or(|k| k.len() <= 1);
            let synthesis = Arc::clone(&self.state.synthesis);
            if last_here && release(&synthesis, &model, &hash).await == Some(Released::Running) {
                continue; // a worker is on it: keep listening
            }
            self.forget_here(key);
            evicted.push(key.1);
        }
        if !evicted.is_empty() {
            evicted.sort_unstable();
            self.send(&ServerMessage::Evicted {
                document_id,
                block_indices: evicted,
            })
            .await;
        }
        if previous != Some(cursor) {
            self.raise_pending(document_id, cursor).await;
        }
    }

    /// After a seek, the block the listener now stands on must not wait behind the prefetch it
    /// asked for before: each block still queued moves up to its tier from the new cursor.
    async fn raise_pending(&mut self, document_id: Uuid, cursor: i64) {
        let now = synthesis::now_ms();
        let mut by_model: HashMap<&str, Vec<(f64, &str)>> = HashMap::new();
        for ((doc, idx), pending) in &self.pending {
            if *doc == document_id {
                by_model
                    .entry(&pending.model)
                    .or_default()
                    .push((score(tier_for(*idx, cursor), now), &pending.hash));
            }
        }
        for (model, scored) in by_model {
            if let Err(e) = self.state.synthesis.queue.raise(model, &scored).await {
                tracing::warn!(error = %e, "cannot re-rank queued blocks after a seek");
            }
        }
    }

    async fn on_hub(&mut self, message: HubMessage) {
        match message {
            HubMessage::Event(event) => self.on_event(event).await,
            HubMessage::Resync => self.resync().await,
        }
    }

    async fn on_event(&mut self, event: Event) {
        let Some(keys) = self.waiting_on.get(&event.hash) else {
            return;
        };
        let mut keys: Vec<BlockKey> = keys.iter().copied().collect();
        keys.sort_unstable();
        let (status, audio, duration_ms, error) = match &event.kind {
            EventKind::Processing => (BlockStatus::Processing, None, None, None),
            EventKind::Cached { duration_ms } => (
                BlockStatus::Cached,
                Some(event.hash.as_str()),
                Some(*duration_ms),
                None,
            ),
            EventKind::Error { error } => (BlockStatus::Error, None, None, Some(error.as_str())),
            EventKind::Enqueued { .. } => return,
        };
        for key in keys {
            let Some(pending) = self.pending.get(&key) else {
                continue;
            };
            let (model, voice) = (pending.model.clone(), pending.voice.clone());
            if status != BlockStatus::Processing {
                self.forget(key, false).await;
            }
            self.status(key, status, audio, duration_ms, error, &model, &voice)
                .await;
        }
    }

    /// After a pub/sub reconnect: deliver what finished meanwhile and re-queue what a restarted
    /// Redis forgot.
    async fn resync(&mut self) {
        let hashes: Vec<String> = self.waiting_on.keys().cloned().collect();
        for hash in hashes {
            let Some(key) = self
                .waiting_on
                .get(&hash)
                .and_then(|k| k.iter().next().copied())
            else {
                continue;
            };
            let Some(pending) = self.pending.get(&key) else {
                continue;
            };
            let target = Target {
                hash: hash.clone(),
                sample_rate: pending.sample_rate,
            };
            let synthesis = Arc::clone(&self.state.synthesis);
            // The cold store first: a Redis that restarted empty has lost only the hot copy.
            let mut cached = synthesis.cached_duration_ms(&target).await;
            if cached.is_none() {
                let Some(text) = self.text_of(key) else {
                    continue;
                };
                let spec = JobSpec {
                    hash: hash.clone(),
                    model: pending.model.clone(),
                    voice: pending.voice.clone(),
                    speed: pending.speed,
                    text,
                    user_id: self.user.id.to_string(),
                };
                let cursor = self.cursors.get(&key.0).copied().unwrap_or(key.1);
                let score = score(tier_for(key.1, cursor), synthesis::now_ms());
                match synthesis.queue.enqueue(&spec, score, false).await {
                    Ok(Enqueued::Cached) => {
                        cached = Some(synthesis.cached_duration_ms(&target).await.unwrap_or(0));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "re-check after reconnect failed"),
                }
            }
            if let Some(duration_ms) = cached {
                self.on_event(Event::new(&hash, EventKind::Cached { duration_ms }))
                    .await;
            }
        }
    }

    fn text_of(&self, (document_id, idx): BlockKey) -> Option<String> {
        self.documents
            .get(&document_id)
            .and_then(|d| d.blocks.get(idx as usize))
            .map(|(text, _)| text.clone())
    }

    /// Blocks waited for longer than the synthesis timeout get `error`.
    async fn expire(&mut self) {
        let now = Instant::now();
        let expired: Vec<BlockKey> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        let secs = self.state.config.synthesis_timeout_secs;
        for key in expired {
            let Some(pending) = self.pending.get(&key) else {
                continue;
            };
            let (model, voice) = (pending.model.clone(), pending.voice.clone());
            self.forget(key, true).await;
            let error = format!("synthesis did not finish within {secs} s; try again");
            self.status(
                key,
                BlockStatus::Error,
                None,
                None,
                Some(&error),
                &model,
                &voice,
            )
            .await;
        }
    }

    /// The socket is gone: queued blocks only this listener wanted are dropped.
    async fn leave(&mut self) {
        let keys: Vec<BlockKey> = self.pending.keys().copied().collect();
        for key in keys {
            self.forget(key, true).await;
        }
    }
}

async fn release(synthesis: &Synthesis, model: &str, hash: &str) -> Option<Released> {
    match synthesis.queue.release(model, hash).await {
        Ok(released) => Some(released),
        Err(e) => {
            tracing::warn!(error = %e, "cannot release a job");
            None
        }
    }
}

/// Reads a client frame, with an error a person can act on.
fn parse(text: &str) -> Result<ClientMessage, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            "every message needs a \"type\": \"synthesize\" or \"cursor_moved\"".to_string()
        })?;
    if !matches!(kind.as_str(), "synthesize" | "cursor_moved") {
        return Err(format!(
            "unknown message type {kind:?}; use \"synthesize\" or \"cursor_moved\""
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("invalid {kind} message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_frames_get_errors_that_say_what_is_wrong() {
        assert!(parse("{").unwrap_err().contains("invalid JSON"));
        assert!(
            parse(r#"{"type":"dance"}"#)
                .unwrap_err()
                .contains("unknown message type")
        );
        assert!(
            parse(r#"{"a":1}"#)
                .unwrap_err()
                .contains("needs a \"type\"")
        );
        let missing =
            parse(r#"{"type":"synthesize","document_id":"6f1c9a8e-0000-4000-8000-000000000000"}"#)
                .unwrap_err();
        assert!(missing.contains("block_indices"), "{missing}");
        let huge = parse(r#"{"type":"cursor_moved","document_id":"6f1c9a8e-0000-4000-8000-000000000000","cursor":1e30}"#)
            .unwrap_err();
        assert!(huge.contains("invalid cursor_moved message"), "{huge}");
        assert!(parse(r#"{"type":"cursor_moved","document_id":"6f1c9a8e-0000-4000-8000-000000000000","cursor":3}"#).is_ok());
    }
}
