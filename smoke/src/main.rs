//! `make smoke URL=… [EXPECT_COMMIT=…]`: checks a running yapit deployment from outside, as a
//! user would, one line per check, and exits 1 if any failed. The post-deploy checklist of
//! docs/deploy.md, automated.

mod checks;
mod wav;

use std::time::Duration;

use anyhow::Result;
use clap::Parser;

/// Check a running yapit deployment: health, version, the slug contract, caching of the web
/// player, an account, a document read aloud through the WebSocket, its audio, and the
/// OpenAI-compatible speech endpoint.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The deployment's base URL, e.g. https://yapit.example.org
    #[arg(long, env = "URL")]
    url: String,
    /// The commit /api/version must report (a prefix of at least 7 characters is enough).
    #[arg(long, env = "EXPECT_COMMIT")]
    expect_commit: Option<String>,
    /// Every deployed model must have at least this many live replicas in /api/health.
    #[arg(long, env = "EXPECT_REPLICAS", default_value_t = 1)]
    expect_replicas: u32,
    /// The models this deployment runs workers for: each must have live replicas and serve
    /// every voice the seed catalogue gives it. Other seeded models (a GPU model on a CPU box)
    /// must still be listed in /v1/models, but may go unserved.
    #[arg(
        long,
        env = "SMOKE_MODELS",
        default_value = "kokoro",
        value_delimiter = ','
    )]
    models: Vec<String>,
    /// Sign in as this user instead of signing up a fresh one (needs SMOKE_PASSWORD).
    #[arg(long, env = "SMOKE_EMAIL", requires = "password")]
    email: Option<String>,
    #[arg(long, env = "SMOKE_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// The gateway's OPERATOR_TOKEN, which shows /api/health's details (replicas, unserved
    /// voices); without it the health check sees the status only.
    #[arg(long, env = "OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
    /// How long one block may take from `synthesize` to `cached`, in seconds.
    #[arg(long, default_value_t = 180)]
    synthesis_timeout_secs: u64,
}

/// The verdicts so far, printed as they come.
#[derive(Default)]
struct Report {
    failed: Vec<&'static str>,
}

impl Report {
    /// Prints the check's line; the value a later check needs survives only on success.
    fn record<T>(&mut self, name: &'static str, outcome: Result<(T, String)>) -> Option<T> {
        match outcome {
            Ok((value, detail)) => {
                println!("ok    {name:<10} {detail}");
                Some(value)
            }
            Err(e) => {
                println!("FAIL  {name:<10} {e:#}");
                self.failed.push(name);
                None
            }
        }
    }

    fn skip(&mut self, name: &'static str, because: &str) {
        println!("skip  {name:<10} {because}");
        self.failed.push(name);
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let base = args.url.trim_end_matches('/').to_string();
    let http = match bench_gateway::api::http_client(4) {
        Ok(http) => http,
        Err(e) => {
            eprintln!("smoke: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    println!("smoke: {base}");
    let mut report = Report::default();
    report.record(
        "health",
        checks::health(
            &http,
            &base,
            args.operator_token.as_deref(),
            &args.models,
            args.expect_replicas,
        )
        .await,
    );
    report.record(
        "version",
        checks::version(&http, &base, args.expect_commit.as_deref()).await,
    );
    report.record(
        "slugs",
        checks::slug_contract(&http, &base, &args.models).await,
    );
    report.record("web", checks::web_caching(&http, &base).await);
    let credentials = args.email.zip(args.password);
    let gateway = report.record(
        "account",
        checks::account(&http, &base, credentials.as_ref()).await,
    );
    match gateway {
        Some(gateway) => {
            let limit = Duration::from_secs(args.synthesis_timeout_secs);
            let document = report.record("document", checks::document(&gateway).await);
            let cached = match &document {
                Some(document) => report.record(
                    "websocket",
                    checks::read_block(&gateway, document, limit).await,
                ),
                None => {
                    report.skip("websocket", "no document");
                    None
                }
            };
            match cached {
                Some(cached) => {
                    report.record("audio", checks::audio(&gateway, &cached).await);
                }
                None => report.skip("audio", "no block was cached"),
            }
            report.record("speech", checks::speech(&gateway).await);
            if let Some(document) = document
                && let Err(e) = gateway.delete_document(&document.id).await
            {
                eprintln!("smoke: could not delete the check's document: {e:#}");
            }
        }
        None => {
            for name in ["document", "websocket", "audio", "speech"] {
                report.skip(name, "no account");
            }
        }
    }
    if report.failed.is_empty() {
        println!("smoke: all checks passed");
        std::process::ExitCode::SUCCESS
    } else {
        println!("smoke: FAILED: {}", report.failed.join(", "));
        std::process::ExitCode::FAILURE
    }
}
