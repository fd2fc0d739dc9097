//! Floods against the real gateway binary, run as a child process so that its memory is its
//! own (the in-process test apps share one address space with every other test).

use std::{process::Stdio, time::Duration};

use futures_util::future::join_all;
use reqwest::header;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::helpers::{NO_WORKER, Shared};

/// The gateway binary on a free port; its address, once it says it listens.
pub struct Gateway {
    child: Child,
    pub address: String,
}

impl Gateway {
    pub async fn start(shared: &Shared, extra: &[&str]) -> Self {
        Self::start_with(shared, &[NO_WORKER], extra).await
    }

    /// The gateway binary with these workers.
    pub async fn start_with(shared: &Shared, workers: &[&str], extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["--addr", "127.0.0.1:0"])
            .args(shared.gateway_flags())
            .args(["--tts-workers", &workers.join(",")])
            .args(["--log-format", "json", "--worker-probe-ms", "300"])
            .args(extra)
            .env("RUST_LOG", "warn,gateway::startup=info")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the gateway binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if event["fields"]["message"] == "gateway listening" {
                    return event["fields"]["addr"].as_str().unwrap().to_string();
                }
            }
            panic!("the gateway exited before it listened");
        })
        .await
        .expect("the gateway listens within a minute");
        // Keep reading its log so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            address: format!("http://{address}"),
        }
    }

    /// Kills the process with SIGKILL: no socket is closed, no claim released, no lease ended.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("the gateway can be killed");
    }

    /// Sends `signal` (`TERM`, `INT`…) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the gateway is running");
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} {pid} failed");
    }

    /// Waits for the process to exit; true when it exited successfully.
    pub async fn exited_cleanly(&mut self) -> bool {
        self.child
            .wait()
            .await
            .expect("the gateway exits")
            .success()
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!(
            "{}/v1/ws/tts?token={token}",
            self.address.replacen("http://", "ws://", 1)
        )
    }

    /// POST JSON with a bearer token; the response body, after checking its status.
    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Value {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", self.address))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the gateway answers");
        assert!(
            response.status().is_success(),
            "POST {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Peak and current resident memory of the gateway process, in MiB.
    pub fn memory_mib(&self) -> (u64, u64) {
        let pid = self.child.id().expect("the gateway is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
                / 1024
        };
        (field("VmHWM:"), field("VmRSS:"))
    }
}

#[tokio::test]
async fn two_hundred_concurrent_sign_ups_keep_the_gateway_small() {
    let shared = Shared::fresh().await;
    let gateway = Gateway::start(&shared, &["--sign-up-per-hour", "100000"]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/auth/sign-up", gateway.address);
    let (peak_before, _) = gateway.memory_mib();

    let answers = join_all((0..200).map(|i| {
        let request = client.post(&url).json(
            &json!({"email": format!("flood{i}@example.org"), "password": "correct horse battery"}),
        );
        async move {
            let response = request.send().await.expect("the gateway answers");
            let retry_after = response.headers().contains_key(header::RETRY_AFTER);
            (response.status().as_u16(), retry_after)
        }
    }))
    .await;
    let (peak, now) = gateway.memory_mib();
    eprintln!(
        "gateway memory: peak {peak_before} MiB before the flood, peak {peak} MiB during it, {now} MiB after"
    );

    let created = answers.iter().filter(|(status, _)| *status == 201).count();
    let busy = answers.iter().filter(|(status, _)| *status == 503).count();
    eprintln!("{created} signed up, {busy} told to come back (503)");
    assert!(created > 0, "no sign-up went through: {answers:?}");
    assert_eq!(
        created + busy,
        200,
        "every sign-up is either created or told to come back: {answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|(status, retry)| *status != 503 || *retry),
        "a 503 without Retry-After: {answers:?}"
    );
    assert!(
        peak < 300,
        "200 concurrent sign-ups took the gateway to {peak} MiB"
    );

    // Every 201 is one user, no refused sign-up left a row, and the gateway still signs up.
    let pool = sqlx::PgPool::connect(&shared.database_url).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, created as i64);
    let after = client
        .post(&url)
        .json(&json!({"email": "after@example.org", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 201);
}
