//! Prometheus metrics of the gateway (`yapit_*`), served on METRICS_ADDR by the exporter that
//! `service::serve_metrics` installs: counters and histograms where the work happens, gauges of
//! queues and replicas sampled here every few seconds.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::startup::AppState;

/// Histogram buckets, in seconds: synthesis of one block as a listener waits for it.
pub const BUCKETS: &[(&str, &[f64])] = &[(
    "yapit_synthesis_seconds",
    &[0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0],
)];

const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// A variant asked for: already cached (`hit`) or to be synthesized (`miss`).
pub fn cache_lookup(hit: bool) {
    metrics::counter!("yapit_cache_lookups_total", "result" => if hit { "hit" } else { "miss" })
        .increment(1);
}

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
/// (`yapit_live_replicas{model}`) of every catalogue model until `stop`.
pub async fn sample_forever(state: Arc<AppState>, stop: CancellationToken) {
    loop {
        let serving = state.synthesis.workers().serving();
        for slug in state.catalog.models.keys() {
            if let Ok((queued, processing)) = state.synthesis.depth(slug).await {
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
