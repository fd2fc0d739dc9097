//! The gateway with a live Higgs worker (the real worker in-process, on the CPU, with the tiny
//! random-weight checkpoint of its parity fixtures): the model goes live with exactly the voices
//! the worker cloned, and speech in one of them comes back through the same pipeline and cache
//! as Kokoro's.

use serde_json::json;

use crate::{
    helpers::{Shared, spawn_gateway},
    workers::higgs_worker,
};

#[tokio::test]
async fn a_live_higgs_worker_serves_its_cloned_voices_through_the_gateway() {
    let (url, _stop) = higgs_worker().await;
    let app = spawn_gateway(Shared::fresh().await, &[url.as_str()], &[]).await;

    let higgs = app.model("higgs").await;
    assert_eq!(higgs["available"], true, "{higgs}");
    let available: Vec<&str> = higgs["voices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["available"] == true)
        .map(|v| v["slug"].as_str().unwrap())
        .collect();
    assert_eq!(available, ["belinda", "en_woman"], "{higgs}");
    let kokoro = app.model("kokoro").await;
    assert_eq!(kokoro["available"], false, "only a Higgs worker runs here");

    // The operator sees which catalogue voices no worker clones.
    let health = app.health().await;
    let unserved: Vec<&str> = health["unserved"]["higgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        unserved.contains(&"chadwick") && !unserved.contains(&"en_woman"),
        "{health}"
    );

    let user = app.sign_up("higgs@example.com").await;
    let body = json!({"model": "higgs", "input": "Good morning to you.", "voice": "en_woman"});
    let response = app
        .post_json("/v1/audio/speech", Some(&user.token), &body)
        .await;
    assert_eq!(response.status(), 200);
    let wav = response.bytes().await.unwrap();
    let reader = hound::WavReader::new(std::io::Cursor::new(&wav)).expect("valid WAV");
    assert_eq!(reader.spec().sample_rate, 24_000);
    assert!(reader.duration() > 0);

    // Higgs keeps its voice's own pace: another speed is refused up front, nothing queued.
    let fast = json!({"model": "higgs", "input": "Hi.", "voice": "en_woman", "speed": 1.5});
    let response = app
        .post_json("/v1/audio/speech", Some(&user.token), &fast)
        .await;
    assert_eq!(response.status(), 400, "{:?}", response.text().await);
}
