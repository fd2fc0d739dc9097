use proto::v1::{Device, InfoRequest};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::helpers::{WorkerSettings, models_dir, spawn_worker};

#[tokio::test]
async fn info_lists_exactly_the_voices_in_the_voice_file() {
    let mut worker = spawn_worker(WorkerSettings {
        capacity: 2,
        ..Default::default()
    })
    .await;
    let info = worker
        .client
        .info(InfoRequest {})
        .await
        .unwrap()
        .into_inner();

    let file = std::fs::File::open(models_dir().join("voices.npz")).unwrap();
    let mut in_file = ndarray_npy::NpzReader::new(file).unwrap().names().unwrap();
    in_file.sort();
    let mut listed: Vec<String> = info.voices.iter().map(|v| v.slug.clone()).collect();
    listed.sort();
    assert_eq!(listed, in_file);
    assert!(!listed.is_empty());

    let alpha = info.voices.iter().find(|v| v.slug == "jf_alpha").unwrap();
    assert_eq!(alpha.name, "Alpha");
    assert_eq!(alpha.language, "ja");
    assert_eq!(info.model_slug, "kokoro");
    assert!(
        info.model_version.starts_with("v1.0-"),
        "{}",
        info.model_version
    );
    assert_eq!(info.sample_rate, 24_000);
    assert_eq!(info.device(), Device::Cpu);
    assert_eq!(info.capacity, 2);
    assert_eq!(info.threads, 1);
    assert_eq!(info.max_text_chars, 8_192);
}

#[tokio::test]
async fn standard_health_service_reports_serving() {
    let worker = spawn_worker(WorkerSettings::default()).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", worker.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let status = health
        .check(HealthCheckRequest {
            service: "tts.v1.TextToSpeech".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status(), ServingStatus::Serving);
}
