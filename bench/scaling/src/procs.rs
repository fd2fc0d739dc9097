//! CPU time and peak memory of the processes under test, from /proc: each watched process counts
//! with every process below it (Postgres serves each connection from a child of its postmaster),
//! and the machine's own busy time shows how much went to everything else.

use std::{collections::HashMap, fs};

use bench_gateway::idle;
use serde::{Deserialize, Serialize};

/// A process (with its descendants, unless `alone`) the report names.
#[derive(Clone, Debug)]
pub struct Watched {
    pub label: String,
    pub pid: u32,
    /// Count this process only: the benchmark's own process is the parent of the stack it
    /// starts, whose processes are counted on their own.
    pub alone: bool,
}

/// CPU time of every watched tree and of the whole machine at one moment.
pub struct Snapshot {
    trees: Vec<Option<u64>>,
    machine_busy: u64,
    machine_total: u64,
}

/// Cores one process tree kept busy on average between two snapshots.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CpuUse {
    pub label: String,
    pub cores: Option<f64>,
}

/// Per process: pid, parent, and CPU ticks (own plus reaped children's).
struct Stat {
    pid: u32,
    ppid: u32,
    ticks: u64,
}

/// Parses `/proc/<pid>/stat`. The command name in parentheses may hold spaces and parentheses,
/// so the fields are counted from the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let pid = text.split_whitespace().next()?.parse().ok()?;
    let rest: Vec<&str> = text
        .get(text.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let field = |i: usize| rest.get(i).and_then(|f| f.parse::<u64>().ok());
    // After the name: state, ppid, … utime (11), stime, cutime, cstime (14).
    let ticks = field(11)? + field(12)? + field(13)? + field(14)?;
    Some(Stat {
        pid,
        ppid: field(1)? as u32,
        ticks,
    })
}

fn all_stats() -> Vec<Stat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|text| parse_stat(&text))
        .collect()
}

/// CPU ticks of the tree under `root`: every live process in it, each with its reaped
/// children's time, so a child that exits still counts (in its parent) and none counts twice.
fn tree_ticks(stats: &[Stat], root: u32, alone: bool) -> Option<u64> {
    if alone {
        return stats.iter().find(|s| s.pid == root).map(|s| s.ticks);
    }
    let mut children: HashMap<u32, Vec<usize>> = HashMap::new();
    let mut index = None;
    for (i, stat) in stats.iter().enumerate() {
        children.entry(stat.ppid).or_default().push(i);
        if stat.pid == root {
            index = Some(i);
        }
    }
    let mut total = 0;
    let mut stack = vec![index?];
    while let Some(i) = stack.pop() {
        total += stats[i].ticks;
        if let Some(kids) = children.get(&stats[i].pid) {
            stack.extend(kids.iter().copied().filter(|&k| stats[k].pid != root));
        }
    }
    Some(total)
}

pub fn snapshot(watched: &[Watched]) -> Snapshot {
    let stats = all_stats();
    let (machine_busy, machine_total) = idle::cpu_jiffies().unwrap_or((0, 0));
    Snapshot {
        trees: watched
            .iter()
            .map(|w| tree_ticks(&stats, w.pid, w.alone))
            .collect(),
        machine_busy,
        machine_total,
    }
}

/// Cores each watched tree used between `before` and `after`, then `other`: the machine's busy
/// cores that none of them account for (other work on the machine skews the numbers).
pub fn cpu_between(watched: &[Watched], before: &Snapshot, after: &Snapshot) -> Vec<CpuUse> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let elapsed_ticks = after.machine_total.saturating_sub(before.machine_total) as f64 / cores;
    let to_cores = |ticks: u64| (elapsed_ticks > 0.0).then(|| ticks as f64 / elapsed_ticks);
    let mut ours = 0;
    let mut uses: Vec<CpuUse> = watched
        .iter()
        .zip(before.trees.iter().zip(&after.trees))
        .map(|(w, (b, a))| {
            let ticks = match (b, a) {
                (Some(b), Some(a)) => Some(a.saturating_sub(*b)),
                _ => None,
            };
            ours += ticks.unwrap_or(0);
            CpuUse {
                label: w.label.clone(),
                cores: ticks.and_then(to_cores),
            }
        })
        .collect();
    let busy = after.machine_busy.saturating_sub(before.machine_busy);
    uses.push(CpuUse {
        label: "other".into(),
        cores: to_cores(busy.saturating_sub(ours)),
    });
    uses
}

