//! `POST /v1/audio/speech` (OpenAI-compatible) and `GET /v1/audio/{hash}`.

use serde_json::json;

use crate::{
    helpers::{Shared, assert_error, spawn_gateway},
    synthesis::reader,
    workers::{VOICE, real_worker},
};

#[tokio::test]
async fn speech_goes_through_the_same_cache_and_answers_wav_or_pcm() {
    let (app, worker, user, _) = reader(&[]).await;
    let body = json!({"model": "kokoro", "input": "Good morning to you.", "voice": VOICE});
    let response = app
        .post_json("/v1/audio/speech", Some(&user.token), &body)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    let wav = response.bytes().await.unwrap();
    let reader = hound::WavReader::new(std::io::Cursor::new(&wav)).expect("valid WAV");
    assert_eq!(reader.spec().sample_rate, 24_000);
    assert!(
        reader.duration() > 24_000 / 2,
        "more than half a second of speech"
    );
    assert_eq!(worker.jobs(), 1);

    let pcm = app
        .post_json(
            "/v1/audio/speech",
            Some(&user.token),
            &json!({"model": "kokoro", "input": "Good morning to you.", "voice": VOICE,
                    "response_format": "pcm"}),
        )
        .await;
    assert_eq!(pcm.status(), 200);
    assert_eq!(pcm.headers()["content-type"], "audio/pcm");
    assert_eq!(
        pcm.bytes().await.unwrap(),
        wav.slice(44..),
        "the same samples, headerless"
    );
    assert_eq!(worker.jobs(), 1, "the second request came from the cache");

    for (body, status, code, says) in [
        (
            json!({"model": "kokoro", "input": "Hi.", "voice": VOICE, "response_format": "mp3"}),
            400,
            "bad_request",
            "use \"wav\" or \"pcm\"",
        ),
        (
            json!({"model": "kokoro", "input": "Hi.", "voice": "allloy"}),
            400,
            "bad_request",
            "unknown voice \"allloy\"",
        ),
        (
            json!({"model": "kokoro", "input": "   ", "voice": VOICE}),
            400,
            "bad_request",
            "input is empty",
        ),
        (
            json!({"model": "kokoro", "input": "Hi.", "voice": VOICE, "speed": 9.0}),
            400,
            "bad_request",
            "speed 9 is out of range",
        ),
        (
            json!({"model": "kokoro", "input": "a".repeat(5000), "voice": VOICE}),
            413,
            "payload_too_large",
            "at most 4096",
        ),
    ] {
        let response = app
            .post_json("/v1/audio/speech", Some(&user.token), &body)
            .await;
        let message = assert_error(response, status, code).await;
        assert!(message.contains(says), "{message}");
    }
    let anonymous = app
        .post_json(
            "/v1/audio/speech",
            None,
            &json!({"model": "kokoro",
        "input": "Hi.", "voice": VOICE}),
        )
        .await;
    assert_error(anonymous, 401, "unauthorized").await;
    assert_eq!(worker.jobs(), 1, "no refused request reached the worker");
}

