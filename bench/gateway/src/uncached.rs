//! Stage 3: a block nobody has heard yet, through the whole path (WebSocket, queue, gRPC to the
//! worker, cache, `cached`) beside the same work asked of the worker directly over gRPC.
//!
//! Each run uses a fresh pair from `texts::FreshParagraphs`: one order of the sentences goes
//! through the gateway, the other straight to the worker, so both sides synthesize the same
//! words and neither can be a cache hit. The two sides alternate which goes first, so drift in
//! the machine's speed falls on both.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use proto::v1::{SynthesizeRequest, text_to_speech_client::TextToSpeechClient};
use tonic::transport::Channel;

use crate::api::{self, Gateway, Voice, Ws};
use crate::texts::FreshParagraphs;

/// One synthesis, timed from the request to the end of its audio.
#[derive(Clone)]
pub struct Run {
    pub wall: Duration,
    pub chars: usize,
    pub audio_seconds: Option<f64>,
}

pub struct Comparison {
    pub pipeline: Vec<Run>,
    pub direct: Vec<Run>,
    /// The last pipeline run's audio, for the audio-serving stage.
    pub clip: Option<Clip>,
}

pub struct Clip {
    pub audio_url: String,
    pub duration_ms: Option<u64>,
}

impl Comparison {
    /// (median pipeline − median direct) ÷ median direct, in per cent.
    pub fn overhead_percent(&self) -> Option<f64> {
        let pipeline = median_seconds(&self.pipeline)?;
        let direct = median_seconds(&self.direct)?;
        Some((pipeline - direct) / direct * 100.0)
    }
}

pub fn median_seconds(runs: &[Run]) -> Option<f64> {
    median(runs.iter().map(|r| r.wall.as_secs_f64()).collect())
}

pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

pub struct Settings {
    pub runs: usize,
    pub block_chars: usize,
    pub seed: u64,
    pub limit: Duration,
}

/// One unmeasured warm-up pair (connections, the worker's first inference), then `runs` pairs.
pub async fn run(
    gateway: &Gateway,
    worker_url: &str,
    voice: &Voice,
    settings: &Settings,
) -> Result<Comparison> {
    let mut worker = TextToSpeechClient::connect(worker_url.to_string())
        .await
        .with_context(|| format!("connecting to the worker at {worker_url}"))?;
    let mut ws = api::ws_connect(&gateway.ws_url()).await?;
    let mut fresh = FreshParagraphs::new(settings.seed, settings.block_chars);
    let mut comparison = Comparison {
        pipeline: Vec::new(),
        direct: Vec::new(),
        clip: None,
    };
    for run in 0..=settings.runs {
        let (through_gateway, to_worker) = fresh.pair();
        let (pipeline, direct) = if run % 2 == 0 {
            let p =
                through_pipeline(gateway, &mut ws, voice, run, &through_gateway, settings).await?;
            let d = direct_grpc(&mut worker, voice, run, &to_worker).await?;
            (p, d)
        } else {
            let d = direct_grpc(&mut worker, voice, run, &to_worker).await?;
            let p =
                through_pipeline(gateway, &mut ws, voice, run, &through_gateway, settings).await?;
            (p, d)
        };
        eprintln!(
            "[bench-gateway] uncached {}: pipeline {:.2} s, direct gRPC {:.2} s",
            if run == 0 {
                "warm-up".to_string()
            } else {
                format!("run {run}")
            },
            pipeline.0.wall.as_secs_f64(),
            direct.wall.as_secs_f64()
        );
        comparison.clip = Some(pipeline.1);
        if run > 0 {
            comparison.pipeline.push(pipeline.0);
            comparison.direct.push(direct);
        }
    }
    let _ = ws.close(None).await;
    Ok(comparison)
}

async fn through_pipeline(
    gateway: &Gateway,
    ws: &mut Ws,
    voice: &Voice,
    run: usize,
    text: &str,
    settings: &Settings,
) -> Result<(Run, Clip)> {
    let (document_id, block) = gateway
        .single_block_document(&format!("bench-gateway: uncached {run}"), text)
        .await?;
    let start = Instant::now();
    let cached = api::synthesize_block(ws, &document_id, block.idx, voice, settings.limit).await?;
    let wall = start.elapsed();
    Ok((
        Run {
            wall,
            chars: block.text.chars().count(),
            audio_seconds: cached.duration_ms.map(|ms| ms as f64 / 1000.0),
        },
        Clip {
            audio_url: cached.audio_url,
            duration_ms: cached.duration_ms,
        },
    ))
}

async fn direct_grpc(
    worker: &mut TextToSpeechClient<Channel>,
    voice: &Voice,
    run: usize,
    text: &str,
) -> Result<Run> {
    let start = Instant::now();
    let mut stream = worker
        .synthesize(SynthesizeRequest {
            text: text.to_string(),
            voice: voice.voice.clone(),
            speed: 1.0,
            request_id: format!("bench-gateway-direct-{run}"),
        })
        .await
        .context("worker Synthesize")?
        .into_inner();
    let mut samples = 0usize;
    let sample_rate = loop {
        let Some(chunk) = stream.message().await.context("worker audio stream")? else {
            bail!("the worker's stream ended without a last chunk");
        };
        samples += chunk.pcm.len() / 2;
        if chunk.last {
            break chunk.sample_rate;
        }
    };
    Ok(Run {
        wall: start.elapsed(),
        chars: text.chars().count(),
        audio_seconds: (sample_rate > 0).then(|| samples as f64 / f64::from(sample_rate)),
    })
}
