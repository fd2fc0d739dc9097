//! Which blocks a socket asks the queue for, and how soon: the window around the listener's
//! cursor (blocks outside it are evicted, not queued) and each block's queue tier. Plain policy
//! with no I/O, so the tests below check it alone.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::waits::Waits;
use crate::synthesis::{score, tier_for};

/// The window around a cursor and the socket's rank among its user's sockets.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Blocks kept before the cursor (`WS_WINDOW_BEHIND`).
    pub behind: i64,
    /// Blocks kept after it (`WS_WINDOW_AHEAD`).
    pub ahead: i64,
    /// How many of the user's sockets were open before this one.
    pub rank: u32,
}

/// The blocks of one `synthesize` message, split by the window.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// Inside the window, once each, in the message's order, with their position in it (a
    /// refused block leaves itself and those after it without a status).
    pub inside: Vec<(usize, i64)>,
    /// Outside it: told `evicted` at once.
    pub outside: Vec<i64>,
}

impl Window {
    pub fn from_config(config: &crate::config::GatewayConfig, rank: u32) -> Self {
        Self {
            behind: i64::from(config.ws_window_behind),
            ahead: i64::from(config.ws_window_ahead),
            rank,
        }
    }

    /// The first and last block kept around `cursor`.
    pub fn bounds(&self, cursor: i64) -> (i64, i64) {
        (cursor - self.behind, cursor + self.ahead)
    }

    pub fn contains(&self, cursor: i64, idx: i64) -> bool {
        let (from, to) = self.bounds(cursor);
        (from..=to).contains(&idx)
    }

    /// A block's queue tier: its distance from the cursor, behind the user's earlier sockets
    /// (one user's 24 sockets do not all go before another user's first block).
    pub fn tier(&self, idx: i64, cursor: i64) -> u32 {
        tier_for(idx, cursor).saturating_add(self.rank)
    }

    /// Splits the blocks a message names by the window around `cursor`, dropping repeats.
    pub fn split(&self, indices: &[i64], cursor: i64) -> Split {
        let mut split = Split::default();
        let mut seen = HashSet::new();
        for (i, &idx) in indices.iter().enumerate() {
            if !seen.insert(idx) {
                continue;
            }
            if self.contains(cursor, idx) {
                split.inside.push((i, idx));
            } else {
                split.outside.push(idx);
            }
        }
        split
    }

    /// After a seek to `cursor` in `document`: each waiting block's new score, by model, as
    /// `(score, hash)` for `Synthesis::reprioritize`.
    pub fn rescore(
        &self,
        waits: &Waits,
        document: Uuid,
        cursor: i64,
        now_ms: u64,
    ) -> HashMap<String, Vec<(f64, String)>> {
        let mut by_model: HashMap<String, Vec<(f64, String)>> = HashMap::new();
        for ((doc, idx), pending) in waits.iter() {
            if *doc == document {
                by_model
                    .entry(pending.model.clone())
                    .or_default()
                    .push((score(self.tier(*idx, cursor), now_ms), pending.hash.clone()));
            }
        }
        by_model
    }
}

/// Where a message's blocks are measured from: the cursor the socket knows for the document, or
/// else the first block the message names.
pub fn cursor_for(known: Option<i64>, indices: &[i64]) -> i64 {
    known.unwrap_or_else(|| indices.iter().copied().min().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;
    use crate::listen::waits::{Pending, WaitClock, WaitLimits};

    const WINDOW: Window = Window {
        behind: 2,
        ahead: 5,
        rank: 0,
    };

    #[test]
    fn blocks_outside_the_window_are_evicted_and_repeats_asked_once() {
        assert_eq!(WINDOW.bounds(10), (8, 15));
        let split = WINDOW.split(&[10, 7, 8, 15, 16, 10, 11], 10);
        assert_eq!(split.inside, [(0, 10), (2, 8), (3, 15), (6, 11)]);
        assert_eq!(split.outside, [7, 16]);
        assert_eq!(cursor_for(Some(4), &[9, 8]), 4);
        assert_eq!(cursor_for(None, &[9, 8]), 8, "the first block asked for");
    }

    #[test]
    fn a_later_socket_of_the_same_user_queues_behind_its_first() {
        let second = Window { rank: 1, ..WINDOW };
        assert_eq!(WINDOW.tier(10, 10), 0);
        assert_eq!(WINDOW.tier(12, 10), 2);
        assert_eq!(WINDOW.tier(8, 10), 2, "behind counts as far as ahead");
        assert_eq!(second.tier(10, 10), 1);
        assert!(score(WINDOW.tier(11, 10), 5) < score(second.tier(11, 10), 1));
    }

    #[test]
    fn after_a_seek_the_block_at_the_new_cursor_scores_first() {
        let (doc, other, now) = (Uuid::new_v4(), Uuid::new_v4(), Instant::now());
        let limits = WaitLimits {
            queue: Duration::from_secs(60),
            render: Duration::from_secs(20),
        };
        let pending = |hash: &str, model: &str| Pending {
            hash: hash.into(),
            model: model.into(),
            voice: "af_heart".into(),
            speed: 1.0,
            sample_rate: 24_000,
            clock: WaitClock::new(limits, now, false),
            ahead: None,
            told_no_worker: None,
            told_unreachable: None,
        };
        let mut waits = Waits::default();
        waits.track((doc, 0), pending("a", "kokoro"));
        waits.track((doc, 6), pending("b", "kokoro"));
        waits.track((doc, 7), pending("c", "other"));
        waits.track((other, 6), pending("d", "kokoro"));
        let by_model = WINDOW.rescore(&waits, doc, 6, 1_000);
        let mut kokoro = by_model["kokoro"].clone();
        kokoro.sort_by(|x, y| x.0.total_cmp(&y.0));
        assert_eq!(
            kokoro,
            [(score(0, 1_000), "b".into()), (score(6, 1_000), "a".into())],
            "the other document's blocks keep their scores"
        );
        assert_eq!(by_model["other"], [(score(1, 1_000), "c".to_string())]);
    }
}
