//! Accounts and sessions: Argon2id password hashes, opaque bearer tokens (only their SHA-256 is
//! stored) that work as `Authorization: Bearer …` and as an HttpOnly SameSite cookie, and
//! sign-in rate limits per account and per client address.

mod password;
mod routes;

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{error::ApiError, startup::AppState};

pub use routes::router;

pub const SESSION_COOKIE: &str = "yapit_session";
/// The one user of single-user mode (`AUTH_ENABLED=false`).
pub const LOCAL_USER_EMAIL: &str = "local@yapit.invalid";

/// The signed-in user of a request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CurrentUser {
    pub id: Uuid,
    pub email: String,
}

/// Sign-in attempt limits, keyed by lower-cased e-mail and by client address.
pub struct SignInLimits {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl SignInLimits {
    pub fn new(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            per_account: RateLimiter::keyed(quota),
            per_address: RateLimiter::keyed(quota),
        }
    }

    /// Counts one attempt; refused once either key is over its quota.
    pub fn check(&self, email: &str, address: IpAddr) -> Result<(), ApiError> {
        let now = DefaultClock::default().now();
        let refused = |wait: Duration| ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        };
        self.per_address
            .check_key(&address)
            .map_err(|not_until| refused(not_until.wait_time_from(now)))?;
        self.per_account
            .check_key(&email.to_lowercase())
            .map_err(|not_until| refused(not_until.wait_time_from(now)))?;
        Ok(())
    }
}

/// A new random session token (what the client holds) and its hash (what the database holds).
fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let hash = token_hash(&token);
    (token, hash)
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The credential a request carries: the Bearer header first, then the session cookie.
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(token) = bearer {
        return Some(token.trim().to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

pub async fn create_session(
    pool: &PgPool,
    user_id: Uuid,
    ttl: Duration,
) -> Result<String, ApiError> {
    let (token, hash) = new_token();
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(hash)
    .bind(user_id)
    .bind(ttl.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(token)
}

/// Resolves a token to its user: 401 for an unknown (e.g. tampered) or expired one.
pub async fn user_for_token(pool: &PgPool, token: &str) -> Result<CurrentUser, ApiError> {
    let row: Option<(Uuid, String, bool)> = sqlx::query_as(
        "SELECT u.id, u.email, s.expires_at <= now()
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(pool)
    .await?;
    match row {
        Some((_, _, true)) => Err(ApiError::Unauthorized(
            "your session has expired; sign in again".into(),
        )),
        Some((id, email, false)) => Ok(CurrentUser { id, email }),
        None => Err(ApiError::Unauthorized(
            "the session token is not valid; sign in again".into(),
        )),
    }
}

/// The local user of single-user mode, created on first start.
pub async fn ensure_local_user(pool: &PgPool) -> Result<CurrentUser, sqlx::Error> {
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO users (email, password_hash) VALUES ($1, '!')
         ON CONFLICT (lower(email)) DO UPDATE SET email = EXCLUDED.email
         RETURNING id",
    )
    .bind(LOCAL_USER_EMAIL)
    .fetch_one(pool)
    .await?;
    Ok(CurrentUser {
        id,
        email: LOCAL_USER_EMAIL.into(),
    })
}

impl FromRequestParts<Arc<AppState>> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(local) = &state.local_user {
            return Ok(local.clone());
        }
        let token = presented_token(&parts.headers).ok_or_else(|| {
            ApiError::Unauthorized("sign in first: no session token was sent".into())
        })?;
        user_for_token(&state.pool, &token).await
    }
}
