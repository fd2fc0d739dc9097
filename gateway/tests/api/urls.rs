//! Documents from URLs, against a local fixture server, and the SSRF guard.

use serde_json::{Value, json};

use crate::helpers::{assert_error, fixture_server, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_article_page_becomes_its_main_content() {
    let app = spawn_app().await;
    let site = fixture_server().await;
    let user = app.sign_up("news@example.org").await;
    let url = format!("http://{site}/news/article.html");
    let response = app
        .post_json("/v1/documents", Some(&user.token), &json!({ "url": url }))
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["source_url"], url);
    let title = created["title"].as_str().unwrap();
    assert!(
        !title.is_empty() && !title.contains("| The Coastal Ledger"),
        "{title}"
    );

    let document: Value = app.document(&user, &created["id"]).await;
    let blocks = document["blocks"].as_array().unwrap();
    let text: String = blocks
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let html: String = blocks.iter().map(|b| b["html"].as_str().unwrap()).collect();
    let lower = text.to_lowercase();
    for boilerplate in [
        "cookie",
        "subscribe to our newsletter",
        "all rights reserved",
    ] {
        assert!(
            !lower.contains(boilerplate),
            "boilerplate {boilerplate:?} read aloud: {text}"
        );
    }
    assert!(blocks.len() >= 4);
    // Relative links and images were made absolute against the page.
    assert!(!html.contains("href=\"/"), "{html}");
    assert!(html.contains(&format!("http://{site}/")), "{html}");
}

#[tokio::test]
async fn markdown_and_plain_text_urls_are_taken_as_they_are() {
    let app = spawn_app().await;
    let site = fixture_server().await;
    let user = app.sign_up("md@example.org").await;
    let readme = app
        .post_json(
            "/v1/documents",
            Some(&user.token),
            &json!({"url": format!("http://{site}/readme.md")}),
        )
        .await;
    assert_eq!(readme.status(), 201);
    let readme: Value = readme.json().await.unwrap();
    let document: Value = app.document(&user, &readme["id"]).await;
    let kinds: Vec<&str> = document["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"code") && kinds.contains(&"table") && kinds.contains(&"heading"));

    let notes = app
        .post_json(
            "/v1/documents",
            Some(&user.token),
            &json!({"url": format!("http://{site}/notes.txt"), "title": "Notes"}),
        )
        .await;
    assert_eq!(notes.status(), 201);
    let notes: Value = notes.json().await.unwrap();
    assert_eq!(notes["title"], "Notes");
    assert_eq!(notes["block_count"], 2);
}

#[tokio::test]
async fn unusable_urls_get_the_right_status() {
    let app = spawn_app().await;
    let site = fixture_server().await;
    let user = app.sign_up("errors@example.org").await;
    let token = Some(user.token.as_str());
    let post = |url: String| {
        let app = &app;
        async move {
            app.post_json("/v1/documents", token, &json!({ "url": url }))
                .await
        }
    };
    assert_error(
        post(format!("http://{site}/image.png")).await,
        415,
        "unsupported_media_type",
    )
    .await;
    let message = assert_error(
        post(format!("http://{site}/missing")).await,
        502,
        "upstream_failed",
    )
    .await;
    assert!(message.contains("404"), "{message}");
    assert_error(
        post(format!("http://{site}/nav.html")).await,
        422,
        "unprocessable",
    )
    .await;
    let message = assert_error(
        post(format!("http://{site}/slow")).await,
        502,
        "upstream_failed",
    )
    .await;
    assert!(message.contains("timed out"), "{message}");
    assert_error(
        post("ftp://example.org/file.txt".into()).await,
        400,
        "bad_request",
    )
    .await;
    assert_error(post("not a url".into()).await, 400, "bad_request").await;
    assert_eq!(
        app.count("documents").await,
        0,
        "a refused request stored a document"
    );
}

#[tokio::test]
async fn private_and_loopback_addresses_are_refused() {
    // No allow-list: the guard refuses every internal address, the fixture server's too.
    let app = spawn_app_with(&["--fetch-allow", ""]).await;
    let site = fixture_server().await;
    let user = app.sign_up("ssrf@example.org").await;
    for url in [
        format!("http://{site}/news/article.html"),
        format!("http://localhost:{}/news/article.html", site.port()),
        "http://[::1]/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
    ] {
        let response = app
            .post_json("/v1/documents", Some(&user.token), &json!({ "url": url }))
            .await;
        let message = assert_error(response, 422, "unprocessable").await;
        assert!(message.contains("address"), "{url}: {message}");
    }
}

#[tokio::test]
async fn a_redirect_to_a_refused_address_is_refused() {
    let app = spawn_app().await;
    let site = fixture_server().await;
    let user = app.sign_up("redirect@example.org").await;
    let response = app
        .post_json(
            "/v1/documents",
            Some(&user.token),
            &json!({"url": format!("http://{site}/to-metadata")}),
        )
        .await;
    let message = assert_error(response, 422, "unprocessable").await;
    assert!(message.contains("169.254.169.254"), "{message}");
}
