//! One simulated listener's player as a plain state machine: which blocks it asks for, which
//! audio it downloads, when it plays and when it would stall. It does no I/O: `listener.rs`
//! feeds it the socket's frames, finished downloads and the clock, and carries out its actions.
//!
//! The policy is the web player's (web/src/engine/engine.ts): the block at the cursor and the
//! next `prefetch_ahead` speakable blocks are kept requested; when a block ends the cursor moves
//! to the next one and the window refills with a `synthesize` carrying the new cursor; the next
//! block's audio is downloaded while the current one plays; a refused request is asked again
//! after 5 s, doubling up to 60 s. Playback runs at 1× real time.
//!
//! With `Playback::Segments` (the player's default) it also plays as the player does since
//! segments: a block still rendering plays from its `segment` frames as they are downloaded, one
//! after the other (a segment not there when the one before ends is a stall); a block already
//! whole plays whole; and the block to be heard first is asked for alone until it is whole
//! ("head first"), the rest of the window after it. `Playback::Whole` is the player's
//! `?playback=whole`: whole blocks only, the whole window at once.
//!
//! Times are offsets from the level's start, so outcomes of one level compare directly.

use std::{collections::HashMap, time::Duration};

use serde::{Deserialize, Serialize};

/// Indices per `synthesize` message (the gateway's `WS_MAX_INDICES`).
const MAX_INDICES_PER_MESSAGE: usize = 64;
const REFUSED_RETRY: Duration = Duration::from_secs(5);
const REFUSED_RETRY_MAX: Duration = Duration::from_secs(60);

/// How the simulated player plays (the web player's `?playback=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Playback {
    /// Segments while a block renders, head first (the player's default).
    Segments,
    /// Whole blocks only (the player before segments).
    Whole,
}

/// What the reader wants done.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Send a `synthesize` for these blocks with the listener at `cursor`.
    Send { indices: Vec<u32>, cursor: u32 },
    /// Download this block's audio: segment `segment`, or the whole block (`None`).
    Fetch {
        idx: u32,
        segment: Option<u32>,
        audio_url: String,
    },
}

/// A server frame about this listener's document.
pub enum Frame<'a> {
    Status {
        idx: u32,
        status: &'a str,
        audio_url: Option<&'a str>,
        duration_ms: Option<u64>,
        error: Option<&'a str>,
    },
    /// One chunk of a block still rendering, playable before the block is whole.
    Segment {
        idx: u32,
        index: u32,
        duration_ms: u64,
        last: bool,
        audio_url: &'a str,
    },
    Evicted(&'a [u32]),
    /// `{"type": "error"}`: the gateway refused a message (a cap, a quota, an unserved voice).
    Refused(&'a str),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Requested,
    Queued,
    Processing,
    Cached,
    Skipped,
    Failed,
}

impl State {
    fn pending(self) -> bool {
        matches!(self, Self::Requested | Self::Queued | Self::Processing)
    }

    fn playable(self) -> bool {
        !matches!(self, Self::Skipped | Self::Failed)
    }
}

struct Block {
    requested_at: Duration,
    state: State,
    processing_at: Option<Duration>,
    duration: Duration,
    audio_url: Option<String>,
    fetching: bool,
    fetched_at: Option<Duration>,
    /// Its segments so far, in order from the first, while it renders.
    segments: Vec<Segment>,
}

struct Segment {
    duration: Duration,
    last: bool,
    audio_url: String,
    fetching: bool,
    fetched_at: Option<Duration>,
}

/// The piece of the cursor block that plays now.
#[derive(Clone, Copy)]
struct Playing {
    until: Duration,
    /// The segment that plays; `None`: the whole block, or the rest of it.
    segment: Option<usize>,
    /// How much of the block has been heard once this piece ends.
    heard: Duration,
}

/// Inside a block that played from segments: what plays next.
#[derive(Clone, Copy)]
struct Inside {
    next_segment: usize,
    heard: Duration,
}

/// A block a worker rendered for this listener: when it started (its `processing` status, else
/// the request), when it was cached, and how much audio it holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Synthesized {
    pub started_s: f64,
    pub cached_s: f64,
    pub audio_s: f64,
}

