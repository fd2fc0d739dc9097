//! A WebSocket client speaking the player's protocol.

use std::{collections::BTreeMap, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, protocol::CloseFrame},
};

use crate::{helpers::TestApp, workers::VOICE};

pub struct Listener {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How long any one test waits for a message before failing instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(90);

impl Listener {
    pub async fn connect(app: &TestApp, token: &str) -> Self {
        Self::connect_to(&app.ws_url(token)).await
    }

    pub async fn connect_to(url: &str) -> Self {
        let (ws, _) = connect_async(url).await.expect("the websocket opens");
        Self { ws }
    }

    pub async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn synthesize(&mut self, document_id: &str, indices: &[i64], cursor: i64) {
        self.send(json!({
            "type": "synthesize", "document_id": document_id, "block_indices": indices,
            "cursor": cursor, "model": "kokoro", "voice": VOICE, "speed": 1.0,
        }))
        .await;
    }

    /// The next JSON message; panics on close or after `PATIENCE`.
    pub async fn next(&mut self) -> Value {
        self.next_within(PATIENCE)
            .await
            .expect("a message arrives in time")
    }

    pub async fn next_within(&mut self, patience: Duration) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(patience, self.ws.next()).await.ok()?;
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).expect("server messages are JSON"));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// Waits for the close frame; returns its code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(Some(CloseFrame { code, reason }))))) => {
                    return (code.into(), reason.to_string());
                }
                Ok(Some(Ok(Message::Text(_)))) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// Collects status messages until every block in `indices` has a final one (`cached`,
    /// `skipped` or `error`); returns the final message per block and every message seen.
    pub async fn finals(&mut self, indices: &[i64]) -> (BTreeMap<i64, Value>, Vec<Value>) {
        let mut finals = BTreeMap::new();
        let mut seen = Vec::new();
        while indices.iter().any(|i| !finals.contains_key(i)) {
            let message = self.next().await;
            seen.push(message.clone());
            if message["type"] == "status"
                && matches!(
                    message["status"].as_str(),
                    Some("cached" | "skipped" | "error")
                )
            {
                finals.insert(message["block_idx"].as_i64().unwrap(), message);
            }
        }
        (finals, seen)
    }
}

/// A new user with `text` as a document, and a socket to read it through.
pub async fn reading(
    app: &TestApp,
    email: &str,
    text: &str,
) -> (crate::helpers::User, String, Listener) {
    let user = app.sign_up(email).await;
    let id = app.create_text(&user, text).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let listener = Listener::connect(app, &user.token).await;
    (user, id, listener)
}
