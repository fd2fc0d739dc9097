//! Building and running the worker: `main` and the tests go through the same `Application`.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use proto::v1::{FILE_DESCRIPTOR_SET, text_to_speech_server::TextToSpeechServer};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;

use crate::{
    engine::{Engine, EngineConfig, LoadError, SynthesisRequest},
    server::HiggsService,
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
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
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
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_serving::<TextToSpeechServer<HiggsService>>()
            .await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let engine = Arc::clone(&self.engine);
        let grace = self.shutdown_grace;
        let draining = async move {
            shutdown.await;
            tracing::info!(
                grace_secs = grace.as_secs(),
                "shutting down; finishing running calls"
            );
            reporter
                .set_not_serving::<TextToSpeechServer<HiggsService>>()
                .await;
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                tracing::info!("grace period over; cancelling what still runs");
                engine.shut_down();
            });
        };
        tracing::info!(addr = %self.local_addr(), "higgs worker listening (gRPC tts.v1)");
        Server::builder()
            .add_service(health)
            .add_service(reflection)
            .add_service(TextToSpeechServer::new(HiggsService::new(Arc::clone(
                &self.engine,
            ))))
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), draining)
            .await?;
        self.engine.shut_down();
        tracing::info!("stopped");
        Ok(())
    }
}
