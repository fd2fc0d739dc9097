//! Reading documents through the WebSocket with the real Kokoro worker, real Redis and real
//! Postgres.

use std::{collections::BTreeSet, time::Duration};

use serde_json::{Value, json};

use crate::{
    helpers::{Shared, TestApp, User, spawn_gateway},
    listener::{Listener, reading},
    workers::{FakeWorker, Fault, RealWorker, VOICE, fake_worker, real_worker},
};

pub const STORY: &str = "# A short story\n\nThe fox woke early.\n\n---\n\nIt was cold outside.\n\n\
```\nlet x = 1;\n```\n\nThe fox went out anyway.\n\nThe snow was deep.\n\nThen the fox came home.\n";

/// A gateway with one real worker, a user and the story as a document.
pub async fn reader(extra: &[&str]) -> (TestApp, RealWorker, User, String) {
    let worker = real_worker().await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], extra).await;
    let user = app.sign_up("reader@example.com").await;
    let document = app.create_text(&user, STORY).await;
    let id = document["id"].as_str().unwrap().to_string();
    (app, worker, user, id)
}

/// Downloads a block's audio and checks it is WAV, 24 kHz mono 16-bit, as long as announced.
pub async fn check_audio(app: &TestApp, status: &Value) -> Vec<u8> {
    let url = status["audio_url"]
        .as_str()
        .expect("cached carries audio_url");
    let response = app.get(url, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    let wav = response.bytes().await.unwrap().to_vec();
    let reader = hound::WavReader::new(std::io::Cursor::new(&wav)).expect("valid WAV");
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (24_000, 1, 16)
    );
    let duration_ms = u64::from(reader.duration()) * 1000 / 24_000;
    assert_eq!(duration_ms, status["duration_ms"].as_u64().unwrap());
    assert!(
        duration_ms > 300,
        "a sentence lasts more than 0.3 s: {duration_ms} ms"
    );
    wav
}

/// The clip a status points at: its link without the signature, which differs per link.
pub fn audio_path(status: &Value) -> String {
    let url = status["audio_url"]
        .as_str()
        .expect("cached carries audio_url");
    url.split_once('?')
        .map_or(url, |(path, _)| path)
        .to_string()
}

#[tokio::test]
async fn a_document_is_read_end_to_end_and_then_served_from_the_cache() {
    let (app, worker, user, id) = reader(&[]).await;
    let blocks = app.document(&user, &json!(id)).await["blocks"].clone();
    assert_eq!(blocks.as_array().unwrap().len(), 8, "{blocks}");
    let mut listener = Listener::connect(&app, &user.token).await;
    let all: Vec<i64> = (0..8).collect();
    listener.synthesize(&id, &all, 0).await;
    let (finals, seen) = listener.finals(&all).await;
    for (idx, status) in &finals {
        let speakable = blocks[*idx as usize]["speakable"].as_bool().unwrap();
        let expected = if speakable { "cached" } else { "skipped" };
        assert_eq!(status["status"], expected, "block {idx}: {status}");
        assert_eq!(status["document_id"], id.as_str());
        if speakable {
            check_audio(&app, status).await;
        }
    }
    let speakable = finals.values().filter(|s| s["status"] == "cached").count() as u64;
    assert_eq!(speakable, 6);
    assert!(
        seen.iter().any(|m| m["status"] == "queued"),
        "uncached blocks are announced as queued first"
    );
    assert_eq!(
        worker.jobs(),
        speakable,
        "one synthesis per speakable block"
    );

    // Asking again: every block is cached at once, and the worker is not called.
    let mut again = Listener::connect(&app, &user.token).await;
    again.synthesize(&id, &all, 0).await;
    for _ in 0..8 {
        let message = again
            .next_within(Duration::from_secs(5))
            .await
            .expect("answered at once");
        assert!(
            matches!(message["status"].as_str(), Some("cached" | "skipped")),
            "{message}"
        );
    }
    assert_eq!(
        worker.jobs(),
        speakable,
        "no new synthesis for cached blocks"
    );

    // Usage is recorded for the user who caused the syntheses.
    let usage = app.get_json("/v1/usage", Some(&user.token)).await;
    let chars: i64 = (0..8)
        .filter(|i| blocks[*i]["speakable"].as_bool().unwrap())
        .map(|i| blocks[i]["text"].as_str().unwrap().chars().count() as i64)
        .sum();
    assert_eq!(usage["characters_today"], chars, "{usage}");
    assert!(usage["days"][0]["audio_seconds"].as_f64().unwrap() > 1.0);
}

