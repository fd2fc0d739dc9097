//! `gateway probe`: the container image's HEALTHCHECK. Asks this host's gateway for
//! `/api/health` on GATEWAY_ADDR's port; a 200 (also while degraded: workers come and go) is
//! healthy, anything else or no answer within three seconds is not.

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context, bail};

pub async fn run() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::var("GATEWAY_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8000".into())
        .parse()
        .context("GATEWAY_ADDR is not an address like 0.0.0.0:8000")?;
    let url = format!("http://127.0.0.1:{}/api/health", addr.port());
    let response = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(3))
        .build()?
        .get(&url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if !response.status().is_success() {
        bail!("GET {url}: {}", response.status());
    }
    Ok(())
}
