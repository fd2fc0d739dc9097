//! `GET /v1/models`: the catalogue of models and voices, as seeded from seed/catalog.toml.
//! Clients take every model and voice slug from here; nothing hard-codes them.

use std::{collections::BTreeMap, sync::Arc};

use axum::{Router, extract::State, routing::get};
use serde::Serialize;

use crate::{error::ApiError, startup::AppState};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/models", get(models))
}

#[derive(Serialize)]
struct Voice {
    slug: String,
    name: String,
    lang: String,
}

#[derive(Serialize)]
struct Model {
    slug: String,
    name: String,
    sample_rate: i32,
    voices: Vec<Voice>,
}

/// One model, joined with one of its voices (none for a model without voices).
type CatalogRow = (
    String,
    String,
    i32,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn models(
    State(state): State<Arc<AppState>>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let rows: Vec<CatalogRow> = sqlx::query_as(
        "SELECT m.slug, m.name, m.sample_rate, v.slug, v.name, v.lang
             FROM models m LEFT JOIN voices v ON v.model_id = m.id
             ORDER BY m.slug, v.slug",
    )
    .fetch_all(&state.pool)
    .await?;
    let mut models: BTreeMap<String, Model> = BTreeMap::new();
    for (slug, name, sample_rate, voice_slug, voice_name, lang) in rows {
        let model = models.entry(slug.clone()).or_insert_with(|| Model {
            slug,
            name,
            sample_rate,
            voices: Vec::new(),
        });
        if let (Some(slug), Some(name), Some(lang)) = (voice_slug, voice_name, lang) {
            model.voices.push(Voice { slug, name, lang });
        }
    }
    Ok(axum::Json(
        serde_json::json!({ "models": models.into_values().collect::<Vec<_>>() }),
    ))
}
