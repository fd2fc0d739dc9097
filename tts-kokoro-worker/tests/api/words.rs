//! Word timings from the model's predicted durations, on the real model.

use ort::session::RunOptions;
use proto::v1::AudioChunk;
use tts_kokoro_worker::model::{self, KokoroSession, SAMPLES_PER_FRAME, STYLE_DIM};

use crate::helpers::{WorkerSettings, models_dir, ort_dylib, request, spawn_worker, synthesize};

const TEXT: &str = "In 1897, the lighthouse keeper paid $5 for a lamp. \
    \"Don't worry,\" he said — it burned for twenty-one years, until Dr. Hale's ship came in.";

/// Every written word of `text`, as the contract defines one.
fn written(text: &str) -> Vec<String> {
    tts_kokoro_worker::words::written_words(text)
        .into_iter()
        .map(|w| w.text)
        .collect()
}

fn samples(chunks: &[AudioChunk]) -> u64 {
    chunks.iter().map(|c| c.pcm.len() as u64 / 2).sum()
}

#[tokio::test]
async fn every_written_word_is_timed_in_order_inside_the_audio() {
    let mut worker = spawn_worker(WorkerSettings::default()).await;
    let chunks = synthesize(&mut worker.client, request(TEXT)).await.unwrap();
    assert!(chunks.len() >= 2, "one chunk only: the test wants a join");
    let words: Vec<_> = chunks.iter().flat_map(|c| c.words.clone()).collect();
    let texts: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
    assert_eq!(texts, written(TEXT));

    let chars: Vec<char> = TEXT.chars().collect();
    let total = samples(&chunks);
    let mut previous_end = 0;
    let mut chunk_start = 0;
    for chunk in &chunks {
        let chunk_end = chunk_start + chunk.pcm.len() as u64 / 2;
        for w in &chunk.words {
            // The characters name the word in the request's text.
            let at: String = chars[w.char_start as usize..w.char_end as usize]
                .iter()
                .collect();
            assert_eq!(at, w.text);
            // Monotonic, inside this chunk's audio, and heard: a real word lasts a while.
            assert!(
                w.start_sample >= previous_end,
                "{w:?} starts before {previous_end}"
            );
            assert!(w.end_sample > w.start_sample, "{w:?} has no duration");
            assert!(
                w.start_sample >= chunk_start && w.end_sample <= chunk_end,
                "{w:?}"
            );
            previous_end = w.end_sample;
        }
        chunk_start = chunk_end;
    }
    assert!(previous_end <= total);

    // "1897" is four spoken words, so it lasts longer than "In" and "the" together.
    let len = |text: &str| {
        let w = words.iter().find(|w| w.text == text).unwrap();
        w.end_sample - w.start_sample
    };
    assert!(len("1897") > len("In") + len("the"), "{words:?}");
    assert!(len("$5") > len("a"), "{words:?}");
}

#[tokio::test]
async fn words_of_other_languages_are_timed_too() {
    let mut worker = spawn_worker(WorkerSettings::default()).await;
    let text = "Buenos días, ¿cómo estás hoy?";
    let mut spanish = request(text);
    spanish.voice = "ef_dora".into();
    let chunks = synthesize(&mut worker.client, spanish).await.unwrap();
    let words: Vec<_> = chunks.iter().flat_map(|c| c.words.clone()).collect();
    assert_eq!(
        words.iter().map(|w| w.text.clone()).collect::<Vec<_>>(),
        written(text)
    );
    assert!(
        words
            .windows(2)
            .all(|w| w[0].end_sample <= w[1].start_sample)
    );
    assert!(words.last().unwrap().end_sample <= samples(&chunks));
}

#[tokio::test]
async fn japanese_clauses_are_timed_from_their_dictionary_words() {
    let mut worker = spawn_worker(WorkerSettings::default()).await;
    // Three clauses; the first is short and the last long, so their times show whether each
    // clause got its own words' durations rather than an even share.
    let text = "はい、東京タワーは三百三十三メートルの電波塔です。ね。";
    let mut japanese = request(text);
    japanese.voice = "jf_alpha".into();
    let chunks = synthesize(&mut worker.client, japanese).await.unwrap();
    let words: Vec<_> = chunks.iter().flat_map(|c| c.words.clone()).collect();
    assert_eq!(
        words.iter().map(|w| w.text.clone()).collect::<Vec<_>>(),
        ["はい", "東京タワーは三百三十三メートルの電波塔です", "ね"]
    );
    assert!(
        words
            .windows(2)
            .all(|w| w[0].end_sample <= w[1].start_sample)
    );
    let len = |w: &proto::v1::WordTiming| w.end_sample - w.start_sample;
    assert!(len(&words[1]) > 4 * len(&words[0]), "{words:?}");
    assert!(len(&words[1]) > 4 * len(&words[2]), "{words:?}");
    assert!(words.last().unwrap().end_sample <= samples(&chunks));
}

#[test]
fn the_timed_model_speaks_exactly_as_the_export_it_was_made_from() {
    let environment = model::runtime(&ort_dylib()).unwrap();
    let dir = models_dir();
    let mut original = KokoroSession::load(environment, &dir.join("kokoro-v1.0.onnx"), 1).unwrap();
    let mut timed =
        KokoroSession::load(environment, &dir.join("kokoro-v1.0-timed.onnx"), 1).unwrap();
    assert!(!original.is_timed());
    assert!(timed.is_timed());
    let run = RunOptions::new().unwrap();
    // "Hello there, world." in Kokoro's ids, with a style that is not all zeros.
    let ids = [
        50, 83, 54, 156, 57, 135, 16, 62, 156, 86, 123, 3, 16, 65, 156, 87, 123, 54, 46, 4,
    ];
    let style: Vec<f32> = (0..STYLE_DIM)
        .map(|i| ((i as f32) * 0.37).sin() * 0.2)
        .collect();
    for speed in [1.0, 1.6] {
        let a = original.infer(&ids, &style, speed, &run).unwrap();
        let b = timed.infer(&ids, &style, speed, &run).unwrap();
        assert!(a.durations.is_empty());
        assert_eq!(a.samples.len(), b.samples.len());
        let worst = a
            .samples
            .iter()
            .zip(&b.samples)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "samples differ by up to {worst}");
        // One duration per token and the two pads; together they are the audio's length.
        assert_eq!(b.durations.len(), ids.len() + 2);
        let frames: u64 = b.durations.iter().map(|&d| u64::from(d)).sum();
        assert_eq!(frames as usize * SAMPLES_PER_FRAME, b.samples.len());
    }
}
