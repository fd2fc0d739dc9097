//! Hostile text never panics the worker: each gives audio or a clear INVALID_ARGUMENT.

use proto::v1::SynthesizeRequest;
use tonic::{Code, transport::Channel};

use proto::v1::text_to_speech_client::TextToSpeechClient;

use crate::helpers::{WorkerSettings, request, rms, spawn_worker, synthesize};

/// Takes the first chunk (or the error) and hangs up: enough to know the worker coped.
async fn first_chunk(
    client: &mut TextToSpeechClient<Channel>,
    request: SynthesizeRequest,
) -> Result<proto::v1::AudioChunk, tonic::Status> {
    let mut stream = client.synthesize(request).await?.into_inner();
    Ok(stream
        .message()
        .await?
        .expect("a successful call sends at least one chunk"))
}

#[tokio::test]
async fn hostile_text_gives_audio_or_a_clear_error() {
    let mut worker = spawn_worker(WorkerSettings {
        max_text_chars: 25_000,
        ..Default::default()
    })
    .await;

    let speakable = [
        "Good morning 😀🎉, everyone!",
        "Tabs\tand\u{0007}bells\u{0000} and\u{200b} zero-width spaces.",
        "Hello 世界, привет мир, مرحبا and welcome.",
        "The price rose 12.5% to $1,234.56 on 3/4/2025 at 10:30 pm.",
    ];
    for text in speakable {
        let chunk = first_chunk(&mut worker.client, request(text))
            .await
            .unwrap_or_else(|s| panic!("{text:?}: {s:?}"));
        assert!(rms(&chunk.pcm) > 0.01, "{text:?} gave silence");
    }

    let giant_word = "a".repeat(20_000);
    match first_chunk(&mut worker.client, request(&giant_word)).await {
        Ok(chunk) => assert!(!chunk.pcm.is_empty()),
        Err(status) => assert_eq!(status.code(), Code::InvalidArgument, "{status:?}"),
    }

    let unspeakable = [
        ",".repeat(10_000),
        "😀🎉🔥".to_string(),
        "... !!! ???".into(),
    ];
    for text in unspeakable {
        let status = synthesize(&mut worker.client, request(&text))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().contains("nothing the model can pronounce"),
            "{}",
            status.message()
        );
    }

    // After all that, an ordinary request still works.
    let chunks = synthesize(&mut worker.client, request("All is well."))
        .await
        .unwrap();
    assert!(rms(&chunks[0].pcm) > 0.01);
}
