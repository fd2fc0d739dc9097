//! One function per check. Each returns the value later checks need and a one-line detail, or
//! an error that says what a user would notice.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail, ensure};
use bench_gateway::api::{self, Block, Cached, Gateway, Voice};
use reqwest::{Client, Response, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::wav;

#[derive(Deserialize)]
struct Health {
    status: String,
    /// The rest only with the operator's token (a gateway that has OPERATOR_TOKEN set shows the
    /// public nothing but `status`).
    commit: Option<String>,
    checks: Option<BTreeMap<String, String>>,
    #[serde(default)]
    models: BTreeMap<String, ModelHealth>,
    #[serde(default)]
    unserved: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Deserialize)]
struct ModelHealth {
    replicas: u32,
}

#[derive(Deserialize)]
struct Version {
    version: String,
    commit: String,
    built_at: String,
}

#[derive(Deserialize)]
struct Models {
    models: Vec<Model>,
}

#[derive(Deserialize)]
struct Model {
    slug: String,
    available: bool,
    voices: Vec<ModelVoice>,
}

#[derive(Deserialize)]
struct ModelVoice {
    slug: String,
    available: bool,
}

#[derive(Deserialize)]
struct Session {
    token: String,
    user: User,
}

#[derive(Deserialize)]
struct Me {
    user: User,
}

#[derive(Deserialize)]
struct User {
    email: String,
}

#[derive(Serialize)]
struct Credentials<'a> {
    email: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct Speech<'a> {
    model: &'a str,
    voice: &'a str,
    input: &'a str,
    response_format: &'static str,
}

/// The check's document: its id, the block read aloud, and the voice it is read with.
pub struct Document {
    pub id: String,
    block: Block,
    voice: Voice,
}

async fn json<T: serde::de::DeserializeOwned>(http: &Client, url: &str) -> Result<T> {
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    expect(response, StatusCode::OK, url)
        .await?
        .json()
        .await
        .with_context(|| format!("GET {url}: unexpected body"))
}

