//! The slice of the gateway's API the benchmark drives: an account, documents, the catalogue, and
//! the player's WebSocket (docs/api.md).

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An HTTP client for one account on one gateway.
#[derive(Clone)]
pub struct Gateway {
    http: reqwest::Client,
    base: String,
    token: String,
}

#[derive(Deserialize)]
pub struct Block {
    pub idx: u32,
    pub text: String,
    pub speakable: bool,
}

#[derive(Deserialize)]
struct Catalogue {
    models: Vec<CatalogueModel>,
}

#[derive(Deserialize)]
struct CatalogueModel {
    slug: String,
    /// Absent in catalogues that predate worker discovery: then assumed available.
    available: Option<bool>,
    /// The voice a listener hears until they pick one; absent in older catalogues.
    default_voice: Option<String>,
    voices: Vec<CatalogueVoice>,
}

#[derive(Deserialize)]
struct CatalogueVoice {
    slug: String,
    available: Option<bool>,
}

/// A client's `synthesize` message.
#[derive(Serialize)]
struct Synthesize<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    document_id: &'a str,
    block_indices: &'a [u32],
    cursor: u32,
    model: &'a str,
    voice: &'a str,
    speed: f32,
    /// Also hear a `segment` frame per chunk while a waited-for block renders (the web player
    /// asks for them).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    segments: bool,
}

/// Any server frame; only the fields the benchmarks look at. `kind` is `status`, `segment`,
/// `evicted` or `error`; a status or segment frame names one block, an `evicted` frame several.
#[derive(Deserialize)]
pub struct ServerMessage {
    #[serde(rename = "type")]
    pub kind: String,
    pub document_id: Option<String>,
    pub block_idx: Option<u32>,
    pub block_indices: Option<Vec<u32>>,
    pub status: Option<String>,
    pub audio_url: Option<String>,
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
    /// A `segment` frame's place in its block, from 0.
    pub index: Option<u32>,
    /// A `segment` frame: the block's last one.
    pub last: Option<bool>,
}

/// What a `status: cached` frame says about a block's audio.
pub struct Cached {
    pub audio_url: String,
    pub duration_ms: Option<u64>,
}

/// One benchmark voice: the model slug and the first voice the catalogue marks available.
pub struct Voice {
    pub model: String,
    pub voice: String,
}

pub fn http_client(max_idle_per_host: usize) -> Result<reqwest::Client> {
    // No proxy: a proxy from the environment would sit inside every measurement.
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(max_idle_per_host)
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")
}