/// What one listener experienced.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub arrival_s: f64,
    /// Seconds from arrival to first sound; `None`: no sound within the session.
    pub first_sound_s: Option<f64>,
    /// Times a block ended before the next one could play.
    pub stalls: u32,
    pub stall_s: f64,
    pub played_blocks: u32,
    /// `error` frames: requests the gateway refused (caps, quota).
    pub refusals: u32,
    pub first_refusal: Option<String>,
    /// Blocks that ended in `error`.
    pub block_errors: u32,
    pub first_block_error: Option<String>,
    /// The listener could not run: sign-in, document or socket failed.
    pub failure: Option<String>,
    /// Seconds from a block's request to its `cached` status, per block.
    pub latencies_s: Vec<f64>,
    pub synthesized: Vec<Synthesized>,
}

impl Outcome {
    /// Heard its document from the first block on without a stall, a refusal or a lost block.
    pub fn served(&self) -> bool {
        self.failure.is_none()
            && self.first_sound_s.is_some()
            && self.stalls == 0
            && self.refusals == 0
            && self.block_errors == 0
    }

    pub fn failed(failure: String, arrival: Duration) -> Self {
        Self {
            arrival_s: arrival.as_secs_f64(),
            failure: Some(failure),
            ..Self::default()
        }
    }
}

pub struct Reader {
    /// Speakable block indices in reading order.
    order: Vec<u32>,
    prefetch_ahead: usize,
    playback: Playback,
    /// The cursor is `order[pos]`; `pos == order.len()` once the document is over.
    pos: usize,
    blocks: HashMap<u32, Block>,
    /// What of the block at the cursor plays, while something does.
    playing: Option<Playing>,
    /// The cursor block is part-heard (its segments so far ended); `None` at a block's start.
    inside: Option<Inside>,
    /// A block ended and the next was not ready: since when the listener waits.
    stalled_since: Option<Duration>,
    retry_at: Option<Duration>,
    refusals_in_a_row: u32,
    arrival: Duration,
    outcome: Outcome,
}

impl Reader {
    pub fn new(
        order: Vec<u32>,
        prefetch_ahead: usize,
        playback: Playback,
        arrival: Duration,
    ) -> Self {
        Self {
            order,
            prefetch_ahead,
            playback,
            pos: 0,
            blocks: HashMap::new(),
            playing: None,
            inside: None,
            stalled_since: None,
            retry_at: None,
            refusals_in_a_row: 0,
            arrival,
            outcome: Outcome {
                arrival_s: arrival.as_secs_f64(),
                ..Outcome::default()
            },
        }
    }

    /// The listener pressed play at the first block.
    pub fn start(&mut self, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        self.fill_window(now, &mut actions);
        actions
    }

    /// The next moment the clock matters: the playing block's end, or a retry after a refusal.
    pub fn next_deadline(&self) -> Option<Duration> {
        match (self.playing.map(|p| p.until), self.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn on_frame(&mut self, frame: Frame<'_>, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        match frame {
            Frame::Refused(error) => self.on_refused(error, now),
            Frame::Evicted(indices) => {
                for idx in indices {
                    if self.blocks.get(idx).is_some_and(|b| b.state.pending()) {
                        self.blocks.remove(idx);
                    }
                }
                self.fill_window(now, &mut actions);
            }
            Frame::Segment {
                idx,
                index,
                duration_ms,
                last,
                audio_url,
            } => self.on_segment(idx, index, duration_ms, last, audio_url, &mut actions),
            Frame::Status {
                idx,
                status,
                audio_url,
                duration_ms,
                error,
            } => self.on_status(
                idx,
                status,
                audio_url,
                duration_ms,
                error,
                now,
                &mut actions,
            ),
        }
        self.start_if_ready(now, &mut actions);
        actions
    }

    /// A download this reader asked for finished (`ok: false`: it failed).
    pub fn on_fetched(
        &mut self,
        idx: u32,
        segment: Option<u32>,
        ok: bool,
        now: Duration,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(segment) = segment {
            let seg = self
                .blocks
                .get_mut(&idx)
                .and_then(|b| b.segments.get_mut(segment as usize));
            if let Some(seg) = seg {
                seg.fetching = false;
                // A segment that failed to download is no loss while the block is coming
                // whole; the whole block's download is what counts as an error.
                seg.fetched_at = ok.then_some(now);
            }
        } else if let Some(block) = self.blocks.get_mut(&idx) {
            block.fetching = false;
            if ok {
                block.fetched_at = Some(now);
            } else {
                block.state = State::Failed;
                self.note_block_error("the audio could not be downloaded");
                self.fill_window(now, &mut actions);
            }
        }
        self.start_if_ready(now, &mut actions);
        actions
    }

    /// The clock reached `now`: a block may have ended, a retry may be due.
    pub fn on_tick(&mut self, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
            self.fill_window(now, &mut actions);
        }
        if let Some(ended) = self.playing.filter(|p| p.until <= now) {
            self.playing = None;
            let end = ended.until;
            let block_over = match ended.segment {
                None => true,
                Some(k) => self
                    .cursor_block()
                    .and_then(|b| b.segments.get(k))
                    .is_none_or(|s| s.last),
            };
            if block_over {
                self.inside = None;
                self.pos += 1;
                self.skip_unplayable();
                if self.pos < self.order.len() {
                    // Waiting from the moment the block ended, not from when the timer fired.
                    self.stalled_since = Some(end);
                    self.fill_window(now, &mut actions);
                }
            } else {
                self.inside = Some(Inside {
                    next_segment: ended.segment.map_or(0, |k| k + 1),
                    heard: ended.heard,
                });
                self.stalled_since = Some(end);
            }
        }
        self.start_if_ready(now, &mut actions);
        actions
    }

