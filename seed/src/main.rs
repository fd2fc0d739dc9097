//! `seed`: apply seed/catalog.toml to Postgres (after running migrations), or `--check` it.
//!
//! Exit status: 0 applied / in sync, 1 drift found by `--check`, 2 failure (connection,
//! migration, database, bad usage).

use std::process::ExitCode;

use clap::Parser;
use seed::Catalog;
use seed::cli::{Mode, run};

/// Apply the model and voice catalogue (seed/catalog.toml) to Postgres, idempotently.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Postgres URL, e.g. postgres://user:password@host:5432/db
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Change nothing: print every difference between the database and the manifest, and
    /// exit 1 if there is any.
    #[arg(long)]
    check: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mode = if args.check { Mode::Check } else { Mode::Apply };
    let status = run(
        &args.database_url,
        mode,
        &Catalog::builtin(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
    .await;
    ExitCode::from(status)
}