async fn expect(response: Response, want: StatusCode, what: &str) -> Result<Response> {
    if response.status() == want {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    bail!(
        "{what}: {status}, expected {want}: {}",
        api::truncate(&body, 300)
    )
}

/// `/api/health` answers 200 with every check `ok`, and every deployed model has enough live
/// replicas and serves all its seeded voices.
pub async fn health(
    http: &Client,
    base: &str,
    operator_token: Option<&str>,
    deployed: &[String],
    min_replicas: u32,
) -> Result<((), String)> {
    let url = format!("{base}/api/health");
    let mut request = http.get(&url);
    if let Some(token) = operator_token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.with_context(|| format!("GET {url}"))?;
    let health: Health = expect(response, StatusCode::OK, &url)
        .await?
        .json()
        .await
        .with_context(|| format!("GET {url}: unexpected body"))?;
    let (Some(checks), Some(commit)) = (&health.checks, &health.commit) else {
        ensure!(
            operator_token.is_none(),
            "status {}, but the operator token (OPERATOR_TOKEN) shows no details",
            health.status
        );
        ensure!(
            min_replicas <= 1,
            "status {}; counting replicas needs the operator token (OPERATOR_TOKEN)",
            health.status
        );
        return Ok((
            (),
            format!(
                "status {} (replicas and unserved voices need OPERATOR_TOKEN)",
                health.status
            ),
        ));
    };
    let broken: Vec<String> = checks
        .iter()
        .filter(|(_, state)| state.as_str() != "ok")
        .map(|(name, state)| format!("{name} {state}"))
        .collect();
    ensure!(
        broken.is_empty(),
        "status {}: {}",
        health.status,
        broken.join(", ")
    );
    let mut problems = Vec::new();
    for slug in deployed {
        match health.models.get(slug) {
            None => problems.push(format!("{slug} is not in /api/health")),
            Some(m) if m.replicas < min_replicas => problems.push(format!(
                "{slug} has {} live replicas, expected at least {min_replicas}",
                m.replicas
            )),
            Some(_) => {}
        }
    }
    let unserved: BTreeMap<String, BTreeSet<String>> = health
        .unserved
        .into_iter()
        .filter(|(model, _)| deployed.contains(model))
        .collect();
    if !unserved.is_empty() {
        problems.push(format!(
            "voices no live worker serves: {}",
            describe(&unserved)
        ));
    }
    ensure!(problems.is_empty(), "{}", problems.join("; "));
    let replicas: Vec<String> = deployed
        .iter()
        .filter_map(|slug| {
            let m = health.models.get(slug)?;
            Some(format!("{slug}: {} replicas", m.replicas))
        })
        .collect();
    Ok((
        (),
        format!(
            "status {}, {}, commit {}",
            health.status,
            replicas.join(", "),
            short_commit(commit)
        ),
    ))
}

/// `/api/version` names the commit that was deployed.
pub async fn version(http: &Client, base: &str, expected: Option<&str>) -> Result<((), String)> {
    let version: Version = json(http, &format!("{base}/api/version")).await?;
    if let Some(expected) = expected {
        let expected = expected.trim();
        ensure!(
            expected.len() >= 7 && version.commit.starts_with(expected),
            "commit {} is running, expected {expected}",
            version.commit
        );
    }
    ensure!(
        version.commit != "unknown",
        "the image was built without GIT_COMMIT"
    );
    Ok((
        (),
        format!(
            "commit {} (version {}, built {})",
            version.commit, version.version, version.built_at
        ),
    ))
}

/// The slug contract: `/v1/models` lists exactly the seed catalogue's models and voices, and
/// every voice of a deployed model is available (served by a live worker). Any drift names the
/// slugs.
pub async fn slug_contract(http: &Client, base: &str, deployed: &[String]) -> Result<((), String)> {
    let served: Models = json(http, &format!("{base}/v1/models")).await?;
    let seeded = seed::Catalog::builtin();
    let drift = contract_drift(&seeded, &served, deployed);
    ensure!(drift.is_empty(), "{}", drift.join("; "));
    let voices: usize = seeded
        .models
        .iter()
        .filter(|m| deployed.contains(&m.slug))
        .map(|m| m.voices.len())
        .sum();
    Ok((
        (),
        format!(
            "{} seeded models listed; {} with {voices} voices, all served",
            seeded.models.len(),
            deployed.join(", ")
        ),
    ))
}

/// What differs between the seed catalogue and `/v1/models`, one sentence per kind of drift.
fn contract_drift(seeded: &seed::Catalog, served: &Models, deployed: &[String]) -> Vec<String> {
    let mut missing = Vec::new();
    let mut unavailable = Vec::new();
    let mut unknown = Vec::new();
    for model in &seeded.models {
        if !served.models.iter().any(|m| m.slug == model.slug) {
            missing.push(model.slug.clone());
        }
    }
    for model in &served.models {
        let Some(seeded_model) = seeded.models.iter().find(|m| m.slug == model.slug) else {
            unknown.push(model.slug.clone());
            continue;
        };
        let is_deployed = deployed.contains(&model.slug);
        if is_deployed && !model.available {
            unavailable.push(model.slug.clone());
        }
        for voice in &seeded_model.voices {
            match model.voices.iter().find(|v| v.slug == voice.slug) {
                None => missing.push(format!("{}/{}", model.slug, voice.slug)),
                Some(v) if is_deployed && !v.available => {
                    unavailable.push(format!("{}/{}", model.slug, voice.slug))
                }
                Some(_) => {}
            }
        }
        for voice in &model.voices {
            if !seeded_model.voices.iter().any(|v| v.slug == voice.slug) {
                unknown.push(format!("{}/{}", model.slug, voice.slug));
            }
        }
    }
    let mut drift = Vec::new();
    if !missing.is_empty() {
        drift.push(format!("seeded but not in /v1/models: {}", list(&missing)));
    }
    if !unknown.is_empty() {
        drift.push(format!(
            "in /v1/models but not in the seed catalogue: {}",
            list(&unknown)
        ));
    }
    if !unavailable.is_empty() {
        drift.push(format!("served by no live worker: {}", list(&unavailable)));
    }
    drift
}

/// `index.html` must be revalidated on every load, hashed assets cached for good: after a
/// deploy no browser keeps old code.
pub async fn web_caching(http: &Client, base: &str) -> Result<((), String)> {
    let url = format!("{base}/");
    let response = expect(http.get(&url).send().await?, StatusCode::OK, "GET /").await?;
    let index_cache = cache_control(&response);
    ensure!(
        index_cache.contains("no-cache"),
        "GET / has Cache-Control {index_cache:?}, expected no-cache"
    );
    let html = response.text().await?;
    let asset = first_asset(&html).ok_or_else(|| {
        anyhow!("index.html names no /assets/ file (is the web player in the image?)")
    })?;
    let response = expect(
        http.get(format!("{base}{asset}")).send().await?,
        StatusCode::OK,
        &format!("GET {asset}"),
    )
    .await?;
    let asset_cache = cache_control(&response);
    ensure!(
        asset_cache.contains("immutable"),
        "GET {asset} has Cache-Control {asset_cache:?}, expected immutable"
    );
    Ok(((), format!("index.html no-cache, {asset} immutable")))
}

/// Signs in with the given account, or signs up a fresh one, and reads `/v1/me` back.
pub async fn account(
    http: &Client,
    base: &str,
    credentials: Option<&(String, String)>,
) -> Result<(Gateway, String)> {
    let (path, email, password, want) = match credentials {
        Some((email, password)) => ("sign-in", email.clone(), password.clone(), StatusCode::OK),
        None => {
            let nanos = bench_gateway::machine::clock_seed();
            (
                "sign-up",
                format!("smoke-{nanos}@example.org"),
                format!("smoke check {nanos}"),
                StatusCode::CREATED,
            )
        }
    };
    let url = format!("{base}/v1/auth/{path}");
    let response = http
        .post(&url)
        .json(&Credentials {
            email: &email,
            password: &password,
        })
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let session: Session = expect(response, want, &format!("POST /v1/auth/{path}"))
        .await?
        .json()
        .await?;
    ensure!(
        session.user.email == email,
        "{path} answered for {:?}, not {email:?}",
        session.user.email
    );
    let response = http
        .get(format!("{base}/v1/me"))
        .bearer_auth(&session.token)
        .send()
        .await?;
    let me: Me = expect(response, StatusCode::OK, "GET /v1/me")
        .await?
        .json()
        .await?;
    ensure!(me.user.email == email, "/v1/me names {:?}", me.user.email);
    let gateway = Gateway::connect(base, Some(session.token)).await?;
    Ok((gateway, format!("{path} as {email}")))
}

/// A one-paragraph document from text nobody has heard, so its block is synthesized now.
pub async fn document(gateway: &Gateway) -> Result<(Document, String)> {
    let voice = gateway.voice("kokoro", None).await?;
    let (text, _) =
        bench_gateway::texts::FreshParagraphs::new(bench_gateway::machine::clock_seed(), 160)
            .pair();
    let (id, block) = gateway
        .single_block_document("yapit smoke check", &text)
        .await?;
    let detail = format!(
        "{id}, one block of {} characters",
        block.text.chars().count()
    );
    Ok((Document { id, block, voice }, detail))
}

/// The block read through the player's WebSocket until `cached`.
pub async fn read_block(
    gateway: &Gateway,
    document: &Document,
    limit: Duration,
) -> Result<(Cached, String)> {
    let mut ws = api::ws_connect(&gateway.ws_url()).await?;
    let started = std::time::Instant::now();
    let cached = api::synthesize_block(
        &mut ws,
        &document.id,
        document.block.idx,
        &document.voice,
        limit,
    )
    .await?;
    let detail = format!(
        "block {} cached with {}/{} after {:.1} s",
        document.block.idx,
        document.voice.model,
        document.voice.voice,
        started.elapsed().as_secs_f64()
    );
    Ok((cached, detail))
}

/// The cached block's audio, fetched as the player fetches it, is a WAV with sound in it.
pub async fn audio(gateway: &Gateway, cached: &Cached) -> Result<((), String)> {
    let response = gateway
        .http()
        .get(format!("{}{}", gateway.base(), cached.audio_url))
        .bearer_auth(gateway.token())
        .send()
        .await?;
    let bytes = expect(
        response,
        StatusCode::OK,
        &format!("GET {}", cached.audio_url),
    )
    .await?
    .bytes()
    .await?;
    Ok(((), wav::audible(&bytes)?))
}

/// `POST /v1/audio/speech`, as an OpenAI client calls it, answers a non-silent WAV.
pub async fn speech(gateway: &Gateway) -> Result<((), String)> {
    let voice = gateway.voice("kokoro", None).await?;
    let response = gateway
        .http()
        .post(format!("{}/v1/audio/speech", gateway.base()))
        .bearer_auth(gateway.token())
        .json(&Speech {
            model: &voice.model,
            voice: &voice.voice,
            input: "The deployment answers.",
            response_format: "wav",
        })
        .send()
        .await?;
    let response = expect(response, StatusCode::OK, "POST /v1/audio/speech").await?;
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    ensure!(
        kind.starts_with("audio/wav"),
        "Content-Type is {kind:?}, expected audio/wav"
    );
    let bytes = response.bytes().await?;
    Ok(((), wav::audible(&bytes)?))
}

fn cache_control(response: &Response) -> String {
    response
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The first `/assets/…` path in an `index.html` (a script or a stylesheet Vite wrote).
fn first_asset(html: &str) -> Option<&str> {
    let start = html.find("\"/assets/")? + 1;
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

fn short_commit(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// At most ten names, then how many more.
fn list(names: &[String]) -> String {
    if names.len() <= 10 {
        return names.join(", ");
    }
    format!("{} and {} more", names[..10].join(", "), names.len() - 10)
}

fn describe(unserved: &BTreeMap<String, BTreeSet<String>>) -> String {
    let names: Vec<String> = unserved
        .iter()
        .flat_map(|(model, voices)| voices.iter().map(move |v| format!("{model}/{v}")))
        .collect();
    list(&names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_asset_is_found_in_a_vite_index() {
        let html = r#"<head><script type="module" crossorigin src="/assets/index-B1x2.js"></script>
            <link rel="stylesheet" crossorigin href="/assets/index-9zQ.css"></head>"#;
        assert_eq!(first_asset(html), Some("/assets/index-B1x2.js"));
        assert_eq!(first_asset("<p>yapit</p>"), None);
    }

    fn catalogue() -> seed::Catalog {
        seed::Catalog::from_toml(
            r#"
            [[models]]
            slug = "kokoro"
            name = "Kokoro"
            sample_rate = 24000
            voices = [{ slug = "af_alloy", name = "Alloy", lang = "en-US" },
                      { slug = "jf_alpha", name = "Alpha", lang = "ja" }]
            [[models]]
            slug = "higgs"
            name = "Higgs"
            sample_rate = 24000
            voices = [{ slug = "belinda", name = "Belinda", lang = "en-US" }]
            "#,
        )
        .unwrap()
    }

    fn served(json: &str) -> Models {
        serde_json::from_str(json).unwrap()
    }

    const IN_SYNC: &str = r#"{"models": [
        {"slug": "kokoro", "available": true, "voices": [
            {"slug": "af_alloy", "available": true}, {"slug": "jf_alpha", "available": true}]},
        {"slug": "higgs", "available": false, "voices": [{"slug": "belinda", "available": false}]}]}"#;

    #[test]
    fn a_catalogue_in_sync_has_no_drift_even_with_an_undeployed_model_unserved() {
        let deployed = ["kokoro".to_string()];
        assert!(contract_drift(&catalogue(), &served(IN_SYNC), &deployed).is_empty());
        let both = ["kokoro".to_string(), "higgs".to_string()];
        assert_eq!(
            contract_drift(&catalogue(), &served(IN_SYNC), &both),
            ["served by no live worker: higgs, higgs/belinda"]
        );
    }

    #[test]
    fn a_renamed_voice_is_named_both_ways() {
        let renamed = IN_SYNC.replace(
            "\"af_alloy\", \"available\": true",
            "\"af_alloy_x\", \"available\": false",
        );
        let drift = contract_drift(&catalogue(), &served(&renamed), &["kokoro".to_string()]);
        assert_eq!(
            drift,
            [
                "seeded but not in /v1/models: kokoro/af_alloy",
                "in /v1/models but not in the seed catalogue: kokoro/af_alloy_x"
            ]
        );
    }

    #[test]
    fn an_unserved_voice_of_a_deployed_model_is_drift() {
        let unserved = IN_SYNC.replace(
            "\"jf_alpha\", \"available\": true",
            "\"jf_alpha\", \"available\": false",
        );
        let drift = contract_drift(&catalogue(), &served(&unserved), &["kokoro".to_string()]);
        assert_eq!(drift, ["served by no live worker: kokoro/jf_alpha"]);
    }

    #[test]
    fn long_lists_are_cut_after_ten_names() {
        let names: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
        assert_eq!(
            list(&names),
            "v0, v1, v2, v3, v4, v5, v6, v7, v8, v9 and 2 more"
        );
    }
}
