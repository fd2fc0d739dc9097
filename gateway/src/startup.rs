//! Building and running the gateway: `main` and the tests go through the same `Application`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{StatusCode, Uri},
    response::IntoResponse,
};
use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::{
    auth::{self, CurrentUser, SignInLimits},
    catalog,
    config::{ConfigError, GatewayConfig},
    documents::{self, fetch::FetchConfig},
    error::error_body,
    health,
};

/// What every handler shares.
pub struct AppState {
    pub pool: PgPool,
    pub config: GatewayConfig,
    pub sign_in_limits: SignInLimits,
    pub fetch: FetchConfig,
    /// Set in single-user mode: every request is this user.
    pub local_user: Option<CurrentUser>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot reach Postgres at DATABASE_URL: {0}")]
    Database(#[source] sqlx::Error),
    #[error("applying migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("seeding the catalogue failed: {0}")]
    Seed(#[from] seed::SeedError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    pub state: Arc<AppState>,
}

impl Application {
    pub async fn build(config: GatewayConfig) -> Result<Self, StartupError> {
        config.validate()?;
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .acquire_timeout(Duration::from_secs(5))
            .connect(config.database_url.expose())
            .await
            .map_err(StartupError::Database)?;
        seed::MIGRATOR.run(&pool).await?;
        if config.seed_on_start {
            let report = seed::apply(&pool, &seed::Catalog::builtin()).await?;
            tracing::info!(?report, "catalogue seeded");
        }
        let local_user = if config.auth_enabled {
            None
        } else {
            tracing::info!("single-user mode: authentication is off");
            Some(
                auth::ensure_local_user(&pool)
                    .await
                    .map_err(StartupError::Database)?,
            )
        };
        let fetch = FetchConfig {
            timeout: Duration::from_secs(config.fetch_timeout_secs),
            max_body_bytes: config.fetch_max_bytes,
            allow: config.fetch_allow_networks()?,
            ..FetchConfig::default()
        };
        let listener =
            TcpListener::bind(config.addr)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.addr,
                    source,
                })?;
        let state = Arc::new(AppState {
            sign_in_limits: SignInLimits::new(config.sign_in_per_minute),
            pool,
            fetch,
            local_user,
            config,
        });
        let router = Router::new()
            .merge(auth::router())
            .merge(documents::router())
            .merge(catalog::router())
            .merge(health::router())
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
            .layer(TraceLayer::new_for_http())
            .with_state(Arc::clone(&state));
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        tracing::info!(addr = %self.local_addr(), "gateway listening");
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(StartupError::Serve)
    }
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        axum::Json(error_body(
            "not_found",
            &format!("no route for {}", uri.path()),
        )),
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
