//! Word timings beside the cached audio and with each segment: `GET /v1/audio/{hash}/words`,
//! `POST /v1/dev/captioned_speech` and the socket's `segment` notes, with the real worker and model.

use base64::Engine as _;
use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::{
    helpers::{Shared, assert_error, spawn_gateway},
    listener::Listener,
    workers::{VOICE, real_worker},
};

const INPUT: &str = "In 1897, the keeper paid $5 for a lamp.";

/// The written words of `INPUT`, as the contract counts them.
const WORDS: [&str; 9] = [
    "In", "1897", "the", "keeper", "paid", "$5", "for", "a", "lamp",
];

#[tokio::test]
async fn captioned_speech_times_every_written_word_and_the_timings_stay_beside_the_audio() {
    let worker = real_worker().await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("captions@example.com").await;
    let response = app
        .post_json(
            "/v1/dev/captioned_speech",
            Some(&user.token),
            &json!({"model": "kokoro", "input": INPUT, "voice": VOICE}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["audio_format"], "wav");
    let wav = base64::engine::general_purpose::STANDARD
        .decode(body["audio"].as_str().unwrap())
        .unwrap();
    let reader = hound::WavReader::new(std::io::Cursor::new(&wav)).expect("a valid WAV");
    let seconds = f64::from(reader.duration()) / 24_000.0;

    let timestamps = body["timestamps"].as_array().unwrap();
    let words: Vec<&str> = timestamps
        .iter()
        .map(|t| t["word"].as_str().unwrap())
        .collect();
    assert_eq!(words, WORDS);
    let chars: Vec<char> = INPUT.chars().collect();
    let mut previous_end = 0.0;
    for t in timestamps {
        let (start, end) = (
            t["start_time"].as_f64().unwrap(),
            t["end_time"].as_f64().unwrap(),
        );
        // Times are given to the millisecond.
        assert!(
            start >= previous_end && end > start && end <= seconds + 0.0005,
            "{t} in {seconds} s"
        );
        previous_end = end;
        let (from, to) = (
            t["start_char"].as_u64().unwrap() as usize,
            t["end_char"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            chars[from..to].iter().collect::<String>(),
            t["word"].as_str().unwrap()
        );
    }

    // The same timings are served beside the audio, through the audio's own signed link.
    let target = app
        .state
        .synthesis
        .target(INPUT, "kokoro", VOICE, 1.0)
        .expect("the live worker's model version is known");
    let audio_url = app.state.audio_urls.sign(&target.hash);
    let words_url = audio_url.replacen('?', "/words?", 1);
    let served = app.get(&words_url, None).await;
    assert_eq!(served.status(), 200);
    assert!(
        served.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    let served: Value = served.json().await.unwrap();
    let served = served["words"].as_array().unwrap().clone();
    assert_eq!(served.len(), WORDS.len());
    assert_eq!(served[1]["word"], "1897");
    assert_eq!(served[1]["start"], timestamps[1]["start_time"]);
    let bare = format!("/v1/audio/{}/words", target.hash);
    assert_error(app.get(&bare, None).await, 403, "forbidden").await;

    // The hot copy gone (evicted from Redis), the cold copy beside the WAV still answers, and
    // is put back.
    let mut redis = redis::Client::open(app.shared.redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let hot = format!("{}words:{}", app.shared.prefix, target.hash);
    let removed: u32 = redis.del(&hot).await.unwrap();
    assert_eq!(removed, 1, "the timings had a hot copy");
    let again: Value = app.get(&words_url, None).await.json().await.unwrap();
    assert_eq!(again["words"].as_array().unwrap(), &served);
    let back: bool = redis.exists(&hot).await.unwrap();
    assert!(back, "a cold hit is copied back into the hot cache");
    assert_eq!(
        worker.jobs(),
        1,
        "one synthesis for the audio and its words"
    );

    // Audio nobody made has no timings.
    let other = app
        .state
        .synthesis
        .target("Never spoken.", "kokoro", VOICE, 1.0)
        .unwrap();
    let url = app
        .state
        .audio_urls
        .sign(&other.hash)
        .replacen('?', "/words?", 1);
    assert_error(app.get(&url, None).await, 404, "not_found").await;
    let streamed = app
        .post_json(
            "/v1/dev/captioned_speech",
            Some(&user.token),
            &json!({"model": "kokoro", "input": INPUT, "voice": VOICE, "stream": true}),
        )
        .await;
    assert_error(streamed, 400, "bad_request").await;
}

/// A block long enough that the worker renders it in several chunks.
const LONG: &str = "In 1897, the keeper paid $5 for a lamp. It burned every night for forty years, \
    through storms that took the roofs of the village and winters that froze the bay.";

#[tokio::test]
async fn a_listener_gets_each_segments_words_from_the_real_model_before_the_block_is_complete() {
    let worker = real_worker().await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("segment-words@example.com").await;
    let id = app.create_text(&user, LONG).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut listener = Listener::connect(&app, &user.token).await;
    listener
        .send(json!({
            "type": "synthesize", "document_id": id, "block_indices": [0], "cursor": 0,
            "model": "kokoro", "voice": VOICE, "speed": 1.0, "segments": true,
        }))
        .await;
    let mut segments = Vec::new();
    loop {
        let message = listener.next().await;
        match (message["type"].as_str(), message["status"].as_str()) {
            (Some("segment"), _) => segments.push(message),
            (Some("status"), Some("cached")) => break,
            (Some("status"), Some("queued" | "processing")) => {}
            _ => panic!("the block did not complete: {message}"),
        }
    }
    assert!(segments.len() >= 2, "rendered in chunks: {segments:?}");
    // The first segment already names its words, before the block is complete.
    let first: Vec<&str> = segments[0]["words"]
        .as_array()
        .expect("the first segment's words")
        .iter()
        .map(|w| w["word"].as_str().unwrap())
        .collect();
    assert_eq!(first[..2], ["In", "1897"], "{first:?}");
    // Together, in order and timed from the block's start, they are the block's written words.
    let words: Vec<&Value> = segments
        .iter()
        .flat_map(|s| s["words"].as_array().unwrap())
        .collect();
    let written: Vec<String> = LONG
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| c.is_ascii_punctuation() && c != '$')
                .to_string()
        })
        .collect();
    let spoken: Vec<&str> = words.iter().map(|w| w["word"].as_str().unwrap()).collect();
    assert_eq!(spoken, written);
    let mut offset = 0.0;
    let mut previous_end = 0.0;
    for segment in &segments {
        let end = offset + segment["duration_ms"].as_f64().unwrap() / 1000.0;
        for word in segment["words"].as_array().unwrap() {
            let (start, stop) = (
                word["start"].as_f64().unwrap(),
                word["end"].as_f64().unwrap(),
            );
            assert!(start >= previous_end - 0.0005, "in order: {word}");
            // Durations and times are each rounded to the millisecond: a few ms of slack.
            assert!(
                start >= offset - 0.005 && stop <= end + 0.005,
                "inside its segment, {offset} s to {end} s of the block: {word}"
            );
            previous_end = stop;
        }
        offset = end;
    }
    // The whole block's timings say the same.
    let served = app
        .state
        .synthesis
        .store()
        .words(&words_hash(&app, LONG))
        .await;
    assert_eq!(served.map(|w| w.len()), Some(words.len()));
}

fn words_hash(app: &crate::helpers::TestApp, text: &str) -> String {
    app.state
        .synthesis
        .target(text, "kokoro", VOICE, 1.0)
        .expect("the live worker's model version is known")
        .hash
}
