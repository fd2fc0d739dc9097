//! What a listener waits for. [`Pending`]: one wait for one audio (variant hash) and what an
//! event about that audio does to it, and [`WaitClock`]: how long it may last, both shared by
//! the socket (per block) and the speech endpoint (per piece). [`Waits`]: the blocks one socket
//! asked for and the audio each waits on, kept consistent in both directions. Plain state with
//! no I/O, so the listener's task drives it and the tests below check it alone.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use tokio::time::Instant;
use uuid::Uuid;

use crate::synthesis::EventKind;

/// A block of a document: the document and the block's index.
pub type BlockKey = (Uuid, i64);

/// How often a listener waiting on something the gateway cannot fix (no worker, no Redis) hears
/// about it again, so that no wait is a silence of more than a few seconds.
pub const RETELL: Duration = Duration::from_secs(3);

/// The bounds of one wait: `queue` in the queue (`QUEUE_WAIT_MAX_SECS`), `render` once a worker
/// renders it (`SYNTHESIS_TIMEOUT_SECS`).
#[derive(Debug, Clone, Copy)]
pub struct WaitLimits {
    pub queue: Duration,
    pub render: Duration,
}

impl WaitLimits {
    pub fn from_config(config: &crate::config::GatewayConfig) -> Self {
        Self {
            queue: Duration::from_secs(config.queue_wait_max_secs),
            render: Duration::from_secs(config.synthesis_timeout_secs),
        }
    }
}

/// How long one wait may last. Queued, it may wait up to the queue bound; once a worker takes
/// it, the synthesis timeout counts from then, not from the request: a backlog delays a wait but
/// is not the synthesis's fault. A job whose worker went away waits in the queue again.
#[derive(Debug, Clone, Copy)]
pub struct WaitClock {
    limits: WaitLimits,
    /// Once a worker renders it: when the synthesis timeout runs out.
    rendering_until: Option<Instant>,
    queued_until: Instant,
}

impl WaitClock {
    /// A wait starting `now`, on a job already `rendering` or still queued.
    pub fn new(limits: WaitLimits, now: Instant, rendering: bool) -> Self {
        Self {
            limits,
            rendering_until: rendering.then(|| now + limits.render),
            queued_until: now + limits.queue,
        }
    }

    /// A worker took the job (`processing`): the synthesis timeout counts from `now` (a job
    /// taken again after its lease ran out starts afresh).
    pub fn rendering(&mut self, now: Instant) {
        self.rendering_until = Some(now + self.limits.render);
    }

    /// The job's worker went away and it waits in the queue again, under the queue bound anew.
    pub fn requeued(&mut self, now: Instant) {
        self.rendering_until = None;
        self.queued_until = now + self.limits.queue;
    }

    pub fn is_rendering(&self) -> bool {
        self.rendering_until.is_some()
    }

    /// When the wait is over unless the audio comes first.
    pub fn ends_at(&self) -> Instant {
        self.rendering_until.unwrap_or(self.queued_until)
    }

    pub fn is_over(&self, now: Instant) -> bool {
        self.ends_at() <= now
    }

    /// What a listener whose wait is over reads; `what` names the thing waited for ("this
    /// passage", "the request").
    pub fn why_over(&self, what: &str) -> String {
        if self.is_rendering() {
            format!(
                "synthesis did not finish within {} s; try again",
                self.limits.render.as_secs()
            )
        } else {
            format!(
                "no worker took {what} within {} s; try again",
                self.limits.queue.as_secs()
            )
        }
    }
}

/// One wait for one audio: a block a socket waits for, or a piece of a speech request.
#[derive(Debug, Clone)]
pub struct Pending {
    pub hash: String,
    pub model: String,
    pub voice: String,
    pub speed: f32,
    pub sample_rate: u32,
    /// How long it may still wait.
    pub clock: WaitClock,
    /// The place in the queue the listener was last told.
    pub ahead: Option<u64>,
    /// When the listener was last told that no live worker serves the voice.
    pub told_no_worker: Option<Instant>,
    /// When the listener was last told that the queue (Redis) is unreachable.
    pub told_unreachable: Option<Instant>,
}

/// What an event about its audio did to a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// A worker took it: the synthesis timeout counts from now.
    Rendering,
    /// Its worker went away: it waits in the queue again, under the queue bound anew.
    Requeued,
    /// The wait is over: cached, given up on, or unspeakable.
    Over,
    /// Nothing that changes the wait (a segment, another job queued).
    Nothing,
}

