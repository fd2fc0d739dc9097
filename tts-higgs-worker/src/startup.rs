//! Building and running the worker: `main` and the tests go through the same `Application`.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use tokio::net::TcpListener;

use crate::{
    engine::{Engine, EngineConfig, LoadError, SynthesisRequest},
    server::{HiggsService, MODEL_SLUG},
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
    /// Loads the model, the audio tokenizer and the voices, and binds `addr` (port 0 picks a
    /// free one).
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

    /// Speaks a short sentence before serving, so the first listener does not wait for the
    /// GPU's kernels to load. A failure is only logged: the worker serves anyway.
    pub async fn warm_up(&self) {
        let started = std::time::Instant::now();
        let Some(voice) = self.engine.voices().iter().next().map(|v| v.slug.clone()) else {
            return;
        };
        let request = SynthesisRequest {
            text: "Hello.".into(),
            voice,
            speed: 1.0,
            request_id: "warm-up".into(),
        };
        match self.engine.synthesize(request).await {
            Ok(mut chunks) => {
                while let Some(chunk) = chunks.recv().await {
                    if let Err(e) = chunk {
                        tracing::warn!(error = %e, "warm-up failed; serving anyway");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "warm-up failed; serving anyway"),
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "warmed up"
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
            HiggsService::new(Arc::clone(&self.engine)),
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