    /// The session is over at `now`; what the listener experienced.
    pub fn finish(mut self, now: Duration) -> Outcome {
        // Still waiting for the next block when the session ends: a stall all the same.
        if let Some(since) = self.stalled_since.take() {
            self.outcome.stalls += 1;
            self.outcome.stall_s += now.saturating_sub(since).as_secs_f64();
        }
        self.outcome
    }

    #[allow(clippy::too_many_arguments)]
    fn on_status(
        &mut self,
        idx: u32,
        status: &str,
        audio_url: Option<&str>,
        duration_ms: Option<u64>,
        error: Option<&str>,
        now: Duration,
        actions: &mut Vec<Action>,
    ) {
        // Only answers to requests still wanted; a late status for a block given up is noise.
        let Some(block) = self.blocks.get_mut(&idx) else {
            return;
        };
        if block.state == State::Cached {
            return;
        }
        match status {
            "queued" => block.state = State::Queued,
            "processing" => {
                block.state = State::Processing;
                block.processing_at.get_or_insert(now);
            }
            "cached" => {
                let Some(url) = audio_url else {
                    block.state = State::Failed;
                    self.note_block_error("a cached status without audio");
                    self.fill_window(now, actions);
                    return;
                };
                block.state = State::Cached;
                block.audio_url = Some(url.to_string());
                block.duration = Duration::from_millis(duration_ms.unwrap_or(0));
                self.outcome
                    .latencies_s
                    .push(now.saturating_sub(block.requested_at).as_secs_f64());
                self.outcome.synthesized.push(Synthesized {
                    started_s: block
                        .processing_at
                        .unwrap_or(block.requested_at)
                        .as_secs_f64(),
                    cached_s: now.as_secs_f64(),
                    audio_s: block.duration.as_secs_f64(),
                });
                self.refusals_in_a_row = 0;
                // Head first: the head is whole, so the rest of the window may come.
                self.fill_window(now, actions);
                self.fetch_near_cursor(actions);
            }
            "skipped" => {
                block.state = State::Skipped;
                self.fill_window(now, actions);
            }
            "error" => {
                block.state = State::Failed;
                self.note_block_error(error.unwrap_or("synthesis failed"));
                self.fill_window(now, actions);
            }
            // A status this reader does not know (a newer gateway's) changes nothing.
            _ => {}
        }
    }

