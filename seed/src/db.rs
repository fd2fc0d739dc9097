//! Applying the manifest to Postgres, and comparing the two.
//!
//! Runtime queries only (no `query!` macros): the crate builds without a database.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};

use crate::{Catalog, CatalogModel, Drift, SeedError, SeedReport};

/// Key of the transaction-scoped advisory lock that serialises concurrent [`apply`] runs
/// (several gateway replicas starting at once). ASCII "yapitsed".
const APPLY_LOCK_KEY: i64 = 0x7961_7069_7473_6564;

/// Opens a small pool for seeding; failures come back as [`SeedError::Connect`]. Refused
/// connections are retried for a few seconds (a database that is still starting up).
pub async fn connect(database_url: &str) -> Result<PgPool, SeedError> {
    const TIMEOUT: Duration = Duration::from_secs(5);
    match PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(TIMEOUT)
        .connect(database_url)
        .await
    {
        Ok(pool) => Ok(pool),
        // The pool hides why it could not connect; one direct attempt says (refused, bad
        // password, unknown database...).
        Err(sqlx::Error::PoolTimedOut) => {
            match tokio::time::timeout(TIMEOUT, PgConnection::connect(database_url)).await {
                Ok(Err(cause)) => Err(SeedError::Connect(cause)),
                _ => Err(SeedError::Connect(sqlx::Error::PoolTimedOut)),
            }
        }
        Err(e) => Err(SeedError::Connect(e)),
    }
}

