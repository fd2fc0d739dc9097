//! Accounts and sessions: Argon2id password hashes, opaque bearer tokens (only their SHA-256 is
//! stored) that work as `Authorization: Bearer …` and as an HttpOnly SameSite cookie, sign-in
//! rate limits per account and per client address, and sign-up limits per client address.

mod client_address;
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

pub use client_address::{ClientAddress, client_address};
pub use password::Passwords;
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

/// Attempt limits: sign-in per account (its normalised e-mail) and per client address,
/// sign-up per client address.
pub struct AuthLimits {
    sign_in_per_account: DefaultKeyedRateLimiter<String>,
    sign_in_per_address: DefaultKeyedRateLimiter<IpAddr>,
    sign_up_per_address: DefaultKeyedRateLimiter<IpAddr>,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn refused<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), ApiError> {
    let now = DefaultClock::default().now();
    limiter
        .check_key(key)
        .map_err(|not_until| ApiError::TooManyRequests {
            retry_after_secs: not_until.wait_time_from(now).as_secs().max(1),
        })
}

impl AuthLimits {
    pub fn new(sign_in_per_minute: u32, sign_up_per_hour: u32) -> Self {
        let sign_in = Quota::per_minute(at_least_one(sign_in_per_minute));
        Self {
            sign_in_per_account: RateLimiter::keyed(sign_in),
            sign_in_per_address: RateLimiter::keyed(sign_in),
            sign_up_per_address: RateLimiter::keyed(Quota::per_hour(at_least_one(
                sign_up_per_hour,
            ))),
        }
    }

    /// Counts one sign-in attempt; refused once either key is over its quota. `email` must be
    /// normalised ([`normalise_email`]), or a space would open a fresh bucket.
    pub fn check_sign_in(&self, email: &str, address: IpAddr) -> Result<(), ApiError> {
        refused(&self.sign_in_per_address, &address)?;
        refused(&self.sign_in_per_account, &email.to_string())
    }

    /// Counts one sign-up attempt from `address`.
    pub fn check_sign_up(&self, address: IpAddr) -> Result<(), ApiError> {
        refused(&self.sign_up_per_address, &address)
    }
}

/// The one form of an e-mail address used for storage, lookup and limits: without surrounding
/// whitespace (any Unicode whitespace, and the invisible zero-width characters), lower-cased.
pub fn normalise_email(raw: &str) -> String {
    raw.trim_matches(|c: char| c.is_whitespace() || is_invisible(c))
        .to_lowercase()
}

/// Zero-width characters that are not Unicode whitespace but print as nothing.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
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
