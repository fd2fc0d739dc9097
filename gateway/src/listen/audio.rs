//! `GET /v1/audio/{hash}?expires=…&sig=…`: a cached variant as WAV, from the hot cache, then
//! the cold store. The cache is content-addressed and shared between users, but the hash of a
//! guessable text is computable by anyone, so a download needs a short-lived link signed by the
//! gateway (HMAC-SHA256 over hash and expiry), handed only to a signed-in listener who asked for
//! the block. The bytes never change: a strong `ETag`, private caching until the link expires,
//! and `Range` requests so a player can seek.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use sha2::Sha256;

use crate::{
    config::Secret,
    error::{ApiError, Query},
    startup::AppState,
    synthesis::variant::is_valid_hash,
};

/// Signs and checks audio links.
pub struct AudioUrls {
    key: Vec<u8>,
    ttl: Duration,
}

impl AudioUrls {
    /// With `key` (shared by every gateway behind one address), or a random key of this process.
    pub fn new(key: Option<&Secret>, ttl: Duration) -> Self {
        let key = match key {
            Some(key) if !key.expose().is_empty() => key.expose().as_bytes().to_vec(),
            _ => {
                let mut random = vec![0u8; 32];
                rand::rng().fill_bytes(&mut random);
                random
            }
        };
        Self { key, ttl }
    }

