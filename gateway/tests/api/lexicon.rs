//! A user's pronunciation lexicon: kept through /v1/pronunciations, applied to what is spoken.

use serde_json::{Value, json};

use crate::{
    helpers::{Shared, assert_error, spawn_gateway},
    listener::Listener,
    workers::{Fault, VOICE, fake_worker},
};

#[tokio::test]
async fn a_user_keeps_words_and_what_to_say_instead() {
    let app = crate::helpers::spawn_app().await;
    let user = app.sign_up("lexicon@example.com").await;
    let other = app.sign_up("other-lexicon@example.com").await;
    let put = |word: &str, token: &str, body: Value| {
        let request = app
            .client
            .put(app.url(&format!("/v1/pronunciations/{word}")))
            .bearer_auth(token)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let empty = app.get_json("/v1/pronunciations", Some(&user.token)).await;
    assert_eq!(empty, json!({"pronunciations": []}));

    let stored = put(" Yapit ", &user.token, json!({"say": "yap it"})).await;
    assert_eq!(stored.status(), 200);
    assert_eq!(
        stored.json::<Value>().await.unwrap(),
        json!({"word": "yapit", "say": "yap it"})
    );
    let changed = put("YAPIT", &user.token, json!({"say": "yapp it"})).await;
    assert_eq!(changed.status(), 200, "the same word, changed");
    let listed = app.get_json("/v1/pronunciations", Some(&user.token)).await;
    assert_eq!(
        listed,
        json!({"pronunciations": [{"word": "yapit", "say": "yapp it"}]})
    );
    let theirs = app.get_json("/v1/pronunciations", Some(&other.token)).await;
    assert_eq!(theirs, json!({"pronunciations": []}), "each user's own");

    let message = assert_error(
        put("two%20words", &user.token, json!({"say": "x"})).await,
        400,
        "bad_request",
    )
    .await;
    assert!(message.contains("one word"), "{message}");
    let message = assert_error(
        put("word", &user.token, json!({"say": "  "})).await,
        400,
        "bad_request",
    )
    .await;
    assert!(message.contains("say is empty"), "{message}");
    assert_error(
        put("word", &user.token, json!({"say": "a\u{0}b"})).await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        put("word", &user.token, json!({})).await,
        400,
        "bad_request",
    )
    .await;
    let anonymous = app
        .client
        .put(app.url("/v1/pronunciations/word"))
        .json(&json!({"say": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        app.count("pronunciations").await,
        1,
        "no refused write stored"
    );

    let delete = |word: &str| {
        let request = app
            .client
            .delete(app.url(&format!("/v1/pronunciations/{word}")))
            .bearer_auth(&user.token);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(delete("Yapit").await.status(), 204);
    assert_error(delete("yapit").await, 404, "not_found").await;
    assert_eq!(app.count("pronunciations").await, 0);
}

/// What the worker is asked to say is the text with the user's words replaced, on the socket
/// and the speech endpoint; another user reading the same text hears it as written (its own
/// synthesis: the lexicon is part of what the cache key covers).
#[tokio::test]
async fn the_lexicon_changes_what_the_worker_says_and_only_for_its_user() {
    let worker = fake_worker(Fault::None).await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("says@example.com").await;
    let other = app.sign_up("reads@example.com").await;
    let response = app
        .client
        .put(app.url("/v1/pronunciations/yapit"))
        .bearer_auth(&user.token)
        .json(&json!({"say": "yap it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let text = "Yapit reads this aloud.";
    for reader in [&user, &other] {
        let id = app.create_text(reader, &format!("{text}\n")).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut listener = Listener::connect(&app, &reader.token).await;
        listener.synthesize(&id, &[0], 0).await;
        let (finals, _) = listener.finals(&[0]).await;
        assert_eq!(finals[&0]["status"], "cached", "{}", finals[&0]);
    }
    assert_eq!(
        worker.texts(),
        ["yap it reads this aloud.", text],
        "one synthesis per reading of the word"
    );

    let speech = app
        .post_json(
            "/v1/audio/speech",
            Some(&user.token),
            &json!({"model": "kokoro", "input": "Say yapit twice: YAPIT.", "voice": VOICE}),
        )
        .await;
    assert_eq!(speech.status(), 200);
    assert_eq!(worker.texts().last().unwrap(), "Say yap it twice: yap it.");
}
