//! Waiting in the queue: the synthesis timeout counts the synthesis, not the wait, and a
//! listener hears its place in the queue.

use std::time::Duration;

use crate::{
    helpers::{Shared, spawn_gateway},
    listener::Listener,
    workers::{Fault, fake_worker, fake_worker_on},
};

const FIVE: &str = "Block one is here.\n\nBlock two is here.\n\nBlock three is here.\n\n\
Block four is here.\n\nBlock five is here.\n";

#[tokio::test]
async fn a_backlog_is_waited_out_and_the_listener_hears_its_place() {
    // One replica that takes 3 s a block; the timeout is 4 s. Four blocks ahead of the last
    // listener make it wait about 12 s, which is no fault of the synthesis.
    let worker = fake_worker(Fault::Slow(Duration::from_secs(3))).await;
    let app = spawn_gateway(
        Shared::fresh().await,
        &[worker.url.as_str()],
        &["--synthesis-timeout-secs", "4"],
    )
    .await;
    let user = app.sign_up("backlog@example.com").await;
    let id = app.create_text(&user, FIVE).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Each listener stands at its own block, so every block is someone's next one (tier 0) and
    // they go in the order they were asked for.
    let mut listeners = Vec::new();
    for idx in [0, 1, 2, 3] {
        let mut listener = Listener::connect(&app, &user.token).await;
        listener.synthesize(&id, &[idx], idx).await;
        listener.next().await; // queued or processing: the request is in
        listeners.push((idx, listener));
    }
    for (idx, listener) in &mut listeners {
        let (finals, _) = listener.finals(&[*idx]).await;
        assert_eq!(finals[idx]["status"], "cached", "{}", finals[idx]);
    }
}

#[tokio::test]
async fn a_queued_listener_is_told_how_many_go_first() {
    let worker = fake_worker(Fault::Slow(Duration::from_secs(3))).await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("place@example.com").await;
    let id = app.create_text(&user, FIVE).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut others = Vec::new();
    for idx in [0, 1, 2] {
        let mut listener = Listener::connect(&app, &user.token).await;
        listener.synthesize(&id, &[idx], idx).await;
        listener.next().await;
        others.push(listener);
    }
    let mut last = Listener::connect(&app, &user.token).await;
    last.synthesize(&id, &[4], 4).await;
    let (finals, seen) = last.finals(&[4]).await;
    assert_eq!(finals[&4]["status"], "cached", "{}", finals[&4]);
    let places: Vec<u64> = seen
        .iter()
        .filter(|m| m["status"] == "queued")
        .filter_map(|m| m["ahead"].as_u64())
        .collect();
    assert!(
        places.first().is_some_and(|first| *first >= 2),
        "two blocks were queued before this one: {seen:?}"
    );
    assert!(
        places.windows(2).all(|w| w[1] < w[0]),
        "the place only moves forward, and is told when it changes: {places:?}"
    );
}

#[tokio::test]
async fn when_every_worker_is_gone_a_queued_listener_hears_it_is_waiting_for_one() {
    let mut worker = fake_worker(Fault::Slow(Duration::from_secs(600))).await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("gone@example.com").await;
    let id = app.create_text(&user, FIVE).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first = Listener::connect(&app, &user.token).await;
    first.synthesize(&id, &[0], 0).await;
    first.next().await;
    let mut second = Listener::connect(&app, &user.token).await;
    second.synthesize(&id, &[1], 1).await;
    assert_eq!(second.next().await["status"], "queued");

    worker.kill();
    let heard = loop {
        let message = second
            .next_within(Duration::from_secs(15))
            .await
            .expect("the listener hears about the missing worker, not silence");
        assert_ne!(message["status"], "error", "{message}");
        if message["waiting_for_worker"] == true {
            break message;
        }
    };
    assert_eq!(heard["status"], "queued", "{heard}");
    assert_eq!(heard["block_idx"], 1);
}