    fn on_segment(
        &mut self,
        idx: u32,
        index: u32,
        duration_ms: u64,
        last: bool,
        audio_url: &str,
        actions: &mut Vec<Action>,
    ) {
        if self.playback == Playback::Whole {
            return;
        }
        // Only for a block still rendering that this reader wants.
        let Some(block) = self.blocks.get_mut(&idx).filter(|b| b.state.pending()) else {
            return;
        };
        let index = index as usize;
        if index < block.segments.len() {
            // Told again (a reconnect, another listener's render): it may now say it is the last.
            block.segments[index].last |= last;
            return;
        }
        if index > block.segments.len() {
            // A gap (segments kept only briefly): wait for the whole block.
            return;
        }
        block.segments.push(Segment {
            duration: Duration::from_millis(duration_ms),
            last,
            audio_url: audio_url.to_string(),
            fetching: false,
            fetched_at: None,
        });
        self.fetch_near_cursor(actions);
    }

    fn cursor_block(&self) -> Option<&Block> {
        self.order
            .get(self.pos)
            .and_then(|idx| self.blocks.get(idx))
    }

    fn on_refused(&mut self, error: &str, now: Duration) {
        self.outcome.refusals += 1;
        self.outcome
            .first_refusal
            .get_or_insert_with(|| error.to_string());
        // The refused message's blocks get no status: drop what was never acknowledged and ask
        // again later.
        let before = self.blocks.len();
        self.blocks.retain(|_, b| b.state != State::Requested);
        if self.blocks.len() < before && self.retry_at.is_none() {
            let delay = REFUSED_RETRY
                .saturating_mul(1 << self.refusals_in_a_row.min(8))
                .min(REFUSED_RETRY_MAX);
            self.refusals_in_a_row += 1;
            self.retry_at = Some(now + delay);
        }
    }

    fn note_block_error(&mut self, error: &str) {
        self.outcome.block_errors += 1;
        self.outcome
            .first_block_error
            .get_or_insert_with(|| error.to_string());
    }

    /// Requests the cursor block and the next `prefetch_ahead` speakable ones not yet asked for.
    fn fill_window(&mut self, now: Duration, actions: &mut Vec<Action>) {
        if self.retry_at.is_some() || self.pos >= self.order.len() {
            return;
        }
        let mut window = Vec::new();
        for &idx in &self.order[self.pos..] {
            if self.blocks.get(&idx).is_some_and(|b| !b.state.playable()) {
                continue;
            }
            window.push(idx);
            if window.len() > self.prefetch_ahead {
                break;
            }
        }
        // Head first: prefetch beside the block to be heard first would share the cores and
        // slow its first sound and its later segments.
        if self.playback == Playback::Segments
            && window.len() > 1
            && self
                .blocks
                .get(&window[0])
                .is_none_or(|b| b.state.pending())
        {
            window.truncate(1);
        }
        let needed: Vec<u32> = window
            .into_iter()
            .filter(|idx| !self.blocks.contains_key(idx))
            .collect();
        for &idx in &needed {
            self.blocks.insert(
                idx,
                Block {
                    requested_at: now,
                    state: State::Requested,
                    processing_at: None,
                    duration: Duration::ZERO,
                    audio_url: None,
                    fetching: false,
                    fetched_at: None,
                    segments: Vec::new(),
                },
            );
        }
        let cursor = self.order[self.pos];
        for chunk in needed.chunks(MAX_INDICES_PER_MESSAGE) {
            actions.push(Action::Send {
                indices: chunk.to_vec(),
                cursor,
            });
        }
    }

