//! Prometheus metrics of the gateway (`yapit_*`), served on METRICS_ADDR by the exporter that
//! `service::serve_metrics` installs: counters and histograms where the work happens, gauges of
//! queues and replicas sampled here every few seconds.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::synthesis::Synthesis;

/// Histogram buckets, in seconds: synthesis of one block as a listener waits for it.
pub const BUCKETS: &[(&str, &[f64])] = &[(
    "yapit_synthesis_seconds",
    &[0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0],
)];

const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// `yapit_open_sockets` counts a player's WebSocket while this lives.
pub struct OpenSocket;

impl OpenSocket {
    pub fn new() -> Self {
        metrics::gauge!("yapit_open_sockets").increment(1.0);
        Self
    }
}

impl Default for OpenSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        metrics::gauge!("yapit_open_sockets").decrement(1.0);
    }
}

/// Sets the queue depth (`yapit_queue_depth{model, state}`) and the live replicas
/// (`yapit_live_replicas{model}`) of each of `models` (the catalogue's) until `stop`.
pub async fn sample_forever(
    synthesis: Arc<Synthesis>,
    models: Vec<String>,
    stop: CancellationToken,
) {
    loop {
        let serving = synthesis.workers().serving();
        for slug in &models {
            if let Ok((queued, processing)) = synthesis.depth(slug).await {
                metrics::gauge!("yapit_queue_depth", "model" => slug.clone(), "state" => "queued")
                    .set(queued as f64);
                metrics::gauge!("yapit_queue_depth", "model" => slug.clone(), "state" => "processing")
                    .set(processing as f64);
            }
            let replicas = serving.get(slug).map(|s| s.replicas).unwrap_or(0);
            metrics::gauge!("yapit_live_replicas", "model" => slug.clone()).set(replicas as f64);
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SAMPLE_EVERY) => {}
        }
    }
}
