//! Cancellation, capacity and shutdown.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use tonic::Code;
use tts_kokoro_worker::g2p::Language;

use crate::helpers::{WorkerSettings, request, rms, spawn_worker, synthesize};

fn long_text() -> String {
    (1..=24)
        .map(|i| format!("This is sentence number {i} of a long chapter that nobody will finish."))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn a_cancelled_stream_stops_the_work() {
    let mut worker = spawn_worker(WorkerSettings::default()).await;
    let text = long_text();
    let utterances = worker
        .engine
        .frontend()
        .prepare(&text, Language::AmericanEnglish)
        .len();
    assert!(utterances >= 6, "{utterances}");

    let mut stream = worker
        .client
        .synthesize(request(&text))
        .await
        .unwrap()
        .into_inner();
    stream.message().await.unwrap().unwrap();
    drop(stream);

    let stats = worker.engine.stats();
    let deadline = Instant::now() + Duration::from_secs(20);
    while stats.jobs_cancelled.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the job was never cancelled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rendered = stats.utterances_rendered.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stats.utterances_rendered.load(Ordering::Relaxed),
        rendered,
        "work went on after the client left"
    );
    assert!(
        (rendered as usize) < utterances / 2,
        "{rendered} of {utterances} utterances rendered for a client that left after one"
    );
    assert_eq!(stats.jobs_completed.load(Ordering::Relaxed), 0);

    // The slot is free again.
    let chunks = synthesize(&mut worker.client, request("Next, please."))
        .await
        .unwrap();
    assert!(rms(&chunks[0].pcm) > 0.01);
}

#[tokio::test]
async fn calls_beyond_capacity_queue_and_all_complete() {
    let worker = spawn_worker(WorkerSettings::default()).await;
    let calls = (0..4).map(|i| {
        let mut client = worker.client.clone();
        tokio::spawn(async move {
            synthesize(
                &mut client,
                request(&format!("Caller number {i} is waiting patiently.")),
            )
            .await
        })
    });
    for call in calls.collect::<Vec<_>>() {
        let chunks = call.await.unwrap().expect("a queued call completes");
        assert!(chunks.last().unwrap().last);
        assert!(rms(&chunks[0].pcm) > 0.01);
    }
    assert_eq!(
        worker.engine.stats().jobs_completed.load(Ordering::Relaxed),
        4
    );
}

#[tokio::test]
async fn a_full_worker_answers_resource_exhausted_after_its_bounded_wait() {
    let worker = spawn_worker(WorkerSettings {
        queue_timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    // Long enough to hold the one slot for well over the 200 ms the others may wait.
    let text = "The first caller holds the only slot. It reads two sentences, then lets go.";
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let mut client = worker.client.clone();
            tokio::spawn(async move { synthesize(&mut client, request(text)).await })
        })
        .collect();
    let mut exhausted = 0;
    let mut completed = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(chunks) => {
                assert!(chunks.last().unwrap().last);
                completed += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(status.message().contains("busy"), "{}", status.message());
                exhausted += 1;
            }
        }
    }
    assert_eq!(completed, 1);
    assert_eq!(exhausted, 2);
}

#[tokio::test]
async fn shutdown_lets_running_calls_finish_within_the_grace_period() {
    let mut worker = spawn_worker(WorkerSettings::default()).await;
    let mut stream = worker
        .client
        .synthesize(request(
            "A sentence that is being read. And another one after it, to finish.",
        ))
        .await
        .unwrap()
        .into_inner();
    stream.message().await.unwrap().unwrap();
    worker.stop();
    let mut last = false;
    while let Some(chunk) = stream.message().await.unwrap() {
        last = chunk.last;
    }
    assert!(last, "the running call was cut short");
    tokio::time::timeout(Duration::from_secs(10), &mut worker.server)
        .await
        .expect("the server stops once its calls are done")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_cancels_what_outlasts_the_grace_period() {
    let mut worker = spawn_worker(WorkerSettings {
        shutdown_grace: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    let mut stream = worker
        .client
        .synthesize(request(&long_text()))
        .await
        .unwrap()
        .into_inner();
    stream.message().await.unwrap().unwrap();
    worker.stop();
    let outcome = loop {
        match stream.message().await {
            Ok(Some(chunk)) => assert!(!chunk.last, "a long call finished within 100 ms"),
            Ok(None) => break None,
            Err(status) => break Some(status),
        }
    };
    let status = outcome.expect("the client is told why its audio stopped");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    tokio::time::timeout(Duration::from_secs(10), &mut worker.server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}
