//! `GET /api/health` (is every dependency reachable?) and `GET /api/version` (which code runs).

use std::sync::Arc;

use axum::{Router, extract::State, http::StatusCode, routing::get};

use crate::startup::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/version", get(version))
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
