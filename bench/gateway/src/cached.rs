//! Stage 1: many players asking for audio that is already cached.
//!
//! Each client holds its own WebSocket and runs one of two loops:
//! - **closed**: send `synthesize` for one block, wait for that block's `cached`, repeat at once.
//!   The gateway is saturated, so the round trip measures its throughput as much as its latency.
//! - **open**: send `synthesize` on a fixed schedule (every `pace`, clients spread evenly over
//!   it), as players do, whatever the answers do. A round trip is timed from the scheduled send,
//!   so an answer late enough to delay the next send counts against the gateway (no coordinated
//!   omission).
//!
//! The clock stops when the `cached` frame is parsed, so every round trip includes the client's
//! own scheduling on the shared cores.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt, stream};
use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::api::{self, Gateway, Voice, Ws};
use crate::texts;

/// How a client paces its requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loop {
    /// The next request as soon as the last is answered.
    Closed,
    /// One request per client every this long.
    Open { pace: Duration },
}

/// One concurrency level's outcome.
pub struct Level {
    pub clients: usize,
    pub pacing: Loop,
    /// Round-trip times in microseconds, measured window only.
    pub round_trips: Histogram<u64>,
    /// Round trips per second over the measured window.
    pub per_second: f64,
    pub connect_time: Duration,
    /// Clients that stopped on an error, with the first error's text.
    pub failed_clients: usize,
    pub first_error: Option<String>,
}

pub struct Settings {
    pub duration: Duration,
    pub warmup: Duration,
    pub connect_concurrency: usize,
    pub round_trip_limit: Duration,
}

/// A document of `blocks` short paragraphs, each synthesized once so every later request is a
/// cache hit. Returns the document id and its block indices.
pub async fn prepare(
    gateway: &Gateway,
    voice: &Voice,
    blocks: usize,
) -> Result<(String, Vec<u32>)> {
    let text = texts::short_paragraphs(blocks).join("\n\n");
    let id = gateway
        .create_document("bench-gateway: cached blocks", &text)
        .await?;
    let indices: Vec<u32> = gateway
        .speakable_blocks(&id)
        .await?
        .iter()
        .map(|b| b.idx)
        .collect();
    if indices.is_empty() {
        bail!("the cached-stage document has no speakable block");
    }
    let mut ws = api::ws_connect(&gateway.ws_url()).await?;
    for &idx in &indices {
        api::synthesize_block(&mut ws, &id, idx, voice, Duration::from_secs(120))
            .await
            .with_context(|| format!("warming block {idx}"))?;
    }
    let _ = ws.close(None).await;
    Ok((id, indices))
}

pub async fn run_level(
    gateway: &Gateway,
    voice: &Voice,
    document_id: &str,
    indices: &[u32],
    clients: usize,
    pacing: Loop,
    settings: &Settings,
) -> Result<Level> {
    let url = gateway.ws_url();
    let connect_start = Instant::now();
    let sockets: Vec<Result<Ws>> = stream::iter(0..clients)
        .map(|_| api::ws_connect(&url))
        .buffer_unordered(settings.connect_concurrency)
        .collect()
        .await;
    let connect_time = connect_start.elapsed();
    let connect_errors = sockets.iter().filter(|s| s.is_err()).count();
    if let Some(Err(e)) = sockets.iter().find(|s| s.is_err()) {
        bail!("{connect_errors} of {clients} WebSocket connections failed; first: {e:#}");
    }

    let start = Instant::now();
    let measure_from = start + settings.warmup;
    let end = measure_from + settings.duration;
    let mut tasks = JoinSet::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        let ws = socket?;
        let idx = indices[i % indices.len()];
        let first_send = match pacing {
            Loop::Closed => start,
            Loop::Open { pace } => start + pace.mul_f64(i as f64 / clients as f64),
        };
        let client = Client {
            ws,
            pacing,
            first_send,
            document_id: document_id.to_string(),
            idx,
            message: Utf8Bytes::from(api::synthesize_message(document_id, idx, voice)),
            measure_from,
            end,
            limit: settings.round_trip_limit,
        };
        tasks.spawn(client.run());
    }

    let mut round_trips = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| anyhow!("histogram: {e}"))?;
    let mut count = 0u64;
    let mut failed_clients = 0;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.context("a client task panicked")?;
        for &us in &outcome.samples_us {
            round_trips.saturating_record(u64::from(us));
        }
        count += outcome.samples_us.len() as u64;
        if let Some(error) = outcome.error {
            failed_clients += 1;
            first_error.get_or_insert(error);
        }
    }
    Ok(Level {
        clients,
        pacing,
        round_trips,
        per_second: count as f64 / settings.duration.as_secs_f64(),
        connect_time,
        failed_clients,
        first_error,
    })
}

struct Client {
    ws: Ws,
    pacing: Loop,
    /// When the open loop sends its first request (closed: the start).
    first_send: Instant,
    document_id: String,
    idx: u32,
    /// The same request every time: serialized once, cloned as a cheap reference.
    message: Utf8Bytes,
    measure_from: Instant,
    end: Instant,
    limit: Duration,
}

struct Outcome {
    samples_us: Vec<u32>,
    error: Option<String>,
}

impl Client {
    async fn run(mut self) -> Outcome {
        let mut samples_us = Vec::new();
        let error = self.round_trips(&mut samples_us).await.err();
        // Closing is not measured; a gateway slow to answer the close must not hold up the stage.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
        Outcome {
            samples_us,
            error: error.map(|e| format!("{e:#}")),
        }
    }

    async fn round_trips(&mut self, samples_us: &mut Vec<u32>) -> Result<()> {
        let mut scheduled = self.first_send;
        loop {
            let sent = match self.pacing {
                Loop::Closed => Instant::now(),
                Loop::Open { pace } => {
                    tokio::time::sleep_until(scheduled.into()).await;
                    let due = scheduled;
                    scheduled += pace;
                    due
                }
            };
            if sent >= self.end {
                return Ok(());
            }
            self.ws
                .send(Message::Text(self.message.clone()))
                .await
                .context("WebSocket send")?;
            tokio::time::timeout(
                self.limit,
                api::wait_cached(&mut self.ws, &self.document_id, self.idx),
            )
            .await
            .map_err(|_| anyhow!("no cached status within {:?}", self.limit))??;
            if sent >= self.measure_from {
                let us = sent.elapsed().as_micros();
                samples_us.push(u32::try_from(us).unwrap_or(u32::MAX));
            }
        }
    }
}
