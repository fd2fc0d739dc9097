use crate::helpers::fixtures;

/// `tts-higgs-worker say` speaks through the whole path (voice clip encoded, cloning prompt,
/// generation, streaming decode) into a WAV file a player opens.
#[test]
fn say_writes_a_24_khz_wav() {
    let out = std::env::temp_dir().join(format!("higgs-say-{}.wav", std::process::id()));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tts-higgs-worker"))
        .args(["say", "--device", "cpu", "--max-audio-secs", "2", "-o"])
        .arg(&out)
        .arg("Hello from the tiny Higgs.")
        .env("HIGGS_MODEL_DIR", fixtures().join("model"))
        .env("HIGGS_TOKENIZER_DIR", fixtures().join("codec"))
        .env("HIGGS_VOICES_DIR", fixtures().join("voices"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("voice en_woman"),
        "the catalogue's default voice: {stdout}"
    );
    let reader = hound::WavReader::open(&out).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (24_000, 1, 16)
    );
    assert!(reader.duration() > 0 && reader.duration() <= 2 * 24_000);
    std::fs::remove_file(&out).unwrap();
}

#[test]
fn say_without_a_checkpoint_fails_with_the_path() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tts-higgs-worker"))
        .args(["say", "--device", "cpu", "Hello."])
        .env("HIGGS_MODEL_DIR", "/nonexistent/higgs-model")
        .env("HIGGS_TOKENIZER_DIR", fixtures().join("codec"))
        .env("HIGGS_VOICES_DIR", fixtures().join("voices"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/higgs-model"), "{stderr}");
}
