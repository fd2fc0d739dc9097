use reqwest::header;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn sign_up_sign_in_me_and_sign_out() {
    let app = spawn_app().await;
    let credentials = json!({"email": "Ada@Example.org", "password": "correct horse battery"});
    let response = app.post_json("/v1/auth/sign-up", None, &credentials).await;
    assert_eq!(response.status(), 201);
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "Ada@Example.org");

    // The same e-mail, in another case, is taken.
    let taken = json!({"email": "ada@example.org", "password": "another password"});
    let message = assert_error(
        app.post_json("/v1/auth/sign-up", None, &taken).await,
        409,
        "conflict",
    )
    .await;
    assert!(message.contains("already exists"), "{message}");

    let response = app.post_json("/v1/auth/sign-in", None, &credentials).await;
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();

    // Bearer header and cookie both work.
    let me: Value = app.get_json("/v1/me", Some(&token)).await;
    assert_eq!(me["user"]["email"], "Ada@Example.org");
    let by_cookie = app
        .client
        .get(app.url("/v1/me"))
        .header(header::COOKIE, format!("yapit_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), 200);

    let out = app
        .client
        .post(app.url("/v1/auth/sign-out"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_error(app.get("/v1/me", Some(&token)).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn wrong_password_missing_tampered_and_expired_tokens_are_401() {
    let app = spawn_app().await;
    let user = app.sign_up("grace@example.org").await;
    let wrong = json!({"email": "grace@example.org", "password": "not the password"});
    let message = assert_error(
        app.post_json("/v1/auth/sign-in", None, &wrong).await,
        401,
        "unauthorized",
    )
    .await;
    assert!(message.contains("wrong e-mail or password"));
    let nobody = json!({"email": "nobody@example.org", "password": "whatever123"});
    assert_error(
        app.post_json("/v1/auth/sign-in", None, &nobody).await,
        401,
        "unauthorized",
    )
    .await;

    let me: Value = app.get_json("/v1/me", Some(&user.token)).await;
    assert_eq!(me["user"]["id"].as_str(), Some(user.id.as_str()));
    assert_error(app.get("/v1/me", None).await, 401, "unauthorized").await;
    let mut tampered = user.token.clone();
    tampered.replace_range(0..1, if tampered.starts_with('a') { "b" } else { "a" });
    assert_error(
        app.get("/v1/me", Some(&tampered)).await,
        401,
        "unauthorized",
    )
    .await;

    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    let message = assert_error(
        app.get("/v1/me", Some(&user.token)).await,
        401,
        "unauthorized",
    )
    .await;
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test]
async fn bad_sign_up_input_is_400() {
    let app = spawn_app().await;
    for body in [
        json!({"email": "not-an-email", "password": "long enough"}),
        json!({"email": "a@example.org", "password": "short"}),
        json!({"email": "a@example.org"}),
        json!({"email": 42, "password": "long enough"}),
    ] {
        assert_error(
            app.post_json("/v1/auth/sign-up", None, &body).await,
            400,
            "bad_request",
        )
        .await;
    }
    let malformed = app
        .client
        .post(app.url("/v1/auth/sign-up"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, "bad_request").await;
    let invalid_utf8 = app
        .client
        .post(app.url("/v1/auth/sign-up"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(b"{\"email\": \"\xff\xfe@example.org\", \"password\": \"long enough\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_error(invalid_utf8, 400, "bad_request").await;
    assert_eq!(
        app.count("users").await,
        0,
        "a bad request left a user behind"
    );
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_account() {
    let app = spawn_app_with(&["--sign-in-per-minute", "3"]).await;
    app.sign_up("hopper@example.org").await;
    let wrong = json!({"email": "hopper@example.org", "password": "guess guess"});
    for _ in 0..3 {
        assert_error(
            app.post_json("/v1/auth/sign-in", None, &wrong).await,
            401,
            "unauthorized",
        )
        .await;
    }
    let response = app.post_json("/v1/auth/sign-in", None, &wrong).await;
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    assert_error(response, 429, "rate_limited").await;
}

#[tokio::test]
async fn single_user_mode_needs_no_sign_in() {
    let app = spawn_app_with(&["--auth-enabled", "false"]).await;
    let me: Value = app.get_json("/v1/me", None).await;
    assert_eq!(me["user"]["email"], "local@yapit.invalid");
    let response = app
        .post_json(
            "/v1/documents",
            None,
            &json!({"text": "Hello from the only user."}),
        )
        .await;
    assert_eq!(response.status(), 201);
}
