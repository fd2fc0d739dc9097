//! The markdown report: the summary table (one row per configuration), the table per load
//! level, the capacity rule derived from them, and notes on how the numbers were taken.

use std::{collections::BTreeMap, fmt::Write as _};

use crate::{
    grid::Config,
    reader::Playback,
    results::{Results, RunResult, Spread, is_replica, percentile, spread},
};

/// One configuration over its runs.
pub struct Summary<'a> {
    pub label: String,
    pub config: Option<Config>,
    pub runs: Vec<&'a RunResult>,
    /// Saturation per run.
    pub saturation: Option<Spread>,
    /// Some run never stalled up to the cap: the saturation is a lower bound.
    pub unbounded: bool,
    pub throughput: Option<Spread>,
}

impl<'a> Summary<'a> {
    fn of(label: String, config: Option<Config>, runs: Vec<&'a RunResult>) -> Self {
        let saturations: Vec<f64> = runs.iter().map(|r| r.saturation().0 as f64).collect();
        let throughputs: Vec<f64> = runs.iter().filter_map(|r| r.throughput()).collect();
        Self {
            unbounded: runs.iter().any(|r| !r.saturation().1),
            saturation: spread(&saturations),
            throughput: spread(&throughputs),
            label,
            config,
            runs,
        }
    }

    /// Median over runs of a figure taken from each run.
    fn median_of(&self, figure: impl Fn(&RunResult) -> Option<f64>) -> Option<f64> {
        let values: Vec<f64> = self.runs.iter().filter_map(|r| figure(r)).collect();
        spread(&values).map(|s| s.median)
    }
}

/// Runs grouped by configuration, in table order (threads in all, then replicas).
pub fn summaries(results: &Results) -> Vec<Summary<'_>> {
    type Group<'r> = (Option<Config>, Vec<&'r RunResult>);
    let mut groups: BTreeMap<(u32, u32, String), Group> = BTreeMap::new();
    for run in results.runs.iter().filter(|r| !r.levels.is_empty()) {
        let key = run.config.map_or((0, 0), Config::sort_key);
        groups
            .entry((key.0, key.1, run.label()))
            .or_insert((run.config, Vec::new()))
            .1
            .push(run);
    }
    groups
        .into_iter()
        .map(|((_, _, label), (config, runs))| Summary::of(label, config, runs))
        .collect()
}

/// The capacity rule: the configuration that served the most listeners without a stall, as a
/// rule per core, with how sure the data make it.
pub struct Rule {
    pub best: String,
    pub threads: u32,
    pub replicas_per_core: f64,
    pub listeners_per_core: Spread,
    pub runs: usize,
    pub lines: Vec<String>,
}

