//! Building and running the gateway: `main` and the tests go through the same `Application`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, extract::DefaultBodyLimit};
use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::net::TcpListener;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    auth::{self, AuthLimits, CurrentUser, Passwords},
    catalog::{self, Catalog},
    config::{ConfigError, GatewayConfig},
    documents::{self, fetch::FetchConfig},
    edge, error, health, lexicon,
    listen::{self, QueuedPerUser, audio::AudioUrls},
    synthesis::{AudioStore, ColdStore, Keys, Queue, Synthesis, SynthesisSettings, WorkerPool},
    usage, web,
};

/// What every handler shares.
pub struct AppState {
    pub pool: PgPool,
    pub config: GatewayConfig,
    pub auth_limits: AuthLimits,
    /// Password hashing, a bounded number at once.
    pub passwords: Passwords,
    /// Signs and checks audio links.
    pub audio_urls: AudioUrls,
    /// Blocks each user's sockets wait for.
    pub queued_per_user: QueuedPerUser,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub fetch: FetchConfig,
    /// Set in single-user mode: every request is this user.
    pub local_user: Option<CurrentUser>,
    pub redis: ConnectionManager,
    pub catalog: Catalog,
    pub synthesis: Arc<Synthesis>,
    /// Cancelled when the gateway stops: dispatchers, probes and pub/sub end with it.
    pub stop: CancellationToken,
    /// The open WebSocket sessions; a stopping gateway waits (a while) for them to close.
    pub sockets: TaskTracker,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot reach Postgres at DATABASE_URL: {0}")]
    Database(#[source] sqlx::Error),
    #[error("applying migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot reach Redis at REDIS_URL: {0}")]
    Redis(#[source] redis::RedisError),
    #[error("cannot open the audio store at AUDIO_DIR ({path}): {source}")]
    AudioDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
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

/// How long a stopping gateway waits for its sockets to close.
const SOCKETS_GRACE: Duration = Duration::from_secs(5);

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
        let catalog = Catalog::load(&pool).await.map_err(StartupError::Database)?;
        let redis_client =
            redis::Client::open(config.redis_url.expose()).map_err(StartupError::Redis)?;
        let redis = ConnectionManager::new_with_config(
            redis_client.clone(),
            ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(3)))
                .set_response_timeout(Some(Duration::from_secs(5)))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_secs(1)),
        )
        .await
        .map_err(StartupError::Redis)?;
        let keys = Keys::new(&config.redis_prefix);
        let cold = ColdStore::open(
            config.audio_dir.clone(),
            config.audio_dir_max_mb.saturating_mul(1024 * 1024),
        )
        .await
        .map_err(|source| StartupError::AudioDir {
            path: config.audio_dir.clone(),
            source,
        })?;
        let settings = SynthesisSettings {
            call_timeout: Duration::from_secs(config.worker_call_timeout_secs),
            call_per_char: Duration::from_millis(config.worker_call_ms_per_char),
            max_attempts: config.job_max_attempts,
            lease: Duration::from_millis(config.job_lease_ms),
            hot_ttl_secs: config.audio_hot_ttl_secs,
            probe_every: Duration::from_millis(config.worker_probe_ms),
        };
        let pool_of_workers = Arc::new(WorkerPool::new(
            config.tts_workers.clone(),
            redis.clone(),
            keys.clone(),
        ));
        // Know the workers before the first request arrives.
        pool_of_workers.probe().await;
        let synthesis = Arc::new(Synthesis::new(
            pool_of_workers,
            Queue::new(
                redis.clone(),
                keys.clone(),
                uuid::Uuid::new_v4().simple().to_string(),
                Duration::from_millis(config.gateway_lease_ms),
            ),
            AudioStore::new(redis.clone(), keys.clone(), config.audio_hot_ttl_secs, cold),
            settings,
        ));
        let stop = CancellationToken::new();
        synthesis
            .start(
                redis_client,
                keys,
                catalog.models.keys().cloned(),
                Arc::new(crate::usage::Ledger(pool.clone())),
                &stop,
            )
            .await
            .map_err(StartupError::Redis)?;
        let listener =
            TcpListener::bind(config.addr)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.addr,
                    source,
                })?;
        let state = Arc::new(AppState {
            auth_limits: AuthLimits::new(config.sign_in_per_minute, config.sign_up_per_hour),
            passwords: Passwords::new(
                config.password_hash_slots(),
                Duration::from_millis(config.password_hash_wait_ms),
            ),
            trusted_proxies: config.trusted_proxy_networks()?,
            queued_per_user: QueuedPerUser::default(),
            audio_urls: AudioUrls::new(
                config.audio_url_key.as_ref(),
                Duration::from_secs(config.audio_url_ttl_secs),
            ),
            pool,
            fetch,
            local_user,
            redis,
            catalog,
            synthesis,
            stop,
            sockets: TaskTracker::new(),
            config,
        });
        if state.config.metrics_addr.is_some() {
            tokio::spawn(crate::metrics::sample_forever(
                Arc::clone(&state.synthesis),
                state.catalog.models.keys().cloned().collect(),
                state.stop.clone(),
            ));
        }
        let router = Router::new()
            .merge(auth::router())
            .merge(documents::router())
            .merge(catalog::router())
            .merge(health::router())
            .merge(lexicon::router())
            .merge(listen::router())
            .merge(usage::router())
            .merge(web::router(&state.config.web_dir))
            .fallback(web::fallback)
            .method_not_allowed_fallback(error::method_not_allowed)
            .layer(DefaultBodyLimit::max(state.config.max_body_bytes));
        let router =
            edge::layers(router, state.config.public_origin.clone()).with_state(Arc::clone(&state));
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
        self.run_until(service::shutdown_signal()).await
    }

    /// Serves until `shutdown` resolves. Background work (dispatchers, probes, pub/sub) stops
    /// with it; a job a dispatcher held goes back to the queue when its lease runs out.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        tracing::info!(addr = %self.local_addr(), "gateway listening");
        let stop = self.state.stop.clone();
        let stopping = stop.clone();
        let sockets = self.state.sockets.clone();
        let result = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = shutdown => {},
                _ = stopping.cancelled() => {},
            }
            // Sockets are not requests the server waits for: told now, each closes with 1012
            // ("reconnect") and releases its listeners' claims on queued jobs.
            stopping.cancel();
        })
        .await
        .map_err(StartupError::Serve);
        stop.cancel();
        sockets.close();
        if tokio::time::timeout(SOCKETS_GRACE, sockets.wait())
            .await
            .is_err()
        {
            tracing::warn!(open = sockets.len(), "sockets still open at exit");
        }
        result
    }
}
