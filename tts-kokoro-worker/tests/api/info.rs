use proto::v1::{Device, InfoRequest};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::helpers::{WorkerSettings, models_dir, spawn_worker};

#[tokio::test]
async fn info_lists_exactly_the_voices_in_the_voice_folder() {
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

    // `make models` verified each file against scripts/kokoro-voices.sha256.
    let mut in_folder: Vec<String> = std::fs::read_dir(models_dir().join("voices"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".bin").map(str::to_owned)
        })
        .collect();
    in_folder.sort();
    let mut listed: Vec<String> = info.voices.iter().map(|v| v.slug.clone()).collect();
    listed.sort();
    assert_eq!(listed, in_folder);
    assert_eq!(listed.len(), 54);

    let language = |slug: &str| {
        let voice = info.voices.iter().find(|v| v.slug == slug).unwrap();
        (voice.name.as_str(), voice.language.as_str())
    };
    assert_eq!(language("af_heart"), ("Heart", "en-US"));
    assert_eq!(language("bm_george"), ("George", "en-GB"));
    assert_eq!(language("ff_siwis"), ("Siwis", "fr-FR"));
    assert_eq!(language("jf_alpha"), ("Alpha", "ja"));
    assert_eq!(language("zm_yunyang"), ("Yunyang", "zh"));
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
