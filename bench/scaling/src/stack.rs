//! The stack under test: started here as `make dev` starts it (local), brought up through the
//! deployment's compose files (compose), or an existing deployment left as it is (url).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use std::process::{Child, Command};

use tokio::time::Instant;

use crate::{
    grid::Config,
    procs::{self, Watched},
};

/// `GET /api/health`, the parts the benchmark reads. Details may need an operator token on a
/// hardened gateway; without them the benchmark waits a fixed time instead.
#[derive(Deserialize)]
pub struct Health {
    #[serde(default)]
    pub models: HashMap<String, ModelHealth>,
}

#[derive(Deserialize)]
pub struct ModelHealth {
    pub replicas: Option<u32>,
    pub queued: Option<u64>,
    pub processing: Option<u64>,
    pub in_flight: Option<u64>,
}

/// The operator token of the gateway a local stack starts, so that its health shows details.
pub const LOCAL_OPERATOR_TOKEN: &str = "bench-scaling-local-operator";

/// Reads the gateway's health (with the operator's token when one is given).
pub async fn health(http: &reqwest::Client, base: &str, token: Option<&str>) -> Result<Health> {
    let mut request = http.get(format!("{base}/api/health"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.context("GET /api/health")?;
    if !response.status().is_success() {
        bail!("GET /api/health: {}", response.status());
    }
    response.json().await.context("GET /api/health: body")
}

/// Waits until the model's queue is empty and no worker renders anything, so one level's
/// leftovers do not load the next. Without queue details in the health answer, waits `fallback`.
pub async fn drain(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    model: &str,
    limit: Duration,
    fallback: Duration,
) -> Result<()> {
    let start = Instant::now();
    loop {
        let health = health(http, base, token).await?;
        let Some(m) = health.models.get(model) else {
            tokio::time::sleep(fallback).await;
            return Ok(());
        };
        let (Some(queued), Some(processing)) = (m.queued, m.processing) else {
            tokio::time::sleep(fallback).await;
            return Ok(());
        };
        if queued == 0 && processing == 0 && m.in_flight.unwrap_or(0) == 0 {
            return Ok(());
        }
        if start.elapsed() >= limit {
            bail!(
                "the queue did not drain within {limit:?} ({queued} queued, {processing} processing)"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Where the local stack's binaries, model and services are.
pub struct LocalSettings {
    pub bin_dir: PathBuf,
    pub model_dir: Option<PathBuf>,
    pub database_url: String,
    pub redis_url: String,
    pub log_dir: PathBuf,
    /// Ports from here up (gateway, then one per replica); else free ports the system picks.
    pub base_port: Option<u16>,
    pub rust_log: String,
}

/// How the compose deployment is brought up and down (see the crate's documentation).
pub struct ComposeSettings {
    pub up: String,
    pub down: String,
    pub project: String,
    pub port: u16,
}

pub enum Stack {
    Local(LocalStack),
    Compose(ComposeStack),
}

pub struct LocalStack {
    pub gateway_url: String,
    children: Vec<(String, Child)>,
    redis_url: String,
    redis_prefix: String,
    audio_dir: PathBuf,
    log_dir: PathBuf,
}

pub struct ComposeStack {
    pub gateway_url: String,
    down: String,
    project: String,
}

impl Stack {
    pub fn gateway_url(&self) -> &str {
        match self {
            Self::Local(s) => &s.gateway_url,
            Self::Compose(s) => &s.gateway_url,
        }
    }

    /// The gateway and each replica, by label (`gateway`, `kokoro-1`, …).
    pub async fn watched(&self) -> Vec<Watched> {
        match self {
            Self::Local(s) => s
                .children
                .iter()
                .map(|(label, child)| Watched {
                    label: label.clone(),
                    pid: child.id(),
                    alone: false,
                })
                .collect(),
            Self::Compose(s) => compose_processes(&s.project).await.unwrap_or_else(|e| {
                eprintln!("[bench-scaling] compose: no per-process CPU ({e:#})");
                Vec::new()
            }),
        }
    }

    pub async fn stop(self) -> Result<()> {
        match self {
            Self::Local(s) => s.stop().await,
            Self::Compose(s) => shell(s.down, Vec::new()).await,
        }
    }
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn log_file(dir: &Path, name: &str) -> Result<std::fs::File> {
    std::fs::File::create(dir.join(name))
        .with_context(|| format!("creating {name} in {}", dir.display()))
}

/// Starts `config.replicas` workers of `config.threads` threads and a gateway in front of them
/// (a fresh Redis prefix and audio folder, so nothing is cached), and waits until the gateway
/// sees every replica.
pub async fn start_local(settings: &LocalSettings, config: Config, run: &str) -> Result<Stack> {
    let ports: Vec<u16> = match settings.base_port {
        Some(base) => (0..=config.replicas)
            .map(|i| {
                base.checked_add(i as u16)
                    .ok_or_else(|| anyhow!("--base-port too high"))
            })
            .collect::<Result<_>>()?,
        None => (0..=config.replicas)
            .map(|_| free_port())
            .collect::<Result<_>>()?,
    };
    let log_dir = settings.log_dir.join(run);
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let audio_dir =
        std::env::temp_dir().join(format!("bench-scaling-audio-{}-{run}", std::process::id()));
    let mut stack = LocalStack {
        gateway_url: format!("http://127.0.0.1:{}", ports[0]),
        children: Vec::new(),
        redis_url: settings.redis_url.clone(),
        redis_prefix: format!("bench-scaling-{}-{run}:", std::process::id()),
        audio_dir,
        log_dir,
    };
    let mut workers = Vec::new();
    for (i, port) in ports[1..].iter().enumerate() {
        let label = format!("kokoro-{}", i + 1);
        let log = log_file(&stack.log_dir, &format!("{label}.log"))?;
        let mut command = Command::new(settings.bin_dir.join("tts-kokoro-worker"));
        command
            .arg("serve")
            .env("KOKORO_ADDR", format!("127.0.0.1:{port}"))
            .env("KOKORO_THREADS", config.threads.to_string())
            .env("RUST_LOG", &settings.rust_log);
        if let Some(dir) = &settings.model_dir {
            command.env("KOKORO_MODEL_DIR", dir);
        }
        let child = spawn(command, log, &label)?;
        stack.children.push((label, child));
        workers.push(format!("http://127.0.0.1:{port}"));
    }
    let log = log_file(&stack.log_dir, "gateway.log")?;
    let mut command = Command::new(settings.bin_dir.join("gateway"));
    command
        .env("GATEWAY_ADDR", format!("127.0.0.1:{}", ports[0]))
        .env("DATABASE_URL", &settings.database_url)
        .env("REDIS_URL", &settings.redis_url)
        .env("REDIS_PREFIX", &stack.redis_prefix)
        .env("TTS_WORKERS", workers.join(","))
        .env("AUDIO_DIR", &stack.audio_dir)
        .env("AUTH_ENABLED", "true")
        // Every listener signs up once, from this one address.
        .env("SIGN_IN_PER_MINUTE", "10000")
        .env("SIGN_UP_PER_HOUR", "100000")
        .env("OPERATOR_TOKEN", LOCAL_OPERATOR_TOKEN)
        // Replicas are found within a quarter second of their start.
        .env("WORKER_PROBE_MS", "250")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", &settings.rust_log);
    let child = spawn(command, log, "gateway")?;
    stack.children.push(("gateway".into(), child));
    match stack.wait_ready(config.replicas).await {
        Ok(()) => Ok(Stack::Local(stack)),
        Err(e) => {
            let logs = stack.log_dir.display().to_string();
            let _ = stack.stop().await;
            Err(e.context(format!("starting {config}; logs in {logs}")))
        }
    }
}

fn spawn(mut command: Command, log: std::fs::File, label: &str) -> Result<Child> {
    let err = log.try_clone()?;
    command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {label}"))
}

/// Runs a blocking call (a child process to its end) off the benchmark's one thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("a blocking task panicked")
}

impl Drop for LocalStack {
    /// A run that ends in an error (or a panic) leaves no process behind.
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl LocalStack {
    async fn wait_ready(&mut self, replicas: u32) -> Result<()> {
        let http = bench_gateway::api::http_client(1)?;
        let start = Instant::now();
        // Loading the model takes seconds per replica, longer when they share a few cores.
        let limit = Duration::from_secs(60 + 30 * u64::from(replicas));
        loop {
            for (label, child) in &mut self.children {
                if let Some(status) = child.try_wait()? {
                    bail!("{label} exited while starting: {status}");
                }
            }
            if let Ok(health) = health(&http, &self.gateway_url, Some(LOCAL_OPERATOR_TOKEN)).await {
                let seen = health
                    .models
                    .get("kokoro")
                    .and_then(|m| m.replicas)
                    .unwrap_or(0);
                if seen >= replicas {
                    return Ok(());
                }
            }
            if start.elapsed() > limit {
                bail!("the gateway did not see {replicas} replicas within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// SIGTERM to every process, SIGKILL to any still running after 15 s; then the run's Redis
    /// keys and audio folder are removed.
    async fn stop(mut self) -> Result<()> {
        for (_, child) in &self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for (label, child) in &mut self.children {
            while matches!(child.try_wait(), Ok(None)) {
                if Instant::now() >= deadline {
                    eprintln!("[bench-scaling] {label} ignored SIGTERM for 15 s; killing it");
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.audio_dir);
        delete_keys(&self.redis_url, &self.redis_prefix).await
    }
}

/// Deletes every Redis key under `prefix` (the run's queues and hot audio).
async fn delete_keys(redis_url: &str, prefix: &str) -> Result<()> {
    let client = redis::Client::open(redis_url).context("the Redis URL")?;
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to Redis")?;
    let keys: Vec<String> = {
        let mut iter: redis::AsyncIter<String> =
            redis::AsyncCommands::scan_match(&mut connection, format!("{prefix}*")).await?;
        let mut keys = Vec::new();
        while let Some(key) = futures_util::StreamExt::next(&mut iter).await {
            keys.push(key?);
        }
        keys
    };
    for chunk in keys.chunks(500) {
        let _: () = redis::AsyncCommands::del(&mut connection, chunk).await?;
    }
    Ok(())
}

/// The Redis server's process id (`INFO server`), to count its CPU.
pub async fn redis_pid(redis_url: &str) -> Result<u32> {
    let client = redis::Client::open(redis_url).context("the Redis URL")?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut connection)
        .await?;
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .ok_or_else(|| anyhow!("no process_id in Redis's INFO server"))
}

/// Why the compose mode cannot run here, if it cannot: it needs a Docker engine that answers,
/// the deployment's `compose/` folder and its `prod-up-cpu` make target.
pub async fn compose_unavailable(root: &Path) -> Option<String> {
    let docker = blocking(|| {
        Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    })
    .await;
    if !docker.is_ok_and(|s| s.is_ok_and(|s| s.success())) {
        return Some("no Docker engine answers `docker info`".into());
    }
    if !root.join("compose").is_dir() {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        return Some(format!(
            "{} has no compose/ folder (the deployment's compose files)",
            root.display()
        ));
    }
    let makefile = std::fs::read_to_string(root.join("Makefile")).unwrap_or_default();
    if !makefile.lines().any(|l| l.starts_with("prod-up-cpu:")) {
        return Some("the Makefile has no prod-up-cpu target".into());
    }
    None
}

/// Brings the compose deployment up with `config` (`KOKORO_REPLICAS`, `KOKORO_THREADS`, the
/// gateway published on `GATEWAY_PORT`) and waits until its health shows every replica.
pub async fn start_compose(
    settings: &ComposeSettings,
    config: Config,
    operator_token: Option<&str>,
) -> Result<Stack> {
    let env = [
        ("KOKORO_REPLICAS", config.replicas.to_string()),
        ("KOKORO_THREADS", config.threads.to_string()),
        ("GATEWAY_PORT", settings.port.to_string()),
    ];
    shell(settings.up.clone(), env.to_vec()).await?;
    let stack = ComposeStack {
        gateway_url: format!("http://127.0.0.1:{}", settings.port),
        down: settings.down.clone(),
        project: settings.project.clone(),
    };
    let http = bench_gateway::api::http_client(1)?;
    let start = Instant::now();
    let limit = Duration::from_secs(120 + 30 * u64::from(config.replicas));
    loop {
        if let Ok(health) = health(&http, &stack.gateway_url, operator_token).await {
            let seen = health.models.get("kokoro").and_then(|m| m.replicas);
            if seen.is_some_and(|n| n >= config.replicas) {
                return Ok(Stack::Compose(stack));
            }
        }
        if start.elapsed() > limit {
            let _ = shell(stack.down.clone(), Vec::new()).await;
            bail!(
                "the compose deployment did not show {} replicas in /api/health within {limit:?}",
                config.replicas
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn shell(command: String, env: Vec<(&'static str, String)>) -> Result<()> {
    let mut sh = Command::new("sh");
    sh.args(["-c", &command]).envs(env);
    let status = blocking(move || sh.status())
        .await?
        .with_context(|| format!("running {command}"))?;
    if !status.success() {
        bail!("`{command}` failed: {status}");
    }
    Ok(())
}

/// The compose project's containers as processes: each container's init process, labelled by
/// service (`gateway`, `kokoro-1`, …), through `docker ps` and `docker inspect`.
async fn compose_processes(project: &str) -> Result<Vec<Watched>> {
    let filter = format!("label=com.docker.compose.project={project}");
    let output = blocking(move || {
        Command::new("docker")
            .args([
                "ps",
                "--filter",
                &filter,
                "--format",
                "{{.ID}} {{.Label \"com.docker.compose.service\"}}",
            ])
            .output()
    })
    .await??;
    if !output.status.success() {
        bail!("docker ps failed");
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut watched = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some((id, service)) = line.split_once(' ') else {
            continue;
        };
        let id = id.to_string();
        let inspect = blocking(move || {
            Command::new("docker")
                .args(["inspect", "--format", "{{.State.Pid}}", &id])
                .output()
        })
        .await??;
        let Ok(pid) = String::from_utf8_lossy(&inspect.stdout)
            .trim()
            .parse::<u32>()
        else {
            continue;
        };
        // Each image runs its service under tini: watch the service (CPU counts the same either
        // way; peak memory is the service's own).
        let pid = procs::only_child(pid).unwrap_or(pid);
        let n = counts.entry(service.to_string()).or_default();
        *n += 1;
        watched.push(Watched {
            label: compose_label(service, *n),
            pid,
            alone: false,
        });
    }
    Ok(watched)
}

/// A compose container's label in the local target's words, so the report counts it the same:
/// `kokoro-n` for the Kokoro service's replicas (`tts-kokoro`), `redis`, `postgres` and
/// `gateway` for the first of theirs; any other service as `service-n`.
fn compose_label(service: &str, n: usize) -> String {
    match service {
        s if s.contains("kokoro") => format!("kokoro-{n}"),
        "redis" | "postgres" | "gateway" if n == 1 => service.to_string(),
        _ => format!("{service}-{n}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn compose_containers_are_labelled_as_the_local_processes() {
        let labels: Vec<String> = [
            ("tts-kokoro", 1),
            ("tts-kokoro", 2),
            ("gateway", 1),
            ("redis", 1),
            ("postgres", 1),
            ("prometheus", 1),
            ("gateway", 2),
        ]
        .iter()
        .map(|(service, n)| super::compose_label(service, *n))
        .collect();
        assert_eq!(
            labels,
            [
                "kokoro-1",
                "kokoro-2",
                "gateway",
                "redis",
                "postgres",
                "prometheus-1",
                "gateway-2"
            ]
        );
        assert!(crate::results::is_replica(&labels[1]));
    }
}
