use std::sync::atomic::Ordering;

use tonic::Code;
use tts_kokoro_worker::g2p::Language;

use crate::helpers::{WorkerSettings, request, rms, seconds, spawn_worker, synthesize};

const PARAGRAPH: &str = "The lighthouse keeper climbed the stairs every evening, counting each step \
    as his father had taught him. At the top, he trimmed the wick and polished the great lens. \
    Then he sat by the window and watched the ships pass in the dark, wondering where they were \
    bound and who was waiting for them.";

#[tokio::test]
async fn a_paragraph_streams_several_audible_chunks_of_plausible_length() {
    let mut worker = spawn_worker(WorkerSettings::default()).await;
    let chunks = synthesize(&mut worker.client, request(PARAGRAPH))
        .await
        .unwrap();

    assert!(chunks.len() >= 3, "only {} chunks", chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.sequence as usize, i);
        assert_eq!(chunk.last, i + 1 == chunks.len());
        assert_eq!(chunk.sample_rate, 24_000);
        assert_eq!(chunk.pcm.len() % 2, 0);
        assert!(rms(&chunk.pcm) > 0.01, "chunk {i} is silent");
    }
    // The first chunk is a short clause so the first audio leaves fast.
    assert!(
        chunks[0].text.len() < chunks[1].text.len(),
        "{:?} / {:?}",
        chunks[0].text,
        chunks[1].text
    );
    let spoken: String = chunks
        .iter()
        .map(|c| c.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        spoken.split_whitespace().collect::<Vec<_>>(),
        PARAGRAPH.split_whitespace().collect::<Vec<_>>()
    );
    // People read aloud at roughly 12 to 18 characters a second.
    let duration = seconds(&chunks);
    let chars = PARAGRAPH.len() as f64;
    assert!(
        duration > chars / 30.0 && duration < chars / 7.0,
        "{duration:.1} s of audio for {chars} characters"
    );
}

#[tokio::test]
async fn the_first_chunk_arrives_before_the_rest_is_synthesized() {
    let mut worker = spawn_worker(WorkerSettings::default()).await;
    let utterances = worker
        .engine
        .frontend()
        .prepare(PARAGRAPH, Language::AmericanEnglish)
        .len() as u64;
    let mut stream = worker
        .client
        .synthesize(request(PARAGRAPH))
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    // Streaming, not batch: when the first chunk is here, most of the paragraph is still to be
    // rendered (counted by the engine, not timed).
    let stats = worker.engine.stats();
    let rendered = stats.utterances_rendered.load(Ordering::Relaxed);
    assert!(!first.last);
    assert!(
        rendered < utterances,
        "{rendered} of {utterances} utterances were rendered before the first chunk arrived"
    );
    assert_eq!(stats.jobs_completed.load(Ordering::Relaxed), 0);
    let mut received = 1;
    while stream.message().await.unwrap().is_some() {
        received += 1;
    }
    assert_eq!(received, utterances);
    assert_eq!(stats.jobs_completed.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn faster_speed_gives_shorter_audio() {
    let mut worker = spawn_worker(WorkerSettings::default()).await;
    let text = "Reading aloud at a faster pace should take noticeably less time.";
    let normal = synthesize(&mut worker.client, request(text)).await.unwrap();
    let mut fast_request = request(text);
    fast_request.speed = 1.8;
    let fast = synthesize(&mut worker.client, fast_request).await.unwrap();
    let (normal, fast) = (seconds(&normal), seconds(&fast));
    assert!(
        fast < normal * 0.8,
        "normal {normal:.2} s, fast {fast:.2} s"
    );
}

#[tokio::test]
async fn bad_arguments_are_invalid_argument_with_a_helpful_message() {
    let mut worker = spawn_worker(WorkerSettings {
        max_text_chars: 500,
        ..Default::default()
    })
    .await;

    let mut unknown = request("Hello there.");
    unknown.voice = "af_nobody".into();
    let status = synthesize(&mut worker.client, unknown).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("af_nobody"),
        "{}",
        status.message()
    );
    for voice in ["af_heart", "jf_alpha", "zm_yunyang"] {
        assert!(status.message().contains(voice), "{}", status.message());
    }

    for empty in ["", "   \n\t "] {
        let status = synthesize(&mut worker.client, request(empty))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("empty"), "{}", status.message());
    }

    let status = synthesize(&mut worker.client, request(&"word ".repeat(101)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("505") && status.message().contains("500"),
        "{}",
        status.message()
    );

    let mut too_fast = request("Hello.");
    too_fast.speed = 5.0;
    let status = synthesize(&mut worker.client, too_fast).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("speed"), "{}", status.message());

    // The worker is unharmed and still speaks.
    let chunks = synthesize(&mut worker.client, request("Still here."))
        .await
        .unwrap();
    assert!(rms(&chunks[0].pcm) > 0.01);
}

