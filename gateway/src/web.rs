//! The built web player (`web/dist`): hashed assets cached for a year, `index.html` never
//! cached (so a deploy never leaves a browser on old code), and `index.html` for every other
//! page path so the player's own routes work. API paths keep their JSON 404.

use std::{path::PathBuf, sync::Arc};

use axum::{
    Router,
    extract::State,
    handler::HandlerWithoutStateExt,
    http::{HeaderValue, Method, StatusCode, Uri, header},
    middleware,
    response::{Html, IntoResponse, Response},
};
use tower_http::services::ServeDir;

use crate::{error::error_body, health::COMMIT, startup::AppState};

pub fn router(web_dir: &std::path::Path) -> Router<Arc<AppState>> {
    let assets = ServeDir::new(web_dir.join("assets"))
        .not_found_service(asset_missing.into_service())
        .call_fallback_on_method_not_allowed(true);
    Router::new().nest_service(
        "/assets",
        Router::new()
            .fallback_service(assets)
            .layer(middleware::map_response(immutable_when_found)),
    )
}

/// Hashed assets never change: a year of caching, but only for what was found.
async fn immutable_when_found(mut response: Response) -> Response {
    if response.status().is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    response
}

async fn asset_missing(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(error_body(
            "not_found",
            &format!("no asset {}", uri.path().trim_start_matches('/')),
        )),
    )
        .into_response()
}

/// Everything no route matched.
pub async fn fallback(State(state): State<Arc<AppState>>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let api =
        path.starts_with("/v1/") || path.starts_with("/api/") || path == "/v1" || path == "/api";
    if api || !(method == Method::GET || method == Method::HEAD) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(error_body("not_found", &format!("no route for {path}"))),
        )
            .into_response();
    }
    let dir = &state.config.web_dir;
    // A file at the top of the build (favicon and the like), by a plain name only.
    let name = path.trim_start_matches('/');
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !name.starts_with('.')
        && name != "index.html"
        && let Ok(bytes) = tokio::fs::read(dir.join(name)).await
    {
        return no_cache(bytes, content_type(name));
    }
    match tokio::fs::read(index(dir)).await {
        Ok(html) => no_cache(html, "text/html; charset=utf-8"),
        Err(_) => landing().into_response(),
    }
}

fn index(dir: &std::path::Path) -> PathBuf {
    dir.join("index.html")
}

fn no_cache(body: Vec<u8>, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "webmanifest") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        _ => "application/octet-stream",
    }
}

/// Shown when the web player has not been built (`make dev` builds it).
fn landing() -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>yapit</title>\
         <h1>yapit gateway</h1><p>Running commit <code>{COMMIT}</code>. The web player is not \
         built here (<code>scripts/web.sh build</code>).</p>\
         <ul><li><a href=/api/health>/api/health</a></li><li><a href=/api/version>/api/version</a></li>\
         <li><a href=/v1/models>/v1/models</a></li></ul>"
    ))
}
