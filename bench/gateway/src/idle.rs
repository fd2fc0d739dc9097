//! Waiting for a quiet machine. The benchmark shares two cores with everything it measures, so a
//! compiler or a test run next to it moves every number; better to wait, and to say so when the
//! machine never went quiet.

use std::time::{Duration, Instant};

/// Cores kept busy machine-wide below which the machine counts as idle. The stack under test,
/// idle, uses a few hundredths of a core (health probes, Redis's timers).
const IDLE_CORES: f64 = 0.2;
const SAMPLE: Duration = Duration::from_secs(3);

/// Non-idle and total jiffies (clock ticks) of all CPUs so far, from the first line of /proc/stat.
pub fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = fields[..] else {
        return None;
    };
    let busy = user + nice + system + irq + softirq + steal;
    Some((busy, busy + idle + iowait))
}

/// Cores busy machine-wide over the next `SAMPLE`.
async fn busy_cores() -> Option<f64> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let (busy0, total0) = cpu_jiffies()?;
    tokio::time::sleep(SAMPLE).await;
    let (busy1, total1) = cpu_jiffies()?;
    let total = total1.saturating_sub(total0);
    (total > 0).then(|| busy1.saturating_sub(busy0) as f64 / total as f64 * cores)
}

/// Waits at most `limit` for a sample under `IDLE_CORES` and describes the outcome for the
/// report's header, as of `when` ("before the run"); the description starts with "**busy" when
/// the machine never went quiet.
pub async fn wait_for_idle(limit: Duration, when: &str) -> String {
    let start = Instant::now();
    loop {
        let Some(busy) = busy_cores().await else {
            return "machine load unknown (no /proc/stat)".into();
        };
        let waited = if limit.is_zero() {
            String::new()
        } else {
            format!(" (waited {:.0} s for quiet)", start.elapsed().as_secs_f64())
        };
        if busy < IDLE_CORES {
            return format!("{busy:.2} cores busy {when}{waited}");
        }
        if start.elapsed() >= limit {
            return format!(
                "**busy: {busy:.2} cores in use {when}{waited}; other work skews these numbers, \
                 re-run on a quiet machine**"
            );
        }
        eprintln!(
            "[{}] machine busy ({busy:.2} cores), waiting for quiet",
            program()
        );
    }
}

/// The running benchmark's name, for its log lines.
fn program() -> String {
    std::env::args()
        .next()
        .as_deref()
        .and_then(|arg0| std::path::Path::new(arg0).file_name())
        .map_or_else(
            || "bench".into(),
            |name| name.to_string_lossy().into_owned(),
        )
}
