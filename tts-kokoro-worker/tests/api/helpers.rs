use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Once},
    time::Duration,
};

use proto::v1::{AudioChunk, SynthesizeRequest, text_to_speech_client::TextToSpeechClient};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{Status, transport::Channel};
use tts_kokoro_worker::{
    chunking::ChunkPlan,
    config::ModelArgs,
    startup::{Application, StartupError},
    synthesis::{Engine, EngineConfig},
};

pub const VOICE: &str = "af_heart";

pub fn models_dir() -> PathBuf {
    std::env::var_os("KOKORO_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../models")))
}

pub fn ort_dylib() -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .expect("ORT_DYLIB_PATH must point at libonnxruntime.so; run the tests through `make test`")
}

/// Test knobs over the production defaults.
#[derive(Clone)]
pub struct WorkerSettings {
    pub capacity: usize,
    pub queue_timeout: Duration,
    pub max_text_chars: usize,
    pub shutdown_grace: Duration,
    /// Another Japanese dictionary than models/ja-dict.
    pub ja_dict: Option<PathBuf>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            capacity: 1,
            queue_timeout: Duration::from_secs(120),
            max_text_chars: 8_192,
            shutdown_grace: Duration::from_secs(30),
            ja_dict: None,
        }
    }
}

pub struct TestWorker {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    pub client: TextToSpeechClient<Channel>,
    stop: Option<oneshot::Sender<()>>,
    pub server: JoinHandle<Result<(), StartupError>>,
}

impl TestWorker {
    /// Triggers the same graceful shutdown as SIGTERM.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn engine_config(settings: &WorkerSettings) -> EngineConfig {
    let model = ModelArgs {
        model_dir: models_dir(),
        model: None,
        voices: None,
        model_version: None,
        ort_dylib_path: Some(ort_dylib()),
        threads: 1,
        first_chunk_chars: ChunkPlan::default().first_chunk_chars,
        max_chunk_chars: ChunkPlan::default().max_chunk_chars,
    };
    let mut config = EngineConfig {
        queue_timeout: settings.queue_timeout,
        max_text_chars: settings.max_text_chars,
        ..model
            .engine_config(settings.capacity)
            .expect("the test settings are valid")
    };
    if let Some(ja_dict) = &settings.ja_dict {
        config.files.ja_dict = ja_dict.clone();
    }
    config
}

/// Starts a worker on a free port, logging only when TEST_LOG is set.
pub async fn spawn_worker(settings: WorkerSettings) -> TestWorker {
    static LOGGING: Once = Once::new();
    LOGGING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            service::init_logging(false, tts_kokoro_worker::LOG_FILTER);
        }
    });
    let app = Application::build(
        engine_config(&settings),
        "127.0.0.1:0".parse().unwrap(),
        settings.shutdown_grace,
    )
    .await
    .expect("the worker starts with the real model");
    let addr = app.local_addr();
    let engine = app.engine();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = TextToSpeechClient::connect(format!("http://{addr}"))
        .await
        .expect("the client connects");
    TestWorker {
        addr,
        engine,
        client,
        stop: Some(stop),
        server,
    }
}

pub fn request(text: &str) -> SynthesizeRequest {
    SynthesizeRequest {
        text: text.into(),
        voice: VOICE.into(),
        speed: 1.0,
        request_id: "test".into(),
    }
}

/// Runs a whole Synthesize call, returning its chunks or the status it failed with.
pub async fn synthesize(
    client: &mut TextToSpeechClient<Channel>,
    request: SynthesizeRequest,
) -> Result<Vec<AudioChunk>, Status> {
    let mut stream = client.synthesize(request).await?.into_inner();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.message().await? {
        chunks.push(chunk);
    }
    Ok(chunks)
}

pub fn seconds(chunks: &[AudioChunk]) -> f64 {
    chunks
        .iter()
        .map(|c| c.pcm.len() as f64 / 2.0 / f64::from(c.sample_rate))
        .sum()
}

pub fn rms(pcm: &[u8]) -> f64 {
    tts_kokoro_worker::audio::pcm16_rms(pcm)
}
