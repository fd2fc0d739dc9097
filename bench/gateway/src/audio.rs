//! Stage 2: serving one cached clip over `GET /v1/audio/{hash}`, beside Redis serving a value of
//! the same size to `redis-benchmark` — the ceiling for a gateway whose audio lives in Redis.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use hdrhistogram::Histogram;
use tokio::task::JoinSet;

use crate::api::{self, Gateway};

pub struct Served {
    pub clients: usize,
    pub bytes: usize,
    pub per_second: f64,
    pub latency_us: Histogram<u64>,
    pub failed_clients: usize,
    pub first_error: Option<String>,
}

/// `redis-benchmark`'s answer for GET of a value of the clip's size.
pub struct Ceiling {
    pub per_second: f64,
    pub command: String,
}

/// Fetches the clip once, checking it is a WAV file.
pub async fn fetch_clip(gateway: &Gateway, audio_url: &str) -> Result<Vec<u8>> {
    let client = api::http_client(1)?;
    let response = client
        .get(format!("{}{audio_url}", gateway.base()))
        .bearer_auth(gateway.token())
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        bail!("GET {audio_url}: {status}");
    }
    let body = response.bytes().await?.to_vec();
    if !body.starts_with(b"RIFF") {
        bail!(
            "GET {audio_url}: {} bytes that are not a WAV file",
            body.len()
        );
    }
    Ok(body)
}

/// `clients` keep-alive HTTP/1.1 connections fetching the whole clip in a closed loop.
pub async fn serve(
    gateway: &Gateway,
    audio_url: &str,
    expected_bytes: usize,
    clients: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Served> {
    let http = api::http_client(clients)?;
    let url = format!("{}{audio_url}", gateway.base());
    let auth = format!("Bearer {}", gateway.token());
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let (http, url, auth) = (http.clone(), url.clone(), auth.clone());
        tasks.spawn(async move {
            let mut samples_us = Vec::new();
            let result = async {
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        return Ok(());
                    }
                    let mut response = http
                        .get(&url)
                        .header(reqwest::header::AUTHORIZATION, &auth)
                        .send()
                        .await?;
                    if response.status() != reqwest::StatusCode::OK {
                        bail!("GET audio: {}", response.status());
                    }
                    // Chunks are counted and dropped, never gathered: the client copies nothing.
                    let mut received = 0;
                    while let Some(chunk) = response.chunk().await? {
                        received += chunk.len();
                    }
                    if received != expected_bytes {
                        bail!("GET audio: {received} bytes, expected {expected_bytes}");
                    }
                    if sent >= measure_from {
                        samples_us
                            .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                    }
                }
            }
            .await;
            (
                samples_us,
                result.err().map(|e: anyhow::Error| format!("{e:#}")),
            )
        });
    }
    let mut latency_us = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| anyhow!("histogram: {e}"))?;
    let (mut count, mut failed_clients, mut first_error) = (0u64, 0, None);
    while let Some(joined) = tasks.join_next().await {
        let (samples_us, error) = joined.context("an HTTP client task panicked")?;
        for &us in &samples_us {
            latency_us.saturating_record(u64::from(us));
        }
        count += samples_us.len() as u64;
        if let Some(error) = error {
            failed_clients += 1;
            first_error.get_or_insert(error);
        }
    }
    Ok(Served {
        clients,
        bytes: expected_bytes,
        per_second: count as f64 / duration.as_secs_f64(),
        latency_us,
        failed_clients,
        first_error,
    })
}

/// Stores `payload` under redis-benchmark's GET key, runs `redis-benchmark -t get` against it and
/// deletes the key. GET alone: `-t set,get` would append every SET's payload to the
/// append-only file (gigabytes), and GET of a missing key would measure a nil reply.
pub fn redis_ceiling(
    redis_url: &str,
    payload: &[u8],
    clients: usize,
    requests: u64,
) -> Result<Ceiling> {
    let (host, port) = host_port(redis_url)?;
    // redis-benchmark's GET reads this literal key when no -r is given.
    const KEY: &str = "key:__rand_int__";
    let file = PayloadFile::write(payload)?;
    let stored = Command::new("redis-cli")
        .args(["-h", &host, "-p", &port, "-x", "SET", KEY])
        .stdin(std::fs::File::open(&file.0)?)
        .output()
        .context("running redis-cli (is Redis installed?)")?;
    if !String::from_utf8_lossy(&stored.stdout).contains("OK") {
        bail!(
            "redis-cli SET: {}",
            String::from_utf8_lossy(&stored.stderr).trim()
        );
    }
    let args = [
        "-h".to_string(),
        host.clone(),
        "-p".into(),
        port.clone(),
        "-t".into(),
        "get".into(),
        "-d".into(),
        payload.len().to_string(),
        "-n".into(),
        requests.to_string(),
        "-c".into(),
        clients.to_string(),
        "-q".into(),
    ];
    let output = Command::new("redis-benchmark")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .context("running redis-benchmark");
    let _ = Command::new("redis-cli")
        .args(["-h", &host, "-p", &port, "DEL", KEY])
        .output();
    let output = output?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let per_second = parse_requests_per_second(&stdout, "GET").ok_or_else(|| {
        anyhow!(
            "redis-benchmark printed no GET rate: {} {}",
            api::truncate(stdout.trim(), 300),
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })?;
    Ok(Ceiling {
        per_second,
        command: format!("redis-benchmark {}", args.join(" ")),
    })
}

/// The rate from a `-q` line such as `GET: 41322.31 requests per second, p50=0.711 msec`; with
/// a terminal the same line is also printed as carriage-return progress, so the last one counts.
fn parse_requests_per_second(output: &str, test: &str) -> Option<f64> {
    output
        .split(['\r', '\n'])
        .filter_map(|line| line.trim().strip_prefix(test)?.strip_prefix(':'))
        .filter(|rest| rest.contains("requests per second"))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .next_back()
}

fn host_port(redis_url: &str) -> Result<(String, String)> {
    let rest = redis_url
        .strip_prefix("redis://")
        .ok_or_else(|| anyhow!("--redis-url {redis_url:?} is not redis://host:port"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    match authority.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_string(), port.to_string())),
        None => Ok((authority.to_string(), "6379".to_string())),
    }
}

/// The payload on disk for `redis-cli -x`, removed when dropped.
struct PayloadFile(PathBuf);

impl PayloadFile {
    fn write(payload: &[u8]) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("bench-gateway-{}.bin", std::process::id()));
        std::fs::write(&path, payload).with_context(|| format!("writing {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for PayloadFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rate_from_quiet_output() {
        let out = "GET: rps=0.0 (overall: nan) avg_msec=nan\r\
                   GET: 41322.31 requests per second, p50=0.711 msec\n\n";
        assert_eq!(parse_requests_per_second(out, "GET"), Some(41322.31));
        assert_eq!(
            parse_requests_per_second("GET: 1234.50 requests per second\n", "GET"),
            Some(1234.5)
        );
        assert_eq!(
            parse_requests_per_second("SET: 9 requests per second\n", "GET"),
            None
        );
    }

    #[test]
    fn splits_redis_urls() {
        assert_eq!(
            host_port("redis://127.0.0.1:63799").unwrap(),
            ("127.0.0.1".into(), "63799".into())
        );
        assert_eq!(
            host_port("redis://:pw@localhost:7000/2").unwrap(),
            ("localhost".into(), "7000".into())
        );
    }
}
