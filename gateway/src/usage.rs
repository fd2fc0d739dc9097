//! Usage: characters synthesized and seconds of audio per user and day, and the optional daily
//! character quota. The user who caused a synthesis pays for it; a cache hit is free.

use std::sync::Arc;

use axum::{Router, extract::State, routing::get};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{auth::CurrentUser, error::ApiError, startup::AppState};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/usage", get(usage))
}

/// The usage ledger the dispatchers report finished syntheses to.
pub struct Ledger(pub PgPool);

impl crate::synthesis::UsageLedger for Ledger {
    async fn record(&self, user: Uuid, characters: i64, audio_ms: i64) -> Result<(), String> {
        record(&self.0, user, characters, audio_ms)
            .await
            .map_err(|e| e.to_string())
    }
}

pub async fn record(
    pool: &PgPool,
    user_id: Uuid,
    characters: i64,
    audio_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO usage_daily (user_id, day, characters, audio_ms, syntheses)
         VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2, $3, 1)
         ON CONFLICT (user_id, day) DO UPDATE SET
             characters = usage_daily.characters + EXCLUDED.characters,
             audio_ms = usage_daily.audio_ms + EXCLUDED.audio_ms,
             syntheses = usage_daily.syntheses + 1",
    )
    .bind(user_id)
    .bind(characters)
    .bind(audio_ms)
    .execute(pool)
    .await?;
    Ok(())
}

/// Characters synthesized for a user today (UTC).
pub async fn characters_today(pool: &PgPool, user_id: Uuid) -> Result<i64, sqlx::Error> {
    let (chars,): (Option<i64>,) = sqlx::query_as(
        "SELECT sum(characters)::bigint FROM usage_daily
         WHERE user_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?;
    Ok(chars.unwrap_or(0))
}

/// Refuses a synthesis of `characters` more when it would go over the daily quota.
pub async fn check_quota(
    state: &AppState,
    user_id: Uuid,
    characters: usize,
) -> Result<(), ApiError> {
    let quota = state.config.daily_char_quota;
    if quota == 0 {
        return Ok(());
    }
    let used = characters_today(&state.pool, user_id).await? as u64;
    if used + characters as u64 > quota {
        return Err(ApiError::QuotaExceeded(format!(
            "quota exceeded: {used} of your {quota} characters for today are used; \
             cached audio still plays"
        )));
    }
    Ok(())
}

async fn usage(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let rows: Vec<(time::Date, i64, i64, i32)> = sqlx::query_as(
        "SELECT day, characters, audio_ms, syntheses FROM usage_daily
         WHERE user_id = $1 ORDER BY day DESC LIMIT 31",
    )
    .bind(user.id)
    .fetch_all(&state.pool)
    .await?;
    let today = characters_today(&state.pool, user.id).await?;
    let quota = state.config.daily_char_quota;
    Ok(axum::Json(serde_json::json!({
        "daily_char_quota": (quota > 0).then_some(quota),
        "characters_today": today,
        "days": rows.iter().map(|(day, characters, audio_ms, syntheses)| serde_json::json!({
            "day": day.to_string(),
            "characters": characters,
            "audio_seconds": *audio_ms as f64 / 1000.0,
            "syntheses": syntheses,
        })).collect::<Vec<_>>(),
    })))
}
