use clap::Parser;
use gateway::{config::GatewayConfig, startup::Application, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = GatewayConfig::parse();
    telemetry::init(config.log_format == "json");
    let app = Application::build(config).await?;
    app.run_until_stopped().await?;
    Ok(())
}