#[tokio::test]
async fn audio_is_private_immutable_and_seekable() {
    let worker = real_worker().await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("seek@example.com").await;
    let target = app
        .state
        .synthesis
        .target("It was cold outside.", "kokoro", VOICE, 1.0)
        .expect("the live worker's model version is known");
    // Anyone can compute a hash; only a link the gateway signed opens the audio.
    let bare = format!("/v1/audio/{}", target.hash);
    let url = app.state.audio_urls.sign(&target.hash);
    assert!(url.starts_with(&format!("{bare}?")), "{url}");
    assert_error(app.get(&url, None).await, 404, "not_found").await;
    let speech = app
        .post_json(
            "/v1/audio/speech",
            Some(&user.token),
            &json!({"model": "kokoro", "input": "It was cold outside.", "voice": VOICE}),
        )
        .await;
    let wav = speech.bytes().await.unwrap();

    let message = assert_error(app.get(&bare, None).await, 403, "forbidden").await;
    assert!(message.contains("ask for the block again"), "{message}");
    let flipped = if url.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{flipped}", &url[..url.len() - 1]);
    assert_error(app.get(&forged, None).await, 403, "forbidden").await;

    let whole = app.get(&url, None).await;
    assert_eq!(whole.status(), 200);
    let cache_control = whole.headers()["cache-control"].to_str().unwrap();
    assert!(
        cache_control.starts_with("private, max-age=") && !cache_control.contains("public"),
        "no shared cache may keep it: {cache_control}"
    );
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let etag = whole.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(
        whole.bytes().await.unwrap(),
        wav,
        "the same audio the speech endpoint made"
    );

    let part = app
        .client
        .get(app.url(&url))
        .header("range", "bytes=44-143")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 44-143/{}", wav.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap(), wav.slice(44..144));
    let tail = app
        .client
        .get(app.url(&url))
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.bytes().await.unwrap(), wav.slice(wav.len() - 10..));
    let past = app
        .client
        .get(app.url(&url))
        .header("range", format!("bytes={}-", wav.len() + 5))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    let unchanged = app
        .client
        .get(app.url(&url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    for bad in ["/v1/audio/..%2F..%2Fetc%2Fpasswd", "/v1/audio/XYZ"] {
        assert_error(app.get(bad, None).await, 404, "not_found").await;
    }
}

#[tokio::test]
async fn a_daily_quota_stops_new_synthesis_but_not_cached_audio() {
    let (app, worker, user, id) = reader(&["--daily-char-quota", "30"]).await;
    let mut listener = crate::listener::Listener::connect(&app, &user.token).await;
    listener.synthesize(&id, &[1], 1).await; // "The fox woke early." 19 characters
    let (finals, _) = listener.finals(&[1]).await;
    assert_eq!(finals[&1]["status"], "cached");
    listener.synthesize(&id, &[3], 3).await; // 20 more would pass 30
    let (finals, _) = listener.finals(&[3]).await;
    assert_eq!(finals[&3]["status"], "error");
    assert!(
        finals[&3]["error"]
            .as_str()
            .unwrap()
            .contains("quota exceeded"),
        "{}",
        finals[&3]
    );
    listener.synthesize(&id, &[1], 1).await;
    let (finals, _) = listener.finals(&[1]).await;
    assert_eq!(finals[&1]["status"], "cached", "cached audio still plays");
    assert_eq!(worker.jobs(), 1);
}

#[tokio::test]
async fn text_with_nothing_to_say_is_422_and_a_skipped_block() {
    let (app, _worker, user, _) = reader(&[]).await;
    let response = app
        .post_json(
            "/v1/audio/speech",
            Some(&user.token),
            &json!({"model": "kokoro", "input": "😀 😀 😀", "voice": VOICE}),
        )
        .await;
    let message = assert_error(response, 422, "unprocessable").await;
    assert!(message.contains("cannot be spoken"), "{message}");

    let id = app.create_text(&user, "Words first.\n\n😀😀😀\n").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut listener = crate::listener::Listener::connect(&app, &user.token).await;
    listener.synthesize(&id, &[0, 1], 0).await;
    let (finals, _) = listener.finals(&[0, 1]).await;
    assert_eq!(finals[&0]["status"], "cached", "{}", finals[&0]);
    assert_eq!(finals[&1]["status"], "skipped", "{}", finals[&1]);
    assert!(
        finals[&1]["error"]
            .as_str()
            .unwrap()
            .contains("cannot be spoken"),
        "{}",
        finals[&1]
    );
}

/// Long input is spoken in pieces (one job each, so none outlasts a worker call), whole or
/// streamed as the pieces are made.
#[tokio::test]
async fn long_speech_is_made_in_pieces_and_can_be_streamed() {
    let worker = crate::workers::fake_worker(crate::workers::Fault::None).await;
    let app = spawn_gateway(Shared::fresh().await, &[worker.url.as_str()], &[]).await;
    let user = app.sign_up("long@example.com").await;
    // About 850 characters: at least three pieces of at most 300.
    let input: String = (0..12)
        .map(|i| format!("Sentence number {i} is one of many in a long speech request. "))
        .collect();
    let body = json!({"model": "kokoro", "input": input, "voice": VOICE});
    let whole = app
        .post_json("/v1/audio/speech", Some(&user.token), &body)
        .await;
    assert_eq!(whole.status(), 200);
    let wav = whole.bytes().await.unwrap();
    let pieces = worker.calls();
    assert!(pieces >= 3, "{pieces} worker calls for ~850 characters");
    assert!(
        worker.texts().iter().all(|t| t.chars().count() <= 300),
        "every piece fits MAX_BLOCK_CHARS"
    );
    // The fake worker answers 0.1 s (2,400 samples) per call.
    assert_eq!(wav.len(), 44 + pieces * 4_800);
    let reader = hound::WavReader::new(std::io::Cursor::new(&wav)).expect("a valid WAV");
    assert_eq!(reader.duration() as usize, pieces * 2_400);

    // Streamed: the same samples, after a header that does not know the length.
    let streamed = app
        .post_json(
            "/v1/audio/speech",
            Some(&user.token),
            &json!({"model": "kokoro", "input": input, "voice": VOICE, "stream": true}),
        )
        .await;
    assert_eq!(streamed.status(), 200);
    assert_eq!(streamed.headers()["content-type"], "audio/wav");
    let bytes = streamed.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[44..], &wav[44..], "the same audio, from the cache");
    assert_eq!(worker.calls(), pieces, "the pieces were cached");
}

