use clap::{Parser, Subcommand};
use gateway::{config::GatewayConfig, startup::Application};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "yapit gateway",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: GatewayConfig,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Exit 0 when the gateway listening on GATEWAY_ADDR's port (on this host) answers
    /// /api/health with 200, else 1: the container image's HEALTHCHECK.
    Probe,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Probe) = cli.command {
        if let Err(e) = gateway::probe::run().await {
            eprintln!("probe: {e:#}");
            std::process::exit(1);
        }
        return Ok(());
    }
    let config = cli.config;
    service::init_logging(config.log_format == "json", gateway::LOG_FILTER);
    if let Some(addr) = config.metrics_addr {
        service::serve_metrics(addr, gateway::metrics::BUCKETS)?;
    }
    let app = Application::build(config).await?;
    app.run_until_stopped().await?;
    Ok(())
}
