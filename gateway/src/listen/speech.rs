//! `POST /v1/audio/speech`: the OpenAI-compatible speech endpoint, through the same cache and
//! queues as the player, so tools that speak that API can use a yapit server directly.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use tokio::time::Instant;

use crate::{
    auth::CurrentUser,
    error::{ApiError, Json},
    startup::AppState,
    synthesis::{
        self, Enqueued, EventKind, HubMessage, JobSpec, Requested, Synthesis, queue::score, wav,
    },
    usage,
};

#[derive(Deserialize)]
pub struct SpeechRequest {
    model: String,
    input: String,
    voice: String,
    #[serde(default)]
    response_format: Option<String>,
    #[serde(default)]
    speed: Option<f32>,
}

/// The listener's interest in a job, handed back to the queue if the client goes away first.
struct Interest {
    synthesis: Arc<Synthesis>,
    model: String,
    hash: String,
    subscription_id: u64,
    done: bool,
}

impl Drop for Interest {
    fn drop(&mut self) {
        self.synthesis.hub.unwatch(self.subscription_id, &self.hash);
        if !self.done {
            let (synthesis, model, hash) = (
                Arc::clone(&self.synthesis),
                self.model.clone(),
                self.hash.clone(),
            );
            tokio::spawn(async move {
                let _ = synthesis.queue.release(&model, &hash).await;
            });
        }
    }
}

pub async fn speech(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    Json(request): Json<SpeechRequest>,
) -> Result<Response, ApiError> {
    let format = request.response_format.as_deref().unwrap_or("wav");
    if !matches!(format, "wav" | "pcm") {
        return Err(ApiError::BadRequest(format!(
            "response_format {format:?} is not supported; use \"wav\" or \"pcm\" (24 kHz mono 16-bit)"
        )));
    }
    let speed = request.speed.unwrap_or(1.0);
    synthesis::check_speed(speed).map_err(ApiError::BadRequest)?;
    let input = request.input.trim();
    if input.is_empty() {
        return Err(ApiError::BadRequest(
            "input is empty: give the text to speak".into(),
        ));
    }
    let chars = input.chars().count();
    let max = state.config.speech_max_chars;
    if chars > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "input has {chars} characters; at most {max} are allowed in one request"
        )));
    }
    let (model, voice) = (request.model.as_str(), request.voice.as_str());
    state
        .catalog
        .check(model, voice)
        .map_err(ApiError::BadRequest)?;
    let synthesis = Arc::clone(&state.synthesis);
    let unserved = || ApiError::Unavailable(synthesis::unserved(model, voice));
    let target = synthesis
        .target(input, model, voice, speed)
        .ok_or_else(unserved)?;
    if let Some(wav) = synthesis.store.get(&target.hash).await {
        return Ok(respond(wav.to_vec(), format));
    }
    if !synthesis.pool.serves(model, voice) {
        return Err(unserved());
    }
    usage::check_quota(&state, user.id, chars).await?;
    let spec = JobSpec {
        hash: target.hash.clone(),
        model: model.to_string(),
        voice: voice.to_string(),
        speed,
        text: input.to_string(),
        user_id: user.id.to_string(),
    };
    let mut subscription = synthesis.hub.subscribe();
    let requested = synthesis
        .request(
            &spec,
            &target,
            score(0, crate::synthesis::now_ms()),
            &subscription,
        )
        .await?;
    let mut interest = Interest {
        synthesis: Arc::clone(&synthesis),
        model: spec.model.clone(),
        hash: spec.hash.clone(),
        subscription_id: subscription.id,
        done: matches!(requested, Requested::Cached { .. }),
    };
    // The synthesis timeout counts from when a worker takes the job; the wait in the queue
    // before has its own, longer bound.
    let render = Duration::from_secs(state.config.synthesis_timeout_secs);
    let queue_max = Duration::from_secs(state.config.queue_wait_max_secs);
    let mut rendering = matches!(requested, Requested::Waiting(Enqueued::Processing));
    let mut deadline = Instant::now() + if rendering { render } else { queue_max };
    let waited: Result<(), ApiError> = loop {
        if interest.done {
            break Ok(());
        }
        tokio::select! {
            message = subscription.recv() => match message {
                Some(HubMessage::Event(event)) => match event.kind {
                    EventKind::Cached { .. } => break Ok(()),
                    EventKind::Error { error } => break Err(ApiError::BadGateway(error)),
                    EventKind::Unspeakable { reason } => break Err(ApiError::Unprocessable(reason)),
                    EventKind::Processing if !rendering => {
                        rendering = true;
                        deadline = Instant::now() + render;
                    }
                    EventKind::Requeued => {
                        rendering = false;
                        deadline = Instant::now() + queue_max;
                    }
                    _ => {}
                },
                Some(HubMessage::Resync) => {
                    if synthesis.store.size(&spec.hash).await.is_some() {
                        break Ok(());
                    }
                    let _ = synthesis.queue.enqueue(&spec, score(0, 0), false).await;
                }
                None => break Err(ApiError::Unavailable("the gateway is stopping".into())),
            },
            _ = tokio::time::sleep_until(deadline) => {
                break Err(ApiError::Timeout(if rendering {
                    format!("synthesis did not finish within {} s; try again", render.as_secs())
                } else {
                    format!("no worker took the request within {} s; try again", queue_max.as_secs())
                }));
            }
        }
    };
    // A request that timed out leaves the queue unless someone else wants the job.
    interest.done = waited.is_ok() || !matches!(waited, Err(ApiError::Timeout(_)));
    waited?;
    let wav = synthesis.store.get(&spec.hash).await.ok_or_else(|| {
        ApiError::Unavailable("the audio was made but cannot be read; try again".into())
    })?;
    Ok(respond(wav.to_vec(), format))
}

fn respond(wav_bytes: Vec<u8>, format: &str) -> Response {
    let sample_rate = wav::sample_rate(&wav_bytes).unwrap_or(24_000);
    let (body, content_type) = if format == "pcm" {
        (
            wav_bytes[wav::HEADER_LEN.min(wav_bytes.len())..].to_vec(),
            "audio/pcm",
        )
    } else {
        (wav_bytes, "audio/wav")
    };
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Ok(rate) = HeaderValue::from_str(&sample_rate.to_string()) {
        response.headers_mut().insert("x-sample-rate", rate);
    }
    response
}