    /// Moves the cursor past blocks that will never play (skipped, failed).
    fn skip_unplayable(&mut self) {
        while let Some(idx) = self.order.get(self.pos) {
            if self.blocks.get(idx).is_some_and(|b| !b.state.playable()) {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// Downloads the cursor block's audio and the next one's, once they are cached (else their
    /// segments so far), as the player loads the current block and preloads the next.
    fn fetch_near_cursor(&mut self, actions: &mut Vec<Action>) {
        let near: Vec<u32> = self.order[self.pos.min(self.order.len())..]
            .iter()
            .filter(|idx| self.blocks.get(idx).is_none_or(|b| b.state.playable()))
            .take(2)
            .copied()
            .collect();
        for idx in near {
            let Some(block) = self.blocks.get_mut(&idx) else {
                continue;
            };
            if block.state == State::Cached
                && !block.fetching
                && block.fetched_at.is_none()
                && let Some(url) = &block.audio_url
            {
                block.fetching = true;
                actions.push(Action::Fetch {
                    idx,
                    segment: None,
                    audio_url: url.clone(),
                });
            }
            // Once whole, a block plays (or goes on) from its whole audio: segments not yet
            // downloaded never will be.
            let whole = block.state == State::Cached;
            for (index, segment) in block.segments.iter_mut().enumerate() {
                if !whole && !segment.fetching && segment.fetched_at.is_none() {
                    segment.fetching = true;
                    actions.push(Action::Fetch {
                        idx,
                        segment: Some(index as u32),
                        audio_url: segment.audio_url.clone(),
                    });
                }
            }
        }
    }

    /// When nothing plays, starts the cursor block if its sound is ready (or, inside a block,
    /// its next segment or the rest of it).
    fn start_if_ready(&mut self, now: Duration, actions: &mut Vec<Action>) {
        if self.playing.is_some() {
            return;
        }
        let was = self.pos;
        self.skip_unplayable();
        if self.pos != was {
            self.fill_window(now, actions);
        }
        self.fetch_near_cursor(actions);
        let Some(&idx) = self.order.get(self.pos) else {
            return;
        };
        let Some(block) = self.blocks.get(&idx) else {
            return;
        };
        let Some(piece) = next_piece(block, self.inside) else {
            return;
        };
        let ready = piece.ready;
        let start = match self.stalled_since.take() {
            // Ready before the previous block ended: it plays straight on, no stall.
            Some(ended) if ready <= ended => ended,
            Some(ended) => {
                self.outcome.stalls += 1;
                self.outcome.stall_s += ready.saturating_sub(ended).as_secs_f64();
                ready
            }
            None => {
                self.outcome
                    .first_sound_s
                    .get_or_insert_with(|| ready.saturating_sub(self.arrival).as_secs_f64());
                ready
            }
        };
        if self.inside.is_none() {
            self.outcome.played_blocks += 1;
        }
        self.inside = None;
        self.playing = Some(Playing {
            until: start + piece.duration,
            segment: piece.segment,
            heard: piece.heard,
        });
        self.fetch_near_cursor(actions);
        // A piece shorter than the time since it could start has already ended.
        if start + piece.duration <= now {
            actions.extend(self.on_tick(now));
        }
    }
}

/// What of a block can play next and from when.
struct Piece {
    /// When its sound could start: downloaded.
    ready: Duration,
    duration: Duration,
    segment: Option<usize>,
    /// How much of the block is heard once it ends.
    heard: Duration,
}

/// The one place that defines "first sound" and "ready in time": the player plays what it has
/// downloaded. At a block's start (`inside` is `None`) the whole block once downloaded, else its
/// first segment; inside a block its next segment, else the rest of the whole block.
fn next_piece(block: &Block, inside: Option<Inside>) -> Option<Piece> {
    let whole = (block.state == State::Cached)
        .then_some(block.fetched_at)
        .flatten();
    let (next, heard) = inside.map_or((0, Duration::ZERO), |i| (i.next_segment, i.heard));
    let segment = block
        .segments
        .get(next)
        .and_then(|s| Some((s, s.fetched_at?)));
    match (whole, segment) {
        (Some(ready), _) if inside.is_none() => Some(Piece {
            ready,
            duration: block.duration,
            segment: None,
            heard: block.duration,
        }),
        (_, Some((s, ready))) => Some(Piece {
            ready,
            duration: s.duration,
            segment: Some(next),
            heard: heard + s.duration,
        }),
        (Some(ready), None) => Some(Piece {
            ready,
            duration: block.duration.saturating_sub(heard),
            segment: None,
            heard: block.duration,
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(seconds: f64) -> Duration {
        Duration::from_secs_f64(seconds)
    }

    fn cached(idx: u32, seconds: f64) -> Frame<'static> {
        Frame::Status {
            idx,
            status: "cached",
            audio_url: Some("/v1/audio/x"),
            duration_ms: Some((seconds * 1000.0) as u64),
            error: None,
        }
    }

    fn status(idx: u32, status: &'static str) -> Frame<'static> {
        Frame::Status {
            idx,
            status,
            audio_url: None,
            duration_ms: None,
            error: None,
        }
    }

    fn sends(actions: &[Action]) -> Vec<(Vec<u32>, u32)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { indices, cursor } => Some((indices.clone(), *cursor)),
                Action::Fetch { .. } => None,
            })
            .collect()
    }

    fn fetches(actions: &[Action]) -> Vec<u32> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Fetch { idx, .. } => Some(*idx),
                Action::Send { .. } => None,
            })
            .collect()
    }

