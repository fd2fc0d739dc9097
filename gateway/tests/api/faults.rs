//! Faults: workers dying or stuck, Redis restarting, a gateway dying with jobs in the queue.

use std::time::Duration;

use serde_json::json;

use crate::{
    flood,
    helpers::{Shared, spawn_gateway, wait_until},
    listener::{Listener, reading},
    synthesis::{STORY, check_audio},
    workers::{Fault, VOICE, fake_worker, real_worker},
};

const LONG: &str = "The lighthouse keeper climbed the narrow stairs every evening, counting \
the steps out loud, and when he reached the lamp he wiped the glass, trimmed the wick, and \
looked out over the grey water for the ships that were late coming home.";

#[tokio::test]
async fn a_worker_killed_mid_job_hands_it_to_the_other_replica() {
    let mut first = real_worker().await;
    let mut second = real_worker().await;
    let app = spawn_gateway(
        Shared::fresh().await,
        &[first.url.as_str(), second.url.as_str()],
        &[],
    )
    .await;
    let (_, id, mut listener) = reading(&app, "kill@example.com", LONG).await;
    listener.synthesize(&id, &[0], 0).await;
    // Kill whichever replica took the job, while it runs.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let killed_first = loop {
        if first.jobs() > 0 {
            first.kill();
            break true;
        }
        if second.jobs() > 0 {
            second.kill();
            break false;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no worker took the job"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let (finals, _) = listener.finals(&[0]).await;
    assert_eq!(finals[&0]["status"], "cached", "{}", finals[&0]);
    check_audio(&app, &finals[&0]).await;
    let survivor = if killed_first { &second } else { &first };
    assert_eq!(survivor.jobs(), 1, "the surviving replica did the job");
    let killed = if killed_first { &first } else { &second };
    let cancelled = killed
        .engine
        .stats()
        .jobs_cancelled
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        cancelled, 1,
        "the killed replica's job was cut off, not finished"
    );
}

#[tokio::test]
async fn a_stream_cut_off_mid_job_is_retried_on_another_replica() {
    let crashing = fake_worker(Fault::CrashMidStream).await;
    let healthy = fake_worker(Fault::None).await;
    let app = spawn_gateway(
        Shared::fresh().await,
        &[crashing.url.as_str(), healthy.url.as_str()],
        &[],
    )
    .await;
    let (_, id, mut listener) = reading(&app, "crash-stream@example.com", STORY).await;
    listener.synthesize(&id, &[1], 1).await;
    let (finals, _) = listener.finals(&[1]).await;
    assert_eq!(finals[&1]["status"], "cached", "{}", finals[&1]);
    assert_eq!(
        (crashing.calls(), healthy.calls()),
        (1, 1),
        "tried once each, in that order"
    );
    // Only the complete audio of the healthy replica is kept: 0.1 s, not 0.1 s plus a torn piece.
    assert_eq!(finals[&1]["duration_ms"], 100);
}

#[tokio::test]
async fn a_stuck_worker_gives_listeners_an_error_within_the_timeout() {
    let stuck = fake_worker(Fault::Slow(Duration::from_secs(600))).await;
    let app = spawn_gateway(
        Shared::fresh().await,
        &[stuck.url.as_str()],
        &[
            "--worker-call-timeout-secs",
            "1",
            "--worker-call-ms-per-char",
            "0",
            "--job-max-attempts",
            "2",
        ],
    )
    .await;
    let (_, id, mut listener) = reading(&app, "stuck@example.com", STORY).await;
    let started = tokio::time::Instant::now();
    listener.synthesize(&id, &[1], 1).await;
    let (finals, _) = listener.finals(&[1]).await;
    assert_eq!(finals[&1]["status"], "error", "{}", finals[&1]);
    assert!(
        finals[&1]["error"]
            .as_str()
            .unwrap()
            .contains("synthesis failed"),
        "{}",
        finals[&1]
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the error came in time"
    );
    assert_eq!(stuck.calls(), 2, "tried the configured number of times");
    let dead = app.state.synthesis.dead_letters("kokoro").await.unwrap();
    assert_eq!(dead.len(), 1, "the job is dead-lettered: {dead:?}");
}

