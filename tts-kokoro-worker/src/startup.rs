//! Building and running the worker: `main` and the tests go through the same `Application`.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use tokio::net::TcpListener;

use crate::{
    model::DEFAULT_VOICE,
    server::{KokoroService, MODEL_SLUG},
    synthesis::{Engine, EngineConfig, LoadError, SynthesisRequest},
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Serve(#[from] service::ServeError),
    #[error("loading the model panicked or was cancelled: {0}")]
    Join(#[from] tokio::task::JoinError),
}

pub struct Application {
    listener: TcpListener,
    engine: Arc<Engine>,
    shutdown_grace: Duration,
}

impl Application {
    /// Loads the model and binds `addr` (port 0 picks a free one).
    pub async fn build(
        config: EngineConfig,
        addr: SocketAddr,
        shutdown_grace: Duration,
    ) -> Result<Self, StartupError> {
        let engine = tokio::task::spawn_blocking(move || Engine::load(config)).await??;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        Ok(Self {
            listener,
            engine: Arc::new(engine),
            shutdown_grace,
        })
    }

    /// Renders a short sentence on every session before serving: a session's first inference
    /// costs one to two seconds more than later ones (ONNX Runtime sets up its threads and
    /// buffers), and that would be the first listener's wait. Failures are only logged: the
    /// worker serves anyway.
    pub async fn warm_up(&self) {
        let started = std::time::Instant::now();
        let capacity = self.engine.config().capacity.max(1);
        let mut runs = tokio::task::JoinSet::new();
        for slot in 0..capacity {
            let engine = Arc::clone(&self.engine);
            runs.spawn(async move {
                let request = SynthesisRequest {
                    text: "Hello there.".into(),
                    voice: DEFAULT_VOICE.into(),
                    speed: 1.0,
                    request_id: format!("warm-up-{slot}"),
                };
                match engine.synthesize(request).await {
                    Ok(mut chunks) => while chunks.recv().await.is_some() {},
                    Err(e) => tracing::warn!(error = %e, "warm-up failed; serving anyway"),
                }
            });
        }
        runs.join_all().await;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "sessions warmed up"
        );
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine)
    }

    /// Serves until `shutdown` resolves, then lets running calls finish for the grace period
    /// before cancelling them, and returns once every stream has ended.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let engine = Arc::clone(&self.engine);
        service::serve_tts(
            self.listener,
            KokoroService::new(Arc::clone(&self.engine)),
            MODEL_SLUG,
            shutdown,
            self.shutdown_grace,
            move || engine.shut_down(),
        )
        .await?;
        self.engine.shut_down();
        tracing::info!("stopped");
        Ok(())
    }
}
