//! What a benchmark measured, kept whole (written as JSON after every run, so the report and
//! the plots can be made again without re-running), and the figures derived from it.

use serde::{Deserialize, Serialize};

use crate::{
    grid::Config,
    procs::CpuUse,
    ramp::Ramp,
    reader::{Outcome, Playback},
};

#[derive(Serialize, Deserialize)]
pub struct Results {
    /// Machine, commit, date, idleness: the report's header lines.
    pub header: Vec<String>,
    /// Cores of the machine the stack ran on.
    pub cores: u32,
    pub method: Method,
    pub runs: Vec<RunResult>,
    /// Runs skipped or cut short, and why.
    pub notes: Vec<String>,
}

/// How the load was made, for the report's notes.
#[derive(Serialize, Deserialize)]
pub struct Method {
    pub listen_s: f64,
    /// How the simulated player plays; results from before segments played whole blocks.
    #[serde(default = "whole_blocks")]
    pub playback: Playback,
    pub arrival_s: f64,
    pub prefetch_ahead: usize,
    pub paragraphs: usize,
    pub target: String,
    pub seed: u64,
}

#[derive(Serialize, Deserialize)]
pub struct RunResult {
    /// `None` for an existing deployment (`--url`), whose configuration is unknown here.
    pub config: Option<Config>,
    /// 1-based repeat.
    pub round: u32,
    pub levels: Vec<LevelResult>,
    /// Peak resident memory per watched process over the run, MiB.
    pub peak_rss_mib: Vec<(String, f64)>,
    /// Seconds the stack took to start (all replicas seen by the gateway).
    pub start_s: f64,
    pub seconds: f64,
    /// Why the run stopped early, if it did.
    pub error: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct LevelResult {
    pub listeners: usize,
    pub outcomes: Vec<Outcome>,
    pub seconds: f64,
    pub cpu: Vec<CpuUse>,
}

impl RunResult {
    pub fn label(&self) -> String {
        self.config
            .map_or_else(|| "deployment".into(), |c| c.to_string())
    }

    /// The run's saturation point (largest level with every listener served) and whether a
    /// stalled level bounds it from above, decided as the ramp decided it.
    pub fn saturation(&self) -> (usize, bool) {
        let mut ramp = Ramp::new(usize::MAX);
        for level in &self.levels {
            ramp.record(level.listeners, level.clean(), level.throughput());
        }
        ramp.saturation()
    }

    /// The highest throughput of any level: with the prefetch window keeping the replicas busy,
    /// what the stack can synthesize.
    pub fn throughput(&self) -> Option<f64> {
        self.levels
            .iter()
            .map(LevelResult::throughput)
            .filter(|t| t.is_finite())
            .max_by(f64::total_cmp)
    }

    pub fn level(&self, listeners: usize) -> Option<&LevelResult> {
        self.levels.iter().find(|l| l.listeners == listeners)
    }

    /// The level at the saturation point (the first level when even one listener stalled).
    pub fn operating_level(&self) -> Option<&LevelResult> {
        let (saturation, _) = self.saturation();
        self.level(saturation).or_else(|| self.levels.first())
    }

    /// The smallest level with a listener not served.
    pub fn first_stalled_level(&self) -> Option<&LevelResult> {
        self.levels
            .iter()
            .filter(|l| !l.clean())
            .min_by_key(|l| l.listeners)
    }

    /// Largest peak RSS among the Kokoro replicas.
    pub fn replica_peak_rss(&self) -> Option<f64> {
        self.peak_rss_mib
            .iter()
            .filter(|(label, _)| is_replica(label))
            .map(|(_, mib)| *mib)
            .max_by(f64::total_cmp)
    }
}

pub fn is_replica(label: &str) -> bool {
    label.starts_with("kokoro")
}

impl LevelResult {
    /// Every listener heard its document without a stall, refusal or lost block.
    pub fn clean(&self) -> bool {
        !self.outcomes.is_empty() && self.outcomes.iter().all(Outcome::served)
    }

    /// Share of listeners not served (stalled, no sound, refused, failed).
    pub fn stall_share(&self) -> f64 {
        if self.outcomes.is_empty() {
            return 0.0;
        }
        let stalled = self.outcomes.iter().filter(|o| !o.served()).count();
        stalled as f64 / self.outcomes.len() as f64
    }

    /// Audio seconds synthesized per wall second, from the first block a worker started to the
    /// last one cached.
    pub fn throughput(&self) -> f64 {
        let blocks = self.outcomes.iter().flat_map(|o| &o.synthesized);
        let (mut audio, mut first, mut last) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
        for b in blocks {
            audio += b.audio_s;
            first = f64::min(first, b.started_s);
            last = f64::max(last, b.cached_s);
        }
        if last > first {
            audio / (last - first)
        } else {
            f64::NAN
        }
    }

