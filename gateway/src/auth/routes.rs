use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    ClientAddress, CurrentUser, SESSION_COOKIE, create_session, is_invisible, normalise_email,
    presented_token, token_hash,
};
use crate::{
    error::{ApiError, Json},
    startup::AppState,
};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/auth/sign-up", post(sign_up))
        .route("/v1/auth/sign-in", post(sign_in))
        .route("/v1/auth/sign-out", post(sign_out))
        .route("/v1/me", get(me))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

const MIN_PASSWORD_CHARS: usize = 8;
/// Argon2 accepts any length; the cap keeps one request from buying seconds of CPU.
const MAX_PASSWORD_CHARS: usize = 1024;

/// The normalised e-mail of well-formed credentials.
fn validate(credentials: &Credentials) -> Result<String, ApiError> {
    let email = normalise_email(&credentials.email);
    let well_formed = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c));
    if !well_formed {
        return Err(ApiError::BadRequest(format!(
            "{email:?} is not an e-mail address"
        )));
    }
    let chars = credentials.password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(ApiError::BadRequest(format!(
            "the password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long"
        )));
    }
    Ok(email)
}

fn signed_in(state: &AppState, status: StatusCode, user: CurrentUser, token: String) -> Response {
    let mut cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}",
        state.config.session_ttl().as_secs()
    );
    if state.config.cookie_secure {
        cookie.push_str("; Secure");
    }
    let mut response = (
        status,
        axum::Json(serde_json::json!({ "user": user, "token": token })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn sign_up(
    State(state): State<Arc<AppState>>,
    ClientAddress(address): ClientAddress,
    Json(credentials): Json<Credentials>,
) -> Result<Response, ApiError> {
    let email = validate(&credentials)?;
    state.auth_limits.check_sign_up(address)?;
    let hash = state.passwords.hash(credentials.password).await?;
    let inserted: Result<(Uuid,), sqlx::Error> =
        sqlx::query_as("INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id")
            .bind(&email)
            .bind(hash)
            .fetch_one(&state.pool)
            .await;
    let id = match inserted {
        Ok((id,)) => id,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            // This confirms that the e-mail has an account (docs/api.md says so); sign-up's
            // per-address limit bounds how many addresses one client can test.
            return Err(ApiError::Conflict(
                "this e-mail already has an account; sign in instead".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let token = create_session(&state.pool, id, state.config.session_ttl()).await?;
    Ok(signed_in(
        &state,
        StatusCode::CREATED,
        CurrentUser { id, email },
        token,
    ))
}

async fn sign_in(
    State(state): State<Arc<AppState>>,
    ClientAddress(address): ClientAddress,
    Json(credentials): Json<Credentials>,
) -> Result<Response, ApiError> {
    let email = normalise_email(&credentials.email);
    state.auth_limits.check_sign_in(&email, address)?;
    let row: Option<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, email, password_hash FROM users WHERE lower(email) = lower($1)")
            .bind(&email)
            .fetch_optional(&state.pool)
            .await?;
    let (stored, user) = match row {
        Some((id, email, hash)) => (Some(hash), Some(CurrentUser { id, email })),
        None => (None, None),
    };
    let valid = state.passwords.verify(credentials.password, stored).await?;
    let Some(user) = user.filter(|_| valid) else {
        return Err(ApiError::Unauthorized("wrong e-mail or password".into()));
    };
    let token = create_session(&state.pool, user.id, state.config.session_ttl()).await?;
    Ok(signed_in(&state, StatusCode::OK, user, token))
}

async fn sign_out(
    State(state): State<Arc<AppState>>,
    _user: CurrentUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = presented_token(&headers) {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(&token))
            .execute(&state.pool)
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("yapit_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"),
    );
    Ok(response)
}

async fn me(user: CurrentUser) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "user": user }))
}