/// Peak resident memory of one process so far (`VmHWM`), in MiB.
/// The one child of `pid`, if it has exactly one: a container's init (tini) runs its service as
/// its only child, whose memory is the service's.
pub fn only_child(pid: u32) -> Option<u32> {
    let mut children = all_stats().into_iter().filter(|s| s.ppid == pid);
    let child = children.next()?;
    children.next().is_none().then_some(child.pid)
}

pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_peak_rss_mib(&status)
}

fn parse_peak_rss_mib(status: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_only_child_of_an_init_is_found() {
        // A shell that starts one `sleep` and waits for it, as tini runs a container's service.
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "sleep 5 & wait"])
            .spawn()
            .unwrap();
        // The child shows up forked but not yet exec'd (still named `sh`) for a moment: wait
        // until it is the `sleep`, for at most a few seconds.
        let mut found = None;
        for _ in 0..250 {
            found = only_child(shell.id()).map(|pid| {
                let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                (pid, comm.trim().to_string())
            });
            if found.as_ref().is_some_and(|(_, comm)| comm == "sleep") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (child, comm) = found.expect("the shell's child");
        assert_eq!(comm, "sleep");
        let _ = shell.kill();
        let _ = std::process::Command::new("kill")
            .arg(child.to_string())
            .status();
        let _ = shell.wait();
    }

    use super::*;

    #[test]
    fn reads_ticks_past_a_name_with_spaces_and_parentheses() {
        let stat = parse_stat(
            "4242 (tokio (rt) 1) S 17 4242 4242 0 -1 4194560 900 0 0 0 250 50 7 3 20 0 9 0 1 2 3",
        )
        .unwrap();
        assert_eq!(
            (stat.pid, stat.ppid, stat.ticks),
            (4242, 17, 250 + 50 + 7 + 3)
        );
    }

    #[test]
    fn a_tree_counts_its_descendants_once() {
        let stat = |pid, ppid, ticks| Stat { pid, ppid, ticks };
        let stats = [
            stat(1, 0, 1000),
            stat(10, 1, 5),  // the postmaster
            stat(11, 10, 7), // a backend
            stat(12, 11, 2), // its child
            stat(20, 1, 99), // somebody else
        ];
        assert_eq!(tree_ticks(&stats, 10, false), Some(14));
        assert_eq!(tree_ticks(&stats, 10, true), Some(5), "the process alone");
        assert_eq!(tree_ticks(&stats, 20, false), Some(99));
        assert_eq!(tree_ticks(&stats, 30, false), None);
    }

    #[test]
    fn this_process_uses_cpu_and_memory() {
        let watched = [Watched {
            label: "me".into(),
            pid: std::process::id(),
            alone: true,
        }];
        let before = snapshot(&watched);
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(300) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let after = snapshot(&watched);
        let uses = cpu_between(&watched, &before, &after);
        assert_eq!(uses.len(), 2);
        assert!(uses[0].cores.unwrap() > 0.0, "{uses:?}");
        assert_eq!(uses[1].label, "other");
        assert!(peak_rss_mib(std::process::id()).unwrap() > 1.0);
        assert_eq!(
            parse_peak_rss_mib("VmPeak:\t 1 kB\nVmHWM:\t  2048 kB\n"),
            Some(2.0)
        );
    }
}