    pub fn latencies(&self) -> Vec<f64> {
        self.outcomes
            .iter()
            .flat_map(|o| o.latencies_s.iter().copied())
            .collect()
    }

    pub fn first_sounds(&self) -> Vec<f64> {
        self.outcomes
            .iter()
            .filter_map(|o| o.first_sound_s)
            .collect()
    }

    /// Cores used by processes whose label passes `pick`, summed; `None` if none was measured.
    pub fn cores(&self, pick: impl Fn(&str) -> bool) -> Option<f64> {
        let used: Vec<f64> = self
            .cpu
            .iter()
            .filter(|c| pick(&c.label))
            .filter_map(|c| c.cores)
            .collect();
        (!used.is_empty()).then(|| used.iter().sum())
    }

    /// Refusals and failures, for the notes: (listeners refused, first message).
    pub fn refusals(&self) -> (usize, Option<&str>) {
        let refused: Vec<&Outcome> = self.outcomes.iter().filter(|o| o.refusals > 0).collect();
        (
            refused.len(),
            refused.first().and_then(|o| o.first_refusal.as_deref()),
        )
    }
}

/// The `p`-th percentile (nearest rank) of `values`; `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Median, smallest and largest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn spread(values: &[f64]) -> Option<Spread> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    };
    Some(Spread {
        median,
        min: sorted[0],
        max: sorted[sorted.len() - 1],
    })
}

fn whole_blocks() -> Playback {
    Playback::Whole
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::Synthesized;

    fn listener(first_sound: Option<f64>, stalls: u32, blocks: &[(f64, f64, f64)]) -> Outcome {
        Outcome {
            first_sound_s: first_sound,
            stalls,
            synthesized: blocks
                .iter()
                .map(|&(started_s, cached_s, audio_s)| Synthesized {
                    started_s,
                    cached_s,
                    audio_s,
                })
                .collect(),
            latencies_s: blocks.iter().map(|b| b.1 - b.0).collect(),
            ..Outcome::default()
        }
    }

    fn level(listeners: usize, outcomes: Vec<Outcome>) -> LevelResult {
        LevelResult {
            listeners,
            outcomes,
            seconds: 20.0,
            cpu: vec![
                CpuUse {
                    label: "kokoro-1".into(),
                    cores: Some(0.9),
                },
                CpuUse {
                    label: "kokoro-2".into(),
                    cores: Some(0.8),
                },
                CpuUse {
                    label: "gateway".into(),
                    cores: Some(0.05),
                },
            ],
        }
    }

    #[test]
    fn throughput_is_audio_over_the_busy_span() {
        let l = level(
            2,
            vec![
                listener(Some(1.0), 0, &[(0.0, 2.0, 6.0), (2.0, 4.0, 6.0)]),
                listener(Some(2.0), 0, &[(1.0, 5.0, 8.0)]),
            ],
        );
        assert_eq!(l.throughput(), 20.0 / 5.0);
        assert!(l.clean());
        assert!((l.cores(is_replica).unwrap() - 1.7).abs() < 1e-9);
        assert_eq!(l.cores(|l| l == "redis"), None);
    }

    #[test]
    fn a_run_saturates_below_its_first_stalled_level() {
        let clean = |n| {
            level(
                n,
                (0..n)
                    .map(|_| listener(Some(1.0), 0, &[(0.0, 1.0, 3.0)]))
                    .collect(),
            )
        };
        let mut stalled = level(
            4,
            (0..4)
                .map(|_| listener(Some(1.0), 0, &[(0.0, 1.0, 3.0)]))
                .collect(),
        );
        stalled.outcomes[2].stalls = 1;
        let run = RunResult {
            config: Some(Config {
                replicas: 2,
                threads: 1,
            }),
            round: 1,
            levels: vec![clean(1), clean(3), stalled],
            peak_rss_mib: vec![
                ("kokoro-1".into(), 410.0),
                ("kokoro-2".into(), 450.0),
                ("gateway".into(), 30.0),
            ],
            start_s: 3.0,
            seconds: 70.0,
            error: None,
        };
        assert_eq!(run.saturation(), (3, true));
        assert_eq!(run.operating_level().unwrap().listeners, 3);
        assert_eq!(run.first_stalled_level().unwrap().stall_share(), 0.25);
        assert_eq!(run.replica_peak_rss(), Some(450.0));
        assert_eq!(run.label(), "2×1");
    }

    #[test]
    fn percentiles_and_spreads() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 95.0), Some(95.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(
            spread(&[3.0, 1.0, 2.0, 10.0]),
            Some(Spread {
                median: 2.5,
                min: 1.0,
                max: 10.0
            })
        );
    }
}