pub fn capacity_rule(results: &Results) -> Option<Rule> {
    let summaries = summaries(results);
    let cores = f64::from(results.cores.max(1));
    let score = |s: &Summary| {
        (
            s.saturation.map_or(-1.0, |x| x.median),
            s.throughput.map_or(0.0, |x| x.median),
        )
    };
    let mut ranked: Vec<&Summary> = summaries
        .iter()
        .filter(|s| s.config.is_some() && s.saturation.is_some())
        .collect();
    ranked.sort_by(|a, b| {
        let (sa, ta) = score(a);
        let (sb, tb) = score(b);
        sb.total_cmp(&sa).then(tb.total_cmp(&ta))
    });
    let best = *ranked.first()?;
    let config = best.config?;
    let saturation = best.saturation?;
    let per_core = Spread {
        median: saturation.median / cores,
        min: saturation.min / cores,
        max: saturation.max / cores,
    };
    let replicas_per_core = f64::from(config.replicas) / cores;
    let mut lines = vec![format!(
        "**Rule: {} thread{} per replica, {} replica{} per core** ({} on this {}-core machine; for C cores run \
         KOKORO_REPLICAS = {} and KOKORO_THREADS = {}).",
        config.threads,
        if config.threads == 1 { "" } else { "s" },
        trim(replicas_per_core),
        if (replicas_per_core - 1.0).abs() < 1e-9 {
            ""
        } else {
            "s"
        },
        config,
        results.cores,
        if (replicas_per_core - 1.0).abs() < 1e-9 {
            "C".to_string()
        } else {
            format!("⌈{} × C⌉", trim(replicas_per_core))
        },
        config.threads,
    )];
    lines.push(format!(
        "**Expect {} listeners per core** at 1× without a stall (median of {} run{}; {} to {} across runs{}).",
        trim2(per_core.median),
        best.runs.len(),
        if best.runs.len() == 1 { "" } else { "s" },
        trim2(per_core.min),
        trim2(per_core.max),
        if best.unbounded {
            "; some run never stalled up to --max-listeners, so this is a lower bound"
        } else {
            ""
        },
    ));
    let sureness = match ranked.get(1) {
        None => "Only one configuration was measured; nothing to compare it with.".to_string(),
        Some(second) => {
            let other = second.saturation?;
            let ahead = saturation.min > other.max;
            let tied = (saturation.median - other.median).abs() < 1e-9;
            if ahead {
                format!(
                    "How sure: {config} served more listeners than the runner-up {} in every run \
                     ({}–{} against {}–{}).",
                    second.label,
                    trim(saturation.min),
                    trim(saturation.max),
                    trim(other.min),
                    trim(other.max)
                )
            } else {
                let close: Vec<String> = ranked[1..]
                    .iter()
                    .filter(|s| s.saturation.is_some_and(|o| o.max >= saturation.min))
                    .map(|s| s.label.clone())
                    .collect();
                format!(
                    "How sure: not by much. {} (runs {}–{}) overlaps with {} in the spread of its runs{}; \
                     the choice among them rests on {}.",
                    config,
                    trim(saturation.min),
                    trim(saturation.max),
                    close.join(", "),
                    if tied { " and ties on the median" } else { "" },
                    if tied { "throughput" } else { "the median" }
                )
            }
        }
    };
    lines.push(sureness);
    lines.push(format!(
        "Measured on {} cores only: the rule per core assumes the cores scale alike; check a bigger \
         machine with its own grid (`--grid`).",
        results.cores
    ));
    Some(Rule {
        best: config.to_string(),
        threads: config.threads,
        replicas_per_core,
        listeners_per_core: per_core,
        runs: best.runs.len(),
        lines,
    })
}

impl Rule {
    /// Replicas for a machine of `cores` cores.
    pub fn replicas_for(&self, cores: u32) -> u32 {
        ((self.replicas_per_core * f64::from(cores)).ceil() as u32).max(1)
    }
}

fn trim(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn trim2(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn secs(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.1}"))
}

fn cores_fmt(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.2}"))
}

fn spread_fmt(s: Option<Spread>, digits: usize) -> String {
    match s {
        None => "–".into(),
        Some(s) if (s.max - s.min).abs() < 1e-9 => format!("{:.*}", digits, s.median),
        Some(s) => format!(
            "{:.*} ({:.*}–{:.*})",
            digits, s.median, digits, s.min, digits, s.max
        ),
    }
}

