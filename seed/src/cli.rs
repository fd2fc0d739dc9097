//! What the `seed` binary does, as a library function, so it can be tested without a process.

use std::io::Write;

use sqlx::PgPool;

use crate::{Catalog, SeedError, apply, check, connect};

/// Exit status: applied, or `--check` found the database in sync.
pub const EXIT_OK: u8 = 0;
/// Exit status: `--check` found drift.
pub const EXIT_DRIFT: u8 = 1;
/// Exit status: could not connect, migrate, read or write (also clap's status for bad usage).
pub const EXIT_FAILURE: u8 = 2;

/// Apply the manifest (after running migrations), or only compare it with the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Check,
}

/// Connects to `database_url` and runs `mode`; reports go to `out`, errors to `err`.
/// Returns the process exit status ([`EXIT_OK`], [`EXIT_DRIFT`] or [`EXIT_FAILURE`]).
pub async fn run(
    database_url: &str,
    mode: Mode,
    catalog: &Catalog,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let pool = match connect(database_url).await {
        Ok(pool) => pool,
        Err(e) => {
            let _ = writeln!(err, "seed: {e}");
            return EXIT_FAILURE;
        }
    };
    let status = match run_with_pool(&pool, mode, catalog, out).await {
        Ok(status) => status,
        Err(e) => {
            let _ = writeln!(err, "seed: {e}");
            EXIT_FAILURE
        }
    };
    pool.close().await;
    status
}

/// [`run`] on an open pool. Apply mode runs the migrations first; check mode changes nothing
/// (on an unmigrated database it reports every model missing).
pub async fn run_with_pool(
    pool: &PgPool,
    mode: Mode,
    catalog: &Catalog,
    out: &mut dyn Write,
) -> Result<u8, SeedError> {
    match mode {
        Mode::Apply => {
            crate::MIGRATOR.run(pool).await?;
            let report = apply(pool, catalog).await?;
            let _ = writeln!(out, "{report}");
            Ok(EXIT_OK)
        }
        Mode::Check => {
            let drift = check(pool, catalog).await?;
            if drift.is_empty() {
                let _ = writeln!(out, "catalog in sync");
                return Ok(EXIT_OK);
            }
            for d in &drift {
                let _ = writeln!(out, "{d}");
            }
            Ok(EXIT_DRIFT)
        }
    }
}
