//! `make bench-gateway`: the synthesis pipeline under load, beside its ceilings.
//!
//! Three measurements against a running gateway, its Kokoro worker and its Redis, printed as one
//! markdown table (also written to `--out`, default `.local/bench-gateway.md`):
//!
//! 1. **Cached round trip.** 100, 500 and 1,000 WebSocket clients (`--clients`), each on its own
//!    connection, loop for `--duration-secs` after `--warmup-secs`: send `synthesize` for one
//!    already-cached block, wait for its `status: cached`. p50/p99 of that round trip
//!    (hdrhistogram) and round trips per second, in two loops (`--loops`): closed (the next
//!    request as soon as the last is answered: the gateway's saturation throughput) and open
//!    (one request per client every `--pace-ms`, as players send them). Target: p99 under
//!    10 ms at 1,000 clients.
//! 2. **Serving audio.** `--http-clients` keep-alive HTTP/1.1 clients fetch the same clip (a
//!    fresh block of up to 300 characters, ~17 s of audio) from `GET /v1/audio/{hash}` in a closed
//!    loop; beside it `redis-benchmark -t get -d <clip size> -c <same clients> -q` against the
//!    gateway's Redis, the ceiling for audio held in Redis.
//! 3. **Uncached block.** A fresh 300-character paragraph through the whole path (new document,
//!    `synthesize`, wait for `cached`) against the same sentences in another order sent to the
//!    worker's gRPC `Synthesize` directly, consumed to the last chunk; median of `--uncached-runs`
//!    each, after one warm-up pair. Target: the path adds under 5 % to the synthesis time.
//!
//! The voice is the first available voice of `--model` in `GET /v1/models` unless `--voice`.
//!
//! The client shares the machine with what it measures: keep it lean. It runs one tokio runtime,
//! current-thread by default (`--client-threads`), and the report says so. Before it starts it
//! waits (`--wait-idle-secs`, 120) for the machine to go quiet; the header says how busy it was.
//!
//! # Running it
//!
//! `scripts/bench-gateway.sh [bench-gateway options]` (what `make bench-gateway` runs, after
//! `cargo build --release --workspace`) starts everything it needs and stops it on exit:
//! Postgres (`scripts/postgres.sh`) and Redis (`scripts/redis.sh`, port 63799), one
//! `tts-kokoro-worker serve` with `KOKORO_THREADS=2` on a free port, and the release gateway on a
//! free port with a fresh `REDIS_PREFIX` (its keys are deleted afterwards) and a temporary
//! `AUDIO_DIR`. It raises `ulimit -n` for the 1,000 sockets, waits for `/api/health` and for the
//! model to be available in `/v1/models`, then runs `target/release/bench-gateway` with the
//! addresses; every argument is passed on. Its environment:
//!
//! - `ORT_DYLIB_PATH`: ONNX Runtime for the worker (make passes it; else taken from `.venv`).
//! - `KOKORO_MODEL_DIR`: the model files (default `models/`).
//! - `BENCH_LOG_DIR`: where the worker's and gateway's logs go (default `.local/bench-gateway/`).
//! - `BENCH_RUST_LOG`: the gateway's and worker's `RUST_LOG` (default `warn`: a log line per
//!   message would be part of the measurement).
//!
//! Against an already running stack, run the binary alone:
//! `target/release/bench-gateway --gateway http://127.0.0.1:8000 --worker http://127.0.0.1:50051
//! --redis-url redis://127.0.0.1:63799`.

mod audio;
mod cached;
mod report;
mod uncached;

use bench_gateway::{api, idle, machine, texts};

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};

use report::{AudioStage, Report};

