//! What every request passes through on its way in and out: a refusal of requests that another
//! site's page makes with the user's cookie, security headers on every answer, request spans
//! whose URI carries no secret, and failures logged at the level they deserve.

use axum::{
    Router,
    extract::Request as AxumRequest,
    http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower_http::{
    classify::ServerErrorsFailureClass,
    set_header::SetResponseHeaderLayer,
    trace::{OnFailure, TraceLayer},
};
use tracing::Span;

/// The page may load its own scripts, styles, audio and socket; pictures in documents may come
/// from anywhere over HTTPS; nothing may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: https:; media-src 'self' blob:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Query parameters that carry a credential: a session token (the WebSocket's `?token=`) and
/// an audio link's signature.
const SECRET_PARAMS: &[&str] = &["token", "sig"];

/// `public_origin`: `PUBLIC_ORIGIN`, the origin the player is served from when it is not the
/// host the gateway is asked by.
pub fn layers<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    public_origin: Option<String>,
) -> Router<S> {
    let headers: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    let public_origin = public_origin.map(|o| o.trim_end_matches('/').to_ascii_lowercase());
    let router = router.layer(middleware::from_fn(move |request, next| {
        check_origin(public_origin.clone(), request, next)
    }));
    let mut router = router.layer(
        TraceLayer::new_for_http()
            .make_span_with(|request: &Request<_>| {
                tracing::debug_span!(
                    "request",
                    method = %request.method(),
                    uri = %redacted(request.uri()),
                    version = ?request.version(),
                )
            })
            .on_failure(LogFailure),
    );
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router
}

/// Browsers name the page's origin on every cross-site write and on every WebSocket
/// handshake. The session cookie is SameSite=Lax, but Lax still lets a sibling site (same
/// registrable domain) and a top-level form post through, and a WebSocket handshake is a GET,
/// so writes and sockets from another origin are refused outright. Requests without `Origin`
/// (scripts, curl) carry a Bearer token of their own and pass.
async fn check_origin(public_origin: Option<String>, request: AxumRequest, next: Next) -> Response {
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let socket = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if (writes || socket) && !origin_allowed(request.headers(), public_origin.as_deref()) {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(crate::error::error_body(
                "forbidden",
                "requests from another site's page are refused",
            )),
        )
            .into_response();
    }
    next.run(request).await
}

/// No `Origin`, the gateway's own host, or the configured public origin.
pub fn origin_allowed(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    if public_origin.is_some_and(|public| public == origin) {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((authority, host), (Some(a), Some(h)) if a == h)
}

/// The URI with the values of secret query parameters replaced.
pub fn redacted(uri: &axum::http::Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.contains(&name) => format!("{name}=[redacted]"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{}?{}", uri.path(), query.join("&"))
}

/// A 5xx the gateway answers on purpose (busy, Redis down: 503) is logged where it is decided;
/// here it is a warning, not an error that pages someone. 500s are logged as errors by
/// `ApiError`, with their cause.
#[derive(Clone, Copy)]
struct LogFailure;

impl OnFailure<ServerErrorsFailureClass> for LogFailure {
    fn on_failure(
        &mut self,
        failure: ServerErrorsFailureClass,
        latency: std::time::Duration,
        _span: &Span,
    ) {
        tracing::warn!(
            classification = %failure,
            latency_ms = latency.as_millis() as u64,
            "response failed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_the_gateways_own_or_public_origin_may_write() {
        let host = ("host", "yapit.example:8000");
        assert!(
            origin_allowed(&headers(&[host]), None),
            "no Origin: a script"
        );
        assert!(origin_allowed(
            &headers(&[host, ("origin", "http://yapit.example:8000")]),
            None
        ));
        for evil in ["https://evil.example", "null", "http://yapit.example:8001"] {
            assert!(
                !origin_allowed(&headers(&[host, ("origin", evil)]), None),
                "{evil}"
            );
        }
        let behind_proxy = headers(&[("host", "gateway:8000"), ("origin", "https://Yapit.org")]);
        assert!(!origin_allowed(&behind_proxy, None));
        assert!(origin_allowed(&behind_proxy, Some("https://yapit.org")));
    }

    #[test]
    fn tokens_and_signatures_never_reach_the_log() {
        let uri: axum::http::Uri = "/v1/ws/tts?token=abc123&x=1".parse().unwrap();
        assert_eq!(redacted(&uri), "/v1/ws/tts?token=[redacted]&x=1");
        let uri: axum::http::Uri = "/v1/audio/ff?expires=9&sig=deadbeef".parse().unwrap();
        assert_eq!(redacted(&uri), "/v1/audio/ff?expires=9&sig=[redacted]");
        let uri: axum::http::Uri = "/v1/models".parse().unwrap();
        assert_eq!(redacted(&uri), "/v1/models");
    }

    /// Records the level and message of every event.
    #[derive(Clone, Default)]
    struct Events(std::sync::Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct Message(String);
            impl tracing::field::Visit for Message {
                fn record_debug(
                    &mut self,
                    field: &tracing::field::Field,
                    value: &dyn std::fmt::Debug,
                ) {
                    if field.name() == "message" {
                        self.0 = format!("{value:?}");
                    }
                }
            }
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0
                .lock()
                .unwrap()
                .push((*event.metadata().level(), message.0));
        }
    }

    /// A 503 the gateway answers on purpose (busy, Redis down) is a warning in the log, not an
    /// error that pages someone (tower_http's default for every 5xx).
    #[tokio::test]
    async fn an_intended_503_is_logged_as_a_warning_not_an_error() {
        use tower::ServiceExt;
        use tracing_subscriber::layer::SubscriberExt;

        let events = Events::default();
        let subscriber = tracing_subscriber::registry().with(events.clone());
        let _logging = tracing::subscriber::set_default(subscriber);
        let router: Router = layers(
            Router::new().route(
                "/busy",
                axum::routing::get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
            ),
            None,
        );
        let response = router
            .oneshot(
                Request::get("/busy")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let events = events.0.lock().unwrap().clone();
        assert!(
            events
                .iter()
                .any(|(level, message)| *level == tracing::Level::WARN
                    && message == "response failed"),
            "{events:?}"
        );
        assert!(
            events
                .iter()
                .all(|(level, _)| *level != tracing::Level::ERROR),
            "{events:?}"
        );
    }
}
