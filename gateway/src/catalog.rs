//! `GET /v1/models`: the catalogue of models and voices as seeded from seed/catalog.toml, and for
//! each whether a live worker serves it right now. Clients take every model and voice slug from
//! here; nothing hard-codes them.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use axum::{Router, extract::State, routing::get};
use proto::blend::VoiceBlend;
use serde::Serialize;
use sqlx::PgPool;

use crate::{error::ApiError, startup::AppState};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/models", get(models))
}

#[derive(Debug, Clone, Serialize)]
pub struct Voice {
    pub slug: String,
    pub name: String,
    pub lang: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub slug: String,
    pub name: String,
    pub sample_rate: i32,
    /// The voice clients use until the listener picks one (seed/catalog.toml's `default_voice`).
    pub default_voice: Option<String>,
    pub voices: Vec<Voice>,
}

/// The seeded catalogue, read once at start (it only changes with a seed, which restarts).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub models: BTreeMap<String, Model>,
}

/// One model, joined with one of its voices (none for a model without voices).
type CatalogRow = (
    String,
    String,
    i32,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Catalog {
    pub async fn load(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let rows: Vec<CatalogRow> = sqlx::query_as(
            "SELECT m.slug, m.name, m.sample_rate, m.default_voice, v.slug, v.name, v.lang
                 FROM models m LEFT JOIN voices v ON v.model_id = m.id
                 ORDER BY m.slug, v.slug",
        )
        .fetch_all(pool)
        .await?;
        let mut models: BTreeMap<String, Model> = BTreeMap::new();
        for (slug, name, sample_rate, default_voice, voice_slug, voice_name, lang) in rows {
            let model = models.entry(slug.clone()).or_insert_with(|| Model {
                slug,
                name,
                sample_rate,
                default_voice,
                voices: Vec::new(),
            });
            if let (Some(slug), Some(name), Some(lang)) = (voice_slug, voice_name, lang) {
                model.voices.push(Voice { slug, name, lang });
            }
        }
        Ok(Self { models })
    }

    /// Checks a model and a voice (or a blend of its voices, `af_bella(2)+af_sky(1)`) against
    /// the catalogue and returns the voice's canonical spelling, which names its audio in the
    /// cache; the error names the valid choices.
    pub fn check(&self, model: &str, voice: &str) -> Result<String, String> {
        let Some(entry) = self.models.get(model) else {
            let known: Vec<&str> = self.models.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown model {model:?}; choose one of: {}",
                known.join(", ")
            ));
        };
        let blend = VoiceBlend::parse(voice).map_err(|e| e.to_string())?;
        let mut voices: Vec<&Voice> = Vec::new();
        for slug in blend.voices() {
            let Some(found) = entry.voices.iter().find(|v| v.slug == slug) else {
                let known: Vec<&str> = entry.voices.iter().map(|v| v.slug.as_str()).collect();
                return Err(format!(
                    "unknown voice {slug:?} for model {model}; choose one of: {}",
                    known.join(", ")
                ));
            };
            voices.push(found);
        }
        // Each voice reads its own language; a mix of two would have no G2P to follow.
        if voices.iter().any(|v| v.lang != voices[0].lang) {
            let languages: Vec<String> = voices
                .iter()
                .map(|v| format!("{} is {}", v.slug, v.lang))
                .collect();
            return Err(format!(
                "voice blend {voice:?} mixes languages ({}); blend voices of one language",
                languages.join(", ")
            ));
        }
        Ok(blend.to_string())
    }
}

/// Seeded voices no live worker serves, per model (empty when everything is served).
pub fn unserved(state: &AppState) -> BTreeMap<String, BTreeSet<String>> {
    let serving = state.synthesis.workers().serving();
    state
        .catalog
        .models
        .values()
        .filter_map(|model| {
            let served = serving.get(&model.slug).map(|s| &s.voices);
            let missing: BTreeSet<String> = model
                .voices
                .iter()
                .filter(|v| served.is_none_or(|s| !s.contains(&v.slug)))
                .map(|v| v.slug.clone())
                .collect();
            (!missing.is_empty()).then(|| (model.slug.clone(), missing))
        })
        .collect()
}

async fn models(
    State(state): State<Arc<AppState>>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let serving = state.synthesis.workers().serving();
    let models: Vec<serde_json::Value> = state
        .catalog
        .models
        .values()
        .map(|model| {
            let live = serving.get(&model.slug);
            let voices: Vec<serde_json::Value> = model
                .voices
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "slug": v.slug, "name": v.name, "lang": v.lang,
                        "available": live.is_some_and(|l| l.voices.contains(&v.slug)),
                    })
                })
                .collect();
            serde_json::json!({
                "slug": model.slug,
                "name": model.name,
                "sample_rate": model.sample_rate,
                "default_voice": model.default_voice,
                "available": live.is_some(),
                "replicas": live.map_or(0, |l| l.replicas),
                "max_text_chars": live.map(|l| l.max_text_chars),
                "voices": voices,
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "models": models })))
}
