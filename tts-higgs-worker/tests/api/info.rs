use proto::v1::{Device, InfoRequest};
use tts_higgs_worker::{engine::Engine, voices::VoiceError};

use crate::helpers::{engine_config, model_args, scratch_copy, worker};

#[tokio::test]
async fn info_reports_the_model_the_cpu_and_the_cloned_voices_by_their_catalogue_names() {
    let mut worker = worker().await;
    let info = worker
        .client
        .info(InfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.model_slug, "higgs");
    assert_eq!(info.sample_rate, 24_000);
    assert_eq!(info.device(), Device::Cpu);
    assert_eq!(info.capacity, 1);
    assert_eq!(info.max_text_chars, 300);
    assert!(
        info.model_version.starts_with("v2-"),
        "{}",
        info.model_version
    );
    let voices: Vec<(String, String, String)> = info
        .voices
        .into_iter()
        .map(|v| (v.slug, v.name, v.language))
        .collect();
    assert_eq!(
        voices,
        [
            ("belinda".into(), "Belinda".into(), "en-US".into()),
            ("en_woman".into(), "English Woman".into(), "en-US".into()),
        ]
    );
}

#[tokio::test]
async fn the_version_changes_with_the_sampling_settings_so_cached_audio_never_lies() {
    let a = tokio::task::spawn_blocking(|| Engine::load(engine_config(1, 300)))
        .await
        .unwrap()
        .unwrap();
    let again = tokio::task::spawn_blocking(|| Engine::load(engine_config(1, 300)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        a.model_version(),
        again.model_version(),
        "stable across starts"
    );
    for change in [
        |a: &mut tts_higgs_worker::config::ModelArgs| a.temperature = 0.7,
        |a: &mut tts_higgs_worker::config::ModelArgs| a.seed += 1,
        |a: &mut tts_higgs_worker::config::ModelArgs| a.max_audio_secs += 1,
    ] {
        let mut args = model_args();
        change(&mut args);
        let b = tokio::task::spawn_blocking(move || Engine::load(args.engine_config(1).unwrap()))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(a.model_version(), b.model_version());
    }
}

fn load_voices_from(dir: std::path::PathBuf) -> VoiceError {
    let mut config = engine_config(1, 300);
    config.voices_dir = dir;
    match Engine::load(config) {
        Err(tts_higgs_worker::engine::LoadError::Voices(e)) => *e,
        Err(other) => panic!("expected a voice error, got {other}"),
        Ok(_) => panic!("the worker loaded broken voices"),
    }
}

#[tokio::test]
async fn a_clip_without_its_transcript_or_an_empty_folder_is_refused_by_name() {
    let dir = scratch_copy("voices");
    std::fs::remove_file(dir.join("belinda.txt")).unwrap();
    let err = tokio::task::spawn_blocking(move || load_voices_from(dir))
        .await
        .unwrap()
        .to_string();
    assert!(
        err.contains("belinda") && err.contains("belinda.txt"),
        "{err}"
    );

    let empty = std::env::temp_dir().join(format!("higgs-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let err = tokio::task::spawn_blocking(move || load_voices_from(empty))
        .await
        .unwrap()
        .to_string();
    assert!(
        err.contains("holds no voice") && err.contains("<slug>.txt"),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_checkpoint_is_named_before_anything_else_loads() {
    let mut config = engine_config(1, 300);
    config.model_dir = "/nonexistent/higgs".into();
    let err = match tokio::task::spawn_blocking(move || Engine::load(config))
        .await
        .unwrap()
    {
        Err(e) => e.to_string(),
        Ok(_) => panic!("loaded a model from nowhere"),
    };
    assert!(err.contains("/nonexistent/higgs"), "{err}");
}
