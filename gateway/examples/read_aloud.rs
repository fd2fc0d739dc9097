//! Reads a text aloud through a running gateway, the way the player does: signs up, creates a
//! document, asks for every block over the WebSocket, and downloads each block's audio.
//!
//! ```sh
//! make dev   # in another terminal
//! cargo run -p gateway --example read_aloud -- --file README.md --out .local/read-aloud
//! ```

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::Message};

#[derive(Parser)]
struct Args {
    /// The gateway.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,
    /// Text to read (Markdown); `--file` reads it from a file instead.
    #[arg(
        long,
        default_value = "Hello! This is yapit.\n\nIt reads documents aloud."
    )]
    text: String,
    #[arg(long)]
    file: Option<PathBuf>,
    /// Voice; the first available one of the model when not given.
    #[arg(long)]
    voice: Option<String>,
    #[arg(long, default_value = "kokoro")]
    model: String,
    /// Where the WAV files go.
    #[arg(long, default_value = ".local/read-aloud")]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = match &args.file {
        Some(path) => std::fs::read_to_string(path)?,
        None => args.text.clone(),
    };
    let http = reqwest::Client::new();
    let email = format!("reader-{}@example.com", uuid::Uuid::new_v4().simple());
    let signed: Value = http
        .post(format!("{}/v1/auth/sign-up", args.url))
        .json(&json!({"email": email, "password": "read aloud please"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = signed["token"].as_str().unwrap_or_default().to_string();
    let document: Value = http
        .post(format!("{}/v1/documents", args.url))
        .bearer_auth(&token)
        .json(&json!({"text": text, "title": "read_aloud example"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = document["id"].as_str().unwrap_or_default().to_string();
    let blocks = document["block_count"].as_i64().unwrap_or(0);
    let models: Value = http
        .get(format!("{}/v1/models", args.url))
        .send()
        .await?
        .json()
        .await?;
    let voice = match &args.voice {
        Some(voice) => voice.clone(),
        None => models["models"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["slug"] == args.model.as_str()))
            .and_then(|m| {
                m["voices"]
                    .as_array()?
                    .iter()
                    .find(|v| v["available"] == true)
                    .cloned()
            })
            .and_then(|v| v["slug"].as_str().map(str::to_string))
            .ok_or_else(|| anyhow::anyhow!("no available voice of {}", args.model))?,
    };
    println!("document {id}: {blocks} blocks, voice {voice}");

    let ws_url = format!(
        "{}/v1/ws/tts?token={token}",
        args.url.replacen("http", "ws", 1)
    );
    let (mut ws, _) = connect_async(ws_url).await?;
    let indices: Vec<i64> = (0..blocks).collect();
    for chunk in indices.chunks(32) {
        ws.send(Message::Text(
            json!({"type": "synthesize", "document_id": id, "block_indices": chunk,
                   "cursor": chunk[0], "model": args.model, "voice": voice, "speed": 1.0})
            .to_string()
            .into(),
        ))
        .await?;
    }
    std::fs::create_dir_all(&args.out)?;
    let mut done: BTreeMap<i64, Value> = BTreeMap::new();
    while (done.len() as i64) < blocks {
        let message = tokio::time::timeout(Duration::from_secs(120), ws.next())
            .await
            .map_err(|_| anyhow::anyhow!("no answer for 120 s"))?
            .ok_or_else(|| anyhow::anyhow!("the socket closed"))??;
        let Message::Text(text) = message else {
            continue;
        };
        let message: Value = serde_json::from_str(&text)?;
        if message["type"] == "error" {
            anyhow::bail!("the gateway refused: {}", message["error"]);
        }
        let status = message["status"].as_str().unwrap_or_default();
        let idx = message["block_idx"].as_i64().unwrap_or(-1);
        println!("block {idx}: {status}");
        match status {
            "cached" => {
                let url = format!(
                    "{}{}",
                    args.url,
                    message["audio_url"].as_str().unwrap_or_default()
                );
                let wav = http
                    .get(url)
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?;
                let path = args.out.join(format!("block-{idx:04}.wav"));
                std::fs::write(&path, &wav)?;
                println!("  {} ms -> {}", message["duration_ms"], path.display());
                done.insert(idx, message);
            }
            "skipped" | "error" => {
                done.insert(idx, message);
            }
            _ => {}
        }
    }
    let failed = done.values().filter(|m| m["status"] == "error").count();
    println!(
        "done: {} blocks, {failed} failed, audio in {}",
        done.len(),
        args.out.display()
    );
    Ok(())
}
