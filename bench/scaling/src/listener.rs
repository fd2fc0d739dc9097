//! One simulated listener on the network: at its arrival time it opens its document, opens the
//! player's WebSocket with its own session, and lets a `Reader` decide what to ask for, download
//! and play until its session ends.

use std::time::Duration;

use anyhow::{Context, Result};
use bench_gateway::api::{self, Gateway, ServerMessage, Voice, Ws};
use futures_util::{SinkExt, StreamExt};
use tokio::{sync::mpsc, time::Instant};
use tokio_tungstenite::tungstenite::Message;

use crate::reader::{Action, Frame, Outcome, Playback, Reader};

/// Speakable blocks the player keeps requested ahead of the one playing (web/src/engine).
pub const PREFETCH_AHEAD: usize = 8;

pub struct Plan<'a> {
    pub account: &'a Gateway,
    pub document_id: &'a str,
    pub voice: &'a Voice,
    pub playback: Playback,
    /// The level's start; arrival and session are measured from here.
    pub epoch: Instant,
    pub arrival: Duration,
    pub session: Duration,
}

/// Runs one listener to the end of its session. Never fails: what went wrong is in the outcome.
pub async fn listen(plan: Plan<'_>) -> Outcome {
    tokio::time::sleep_until(plan.epoch + plan.arrival).await;
    let since = |epoch: Instant| Instant::now().saturating_duration_since(epoch);
    let opened = open(plan.account, plan.document_id).await;
    let (order, mut ws) = match opened {
        Ok(opened) => opened,
        Err(e) => return Outcome::failed(format!("{e:#}"), plan.arrival),
    };
    let mut reader = Reader::new(order, PREFETCH_AHEAD, plan.playback, plan.arrival);
    let end = plan.epoch + plan.arrival + plan.session;
    let (fetched_tx, mut fetched) = mpsc::unbounded_channel::<Fetched>();
    let mut failure = None;
    let mut actions = reader.start(since(plan.epoch));
    loop {
        if let Err(e) = carry_out(&plan, &mut ws, actions, &fetched_tx).await {
            failure = Some(format!("{e:#}"));
            break;
        }
        let deadline = reader
            .next_deadline()
            .map_or(end, |d| (plan.epoch + d).min(end));
        actions = tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<ServerMessage>(text.as_str()) {
                        Ok(message) => match frame_of(&message, plan.document_id) {
                            Some(frame) => reader.on_frame(frame, since(plan.epoch)),
                            None => Vec::new(),
                        },
                        Err(e) => {
                            failure = Some(format!(
                                "unreadable frame {}: {e}",
                                api::truncate(text.as_str(), 200)
                            ));
                            break;
                        }
                    }
                }
                Some(Ok(Message::Close(close))) => {
                    failure = Some(format!("the gateway closed the WebSocket: {close:?}"));
                    break;
                }
                Some(Ok(_)) => Vec::new(),
                Some(Err(e)) => {
                    failure = Some(format!("WebSocket read: {e}"));
                    break;
                }
                None => {
                    failure = Some("the WebSocket ended".into());
                    break;
                }
            },
            Some((idx, segment, ok, at)) = fetched.recv() => {
                reader.on_fetched(idx, segment, ok, at.saturating_duration_since(plan.epoch))
            }
            () = tokio::time::sleep_until(deadline) => {
                if deadline >= end {
                    break;
                }
                reader.on_tick(since(plan.epoch))
            }
        };
    }
    let _ = ws.close(None).await;
    let mut outcome = reader.finish(since(plan.epoch).min(end - plan.epoch));
    outcome.failure = failure;
    outcome
}

/// The document's speakable blocks (as the player loads the page) and a socket.
async fn open(account: &Gateway, document_id: &str) -> Result<(Vec<u32>, Ws)> {
    let blocks = account
        .speakable_blocks(document_id)
        .await
        .context("loading the document")?;
    let ws = api::ws_connect(&account.ws_url()).await?;
    Ok((blocks.into_iter().map(|b| b.idx).collect(), ws))
}

/// A download that finished: block, segment (`None`: the whole block), whether it worked, when.
type Fetched = (u32, Option<u32>, bool, Instant);

async fn carry_out(
    plan: &Plan<'_>,
    ws: &mut Ws,
    actions: Vec<Action>,
    fetched: &mpsc::UnboundedSender<Fetched>,
) -> Result<()> {
    for action in actions {
        match action {
            Action::Send { indices, cursor } => {
                let text = api::synthesize_blocks_message(
                    plan.document_id,
                    &indices,
                    cursor,
                    plan.voice,
                    plan.playback == Playback::Segments,
                );
                ws.send(Message::text(text))
                    .await
                    .context("WebSocket send")?;
            }
            Action::Fetch {
                idx,
                segment,
                audio_url,
            } => {
                let account = plan.account.clone();
                let fetched = fetched.clone();
                tokio::spawn(async move {
                    let ok = match account.fetch_audio(&audio_url).await {
                        Ok(bytes) => bytes > 44,
                        Err(e) => {
                            eprintln!("[bench-scaling] audio download failed: {e:#}");
                            false
                        }
                    };
                    let _ = fetched.send((idx, segment, ok, Instant::now()));
                });
            }
        }
    }
    Ok(())
}

/// The frame as the reader sees it, if it concerns this listener's document.
fn frame_of<'a>(message: &'a ServerMessage, document_id: &str) -> Option<Frame<'a>> {
    if message.kind == "error" {
        return Some(Frame::Refused(
            message.error.as_deref().unwrap_or("refused"),
        ));
    }
    if message.document_id.as_deref() != Some(document_id) {
        return None;
    }
    match message.kind.as_str() {
        "status" => Some(Frame::Status {
            idx: message.block_idx?,
            status: message.status.as_deref()?,
            audio_url: message.audio_url.as_deref(),
            duration_ms: message.duration_ms,
            error: message.error.as_deref(),
        }),
        "segment" => Some(Frame::Segment {
            idx: message.block_idx?,
            index: message.index?,
            duration_ms: message.duration_ms?,
            last: message.last.unwrap_or(false),
            audio_url: message.audio_url.as_deref()?,
        }),
        "evicted" => Some(Frame::Evicted(message.block_indices.as_deref()?)),
        _ => None,
    }
}