#[tokio::test]
async fn a_socket_and_a_user_can_only_hold_so_many_blocks_in_the_queue() {
    let worker = fake_worker(Fault::Slow(Duration::from_secs(600))).await;
    let app = spawn_gateway(
        Shared::fresh().await,
        &[worker.url.as_str()],
        &["--ws-max-queued", "2", "--max-queued-per-user", "3"],
    )
    .await;
    let user = app.sign_up("greedy@example.com").await;
    let id = app.create_text(&user, FIVE).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first = Listener::connect(&app, &user.token).await;
    first.synthesize(&id, &[0, 1, 2], 0).await;
    let mut refusal = None;
    for _ in 0..10 {
        let message = first.next().await;
        if message["type"] == "error" {
            refusal = Some(message);
            break;
        }
    }
    let refusal = refusal.expect("the third block is refused");
    let text = refusal["error"].as_str().unwrap();
    assert!(
        text.contains("this connection already waits for 2 blocks"),
        "{text}"
    );

    // A second socket of the same user gets one more, then the user's cap holds.
    let mut second = Listener::connect(&app, &user.token).await;
    second.synthesize(&id, &[3, 4], 3).await;
    let mut answered = std::collections::BTreeSet::new();
    let refusal = loop {
        let message = second.next().await;
        if message["type"] == "error" {
            break message;
        }
        answered.insert(message["block_idx"].as_i64().unwrap());
    };
    assert_eq!(
        answered.into_iter().collect::<Vec<_>>(),
        [3],
        "one block fits under the user's cap of 3"
    );
    let text = refusal["error"].as_str().unwrap();
    assert!(
        text.contains("your connections already wait for 3 blocks"),
        "{text}"
    );

    // Another user is not affected.
    let other = app.sign_up("modest@example.com").await;
    let theirs = app.create_text(&other, FIVE).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut modest = Listener::connect(&app, &other.token).await;
    modest.synthesize(&theirs, &[0], 0).await;
    assert_eq!(modest.next().await["type"], "status");
}

/// A job whose only worker dies under it waits in the queue for a worker to come back, instead
/// of failing its listener, and its lost take is not counted against it.
#[tokio::test]
async fn a_job_cut_off_by_the_last_worker_waits_for_one_to_come_back() {
    let mut crashing = fake_worker(Fault::CrashMidStream).await;
    let port: u16 = crashing.url.rsplit(':').next().unwrap().parse().unwrap();
    // Probes far apart, so that the replica the crash marked down stays down for the gateway.
    let app = spawn_gateway(
        Shared::fresh().await,
        &[crashing.url.as_str()],
        &["--worker-probe-ms", "5000"],
    )
    .await;
    let user = app.sign_up("comeback@example.com").await;
    let id = app.create_text(&user, FIVE).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut listener = Listener::connect(&app, &user.token).await;
    listener.synthesize(&id, &[0], 0).await;
    crate::helpers::wait_until("the worker is called", Duration::from_secs(10), || async {
        crashing.calls() > 0
    })
    .await;
    crashing.kill();
    drop(crashing);
    // Queued again, not failed; then a worker comes back where the old one was.
    let mut seen = Vec::new();
    loop {
        let message = listener.next().await;
        assert_ne!(message["status"], "error", "{message}");
        seen.push(message.clone());
        let requeued =
            message["status"] == "queued" && seen.iter().any(|m| m["status"] == "processing");
        if requeued {
            break;
        }
    }
    let back = fake_worker_on(port, Fault::None).await;
    let (finals, _) = listener.finals(&[0]).await;
    assert_eq!(finals[&0]["status"], "cached", "{}", finals[&0]);
    assert_eq!(back.calls(), 1, "the returning worker did the job");
}

#[tokio::test]
async fn a_user_with_many_sockets_does_not_push_back_another_users_first_block() {
    let worker = fake_worker(Fault::Slow(Duration::from_secs(1))).await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let greedy = app.sign_up("many-sockets@example.com").await;
    let id = app.create_text(&greedy, FIVE).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut sockets = Vec::new();
    for idx in 0..4 {
        let mut socket = Listener::connect(&app, &greedy.token).await;
        socket.synthesize(&id, &[idx], idx).await;
        socket.next().await;
        sockets.push(socket);
    }
    let modest = app.sign_up("one-socket@example.com").await;
    let theirs = app
        .create_text(&modest, "The other reader starts here.")
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut listener = Listener::connect(&app, &modest.token).await;
    listener.synthesize(&theirs, &[0], 0).await;
    let (finals, _) = listener.finals(&[0]).await;
    assert_eq!(finals[&0]["status"], "cached", "{}", finals[&0]);
    let order = worker.texts();
    let position = order
        .iter()
        .position(|t| t.contains("other reader"))
        .expect("the other user's block was synthesized");
    assert!(
        position <= 1,
        "the other user's first block waited behind the first user's extra sockets: {order:?}"
    );
}
