//! `make bench-scaling`: Kokoro replicas × threads under simulated listeners, through the whole
//! pipeline, with plots and a capacity rule.
//!
//! For every configuration of the grid (`--grid`, default for the machine's core count: on two
//! cores 1×1, 1×2, 2×1, 3×1, 1×4, 2×2, 4×1; 1×cores is the single-process baseline), `--repeats`
//! runs, in rounds that each run every configuration once in a shuffled order. A run starts the
//! stack, ramps the number of listeners until a level has one not served (see `ramp.rs`), and
//! stops the stack. A level's listeners each sign in as their own user, read their own uncached
//! document the way the web player does (`reader.rs`) and arrive open-loop over
//! `--arrival-secs`; each listens `--listen-secs`. Per level: block latency, time to first
//! sound, the share of listeners not served (a stall, no sound, a refusal), throughput in audio
//! seconds per wall second, CPU per process; per run each replica's peak RSS.
//!
//! Writes into `--out-dir` (default `.local/bench-scaling/`): `report.md` (the tables and the
//! capacity rule, also printed), `results.json` (everything measured, after every run),
//! `throughput.png`, `latency.png`, `per-core.png`, and the processes' logs per run.
//! `--from-results results.json` re-makes the report and plots without running anything.
//!
//! # Targets
//!
//! - `--target local` (default; what `make bench-scaling` runs through
//!   `scripts/bench-scaling.sh`): per run, `R` × `target/release/tts-kokoro-worker serve` with
//!   `KOKORO_THREADS=T` and the release gateway, as `make dev` starts them, on free ports (or
//!   from `--base-port` up), against the project-local Postgres (`--database-url`) and Redis
//!   (`--redis-url`) with a fresh `REDIS_PREFIX` and audio folder per run.
//! - `--target compose`: per run, `--compose-up` (default `make prod-up-cpu`) with
//!   `KOKORO_REPLICAS=R KOKORO_THREADS=T GATEWAY_PORT=<--compose-port>` in its environment, which
//!   must publish the gateway on `127.0.0.1:<port>`; waits for `/api/health` to show `R` kokoro
//!   replicas, runs the same load, then `--compose-down` (default `make prod-down`). CPU is
//!   counted per container (its processes, from `docker inspect`). Off, with the reason, when no
//!   Docker engine answers or the checkout has no `compose/` folder or `prod-up-cpu` target.
//! - `--url URL`: an existing deployment (after `make deploy`, say), nothing started or stopped,
//!   one unnamed configuration; the load is capped (`--max-listeners`, at most 64) and bounded in
//!   time (`--max-minutes`). Accounts are signed up on that deployment (a `bench-…@example.org`
//!   user per listener) unless `--tokens-file` names sessions to use; documents are deleted after
//!   each level.
//!
//! A gateway that refuses (429, a cap on queued blocks, a quota) is reported per level, not
//! treated as a crash. Health details may need `--operator-token` (`BENCH_OPERATOR_TOKEN`);
//! without them the benchmark waits 5 s between levels instead of watching the queue drain.

mod documents;
mod grid;
mod level;
mod listener;
mod plots;
mod procs;
mod ramp;
mod reader;
mod report;
mod results;
mod stack;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::{Context, Result, bail};
use bench_gateway::{api, idle, machine};
use clap::{Parser, ValueEnum};
use tokio::time::Instant;

use grid::Config;
use procs::Watched;
use results::{Method, Results, RunResult};

/// Listeners at most in `--url` mode, whatever `--max-listeners` says.
const URL_MAX_LISTENERS: usize = 64;