#[tokio::test]
async fn fifty_listeners_of_one_block_cause_one_synthesis() {
    let (app, worker, user, id) = reader(&[]).await;
    let mut listeners = Vec::new();
    for _ in 0..50 {
        listeners.push(Listener::connect(&app, &user.token).await);
    }
    for listener in &mut listeners {
        listener.synthesize(&id, &[1], 1).await;
    }
    let mut urls = BTreeSet::new();
    for listener in &mut listeners {
        let (finals, _) = listener.finals(&[1]).await;
        assert_eq!(finals[&1]["status"], "cached", "{}", finals[&1]);
        urls.insert(audio_path(&finals[&1]));
    }
    assert_eq!(urls.len(), 1, "everyone got the same audio");
    assert_eq!(worker.jobs(), 1, "exactly one synthesis");
}

#[tokio::test]
async fn moving_the_cursor_evicts_queued_blocks_and_they_are_never_synthesized() {
    let (app, worker, user, id) =
        reader(&["--ws-window-ahead", "2", "--ws-window-behind", "0"]).await;
    let mut listener = Listener::connect(&app, &user.token).await;
    // Blocks 0, 1 and 3 are speakable; the worker (capacity 1) takes 0 first, 1 and 3 wait.
    listener.synthesize(&id, &[0, 1, 2], 0).await;
    let mut finals = std::collections::BTreeMap::new();
    loop {
        let message = listener.next().await;
        if message["status"] == "skipped" {
            finals.insert(message["block_idx"].as_i64().unwrap(), message.clone());
        }
        if message["block_idx"] == 0 && message["status"] == "processing" {
            break;
        }
    }
    listener
        .send(json!({"type": "cursor_moved", "document_id": id, "cursor": 6}))
        .await;
    let mut evicted = Vec::new();
    while !(finals.contains_key(&0) && finals.contains_key(&2)) || evicted.is_empty() {
        let message = listener.next().await;
        match message["type"].as_str() {
            Some("evicted") => evicted.extend(
                message["block_indices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_i64().unwrap()),
            ),
            Some("status") if matches!(message["status"].as_str(), Some("cached" | "skipped")) => {
                finals.insert(message["block_idx"].as_i64().unwrap(), message);
            }
            _ => {}
        }
    }
    assert_eq!(
        evicted,
        vec![1],
        "block 1 was still queued when the cursor moved"
    );
    // Give a wrongly kept job every chance to run, then count.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        worker.jobs(),
        1,
        "only block 0, which a worker had already taken, was synthesized"
    );
    let (queued, running) = app.state.synthesis.depth("kokoro").await.unwrap();
    assert_eq!((queued, running), (0, 0), "nothing is left in the queue");
}

/// Eight one-line paragraphs ("Paragraph number 1." …) behind one slow replica with one call
/// slot, so the order of its calls is the order of the queue. The reader has asked for all
/// eight from block 0, and block 0 is running: blocks 1 to 7 wait.
async fn prefetching_reader(email: &str) -> (TestApp, FakeWorker, String, Listener) {
    let worker = fake_worker(Fault::Slow(Duration::from_millis(500))).await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let text = (1..=8)
        .map(|i| format!("Paragraph number {i}."))
        .collect::<Vec<_>>()
        .join("\n\n");
    let (_, id, mut listener) = reading(&app, email, &text).await;
    listener.synthesize(&id, &EIGHT, 0).await;
    loop {
        let message = listener.next().await;
        if message["block_idx"] == 0 && message["status"] == "processing" {
            break;
        }
    }
    (app, worker, id, listener)
}

const EIGHT: [i64; 8] = [0, 1, 2, 3, 4, 5, 6, 7];

async fn all_cached(listener: &mut Listener, indices: &[i64]) {
    let (finals, _) = listener.finals(indices).await;
    assert!(
        finals.values().all(|s| s["status"] == "cached"),
        "{finals:?}"
    );
}

