//! `POST /v1/audio/speech`: the OpenAI-compatible speech endpoint, through the same cache and
//! queues as the player, so tools that speak that API can use a yapit server directly.

use std::sync::Arc;

use axum::{
    extract::{Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::time::Instant;

use super::openai;
use super::waits::{Pending, WaitClock, WaitLimits};
use crate::{
    auth::CurrentUser,
    error::{ApiError, Json},
    startup::AppState,
    synthesis::{
        self, Enqueued, EventKind, HubMessage, JobSpec, MAX_TIER, Requested, Synthesis, score, wav,
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
    /// OpenAI's `stream`: send the audio as it is made, piece by piece.
    #[serde(default)]
    stream: Option<bool>,
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
        self.synthesis.unwatch(self.subscription_id, &self.hash);
        if !self.done {
            let (synthesis, model, hash) = (
                Arc::clone(&self.synthesis),
                self.model.clone(),
                self.hash.clone(),
            );
            tokio::spawn(async move {
                let _ = synthesis.leave(&model, &hash).await;
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
    let (_, waits) = start_pieces(&state, &user, &request).await?;
    let sample_rate = waits.first().map_or(24_000, |w| w.sample_rate);
    if request.stream == Some(true) {
        return Ok(stream(state, waits, format, sample_rate));
    }
    let mut pcm = Vec::new();
    for wait in waits {
        let wav = finish_piece(&state, wait).await?;
        pcm.extend_from_slice(&wav[wav::HEADER_LEN.min(wav.len())..]);
    }
    Ok(respond(wav::from_pcm(&pcm, sample_rate), format))
}

/// The answer of `POST /v1/dev/captioned_speech`.
#[derive(serde::Serialize)]
struct Captioned {
    /// The WAV, base64.
    audio: String,
    audio_format: &'static str,
    sample_rate: u32,
    timestamps: Vec<CaptionedWord>,
}

/// When one written word of the input is spoken (seconds) and where it stands in the input
/// (characters; none when it could not be placed).
#[derive(serde::Serialize)]
struct CaptionedWord {
    word: String,
    start_time: f64,
    end_time: f64,
    start_char: Option<usize>,
    end_char: Option<usize>,
}

/// `POST /v1/dev/captioned_speech`: the speech endpoint's request, answered as Kokoro-FastAPI's
/// captioned speech is: JSON with the WAV in base64 and when each written word of `input` is
/// spoken (`timestamps: [{word, start_time, end_time, start_char, end_char}]`, seconds from the
/// start of the audio, characters of `input`). Not streamed.
pub async fn captioned(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    Json(request): Json<SpeechRequest>,
) -> Result<Response, ApiError> {
    use base64::Engine as _;
    if request
        .response_format
        .as_deref()
        .is_some_and(|f| f != "wav")
    {
        return Err(ApiError::BadRequest(
            "captioned speech is WAV only; leave response_format out or send \"wav\"".into(),
        ));
    }
    if request.stream == Some(true) {
        return Err(ApiError::BadRequest(
            "captioned speech is not streamed; leave stream out or send false".into(),
        ));
    }
    let (input, waits) = start_pieces(&state, &user, &request).await?;
    let sample_rate = waits.first().map_or(24_000, |w| w.sample_rate);
    let mut pcm = Vec::new();
    let mut timestamps = Vec::new();
    let mut placer = CharPlacer::new(&input);
    for wait in waits {
        let hash = wait.hash.clone();
        let offset = (pcm.len() / 2) as f64 / f64::from(sample_rate.max(1));
        let wav = finish_piece(&state, wait).await?;
        pcm.extend_from_slice(&wav[wav::HEADER_LEN.min(wav.len())..]);
        for word in state
            .synthesis
            .store()
            .words(&hash)
            .await
            .unwrap_or_default()
        {
            let chars = placer.place(&word.word);
            timestamps.push(CaptionedWord {
                start_time: round_ms(offset + word.start),
                end_time: round_ms(offset + word.end),
                start_char: chars.as_ref().map(|c| c.start),
                end_char: chars.map(|c| c.end),
                word: word.word,
            });
        }
    }
    let wav = wav::from_pcm(&pcm, sample_rate);
    Ok(axum::Json(Captioned {
        audio: base64::engine::general_purpose::STANDARD.encode(&wav),
        audio_format: "wav",
        sample_rate,
        timestamps,
    })
    .into_response())
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// Finds each timed word in the request's text after the one before it: a piece's timings
/// count characters of the piece, which the parser may have trimmed or joined.
struct CharPlacer<'a> {
    text: &'a str,
    byte: usize,
    char: usize,
}

impl<'a> CharPlacer<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            byte: 0,
            char: 0,
        }
    }

    /// Where `word` is next, in characters of the text; `None` when it is not there.
    fn place(&mut self, word: &str) -> Option<std::ops::Range<usize>> {
        let found = self.text.get(self.byte..)?.find(word)?;
        self.char += self.text[self.byte..self.byte + found].chars().count();
        self.byte += found + word.len();
        let start = self.char;
        self.char += word.chars().count();
        Some(start..self.char)
    }
}

/// Checks a speech request and starts each of its pieces: the trimmed input and the waits, in
/// order.
async fn start_pieces(
    state: &Arc<AppState>,
    user: &CurrentUser,
    request: &SpeechRequest,
) -> Result<(String, Vec<PieceWait>), ApiError> {
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
    let speed = request.speed.unwrap_or(1.0);
    state
        .synthesis
        .check_speed(model, speed)
        .map_err(ApiError::BadRequest)?;
    let voice = state
        .catalog
        .check(model, voice)
        .map_err(ApiError::BadRequest)?;
    let voice = voice.as_str();
    // Spoken as the user's pronunciation lexicon says; the rewritten text is what is hashed,
    // cached and billed.
    let lexicon = crate::lexicon::Lexicon::load(&state.pool, user.id).await?;
    let input = lexicon.apply(input);
    let input = input.as_ref();
    // Long input is spoken in pieces of at most MAX_BLOCK_CHARS (sentences, as the player's
    // blocks), each its own job: a piece fits the worker call timeout, the pieces spread over
    // the replicas, and each is cached on its own.
    let texts = pieces(input, state.config.max_block_chars);
    let mut waits = Vec::with_capacity(texts.len());
    for (order, text) in texts.iter().enumerate() {
        waits.push(start_piece(state, user, text, model, voice, speed, order as u32).await?);
    }
    Ok((input.to_string(), waits))
}

/// The speakable pieces of `input`, each at most `max_chars` long (one piece when it fits).
fn pieces(input: &str, max_chars: usize) -> Vec<String> {
    if input.chars().count() <= max_chars {
        return vec![input.to_string()];
    }
    let options = crate::documents::parse::ParseOptions {
        max_block_chars: max_chars,
    };
    let texts: Vec<String> = crate::documents::parse::plain_text_to_blocks(input, options)
        .into_iter()
        .filter(|b| b.speakable && !b.text.is_empty())
        .map(|b| b.text)
        .collect();
    if texts.is_empty() {
        vec![input.to_string()]
    } else {
        texts
    }
}

/// One piece on its way: cached already, or queued with a listener's interest in it.
struct PieceWait {
    /// The piece's variant: its audio and word timings in the cache.
    hash: String,
    sample_rate: u32,
    cached: Option<bytes::Bytes>,
    spec: Option<JobSpec>,
    subscription: Option<synthesis::Subscription>,
    interest: Option<Interest>,
    rendering: bool,
}

async fn start_piece(
    state: &Arc<AppState>,
    user: &CurrentUser,
    text: &str,
    model: &str,
    voice: &str,
    speed: f32,
    order: u32,
) -> Result<PieceWait, ApiError> {
    let synthesis = Arc::clone(&state.synthesis);
    let unserved = || ApiError::Unavailable(synthesis::unserved(model, voice));
    let target = synthesis
        .target(text, model, voice, speed)
        .ok_or_else(unserved)?;
    if let Some(wav) = synthesis.store().get(&target.hash).await {
        return Ok(PieceWait {
            hash: target.hash.clone(),
            sample_rate: target.sample_rate,
            cached: Some(wav),
            spec: None,
            subscription: None,
            interest: None,
            rendering: false,
        });
    }
    if !synthesis.serves(model, voice) {
        return Err(unserved());
    }
    usage::check_quota(state, user.id, text.chars().count()).await?;
    let spec = JobSpec {
        hash: target.hash.clone(),
        model: model.to_string(),
        voice: voice.to_string(),
        speed,
        text: text.to_string(),
        user_id: user.id.to_string(),
    };
    let subscription = synthesis.subscribe();
    // Pieces in reading order: the first is someone's current block, the next ones follow.
    let requested = synthesis
        .want(
            &spec,
            &target,
            score(order.min(MAX_TIER), crate::synthesis::now_ms()),
            &subscription,
        )
        .await?;
    let interest = Interest {
        synthesis: Arc::clone(&synthesis),
        model: spec.model.clone(),
        hash: spec.hash.clone(),
        subscription_id: subscription.id,
        done: matches!(requested, Requested::Cached { .. }),
    };
    Ok(PieceWait {
        hash: target.hash.clone(),
        sample_rate: target.sample_rate,
        cached: None,
        rendering: matches!(requested, Requested::Waiting(Enqueued::Processing)),
        spec: Some(spec),
        subscription: Some(subscription),
        interest: Some(interest),
    })
}

/// Waits for a piece's audio. The synthesis timeout counts from when a worker takes the job;
/// the wait in the queue before has its own, longer bound.
async fn finish_piece(state: &AppState, mut wait: PieceWait) -> Result<bytes::Bytes, ApiError> {
    if let Some(wav) = wait.cached.take() {
        return Ok(wav);
    }
    let (Some(spec), Some(mut subscription), Some(mut interest)) =
        (wait.spec, wait.subscription, wait.interest)
    else {
        return Err(anyhow::anyhow!("a speech piece without a job").into());
    };
    let synthesis = Arc::clone(&state.synthesis);
    let limits = WaitLimits::from_config(&state.config);
    let clock = WaitClock::new(limits, Instant::now(), wait.rendering);
    let mut pending = Pending::new(
        &spec.hash,
        &spec.model,
        &spec.voice,
        spec.speed,
        wait.sample_rate,
        clock,
    );
    let waited: Result<(), ApiError> = loop {
        if interest.done {
            break Ok(());
        }
        tokio::select! {
            message = subscription.recv() => match message {
                Some(HubMessage::Event(event)) => {
                    pending.hear(&event.kind, Instant::now());
                    match event.kind {
                        EventKind::Cached { .. } => break Ok(()),
                        EventKind::Error { error } => break Err(ApiError::BadGateway(error)),
                        EventKind::Unspeakable { reason } => {
                            break Err(ApiError::Unprocessable(reason));
                        }
                        _ => {}
                    }
                }
                Some(HubMessage::Resync) => {
                    if synthesis.store().size(&spec.hash).await.is_some() {
                        break Ok(());
                    }
                    let _ = synthesis.recheck(&spec, score(0, 0)).await;
                }
                None => break Err(ApiError::Unavailable("the gateway is stopping".into())),
            },
            _ = tokio::time::sleep_until(pending.clock.ends_at()) => {
                break Err(ApiError::Timeout(pending.clock.why_over("the request")));
            }
        }
    };
    // A request that timed out leaves the queue unless someone else wants the job.
    interest.done = waited.is_ok() || !matches!(waited, Err(ApiError::Timeout(_)));
    waited?;
    synthesis.store().get(&spec.hash).await.ok_or_else(|| {
        ApiError::Unavailable("the audio was made but cannot be read; try again".into())
    })
}

/// `stream: true`: the audio as each piece is ready, in order: a WAV header whose sizes say
/// "unknown" (or nothing, for `pcm`), then each piece's samples. A client that hangs up drops
/// the pieces not yet made, and with them its claims on their jobs.
fn stream(state: Arc<AppState>, waits: Vec<PieceWait>, format: &str, sample_rate: u32) -> Response {
    let mut header = wav::from_pcm(&[], sample_rate);
    header[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    header[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    let first = (format == "wav").then(|| Ok::<_, std::io::Error>(bytes::Bytes::from(header)));
    let pieces = futures_util::stream::unfold(
        (state, waits.into_iter(), false),
        |(state, mut waits, failed)| async move {
            if failed {
                return None;
            }
            let wait = waits.next()?;
            match finish_piece(&state, wait).await {
                Ok(wav) => {
                    let pcm = wav.slice(wav::HEADER_LEN.min(wav.len())..);
                    Some((Ok(pcm), (state, waits, false)))
                }
                Err(e) => {
                    // The status line is sent; the body ends early, which a client sees.
                    tracing::warn!(error = %e, "a streamed speech piece failed");
                    Some((
                        Err(std::io::Error::other(e.to_string())),
                        (state, waits, true),
                    ))
                }
            }
        },
    );
    let body = futures_util::stream::iter(first).chain(pieces);
    let content_type = if format == "pcm" {
        "audio/pcm"
    } else {
        "audio/wav"
    };
    let mut response = (
        [(header::CONTENT_TYPE, content_type)],
        axum::body::Body::from_stream(body),
    )
        .into_response();
    if let Ok(rate) = HeaderValue::from_str(&sample_rate.to_string()) {
        response.headers_mut().insert("x-sample-rate", rate);
    }
    response
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
    let serving = state.synthesis.workers().serving();
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
        .workers()
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