#[derive(Parser)]
#[command(
    about = "Kokoro replicas × threads under simulated listeners, with plots and a capacity rule."
)]
struct Args {
    /// What to run against.
    #[arg(long, value_enum, default_value = "local")]
    target: Target,
    /// An existing deployment's base URL: start nothing, measure it (capped load).
    #[arg(long)]
    url: Option<String>,
    /// Configurations as REPLICASxTHREADS, comma-separated; default: the machine's grid.
    #[arg(long, value_delimiter = ',')]
    grid: Vec<Config>,
    /// Runs per configuration (at least 3 for a median and a spread).
    #[arg(long, default_value_t = 3)]
    repeats: u32,
    /// How the simulated listeners play: as the web player does by default (`segments`), or
    /// whole blocks only (its `?playback=whole`).
    #[arg(long, value_enum, default_value = "segments")]
    playback: reader::Playback,
    /// Seconds each listener listens.
    #[arg(long, default_value_t = 20.0)]
    listen_secs: f64,
    /// Seconds over which a level's listeners arrive, at a fixed rate.
    #[arg(long, default_value_t = 4.0)]
    arrival_secs: f64,
    /// Paragraphs per listener's document (blocks it could reach; more than it will).
    #[arg(long, default_value_t = 16)]
    paragraphs: usize,
    /// Most listeners in one level.
    #[arg(long, default_value_t = 32)]
    max_listeners: usize,
    /// Most levels in one run.
    #[arg(long, default_value_t = 8)]
    max_levels: usize,
    /// Start no new run after this many minutes (the report says what was skipped), so the
    /// default grid ends within about half an hour.
    #[arg(long, default_value_t = 28.0)]
    max_minutes: f64,
    /// Seed for the order of runs and the documents' text; default from the clock.
    #[arg(long)]
    seed: Option<u64>,
    /// Model slug.
    #[arg(long, default_value = "kokoro")]
    model: String,
    /// Voice slug; default: the model's first available voice.
    #[arg(long)]
    voice: Option<String>,
    /// Before starting, wait at most this long for the machine to go quiet (0: don't).
    #[arg(long, default_value_t = 120.0)]
    wait_idle_secs: f64,
    /// Where the report, results, plots and logs go.
    #[arg(long, default_value = ".local/bench-scaling")]
    out_dir: PathBuf,
    /// Re-make the report and plots from a results.json; run nothing.
    #[arg(long)]
    from_results: Option<PathBuf>,

    /// Local target: Postgres for the gateway (a database of the benchmark's own).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Local target: Redis for the gateway.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:63799")]
    redis_url: String,
    /// Local target: the Postgres server's process id, to count its CPU.
    #[arg(long)]
    postgres_pid: Option<u32>,
    /// Local target: where the release binaries are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Local target: the model files (the worker's KOKORO_MODEL_DIR).
    #[arg(long, env = "KOKORO_MODEL_DIR")]
    model_dir: Option<PathBuf>,
    /// Local target: ports from here up (gateway, then one per replica); default: free ports.
    #[arg(long)]
    base_port: Option<u16>,
    /// RUST_LOG of the started gateway and workers.
    #[arg(long, default_value = "warn")]
    rust_log: String,

    /// Compose target: brings the deployment up (sees KOKORO_REPLICAS, KOKORO_THREADS, GATEWAY_PORT).
    #[arg(long, default_value = "make prod-up-cpu")]
    compose_up: String,
    /// Compose target: takes it down (keeping volumes).
    #[arg(long, default_value = "make prod-down")]
    compose_down: String,
    /// Compose target: the compose project name, to find its containers.
    #[arg(long, default_value = "yapit")]
    compose_project: String,
    /// Compose target: the port the gateway is published on.
    #[arg(long, default_value_t = 18580)]
    compose_port: u16,

