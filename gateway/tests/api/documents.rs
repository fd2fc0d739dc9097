use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

const ESSAY: &str = "# On Reading Aloud\n\nReading aloud slows the eye to the pace of the ear. \
It turns a page into a voice, and a voice into company.\n\n## Why it works\n\n\
- Listening frees the hands.\n- A familiar voice holds attention.\n\n\
> The best way to understand a text is to hear it.\n\n\
```rust\nfn main() { println!(\"not spoken\"); }\n```\n\n\
| column | value |\n|---|---|\n| a | 1 |\n";

#[tokio::test]
async fn a_text_document_is_stored_listed_read_renamed_and_deleted() {
    let app = spawn_app().await;
    let user = app.sign_up("reader@example.org").await;
    let created = app.create_text(&user, ESSAY).await;
    assert_eq!(created["title"], "On Reading Aloud");
    assert!(created["source_url"].is_null());
    assert_eq!(created["language"], "en");
    let id = created["id"].as_str().unwrap().to_string();

    let document = app.document(&user, &created["id"]).await;
    let blocks = document["blocks"].as_array().unwrap();
    assert_eq!(
        blocks.len() as i64,
        created["block_count"].as_i64().unwrap()
    );
    let kinds: Vec<&str> = blocks.iter().map(|b| b["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "heading");
    assert!(kinds.contains(&"list_item") && kinds.contains(&"block_quote"));
    for block in blocks {
        let speakable = block["speakable"].as_bool().unwrap();
        match block["kind"].as_str().unwrap() {
            "code" | "table" | "math" => {
                assert!(!speakable);
                assert_eq!(block["text"], "");
            }
            _ => assert!(speakable && !block["text"].as_str().unwrap().is_empty()),
        }
    }
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(block["idx"].as_u64().unwrap() as usize, i);
    }
    assert!(
        blocks
            .iter()
            .any(|b| b["html"].as_str().unwrap().contains("<pre"))
    );

    // Newest first.
    let second = app.create_text(&user, "A second, later note.").await;
    let list: Value = app.get_json("/v1/documents", Some(&user.token)).await;
    let ids: Vec<&str> = list["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![second["id"].as_str().unwrap(), id.as_str()]);
    let page: Value = app
        .get_json("/v1/documents?limit=1", Some(&user.token))
        .await;
    assert_eq!(page["documents"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_offset"], 1);

    let renamed = app
        .client
        .patch(app.url(&format!("/v1/documents/{id}")))
        .bearer_auth(&user.token)
        .json(&json!({"title": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    assert_eq!(renamed.json::<Value>().await.unwrap()["title"], "Renamed");

    let deleted = app
        .client
        .delete(app.url(&format!("/v1/documents/{id}")))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_error(
        app.get(&format!("/v1/documents/{id}"), Some(&user.token))
            .await,
        404,
        "not_found",
    )
    .await;
    let orphans: (i64,) =
        sqlx::query_as("SELECT count(*) FROM blocks WHERE document_id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(orphans.0, 0);
}

#[tokio::test]
async fn a_documents_language_is_detected_and_stored() {
    let app = spawn_app().await;
    let user = app.sign_up("lector@example.org").await;
    let spanish = app
        .create_text(
            &user,
            "# El faro\n\nEl guardián subía las escaleras cada tarde para encender la lámpara, \
             como le había enseñado su padre. Luego se sentaba junto a la ventana.",
        )
        .await;
    assert_eq!(spanish["language"], "es");
    let document = app.document(&user, &spanish["id"]).await;
    assert_eq!(document["language"], "es");
    let list: Value = app.get_json("/v1/documents", Some(&user.token)).await;
    assert_eq!(list["documents"][0]["language"], "es");
    // Too little to tell: stored as unknown rather than guessed.
    let short = app.create_text(&user, "OK.").await;
    assert!(short["language"].is_null(), "{short}");
}

#[tokio::test]
async fn another_users_document_is_a_404_like_a_missing_one() {
    let app = spawn_app().await;
    let owner = app.sign_up("owner@example.org").await;
    let other = app.sign_up("other@example.org").await;
    let id = app.create_text(&owner, "Private thoughts.").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/documents/{id}");
    let theirs = assert_error(app.get(&path, Some(&other.token)).await, 404, "not_found").await;
    let missing = assert_error(
        app.get(
            "/v1/documents/00000000-0000-0000-0000-000000000000",
            Some(&other.token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(theirs, missing);
    assert_error(
        app.get("/v1/documents/not-a-uuid", Some(&other.token))
            .await,
        404,
        "not_found",
    )
    .await;
    let delete = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&other.token)
        .send()
        .await
        .unwrap();
    assert_error(delete, 404, "not_found").await;
    let list: Value = app.get_json("/v1/documents", Some(&other.token)).await;
    assert!(list["documents"].as_array().unwrap().is_empty());
    assert_eq!(app.get(&path, Some(&owner.token)).await.status(), 200);
}

#[tokio::test]
async fn long_paragraphs_are_split_into_blocks_within_the_limit() {
    let app = spawn_app_with(&["--max-block-chars", "120"]).await;
    let user = app.sign_up("long@example.org").await;
    let paragraph =
        "This sentence is here to make the paragraph long, and it goes on for a while. ".repeat(12);
    let created = app.create_text(&user, &paragraph).await;
    let document: Value = app.document(&user, &created["id"]).await;
    let blocks = document["blocks"].as_array().unwrap();
    assert!(blocks.len() >= 8, "{}", blocks.len());
    for block in blocks {
        assert!(block["text"].as_str().unwrap().chars().count() <= 120);
        assert_eq!(block["group"], 0, "pieces of one paragraph share its group");
    }
    let spoken: Vec<&str> = blocks
        .iter()
        .flat_map(|b| b["text"].as_str().unwrap().split_whitespace())
        .collect();
    assert_eq!(spoken, paragraph.split_whitespace().collect::<Vec<_>>());
}

#[tokio::test]
async fn bad_document_requests_get_clear_errors_and_store_nothing() {
    let app = spawn_app_with(&["--max-document-chars", "1000"]).await;
    let user = app.sign_up("careful@example.org").await;
    let token = Some(user.token.as_str());
    for body in [
        json!({}),
        json!({"text": "a", "url": "https://example.org"}),
        json!({"text": 5}),
        json!({"text": "ok", "colour": "red"}),
    ] {
        assert_error(
            app.post_json("/v1/documents", token, &body).await,
            400,
            "bad_request",
        )
        .await;
    }
    let message = assert_error(
        app.post_json("/v1/documents", token, &json!({"text": "x".repeat(1001)}))
            .await,
        413,
        "payload_too_large",
    )
    .await;
    assert!(message.contains("1000"), "{message}");
    assert_error(
        app.post_json(
            "/v1/documents",
            token,
            &json!({"text": "```\nonly code\n```"}),
        )
        .await,
        422,
        "unprocessable",
    )
    .await;
    // A 20 MB body is refused before it is read.
    let huge = app
        .client
        .post(app.url("/v1/documents"))
        .bearer_auth(&user.token)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"text\": \"{}\"}}",
            "a".repeat(20 * 1024 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_error(huge, 413, "payload_too_large").await;
    assert_eq!(
        app.count("documents").await,
        0,
        "a refused request stored a document"
    );
}

#[tokio::test]
async fn display_html_is_sanitised() {
    let app = spawn_app().await;
    let user = app.sign_up("xss@example.org").await;
    let text = "Click <a href=\"javascript:alert(1)\" onclick=\"steal()\">here</a> \
                <script>alert('x')</script> for <img src=x onerror=alert(1)> more.";
    let created = app.create_text(&user, text).await;
    let document: Value = app.document(&user, &created["id"]).await;
    let html: String = document["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["html"].as_str().unwrap())
        .collect();
    for forbidden in ["<script", "javascript:", "onclick", "onerror"] {
        assert!(!html.contains(forbidden), "{forbidden} survived: {html}");
    }
    assert!(html.contains("here"));
}

#[tokio::test]
async fn a_title_with_a_nul_or_line_breaks_is_stored_as_one_line() {
    let app = spawn_app().await;
    let user = app.sign_up("titles@example.org").await;
    let response = app
        .post_json(
            "/v1/documents",
            Some(&user.token),
            &json!({"text": "Some text to read.", "title": "Nul\u{0}in\r\nthe\ttitle"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["title"], "Nul in the title");
    let id = created["id"].as_str().unwrap();
    let renamed = app
        .client
        .patch(app.url(&format!("/v1/documents/{id}")))
        .bearer_auth(&user.token)
        .json(&json!({"title": "\u{0}Renamed\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    assert_eq!(renamed.json::<Value>().await.unwrap()["title"], "Renamed");
    let only_nul = app
        .client
        .patch(app.url(&format!("/v1/documents/{id}")))
        .bearer_auth(&user.token)
        .json(&json!({"title": "\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_error(only_nul, 400, "bad_request").await;
}
