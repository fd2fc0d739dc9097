//! `GET /v1/audio/{hash}`: a cached variant as WAV, from the hot cache, then the cold store.
//! Content-addressed, so it never changes: a strong `ETag`, a year of public caching, and
//! `Range` requests so a player can seek.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use crate::{error::ApiError, startup::AppState, synthesis::variant::is_valid_hash};

pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

pub async fn get_audio(
    State(state): State<Arc<AppState>>,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = hash.strip_suffix(".wav").unwrap_or(&hash).to_string();
    if !is_valid_hash(&hash) {
        return Err(ApiError::NotFound("audio"));
    }
    let etag = format!("\"{hash}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok(with_cache_headers(
            StatusCode::NOT_MODIFIED.into_response(),
            &etag,
        ));
    }
    let wav = state
        .synthesis
        .store
        .get(&hash)
        .await
        .ok_or(ApiError::NotFound("audio"))?;
    Ok(with_cache_headers(ranged(wav, &headers), &etag))
}

fn with_cache_headers(mut response: Response, etag: &str) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
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
