//! The markdown report: a header naming the machine and commit, one table with the targets
//! beside the measurements, and notes on how each row was taken.

use std::{fmt::Write as _, time::Duration};

use hdrhistogram::Histogram;

use crate::{audio, cached, uncached};

/// The cached round trip's target applies at this many clients.
pub const CACHED_TARGET_CLIENTS: usize = 1_000;
pub const CACHED_TARGET_P99: Duration = Duration::from_millis(10);
/// The whole path may add at most this share to the synthesis time.
pub const OVERHEAD_TARGET_PERCENT: f64 = 5.0;

/// A stage's outcome: `None` when not selected.
pub type Stage<T> = Option<Result<T, String>>;

pub struct AudioStage {
    pub served: audio::Served,
    pub clip_duration_ms: Option<u64>,
    pub ceiling: Result<audio::Ceiling, String>,
}

pub struct Report {
    pub header: Vec<String>,
    pub cached: Stage<Vec<Result<cached::Level, String>>>,
    pub audio: Stage<AudioStage>,
    pub uncached: Stage<uncached::Comparison>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn any_failed(&self) -> bool {
        matches!(self.audio, Some(Err(_)))
            || matches!(self.uncached, Some(Err(_)))
            || match &self.cached {
                Some(Ok(levels)) => levels.iter().any(|l| l.is_err()),
                other => matches!(other, Some(Err(_))),
            }
    }

