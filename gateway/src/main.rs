use clap::Parser;
use gateway::{config::GatewayConfig, startup::Application};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = GatewayConfig::parse();
    service::init_logging(config.log_format == "json", gateway::LOG_FILTER);
    let app = Application::build(config).await?;
    app.run_until_stopped().await?;
    Ok(())
}
