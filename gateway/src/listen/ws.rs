//! `GET /v1/ws/tts`: the player asks for blocks of a document and hears, per block, `queued`,
//! `processing`, then `cached` with an audio URL (or `skipped` / `error`). Blocks that fall out
//! of the window around the listener's cursor while still queued are evicted. The session here
//! is the socket's I/O and wiring: the document's blocks come from `blocks`, the window policy
//! from `window`, the bookkeeping of what it waits for from `waits`.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::HeaderMap,
    response::Response,
};
use serde::Deserialize;
use tokio::time::Instant;
use uuid::Uuid;

use super::blocks::DocumentBlocks;
use super::frames::{
    BlockStatus, CLOSE_TOO_BIG, ClientMessage, Code, Refusal, ServerMessage, close_for, parse,
};
use super::waits::{BlockKey, Forgotten, Heard, Pending, WaitClock, WaitLimits, Waits};
use super::window::{Window, cursor_for};
use crate::{
    auth::{self, CurrentUser},
    error::{ApiError, Query},
    startup::AppState,
    synthesis::{
        self, Enqueued, Event, EventKind, HubMessage, JobSpec, Released, Requested, SegmentNote,
        Subscription, Synthesis, Target, score, unserved,
    },
    usage,
};

/// Frames longer than this close the socket ("message too big").
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// What the WebSocket library itself accepts before we look (so we can answer in words).
const HARD_FRAME_BYTES: usize = 4 * 1024 * 1024;
const CLOSE_POLICY_VIOLATION: u16 = 1008;
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
            // Counted while open, so that a stopping gateway waits for it to say goodbye.
            let _open_until_closed = state.sockets.token();
            match user {
                Ok(user) => {
                    let _open = crate::metrics::OpenSocket::new();
                    Session::new(state, user, socket).run().await
                }
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

/// What a queued block waits for, as its status tells the listener.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WaitsFor {
    /// Its place in the model's queue: this many jobs go first.
    Place(u64),
    /// A live worker for its model and voice.
    Worker,
    /// Redis, which holds the queue.
    Redis,
}

/// A block at a cursor whose place may be told: its key, model, voice and hash.
type PlaceToTell = (BlockKey, String, String, String);

/// A block counted against its user's cap that is not waited for after all (cached meanwhile,
/// or the queue failed): the count goes back when this drops.
struct CountedBlock {
    state: Arc<AppState>,
    user: Uuid,
    kept: bool,
}

impl CountedBlock {
    /// The block is waited for: the count stays until `forget_here`.
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for CountedBlock {
    fn drop(&mut self) {
        if !self.kept {
            self.state.queued_per_user.remove(self.user);
        }
    }
}

struct Session {
    state: Arc<AppState>,
    user: CurrentUser,
    socket: WebSocket,
    subscription: Subscription,
    documents: HashMap<Uuid, Arc<DocumentBlocks>>,
    cursors: HashMap<Uuid, i64>,
    /// The blocks it waits for, and the audio each waits on.
    waits: Waits,
    closed: bool,
    /// The player asked for `segment` notes.
    segments: bool,
    /// The window around each cursor, and how many of the user's sockets were open before this
    /// one (fair share between users).
    window: Window,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.state.queued_per_user.close_socket(self.user.id);
    }
}

enum Flow {
    Continue,
    Close,
}

