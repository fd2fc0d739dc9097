//! The grid: which replicas × threads configurations run, and in which order.

use std::{fmt, str::FromStr};

use anyhow::{Result, bail};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde::{Deserialize, Serialize};

/// Kokoro replicas, each a process with `threads` intra-op threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Config {
    pub replicas: u32,
    pub threads: u32,
}

impl Config {
    /// Threads asked for in all: above the machine's cores the replicas share them.
    pub fn threads_total(self) -> u32 {
        self.replicas * self.threads
    }

    /// Order in tables and plots: by threads in all, then by replicas.
    pub fn sort_key(self) -> (u32, u32) {
        (self.threads_total(), self.replicas)
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}", self.replicas, self.threads)
    }
}

impl FromStr for Config {
    type Err = anyhow::Error;

    /// `RxT` (or `R×T`): `2x1` is two replicas of one thread each.
    fn from_str(s: &str) -> Result<Self> {
        let Some((r, t)) = s.trim().split_once(['x', 'X', '×']) else {
            bail!("{s:?} is not REPLICASxTHREADS, e.g. 2x1");
        };
        let parse = |part: &str, what: &str| -> Result<u32> {
            match part.trim().parse::<u32>() {
                Ok(n) if (1..=64).contains(&n) => Ok(n),
                _ => bail!("{s:?}: {what} must be a whole number from 1 to 64"),
            }
        };
        Ok(Self {
            replicas: parse(r, "replicas")?,
            threads: parse(t, "threads")?,
        })
    }
}

/// The default grid for a machine of `cores` cores: products from under to over the core count,
/// and the baseline of one process with every core as its threads.
///
/// On two cores: 1×1, 1×2, 2×1, 3×1, 1×4, 2×2, 4×1 (1×2 is the baseline).
pub fn default_grid(cores: u32) -> Vec<Config> {
    let cores = cores.max(1);
    let mut grid = vec![
        Config {
            replicas: 1,
            threads: 1,
        },
        // The baseline: one process, all cores.
        Config {
            replicas: 1,
            threads: cores,
        },
        // One replica per core, then oversubscribed by half and by double.
        Config {
            replicas: cores,
            threads: 1,
        },
        Config {
            replicas: (cores * 3).div_ceil(2),
            threads: 1,
        },
        Config {
            replicas: cores * 2,
            threads: 1,
        },
        // Two threads per replica (the reference system's production choice), and doubled.
        Config {
            replicas: cores.div_ceil(2),
            threads: 2,
        },
        Config {
            replicas: cores,
            threads: 2,
        },
        // One process with twice the cores as threads.
        Config {
            replicas: 1,
            threads: cores * 2,
        },
    ];
    grid.sort_by_key(|c| c.sort_key());
    grid.dedup();
    grid
}

/// One grid point's repeat, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub config: Config,
    /// 1-based repeat of this configuration.
    pub round: u32,
}

/// Every configuration `repeats` times, as rounds: each round runs every configuration once in
/// its own random order, so a configuration's repeats spread over the whole benchmark and a
/// drift of the machine's speed falls on all of them alike.
pub fn schedule(grid: &[Config], repeats: u32, seed: u64) -> Vec<Slot> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut slots = Vec::new();
    for round in 1..=repeats {
        let mut order = grid.to_vec();
        order.shuffle(&mut rng);
        slots.extend(order.into_iter().map(|config| Slot { config, round }));
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(replicas: u32, threads: u32) -> Config {
        Config { replicas, threads }
    }

    #[test]
    fn parses_replicas_by_threads() {
        assert_eq!("2x1".parse::<Config>().unwrap(), c(2, 1));
        assert_eq!(" 1×4 ".parse::<Config>().unwrap(), c(1, 4));
        assert_eq!("3X2".parse::<Config>().unwrap(), c(3, 2));
        for bad in ["2", "0x1", "2x0", "ax1", "1x65", ""] {
            let error = bad.parse::<Config>().unwrap_err().to_string();
            assert!(error.contains(bad.trim()), "{bad:?}: {error}");
        }
    }

    #[test]
    fn two_cores_get_the_issue_grid() {
        let grid: Vec<String> = default_grid(2).iter().map(ToString::to_string).collect();
        assert_eq!(grid, ["1×1", "1×2", "2×1", "3×1", "1×4", "2×2", "4×1"]);
    }

    #[test]
    fn sixteen_cores_span_under_to_over() {
        let grid = default_grid(16);
        assert!(grid.contains(&c(1, 16)), "baseline");
        assert!(grid.iter().any(|c| c.threads_total() < 16));
        assert!(grid.iter().any(|c| c.threads_total() > 16));
        assert!(grid.contains(&c(8, 2)) && grid.contains(&c(16, 1)));
    }

    #[test]
    fn every_round_runs_every_config_once_in_its_own_order() {
        let grid = default_grid(2);
        let slots = schedule(&grid, 3, 7);
        assert_eq!(slots.len(), grid.len() * 3);
        let mut orders = Vec::new();
        for round in 1..=3 {
            let mut order: Vec<Config> = slots
                .iter()
                .filter(|s| s.round == round)
                .map(|s| s.config)
                .collect();
            orders.push(order.clone());
            order.sort_by_key(|c| c.sort_key());
            assert_eq!(order, grid, "round {round} runs each config once");
        }
        assert!(
            orders.windows(2).any(|w| w[0] != w[1]),
            "rounds are shuffled independently"
        );
        assert_eq!(slots, schedule(&grid, 3, 7), "a seed gives the same order");
    }
}