pub fn render(results: &Results) -> String {
    let mut out = String::from("# Replica scaling benchmark\n\n");
    for line in &results.header {
        let _ = writeln!(out, "{line}");
    }
    let summaries = summaries(results);
    out.push_str(
        "\n| replicas × threads | runs | listeners without stalls | per core | throughput (audio s/s) | \
         block latency p50 / p95 / p99 (s) | first sound p50 / p95 (s) | not served one level up | \
         worker CPU (cores) | gateway CPU | peak RSS per replica (MiB) | other load (cores) |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let cores = f64::from(results.cores.max(1));
    for s in &summaries {
        let at = |f: &dyn Fn(&crate::results::LevelResult) -> Option<f64>| {
            s.median_of(|r| r.operating_level().and_then(f))
        };
        let saturation = match s.saturation {
            Some(sat) if s.unbounded => format!("≥ {}", spread_fmt(Some(sat), 0)),
            other => spread_fmt(other, 0),
        };
        let per_core = s.saturation.map(|x| Spread {
            median: x.median / cores,
            min: x.min / cores,
            max: x.max / cores,
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} / {} / {} | {} / {} | {} | {} | {} | {} | {} |",
            s.label,
            s.runs.len(),
            saturation,
            spread_fmt(per_core, 2),
            spread_fmt(s.throughput, 2),
            secs(at(&|l| percentile(&l.latencies(), 50.0))),
            secs(at(&|l| percentile(&l.latencies(), 95.0))),
            secs(at(&|l| percentile(&l.latencies(), 99.0))),
            secs(at(&|l| percentile(&l.first_sounds(), 50.0))),
            secs(at(&|l| percentile(&l.first_sounds(), 95.0))),
            s.median_of(|r| r.first_stalled_level().map(|l| l.stall_share()))
                .map_or("–".into(), |x| format!("{:.0} %", x * 100.0)),
            cores_fmt(at(&|l| l.cores(is_replica))),
            cores_fmt(at(&|l| l.cores(|label| label.starts_with("gateway")))),
            s.median_of(RunResult::replica_peak_rss)
                .map_or("–".into(), |x| format!("{x:.0}")),
            cores_fmt(s.median_of(|r| {
                let other: Vec<f64> = r
                    .levels
                    .iter()
                    .filter_map(|l| l.cores(|x| x == "other"))
                    .collect();
                spread(&other).map(|x| x.median)
            })),
        );
    }

    out.push_str("\n## Capacity\n\n");
    match capacity_rule(results) {
        Some(rule) => {
            for line in &rule.lines {
                let _ = writeln!(out, "- {line}");
            }
        }
        None => out.push_str("- No configuration finished a run: no rule.\n"),
    }

    out.push_str("\n## Per load level\n\n");
    out.push_str(
        "| replicas × threads | listeners | runs | block latency p50 / p95 / p99 (s) | first sound p50 / p95 (s) | \
         not served | throughput (audio s/s) | CPU (cores): workers / gateway / Redis / Postgres / client / other |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for s in &summaries {
        let mut by_level: BTreeMap<usize, Vec<&crate::results::LevelResult>> = BTreeMap::new();
        for run in &s.runs {
            for level in &run.levels {
                by_level.entry(level.listeners).or_default().push(level);
            }
        }
        for (listeners, levels) in by_level {
            let latencies: Vec<f64> = levels.iter().flat_map(|l| l.latencies()).collect();
            let sounds: Vec<f64> = levels.iter().flat_map(|l| l.first_sounds()).collect();
            let outcomes = levels.iter().map(|l| l.outcomes.len()).sum::<usize>();
            let unserved: usize = levels
                .iter()
                .map(|l| l.outcomes.iter().filter(|o| !o.served()).count())
                .sum();
            let throughput: Vec<f64> = levels.iter().map(|l| l.throughput()).collect();
            let cpu = |pick: &dyn Fn(&str) -> bool| {
                let used: Vec<f64> = levels.iter().filter_map(|l| l.cores(pick)).collect();
                cores_fmt(spread(&used).map(|x| x.median))
            };
            let _ = writeln!(
                out,
                "| {} | {listeners} | {} | {} / {} / {} | {} / {} | {unserved} of {outcomes} | {} | {} / {} / {} / {} / {} / {} |",
                s.label,
                levels.len(),
                secs(percentile(&latencies, 50.0)),
                secs(percentile(&latencies, 95.0)),
                secs(percentile(&latencies, 99.0)),
                secs(percentile(&sounds, 50.0)),
                secs(percentile(&sounds, 95.0)),
                spread_fmt(spread(&throughput), 2),
                cpu(&|l| is_replica(l)),
                cpu(&|l| l.starts_with("gateway")),
                cpu(&|l| l == "redis"),
                cpu(&|l| l == "postgres"),
                cpu(&|l| l == "bench client"),
                cpu(&|l| l == "other"),
            );
        }
    }

    out.push_str("\n## How it was measured\n\n");
    let m = &results.method;
    let _ = writeln!(
        out,
        "- Target: {}. Each run starts its own stack (fresh workers, gateway, Redis prefix and audio \
         folder) and ramps the load: one listener, then the number the first level's throughput \
         predicts, then up by a quarter (at least one) until a level has a listener not served, then \
         bisection down to neighbours; a configuration's later runs start at the saturation point \
         its earlier runs found. \"Listeners without stalls\" is the largest level where every \
         listener was served; per core divides it by the machine's {} cores.",
        m.target, results.cores
    );
    let _ = writeln!(
        out,
        "- A level of n listeners: each signs in as its own user, reads its own uncached document \
         ({} paragraphs of two or three sentences, none repeated in the benchmark), arriving open-loop \
         one every {:.1}/n s, and listens for {:.0} s like the web player: the block at the cursor and \
         {} ahead requested, the next block's audio downloaded while one plays, the cursor moving on \
         at 1× as each block ends; {}. Then the queue drains (health shows nothing queued or \
         rendering) before the next level.",
        m.paragraphs,
        m.arrival_s,
        m.listen_s,
        m.prefetch_ahead,
        match m.playback {
            Playback::Segments => {
                "playback `segments` (the player's default): a block still rendering plays from \
                 its segments as they come, and the block to be heard first is asked for alone \
                 until it is whole"
            }
            Playback::Whole => "playback `whole`: whole blocks only, the whole window at once",
        }
    );
    out.push_str(
        "- Not served: a listener whose next block was not ready when the previous one ended (a \
         stall), who heard nothing within the session, or whose requests the gateway refused. Block \
         latency: request → `cached`, over every block (deep prefetch waits longest by design). First \
         sound: arrival → the first audio downloaded (the first segment, or the whole first block). Throughput: audio seconds \
         cached ÷ seconds from the first block a worker started to the last one cached, the best \
         level of a run. CPU: cores used during the level per process tree from /proc; \"other\" is \
         the rest of the machine (other work skews the numbers). Peak RSS: each replica's VmHWM.\n",
    );
    let _ = writeln!(
        out,
        "- Figures per configuration are the median over its runs (range in brackets); latencies, \
         first sound and CPU in the summary are those of each run's level at its saturation point. \
         Runs went in rounds, each round every configuration once in a shuffled order (seed {}).",
        m.seed
    );
    for run in results.runs.iter() {
        if let Some(error) = &run.error {
            let _ = writeln!(
                out,
                "- {} round {}: **stopped early**: {error}",
                run.label(),
                run.round
            );
        }
        for level in &run.levels {
            let (refused, message) = level.refusals();
            if refused > 0 {
                let _ = writeln!(
                    out,
                    "- {} round {}, {} listeners: {refused} refused by the gateway, first: {}",
                    run.label(),
                    run.round,
                    level.listeners,
                    message.unwrap_or("?")
                );
            }
            if let Some(failure) = level.outcomes.iter().find_map(|o| o.failure.as_deref()) {
                let _ = writeln!(
                    out,
                    "- {} round {}, {} listeners: a listener failed: {failure}",
                    run.label(),
                    run.round,
                    level.listeners
                );
            }
        }
    }
    for note in &results.notes {
        let _ = writeln!(out, "- {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        procs::CpuUse,
        reader::{Outcome, Synthesized},
        results::{LevelResult, Method},
    };

    /// A run of `config` that served `saturation` listeners cleanly and stalled one above.
    fn run(config: Config, round: u32, saturation: usize, throughput: f64) -> RunResult {
        let level = |n: usize, clean: bool| LevelResult {
            listeners: n,
            outcomes: (0..n)
                .map(|i| Outcome {
                    first_sound_s: Some(1.5),
                    stalls: u32::from(!clean && i == 0),
                    latencies_s: vec![1.0, 2.0, 9.0],
                    synthesized: vec![Synthesized {
                        started_s: 0.0,
                        cached_s: 10.0,
                        audio_s: throughput * 10.0 / n as f64,
                    }],
                    ..Outcome::default()
                })
                .collect(),
            seconds: 24.0,
            cpu: vec![CpuUse {
                label: "kokoro-1".into(),
                cores: Some(1.9),
            }],
        };
        let mut levels = vec![level(1, true)];
        if saturation > 1 {
            levels.push(level(saturation, true));
        }
        levels.push(level(saturation + 1, false));
        RunResult {
            config: Some(config),
            round,
            levels,
            peak_rss_mib: vec![("kokoro-1".into(), 480.0)],
            start_s: 3.0,
            seconds: 80.0,
            error: None,
        }
    }

    fn results(runs: Vec<RunResult>) -> Results {
        Results {
            header: vec!["- machine: test".into()],
            cores: 2,
            method: Method {
                listen_s: 24.0,
                playback: Playback::Segments,
                arrival_s: 4.0,
                prefetch_ahead: 8,
                paragraphs: 16,
                target: "local".into(),
                seed: 1,
            },
            runs,
            notes: Vec::new(),
        }
    }

    const ONE_BY_TWO: Config = Config {
        replicas: 1,
        threads: 2,
    };
    const TWO_BY_ONE: Config = Config {
        replicas: 2,
        threads: 1,
    };

    #[test]
    fn the_rule_follows_the_configuration_that_served_most() {
        let r = results(vec![
            run(ONE_BY_TWO, 1, 2, 2.8),
            run(TWO_BY_ONE, 1, 4, 3.4),
            run(ONE_BY_TWO, 2, 2, 2.9),
            run(TWO_BY_ONE, 2, 3, 3.3),
            run(TWO_BY_ONE, 3, 4, 3.5),
            run(ONE_BY_TWO, 3, 3, 2.7),
        ]);
        let rule = capacity_rule(&r).unwrap();
        assert_eq!(rule.best, "2×1");
        assert_eq!(
            (rule.threads, rule.replicas_per_core, rule.runs),
            (1, 1.0, 3)
        );
        assert_eq!(
            rule.listeners_per_core,
            Spread {
                median: 2.0,
                min: 1.5,
                max: 2.0
            }
        );
        let text = rule.lines.join("\n");
        assert!(
            text.contains("1 thread per replica, 1 replica per core"),
            "{text}"
        );
        assert!(
            text.contains("KOKORO_REPLICAS = C and KOKORO_THREADS = 1"),
            "{text}"
        );
        assert!(text.contains("not by much"), "ranges overlap at 3: {text}");
    }

    #[test]
    fn a_clear_winner_is_called_clear() {
        let r = results(vec![
            run(TWO_BY_ONE, 1, 4, 3.4),
            run(TWO_BY_ONE, 2, 4, 3.4),
            run(ONE_BY_TWO, 1, 2, 2.8),
            run(ONE_BY_TWO, 2, 2, 2.8),
        ]);
        let text = capacity_rule(&r).unwrap().lines.join("\n");
        assert!(text.contains("in every run (4–4 against 2–2)"), "{text}");
    }

    #[test]
    fn the_report_has_a_row_per_configuration_and_per_level() {
        let r = results(vec![run(ONE_BY_TWO, 1, 2, 2.8), run(TWO_BY_ONE, 1, 3, 3.4)]);
        let text = render(&r);
        let row_1x2 = text.lines().find(|l| l.starts_with("| 1×2 | 1 |")).unwrap();
        assert!(
            row_1x2.contains("| 2 | 1.00 |"),
            "saturation 2, per core 1: {row_1x2}"
        );
        assert!(
            row_1x2.contains("| 2.0 / 9.0 / 9.0 |"),
            "latencies at the saturation level: {row_1x2}"
        );
        assert!(
            row_1x2.contains("| 33 % |"),
            "one of three not served one level up: {row_1x2}"
        );
        assert!(
            text.contains("| 2×1 | 4 | 1 |"),
            "the stalled level of 2×1: {text}"
        );
        assert!(text.contains("## Capacity"));
    }
}
