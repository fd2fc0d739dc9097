use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Once},
};

use gateway::{
    config::GatewayConfig,
    startup::{AppState, Application},
};
use reqwest::{Client, Response};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub pool: PgPool,
    pub state: Arc<AppState>,
    /// What another gateway needs to share this one's database, queues and audio.
    pub shared: Shared,
}

/// The database, Redis namespace and audio folder of a gateway.
#[derive(Clone)]
pub struct Shared {
    pub database_url: String,
    pub redis_url: String,
    pub prefix: String,
    pub audio_dir: PathBuf,
    /// Signs audio links, so that a link from one gateway opens at another.
    pub audio_url_key: String,
}

impl Shared {
    /// The flags that point a gateway at this state: database, Redis prefix, audio folder.
    pub fn gateway_flags(&self) -> Vec<String> {
        [
            ("--database-url", self.database_url.clone()),
            ("--redis-url", self.redis_url.clone()),
            ("--redis-prefix", self.prefix.clone()),
            ("--audio-dir", self.audio_dir.display().to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .collect()
    }

    pub async fn fresh() -> Self {
        Self {
            database_url: fresh_database().await,
            redis_url: redis_url(),
            prefix: format!("test-{}:", Uuid::new_v4().simple()),
            audio_dir: std::env::temp_dir().join(format!("yapit-audio-{}", Uuid::new_v4())),
            audio_url_key: Uuid::new_v4().simple().to_string(),
        }
    }
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:63799".into())
}

/// The operator token of every test gateway, for `/api/health`'s details.
pub const OPERATOR_TOKEN: &str = "test-operator-token";

/// A worker address where nothing listens (port 9, discard), for tests without synthesis.
pub const NO_WORKER: &str = "http://127.0.0.1:9";

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a Postgres server; run the tests through `make test`")
}

/// A new, empty database on the test server.
async fn fresh_database() -> String {
    let admin = admin_url();
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("the test Postgres is reachable");
    let name = format!("yapit_test_{}", Uuid::new_v4().simple());
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// Starts the gateway on a free port against a fresh database. `extra` are command-line
/// flags on top of the test defaults (which allow URL fetches from 127.0.0.1 only).
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    spawn_gateway(Shared::fresh().await, &[NO_WORKER], extra).await
}

/// Starts a gateway on `shared` state with these workers.
pub async fn spawn_gateway(shared: Shared, workers: &[&str], extra: &[&str]) -> TestApp {
    static LOGGING: Once = Once::new();
    LOGGING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            service::init_logging(false, gateway::LOG_FILTER);
        }
    });
    let workers = workers.join(",");
    let shared_flags = shared.gateway_flags();
    let mut args = vec!["gateway", "--addr", "127.0.0.1:0"];
    args.extend(shared_flags.iter().map(String::as_str));
    args.extend_from_slice(&[
        "--tts-workers",
        &workers,
        "--fetch-timeout-secs",
        "3",
        "--audio-url-key",
        &shared.audio_url_key,
        "--operator-token",
        OPERATOR_TOKEN,
    ]);
    if !extra.contains(&"--fetch-allow") {
        args.extend_from_slice(&["--fetch-allow", "127.0.0.1/32"]);
    }
    if !extra.contains(&"--worker-probe-ms") {
        args.extend_from_slice(&["--worker-probe-ms", "300"]);
    }
    // Tests sign up many users from 127.0.0.1; the limit's own test sets it lower.
    if !extra.contains(&"--sign-up-per-hour") {
        args.extend_from_slice(&["--sign-up-per-hour", "10000"]);
    }
    args.extend_from_slice(extra);
    let config = <GatewayConfig as clap::Parser>::try_parse_from(args).unwrap();
    let app = Application::build(config)
        .await
        .expect("the gateway starts");
    let address = format!("http://{}", app.local_addr());
    let pool = app.state.pool.clone();
    let state = Arc::clone(&app.state);
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        address,
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        pool,
        state,
        shared,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A signed-up user's bearer token.
pub struct User {
    pub token: String,
    pub id: String,
}

impl TestApp {
    /// Stops this gateway the way a crash would for its listeners and jobs: sockets close,
    /// held jobs are abandoned to their leases.
    pub fn kill(&self) {
        self.state.stop.cancel();
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!(
            "{}/v1/ws/tts?token={token}",
            self.address.replacen("http://", "ws://", 1)
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A document with its blocks, as its owner sees it.
    pub async fn document(&self, user: &User, id: &Value) -> Value {
        let id = id.as_str().expect("a document id");
        self.get_json(&format!("/v1/documents/{id}"), Some(&user.token))
            .await
    }

    /// Rows in `table`: what a refused request must not have written.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// `/api/health` as the operator sees it, with every detail.
    pub async fn health(&self) -> Value {
        self.get_json("/api/health", Some(OPERATOR_TOKEN)).await
    }

    /// GET that must succeed, as JSON.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        let response = self.get(path, token).await;
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// One model of `GET /v1/models`.
    pub async fn model(&self, slug: &str) -> Value {
        let models = self.get_json("/v1/models", None).await;
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["slug"] == slug)
            .unwrap_or_else(|| panic!("no model {slug} in {models}"))
            .clone()
    }

    pub async fn sign_up(&self, email: &str) -> User {
        let response = self
            .post_json(
                "/v1/auth/sign-up",
                None,
                &json!({"email": email, "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        User {
            token: body["token"].as_str().unwrap().to_string(),
            id: body["user"]["id"].as_str().unwrap().to_string(),
        }
    }

    pub async fn create_text(&self, user: &User, text: &str) -> Value {
        let response = self
            .post_json("/v1/documents", Some(&user.token), &json!({ "text": text }))
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }
}

/// Asserts an error response's status and that its body has our error shape.
pub async fn assert_error(response: Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "{:?}", response.url());
    let body: Value = response.json().await.expect("errors are JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap().to_string();
    assert!(!message.is_empty());
    message
}

/// A local web server for documents fetched from URLs.
pub async fn fixture_server() -> SocketAddr {
    use axum::{
        Router,
        http::{StatusCode, header},
        response::{IntoResponse, Redirect},
        routing::get,
    };
    const NEWS: &str = include_str!("../fixtures/documents/news-article.html");
    const NAV: &str = include_str!("../fixtures/documents/nav-only.html");
    const README: &str = include_str!("../fixtures/documents/technical-readme.md");
    let router = Router::new()
        .route(
            "/news/article.html",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], NEWS) }),
        )
        .route(
            "/nav.html",
            get(|| async { ([(header::CONTENT_TYPE, "text/html")], NAV) }),
        )
        .route(
            "/readme.md",
            get(|| async { ([(header::CONTENT_TYPE, "text/markdown")], README) }),
        )
        .route(
            "/notes.txt",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain")],
                    "First paragraph of notes.\n\nSecond paragraph, with *no* markdown.",
                )
            }),
        )
        .route(
            "/image.png",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    vec![0x89u8, b'P', b'N', b'G'],
                )
            }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/to-metadata",
            get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                "too late".into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// Polls `check` until it holds; fails naming `what` once `patience` has passed.
pub async fn wait_until<F, Fut>(what: &str, patience: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + patience;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still not so after {patience:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