    /// Blocks 0..20, all speakable, arrival at 1 s, whole blocks only.
    fn reader() -> Reader {
        Reader::new((0..20).collect(), 8, Playback::Whole, s(1.0))
    }

    /// The same, playing as the web player does by default: segments, head first.
    fn segmented() -> Reader {
        Reader::new((0..20).collect(), 8, Playback::Segments, s(1.0))
    }

    fn segment(idx: u32, index: u32, seconds: f64, last: bool) -> Frame<'static> {
        Frame::Segment {
            idx,
            index,
            duration_ms: (seconds * 1000.0) as u64,
            last,
            audio_url: "/v1/audio/x/segments/0",
        }
    }

    fn segment_fetches(actions: &[Action]) -> Vec<(u32, Option<u32>)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Fetch { idx, segment, .. } => Some((*idx, *segment)),
                Action::Send { .. } => None,
            })
            .collect()
    }

    #[test]
    fn head_first_asks_for_the_first_block_alone_until_it_is_whole() {
        let mut r = segmented();
        assert_eq!(sends(&r.start(s(1.0))), [(vec![0], 0)]);
        assert_eq!(sends(&r.on_frame(status(0, "processing"), s(1.2))), []);
        let actions = r.on_frame(cached(0, 5.0), s(4.0));
        assert_eq!(sends(&actions), [((1..9).collect(), 0)], "then the window");
    }

    #[test]
    fn first_sound_is_the_first_segment_downloaded() {
        let mut r = segmented();
        r.start(s(1.0));
        let actions = r.on_frame(segment(0, 0, 2.0, false), s(2.0));
        assert_eq!(segment_fetches(&actions), [(0, Some(0))]);
        r.on_fetched(0, Some(0), true, s(2.2));
        assert_eq!(r.next_deadline(), Some(s(4.2)), "segment 0 plays for 2 s");
        // Segment 1 comes while segment 0 plays: it follows without a stall.
        r.on_frame(segment(0, 1, 3.0, true), s(3.0));
        r.on_fetched(0, Some(1), true, s(3.1));
        r.on_tick(s(4.2));
        assert_eq!(r.next_deadline(), Some(s(7.2)));
        let outcome = r.finish(s(5.0));
        assert_eq!(outcome.first_sound_s, Some(1.2));
        assert_eq!((outcome.stalls, outcome.played_blocks), (0, 1));
        assert!(outcome.served());
    }

    #[test]
    fn a_segment_late_for_its_turn_is_a_stall() {
        let mut r = segmented();
        r.start(s(1.0));
        r.on_frame(segment(0, 0, 1.0, false), s(2.0));
        r.on_fetched(0, Some(0), true, s(2.0));
        r.on_tick(s(3.0));
        assert_eq!(r.next_deadline(), None, "waiting for segment 1");
        r.on_frame(segment(0, 1, 2.0, true), s(3.5));
        r.on_fetched(0, Some(1), true, s(3.6));
        assert_eq!(r.next_deadline(), Some(s(5.6)));
        let outcome = r.finish(s(4.0));
        assert_eq!(outcome.stalls, 1);
        assert!((outcome.stall_s - 0.6).abs() < 1e-9);
        assert_eq!(outcome.played_blocks, 1, "one block, heard in two pieces");
        assert!(!outcome.served());
    }

    #[test]
    fn a_block_that_turns_whole_mid_play_goes_on_from_where_its_segments_ended() {
        let mut r = segmented();
        r.start(s(1.0));
        r.on_frame(segment(0, 0, 1.0, false), s(2.0));
        r.on_fetched(0, Some(0), true, s(2.0));
        // The block is whole (4 s in all) before segment 1 is told: the rest plays from it.
        let actions = r.on_frame(cached(0, 4.0), s(2.5));
        assert_eq!(segment_fetches(&actions), [(0, None)]);
        r.on_fetched(0, None, true, s(2.6));
        r.on_tick(s(3.0));
        assert_eq!(r.next_deadline(), Some(s(6.0)), "the 3 s not yet heard");
        let outcome = r.finish(s(3.5));
        assert_eq!((outcome.stalls, outcome.played_blocks), (0, 1));
    }

    #[test]
    fn a_whole_block_plays_whole_and_segments_of_others_are_preloaded() {
        let mut r = segmented();
        r.start(s(1.0));
        r.on_frame(cached(0, 5.0), s(3.0));
        r.on_fetched(0, None, true, s(3.0));
        // Block 1 renders while block 0 plays: its first segment is downloaded ahead.
        let actions = r.on_frame(segment(1, 0, 2.0, false), s(4.0));
        assert_eq!(segment_fetches(&actions), [(1, Some(0))]);
        r.on_fetched(1, Some(0), true, s(4.1));
        r.on_tick(s(8.0));
        assert_eq!(
            r.next_deadline(),
            Some(s(10.0)),
            "block 1's first segment at once"
        );
        let outcome = r.finish(s(9.0));
        assert_eq!((outcome.stalls, outcome.played_blocks), (0, 2));
    }

    #[test]
    fn a_block_whole_before_its_turn_is_downloaded_whole_not_by_segment() {
        let mut r = segmented();
        r.start(s(1.0));
        r.on_frame(cached(0, 5.0), s(2.0));
        r.on_fetched(0, None, true, s(2.0));
        // Block 2 (not yet near the cursor) renders and turns whole before block 1 ends.
        assert_eq!(r.on_frame(segment(2, 0, 1.0, false), s(2.5)), []);
        r.on_frame(cached(2, 3.0), s(3.0));
        r.on_frame(cached(1, 2.0), s(3.5));
        r.on_fetched(1, None, true, s(3.6));
        let actions = r.on_tick(s(7.0));
        assert_eq!(
            segment_fetches(&actions),
            [(2, None)],
            "the whole block only"
        );
    }

    #[test]
    fn whole_playback_ignores_segments() {
        let mut r = reader();
        r.start(s(1.0));
        assert_eq!(r.on_frame(segment(0, 0, 2.0, false), s(2.0)), []);
        assert_eq!(r.finish(s(3.0)).first_sound_s, None);
    }

    #[test]
    fn asks_for_the_cursor_block_and_eight_ahead() {
        let mut r = reader();
        assert_eq!(sends(&r.start(s(1.0))), [((0..9).collect(), 0)]);
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn first_sound_is_when_the_first_block_is_cached_and_downloaded() {
        let mut r = reader();
        r.start(s(1.0));
        r.on_frame(status(0, "queued"), s(1.1));
        r.on_frame(status(0, "processing"), s(1.2));
        assert_eq!(fetches(&r.on_frame(cached(0, 5.0), s(3.0))), [0]);
        assert_eq!(r.on_fetched(0, None, true, s(3.5)), []);
        assert_eq!(r.next_deadline(), Some(s(8.5)));
        let outcome = r.finish(s(4.0));
        assert_eq!(outcome.first_sound_s, Some(2.5));
        assert_eq!(outcome.latencies_s, [2.0]);
        assert_eq!(outcome.synthesized[0].started_s, 1.2);
        assert_eq!(outcome.synthesized[0].audio_s, 5.0);
        assert!(outcome.served());
    }

    #[test]
    fn the_next_block_ready_in_time_plays_on_without_a_stall() {
        let mut r = reader();
        r.start(s(1.0));
        r.on_frame(cached(0, 5.0), s(2.0));
        r.on_fetched(0, None, true, s(2.0));
        // Block 1 is cached while block 0 plays: preloaded at once.
        assert_eq!(fetches(&r.on_frame(cached(1, 4.0), s(4.0))), [1]);
        r.on_fetched(1, None, true, s(4.1));
        // Block 0 ends at 7 s; the timer fires late, at 7.2 s: still no stall.
        let actions = r.on_tick(s(7.2));
        assert_eq!(sends(&actions), [(vec![9], 1)], "the window moves on");
        assert_eq!(r.next_deadline(), Some(s(11.0)), "block 1 from 7 s for 4 s");
        let outcome = r.finish(s(8.0));
        assert_eq!((outcome.stalls, outcome.played_blocks), (0, 2));
        assert!(outcome.served());
    }

    #[test]
    fn a_block_not_ready_when_the_last_ends_is_a_stall_timed_until_it_is() {
        let mut r = reader();
        r.start(s(1.0));
        r.on_frame(cached(0, 3.0), s(2.0));
        r.on_fetched(0, None, true, s(2.0));
        r.on_tick(s(5.0));
        assert_eq!(r.next_deadline(), None, "waiting for block 1");
        r.on_frame(cached(1, 3.0), s(6.0));
        r.on_fetched(1, None, true, s(6.5));
        assert_eq!(r.next_deadline(), Some(s(9.5)));
        let outcome = r.finish(s(7.0));
        assert_eq!(outcome.stalls, 1);
        assert!((outcome.stall_s - 1.5).abs() < 1e-9);
        assert!(!outcome.served());
    }

    #[test]
    fn a_stall_still_running_when_the_session_ends_counts() {
        let mut r = reader();
        r.start(s(1.0));
        r.on_frame(cached(0, 3.0), s(2.0));
        r.on_fetched(0, None, true, s(2.0));
        r.on_tick(s(5.0));
        let outcome = r.finish(s(9.0));
        assert_eq!((outcome.stalls, outcome.stall_s), (1, 4.0));
        assert!(!outcome.served(), "block 1 never came");
    }

    #[test]
    fn no_sound_within_the_session_is_not_served() {
        let mut r = reader();
        r.start(s(1.0));
        let outcome = r.finish(s(30.0));
        assert_eq!(outcome.first_sound_s, None);
        assert!(!outcome.served());
    }

    #[test]
    fn a_refusal_is_reported_and_the_window_asked_again_after_five_seconds() {
        let mut r = reader();
        r.start(s(1.0));
        r.on_frame(status(0, "queued"), s(1.1));
        r.on_frame(Frame::Refused("too many queued blocks"), s(1.2));
        assert_eq!(r.next_deadline(), Some(s(6.2)));
        assert_eq!(sends(&r.on_tick(s(6.2))), [((1..9).collect(), 0)]);
        // A second refusal doubles the wait.
        r.on_frame(Frame::Refused("too many queued blocks"), s(6.3));
        assert_eq!(r.next_deadline(), Some(s(16.3)));
        let outcome = r.finish(s(7.0));
        assert_eq!(outcome.refusals, 2);
        assert_eq!(
            outcome.first_refusal.as_deref(),
            Some("too many queued blocks")
        );
        assert!(!outcome.served());
    }

    #[test]
    fn skipped_and_failed_blocks_leave_the_window_and_are_passed_over() {
        let mut r = reader();
        r.start(s(1.0));
        assert_eq!(
            sends(&r.on_frame(status(1, "skipped"), s(1.5))),
            [(vec![9], 0)]
        );
        r.on_frame(cached(0, 2.0), s(2.0));
        r.on_fetched(0, None, true, s(2.0));
        let error = Frame::Status {
            idx: 2,
            status: "error",
            audio_url: None,
            duration_ms: None,
            error: Some("quota exceeded"),
        };
        assert_eq!(sends(&r.on_frame(error, s(2.5))), [(vec![10], 0)]);
        // Block 3 is the next playable one (1 and 2 will never play), so it is preloaded.
        assert_eq!(fetches(&r.on_frame(cached(3, 2.0), s(3.0))), [3]);
        r.on_tick(s(4.0));
        r.on_fetched(3, None, true, s(4.2));
        let outcome = r.finish(s(5.0));
        assert_eq!(outcome.block_errors, 1);
        assert_eq!(outcome.played_blocks, 2);
        assert_eq!(outcome.stalls, 1);
    }

    #[test]
    fn evicted_blocks_are_asked_for_again() {
        let mut r = reader();
        r.start(s(1.0));
        assert_eq!(
            sends(&r.on_frame(Frame::Evicted(&[7, 8]), s(2.0))),
            [(vec![7, 8], 0)]
        );
    }

    #[test]
    fn unknown_statuses_and_statuses_for_other_blocks_change_nothing() {
        let mut r = reader();
        r.start(s(1.0));
        assert_eq!(r.on_frame(status(0, "waiting_for_worker"), s(1.5)), []);
        assert_eq!(r.on_frame(cached(15, 3.0), s(1.6)), []);
        let outcome = r.finish(s(2.0));
        assert!(outcome.latencies_s.is_empty());
    }
}
