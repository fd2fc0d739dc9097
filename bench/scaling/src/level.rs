//! One load level: `n` listeners, each signed in as its own user with its own fresh document,
//! arriving open-loop at a fixed rate over the arrival window and listening for the session
//! length; then the queue drains before anything else runs.

use std::time::Duration;

use anyhow::{Context, Result};
use bench_gateway::api::{Gateway, Voice};
use futures_util::future::join_all;
use tokio::time::Instant;

use crate::{
    documents::Documents,
    listener::{self, Plan},
    procs::{self, Watched},
    reader::Playback,
    results::LevelResult,
    stack,
};

/// What stays the same across the levels of one stack.
pub struct Load<'a> {
    pub base: String,
    pub voice: Voice,
    pub playback: Playback,
    /// One session per simulated user; grown by signing up as levels need more.
    pub tokens: &'a mut Vec<String>,
    /// Sessions are given (`--tokens-file`): never sign up, reuse them in turn.
    pub fixed_tokens: bool,
    pub documents: &'a mut Documents,
    pub paragraphs: usize,
    pub arrival_window: Duration,
    pub session: Duration,
    pub operator_token: Option<String>,
    pub watched: Vec<Watched>,
}

/// Runs the level; its result, and whether the queue drained afterwards (if not, the next level
/// would start on a loaded stack).
pub async fn run(load: &mut Load<'_>, listeners: usize) -> Result<(LevelResult, Result<()>)> {
    let accounts = accounts(load, listeners).await?;
    let mut document_ids = Vec::with_capacity(listeners);
    for (i, account) in accounts.iter().enumerate() {
        let text = load.documents.next(load.paragraphs);
        let id = account
            .create_document(&format!("bench-scaling listener {}", i + 1), &text)
            .await
            .context("creating a listener's document")?;
        document_ids.push(id);
    }

    let before = procs::snapshot(&load.watched);
    let started = Instant::now();
    // A moment's lead, so the first listener's arrival is not late by the set-up of the others.
    let epoch = started + Duration::from_millis(100);
    let plans = accounts
        .iter()
        .zip(&document_ids)
        .enumerate()
        .map(|(i, (account, id))| {
            listener::listen(Plan {
                account,
                document_id: id,
                voice: &load.voice,
                playback: load.playback,
                epoch,
                arrival: load.arrival_window.mul_f64(i as f64 / listeners as f64),
                session: load.session,
            })
        });
    let outcomes = join_all(plans).await;
    let seconds = started.elapsed().as_secs_f64();
    let after = procs::snapshot(&load.watched);

    let http = bench_gateway::api::http_client(1)?;
    let drained = stack::drain(
        &http,
        &load.base,
        load.operator_token.as_deref(),
        &load.voice.model,
        Duration::from_secs(120),
        Duration::from_secs(5),
    )
    .await;
    for (account, id) in accounts.iter().zip(&document_ids) {
        if let Err(e) = account.delete_document(id).await {
            eprintln!("[bench-scaling] could not delete a listener's document: {e:#}");
        }
    }
    let level = LevelResult {
        listeners,
        outcomes,
        seconds,
        cpu: procs::cpu_between(&load.watched, &before, &after),
    };
    Ok((level, drained))
}

/// One account per listener: sessions already held, then fresh sign-ups (or, with fixed
/// sessions, the given ones in turn).
async fn accounts(load: &mut Load<'_>, listeners: usize) -> Result<Vec<Gateway>> {
    if !load.fixed_tokens {
        while load.tokens.len() < listeners {
            let account = Gateway::connect(&load.base, None)
                .await
                .context("signing up a listener")?;
            load.tokens.push(account.token().to_string());
        }
    }
    let mut accounts = Vec::with_capacity(listeners);
    for i in 0..listeners {
        let token = load.tokens[i % load.tokens.len()].clone();
        accounts.push(Gateway::connect(&load.base, Some(token)).await?);
    }
    Ok(accounts)
}
