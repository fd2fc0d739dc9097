//! Segments: a listener hears the start of a block while its end is still rendered, through
//! whichever gateway renders it, and the whole block is cached once complete.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    helpers::{Shared, TestApp, spawn_gateway},
    listener::Listener,
    workers::{Fault, VOICE, fake_worker},
};

/// Bytes of one chunk of the fake worker as WAV: 0.1 s at 24 kHz, 16-bit, plus the header.
const CHUNK_WAV: usize = 44 + 2 * 2_400;

async fn ask_with_segments(listener: &mut Listener, id: &str) {
    listener
        .send(json!({
            "type": "synthesize", "document_id": id, "block_indices": [0], "cursor": 0,
            "model": "kokoro", "voice": VOICE, "speed": 1.0, "segments": true,
        }))
        .await;
}

/// Every message up to the block's `cached` status; fails on any other final status.
async fn until_cached(listener: &mut Listener) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let message = listener.next().await;
        seen.push(message.clone());
        if message["type"] == "status" {
            match message["status"].as_str() {
                Some("cached") => return seen,
                Some("queued" | "processing") => {}
                _ => panic!("the block did not complete: {message}"),
            }
        }
    }
}

async fn fetch(app: &TestApp, url: &str) -> (u16, Vec<u8>) {
    let response = app.get(url, None).await;
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn segments_reach_listeners_on_every_gateway_before_the_block_is_complete() {
    // Three chunks, 1.5 s apart: the block is complete only after the third.
    let worker = fake_worker(Fault::Paced(Duration::from_millis(1_500))).await;
    let shared = Shared::fresh().await;
    let a = spawn_gateway(shared.clone(), &[worker.url.as_str()], &[]).await;
    let b = spawn_gateway(shared, &[worker.url.as_str()], &[]).await;
    let user = a.sign_up("segments@example.com").await;
    let id = a
        .create_text(&user, "A long block, rendered in three chunks.")
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // One listener on each gateway: whichever gateway's dispatcher takes the job, the other
    // listener hears its segments through Redis.
    let mut on_a = Listener::connect(&a, &user.token).await;
    let mut on_b = Listener::connect(&b, &user.token).await;
    ask_with_segments(&mut on_a, &id).await;
    ask_with_segments(&mut on_b, &id).await;

    for (app, listener) in [(&a, &mut on_a), (&b, &mut on_b)] {
        let seen = until_cached(listener).await;
        let segments: Vec<&Value> = seen.iter().filter(|m| m["type"] == "segment").collect();
        assert_eq!(
            segments.len(),
            3,
            "one segment per chunk, all before the block is cached: {seen:?}"
        );
        for (i, segment) in segments.iter().enumerate() {
            assert_eq!(segment["index"], i, "{segment}");
            assert_eq!(segment["block_idx"], 0);
            assert_eq!(segment["duration_ms"], 100);
            assert_eq!(segment["last"], i == 2, "{segment}");
            // Its words come with it, timed from the start of the block: a player highlights
            // them while the rest of the block is still rendered.
            let words = segment["words"].as_array().expect("a segment's words");
            assert!(!words.is_empty(), "{segment}");
            for word in words {
                let (start, end) = (
                    word["start"].as_f64().unwrap(),
                    word["end"].as_f64().unwrap(),
                );
                assert!(
                    start >= i as f64 * 0.1 - 1e-9 && end <= (i + 1) as f64 * 0.1 + 1e-9,
                    "inside segment {i} of the block: {word}"
                );
            }
        }
        let spoken: Vec<&str> = segments
            .iter()
            .flat_map(|s| s["words"].as_array().unwrap())
            .map(|w| w["word"].as_str().unwrap())
            .collect();
        assert_eq!(
            spoken.join(" "),
            "A long block, rendered in three chunks.",
            "the segments' words together are the block's"
        );
        // The first segment plays on its own: a WAV of the first chunk only.
        let url = segments[0]["audio_url"].as_str().unwrap();
        let (status, wav) = fetch(app, url).await;
        assert_eq!(status, 200);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(wav.len(), CHUNK_WAV);
        // A segment link opens its own segment only, never the whole block.
        let forged = url.replace("/segments/0?", "/segments/1?");
        assert_eq!(fetch(app, &forged).await.0, 403);
        let cached = seen.last().unwrap();
        assert_eq!(cached["duration_ms"], 300, "{cached}");
    }
    assert_eq!(worker.calls(), 1, "one synthesis for both listeners");

    // Complete now: a later listener, on either gateway, gets the whole block at once.
    let mut later = Listener::connect(&b, &user.token).await;
    ask_with_segments(&mut later, &id).await;
    let seen = until_cached(&mut later).await;
    assert_eq!(seen.len(), 1, "the whole block, no segments: {seen:?}");
    let (status, wav) = fetch(&b, seen[0]["audio_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(wav.len(), 44 + 3 * 2 * 2_400, "the whole block in one WAV");
    assert_eq!(worker.calls(), 1, "and no second synthesis");
}

#[tokio::test]
async fn a_listener_joining_a_block_mid_render_hears_it_from_its_first_segment() {
    let worker = fake_worker(Fault::Paced(Duration::from_millis(1_500))).await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("late@example.com").await;
    let id = app
        .create_text(&user, "A block someone else started.")
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first = Listener::connect(&app, &user.token).await;
    ask_with_segments(&mut first, &id).await;
    loop {
        let message = first.next().await;
        if message["type"] == "segment" {
            break;
        }
    }
    // The first segment is out, the rest not yet: a second listener (a reconnecting player,
    // say) joins now.
    let mut late = Listener::connect(&app, &user.token).await;
    ask_with_segments(&mut late, &id).await;
    let seen = until_cached(&mut late).await;
    let segments: Vec<&Value> = seen.iter().filter(|m| m["type"] == "segment").collect();
    let mut indices: Vec<u64> = segments
        .iter()
        .map(|m| m["index"].as_u64().unwrap())
        .collect();
    indices.dedup();
    assert_eq!(
        indices,
        [0, 1, 2],
        "every segment, from the first: {seen:?}"
    );
    // The segments made before it joined come with their words too (kept beside them).
    assert!(
        segments
            .iter()
            .all(|s| s["words"].as_array().is_some_and(|w| !w.is_empty())),
        "{seen:?}"
    );
    assert_eq!(
        segments.iter().filter(|s| s["last"] == true).count(),
        1,
        "the last is told as the last: {seen:?}"
    );
    assert_eq!(worker.calls(), 1);
}

#[tokio::test]
async fn a_player_that_did_not_ask_for_segments_hears_only_the_whole_block() {
    let worker = fake_worker(Fault::Paced(Duration::from_millis(200))).await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("whole@example.com").await;
    let id = app.create_text(&user, "Whole blocks only, please.").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut listener = Listener::connect(&app, &user.token).await;
    listener.synthesize(&id, &[0], 0).await;
    let seen = until_cached(&mut listener).await;
    assert!(
        seen.iter().all(|m| m["type"] == "status"),
        "no segment notes: {seen:?}"
    );
}
