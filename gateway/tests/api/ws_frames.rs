//! Bad input on the WebSocket: each gets an error a person understands, and the socket stays
//! open (except for an oversized frame, which closes it).

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::Message};

use crate::{helpers::spawn_app, listener::Listener, synthesis::STORY, workers::VOICE};

async fn error_for(listener: &mut Listener, frame: Message) -> String {
    refusal_for(listener, frame).await["error"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The whole error frame: its words, its `code` and the blocks it leaves without a status.
async fn refusal_for(listener: &mut Listener, frame: Message) -> Value {
    listener.ws.send(frame).await.unwrap();
    let reply: Value = listener.next().await;
    assert_eq!(reply["type"], "error", "{reply}");
    reply
}

fn synthesize(document_id: &str, indices: Value) -> Message {
    Message::Text(
        json!({
            "type": "synthesize", "document_id": document_id, "block_indices": indices,
            "model": "kokoro", "voice": VOICE,
        })
        .to_string()
        .into(),
    )
}

#[tokio::test]
async fn bad_frames_get_clear_errors_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let user = app.sign_up("frames@example.com").await;
    let other = app.sign_up("other@example.com").await;
    let id = app.create_text(&user, STORY).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = app.create_text(&other, STORY).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut listener = Listener::connect(&app, &user.token).await;

    let text = |s: &str| Message::Text(s.to_string().into());
    // The words, the machine-readable code, and the blocks left without a status.
    let cases: Vec<(Message, &str, &str, Value)> = vec![
        (
            Message::Binary(vec![1, 2, 3].into()),
            "binary frames",
            "invalid_message",
            json!([]),
        ),
        (
            text("{not json"),
            "invalid JSON",
            "invalid_message",
            json!([]),
        ),
        (
            text(r#"{"type":"dance"}"#),
            "unknown message type",
            "invalid_message",
            json!([]),
        ),
        (
            text(r#"{"type":"synthesize"}"#),
            "missing field",
            "invalid_message",
            json!([]),
        ),
        (
            synthesize(&id, json!([-1])),
            "block -1 does not exist",
            "invalid_request",
            json!([-1]),
        ),
        (
            synthesize(&id, json!([99999])),
            "block 99999 does not exist",
            "invalid_request",
            json!([99999]),
        ),
        (
            synthesize(&id, json!([1e30])),
            "invalid synthesize message",
            "invalid_message",
            json!([]),
        ),
        (
            synthesize(&id, json!((0..10_000).collect::<Vec<_>>())),
            "too many block indices",
            "invalid_request",
            json!((0..10_000).collect::<Vec<_>>()),
        ),
        (
            synthesize(&theirs, json!([0])),
            "not found",
            "not_found",
            json!([0]),
        ),
        (
            text(
                &json!({"type": "synthesize", "document_id": id, "block_indices": [1],
                "model": "kokoro", "voice": "nobody"})
                .to_string(),
            ),
            "unknown voice \"nobody\"",
            "invalid_request",
            json!([1]),
        ),
        (
            text(
                &json!({"type": "synthesize", "document_id": id, "block_indices": [1],
                "model": "tts-9", "voice": VOICE})
                .to_string(),
            ),
            "unknown model \"tts-9\"; choose one of: higgs, kokoro",
            "invalid_request",
            json!([1]),
        ),
        (
            text(&json!({"type": "cursor_moved", "document_id": id, "cursor": -3}).to_string()),
            "cursor -3 is outside",
            "invalid_request",
            json!([]),
        ),
        // No worker runs in this test: the blocks from the first one that needs one on get
        // no status, and the player knows to ask for them again later.
        (
            synthesize(&id, json!([0, 1])),
            "not served by any running worker",
            "unserved",
            json!([0, 1]),
        ),
    ];
    for (frame, expected, code, blocks) in cases {
        let reply = refusal_for(&mut listener, frame).await;
        let error = reply["error"].as_str().unwrap();
        assert!(
            error.contains(expected),
            "expected {expected:?} in {error:?}"
        );
        assert_eq!(reply["code"], code, "{error}");
        assert_eq!(reply["block_indices"], blocks, "{error}");
    }
    let voice_error = error_for(
        &mut listener,
        text(
            &json!({"type": "synthesize", "document_id": id, "block_indices": [1],
            "model": "kokoro", "voice": "nobody"})
            .to_string(),
        ),
    )
    .await;
    assert!(
        voice_error.contains(VOICE),
        "the valid voices are named: {voice_error}"
    );

    // Still open and working: block 2 is a rule, nothing to say.
    listener.synthesize(&id, &[2], 2).await;
    let reply = listener.next().await;
    assert_eq!(reply["status"], "skipped", "{reply}");

    // A frame over 64 KB closes the socket.
    listener
        .ws
        .send(Message::Text("x".repeat(1024 * 1024).into()))
        .await
        .unwrap();
    let (code, reason) = listener.closed().await;
    assert_eq!((code, reason.as_str()), (1009, "message too big"));
}

#[tokio::test]
async fn a_socket_without_a_valid_session_is_closed_as_a_policy_violation() {
    let app = spawn_app().await;
    for url in [
        app.ws_url("not-a-token"),
        format!("{}/v1/ws/tts", app.address.replacen("http://", "ws://", 1)),
    ] {
        let (ws, _) = connect_async(url)
            .await
            .expect("the upgrade itself succeeds");
        let mut listener = Listener { ws };
        let (code, reason) = listener.closed().await;
        assert_eq!(code, 1008);
        assert!(reason.contains("sign in"), "{reason}");
    }
}

#[tokio::test]
async fn a_socket_opened_by_another_sites_page_is_refused() {
    use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
    let app = spawn_app().await;
    let user = app.sign_up("origin@example.com").await;
    let own_origin = app.address.clone();
    for (origin, allowed) in [("https://evil.example", false), (own_origin.as_str(), true)] {
        let mut request = app.ws_url(&user.token).into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        match connect_async(request).await {
            Ok(_) => assert!(allowed, "{origin} was let in"),
            Err(tungstenite::Error::Http(response)) => {
                assert!(!allowed, "{origin} was refused");
                assert_eq!(response.status(), 403);
            }
            Err(e) => panic!("{origin}: {e}"),
        }
    }
}

#[tokio::test]
async fn broken_frames_close_with_the_code_rfc_6455_gives_them() {
    use tokio_tungstenite::tungstenite::protocol::frame::{
        Frame,
        coding::{Data, OpCode},
    };
    let app = spawn_app().await;
    let user = app.sign_up("codes@example.com").await;

    let mut listener = Listener::connect(&app, &user.token).await;
    let not_utf8 = Frame::message(vec![0xff, 0xfe, 0xfd], OpCode::Data(Data::Text), true);
    listener.ws.send(Message::Frame(not_utf8)).await.unwrap();
    let (code, _) = listener.closed().await;
    assert_eq!(code, 1007, "a text frame that is not UTF-8");

    let mut listener = Listener::connect(&app, &user.token).await;
    let mut reserved = Frame::message(b"{}".to_vec(), OpCode::Data(Data::Text), true);
    reserved.header_mut().rsv1 = true;
    listener.ws.send(Message::Frame(reserved)).await.unwrap();
    let (code, _) = listener.closed().await;
    assert_eq!(code, 1002, "reserved bits set without an extension");
}