impl Pending {
    /// A wait starting with `clock`, told nothing yet.
    pub fn new(
        hash: &str,
        model: &str,
        voice: &str,
        speed: f32,
        sample_rate: u32,
        clock: WaitClock,
    ) -> Self {
        Self {
            hash: hash.to_string(),
            model: model.to_string(),
            voice: voice.to_string(),
            speed,
            sample_rate,
            clock,
            ahead: None,
            told_no_worker: None,
            told_unreachable: None,
        }
    }

    /// Moves the wait on by an event about its audio heard `now`. A listener told a place or
    /// "no worker" before is told again once the job waits anew.
    pub fn hear(&mut self, kind: &EventKind, now: Instant) -> Heard {
        match kind {
            EventKind::Processing => {
                self.clock.rendering(now);
                self.ahead = None;
                Heard::Rendering
            }
            EventKind::Requeued => {
                self.clock.requeued(now);
                self.ahead = None;
                self.told_no_worker = None;
                Heard::Requeued
            }
            EventKind::Cached { .. } | EventKind::Error { .. } | EventKind::Unspeakable { .. } => {
                Heard::Over
            }
            EventKind::Enqueued { .. } | EventKind::Segment(_) => Heard::Nothing,
        }
    }

    /// Whether to tell the listener its place `ahead` in the queue: only when it changed.
    pub fn tell_place(&mut self, ahead: u64) -> bool {
        let tell = self.ahead != Some(ahead);
        self.ahead = Some(ahead);
        tell
    }

    /// Whether to tell the listener, `now`, that no live worker serves its voice (`served`
    /// false): at once, then every `RETELL`, so that a long outage is not a silence. Its place
    /// is told again once a worker is back.
    pub fn tell_no_worker(&mut self, served: bool, now: Instant) -> bool {
        if served {
            self.told_no_worker = None;
            return false;
        }
        self.ahead = None;
        let tell = self.told_no_worker.is_none_or(|at| now - at >= RETELL);
        if tell {
            self.told_no_worker = Some(now);
        }
        tell
    }

    /// Whether to tell the listener, `now`, that the queue is unreachable (`reachable` false):
    /// at once, then every `RETELL`.
    pub fn tell_unreachable(&mut self, reachable: bool, now: Instant) -> bool {
        if reachable {
            self.told_unreachable = None;
            return false;
        }
        if self.told_unreachable.is_some_and(|at| now - at < RETELL) {
            return false;
        }
        self.told_unreachable = Some(now);
        true
    }
}

/// A block no longer waited for.
#[derive(Debug)]
pub struct Forgotten {
    pub pending: Pending,
    /// No other block of this socket waits for the same audio: the socket may stop listening
    /// for it and tell the queue.
    pub last_for_hash: bool,
}

/// The blocks one socket waits for, by block and by the audio they wait on.
#[derive(Debug, Default)]
pub struct Waits {
    pending: HashMap<BlockKey, Pending>,
    by_hash: HashMap<String, HashSet<BlockKey>>,
}

impl Waits {
    /// Waits for a block (again: a block tracked anew replaces its old wait).
    pub fn track(&mut self, key: BlockKey, pending: Pending) {
        self.forget(key);
        self.by_hash
            .entry(pending.hash.clone())
            .or_default()
            .insert(key);
        self.pending.insert(key, pending);
    }

    /// Stops waiting for a block; `None` when it was not waited for.
    pub fn forget(&mut self, key: BlockKey) -> Option<Forgotten> {
        let pending = self.pending.remove(&key)?;
        let last_for_hash = match self.by_hash.get_mut(&pending.hash) {
            Some(keys) => {
                keys.remove(&key);
                keys.is_empty()
            }
            None => true,
        };
        if last_for_hash {
            self.by_hash.remove(&pending.hash);
        }
        Some(Forgotten {
            pending,
            last_for_hash,
        })
    }

    pub fn get(&self, key: &BlockKey) -> Option<&Pending> {
        self.pending.get(key)
    }