#[derive(Parser)]
#[command(
    about = "The yapit gateway under load: cached round trips, audio serving, uncached overhead."
)]
struct Args {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    gateway: String,
    /// The Kokoro worker's gRPC URL, for the direct-synthesis comparison.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    worker: String,
    /// The gateway's Redis, for the redis-benchmark ceiling.
    #[arg(long, default_value = "redis://127.0.0.1:63799")]
    redis_url: String,
    /// A session token; without one a fresh account is signed up.
    #[arg(long, env = "BENCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Model slug in `/v1/models`.
    #[arg(long, default_value = "kokoro")]
    model: String,
    /// Voice slug; default: the model's first available voice.
    #[arg(long)]
    voice: Option<String>,
    /// Which measurements to run, in this order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "uncached,audio,cached"
    )]
    stages: Vec<StageName>,

    /// Concurrent WebSocket clients, one level after another.
    #[arg(long, value_delimiter = ',', default_value = "100,500,1000")]
    clients: Vec<usize>,
    /// Measured seconds per level (and for the audio stage).
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// Unmeasured seconds before each measured window.
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    /// Cached blocks the clients spread over (client i asks for block i mod this).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=16))]
    cached_blocks: u16,
    /// WebSocket connections opened at once while a level connects its clients.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// How cached-stage clients pace their requests; each loop runs every client level.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "closed,open")]
    loops: Vec<LoopName>,
    /// The open loop: each client sends one request every this many milliseconds. A player asks
    /// once per block it reaches (a block lasts seconds), so 1,000 ms is several times busier.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pace_ms: u64,

    /// Concurrent keep-alive clients fetching the clip (and redis-benchmark's -c).
    #[arg(long, default_value_t = 64)]
    http_clients: usize,
    /// redis-benchmark's -n.
    #[arg(long, default_value_t = 10_000)]
    redis_requests: u64,

    /// Measured pairs (pipeline and direct) in the uncached stage.
    #[arg(long, default_value_t = 5)]
    uncached_runs: usize,
    /// Longest uncached paragraph, in characters: the gateway's MAX_BLOCK_CHARS.
    #[arg(long, default_value_t = 300)]
    block_chars: usize,

    /// Worker threads of the client's tokio runtime; 1 is a current-thread runtime.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Before starting, wait at most this long for the machine to go quiet (0: don't wait).
    #[arg(long, default_value_t = 120.0)]
    wait_idle_secs: f64,
    /// Where the report is written as well as printed.
    #[arg(long, default_value = ".local/bench-gateway.md")]
    out: PathBuf,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum LoopName {
    Closed,
    Open,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum StageName {
    Uncached,
    Audio,
    Cached,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = if args.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.client_threads)
            .enable_all()
            .build()
    };
    let result = runtime
        .context("starting the tokio runtime")
        .and_then(|rt| rt.block_on(run(&args)));
    match result {
        Ok(report) => {
            let text = report.render();
            print!("{text}");
            if let Err(e) = write_report(&args.out, &text) {
                eprintln!("[bench-gateway] {e:#}");
                return ExitCode::FAILURE;
            }
            eprintln!("[bench-gateway] report written to {}", args.out.display());
            if report.any_failed() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("[bench-gateway] {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn write_report(path: &PathBuf, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn log(message: &str) {
    eprintln!("[bench-gateway] {message}");
}

async fn run(args: &Args) -> Result<Report> {
    let mut header = machine::environment();
    let gateway = api::Gateway::connect(&args.gateway, args.token.clone()).await?;
    let voice = gateway.voice(&args.model, args.voice.as_deref()).await?;
    let runtime = if args.client_threads <= 1 {
        "a current-thread tokio runtime".to_string()
    } else {
        format!("a tokio runtime of {} threads", args.client_threads)
    };
    header.push(format!(
        "- gateway {}, worker {}, Redis {}; model {}, voice {}",
        args.gateway, args.worker, args.redis_url, voice.model, voice.voice
    ));
    header.push(format!(
        "- the bench client ({runtime}) runs on the same cores as the gateway, worker, Redis and \
         Postgres: every number includes its CPU time"
    ));
    if args.wait_idle_secs > 0.0 {
        let limit = Duration::from_secs_f64(args.wait_idle_secs);
        let idle = idle::wait_for_idle(limit, "before the run").await;
        header.push(format!("- {idle}"));
    }
    header.push(format!(
        "- command: `{}`",
        std::env::args().collect::<Vec<_>>().join(" ")
    ));
    let duration = Duration::from_secs_f64(args.duration_secs);
    let warmup = Duration::from_secs_f64(args.warmup_secs);
    let mut report = Report {
        header,
        cached: None,
        audio: None,
        uncached: None,
        notes: Vec::new(),
    };

    let mut clip = None;
    for stage in &args.stages {
        match stage {
            StageName::Uncached => {
                log("uncached: pipeline against direct gRPC");
                let settings = uncached::Settings {
                    runs: args.uncached_runs,
                    block_chars: args.block_chars,
                    seed: machine::clock_seed(),
                    limit: Duration::from_secs(300),
                };
                let result = uncached::run(&gateway, &args.worker, &voice, &settings).await;
                if let Ok(comparison) = &result {
                    clip = comparison
                        .clip
                        .as_ref()
                        .map(|c| (c.audio_url.clone(), c.duration_ms));
                    report.notes.push(uncached_note(comparison));
                }
                report.uncached = Some(result.map_err(|e| format!("{e:#}")));
            }
            StageName::Audio => {
                log("audio: GET /v1/audio beside redis-benchmark");
                let result =
                    audio_stage(args, &gateway, &voice, clip.clone(), warmup, duration).await;
                if let Ok(stage) = &result {
                    report.notes.push(audio_note(args, stage, warmup, duration));
                }
                report.audio = Some(result.map_err(|e| format!("{e:#}")));
            }
            StageName::Cached => {
                report.cached = Some(
                    cached_stage(args, &gateway, &voice, warmup, duration, &mut report.notes)
                        .await
                        .map_err(|e| format!("{e:#}")),
                );
            }
        }
    }
    if args.wait_idle_secs > 0.0 {
        // One sample, no waiting: other work that started mid-run shows up here.
        let after = idle::wait_for_idle(Duration::ZERO, "just after the run").await;
        report.header.push(format!("- {after}"));
    }
    Ok(report)
}

async fn cached_stage(
    args: &Args,
    gateway: &api::Gateway,
    voice: &api::Voice,
    warmup: Duration,
    duration: Duration,
    notes: &mut Vec<String>,
) -> Result<Vec<Result<cached::Level, String>>> {
    log(&format!("cached: warming {} blocks", args.cached_blocks));
    let (document_id, indices) =
        cached::prepare(gateway, voice, usize::from(args.cached_blocks)).await?;
    let settings = cached::Settings {
        duration,
        warmup,
        connect_concurrency: args.connect_concurrency.max(1),
        round_trip_limit: Duration::from_secs(10),
    };
    let pace = Duration::from_millis(args.pace_ms);
    let mut levels = Vec::new();
    let mut connect_times = Vec::new();
    for name in &args.loops {
        let pacing = match name {
            LoopName::Closed => cached::Loop::Closed,
            LoopName::Open => cached::Loop::Open { pace },
        };
        for &clients in &args.clients {
            let label = format!("cached, {}, {clients} clients", report::loop_name(pacing));
            log(&label);
            let level = cached::run_level(
                gateway,
                voice,
                &document_id,
                &indices,
                clients,
                pacing,
                &settings,
            )
            .await;
            if let Ok(level) = &level {
                connect_times.push(format!(
                    "{} in {:.1} s",
                    level.clients,
                    level.connect_time.as_secs_f64()
                ));
                if let Some(error) = &level.first_error {
                    notes.push(format!(
                        "{label}: {} clients stopped early; first error: {error}",
                        level.failed_clients
                    ));
                }
                log(&format!(
                    "{label}: p50 {:?}, p99 {:?}, {:.0} round trips/s",
                    report::percentile(&level.round_trips, 50.0),
                    report::percentile(&level.round_trips, 99.0),
                    level.per_second
                ));
            }
            levels.push(level.map_err(|e| format!("{e:#}")));
        }
    }
    notes.push(format!(
        "cached round trip: {} blocks of one document, synthesized once beforehand; each client \
         asks for one block (cursor = that block), one request in flight; closed loop: the next \
         request as soon as the answer is in (saturation); open loop: one request every {} ms per \
         client, clients spread evenly over that period, each round trip timed from its scheduled \
         send; {:.0} s unmeasured, then {:.0} s measured per level; connections opened {} at a \
         time before the clock starts ({})",
        indices.len(),
        args.pace_ms,
        warmup.as_secs_f64(),
        duration.as_secs_f64(),
        settings.connect_concurrency,
        connect_times.join(", ")
    ));
    Ok(levels)
}

async fn audio_stage(
    args: &Args,
    gateway: &api::Gateway,
    voice: &api::Voice,
    clip: Option<(String, Option<u64>)>,
    warmup: Duration,
    duration: Duration,
) -> Result<AudioStage> {
    // Without the uncached stage, make a clip of the same kind: one fresh full-length block.
    let (audio_url, clip_duration_ms) = match clip {
        Some(clip) => clip,
        None => {
            let (text, _) =
                texts::FreshParagraphs::new(machine::clock_seed(), args.block_chars).pair();
            let (id, block) = gateway
                .single_block_document("bench-gateway: clip", &text)
                .await?;
            let mut ws = api::ws_connect(&gateway.ws_url()).await?;
            let cached =
                api::synthesize_block(&mut ws, &id, block.idx, voice, Duration::from_secs(300))
                    .await?;
            (cached.audio_url, cached.duration_ms)
        }
    };
    let payload = audio::fetch_clip(gateway, &audio_url).await?;
    let served = audio::serve(
        gateway,
        &audio_url,
        payload.len(),
        args.http_clients,
        warmup,
        duration,
    )
    .await?;
    log(&format!(
        "audio: {:.0} req/s; redis-benchmark next",
        served.per_second
    ));
    let ceiling = audio::redis_ceiling(
        &args.redis_url,
        &payload,
        args.http_clients,
        args.redis_requests,
    )
    .map_err(|e| format!("{e:#}"));
    Ok(AudioStage {
        served,
        clip_duration_ms,
        ceiling,
    })
}

fn audio_note(args: &Args, stage: &AudioStage, warmup: Duration, duration: Duration) -> String {
    let mut note = format!(
        "audio: one clip of {} bytes fetched whole by every request, one request in flight per \
         client, {:.0} s unmeasured then {:.0} s measured",
        stage.served.bytes,
        warmup.as_secs_f64(),
        duration.as_secs_f64()
    );
    match &stage.ceiling {
        Ok(ceiling) => note.push_str(&format!(
            "; ceiling: `{}` on a key holding the same bytes",
            ceiling.command
        )),
        Err(_) => note.push_str(&format!(
            "; redis-benchmark against {} failed",
            args.redis_url
        )),
    }
    if let Some(error) = &stage.served.first_error {
        note.push_str(&format!(
            "; {} clients stopped early, first error: {error}",
            stage.served.failed_clients
        ));
    }
    note
}

fn uncached_note(comparison: &uncached::Comparison) -> String {
    let runs = |runs: &[uncached::Run]| {
        runs.iter()
            .map(|r| match r.audio_seconds {
                Some(a) => format!(
                    "{:.2} s ({} chars, {a:.1} s audio)",
                    r.wall.as_secs_f64(),
                    r.chars
                ),
                None => format!("{:.2} s ({} chars)", r.wall.as_secs_f64(), r.chars),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "uncached: one warm-up pair, then pairs alternating which side goes first; pipeline runs: \
         {}; direct gRPC runs: {}",
        runs(&comparison.pipeline),
        runs(&comparison.direct)
    )
}
