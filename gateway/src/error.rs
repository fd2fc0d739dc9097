//! The gateway's one error type. Every variant names the status it answers with; the body is
//! always `{"error": {"code", "message"}}`. Internal details are logged, never sent.

use axum::http::request::Parts;
use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON or fields.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no, a tampered or an expired credential; wrong password.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a credential that does not open this resource (an expired or forged audio link).
    #[error("{0}")]
    Forbidden(String),
    /// 404: missing, or someone else's (the two are indistinguishable on purpose).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: e.g. the e-mail is taken.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body or the document is over its limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: a content type we cannot read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed but unusable, e.g. a page with no readable text.
    #[error("{0}")]
    Unprocessable(String),
    /// 429: too many attempts; retry after the given seconds.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// 429: the daily character quota is used up.
    #[error("{0}")]
    QuotaExceeded(String),
    /// 502: the page we were asked to fetch failed.
    #[error("{0}")]
    BadGateway(String),
    /// 503: the gateway is at a bound it keeps on purpose (e.g. password hashes at once);
    /// retry after the given seconds.
    #[error("the server is busy; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// 503: a dependency (Postgres) is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// 504: synthesis did not finish within its timeout.
    #[error("{0}")]
    Timeout(String),
    /// 503: Redis (queues and hot cache) is unreachable; logged in full.
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    /// 500: logged in full, reported as a plain "internal error".
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// 500: logged in full, reported as a plain "internal error".
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::QuotaExceeded(_) => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded"),
            ApiError::BadGateway(_) => (StatusCode::BAD_GATEWAY, "upstream_failed"),
            ApiError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            ApiError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ApiError::Unavailable(_) | ApiError::Redis(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ApiError::Database(_) | ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

/// The JSON body of an error response.
pub fn error_body(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "error": { "code": code, "message": message } })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Database(e) => {
                tracing::error!(error = %e, "database error");
                "internal error".to_string()
            }
            ApiError::Redis(e) => {
                tracing::error!(error = %e, "redis error");
                "the synthesis queue is unreachable; try again in a moment".to_string()
            }
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (status, axum::Json(error_body(code, &message))).into_response();
        if let ApiError::TooManyRequests { retry_after_secs } | ApiError::Busy { retry_after_secs } =
            self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// `axum::Json` whose rejections answer in our error format: 400 for malformed JSON or fields
/// (including invalid UTF-8), 413 over the body limit, 415 without a JSON content type.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                    "send the body as JSON with Content-Type: application/json".into(),
                ),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge("the request body is too large".into())
                }
                other => ApiError::BadRequest(other.body_text()),
            }),
        }
    }
}

/// `axum::extract::Query` whose rejection is a 400 in our error format.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}

/// 405 for a known path asked with a method it does not have.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(error_body(
            "method_not_allowed",
            &format!("{} does not answer {method}", uri.path()),
        )),
    )
        .into_response()
}