#[tokio::test]
async fn one_readers_current_block_goes_ahead_of_another_readers_prefetch() {
    let (app, worker, _, mut prefetching) = prefetching_reader("prefetch@example.com").await;
    // The second reader asks for the block at its cursor.
    let (_, id, mut starting) =
        reading(&app, "starting@example.com", "A second reader starts here.").await;
    starting.synthesize(&id, &[0], 0).await;
    all_cached(&mut starting, &[0]).await;
    all_cached(&mut prefetching, &EIGHT).await;

    let texts = worker.texts();
    assert_eq!(texts.len(), 9, "one call per block: {texts:?}");
    let second = texts
        .iter()
        .position(|t| t.contains("second reader"))
        .expect("the second reader's block was synthesized");
    // Only the first reader's block 0, already running, goes first.
    assert_eq!(
        second, 1,
        "the second reader's current block waited behind prefetch: {texts:?}"
    );
    // The first reader's prefetch still comes in reading order.
    let prefetched: Vec<&String> = texts.iter().filter(|t| t.contains("Paragraph")).collect();
    for (i, text) in prefetched.iter().enumerate() {
        assert!(text.contains(&format!("number {}.", i + 1)), "{texts:?}");
    }
}

#[tokio::test]
async fn after_a_seek_the_block_at_the_new_cursor_is_synthesized_next() {
    let (_app, worker, id, mut listener) = prefetching_reader("seek@example.com").await;
    // The listener clicks block 5 while blocks 1 to 7 wait in reading order from block 0.
    listener
        .send(json!({"type": "cursor_moved", "document_id": id, "cursor": 5}))
        .await;
    all_cached(&mut listener, &EIGHT).await;
    let texts = worker.texts();
    assert_eq!(texts.len(), 8, "{texts:?}");
    assert!(texts[0].contains("number 1."), "{texts:?}");
    assert!(
        texts[1].contains("number 6."),
        "block 5, where the listener stands now, comes right after the running block: {texts:?}"
    );
}

#[tokio::test]
async fn two_gateways_share_queues_and_completions() {
    let worker = real_worker().await;
    let shared = Shared::fresh().await;
    let a = spawn_gateway(shared.clone(), &[worker.url.as_str()], &[]).await;
    let b = spawn_gateway(shared, &[worker.url.as_str()], &[]).await;
    let user = a.sign_up("both@example.com").await;
    let id = a.create_text(&user, super::synthesis::STORY).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut on_a = Listener::connect(&a, &user.token).await;
    let mut on_b = Listener::connect(&b, &user.token).await;
    on_a.synthesize(&id, &[3], 3).await;
    on_b.synthesize(&id, &[3], 3).await;
    let (from_a, _) = on_a.finals(&[3]).await;
    let (from_b, _) = on_b.finals(&[3]).await;
    assert_eq!(from_a[&3]["status"], "cached");
    assert_eq!(audio_path(&from_a[&3]), audio_path(&from_b[&3]));
    assert_eq!(
        worker.jobs(),
        1,
        "one synthesis for both gateways' listeners"
    );
    check_audio(&b, &from_a[&3]).await;
}

#[tokio::test]
async fn models_and_health_say_which_voices_a_live_worker_serves() {
    let (app, worker, _user, _id) = reader(&[]).await;
    let kokoro = app.model("kokoro").await;
    assert_eq!(kokoro["available"], true);
    let served: Vec<&str> = worker
        .engine
        .voices()
        .iter()
        .map(|v| v.slug.as_str())
        .collect();
    for voice in kokoro["voices"].as_array().unwrap() {
        let slug = voice["slug"].as_str().unwrap();
        assert_eq!(voice["available"], served.contains(&slug), "{voice}");
    }
    let higgs = app.model("higgs").await;
    assert_eq!(
        higgs["available"], false,
        "no higgs worker runs in the tests"
    );

    let health = app.health().await;
    assert_eq!(health["checks"]["redis"], "ok");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(!health["unserved"]["higgs"].as_array().unwrap().is_empty());
    assert!(
        !health["unserved"]["kokoro"]
            .as_array()
            .map(|v| v.iter().any(|s| s == VOICE))
            .unwrap_or(false),
        "the live worker's voice is served"
    );
    assert!(
        health["unserved"].get("kokoro").is_none(),
        "the worker serves all 54 catalogue voices: {health}"
    );
    assert_eq!(health["models"]["kokoro"]["replicas"], 1);
}