    /// Sent as a Bearer token to /api/health, for gateways that show details only to operators.
    #[arg(long, env = "BENCH_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
    /// One session token per line to use instead of signing up (users are reused in turn).
    #[arg(long)]
    tokens_file: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Target {
    Local,
    Compose,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // One thread: the client shares the cores with what it measures, and its CPU is reported.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    // Interrupted, the run is dropped, and with it the stack it started (its processes are
    // killed); results.json keeps every run finished before.
    let result = runtime
        .context("starting the tokio runtime")
        .and_then(|rt| {
            rt.block_on(async {
                tokio::select! {
                    result = run(args) => result,
                    signal = interrupted() => bail!("stopped by {signal}"),
                }
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[bench-scaling] {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, naming which.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "Ctrl-C";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = terminate.recv() => "SIGTERM",
    }
}

fn log(message: &str) {
    eprintln!("[bench-scaling] {message}");
}

async fn run(args: Args) -> Result<()> {
    if let Some(path) = &args.from_results {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let results: Results = serde_json::from_str(&text).context("results.json")?;
        return finish(&args, &results);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let seed = args.seed.unwrap_or_else(machine::clock_seed);
    let target = match (&args.url, args.target) {
        (Some(_), _) => "an existing deployment (--url)".to_string(),
        (None, Target::Local) => "local: the stack as `make dev` starts it".to_string(),
        (None, Target::Compose) => "compose: the deployment's `make prod-up-cpu`".to_string(),
    };
    let max_listeners = if args.url.is_some() {
        if args.max_listeners > URL_MAX_LISTENERS {
            bail!("--url mode allows at most {URL_MAX_LISTENERS} listeners (--max-listeners)");
        }
        args.max_listeners
    } else {
        args.max_listeners.max(1)
    };
    if args.target == Target::Compose
        && args.url.is_none()
        && let Some(reason) = stack::compose_unavailable(Path::new(".")).await
    {
        bail!("--target compose is off here: {reason}");
    }
    let grid: Vec<Option<Config>> = if args.url.is_some() {
        vec![None]
    } else if args.grid.is_empty() {
        grid::default_grid(cores).into_iter().map(Some).collect()
    } else {
        args.grid.iter().copied().map(Some).collect()
    };
    let slots: Vec<(Option<Config>, u32)> = if args.url.is_some() {
        (1..=args.repeats).map(|round| (None, round)).collect()
    } else {
        let configs: Vec<Config> = grid.iter().flatten().copied().collect();
        grid::schedule(&configs, args.repeats, seed)
            .into_iter()
            .map(|s| (Some(s.config), s.round))
            .collect()
    };

    let mut header = machine::environment();
    if args.wait_idle_secs > 0.0 {
        let idle = idle::wait_for_idle(
            Duration::from_secs_f64(args.wait_idle_secs),
            "before the benchmark",
        )
        .await;
        header.push(format!("- {idle}"));
    }
    header.push(format!(
        "- command: `{}`",
        std::env::args().collect::<Vec<_>>().join(" ")
    ));
    header.push(
        "- the load generator (one thread) shares the machine with the stack; its CPU is in the \
         per-level table"
            .into(),
    );
    let mut results = Results {
        header,
        cores,
        method: Method {
            listen_s: args.listen_secs,
            playback: args.playback,
            arrival_s: args.arrival_secs,
            prefetch_ahead: listener::PREFETCH_AHEAD,
            paragraphs: args.paragraphs,
            target,
            seed,
        },
        runs: Vec::new(),
        notes: Vec::new(),
    };
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    let (mut tokens, fixed_tokens) = match &args.tokens_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let tokens: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            if tokens.is_empty() {
                bail!("{} holds no session token", path.display());
            }
            (tokens, true)
        }
        None => (Vec::new(), false),
    };
    let mut documents = documents::Documents::new(seed);
    let shared = shared_processes(&args).await;
    let started = Instant::now();
    let budget = Duration::from_secs_f64(args.max_minutes * 60.0);
    log(&format!(
        "{} runs: {}",
        slots.len(),
        slots
            .iter()
            .map(|(c, r)| format!("{}#{r}", c.map_or("deployment".into(), |c| c.to_string())))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    for (i, &(config, round)) in slots.iter().enumerate() {
        let label = config.map_or("deployment".into(), |c| c.to_string());
        if started.elapsed() > budget {
            results.notes.push(format!(
                "**{} of {} runs skipped**: --max-minutes {} reached",
                slots.len() - i,
                slots.len(),
                args.max_minutes
            ));
            break;
        }
        // Later runs of a configuration start at the edge its earlier runs found (ramp.rs).
        let earlier: Vec<f64> = results
            .runs
            .iter()
            .filter(|r| r.config == config && r.error.is_none() && !r.levels.is_empty())
            .map(|r| r.saturation().0 as f64)
            .collect();
        let first_level =
            results::spread(&earlier).map_or(1, |s| (s.median.round() as usize).max(1));
        log(&format!(
            "run {}/{}: {label}, round {round}, from {first_level} listener{}",
            i + 1,
            slots.len(),
            if first_level == 1 { "" } else { "s" }
        ));
        let run = one_run(
            &args,
            config,
            round,
            i,
            (first_level, max_listeners),
            &mut tokens,
            fixed_tokens,
            &mut documents,
            &shared,
        )
        .await;
        if let Some(error) = &run.error {
            log(&format!("{label} round {round}: {error}"));
        }
        results.runs.push(run);
        let json = serde_json::to_string(&results)?;
        std::fs::write(args.out_dir.join("results.json"), json)?;
    }
    if args.wait_idle_secs > 0.0 {
        let after = idle::wait_for_idle(Duration::ZERO, "just after the benchmark").await;
        results.header.push(format!("- {after}"));
    }
    results.header.push(format!(
        "- {} runs in {:.1} minutes",
        results.runs.len(),
        started.elapsed().as_secs_f64() / 60.0
    ));
    std::fs::write(
        args.out_dir.join("results.json"),
        serde_json::to_string(&results)?,
    )?;
    finish(&args, &results)
}

/// Redis, Postgres and this client: the processes every run shares.
async fn shared_processes(args: &Args) -> Vec<Watched> {
    let mut watched = vec![Watched {
        label: "bench client".into(),
        pid: std::process::id(),
        alone: true,
    }];
    if args.url.is_some() || args.target != Target::Local {
        return watched;
    }
    match stack::redis_pid(&args.redis_url).await {
        Ok(pid) => watched.push(Watched {
            label: "redis".into(),
            pid,
            alone: false,
        }),
        Err(e) => log(&format!("Redis's CPU is not counted: {e:#}")),
    }
    if let Some(pid) = args.postgres_pid {
        watched.push(Watched {
            label: "postgres".into(),
            pid,
            alone: false,
        });
    }
    watched
}

#[allow(clippy::too_many_arguments)]
async fn one_run(
    args: &Args,
    config: Option<Config>,
    round: u32,
    index: usize,
    listeners: (usize, usize),
    tokens: &mut Vec<String>,
    fixed_tokens: bool,
    documents: &mut documents::Documents,
    shared: &[Watched],
) -> RunResult {
    let started = Instant::now();
    let mut run = RunResult {
        config,
        round,
        levels: Vec::new(),
        peak_rss_mib: Vec::new(),
        start_s: 0.0,
        seconds: 0.0,
        error: None,
    };
    let stack = match (config, &args.url) {
        (_, Some(_)) | (None, _) => None,
        (Some(config), None) => {
            let started_stack = match args.target {
                Target::Local => {
                    let Some(database_url) = args.database_url.clone() else {
                        run.error = Some(
                            "--database-url (DATABASE_URL) is required for --target local".into(),
                        );
                        return run;
                    };
                    let settings = stack::LocalSettings {
                        bin_dir: args.bin_dir.clone(),
                        model_dir: args.model_dir.clone(),
                        database_url,
                        redis_url: args.redis_url.clone(),
                        log_dir: args.out_dir.join("logs"),
                        base_port: args.base_port,
                        rust_log: args.rust_log.clone(),
                    };
                    stack::start_local(
                        &settings,
                        config,
                        &format!("{:02}-{}x{}", index + 1, config.replicas, config.threads),
                    )
                    .await
                }
                Target::Compose => {
                    let settings = stack::ComposeSettings {
                        up: args.compose_up.clone(),
                        down: args.compose_down.clone(),
                        project: args.compose_project.clone(),
                        port: args.compose_port,
                    };
                    stack::start_compose(&settings, config, args.operator_token.as_deref()).await
                }
            };
            match started_stack {
                Ok(stack) => Some(stack),
                Err(e) => {
                    run.error = Some(format!("{e:#}"));
                    return run;
                }
            }
        }
    };
    run.start_s = started.elapsed().as_secs_f64();
    let base = match (&stack, &args.url) {
        (Some(stack), _) => stack.gateway_url().to_string(),
        (None, Some(url)) => url.trim_end_matches('/').to_string(),
        (None, None) => {
            run.error = Some("nothing to run against".into());
            return run;
        }
    };
    let mut watched = shared.to_vec();
    if let Some(stack) = &stack {
        watched.extend(stack.watched().await);
    }
    let outcome = levels(
        args,
        &base,
        listeners,
        tokens,
        fixed_tokens,
        documents,
        watched.clone(),
        &mut run,
    )
    .await;
    if let Err(e) = outcome {
        run.error = Some(format!("{e:#}"));
    }
    run.peak_rss_mib = watched
        .iter()
        .filter(|w| w.label != "bench client" && w.label != "redis" && w.label != "postgres")
        .filter_map(|w| Some((w.label.clone(), procs::peak_rss_mib(w.pid)?)))
        .collect();
    if let Some(stack) = stack
        && let Err(e) = stack.stop().await
    {
        log(&format!("stopping the stack: {e:#}"));
    }
    run.seconds = started.elapsed().as_secs_f64();
    run
}

#[allow(clippy::too_many_arguments)]
/// Ramps the load on one stack from `listeners.0` listeners, at most `listeners.1`.
async fn levels(
    args: &Args,
    base: &str,
    listeners: (usize, usize),
    tokens: &mut Vec<String>,
    fixed_tokens: bool,
    documents: &mut documents::Documents,
    watched: Vec<Watched>,
    run: &mut RunResult,
) -> Result<()> {
    let probe = if tokens.is_empty() {
        api::Gateway::connect(base, None).await?
    } else {
        api::Gateway::connect(base, Some(tokens[0].clone())).await?
    };
    if !fixed_tokens && tokens.is_empty() {
        tokens.push(probe.token().to_string());
    }
    let voice = probe.voice(&args.model, args.voice.as_deref()).await?;
    let mut load = level::Load {
        base: base.to_string(),
        voice,
        tokens,
        fixed_tokens,
        documents,
        paragraphs: args.paragraphs,
        playback: args.playback,
        arrival_window: Duration::from_secs_f64(args.arrival_secs),
        session: Duration::from_secs_f64(args.listen_secs),
        // A stack started here shows its gateway's details with the token it was given.
        operator_token: args.operator_token.clone().or_else(|| {
            (args.url.is_none() && args.target == Target::Local)
                .then(|| stack::LOCAL_OPERATOR_TOKEN.to_string())
        }),
        watched,
    };
    let mut ramp = ramp::Ramp::starting_at(listeners.1, listeners.0);
    while let Some(listeners) = ramp.next() {
        if run.levels.len() >= args.max_levels {
            log(&format!("--max-levels {} reached", args.max_levels));
            break;
        }
        let (level, drained) = level::run(&mut load, listeners).await?;
        let throughput = level.throughput();
        log(&format!(
            "{} listeners: {} of {} not served, throughput {:.2} audio s/s, first sound p50 {}, block p95 {}",
            listeners,
            level.outcomes.iter().filter(|o| !o.served()).count(),
            level.outcomes.len(),
            throughput,
            fmt_secs(results::percentile(&level.first_sounds(), 50.0)),
            fmt_secs(results::percentile(&level.latencies(), 95.0)),
        ));
        ramp.record(listeners, level.clean(), throughput);
        run.levels.push(level);
        drained.with_context(|| format!("after {listeners} listeners"))?;
    }
    Ok(())
}

fn fmt_secs(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.1} s"))
}

/// Prints the report, writes it and the plots.
fn finish(args: &Args, results: &Results) -> Result<()> {
    let text = report::render(results);
    print!("{text}");
    std::fs::create_dir_all(&args.out_dir)?;
    let path = args.out_dir.join("report.md");
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    log(&format!("report written to {}", path.display()));
    if let Some(rule) = report::capacity_rule(results) {
        log(&format!(
            "capacity rule: {} thread(s) per replica, {} replica(s) per core ({} here, {} runs): \
             KOKORO_REPLICAS={} KOKORO_THREADS={} on this machine, about {:.2} listeners per core",
            rule.threads,
            rule.replicas_per_core,
            rule.best,
            rule.runs,
            rule.replicas_for(results.cores),
            rule.threads,
            rule.listeners_per_core.median,
        ));
    }
    match plots::write_all(results, &args.out_dir) {
        Ok(paths) => log(&format!("plots: {}", paths.join(", "))),
        Err(e) => log(&format!("plots failed: {e:#}")),
    }
    if results.runs.iter().all(|r| r.levels.is_empty()) {
        bail!("no run measured anything");
    }
    Ok(())
}
