//! `POST /v1/audio/speech`: the OpenAI-compatible speech endpoint, through the same cache and
//! queues as the player, so tools that speak that API can use a yapit server directly.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::openai;
use crate::{
    auth::CurrentUser,
    error::{ApiError, Json},
    startup::AppState,
    synthesis::{
        self, EventKind, HubMessage, JobSpec, Requested, Synthesis, queue::score, wav,
        workers::WorkerError,
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
    let (model, voice) = openai::resolve(&request.model, &request.voice);
    let voice = state
        .catalog
        .check(model, voice)
        .map_err(ApiError::BadRequest)?;
    let voice = voice.as_str();
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
    let timeout = Duration::from_secs(state.config.synthesis_timeout_secs);
    let waited = tokio::time::timeout(timeout, async {
        if interest.done {
            return Ok(());
        }
        loop {
            match subscription.recv().await {
                Some(HubMessage::Event(event)) => match event.kind {
                    EventKind::Cached { .. } => return Ok(()),
                    EventKind::Error { error } => return Err(ApiError::BadGateway(error)),
                    _ => {}
                },
                Some(HubMessage::Resync) => {
                    if synthesis.store.size(&spec.hash).await.is_some() {
                        return Ok(());
                    }
                    let _ = synthesis.queue.enqueue(&spec, score(0, 0), false).await;
                }
                None => return Err(ApiError::Unavailable("the gateway is stopping".into())),
            }
        }
    })
    .await;
    interest.done = true;
    match waited {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            interest.done = false;
            return Err(ApiError::Timeout(format!(
                "synthesis did not finish within {} s; try again",
                timeout.as_secs()
            )));
        }
    }
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

#[derive(Deserialize)]
pub struct VoicesQuery {
    model: Option<String>,
}

/// `GET /v1/audio/voices[?model=kokoro]`: every catalogue voice as OpenAI-compatible clients
/// list them (`{voices: [{id, name, …}]}`), the default voice of each model first, then the
/// OpenAI names the speech endpoint also takes.
pub async fn voices(
    State(state): State<Arc<AppState>>,
    Query(query): Query<VoicesQuery>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    if let Some(model) = &query.model
        && !state.catalog.models.contains_key(model)
    {
        let known: Vec<&str> = state.catalog.models.keys().map(String::as_str).collect();
        return Err(ApiError::BadRequest(format!(
            "unknown model {model:?}; choose one of: {}",
            known.join(", ")
        )));
    }
    let serving = state.synthesis.pool.serving();
    let mut voices = Vec::new();
    for model in state.catalog.models.values() {
        if query.model.as_ref().is_some_and(|m| *m != model.slug) {
            continue;
        }
        let live = serving.get(&model.slug);
        let mut listed: Vec<&crate::catalog::Voice> = model.voices.iter().collect();
        listed.sort_by_key(|v| Some(&v.slug) != model.default_voice.as_ref());
        for voice in listed {
            voices.push(serde_json::json!({
                "id": voice.slug,
                "name": voice.name,
                "model": model.slug,
                "language": voice.lang,
                "default": Some(&voice.slug) == model.default_voice.as_ref(),
                "available": live.is_some_and(|l| l.voices.contains(&voice.slug)),
            }));
        }
    }
    let openai: serde_json::Map<String, serde_json::Value> = openai::OPENAI_VOICES
        .iter()
        .map(|(name, kokoro)| (name.to_string(), serde_json::json!(kokoro)))
        .collect();
    Ok(axum::Json(
        serde_json::json!({ "voices": voices, "openai_voices": openai }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhonemizeQuery {
    model: String,
    voice: String,
    text: String,
}

/// `POST /v1/dev/phonemize {model, voice, text}` → `{phonemes, language, voice}`: what a live
/// worker would read, so a listener can see why a word sounds wrong (Kokoro-FastAPI's
/// `/dev/phonemize`). Nothing is synthesised or cached.
pub async fn phonemize(
    State(state): State<Arc<AppState>>,
    _user: CurrentUser,
    Json(query): Json<PhonemizeQuery>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let (model, voice) = openai::resolve(&query.model, &query.voice);
    let voice = state
        .catalog
        .check(model, voice)
        .map_err(ApiError::BadRequest)?;
    let max = state.config.speech_max_chars;
    let chars = query.text.chars().count();
    if query.text.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "text is empty: give the text to phonemize".into(),
        ));
    }
    if chars > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "text has {chars} characters; at most {max} are allowed in one request"
        )));
    }
    let replica = state
        .synthesis
        .pool
        .replicas()
        .into_iter()
        .find(|r| r.is_healthy() && r.info.model_slug == model && r.serves(&voice))
        .ok_or_else(|| ApiError::Unavailable(synthesis::unserved(model, &voice)))?;
    let (phonemes, language) =
        replica
            .phonemize(&query.text, &voice)
            .await
            .map_err(|e| match e {
                WorkerError::Rejected(message) => ApiError::BadRequest(message),
                other => ApiError::Unavailable(format!("the worker could not phonemize: {other}")),
            })?;
    Ok(axum::Json(
        serde_json::json!({ "phonemes": phonemes, "language": language, "voice": voice }),
    ))
}