    fn mac(&self, hash: &str, expires: u64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(hash.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// A link to the variant `hash`, valid for the configured time from now.
    pub fn sign(&self, hash: &str) -> String {
        let (expires, sig) = self.signature(hash);
        format!("/v1/audio/{hash}?expires={expires}&sig={sig}")
    }

    /// A link to segment `index` of the variant `hash` (one chunk of it, while it is rendered).
    pub fn sign_segment(&self, hash: &str, index: u32) -> String {
        let (expires, sig) = self.signature(&segment_name(hash, index));
        format!("/v1/audio/{hash}/segments/{index}?expires={expires}&sig={sig}")
    }

    fn signature(&self, name: &str) -> (u64, String) {
        let expires = unix_now() + self.ttl.as_secs();
        let sig = self
            .mac(name, expires)
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (expires, sig)
    }

    /// Seconds the link stays valid, or why it is refused.
    fn check(&self, hash: &str, link: &Link) -> Result<u64, ApiError> {
        let (Some(expires), Some(sig)) = (link.expires, link.sig.as_deref()) else {
            return Err(ApiError::Forbidden(
                "audio is served through the links the player receives; ask for the block again"
                    .into(),
            ));
        };
        let signature = decode_hex(sig).unwrap_or_default();
        if self.mac(hash, expires).verify_slice(&signature).is_err() {
            return Err(ApiError::Forbidden(
                "this audio link is not valid; ask for the block again".into(),
            ));
        }
        let now = unix_now();
        if expires <= now {
            return Err(ApiError::Forbidden(
                "this audio link has expired; ask for the block again".into(),
            ));
        }
        Ok(expires - now)
    }
}

/// What a segment link signs: never the same as a whole variant's name (that has no slash).
fn segment_name(hash: &str, index: u32) -> String {
    format!("{hash}/{index}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// The query of a signed link.
#[derive(Deserialize)]
pub struct Link {
    expires: Option<u64>,
    sig: Option<String>,
}

pub async fn get_audio(
    State(state): State<Arc<AppState>>,
    Path(hash): Path<String>,
    Query(link): Query<Link>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = hash.strip_suffix(".wav").unwrap_or(&hash).to_string();
    if !is_valid_hash(&hash) {
        return Err(ApiError::NotFound("audio"));
    }
    let valid_for = state.audio_urls.check(&hash, &link)?;
    let etag = format!("\"{hash}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok(with_cache_headers(
            StatusCode::NOT_MODIFIED.into_response(),
            &etag,
            valid_for,
        ));
    }
    let wav = state
        .synthesis
        .store()
        .get(&hash)
        .await
        .ok_or(ApiError::NotFound("audio"))?;
    Ok(with_cache_headers(ranged(wav, &headers), &etag, valid_for))
}

/// `GET /v1/audio/{hash}/segments/{index}?expires=…&sig=…`: one chunk of a block still being
/// rendered (or just rendered), as WAV, while it is kept; 404 after that (the whole block is
/// cached by then).
pub async fn get_segment(
    State(state): State<Arc<AppState>>,
    Path((hash, index)): Path<(String, String)>,
    Query(link): Query<Link>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let index = index.strip_suffix(".wav").unwrap_or(&index);
    let Ok(index) = index.parse::<u32>() else {
        return Err(ApiError::NotFound("audio"));
    };
    if !is_valid_hash(&hash) {
        return Err(ApiError::NotFound("audio"));
    }
    let name = segment_name(&hash, index);
    let valid_for = state.audio_urls.check(&name, &link)?;
    let etag = format!("\"{hash}-{index}\"");
    let wav = state
        .synthesis
        .store()
        .segment(&hash, index)
        .await
        .ok_or(ApiError::NotFound("audio"))?;
    Ok(with_cache_headers(ranged(wav, &headers), &etag, valid_for))
}

/// `GET /v1/audio/{hash}/words?expires=…&sig=…`: the variant's word timings as JSON
/// (`{"words": [{word, start_char, end_char, start, end}]}`, seconds from the start of its
/// audio, characters of its block's text). The audio's own link opens it: the player adds
/// `/words` to the path. 404 when the audio was made without timings or is no longer cached.
/// The body of `GET /v1/audio/{hash}/words`.
#[derive(serde::Serialize)]
struct Words {
    words: Vec<crate::synthesis::words::WordTiming>,
}

pub async fn get_words(
    State(state): State<Arc<AppState>>,
    Path(hash): Path<String>,
    Query(link): Query<Link>,
) -> Result<Response, ApiError> {
    if !is_valid_hash(&hash) {
        return Err(ApiError::NotFound("word timings"));
    }
    let valid_for = state.audio_urls.check(&hash, &link)?;
    let words = state
        .synthesis
        .store()
        .words(&hash)
        .await
        .ok_or(ApiError::NotFound("word timings"))?;
    let mut response = axum::Json(Words { words }).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("private, max-age={valid_for}, immutable")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    Ok(response)
}

/// Only the listener's own browser may keep the audio, and only while its link is valid; a
/// shared cache must not hand it to anyone else.
fn with_cache_headers(mut response: Response, etag: &str, valid_for: u64) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("private, max-age={valid_for}, immutable")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

/// The whole body, or the one range asked for (206), or 416 for a range past the end. Several
/// ranges in one request get the whole body, which the standard allows.
fn ranged(wav: Bytes, headers: &HeaderMap) -> Response {
    let len = wav.len() as u64;
    let whole = |wav: Bytes| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "audio/wav")],
            Body::from(wav),
        )
            .into_response()
    };
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return whole(wav);
    };
    let parsed = match http_range_header::parse_range_header(range) {
        Ok(parsed) => parsed,
        Err(_) => return whole(wav), // not a byte range we understand: ignore it
    };
    match parsed.validate(len) {
        Ok(ranges) if ranges.len() == 1 => {
            let (start, end) = (*ranges[0].start(), *ranges[0].end());
            let part = wav.slice(start as usize..=end as usize);
            let content_range = format!("bytes {start}-{end}/{len}");
            (
                StatusCode::PARTIAL_CONTENT,
                [
                    (header::CONTENT_TYPE, "audio/wav".to_string()),
                    (header::CONTENT_RANGE, content_range),
                ],
                Body::from(part),
            )
                .into_response()
        }
        Ok(_) => whole(wav),
        Err(_) => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn link(url: &str) -> Link {
        let query = url.split_once('?').unwrap().1;
        let mut link = Link {
            expires: None,
            sig: None,
        };
        for (name, value) in query.split('&').filter_map(|p| p.split_once('=')) {
            match name {
                "expires" => link.expires = value.parse().ok(),
                "sig" => link.sig = Some(value.to_string()),
                _ => {}
            }
        }
        link
    }

    #[test]
    fn a_signed_link_opens_its_own_audio_only_until_it_expires() {
        let urls = AudioUrls::new(None, Duration::from_secs(60));
        let signed = urls.sign(HASH);
        assert!(signed.starts_with(&format!("/v1/audio/{HASH}?")));
        let valid_for = urls.check(HASH, &link(&signed)).unwrap();
        assert!((1..=60).contains(&valid_for));

        let other = HASH.replace('0', "1");
        assert!(urls.check(&other, &link(&signed)).is_err());
        let mut later = link(&signed);
        later.expires = later.expires.map(|e| e + 3600);
        assert!(urls.check(HASH, &later).is_err(), "a moved expiry");
        let unsigned = Link {
            expires: None,
            sig: None,
        };
        assert!(urls.check(HASH, &unsigned).is_err());
        let segment = urls.sign_segment(HASH, 3);
        assert!(segment.starts_with(&format!("/v1/audio/{HASH}/segments/3?")));
        assert!(urls.check(&segment_name(HASH, 3), &link(&segment)).is_ok());
        assert!(
            urls.check(&segment_name(HASH, 4), &link(&segment)).is_err(),
            "another segment"
        );
        assert!(
            urls.check(HASH, &link(&segment)).is_err(),
            "a segment's link does not open the whole block"
        );
        let another_gateway = AudioUrls::new(None, Duration::from_secs(60));
        assert!(another_gateway.check(HASH, &link(&signed)).is_err());

        let expired = AudioUrls {
            key: urls.key.clone(),
            ttl: Duration::ZERO,
        };
        let message = expired.check(HASH, &link(&expired.sign(HASH))).unwrap_err();
        assert!(message.to_string().contains("expired"), "{message}");
    }
}
