use std::time::Duration;

use clap::{Parser, Subcommand};
use tts_higgs_worker::{
    cli::{self, SayArgs},
    config::ServeArgs,
    startup::Application,
};

/// Higgs Audio v2 text-to-speech worker for yapit (voice cloning; GPU with `--features cuda`).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
    /// Log as JSON lines (production) instead of human-readable text.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    log_format: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the gRPC API (the default).
    Serve,
    /// Speak a text into a WAV file.
    Say(Box<SayArgs>),
    /// Exit 0 when the worker serving on HIGGS_ADDR's port (on this host) reports SERVING over
    /// grpc.health.v1, else 1: the container image's HEALTHCHECK.
    Probe,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    service::init_logging(cli.log_format == "json", tts_higgs_worker::LOG_FILTER);
    match cli.command {
        Some(Command::Say(args)) => cli::say(*args).await,
        Some(Command::Probe) => {
            if let Err(e) = service::probe_worker(cli.serve.addr.port()).await {
                eprintln!("probe: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        }
        Some(Command::Serve) | None => {
            let serve = cli.serve;
            if let Some(addr) = serve.metrics_addr {
                service::serve_metrics(addr, service::METRIC_BUCKETS)?;
            }
            let app = Application::build(
                serve.engine_config()?,
                serve.addr,
                Duration::from_secs(serve.shutdown_grace_secs),
            )
            .await?;
            app.warm_up().await;
            app.run_until_stopped(service::shutdown_signal()).await?;
            Ok(())
        }
    }
}