    pub fn render(&self) -> String {
        let mut out = String::from("# Gateway benchmark\n\n");
        for line in &self.header {
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
        out.push_str("| measurement | load | p50 | p99 | rate | beside it | target | result |\n");
        out.push_str("|---|---|---:|---:|---:|---|---|---|\n");
        self.cached_rows(&mut out);
        self.audio_row(&mut out);
        self.uncached_row(&mut out);
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }

    fn cached_rows(&self, out: &mut String) {
        const WHAT: &str = "cached round trip: `synthesize` → `cached`";
        let levels = match &self.cached {
            None => return,
            Some(Err(e)) => return failed_row(out, WHAT, e),
            Some(Ok(levels)) => levels,
        };
        for level in levels {
            let level = match level {
                Ok(level) => level,
                Err(e) => {
                    failed_row(out, WHAT, e);
                    continue;
                }
            };
            let p99 = percentile(&level.round_trips, 99.0);
            let (target, result) = if level.clients == CACHED_TARGET_CLIENTS {
                let pass = level.failed_clients == 0
                    && !level.round_trips.is_empty()
                    && p99 < CACHED_TARGET_P99;
                (
                    format!("p99 < {} ms", CACHED_TARGET_P99.as_millis()),
                    pass_or_miss(pass).to_string(),
                )
            } else {
                ("—".into(), "—".into())
            };
            let failed = if level.failed_clients > 0 {
                format!(" ({} clients failed)", level.failed_clients)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "| {WHAT}, {}{failed} | {} WebSocket clients | {} | {} | {} round trips/s | | {target} | {result} |",
                loop_name(level.pacing),
                thousands(level.clients as f64),
                millis(percentile(&level.round_trips, 50.0)),
                millis(p99),
                thousands(level.per_second),
            );
        }
    }

    fn audio_row(&self, out: &mut String) {
        const WHAT: &str = "`GET /v1/audio/{hash}`";
        let stage = match &self.audio {
            None => return,
            Some(Err(e)) => return failed_row(out, WHAT, e),
            Some(Ok(stage)) => stage,
        };
        let served = &stage.served;
        let clip = match stage.clip_duration_ms {
            Some(ms) => format!(", {:.1} s", ms as f64 / 1000.0),
            None => String::new(),
        };
        let beside = match &stage.ceiling {
            Ok(ceiling) => format!(
                "redis-benchmark GET of the same size, {} clients: {} req/s (gateway = {:.0} %)",
                served.clients,
                thousands(ceiling.per_second),
                served.per_second / ceiling.per_second * 100.0
            ),
            Err(e) => format!("redis-benchmark FAILED: {e}"),
        };
        let failed = if served.failed_clients > 0 {
            format!(" ({} clients failed)", served.failed_clients)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {WHAT}: {} KiB WAV{clip}{failed} | {} HTTP/1.1 keep-alive clients | {} | {} | {} req/s ({:.0} MiB/s) | {beside} | — | — |",
            thousands(served.bytes as f64 / 1024.0),
            served.clients,
            millis(percentile(&served.latency_us, 50.0)),
            millis(percentile(&served.latency_us, 99.0)),
            thousands(served.per_second),
            served.per_second * served.bytes as f64 / 1024.0 / 1024.0,
        );
    }

    fn uncached_row(&self, out: &mut String) {
        const WHAT: &str = "uncached block: `synthesize` → `cached`";
        let comparison = match &self.uncached {
            None => return,
            Some(Err(e)) => return failed_row(out, WHAT, e),
            Some(Ok(comparison)) => comparison,
        };
        let chars = uncached::median(comparison.pipeline.iter().map(|r| r.chars as f64).collect());
        let audio = uncached::median(
            comparison
                .pipeline
                .iter()
                .filter_map(|r| r.audio_seconds)
                .collect(),
        );
        let direct = uncached::median_seconds(&comparison.direct);
        // The worker's real-time factor shows how much of the machine it had: about 2.9 for
        // this length at 2 threads on a quiet machine (docs/benchmarks.md).
        let direct_rtf = uncached::median(
            comparison
                .direct
                .iter()
                .filter_map(|r| Some(r.audio_seconds? / r.wall.as_secs_f64()))
                .collect(),
        );
        let overhead = comparison.overhead_percent();
        let (result, verdict) = match overhead {
            Some(o) => (
                format!("{o:+.1} %"),
                pass_or_miss(o < OVERHEAD_TARGET_PERCENT),
            ),
            None => ("?".into(), "miss"),
        };
        let _ = writeln!(
            out,
            "| {WHAT}, {} chars{} | 1 client, median of {} | {} | | | direct gRPC `Synthesize` to the worker, same sentences in another order: {}{} | overhead < {OVERHEAD_TARGET_PERCENT:.0} % | {verdict} ({result}) |",
            chars.map_or("?".into(), |c| format!("{c:.0}")),
            audio.map_or(String::new(), |a| format!(", {a:.1} s of audio")),
            comparison.pipeline.len(),
            seconds(uncached::median_seconds(&comparison.pipeline)),
            seconds(direct),
            direct_rtf.map_or(String::new(), |r| format!(" (real-time factor {r:.2})")),
        );
    }
}

/// How a cached level paced its requests, as the table says it.
pub fn loop_name(pacing: cached::Loop) -> String {
    match pacing {
        cached::Loop::Closed => "closed loop".into(),
        cached::Loop::Open { pace } => format!("open loop, 1 per {} ms", pace.as_millis()),
    }
}

fn failed_row(out: &mut String, what: &str, error: &str) {
    let error = error.replace('|', "\\|").replace('\n', " ");
    let _ = writeln!(out, "| {what}: **FAILED**: {error} | | | | | | | |");
}

fn pass_or_miss(pass: bool) -> &'static str {
    if pass { "pass" } else { "miss" }
}

/// A percentile of a microsecond histogram; zero when it is empty.
pub fn percentile(histogram: &Histogram<u64>, p: f64) -> Duration {
    if histogram.is_empty() {
        return Duration::ZERO;
    }
    Duration::from_micros(histogram.value_at_percentile(p))
}

fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn seconds(s: Option<f64>) -> String {
    s.map_or("?".into(), |s| format!("{s:.2} s"))
}

/// A whole number with thousands separators: 12,345.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_thousands() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.8), "1,234,568");
    }
}
