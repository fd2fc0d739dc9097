//! What every yapit process shares: logging set-up, metrics, the shutdown signal, and the TTS
//! workers' gRPC server and health probe.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

mod worker_metrics;
mod worker_server;
pub use worker_metrics::{AudioStream, METRIC_BUCKETS, metered};
pub use worker_server::{ServeError, serve_tts};

/// Installs the global subscriber: human-readable lines on stderr in development, JSON lines in
/// production (`LOG_FORMAT=json`). `RUST_LOG` overrides `default_filter`. Later calls (several
/// servers in one test process) are no-ops.
pub fn init_logging(json: bool, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        registry
            .with(fmt::layer().json().with_current_span(true))
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init()
    };
}

/// Resolves on Ctrl-C or SIGTERM (what docker and systemd send to stop a service).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Serves Prometheus metrics (every path answers the text format; scrape `/metrics`) on `addr`,
/// a port of its own that is never published, and installs the global recorder the `metrics`
/// macros write to. Histograms get the given buckets by name (`(name, bounds)`); the others are
/// summaries. Without a call, the macros record nothing.
pub fn serve_metrics(
    addr: std::net::SocketAddr,
    buckets: &[(&str, &[f64])],
) -> Result<(), metrics_exporter_prometheus::BuildError> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let mut builder = PrometheusBuilder::new().with_http_listener(addr);
    for (name, bounds) in buckets {
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).to_string()), bounds)?;
    }
    builder.install()
}

/// Asks the TTS worker on this host's `port` for its gRPC health (the service yapit's gateway
/// calls): Ok when it reports SERVING. Every worker image's HEALTHCHECK (`<worker> probe`).
pub async fn probe_worker(port: u16) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::time::Duration;
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(3))
        .connect()
        .await
        .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "tts.v1.TextToSpeech".into(),
        })
        .await
        .context("grpc.health.v1 Check")?
        .into_inner()
        .status();
    anyhow::ensure!(
        status == ServingStatus::Serving,
        "the worker reports {status:?}"
    );
    Ok(())
}
