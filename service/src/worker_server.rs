//! The gRPC server every TTS worker runs around its engine: `tts.v1.TextToSpeech` beside gRPC
//! health (what the gateway's pool and the image's HEALTHCHECK ask) and reflection.

use std::{future::Future, time::Duration};

use proto::v1::{
    FILE_DESCRIPTOR_SET,
    text_to_speech_server::{TextToSpeech, TextToSpeechServer},
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Serves `service` (the worker of model `model`) on `listener` until `shutdown` resolves. Then
/// health turns NOT_SERVING, so the gateway sends nothing new, running calls get `grace` to
/// finish, and after it `cancel` runs (the engine ends what still runs). Returns once every
/// stream has ended.
pub async fn serve_tts<S: TextToSpeech>(
    listener: TcpListener,
    service: S,
    model: &'static str,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    cancel: impl FnOnce() + Send + 'static,
) -> Result<(), ServeError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<TextToSpeechServer<S>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let draining = async move {
        shutdown.await;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down; finishing running calls"
        );
        reporter.set_not_serving::<TextToSpeechServer<S>>().await;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            tracing::info!("grace period over; cancelling what still runs");
            cancel();
        });
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "{model} worker listening (gRPC tts.v1)");
    }
    Server::builder()
        .add_service(health)
        .add_service(reflection)
        .add_service(TextToSpeechServer::new(service))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), draining)
        .await?;
    Ok(())
}
