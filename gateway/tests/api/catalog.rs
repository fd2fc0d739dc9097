use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn models_and_voices_come_from_the_seeded_catalogue() {
    let app = spawn_app().await;
    let body: Value = app.get_json("/v1/models", None).await;
    let models = body["models"].as_array().unwrap();
    let kokoro = models
        .iter()
        .find(|m| m["slug"] == "kokoro")
        .expect("kokoro is seeded");
    assert_eq!(kokoro["sample_rate"], 24000);
    assert_eq!(kokoro["default_voice"], "af_heart");
    let voices = kokoro["voices"].as_array().unwrap();
    assert_eq!(voices.len(), 54);
    let heart = voices.iter().find(|v| v["slug"] == "af_heart").unwrap();
    assert_eq!(heart["name"], "Heart");
    assert_eq!(heart["lang"], "en-US");
    assert!(voices.iter().any(|v| v["slug"] == "jf_alpha"));
    assert!(models.iter().any(|m| m["slug"] == "higgs"));
}

#[tokio::test]
async fn health_and_version_tell_operators_what_runs() {
    let app = spawn_app().await;
    let health = app.health().await;
    assert_eq!(health["checks"]["postgres"], "ok");
    assert!(health["workers"].is_array(), "{health}");

    // The public sees whether it works, not what runs where.
    for token in [None, Some("a guess")] {
        let public = app.get("/api/health", token).await;
        assert_eq!(public.status(), 200);
        let public: Value = public.json().await.unwrap();
        assert_eq!(
            public,
            json!({"status": "degraded"}),
            "no worker runs in this test"
        );
    }
    assert_eq!(health["models"]["kokoro"]["default_voice"], "af_heart");

    let version: Value = app.get_json("/api/version", None).await;
    let commit = version["commit"].as_str().unwrap();
    let expected = std::env::var("GIT_COMMIT").ok().or_else(|| {
        std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    });
    if let Some(expected) = expected {
        assert_eq!(commit, expected);
    }
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert!(version["built_at"].as_str().unwrap().starts_with("20"));
}

#[tokio::test]
async fn the_root_url_shows_a_page_naming_the_commit() {
    let app = spawn_app().await;
    let page = app.get("/", None).await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("yapit") && html.contains(gateway::health::COMMIT),
        "{html}"
    );
}

#[tokio::test]
async fn unknown_routes_wrong_methods_bad_queries_and_missing_assets_answer_json() {
    let app = spawn_app().await;
    assert_error(app.get("/v1/nothing-here", None).await, 404, "not_found").await;
    let missing = app.get("/assets/index-missing.js", None).await;
    assert!(
        missing
            .headers()
            .get("cache-control")
            .is_none_or(|v| !v.to_str().unwrap().contains("immutable")),
        "a missing asset must not be cached for a year"
    );
    assert_error(missing, 404, "not_found").await;
    let wrong_method = app
        .client
        .delete(app.url("/v1/models"))
        .send()
        .await
        .unwrap();
    assert_error(wrong_method, 405, "method_not_allowed").await;
    let user = app.sign_up("query@example.org").await;
    let message = assert_error(
        app.get("/v1/documents?limit=many", Some(&user.token)).await,
        400,
        "bad_request",
    )
    .await;
    assert!(message.contains("limit"), "{message}");
}
