//! `GET /api/health` (is every dependency reachable, and is every seeded model and voice served
//! by a live worker?) and `GET /api/version` (which code runs).

use std::sync::Arc;

use std::time::Duration;

use axum::{Router, extract::State, http::StatusCode, routing::get};

use crate::{catalog, startup::AppState};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/version", get(version))
}

/// 503 when the gateway cannot work (Postgres or Redis unreachable); 200 otherwise, with
/// `status: "degraded"` and the `unserved` voices when some seeded voice has no live worker.
async fn health(State(state): State<Arc<AppState>>) -> (StatusCode, axum::Json<serde_json::Value>) {
    let postgres = match sqlx::query("SELECT 1").execute(&state.pool).await {
        Ok(_) => "ok".to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "health: postgres unreachable");
            "unreachable".to_string()
        }
    };
    let mut redis = state.redis.clone();
    let ping = tokio::time::timeout(
        Duration::from_secs(2),
        redis::cmd("PING").query_async::<String>(&mut redis),
    )
    .await;
    let redis = match ping {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: redis unreachable");
            "unreachable".to_string()
        }
        Err(_) => "unreachable".to_string(),
    };
    let pool = &state.synthesis.pool;
    let serving = pool.serving();
    let mut models = serde_json::Map::new();
    for (slug, model) in &state.catalog.models {
        let (queued, running) = state.synthesis.queue.depth(slug).await.unwrap_or((0, 0));
        let live = serving.get(slug).cloned().unwrap_or_default();
        models.insert(
            slug.clone(),
            serde_json::json!({
                "default_voice": model.default_voice,
                "replicas": live.replicas,
                "capacity": live.capacity,
                "in_flight": live.in_flight,
                "voices_served": live.voices.len(),
                "queued": queued,
                "processing": running,
            }),
        );
    }
    let workers: Vec<serde_json::Value> = pool
        .replicas()
        .iter()
        .map(|r| {
            serde_json::json!({
                "address": r.address,
                "model": r.info.model_slug,
                "version": r.info.model_version,
                "healthy": r.is_healthy(),
                "capacity": r.info.capacity,
                "in_flight": r.in_flight(),
            })
        })
        .collect();
    let unserved = catalog::unserved(&state);
    let working = postgres == "ok" && redis == "ok";
    let status = if !working {
        "down"
    } else if unserved.is_empty() {
        "ok"
    } else {
        "degraded"
    };
    (
        if working {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        axum::Json(serde_json::json!({
            "status": status,
            "commit": COMMIT,
            "checks": {
                "postgres": postgres,
                "redis": redis,
                "events": if state.synthesis.hub.is_connected() { "ok" } else { "reconnecting" },
            },
            "models": models,
            "workers": workers,
            "unserved": unserved,
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