/// Brings the database in line with `catalog`, in one transaction, and says what changed.
///
/// Idempotent: a second run changes nothing and returns an all-zero report. Only rows that
/// differ are written. Rows under a legacy slug are renamed in place (same id), or merged into
/// the current row when both exist. Voices and models the manifest does not list are kept.
pub async fn apply(pool: &PgPool, catalog: &Catalog) -> Result<SeedReport, SeedError> {
    catalog.validate()?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPLY_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    let mut report = SeedReport::default();
    for model in &catalog.models {
        let model_id = apply_model(&mut tx, model, &mut report).await?;
        apply_voices(&mut tx, model_id, model, &mut report).await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// Finds (renaming or merging legacy rows), inserts or updates one model; returns its id.
async fn apply_model(
    tx: &mut Transaction<'static, Postgres>,
    model: &CatalogModel,
    report: &mut SeedReport,
) -> Result<i64, SeedError> {
    let mut slugs = vec![model.slug.clone()];
    slugs.extend(model.legacy_slugs.iter().cloned());
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, slug FROM models WHERE slug = ANY($1) FOR UPDATE")
            .bind(&slugs)
            .fetch_all(&mut **tx)
            .await?;
    // The current row if there is one, else rows in the manifest's order of legacy slugs.
    let mut found: Vec<(i64, &str)> = slugs
        .iter()
        .filter_map(|s| {
            rows.iter()
                .find(|(_, slug)| slug == s)
                .map(|(id, _)| (*id, s.as_str()))
        })
        .collect();

    let model_id = if found.is_empty() {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO models (slug, name, sample_rate, default_voice) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(&model.slug)
        .bind(&model.name)
        .bind(model.sample_rate)
        .bind(&model.default_voice)
        .fetch_one(&mut **tx)
        .await?;
        tracing::info!(model = %model.slug, id, "catalog: model inserted");
        report.models_inserted += 1;
        id
    } else {
        let (target, target_slug) = found.remove(0);
        if target_slug != model.slug {
            // Renamed in place: the id, and so every reference to it, is kept.
            sqlx::query("UPDATE models SET slug = $2 WHERE id = $1")
                .bind(target)
                .bind(&model.slug)
                .execute(&mut **tx)
                .await?;
            tracing::info!(from = target_slug, to = %model.slug, id = target, "catalog: legacy model slug renamed");
            report.models_renamed += 1;
        }
        for (legacy, legacy_slug) in found {
            let moved = merge_model(tx, legacy, target).await?;
            tracing::info!(from = legacy_slug, into = %model.slug, voices_moved = moved, "catalog: legacy model merged");
            report.models_renamed += 1;
            report.voices_updated += moved;
        }
        let updated = sqlx::query(
            "UPDATE models SET name = $2, sample_rate = $3, default_voice = $4 \
             WHERE id = $1 AND (name IS DISTINCT FROM $2 OR sample_rate IS DISTINCT FROM $3 \
                                OR default_voice IS DISTINCT FROM $4)",
        )
        .bind(target)
        .bind(&model.name)
        .bind(model.sample_rate)
        .bind(&model.default_voice)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        report.models_updated += count(updated);
        target
    };
    Ok(model_id)
}

/// Merges the legacy model row `from` into the current row `into`; returns how many voices
/// were moved.
///
/// Why deleting the legacy row is safe: first every voice of `from` whose slug `into` lacks is
/// moved to `into` (an UPDATE of `model_id`, so the voice keeps its id and anything pointing at
/// it). What is left under `from` are voices whose slug `into` already has — duplicates of
/// voices that stay — and the model row itself. In the schema (migrations/0001_init.sql)
/// nothing but `voices.model_id` references `models.id`, and nothing references `voices.id`.
/// Should a later table reference either with the default `NO ACTION`/`RESTRICT`, the DELETE
/// fails, the whole transaction rolls back and nothing is half-merged; with `ON DELETE
/// CASCADE` only rows tied to the duplicate legacy voice or row go with it.
async fn merge_model(
    tx: &mut Transaction<'static, Postgres>,
    from: i64,
    into: i64,
) -> Result<u32, SeedError> {
    let moved = sqlx::query(
        "UPDATE voices SET model_id = $2 WHERE model_id = $1 \
         AND slug NOT IN (SELECT slug FROM voices WHERE model_id = $2)",
    )
    .bind(from)
    .bind(into)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM voices WHERE model_id = $1")
        .bind(from)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM models WHERE id = $1")
        .bind(from)
        .execute(&mut **tx)
        .await?;
    Ok(count(moved))
}

/// Updates the voices of `model_id` that differ from the manifest and inserts missing ones
/// (in manifest order); voices the manifest does not list are left alone.
async fn apply_voices(
    tx: &mut Transaction<'static, Postgres>,
    model_id: i64,
    model: &CatalogModel,
    report: &mut SeedReport,
) -> Result<(), SeedError> {
    let slugs: Vec<&str> = model.voices.iter().map(|v| v.slug.as_str()).collect();
    let names: Vec<&str> = model.voices.iter().map(|v| v.name.as_str()).collect();
    let langs: Vec<&str> = model.voices.iter().map(|v| v.lang.as_str()).collect();
    let updated = sqlx::query(
        "UPDATE voices AS v SET name = m.name, lang = m.lang \
         FROM UNNEST($2::text[], $3::text[], $4::text[]) AS m(slug, name, lang) \
         WHERE v.model_id = $1 AND v.slug = m.slug \
           AND (v.name IS DISTINCT FROM m.name OR v.lang IS DISTINCT FROM m.lang)",
    )
    .bind(model_id)
    .bind(&slugs)
    .bind(&names)
    .bind(&langs)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let inserted = sqlx::query(
        "INSERT INTO voices (model_id, slug, name, lang) \
         SELECT $1, m.slug, m.name, m.lang \
         FROM UNNEST($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS m(slug, name, lang, ord) \
         ORDER BY m.ord \
         ON CONFLICT (model_id, slug) DO NOTHING",
    )
    .bind(model_id)
    .bind(&slugs)
    .bind(&names)
    .bind(&langs)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated + inserted > 0 {
        tracing::info!(model = %model.slug, inserted, updated, "catalog: voices applied");
    }
    report.voices_updated += count(updated);
    report.voices_inserted += count(inserted);
    Ok(())
}

fn count(rows: u64) -> u32 {
    u32::try_from(rows).unwrap_or(u32::MAX)
}

/// A model row as read by [`check`].
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct DbModel {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub sample_rate: i32,
    pub default_voice: Option<String>,
}

/// A voice row as read by [`check`].
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct DbVoice {
    pub model_id: i64,
    pub slug: String,
    pub name: String,
    pub lang: String,
}

/// Compares the database with `catalog` without changing anything; empty means in sync.
///
/// On a database without the `models`/`voices` tables (not migrated yet) every model is
/// reported missing. A missing model's voices are implied and not listed one by one.
pub async fn check(pool: &PgPool, catalog: &Catalog) -> Result<Vec<Drift>, SeedError> {
    catalog.validate()?;
    // One read-only snapshot, so models and voices are seen consistently.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let migrated: bool = sqlx::query_scalar(
        "SELECT to_regclass('models') IS NOT NULL AND to_regclass('voices') IS NOT NULL",
    )
    .fetch_one(&mut *tx)
    .await?;
    if !migrated {
        return Ok(diff(catalog, &[], &[]));
    }
    let models: Vec<DbModel> =
        sqlx::query_as("SELECT id, slug, name, sample_rate, default_voice FROM models")
            .fetch_all(&mut *tx)
            .await?;
    let voices: Vec<DbVoice> = sqlx::query_as("SELECT model_id, slug, name, lang FROM voices")
        .fetch_all(&mut *tx)
        .await?;
    tx.rollback().await?;
    Ok(diff(catalog, &models, &voices))
}

/// The drift between database rows and the manifest, in manifest order (extras sorted by slug).
pub(crate) fn diff(catalog: &Catalog, models: &[DbModel], voices: &[DbVoice]) -> Vec<Drift> {
    let mut drift = Vec::new();
    let by_slug = |slug: &str| models.iter().find(|m| m.slug == slug);
    for model in &catalog.models {
        let current = by_slug(&model.slug);
        let legacy: Vec<&DbModel> = model
            .legacy_slugs
            .iter()
            .filter_map(|s| by_slug(s))
            .collect();
        for row in &legacy {
            drift.push(Drift::LegacySlug {
                legacy: row.slug.clone(),
                slug: model.slug.clone(),
            });
        }
        // The row apply would keep: the current one, else the one it would rename.
        let Some(row) = current.or(legacy.first().copied()) else {
            drift.push(Drift::MissingModel {
                slug: model.slug.clone(),
            });
            continue;
        };
        let model_field = |field, db: String, manifest: String| Drift::ModelDiffers {
            slug: model.slug.clone(),
            field,
            db,
            manifest,
        };
        if row.name != model.name {
            drift.push(model_field("name", row.name.clone(), model.name.clone()));
        }
        if row.sample_rate != model.sample_rate {
            drift.push(model_field(
                "sample_rate",
                row.sample_rate.to_string(),
                model.sample_rate.to_string(),
            ));
        }
        if row.default_voice != model.default_voice {
            let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
            drift.push(model_field(
                "default_voice",
                shown(&row.default_voice),
                shown(&model.default_voice),
            ));
        }
        let db_voices: BTreeMap<&str, &DbVoice> = voices
            .iter()
            .filter(|v| v.model_id == row.id)
            .map(|v| (v.slug.as_str(), v))
            .collect();
        for voice in &model.voices {
            let Some(db) = db_voices.get(voice.slug.as_str()) else {
                drift.push(Drift::MissingVoice {
                    model: model.slug.clone(),
                    slug: voice.slug.clone(),
                });
                continue;
            };
            let voice_field = |field, db: &str, manifest: &str| Drift::VoiceDiffers {
                model: model.slug.clone(),
                slug: voice.slug.clone(),
                field,
                db: db.to_owned(),
                manifest: manifest.to_owned(),
            };
            if db.name != voice.name {
                drift.push(voice_field("name", &db.name, &voice.name));
            }
            if db.lang != voice.lang {
                drift.push(voice_field("lang", &db.lang, &voice.lang));
            }
        }
        let listed: HashSet<&str> = model.voices.iter().map(|v| v.slug.as_str()).collect();
        for slug in db_voices.keys().filter(|s| !listed.contains(*s)) {
            drift.push(Drift::ExtraVoice {
                model: model.slug.clone(),
                slug: (*slug).to_owned(),
            });
        }
    }
    let known: HashSet<&str> = catalog
        .models
        .iter()
        .flat_map(|m| std::iter::once(&m.slug).chain(&m.legacy_slugs))
        .map(String::as_str)
        .collect();
    let mut extra: Vec<&str> = models
        .iter()
        .map(|m| m.slug.as_str())
        .filter(|s| !known.contains(s))
        .collect();
    extra.sort_unstable();
    drift.extend(extra.into_iter().map(|slug| Drift::ExtraModel {
        slug: slug.to_owned(),
    }));
    drift
}
