use std::{
    path::{Path, PathBuf},
    sync::Once,
    time::Duration,
};

use proto::v1::{AudioChunk, SynthesizeRequest, text_to_speech_client::TextToSpeechClient};
use tokio::sync::oneshot;
use tonic::{Status, transport::Channel};
use tts_higgs_worker::{
    config::{DTypeChoice, DeviceChoice, ModelArgs},
    engine::EngineConfig,
    startup::Application,
};

/// The catalogue's default Higgs voice, one of the test clips.
pub const VOICE: &str = "en_woman";

pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

/// The tiny checkpoint, its audio tokenizer and the test clips.
pub fn model_args() -> ModelArgs {
    ModelArgs {
        model_dir: fixtures().join("model"),
        tokenizer_dir: fixtures().join("codec"),
        voices_dir: fixtures().join("voices"),
        device: DeviceChoice::Cpu,
        dtype: DTypeChoice::F32,
        model_version: None,
        temperature: 0.3,
        top_k: 50,
        top_p: 0.95,
        // Random weights end a call early, at a random EOS: with this seed the test sentence in
        // `en_woman` lasts 1.48 s, long enough for several chunks.
        seed: 69,
        max_audio_secs: 3,
        // Short chunks, so 1.5 s of audio shows the first-short-then-growing rule.
        first_chunk_ms: 80,
        max_chunk_ms: 320,
    }
}

pub fn engine_config(capacity: usize, max_text_chars: usize) -> EngineConfig {
    EngineConfig {
        max_text_chars,
        queue_timeout: Duration::from_secs(120),
        ..model_args()
            .engine_config(capacity)
            .expect("the test settings are valid")
    }
}

pub struct TestWorker {
    pub client: TextToSpeechClient<Channel>,
    _stop: oneshot::Sender<()>,
}

/// Starts a worker on a free port, logging only when TEST_LOG is set.
pub async fn spawn_worker(config: EngineConfig) -> TestWorker {
    static LOGGING: Once = Once::new();
    LOGGING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            service::init_logging(false, tts_higgs_worker::LOG_FILTER);
        }
    });
    let app = Application::build(config, "127.0.0.1:0".parse().unwrap(), Duration::ZERO)
        .await
        .expect("the worker starts with the tiny checkpoint");
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = TextToSpeechClient::connect(format!("http://{addr}"))
        .await
        .expect("the client connects");
    TestWorker {
        client,
        _stop: stop,
    }
}

pub async fn worker() -> TestWorker {
    spawn_worker(engine_config(1, 300)).await
}

pub fn request(text: &str, voice: &str) -> SynthesizeRequest {
    SynthesizeRequest {
        text: text.into(),
        voice: voice.into(),
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

pub fn samples(chunks: &[AudioChunk]) -> Vec<i16> {
    chunks
        .iter()
        .flat_map(|c| c.pcm.chunks_exact(2))
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect()
}

/// A copy of the fixture folder `name` in a fresh temporary folder, to break on purpose.
pub fn scratch_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "higgs-{name}-{}-{}",
        std::process::id(),
        SCRATCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    copy_dir(&fixtures().join(name), &dir);
    dir
}

static SCRATCH: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
