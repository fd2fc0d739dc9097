//! Which load level comes next in a run, until the saturation point is bracketed.
//!
//! A level is a number of listeners. The first is one listener; its throughput (audio seconds
//! per wall second, with the prefetch window keeping every replica busy) predicts how many
//! listeners at 1× the stack can feed, so the second level jumps there instead of climbing from
//! one. From then on: up by a quarter (at least one) while no listener stalls, and once a level
//! has stalled, bisection between the largest clean level below it and it, until the two are
//! neighbours. The saturation point is that largest clean level.
//!
//! A later run of the same configuration starts where the earlier ones found the edge: at their
//! saturation point, then on as above. The edge is measured again in every run; only the climb
//! to it is skipped.

use std::collections::BTreeMap;

pub struct Ramp {
    max_listeners: usize,
    /// Listeners → whether every one of them was served without a stall.
    levels: BTreeMap<usize, bool>,
    predicted: Option<usize>,
    start: usize,
}

impl Ramp {
    pub fn new(max_listeners: usize) -> Self {
        Self::starting_at(max_listeners, 1)
    }

    /// A ramp whose first level is `start` listeners (an earlier run's saturation point).
    pub fn starting_at(max_listeners: usize, start: usize) -> Self {
        let max_listeners = max_listeners.max(1);
        Self {
            max_listeners,
            levels: BTreeMap::new(),
            predicted: None,
            start: start.clamp(1, max_listeners),
        }
    }

    /// Records a level's outcome; the first level's throughput predicts the second level.
    pub fn record(&mut self, listeners: usize, clean: bool, throughput: f64) {
        if self.levels.is_empty() && listeners == 1 && clean && throughput.is_finite() {
            self.predicted = Some((throughput.floor() as usize).max(2));
        }
        self.levels.insert(listeners, clean);
    }

    /// The smallest level that stalled.
    fn first_stalled(&self) -> Option<usize> {
        self.levels
            .iter()
            .find(|(_, clean)| !**clean)
            .map(|(&n, _)| n)
    }

    /// The saturation point: the largest clean level below the first stalled one (0 when even
    /// one listener stalled), and whether a stalled level bounds it from above.
    pub fn saturation(&self) -> (usize, bool) {
        let stalled = self.first_stalled();
        let clean = self
            .levels
            .iter()
            .filter(|(n, clean)| **clean && stalled.is_none_or(|s| **n < s))
            .map(|(&n, _)| n)
            .max()
            .unwrap_or(0);
        (clean, stalled.is_some())
    }

    /// The next level to run, or `None` when the saturation point is bracketed (or the cap is
    /// reached clean).
    pub fn next(&self) -> Option<usize> {
        if self.levels.is_empty() {
            return Some(self.start);
        }
        let (clean, bounded) = self.saturation();
        let next = if bounded {
            let stalled = self.first_stalled()?;
            if stalled <= clean + 1 {
                return None;
            }
            (clean + stalled) / 2
        } else if let (1, Some(predicted)) = (self.levels.len(), self.predicted) {
            predicted
        } else {
            clean + (clean / 4).max(1)
        };
        let next = next.min(self.max_listeners);
        (!self.levels.contains_key(&next)).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the ramp against a stack that serves `capacity` listeners, with the given first
    /// throughput; returns the levels in the order run and the saturation found.
    fn drive(capacity: usize, throughput: f64, max: usize) -> (Vec<usize>, (usize, bool)) {
        let mut ramp = Ramp::new(max);
        let mut order = Vec::new();
        while let Some(n) = ramp.next() {
            assert!(order.len() < 20, "the ramp never ended: {order:?}");
            order.push(n);
            ramp.record(n, n <= capacity, throughput);
        }
        (order, ramp.saturation())
    }

    #[test]
    fn jumps_to_the_predicted_level_and_brackets_it() {
        assert_eq!(drive(3, 3.4, 64), (vec![1, 3, 4], (3, true)));
        assert_eq!(drive(2, 3.4, 64), (vec![1, 3, 2], (2, true)));
        assert_eq!(drive(4, 3.4, 64), (vec![1, 3, 4, 5], (4, true)));
    }

    #[test]
    fn big_machines_climb_by_quarters_then_bisect() {
        let (order, saturation) = drive(37, 24.0, 200);
        assert_eq!(saturation, (37, true));
        assert_eq!(&order[..4], &[1, 24, 30, 37]);
        assert!(order.len() <= 8, "{order:?}");
    }

    #[test]
    fn a_later_run_starts_at_the_edge_an_earlier_one_found() {
        let run = |capacity: usize| {
            let mut ramp = Ramp::starting_at(64, 3);
            let mut order = Vec::new();
            while let Some(n) = ramp.next() {
                order.push(n);
                ramp.record(n, n <= capacity, 3.0);
            }
            (order, ramp.saturation().0)
        };
        assert_eq!(run(3), (vec![3, 4], 3));
        assert_eq!(run(4), (vec![3, 4, 5], 4));
        assert_eq!(run(2), (vec![3, 1, 2], 2));
    }

    #[test]
    fn one_stalled_listener_is_saturation_zero() {
        assert_eq!(drive(0, 0.5, 64), (vec![1], (0, true)));
    }

    #[test]
    fn stops_clean_at_the_cap() {
        assert_eq!(drive(100, 10.0, 12), (vec![1, 10, 12], (12, false)));
    }

    #[test]
    fn a_noisy_stall_below_a_clean_level_bounds_the_saturation() {
        let mut ramp = Ramp::new(64);
        ramp.record(1, true, 3.0);
        ramp.record(3, true, 3.0);
        ramp.record(4, false, 3.0);
        ramp.record(2, false, 3.0);
        assert_eq!(ramp.saturation(), (1, true));
        assert_eq!(ramp.next(), None);
    }
}