#[tokio::test]
async fn with_every_worker_down_listeners_hear_so_at_once_or_within_the_timeout() {
    let mut worker = fake_worker(Fault::Slow(Duration::from_secs(600))).await;
    let app = spawn_gateway(
        Shared::fresh().await,
        &[worker.url.as_str()],
        &["--synthesis-timeout-secs", "2"],
    )
    .await;
    let (_, id, mut listener) = reading(&app, "down@example.com", STORY).await;

    // A listener waiting on a worker that never answers is told when its timeout passes.
    listener.synthesize(&id, &[1], 1).await;
    let (finals, _) = listener.finals(&[1]).await;
    assert_eq!(finals[&1]["status"], "error");
    assert!(
        finals[&1]["error"].as_str().unwrap().contains("within 2 s"),
        "{}",
        finals[&1]
    );

    // Once no worker is up, a request is refused at once, naming the problem.
    worker.kill();
    wait_until(
        "the probe notices the worker is gone",
        Duration::from_secs(10),
        || async { !app.state.synthesis.serves("kokoro", VOICE) },
    )
    .await;
    listener.synthesize(&id, &[3], 3).await;
    let reply = listener
        .next_within(Duration::from_secs(2))
        .await
        .expect("an immediate answer");
    assert_eq!(reply["type"], "error");
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("not served by any running worker"),
        "{reply}"
    );
    assert_eq!(app.model("kokoro").await["available"], false);
}

/// A Redis of its own, so restarting it disturbs no other test.
pub struct PrivateRedis {
    child: tokio::process::Child,
}

