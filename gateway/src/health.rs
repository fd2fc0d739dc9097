//! `GET /api/health` (is every dependency reachable, and is every seeded model and voice served
//! by a live worker?) and `GET /api/version` (which code runs). The public sees the health
//! status only; worker addresses, model versions and queue depths are for the operator, whose
//! token (`OPERATOR_TOKEN`) comes as `Authorization: Bearer …`. A model version would let anyone
//! compute the address of a cached clip; addresses and queues map the deployment.

use std::sync::Arc;

use std::time::Duration;

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    routing::get,
};
use sha2::{Digest, Sha256};

use crate::{catalog, startup::AppState};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/version", get(version))
}

/// 503 when the gateway cannot work (Postgres or Redis unreachable); 200 otherwise, with
/// `status: "degraded"` and the `unserved` voices when some seeded voice has no live worker.
async fn health(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<serde_json::Value>) {
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
    let pool = state.synthesis.workers();
    let serving = pool.serving();
    let mut models = serde_json::Map::new();
    for (slug, model) in &state.catalog.models {
        let (queued, running) = state.synthesis.depth(slug).await.unwrap_or((0, 0));
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
    let code = if working {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if !is_operator(&state, &headers) {
        return (code, axum::Json(serde_json::json!({ "status": status })));
    }
    (
        code,
        axum::Json(serde_json::json!({
            "status": status,
            "commit": COMMIT,
            "checks": {
                "postgres": postgres,
                "redis": redis,
                "events": if state.synthesis.events_connected() { "ok" } else { "reconnecting" },
            },
            "models": models,
            "workers": workers,
            "unserved": unserved,
        })),
    )
}

/// Whether the request carries the operator's token. Both sides are hashed before comparing,
/// so the comparison takes as long whatever the guess.
fn is_operator(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = &state.config.operator_token else {
        return false;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    presented.is_some_and(|token| {
        !expected.expose().is_empty()
            && Sha256::digest(token.as_bytes()) == Sha256::digest(expected.expose().as_bytes())
    })
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