#[tokio::test]
async fn without_the_japanese_dictionary_japanese_voices_are_refused_and_others_speak() {
    let mut worker = spawn_worker(WorkerSettings {
        ja_dict: Some("/nonexistent/ja-dict".into()),
        ..Default::default()
    })
    .await;
    let mut japanese = request("こんにちは。");
    japanese.voice = "jf_alpha".into();
    let status = synthesize(&mut worker.client, japanese).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("no Japanese dictionary"),
        "{}",
        status.message()
    );
    assert!(
        !status.message().contains("/nonexistent"),
        "{}",
        status.message()
    );
    let chunks = synthesize(&mut worker.client, request("Still here."))
        .await
        .unwrap();
    assert!(rms(&chunks[0].pcm) > 0.01);
}

#[tokio::test]
async fn every_language_speaks_and_blends_mix_voices_of_one_language() {
    let mut worker = spawn_worker(WorkerSettings::default()).await;
    // One voice per language, each reading its own language through its own G2P.
    for (voice, text) in [
        ("bf_emma", "Good afternoon, how are you?"),
        ("ef_dora", "Buenas tardes, ¿cómo estás?"),
        ("ff_siwis", "Bonjour, comment allez-vous ?"),
        ("hf_alpha", "नमस्ते, आप कैसे हैं?"),
        ("if_sara", "Buongiorno, come stai?"),
        ("pf_dora", "Boa tarde, como vai?"),
        ("zf_xiaoxiao", "你好，今天天气很好。"),
        ("jf_alpha", "こんにちは、おげんきですか。"),
    ] {
        let mut spoken = request(text);
        spoken.voice = voice.into();
        let chunks = synthesize(&mut worker.client, spoken).await.unwrap();
        assert!(seconds(&chunks) > 0.5, "{voice}: {} s", seconds(&chunks));
        let pcm: Vec<u8> = chunks.iter().flat_map(|c| c.pcm.clone()).collect();
        assert!(rms(&pcm) > 0.01, "{voice} is silent");
    }

    let mut blend = request("Two voices as one.");
    blend.voice = "af_bella(2)+af_sky(1)".into();
    let mixed = synthesize(&mut worker.client, blend).await.unwrap();
    let mut bella = request("Two voices as one.");
    bella.voice = "af_bella".into();
    let plain = synthesize(&mut worker.client, bella).await.unwrap();
    assert!(rms(&mixed[0].pcm) > 0.01);
    assert_ne!(
        mixed[0].pcm, plain[0].pcm,
        "the blend is not af_bella alone"
    );

    let mut mixed_languages = request("Hello.");
    mixed_languages.voice = "af_heart+jf_alpha".into();
    let status = synthesize(&mut worker.client, mixed_languages)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("mixes languages"),
        "{}",
        status.message()
    );
    let mut zero = request("Hello.");
    zero.voice = "af_heart(0)+af_bella".into();
    let status = synthesize(&mut worker.client, zero).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("above 0"), "{}", status.message());
}

#[tokio::test]
async fn phonemize_shows_what_a_voice_reads_without_synthesis() {
    let mut worker = spawn_worker(WorkerSettings::default()).await;
    let ask = |text: &str, voice: &str| proto::v1::PhonemizeRequest {
        text: text.into(),
        voice: voice.into(),
    };
    let english = worker
        .client
        .phonemize(ask("Hello world.", "af_heart"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (english.phonemes.as_str(), english.language.as_str()),
        ("həlˈO wˈɜɹld.", "en-US")
    );
    let british = worker
        .client
        .phonemize(ask("Water.", "bf_emma(1)+bm_george(1)"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (british.phonemes.as_str(), british.language.as_str()),
        ("wˈɔːtə.", "en-GB")
    );
    for (text, voice, says) in [
        ("", "af_heart", "empty"),
        ("Hi.", "af_nobody", "af_nobody"),
        ("Hi.", "af_heart+jf_alpha", "mixes languages"),
    ] {
        let status = worker.client.phonemize(ask(text, voice)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains(says), "{}", status.message());
    }
    assert_eq!(
        worker.engine.stats().jobs_started.load(Ordering::Relaxed),
        0
    );
}
