use reqwest::{Response, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app, spawn_app_with};

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
    assert_eq!(body["user"]["email"], "ada@example.org");

    // The same e-mail, in another case, is taken.
    let taken = json!({"email": "ada@example.org", "password": "another password"});
    let message = assert_error(
        app.post_json("/v1/auth/sign-up", None, &taken).await,
        409,
        "conflict",
    )
    .await;
    assert!(message.contains("already has an account"), "{message}");

    let response = app.post_json("/v1/auth/sign-in", None, &credentials).await;
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();

    // Bearer header and cookie both work.
    let me: Value = app.get_json("/v1/me", Some(&token)).await;
    assert_eq!(me["user"]["email"], "ada@example.org");
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

#[tokio::test]
async fn sign_up_is_rate_limited_per_address() {
    let app = spawn_app_with(&["--sign-up-per-hour", "2"]).await;
    app.sign_up("one@example.org").await;
    app.sign_up("two@example.org").await;
    let third = json!({"email": "three@example.org", "password": "correct horse battery"});
    let response = app.post_json("/v1/auth/sign-up", None, &third).await;
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    assert_error(response, 429, "rate_limited").await;
    assert_eq!(app.count("users").await, 2);
}

#[tokio::test]
async fn an_unknown_email_costs_sign_in_the_same_work_as_a_wrong_password() {
    let app = spawn_app().await;
    app.sign_up("lovelace@example.org").await;
    for email in ["lovelace@example.org", "nobody@example.org"] {
        let before = app.state.passwords.computed();
        let attempt = json!({"email": email, "password": "not the password"});
        assert_error(
            app.post_json("/v1/auth/sign-in", None, &attempt).await,
            401,
            "unauthorized",
        )
        .await;
        assert_eq!(
            app.state.passwords.computed(),
            before + 1,
            "signing in as {email} did not verify one password hash"
        );
    }
}

/// A sign-in from a client behind the trusted proxy at 127.0.0.1.
async fn sign_in_from(app: &TestApp, client: &str, email: &str, password: &str) -> Response {
    app.client
        .post(app.url("/v1/auth/sign-in"))
        .header("x-forwarded-for", client)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_email_is_one_account_however_it_is_spaced_or_cased() {
    let app = spawn_app_with(&[
        "--sign-in-per-minute",
        "4",
        "--trusted-proxies",
        "127.0.0.1/32",
    ])
    .await;
    let spaced = json!({"email": " Victim@Example.org\u{a0}", "password": "correct horse battery"});
    let response = app.post_json("/v1/auth/sign-up", None, &spaced).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "victim@example.org");
    let again =
        json!({"email": "\u{2003}VICTIM@example.org\u{200b}", "password": "another password"});
    assert_error(
        app.post_json("/v1/auth/sign-up", None, &again).await,
        409,
        "conflict",
    )
    .await;
    let signed_in = sign_in_from(
        &app,
        "203.0.113.1",
        "\tvictim@EXAMPLE.org ",
        "correct horse battery",
    )
    .await;
    assert_eq!(signed_in.status(), 200);

    // With the sign-in above, three wrong guesses, each from another address, use up the
    // account's limit of four; a space or
    // a capital letter is the same account, so the right password is refused for now too.
    for (i, email) in [
        "victim@example.org",
        " victim@example.org",
        "Victim@example.org",
    ]
    .iter()
    .enumerate()
    {
        let response =
            sign_in_from(&app, &format!("203.0.113.{}", 10 + i), email, "guess guess").await;
        assert_error(response, 401, "unauthorized").await;
    }
    for email in [
        "victim@example.org",
        " victim@example.org",
        "VICTIM@example.org\u{3000}",
    ] {
        let response = sign_in_from(&app, "203.0.113.99", email, "correct horse battery").await;
        assert_error(response, 429, "rate_limited").await;
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    let proxied = spawn_app_with(&[
        "--sign-in-per-minute",
        "2",
        "--trusted-proxies",
        "127.0.0.1/32",
    ])
    .await;
    for i in 0..2 {
        let response = sign_in_from(
            &proxied,
            "198.51.100.1, 203.0.113.1",
            &format!("a{i}@example.org"),
            "guess guess",
        )
        .await;
        assert_error(response, 401, "unauthorized").await;
    }
    let response = sign_in_from(&proxied, "203.0.113.1", "a2@example.org", "guess guess").await;
    assert_error(response, 429, "rate_limited").await;
    // Another client behind the same proxy is not limited by the first one; the hop the first
    // client wrote itself (198.51.100.1) is not who it is.
    let response = sign_in_from(&proxied, "203.0.113.2", "b@example.org", "guess guess").await;
    assert_error(response, 401, "unauthorized").await;
    let response = sign_in_from(&proxied, "198.51.100.1", "c@example.org", "guess guess").await;
    assert_error(response, 401, "unauthorized").await;

    // Without trusted proxies, the header is anybody's to write and is ignored.
    let direct = spawn_app_with(&["--sign-in-per-minute", "2"]).await;
    for i in 0..2 {
        let response = sign_in_from(
            &direct,
            &format!("203.0.113.{i}"),
            &format!("d{i}@example.org"),
            "guess guess",
        )
        .await;
        assert_error(response, 401, "unauthorized").await;
    }
    let response = sign_in_from(&direct, "203.0.113.77", "d9@example.org", "guess guess").await;
    assert_error(response, 429, "rate_limited").await;
}

#[tokio::test]
async fn another_sites_page_cannot_sign_the_user_out() {
    let app = spawn_app().await;
    let user = app.sign_up("csrf@example.org").await;
    let cookie = format!("yapit_session={}", user.token);
    let forged = app
        .client
        .post(app.url("/v1/auth/sign-out"))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_error(forged, 403, "forbidden").await;
    app.get_json("/v1/me", Some(&user.token)).await;

    let own = app
        .client
        .post(app.url("/v1/auth/sign-out"))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 204);
    assert_error(
        app.get("/v1/me", Some(&user.token)).await,
        401,
        "unauthorized",
    )
    .await;
}