impl Gateway {
    /// Signs up a fresh account (a unique e-mail per run) unless `token` is given.
    pub async fn connect(base: &str, token: Option<String>) -> Result<Self> {
        let http = http_client(8)?;
        let base = base.trim_end_matches('/').to_string();
        let token = match token {
            Some(token) => token,
            None => sign_up(&http, &base).await?,
        };
        Ok(Self { http, base, token })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// `ws://…/v1/ws/tts?token=…`; the browser's WebSocket cannot set headers, so the token
    /// travels in the query.
    pub fn ws_url(&self) -> String {
        let rest = self
            .base
            .strip_prefix("https://")
            .map(|r| format!("wss://{r}"))
            .or_else(|| {
                self.base
                    .strip_prefix("http://")
                    .map(|r| format!("ws://{r}"))
            })
            .unwrap_or_else(|| self.base.clone());
        format!("{rest}/v1/ws/tts?token={}", percent_encode(&self.token))
    }

    /// The model `slug` and `voice` when given, else its default voice (what a new listener
    /// hears) when a worker serves it, else its first available voice.
    pub async fn voice(&self, slug: &str, voice: Option<&str>) -> Result<Voice> {
        let catalogue: Catalogue = self
            .http
            .get(format!("{}/v1/models", self.base))
            .send()
            .await?
            .error_for_status()
            .context("GET /v1/models")?
            .json()
            .await
            .context("GET /v1/models: unexpected body")?;
        let model = catalogue
            .models
            .into_iter()
            .find(|m| m.slug == slug)
            .ok_or_else(|| anyhow!("model {slug:?} is not in /v1/models"))?;
        if model.available == Some(false) {
            bail!("model {slug:?} is not available (no worker serves it)");
        }
        let voice = match voice {
            Some(v) => v.to_string(),
            None => {
                let available = |v: &CatalogueVoice| v.available != Some(false);
                let default = model.default_voice.as_deref();
                model
                    .voices
                    .iter()
                    .filter(|v| available(v))
                    .find(|v| Some(v.slug.as_str()) == default)
                    .or_else(|| model.voices.iter().find(|v| available(v)))
                    .map(|v| v.slug.clone())
                    .ok_or_else(|| anyhow!("model {slug:?} has no available voice"))?
            }
        };
        Ok(Voice {
            model: slug.to_string(),
            voice,
        })
    }

    /// Creates a document and returns its id.
    pub async fn create_document(&self, title: &str, text: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Created {
            id: String,
        }
        let response = self
            .http
            .post(format!("{}/v1/documents", self.base))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "title": title, "text": text }))
            .send()
            .await?;
        let created: Created = expect_status(response, 201, "POST /v1/documents")
            .await?
            .json()
            .await?;
        Ok(created.id)
    }

    /// The document's speakable blocks.
    pub async fn speakable_blocks(&self, id: &str) -> Result<Vec<Block>> {
        #[derive(Deserialize)]
        struct Document {
            blocks: Vec<Block>,
        }
        let response = self
            .http
            .get(format!("{}/v1/documents/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let document: Document = expect_status(response, 200, "GET /v1/documents/{id}")
            .await?
            .json()
            .await?;
        Ok(document
            .blocks
            .into_iter()
            .filter(|b| b.speakable)
            .collect())
    }

    /// Deletes a document.
    pub async fn delete_document(&self, id: &str) -> Result<()> {
        let response = self
            .http
            .delete(format!("{}/v1/documents/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        expect_status(response, 204, "DELETE /v1/documents/{id}").await?;
        Ok(())
    }

    /// Downloads a block's audio (`audio_url` from a `cached` status) with this account's
    /// session, as the player does, and returns its size in bytes.
    pub async fn fetch_audio(&self, audio_url: &str) -> Result<usize> {
        let response = self
            .http
            .get(format!("{}{audio_url}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let body = expect_status(response, 200, "GET /v1/audio/{hash}")
            .await?
            .bytes()
            .await
            .context("GET /v1/audio/{hash}: body")?;
        Ok(body.len())
    }

    /// The HTTP client, for requests this module does not wrap.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Creates a one-paragraph document and returns its id and the paragraph's block.
    pub async fn single_block_document(&self, title: &str, text: &str) -> Result<(String, Block)> {
        let id = self.create_document(title, text).await?;
        let mut blocks = self.speakable_blocks(&id).await?;
        if blocks.len() != 1 {
            bail!(
                "a {}-character paragraph became {} speakable blocks, expected 1",
                text.chars().count(),
                blocks.len()
            );
        }
        Ok((id, blocks.remove(0)))
    }
}

async fn sign_up(http: &reqwest::Client, base: &str) -> Result<String> {
    #[derive(Deserialize)]
    struct Session {
        token: String,
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let email = format!("bench-{}-{nanos}@example.org", std::process::id());
    // A gateway that rate-limits sign-up answers 429 with Retry-After: wait as asked, a bounded
    // number of times, rather than fail a benchmark that needs many accounts.
    let mut refusals = 0;
    loop {
        let response = http
            .post(format!("{base}/v1/auth/sign-up"))
            .json(&serde_json::json!({ "email": email, "password": "bench gateway password" }))
            .send()
            .await
            .with_context(|| format!("POST {base}/v1/auth/sign-up"))?;
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS && refusals < SIGN_UP_RETRIES
        {
            refusals += 1;
            let wait = retry_after(&response).unwrap_or(Duration::from_secs(2));
            eprintln!(
                "[bench] sign-up refused with 429 (rate limited); retrying in {:.0} s",
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
            continue;
        }
        let session: Session = expect_status(response, 201, "POST /v1/auth/sign-up")
            .await?
            .json()
            .await?;
        return Ok(session.token);
    }
}

/// How often one sign-up is retried after a 429.
const SIGN_UP_RETRIES: u32 = 5;

/// A `Retry-After` header in seconds, capped at a minute.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.clamp(1, 60)))
}

async fn expect_status(
    response: reqwest::Response,
    want: u16,
    what: &str,
) -> Result<reqwest::Response> {
    let status = response.status();
    if status.as_u16() == want {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    bail!(
        "{what}: {status}, expected {want}: {}",
        truncate(&body, 300)
    )
}

pub fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Opens the player's WebSocket with Nagle off: every frame here is a small request waiting for
/// its answer.
pub async fn ws_connect(url: &str) -> Result<Ws> {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .context("WebSocket connect")?;
    Ok(ws)
}

/// The JSON text of a `synthesize` for one block. The cursor is the block itself, so the
/// gateway's cursor window never evicts what the client is waiting for.
pub fn synthesize_message(document_id: &str, idx: u32, voice: &Voice) -> String {
    synthesize_blocks_message(document_id, &[idx], idx, voice, false)
}

/// The JSON text of a `synthesize` for several blocks with the listener at `cursor`, as the
/// player sends it for its prefetch window; `segments` as the player asks (see `Synthesize`).
pub fn synthesize_blocks_message(
    document_id: &str,
    block_indices: &[u32],
    cursor: u32,
    voice: &Voice,
    segments: bool,
) -> String {
    serde_json::to_string(&Synthesize {
        kind: "synthesize",
        document_id,
        block_indices,
        cursor,
        model: &voice.model,
        voice: &voice.voice,
        speed: 1.0,
        segments,
    })
    .expect("a struct of strings and numbers serializes")
}

/// Reads frames until the block is `cached`. Other blocks' statuses, `queued`, `processing` and
/// `evicted` are skipped; `error`, `skipped` and a closed socket end the wait with an error.
pub async fn wait_cached(ws: &mut Ws, document_id: &str, idx: u32) -> Result<Cached> {
    while let Some(frame) = ws.next().await {
        let text = match frame.context("WebSocket read")? {
            Message::Text(text) => text,
            Message::Close(close) => bail!("the gateway closed the WebSocket: {close:?}"),
            _ => continue,
        };
        let message: ServerMessage = serde_json::from_str(text.as_str())
            .with_context(|| format!("unreadable frame {}", truncate(text.as_str(), 200)))?;
        match message.kind.as_str() {
            "status" => {}
            "error" => bail!("gateway error: {}", message.error.unwrap_or_default()),
            _ => continue,
        }
        if message.block_idx != Some(idx)
            || message
                .document_id
                .as_deref()
                .is_some_and(|d| d != document_id)
        {
            continue;
        }
        match message.status.as_deref() {
            Some("cached") => {
                return Ok(Cached {
                    audio_url: message
                        .audio_url
                        .ok_or_else(|| anyhow!("a cached status without audio_url"))?,
                    duration_ms: message.duration_ms,
                });
            }
            Some(status @ ("error" | "skipped")) => bail!(
                "block {idx}: status {status}: {}",
                message.error.unwrap_or_default()
            ),
            _ => {}
        }
    }
    bail!("the WebSocket ended before block {idx} was cached")
}

/// Sends a `synthesize` for one block and waits (at most `limit`) for its audio.
pub async fn synthesize_block(
    ws: &mut Ws,
    document_id: &str,
    idx: u32,
    voice: &Voice,
    limit: Duration,
) -> Result<Cached> {
    ws.send(Message::text(synthesize_message(document_id, idx, voice)))
        .await
        .context("WebSocket send")?;
    tokio::time::timeout(limit, wait_cached(ws, document_id, idx))
        .await
        .map_err(|_| anyhow!("block {idx} was not cached within {limit:?}"))?
}