    pub fn get_mut(&mut self, key: &BlockKey) -> Option<&mut Pending> {
        self.pending.get_mut(key)
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn keys(&self) -> Vec<BlockKey> {
        self.pending.keys().copied().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&BlockKey, &Pending)> {
        self.pending.iter()
    }

    /// The blocks waiting on `hash`, in order (by document, then index).
    pub fn keys_for(&self, hash: &str) -> Vec<BlockKey> {
        let mut keys: Vec<BlockKey> = self
            .by_hash
            .get(hash)
            .map(|keys| keys.iter().copied().collect())
            .unwrap_or_default();
        keys.sort_unstable();
        keys
    }

    /// Every audio some block waits on.
    pub fn hashes(&self) -> Vec<String> {
        self.by_hash.keys().cloned().collect()
    }

    /// Whether at most one block of this socket waits on `hash`.
    pub fn is_last_for(&self, hash: &str) -> bool {
        self.by_hash.get(hash).is_none_or(|keys| keys.len() <= 1)
    }

    /// The blocks of `document` outside `from..=to`.
    pub fn outside(&self, document: Uuid, from: i64, to: i64) -> Vec<BlockKey> {
        let mut keys: Vec<BlockKey> = self
            .pending
            .keys()
            .filter(|(doc, idx)| *doc == document && (*idx < from || *idx > to))
            .copied()
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Blocks past their deadline at `now`: rendered too long, or queued too long.
    pub fn expired(&self, now: Instant) -> Vec<BlockKey> {
        let mut keys: Vec<BlockKey> = self
            .pending
            .iter()
            .filter(|(_, p)| p.clock.is_over(now))
            .map(|(k, _)| *k)
            .collect();
        keys.sort_unstable();
        keys
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const LIMITS: WaitLimits = WaitLimits {
        queue: Duration::from_secs(60),
        render: Duration::from_secs(20),
    };

    fn pending(hash: &str, now: Instant) -> Pending {
        let clock = WaitClock::new(LIMITS, now, false);
        Pending::new(hash, "kokoro", "af_heart", 1.0, 24_000, clock)
    }

    #[test]
    fn a_wait_on_no_worker_or_no_redis_is_retold_every_few_seconds_and_a_place_when_it_moves() {
        let now = Instant::now();
        let later = |d: Duration| now + d;
        let mut wait = pending("h", now);
        assert!(wait.tell_place(4));
        assert!(!wait.tell_place(4), "the same place is told once");
        assert!(wait.tell_place(2));
        // The worker goes away: told at once, not again within RETELL, then again.
        assert!(wait.tell_no_worker(false, now));
        assert_eq!(wait.ahead, None);
        assert!(!wait.tell_no_worker(false, later(RETELL / 2)));
        assert!(wait.tell_no_worker(false, later(RETELL)));
        // It is back: nothing to tell, and the place is told anew.
        assert!(!wait.tell_no_worker(true, later(RETELL * 2)));
        assert!(wait.tell_place(2));
        assert!(
            wait.tell_no_worker(false, later(RETELL * 2)),
            "a new outage at once"
        );
        // Redis likewise.
        assert!(wait.tell_unreachable(false, now));
        assert!(!wait.tell_unreachable(false, later(RETELL / 2)));
        assert!(wait.tell_unreachable(false, later(RETELL)));
        assert!(!wait.tell_unreachable(true, later(RETELL)));
        assert!(
            wait.tell_unreachable(false, later(RETELL)),
            "reachable again resets it"
        );
    }

    #[test]
    fn events_move_a_wait_from_the_queue_to_a_worker_and_back_and_end_it() {
        let now = Instant::now();
        let at = |secs| now + Duration::from_secs(secs);
        let mut wait = pending("h", now);
        wait.ahead = Some(3);
        wait.told_no_worker = Some(now);
        assert_eq!(
            wait.hear(
                &EventKind::Enqueued {
                    model: "kokoro".into()
                },
                at(1)
            ),
            Heard::Nothing
        );
        assert_eq!(
            wait.ahead,
            Some(3),
            "a job queued elsewhere changes nothing"
        );
        assert_eq!(wait.hear(&EventKind::Processing, at(10)), Heard::Rendering);
        assert_eq!(wait.ahead, None, "no place in the queue while rendered");
        assert_eq!(wait.clock.ends_at(), at(30));
        // Taken again after its lease ran out: the synthesis timeout starts afresh.
        wait.hear(&EventKind::Processing, at(25));
        assert_eq!(wait.clock.ends_at(), at(45));
        assert_eq!(wait.hear(&EventKind::Requeued, at(40)), Heard::Requeued);
        assert!(!wait.clock.is_rendering());
        assert_eq!(wait.clock.ends_at(), at(100));
        assert_eq!(wait.told_no_worker, None, "told again if no worker is back");
        for end in [
            EventKind::Cached { duration_ms: 900 },
            EventKind::Error {
                error: "boom".into(),
            },
            EventKind::Unspeakable {
                reason: "only emoji".into(),
            },
        ] {
            assert_eq!(wait.clone().hear(&end, at(41)), Heard::Over);
        }
    }

    #[test]
    fn two_blocks_with_the_same_audio_let_it_go_only_with_the_second() {
        let (doc, now) = (Uuid::new_v4(), Instant::now());
        let mut waits = Waits::default();
        // The same sentence twice in one document: one audio.
        waits.track((doc, 2), pending("h", now));
        waits.track((doc, 7), pending("h", now));
        waits.track((doc, 3), pending("other", now));
        assert_eq!(waits.keys_for("h"), [(doc, 2), (doc, 7)]);
        assert!(!waits.is_last_for("h"));
        let first = waits.forget((doc, 7)).unwrap();
        assert!(!first.last_for_hash, "block 2 still waits on it");
        assert!(waits.is_last_for("h"));
        let second = waits.forget((doc, 2)).unwrap();
        assert!(second.last_for_hash);
        assert_eq!(second.pending.hash, "h");
        assert!(waits.keys_for("h").is_empty());
        assert_eq!(waits.hashes(), ["other"]);
        assert!(waits.forget((doc, 2)).is_none(), "forgotten once");
        assert_eq!(waits.len(), 1);
    }

    #[test]
    fn a_block_tracked_again_waits_on_its_new_audio_only() {
        let (doc, now) = (Uuid::new_v4(), Instant::now());
        let mut waits = Waits::default();
        waits.track((doc, 0), pending("old voice", now));
        waits.track((doc, 0), pending("new voice", now));
        assert!(waits.keys_for("old voice").is_empty());
        assert_eq!(waits.keys_for("new voice"), [(doc, 0)]);
        assert_eq!(waits.len(), 1);
    }

    #[test]
    fn the_window_and_the_deadlines_pick_their_blocks() {
        let (doc, other, now) = (Uuid::new_v4(), Uuid::new_v4(), Instant::now());
        let mut waits = Waits::default();
        for idx in [0, 4, 5, 9] {
            waits.track((doc, idx), pending(&format!("h{idx}"), now));
        }
        waits.track((other, 0), pending("o", now));
        assert_eq!(waits.outside(doc, 4, 8), [(doc, 0), (doc, 9)]);
        assert!(waits.outside(other, 0, 0).is_empty());

        assert!(waits.expired(now).is_empty());
        // Block 5 is taken by a worker 10 s in: its synthesis timeout runs out at 30 s, while
        // the queued ones wait until 60 s.
        waits
            .get_mut(&(doc, 5))
            .unwrap()
            .clock
            .rendering(now + Duration::from_secs(10));
        assert_eq!(waits.expired(now + Duration::from_secs(30)), [(doc, 5)]);
        assert_eq!(waits.expired(now + Duration::from_secs(60)).len(), 5);
    }

    #[test]
    fn the_synthesis_timeout_counts_from_the_worker_and_a_requeue_starts_the_queue_bound_again() {
        let now = Instant::now();
        let at = |secs| now + Duration::from_secs(secs);
        let mut clock = WaitClock::new(LIMITS, now, false);
        assert_eq!(clock.ends_at(), at(60), "queued: the queue bound");
        assert!(
            clock
                .why_over("this passage")
                .starts_with("no worker took this passage within 60 s")
        );
        // A backlog of 50 s, then a worker: 20 s from then, not from the request.
        clock.rendering(at(50));
        assert_eq!(clock.ends_at(), at(70));
        assert!(clock.is_over(at(70)) && !clock.is_over(at(69)));
        assert_eq!(
            clock.why_over("this passage"),
            "synthesis did not finish within 20 s; try again"
        );
        // Its worker went away: queued again, under a fresh queue bound.
        clock.requeued(at(65));
        assert!(!clock.is_rendering());
        assert_eq!(clock.ends_at(), at(125));
        // Taken again at once when it starts rendering.
        assert!(WaitClock::new(LIMITS, now, true).is_rendering());
    }
}
