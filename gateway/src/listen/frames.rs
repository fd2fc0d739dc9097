//! The frames of `GET /v1/ws/tts` (docs/api.md): what the player sends, what it hears back,
//! refusals with their machine-readable code, and the close codes for frames that cannot be
//! read. Parsing answers every frame with a message or words a person can act on, never a
//! panic (property-tested below; `make fuzz`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::synthesis::words::WordTiming;

const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_INVALID_DATA: u16 = 1007;
pub(super) const CLOSE_TOO_BIG: u16 = 1009;

/// The close code RFC 6455 (7.4.1) gives a read error, or None when the connection is gone
/// and there is no one to tell.
pub(super) fn close_for(error: axum::Error) -> Option<(u16, &'static str)> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match error.into_inner().downcast::<WsError>().map(|e| *e) {
        Ok(WsError::Capacity(_)) => Some((CLOSE_TOO_BIG, "message too big")),
        Ok(WsError::Utf8(_)) => Some((CLOSE_INVALID_DATA, "a text frame that is not UTF-8")),
        Ok(WsError::Protocol(_)) => Some((CLOSE_PROTOCOL_ERROR, "WebSocket protocol error")),
        Ok(WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_)) => None,
        _ => Some((CLOSE_PROTOCOL_ERROR, "WebSocket protocol error")),
    }
}

#[derive(Deserialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ClientMessage {
    Synthesize {
        document_id: Uuid,
        block_indices: Vec<i64>,
        cursor: Option<i64>,
        model: String,
        voice: String,
        speed: Option<f32>,
        /// The player plays blocks by segment while they are rendered: send a `segment` note
        /// for each chunk. Without it, only the whole block (`cached`) is announced.
        #[serde(default)]
        segments: bool,
    },
    CursorMoved {
        document_id: Uuid,
        cursor: i64,
    },
}

#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub(super) enum BlockStatus {
    Queued,
    Processing,
    Cached,
    Skipped,
    Error,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ServerMessage<'a> {
    Status {
        document_id: Uuid,
        block_idx: i64,
        status: BlockStatus,
        audio_url: Option<String>,
        duration_ms: Option<u64>,
        error: Option<&'a str>,
        /// While queued: how many jobs of the model go before this one.
        #[serde(skip_serializing_if = "Option::is_none")]
        ahead: Option<u64>,
        /// While queued: no live worker serves the voice; the job waits for one.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        waiting_for_worker: bool,
        /// The queue (Redis) is unreachable: the block waits until it is back.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        queue_unreachable: bool,
        model: &'a str,
        voice: &'a str,
    },
    /// One chunk of a block still being rendered, playable now; `last` ends the block.
    Segment {
        document_id: Uuid,
        block_idx: i64,
        index: u32,
        duration_ms: u64,
        last: bool,
        audio_url: String,
        /// The words it speaks, in seconds from the start of the block (not of the segment);
        /// empty from a model that predicts no durations.
        words: &'a [WordTiming],
        model: &'a str,
        voice: &'a str,
    },
    Evicted {
        document_id: Uuid,
        block_indices: Vec<i64>,
    },
    Error {
        error: &'a str,
        /// What kind of refusal, for the player: see [`Code`].
        code: Code,
        /// The blocks of the refused message that got no status and will get none (the player
        /// may ask for them again); empty when the message named none.
        block_indices: &'a [i64],
    },
}

/// The kind of a refused message, machine-readable beside the words.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub(super) enum Code {
    /// Not a message this socket understands (bad JSON, unknown type, a binary frame).
    InvalidMessage,
    /// A message with a value that cannot be served (no block, bad speed, unknown voice).
    InvalidRequest,
    /// The document is not this user's, or does not exist.
    NotFound,
    /// No running worker serves the voice: ask again later.
    Unserved,
    /// The socket's or the user's cap on waiting blocks is reached: ask again once some came.
    QueueFull,
    /// Redis or the database cannot be reached: ask again in a moment.
    Unavailable,
}

/// A refused message: the words, the kind, and the blocks it leaves without a status.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) code: Code,
    pub(super) message: String,
    pub(super) block_indices: Vec<i64>,
}

impl Refusal {
    pub(super) fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            block_indices: Vec::new(),
        }
    }

    /// The refusal concerns these blocks, unless it named its blocks already.
    pub(super) fn about(mut self, blocks: &[i64]) -> Self {
        if self.block_indices.is_empty() {
            self.block_indices = blocks.to_vec();
        }
        self
    }
}

/// Values checked by helpers that answer in words only (speed, model and voice).
impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Self::new(Code::InvalidRequest, message)
    }
}

/// Reads a client frame, with an error a person can act on.
pub(super) fn parse(text: &str) -> Result<ClientMessage, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            "every message needs a \"type\": \"synthesize\" or \"cursor_moved\"".to_string()
        })?;
    if !matches!(kind.as_str(), "synthesize" | "cursor_moved") {
        return Err(format!(
            "unknown message type {kind:?}; use \"synthesize\" or \"cursor_moved\""
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("invalid {kind} message: {e}"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever a client sends, the parser answers a message or an error, never a panic.
        #[test]
        fn any_frame_is_parsed_or_refused(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn any_json_shaped_frame_is_parsed_or_refused(
            kind in prop_oneof![
                Just("synthesize".to_string()),
                Just("cursor_moved".to_string()),
                "[a-z_]{0,12}",
            ],
            indices in prop::collection::vec(any::<i64>(), 0..70),
            cursor in any::<i64>(),
            speed in any::<f64>(),
            voice in ".{0,20}",
        ) {
            let frame = serde_json::json!({
                "type": kind, "document_id": "6f1c9a8e-0000-4000-8000-000000000000",
                "block_indices": indices, "cursor": cursor, "model": "kokoro", "voice": voice,
                "speed": speed,
            });
            let _ = parse(&frame.to_string());
        }
    }

    #[test]
    fn bad_frames_get_errors_that_say_what_is_wrong() {
        assert!(parse("{").unwrap_err().contains("invalid JSON"));
        assert!(
            parse(r#"{"type":"dance"}"#)
                .unwrap_err()
                .contains("unknown message type")
        );
        assert!(
            parse(r#"{"a":1}"#)
                .unwrap_err()
                .contains("needs a \"type\"")
        );
        let missing =
            parse(r#"{"type":"synthesize","document_id":"6f1c9a8e-0000-4000-8000-000000000000"}"#)
                .unwrap_err();
        assert!(missing.contains("block_indices"), "{missing}");
        let huge = parse(r#"{"type":"cursor_moved","document_id":"6f1c9a8e-0000-4000-8000-000000000000","cursor":1e30}"#)
            .unwrap_err();
        assert!(huge.contains("invalid cursor_moved message"), "{huge}");
        assert!(parse(r#"{"type":"cursor_moved","document_id":"6f1c9a8e-0000-4000-8000-000000000000","cursor":3}"#).is_ok());
    }
}