impl Session {
    fn new(state: Arc<AppState>, user: CurrentUser, socket: WebSocket) -> Self {
        let subscription = state.synthesis.subscribe();
        let rank = state.queued_per_user.open_socket(user.id);
        Self {
            window: Window::from_config(&state.config, rank),
            state,
            user,
            socket,
            subscription,
            documents: HashMap::new(),
            cursors: HashMap::new(),
            waits: Waits::default(),
            closed: false,
            segments: false,
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
                            if let Some((code, reason)) = close_for(e) {
                                let _ = self.close(code, reason).await;
                            }
                            Flow::Close
                        }
                        Some(Ok(message)) => self.on_frame(message).await,
                    };
                    if matches!(flow, Flow::Close) {
                        break;
                    }
                }
                Some(message) = self.subscription.recv() => self.on_hub(message).await,
                _ = tick.tick() => {
                    self.expire().await;
                    self.tell_places().await;
                }
                // The gateway stops: this listener's claims on queued jobs go with it (others'
                // stay), so a listener who does not come back is not synthesized for and
                // billed. The player reconnects and asks again for what it still wants.
                _ = self.state.stop.cancelled() => {
                    let _ = self.close(1012, "the server is restarting; reconnect").await;
                    break;
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
        self.refuse(&Refusal::new(Code::InvalidMessage, error))
            .await;
    }

    async fn refuse(&mut self, refusal: &Refusal) {
        self.send(&ServerMessage::Error {
            error: &refusal.message,
            code: refusal.code,
            block_indices: &refusal.block_indices,
        })
        .await;
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
            audio_url: hash.map(|hash| self.state.audio_urls.sign(hash)),
            duration_ms,
            error,
            ahead: None,
            waiting_for_worker: false,
            queue_unreachable: false,
            model,
            voice,
        })
        .await;
    }

    /// A block still waiting, with what it waits for (its place, a worker, or Redis).
    async fn waiting(
        &mut self,
        (document_id, block_idx): BlockKey,
        status: BlockStatus,
        waits_for: WaitsFor,
        model: &str,
        voice: &str,
    ) {
        self.send(&ServerMessage::Status {
            document_id,
            block_idx,
            status,
            audio_url: None,
            duration_ms: None,
            error: None,
            ahead: match waits_for {
                WaitsFor::Place(ahead) => Some(ahead),
                _ => None,
            },
            waiting_for_worker: waits_for == WaitsFor::Worker,
            queue_unreachable: waits_for == WaitsFor::Redis,
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
                segments,
            } => {
                self.segments = segments;
                let all = block_indices.clone();
                self.synthesize(
                    document_id,
                    block_indices,
                    cursor,
                    &model,
                    &voice,
                    speed.unwrap_or(1.0),
                )
                .await
                .map_err(|refusal| refusal.about(&all))
            }
            ClientMessage::CursorMoved {
                document_id,
                cursor,
            } => self.cursor_moved(document_id, cursor).await,
        };
        if let Err(refusal) = result {
            self.refuse(&refusal).await;
        }
        Flow::Continue
    }

    async fn document(&mut self, id: Uuid) -> Result<Arc<DocumentBlocks>, Refusal> {
        if let Some(document) = self.documents.get(&id) {
            return Ok(Arc::clone(document));
        }
        // Read once per document and socket.
        let document = Arc::new(DocumentBlocks::load(&self.state.pool, self.user.id, id).await?);
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
    ) -> Result<(), Refusal> {
        let max = self.state.config.ws_max_indices;
        if indices.is_empty() {
            return Err("block_indices is empty: name at least one block"
                .to_string()
                .into());
        }
        if indices.len() > max {
            return Err(Refusal::from(format!(
                "too many block indices ({}); ask for at most {max} per message",
                indices.len()
            )));
        }
        self.state.synthesis.check_speed(model, speed)?;
        // A blend is cached and reported under its canonical spelling.
        let voice = &self.state.catalog.check(model, voice)?;
        let document = self.document(document_id).await?;
        document.check_indices(&indices)?;
        if let Some(cursor) = cursor {
            document.check_cursor(cursor)?;
            self.move_cursor(document_id, cursor).await;
        }
        let cursor = cursor_for(self.cursors.get(&document_id).copied(), &indices);
        let split = self.window.split(&indices, cursor);
        for (i, idx) in split.inside {
            let Some((text, speakable)) = document.block(idx) else {
                continue; // checked above
            };
            self.request_block(
                (document_id, idx),
                text.to_string(),
                speakable,
                cursor,
                model,
                voice,
                speed,
            )
            .await
            // This block and those after it in the message get no status.
            .map_err(|refusal| refusal.about(&indices[i..]))?;
        }
        if !split.outside.is_empty() {
            self.send(&ServerMessage::Evicted {
                document_id,
                block_indices: split.outside,
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
    ) -> Result<(), Refusal> {
        if !speakable || text.trim().is_empty() {
            self.status(key, BlockStatus::Skipped, None, None, None, model, voice)
                .await;
            return Ok(());
        }
        let synthesis = Arc::clone(&self.state.synthesis);
        let Some(target) = synthesis.target(&text, model, voice, speed) else {
            return Err(Refusal::new(Code::Unserved, unserved(model, voice)));
        };
        if let Some(pending) = self.waits.get(&key) {
            if pending.hash == target.hash {
                return Ok(()); // already waiting for exactly this
            }
            // Another voice or speed for the same block: the old one is not wanted any more.
            self.forget(key, true).await;
        }
        if let Some(duration_ms) = synthesis.cached_duration_ms(&target).await {
            synthesis::count_cache_lookup(true);
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
        if !synthesis.serves(model, voice) {
            return Err(Refusal::new(Code::Unserved, unserved(model, voice)));
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
        let per_socket = self.state.config.ws_max_queued;
        if self.waits.len() >= per_socket {
            return Err(Refusal::new(
                Code::QueueFull,
                format!(
                    "this connection already waits for {per_socket} blocks, the most one may; \
                     ask again for more once some have arrived"
                ),
            ));
        }
        let per_user = self.state.config.max_queued_per_user;
        if !self.state.queued_per_user.try_add(self.user.id, per_user) {
            return Err(Refusal::new(
                Code::QueueFull,
                format!(
                    "your connections already wait for {per_user} blocks, the most one user may; \
                     ask again for more once some have arrived"
                ),
            ));
        }
        // Counted from here; `track` keeps the count, every other way out gives it back.
        let counted = CountedBlock {
            state: Arc::clone(&self.state),
            user: self.user.id,
            kept: false,
        };
        let spec = JobSpec {
            hash: target.hash.clone(),
            model: model.to_string(),
            voice: voice.to_string(),
            speed,
            text,
            user_id: self.user.id.to_string(),
        };
        let score = score(self.window.tier(key.1, cursor), synthesis::now_ms());
        let requested = synthesis
            .want(&spec, &target, score, &self.subscription)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot queue a block");
                Refusal::new(
                    Code::Unavailable,
                    "the synthesis queue is unreachable; try again in a moment",
                )
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
                let processing = enqueued == Enqueued::Processing;
                counted.keep();
                self.track(key, &target, model, voice, speed, processing);
                let status = if processing {
                    BlockStatus::Processing
                } else {
                    BlockStatus::Queued
                };
                self.status(key, status, None, None, None, model, voice)
                    .await;
                if processing && self.segments {
                    self.catch_up(key, &target).await;
                }
            }
        }
        Ok(())
    }

    fn track(
        &mut self,
        key: BlockKey,
        target: &Target,
        model: &str,
        voice: &str,
        speed: f32,
        processing: bool,
    ) {
        let clock = WaitClock::new(self.limits(), Instant::now(), processing);
        let pending = Pending::new(&target.hash, model, voice, speed, target.sample_rate, clock);
        self.waits.track(key, pending);
    }

    /// Stops waiting for a block; with `release`, tells the queue this listener left.
    async fn forget(&mut self, key: BlockKey, tell_queue: bool) -> Option<Released> {
        let (model, hash) = self.forget_here(key)?;
        if !tell_queue {
            return None;
        }
        let synthesis = Arc::clone(&self.state.synthesis);
        // Gone for good: the claim ends even on a running job, so it is not retried for nobody.
        match synthesis.leave(&model, &hash).await {
            Ok(released) => Some(released),
            Err(e) => {
                tracing::warn!(error = %e, "cannot release a job");
                None
            }
        }
    }

    /// Forgets a block on this socket only; returns its model and hash when no other block of
    /// this socket waits for the same audio (then the queue may be told).
    fn forget_here(&mut self, key: BlockKey) -> Option<(String, String)> {
        let Forgotten {
            pending,
            last_for_hash,
        } = self.waits.forget(key)?;
        self.state.queued_per_user.remove(self.user.id);
        if !last_for_hash {
            return None;
        }
        self.state
            .synthesis
            .unwatch(self.subscription.id, &pending.hash);
        Some((pending.model, pending.hash))
    }

    fn limits(&self) -> WaitLimits {
        WaitLimits::from_config(&self.state.config)
    }

    async fn cursor_moved(&mut self, document_id: Uuid, cursor: i64) -> Result<(), Refusal> {
        self.document(document_id).await?.check_cursor(cursor)?;
        self.move_cursor(document_id, cursor).await;
        Ok(())
    }

    /// Evicts this document's queued blocks outside the window around the new cursor (a block a
    /// worker already renders stays: its audio is nearly there) and re-ranks the rest from it.
    async fn move_cursor(&mut self, document_id: Uuid, cursor: i64) {
        let previous = self.cursors.insert(document_id, cursor);
        let (from, to) = self.window.bounds(cursor);
        let outside = self.waits.outside(document_id, from, to);
        let mut evicted = Vec::new();
        for key in outside {
            let Some(pending) = self.waits.get(&key) else {
                continue;
            };
            let (model, hash) = (pending.model.clone(), pending.hash.clone());
            let last_here = self.waits.is_last_for(&hash);
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
        let by_model = self
            .window
            .rescore(&self.waits, document_id, cursor, synthesis::now_ms());
        for (model, scored) in by_model {
            let scored: Vec<(f64, &str)> = scored.iter().map(|(s, h)| (*s, h.as_str())).collect();
            if let Err(e) = self.state.synthesis.reprioritize(&model, &scored).await {
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
        let keys = self.waits.keys_for(&event.hash);
        if keys.is_empty() {
            return;
        }
        if let EventKind::Segment(note) = &event.kind {
            if self.segments {
                self.segment(&keys, &event.hash, note).await;
            }
            return;
        }
        let (status, audio, duration_ms, error) = match &event.kind {
            EventKind::Processing => (BlockStatus::Processing, None, None, None),
            EventKind::Requeued => (BlockStatus::Queued, None, None, None),
            EventKind::Cached { duration_ms } => (
                BlockStatus::Cached,
                Some(event.hash.as_str()),
                Some(*duration_ms),
                None,
            ),
            EventKind::Error { error } => (BlockStatus::Error, None, None, Some(error.as_str())),
            EventKind::Unspeakable { reason } => {
                (BlockStatus::Skipped, None, None, Some(reason.as_str()))
            }
            EventKind::Enqueued { .. } | EventKind::Segment(_) => return,
        };
        for key in keys {
            let Some(pending) = self.waits.get_mut(&key) else {
                continue;
            };
            let (model, voice) = (pending.model.clone(), pending.voice.clone());
            if pending.hear(&event.kind, Instant::now()) == Heard::Over {
                self.forget(key, false).await;
            }
            self.status(key, status, audio, duration_ms, error, &model, &voice)
                .await;
        }
    }

    /// A listener joining a block while it is rendered hears the segments made so far (later
    /// ones come as events: it watched the block before joining). A segment told twice, here
    /// and by its event, is one segment to the player (same index).
    async fn catch_up(&mut self, key: BlockKey, target: &Target) {
        let notes = self.state.synthesis.store().segments(&target.hash).await;
        for note in &notes {
            self.segment(&[key], &target.hash, note).await;
        }
    }

    /// Tells the listener a segment of a block it waits for is playable, with its words.
    async fn segment(&mut self, keys: &[BlockKey], hash: &str, note: &SegmentNote) {
        for &(document_id, block_idx) in keys {
            let Some(pending) = self.waits.get(&(document_id, block_idx)) else {
                continue;
            };
            let (model, voice) = (pending.model.clone(), pending.voice.clone());
            let audio_url = self.state.audio_urls.sign_segment(hash, note.index);
            self.send(&ServerMessage::Segment {
                document_id,
                block_idx,
                index: note.index,
                duration_ms: note.duration_ms,
                last: note.last,
                audio_url,
                words: &note.words,
                model: &model,
                voice: &voice,
            })
            .await;
        }
    }

    /// After a pub/sub reconnect: deliver what finished meanwhile and re-queue what a restarted
    /// Redis forgot.
    async fn resync(&mut self) {
        for hash in self.waits.hashes() {
            let Some(&key) = self.waits.keys_for(&hash).first() else {
                continue;
            };
            let Some(pending) = self.waits.get(&key) else {
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
                let score = score(self.window.tier(key.1, cursor), synthesis::now_ms());
                match synthesis.recheck(&spec, score).await {
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
            .and_then(|d| d.block(idx))
            .map(|(text, _)| text.to_string())
    }

    /// Blocks a worker rendered for longer than the synthesis timeout, and blocks no worker
    /// took within the queue bound, get `error`.
    async fn expire(&mut self) {
        let now = Instant::now();
        let expired = self.waits.expired(now);
        for key in expired {
            let Some(pending) = self.waits.get(&key) else {
                continue;
            };
            let (model, voice) = (pending.model.clone(), pending.voice.clone());
            let error = pending.clock.why_over("this passage");
            self.forget(key, true).await;
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

    /// Tells the listener where the block at each of its cursors stands in the queue
    /// ("queued, 12 ahead"), or that no live worker serves its voice (the job waits for one,
    /// up to `QUEUE_WAIT_MAX_SECS`), when that changed.
    async fn tell_places(&mut self) {
        if !self.tell_unreachable().await {
            return;
        }
        let waiting: Vec<PlaceToTell> = self
            .cursors
            .iter()
            .map(|(document, cursor)| (*document, *cursor))
            .filter_map(|key| {
                let p = self.waits.get(&key).filter(|p| !p.clock.is_rendering())?;
                Some((key, p.model.clone(), p.voice.clone(), p.hash.clone()))
            })
            .collect();
        let synthesis = Arc::clone(&self.state.synthesis);
        let now = Instant::now();
        for (key, model, voice, hash) in waiting {
            let served = synthesis.serves(&model, &voice);
            let tell = self
                .waits
                .get_mut(&key)
                .is_some_and(|pending| pending.tell_no_worker(served, now));
            if !served {
                if tell {
                    self.waiting(key, BlockStatus::Queued, WaitsFor::Worker, &model, &voice)
                        .await;
                }
                continue;
            }
            let ahead = match synthesis.place(&model, &hash).await {
                Ok(Some(ahead)) => ahead,
                Ok(None) => continue, // taken meanwhile: `processing` is on its way
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read a place in the queue");
                    continue;
                }
            };
            let tell = self
                .waits
                .get_mut(&key)
                .is_some_and(|pending| pending.tell_place(ahead));
            if !tell {
                continue;
            }
            self.waiting(
                key,
                BlockStatus::Queued,
                WaitsFor::Place(ahead),
                &model,
                &voice,
            )
            .await;
        }
    }

    /// While the queue (Redis) is unreachable, tells the listener so every few seconds, at the
    /// block at each cursor, instead of leaving it in silence; false then (places cannot be
    /// read).
    async fn tell_unreachable(&mut self) -> bool {
        let reachable = self.state.synthesis.events_connected();
        let now = Instant::now();
        let waiting: Vec<(BlockKey, BlockStatus, String, String)> = self
            .cursors
            .iter()
            .filter_map(|(document, cursor)| {
                let key = (*document, *cursor);
                let p = self.waits.get_mut(&key)?;
                if !p.tell_unreachable(reachable, now) {
                    return None;
                }
                let status = if p.clock.is_rendering() {
                    BlockStatus::Processing
                } else {
                    BlockStatus::Queued
                };
                Some((key, status, p.model.clone(), p.voice.clone()))
            })
            .collect();
        for (key, status, model, voice) in waiting {
            self.waiting(key, status, WaitsFor::Redis, &model, &voice)
                .await;
        }
        reachable
    }

    /// The socket is gone: queued blocks only this listener wanted are dropped.
    async fn leave(&mut self) {
        let keys = self.waits.keys();
        for key in keys {
            self.forget(key, true).await;
        }
    }
}

async fn release(synthesis: &Synthesis, model: &str, hash: &str) -> Option<Released> {
    match synthesis.unwant(model, hash).await {
        Ok(released) => Some(released),
        Err(e) => {
            tracing::warn!(error = %e, "cannot release a job");
            None
        }
    }
}
