use proto::v1::PhonemizeRequest;
use tonic::Code;

use crate::helpers::{VOICE, request, samples, synthesize, worker};

const TEXT: &str = "The quick brown fox jumps over the lazy dog.";

#[tokio::test]
async fn audio_streams_in_growing_chunks_and_the_last_is_marked() {
    let mut worker = worker().await;
    let chunks = synthesize(&mut worker.client, request(TEXT, VOICE))
        .await
        .unwrap();
    assert!(!chunks.is_empty());
    let sequences: Vec<u32> = chunks.iter().map(|c| c.sequence).collect();
    assert_eq!(sequences, (0..chunks.len() as u32).collect::<Vec<_>>());
    let (last, rest) = chunks.split_last().unwrap();
    assert!(last.last && rest.iter().all(|c| !c.last));
    assert!(
        chunks
            .iter()
            .all(|c| c.sample_rate == 24_000 && c.pcm.len() % 2 == 0)
    );
    assert_eq!(chunks[0].text, TEXT);
    assert!(
        chunks.iter().all(|c| c.words.is_empty()),
        "Higgs predicts no word timings"
    );
    // The first chunk is the short one (80 ms here), so the first sound leaves early; the next
    // ones double up to the most (320 ms).
    let lengths: Vec<usize> = chunks.iter().map(|c| c.pcm.len() / 2).collect();
    assert!(lengths.len() >= 3, "{lengths:?}");
    assert_eq!(&lengths[..3], [1_920, 3_840, 7_680]);
    assert!(lengths.iter().all(|&n| n <= 7_680), "{lengths:?}");
    let audio = samples(&chunks);
    let seconds = audio.len() as f64 / 24_000.0;
    assert!(seconds > 1.0 && seconds <= 3.0, "{seconds} s");
    assert!(audio.iter().any(|&s| s != 0), "the decoder made sound");
}

#[tokio::test]
async fn the_same_text_and_voice_give_the_same_audio_and_another_voice_other_audio() {
    let mut worker = worker().await;
    let a = samples(
        &synthesize(&mut worker.client, request(TEXT, VOICE))
            .await
            .unwrap(),
    );
    let b = samples(
        &synthesize(&mut worker.client, request(TEXT, VOICE))
            .await
            .unwrap(),
    );
    assert_eq!(
        a, b,
        "a block's audio is reproducible, so its cache entry is true"
    );
    let other = samples(
        &synthesize(&mut worker.client, request(TEXT, "belinda"))
            .await
            .unwrap(),
    );
    assert_ne!(a, other, "the voice prompt changes the audio");
}

#[tokio::test]
async fn bad_calls_get_invalid_argument_with_a_message_a_person_understands() {
    let mut worker = worker().await;
    let cases = [
        (request("   ", VOICE), "text is empty"),
        (request(&"a".repeat(301), VOICE), "the limit is 300"),
        (request(TEXT, "nova"), "this worker has: belinda, en_woman"),
    ];
    for (call, message) in cases {
        let status = synthesize(&mut worker.client, call).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(message), "{status:?}");
    }
    let mut fast = request(TEXT, VOICE);
    fast.speed = 1.5;
    let status = synthesize(&mut worker.client, fast).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("send 1.0"), "{status:?}");
    let mut wild = request(TEXT, VOICE);
    wild.speed = 3.0;
    let status = synthesize(&mut worker.client, wild).await.unwrap_err();
    assert!(status.message().contains("0.5 to 2.0"), "{status:?}");
    // Speed 0 means 1.0.
    let mut unset = request("Hi.", VOICE);
    unset.speed = 0.0;
    assert!(synthesize(&mut worker.client, unset).await.is_ok());

    let status = worker
        .client
        .phonemize(PhonemizeRequest {
            text: TEXT.into(),
            voice: VOICE.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}