impl PrivateRedis {
    pub async fn start(port: u16) -> Self {
        let child = tokio::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (make setup)");
        let redis = Self { child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on {port}");
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn after_a_redis_restart_the_gateway_reconnects_and_cold_audio_still_plays() {
    let worker = real_worker().await;
    let port = free_port();
    let redis = PrivateRedis::start(port).await;
    let shared = Shared {
        redis_url: format!("redis://127.0.0.1:{port}"),
        ..Shared::fresh().await
    };
    let app = spawn_gateway(shared, &[worker.url.as_str()], &[]).await;
    let (user, id, mut listener) = reading(&app, "restart@example.com", STORY).await;
    listener.synthesize(&id, &[1], 1).await;
    let (before, _) = listener.finals(&[1]).await;
    assert_eq!(before[&1]["status"], "cached");

    // Redis goes away and comes back empty.
    redis.stop().await;
    let health = app.get("/api/health", None).await;
    assert_eq!(health.status(), 503, "health reports redis down");
    let _redis = PrivateRedis::start(port).await;

    // The audio made before still plays, from the cold store.
    check_audio(&app, &before[&1]).await;
    // New requests work once the gateway has reconnected.
    wait_until(
        "the gateway reconnects to redis",
        Duration::from_secs(30),
        || async { app.get("/api/health", None).await.status() == 200 },
    )
    .await;
    let mut fresh = Listener::connect(&app, &user.token).await;
    fresh.synthesize(&id, &[1, 3], 1).await;
    let (after, _) = fresh.finals(&[1, 3]).await;
    assert_eq!(after[&1]["status"], "cached", "{}", after[&1]);
    assert_eq!(after[&3]["status"], "cached", "{}", after[&3]);
    check_audio(&app, &after[&3]).await;
    assert_eq!(
        worker.jobs(),
        2,
        "block 1 came from the cold store, block 3 was synthesized"
    );
}

#[tokio::test]
async fn a_stopping_gateway_drops_only_what_its_listeners_queued_and_a_reconnect_gets_it_all() {
    let worker = real_worker().await;
    let lease = ["--job-lease-ms", "1500"];
    let first = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &lease).await;
    let user = first.sign_up("crash@example.com").await;
    let id = first.create_text(&user, STORY).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let speakable = [0, 1, 3, 5, 6, 7];
    let mut listener = Listener::connect(&first, &user.token).await;
    listener.synthesize(&id, &speakable, 0).await;
    loop {
        let message = listener.next().await;
        if message["status"] == "processing" {
            break;
        }
    }
    first.kill();
    let (code, _) = listener.closed().await;
    assert_eq!(code, 1012, "told to reconnect");

    // Its claims went with it: the queued blocks nobody else wants leave the queue, so a
    // listener who never comes back is not synthesized for. Only the block a worker was
    // rendering is finished (its cut-off run and the redo after its lease ran out: two starts).
    let second = spawn_gateway(first.shared.clone(), &[worker.url.as_str()], &lease).await;
    wait_until("the queue drains", Duration::from_secs(120), || async {
        second.state.synthesis.depth("kokoro").await.unwrap() == (0, 0)
    })
    .await;
    assert!(
        worker.jobs() <= 2,
        "{} syntheses started for a listener who left",
        worker.jobs()
    );

    // A player that reconnects asks again and gets every block, nothing lost.
    let mut again = Listener::connect(&second, &user.token).await;
    again.synthesize(&id, &speakable, 0).await;
    let (finals, _) = again.finals(&speakable).await;
    for idx in speakable {
        assert_eq!(finals[&idx]["status"], "cached", "{}", finals[&idx]);
    }
}

/// A job whose audio a previous run already wrote to the cold store (its gateway lost Redis
/// before it could record the completion, so the job came back) is finished from there: no
/// second synthesis, no second bill.
#[tokio::test]
async fn a_job_already_in_the_cold_store_is_not_rendered_or_billed_again() {
    let worker = fake_worker(Fault::None).await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("twice@example.com").await;
    let synthesis = &app.state.synthesis;
    let text = "Rendered once, before the gateway lost Redis.";
    let mut target = None;
    wait_until(
        "the fake worker's model version is known",
        Duration::from_secs(10),
        || {
            target = synthesis.target(text, "kokoro", VOICE, 1.0);
            let known = target.is_some();
            async move { known }
        },
    )
    .await;
    let target = target.unwrap();
    let wav = gateway::synthesis::wav::from_pcm(&[0u8; 4800], target.sample_rate);
    synthesis
        .store()
        .cold()
        .put(&target.hash, &wav)
        .await
        .unwrap();
    let spec = gateway::synthesis::JobSpec {
        hash: target.hash.clone(),
        model: "kokoro".into(),
        voice: VOICE.into(),
        speed: 1.0,
        text: text.into(),
        user_id: user.id.clone(),
    };
    let listener = synthesis.subscribe();
    synthesis
        .want(&spec, &target, 0.0, &listener)
        .await
        .unwrap();
    wait_until("the job finishes", Duration::from_secs(20), || async {
        synthesis.depth("kokoro").await.unwrap() == (0, 0)
    })
    .await;
    assert_eq!(worker.calls(), 0, "the worker was asked to render it again");
    assert_eq!(
        app.count("usage_daily").await,
        0,
        "the user was billed again"
    );
    assert!(synthesis.dead_letters("kokoro").await.unwrap().is_empty());
}

/// A gateway killed with SIGKILL releases nothing: its sockets are not closed, its listeners'
/// claims on queued jobs are not given back. Its lease in Redis runs out instead, and the
/// surviving gateway drops the jobs only the dead one's listeners wanted: the worker is not
/// asked for them and the user is not billed.
#[tokio::test]
async fn a_gateway_killed_with_sigkill_leaves_no_claims_behind() {
    let shared = Shared::fresh().await;
    let worker = fake_worker(Fault::Slow(Duration::from_secs(3))).await;
    let short = ["--job-lease-ms", "1500", "--gateway-lease-ms", "1500"];
    let mut doomed = flood::Gateway::start_with(&shared, &[worker.url.as_str()], &short).await;
    let _listener = listener_with_queued_blocks(&doomed, "sigkill@example.com", 8).await;
    doomed.kill().await;

    // The dead gateway's lease runs out (nothing renews it); only then does a live gateway
    // look at the queue, so that nothing can have been dropped for another reason.
    let redis = redis::Client::open(shared.redis_url.clone()).unwrap();
    let mut redis = redis.get_multiplexed_async_connection().await.unwrap();
    let leases = format!("{}gateway:*", shared.prefix);
    wait_until(
        "the killed gateway's lease runs out",
        Duration::from_secs(30),
        || {
            let mut redis = redis.clone();
            let leases = leases.clone();
            async move {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(leases)
                    .query_async(&mut redis)
                    .await
                    .unwrap();
                keys.is_empty()
            }
        },
    )
    .await;
    let jobs: usize = redis::cmd("KEYS")
        .arg(format!("{}job:*", shared.prefix))
        .query_async::<Vec<String>>(&mut redis)
        .await
        .unwrap()
        .len();
    assert_eq!(jobs, 8, "the killed gateway's jobs are still there");
    let survivor = spawn_gateway(shared, &[worker.url.as_str()], &short).await;
    wait_until("the queue drains", Duration::from_secs(60), || async {
        survivor.state.synthesis.depth("kokoro").await.unwrap() == (0, 0)
    })
    .await;

    assert_eq!(
        worker.calls(),
        1,
        "the worker was asked for blocks nobody listens to: {:?}",
        worker.texts()
    );
    assert!(
        worker.finished().is_empty(),
        "a block nobody listens to was rendered"
    );
    assert_eq!(
        survivor.count("usage_daily").await,
        0,
        "the user was billed"
    );
    assert!(
        survivor
            .state
            .synthesis
            .dead_letters("kokoro")
            .await
            .unwrap()
            .is_empty(),
        "abandoned jobs are dropped, not failed"
    );
}

/// A worker call's time limit grows with its text: with 1 s plus 30 ms per character, a
/// worker that takes 2 s is too slow for a short sentence and in time for a long passage.
#[tokio::test]
async fn the_worker_call_timeout_grows_with_the_text() {
    let worker = fake_worker(Fault::Slow(Duration::from_secs(2))).await;
    let app = spawn_gateway(
        Shared::fresh().await,
        &[worker.url.as_str()],
        &[
            "--worker-call-timeout-secs",
            "1",
            "--worker-call-ms-per-char",
            "30",
            "--job-max-attempts",
            "1",
        ],
    )
    .await;
    let long = "This passage is long enough that its worker call may take a good deal longer \
                than the call for a short sentence does.";
    let (_, id, mut listener) = reading(
        &app,
        "scale@example.com",
        &format!("Too short.\n\n{long}\n"),
    )
    .await;
    listener.synthesize(&id, &[0, 1], 0).await;
    let (finals, _) = listener.finals(&[0, 1]).await;
    assert_eq!(finals[&0]["status"], "error", "{}", finals[&0]);
    assert!(
        finals[&0]["error"]
            .as_str()
            .unwrap()
            .contains("took longer than 1 s"),
        "{}",
        finals[&0]
    );
    assert_eq!(finals[&1]["status"], "cached", "{}", finals[&1]);
    assert_eq!(worker.calls(), 2);
}

/// A speech client that hangs up while its text is being rendered takes its claim with it: a
/// failed call is not tried again for nobody (before, all three attempts ran).
#[tokio::test]
async fn a_client_that_hangs_up_stops_the_retries() {
    let worker = fake_worker(Fault::FailAfter(Duration::from_millis(1500))).await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("gone@example.com").await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let answer = impatient
        .post(app.url("/v1/audio/speech"))
        .bearer_auth(&user.token)
        .json(&json!({"model": "kokoro", "input": "Nobody waits for this.", "voice": VOICE}))
        .send()
        .await;
    assert!(
        answer.is_err(),
        "the client gave up before the worker answered"
    );
    assert_eq!(worker.calls(), 1, "the worker has the job");
    wait_until("the job is gone", Duration::from_secs(30), || async {
        app.state.synthesis.depth("kokoro").await.unwrap() == (0, 0)
    })
    .await;
    // The dispatcher may still be between its tries when the job leaves the set of held jobs;
    // give a retry every chance to happen before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(worker.calls(), 1, "tried again for a client that is gone");
    assert!(
        app.state
            .synthesis
            .dead_letters("kokoro")
            .await
            .unwrap()
            .is_empty(),
        "a job nobody wants is dropped, not failed"
    );
}

/// The gateway binary on SIGTERM says goodbye to its sockets (1012: reconnect) before it exits,
/// and they release their claims: the queued blocks nobody else wants leave the queue at once.
/// (Before, the process exited as soon as its HTTP requests were done, resetting the sockets.)
#[tokio::test]
async fn the_gateway_binary_on_sigterm_closes_its_sockets_and_releases_their_claims() {
    let shared = Shared::fresh().await;
    let worker = fake_worker(Fault::Slow(Duration::from_secs(3))).await;
    let mut gateway = flood::Gateway::start_with(&shared, &[worker.url.as_str()], &[]).await;
    let mut listener = listener_with_queued_blocks(&gateway, "sigterm@example.com", 4).await;
    gateway.signal("TERM");
    let (code, _) = listener.closed().await;
    assert_eq!(code, 1012, "told to reconnect");
    assert!(gateway.exited_cleanly().await);
    let redis = redis::Client::open(shared.redis_url.clone()).unwrap();
    let mut redis = redis.get_multiplexed_async_connection().await.unwrap();
    let queue: u64 = redis::cmd("ZCARD")
        .arg(format!("{}queue:kokoro", shared.prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(queue, 0, "the queued blocks were released");
}

/// A user signed up on `gateway` with a document of `blocks` one-sentence paragraphs, and their
/// listener on that gateway, which has asked for every block: returned once the worker has the
/// first block and the others wait in the queue.
async fn listener_with_queued_blocks(
    gateway: &flood::Gateway,
    email: &str,
    blocks: i64,
) -> Listener {
    let signed_up = gateway
        .post_json(
            "/v1/auth/sign-up",
            None,
            &json!({"email": email, "password": "correct horse battery"}),
        )
        .await;
    let token = signed_up["token"].as_str().unwrap();
    let text: String = (0..blocks)
        .map(|i| format!("Sentence {i} of {email} waits in the queue.\n\n"))
        .collect();
    let document = gateway
        .post_json("/v1/documents", Some(token), &json!({ "text": text }))
        .await;
    let mut listener = Listener::connect_to(&gateway.ws_url(token)).await;
    let all: Vec<i64> = (0..blocks).collect();
    listener
        .synthesize(document["id"].as_str().unwrap(), &all, 0)
        .await;
    let mut queued = std::collections::BTreeSet::new();
    let mut processing = false;
    while !processing || (queued.len() as i64) < blocks - 1 {
        let message = listener.next().await;
        match message["status"].as_str() {
            Some("processing") => processing = true,
            Some("queued") if message["block_idx"] != 0 => {
                queued.insert(message["block_idx"].as_i64());
            }
            _ => {}
        }
    }
    listener
}
