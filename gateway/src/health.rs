//! `GET /api/health` (is every dependency reachable?), `GET /api/version` (which code runs) and
//! `GET /`, a landing page until the web player is served there.

use std::sync::Arc;

use axum::{Router, extract::State, http::StatusCode, response::Html, routing::get};

use crate::startup::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/version", get(version))
        .route("/", get(home))
}

async fn home() -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>yapit</title>\
         <h1>yapit gateway</h1><p>Running commit <code>{COMMIT}</code>.</p>\
         <ul><li><a href=/api/health>/api/health</a></li><li><a href=/api/version>/api/version</a></li>\
         <li><a href=/v1/models>/v1/models</a></li></ul>\
         <p>Sign up, create documents and read their blocks through the JSON API (docs/api.md).</p>"
    ))
}

async fn health(State(state): State<Arc<AppState>>) -> (StatusCode, axum::Json<serde_json::Value>) {
    let postgres = match sqlx::query("SELECT 1").execute(&state.pool).await {
        Ok(_) => "ok".to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "health: postgres unreachable");
            "unreachable".to_string()
        }
    };
    let healthy = postgres == "ok";
    (
        if healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        axum::Json(serde_json::json!({
            "status": if healthy { "ok" } else { "degraded" },
            "checks": { "postgres": postgres },
        })),
    )
}

/// The commit is baked in at build time (build.rs), so anyone can see which code is deployed.
pub const COMMIT: &str = env!("YAPIT_GIT_COMMIT");
pub const BUILT_AT: &str = env!("YAPIT_BUILT_AT");

async fn version() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": COMMIT,
        "built_at": BUILT_AT,
    }))
}