#[tokio::test]
async fn a_voice_blend_is_spoken_and_cached_under_its_canonical_spelling() {
    let (app, worker, user, _) = reader(&[]).await;
    let speak =
        |voice: &str| json!({"model": "kokoro", "input": "Two voices as one.", "voice": voice});
    let blend = app
        .post_json(
            "/v1/audio/speech",
            Some(&user.token),
            &speak("af_bella(2)+af_sky(1)"),
        )
        .await;
    assert_eq!(blend.status(), 200);
    let blend = blend.bytes().await.unwrap();
    assert!(
        blend.len() > 44 + 24_000,
        "more than half a second of speech"
    );
    assert_eq!(worker.jobs(), 1);

    // The same mix, spelt another way, is the same audio from the cache.
    let respelt = app
        .post_json(
            "/v1/audio/speech",
            Some(&user.token),
            &speak("af_sky(2) + af_bella(4)"),
        )
        .await;
    assert_eq!(respelt.status(), 200);
    assert_eq!(respelt.bytes().await.unwrap(), blend);
    assert_eq!(worker.jobs(), 1, "the respelt blend came from the cache");

    let bella = app
        .post_json("/v1/audio/speech", Some(&user.token), &speak("af_bella"))
        .await;
    assert_eq!(bella.status(), 200);
    assert_ne!(
        bella.bytes().await.unwrap(),
        blend,
        "a blend is not its main voice"
    );
    assert_eq!(worker.jobs(), 2);

    for (voice, says) in [
        (
            "af_bella(0)+af_sky",
            "the weight of af_bella must be a number above 0",
        ),
        ("af_bella+af_nobody", "unknown voice \"af_nobody\""),
        (
            "af_heart+jf_alpha",
            "mixes languages (af_heart is en-US, jf_alpha is ja)",
        ),
        ("af_bella(2+af_sky", "not a voice with an optional weight"),
    ] {
        let response = app
            .post_json("/v1/audio/speech", Some(&user.token), &speak(voice))
            .await;
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.contains(says), "{voice}: {message}");
    }
    assert_eq!(worker.jobs(), 2, "no bad blend reached the worker");
}

#[tokio::test]
async fn openai_clients_list_voices_and_use_openai_names() {
    let (app, worker, user, _) = reader(&[]).await;
    let listed = app.get_json("/v1/audio/voices", None).await;
    let voices = listed["voices"].as_array().unwrap();
    let kokoro: Vec<&serde_json::Value> =
        voices.iter().filter(|v| v["model"] == "kokoro").collect();
    assert_eq!(kokoro[0]["id"], "af_heart", "the default voice comes first");
    assert_eq!(kokoro[0]["default"], true);
    assert!(kokoro[1..].iter().all(|v| v["default"] == false));
    assert_eq!(kokoro.len(), 54);
    assert!(kokoro.iter().all(|v| v["available"] == true), "{listed}");
    let dora = kokoro.iter().find(|v| v["id"] == "ef_dora").unwrap();
    assert_eq!(
        (&dora["name"], &dora["language"]),
        (&json!("Dora"), &json!("es"))
    );
    assert_eq!(listed["openai_voices"]["nova"], "af_nova");
    let only_kokoro = app.get_json("/v1/audio/voices?model=kokoro", None).await;
    assert_eq!(only_kokoro["voices"].as_array().unwrap().len(), 54);
    let unknown = app.get("/v1/audio/voices?model=tts-2", None).await;
    let message = assert_error(unknown, 400, "bad_request").await;
    assert!(message.contains("unknown model \"tts-2\""), "{message}");

    // An OpenAI client's request is Kokoro's af_nova, and shares its cache.
    let openai = json!({"model": "tts-1", "input": "Nova speaking.", "voice": "nova"});
    let response = app
        .post_json("/v1/audio/speech", Some(&user.token), &openai)
        .await;
    assert_eq!(response.status(), 200);
    let nova = response.bytes().await.unwrap();
    let kokoro = json!({"model": "kokoro", "input": "Nova speaking.", "voice": "af_nova"});
    let response = app
        .post_json("/v1/audio/speech", Some(&user.token), &kokoro)
        .await;
    assert_eq!(response.bytes().await.unwrap(), nova);
    assert_eq!(worker.jobs(), 1, "the same variant, synthesised once");
}

#[tokio::test]
async fn the_phonemes_a_voice_reads_are_shown_without_synthesis() {
    let (app, worker, user, _) = reader(&[]).await;
    let ask = |voice: &str, text: &str| json!({"model": "kokoro", "voice": voice, "text": text});
    let english: serde_json::Value = app
        .post_json(
            "/v1/dev/phonemize",
            Some(&user.token),
            &ask("af_heart", "Hello world."),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(english["phonemes"], "həlˈO wˈɜɹld.");
    assert_eq!(english["language"], "en-US");
    let spanish: serde_json::Value = app
        .post_json(
            "/v1/dev/phonemize",
            Some(&user.token),
            &ask("em_alex+ef_dora", "Hola."),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(spanish["phonemes"], "ˈola.");
    assert_eq!(spanish["language"], "es");
    assert_eq!(spanish["voice"], "ef_dora(0.5)+em_alex(0.5)");
    let unknown = app
        .post_json(
            "/v1/dev/phonemize",
            Some(&user.token),
            &ask("af_nobody", "Hi."),
        )
        .await;
    let message = assert_error(unknown, 400, "bad_request").await;
    assert!(message.contains("unknown voice \"af_nobody\""), "{message}");
    let anonymous = app
        .post_json("/v1/dev/phonemize", None, &ask("af_heart", "Hi."))
        .await;
    assert_error(anonymous, 401, "unauthorized").await;
    assert_eq!(worker.jobs(), 0, "nothing was synthesised");
}
