//! TTS workers for the tests: the real Kokoro worker (in-process, real model, real ONNX
//! Runtime), the real Higgs worker (in-process, on the CPU, with the tiny random-weight
//! checkpoint of its parity fixtures) and a fake that speaks the same gRPC contract for fault
//! injection.

use std::{
    net::SocketAddr,
    path::PathBuf,
    pin::Pin,
    sync::{Arc, Mutex, atomic::Ordering},
    time::Duration,
};

use proto::v1::{
    AudioChunk, Device, InfoRequest, InfoResponse, PhonemizeRequest, PhonemizeResponse,
    SynthesizeRequest, Voice, WordTiming,
    text_to_speech_server::{TextToSpeech, TextToSpeechServer},
};
use tokio::sync::oneshot;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use tts_kokoro_worker::{
    chunking::ChunkPlan,
    config::ModelArgs,
    startup::Application,
    synthesis::{Engine, EngineConfig},
};

/// A voice of the local voice packs that the seeded catalogue lists.
pub const VOICE: &str = "af_heart";

pub struct RealWorker {
    pub url: String,
    pub engine: Arc<Engine>,
    stop: Option<oneshot::Sender<()>>,
}

impl RealWorker {
    /// Syntheses this worker started.
    pub fn jobs(&self) -> u64 {
        self.engine.stats().jobs_started.load(Ordering::Relaxed)
    }

    /// Stops it with no grace: running calls are cancelled, as when the process is killed.
    pub fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn engine_config() -> EngineConfig {
    let model_dir = std::env::var_os("KOKORO_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../models")));
    let ort = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .expect(
            "ORT_DYLIB_PATH must point at libonnxruntime.so; run the tests through `make test`",
        );
    ModelArgs {
        model_dir,
        model: None,
        voices: None,
        model_version: Some("test-model".into()),
        ort_dylib_path: Some(ort),
        threads: 1,
        first_chunk_chars: ChunkPlan::default().first_chunk_chars,
        max_chunk_chars: ChunkPlan::default().max_chunk_chars,
    }
    .engine_config(1)
    .expect("the test worker settings are valid")
}

/// The real Kokoro worker on a free port, capacity 1, one thread.
pub async fn real_worker() -> RealWorker {
    let app = Application::build(
        engine_config(),
        "127.0.0.1:0".parse().unwrap(),
        Duration::ZERO,
    )
    .await
    .expect("the worker starts with the real model");
    let url = format!("http://{}", app.local_addr());
    let engine = app.engine();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    RealWorker {
        url,
        engine,
        stop: Some(stop),
    }
}

/// The Higgs worker on a free port with the tiny checkpoint and its two test voices
/// (`belinda`, `en_woman`); its audio is noise, its contract is the real one.
pub async fn higgs_worker() -> (String, oneshot::Sender<()>) {
    let fixtures = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tts-higgs-worker/tests/fixtures"
    ));
    let args = tts_higgs_worker::config::ModelArgs {
        model_dir: fixtures.join("model"),
        tokenizer_dir: fixtures.join("codec"),
        voices_dir: fixtures.join("voices"),
        device: tts_higgs_worker::config::DeviceChoice::Cpu,
        dtype: tts_higgs_worker::config::DTypeChoice::F32,
        model_version: Some("tiny".into()),
        temperature: 0.3,
        top_k: 50,
        top_p: 0.95,
        seed: 1,
        max_audio_secs: 2,
        first_chunk_ms: 480,
        max_chunk_ms: 3840,
    };
    let app = tts_higgs_worker::startup::Application::build(
        args.engine_config(1).expect("the test settings are valid"),
        "127.0.0.1:0".parse().unwrap(),
        Duration::ZERO,
    )
    .await
    .expect("the Higgs worker starts with the tiny checkpoint");
    let url = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    (url, stop)
}

/// How the fake worker misbehaves.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Answers at once with a short tone.
    None,
    /// Takes this long before its first chunk.
    Slow(Duration),
    /// Sends one chunk, then fails as a crashing process's stream would.
    CrashMidStream,
    /// Sends three chunks with this pause before the second and the third, as a long block
    /// rendered chunk by chunk.
    Paced(Duration),
    /// Takes this long, then fails with an error worth another try (the model failed).
    FailAfter(Duration),
}

pub struct FakeWorker {
    pub url: String,
    /// The texts it was asked to speak, in the order the calls arrived.
    texts: Arc<Mutex<Vec<String>>>,
    /// The texts whose audio it delivered to the end, to a caller still listening.
    finished: Arc<Mutex<Vec<String>>>,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeWorker {
    pub fn calls(&self) -> usize {
        self.texts.lock().unwrap().len()
    }

    pub fn texts(&self) -> Vec<String> {
        self.texts.lock().unwrap().clone()
    }

    pub fn finished(&self) -> Vec<String> {
        self.finished.lock().unwrap().clone()
    }

    pub fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for FakeWorker {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Drop for RealWorker {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Fake {
    fault: Fault,
    texts: Arc<Mutex<Vec<String>>>,
    finished: Arc<Mutex<Vec<String>>>,
}

/// 0.1 s of a 440 Hz tone at 24 kHz, s16le.
fn tone() -> Vec<u8> {
    (0..2400)
        .flat_map(|i| {
            let t = i as f32 / 24_000.0;
            (((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16).to_le_bytes()
        })
        .collect()
}

/// The fake's word timings for chunk `sequence` of `chunks`: the text's words (runs of
/// non-space characters) shared out over the chunks in order, each chunk's spread evenly over
/// its 0.1 s, in samples from the start of the call as the contract counts them.
fn fake_words(text: &str, sequence: u32, chunks: u32) -> Vec<WordTiming> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().chain(std::iter::once(&' ')).enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(from)) => {
                words.push((from, i));
                start = None;
            }
            _ => {}
        }
    }
    let n = words.len() as u32;
    let mine: Vec<(usize, usize)> = words
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i as u32 * chunks / n.max(1) == sequence)
        .map(|(_, w)| w)
        .collect();
    let per_word = 2_400 / mine.len().max(1) as u64;
    let chunk_start = u64::from(sequence) * 2_400;
    mine.iter()
        .enumerate()
        .map(|(k, &(from, to))| WordTiming {
            char_start: from as u32,
            char_end: to as u32,
            text: chars[from..to].iter().collect(),
            start_sample: chunk_start + k as u64 * per_word,
            end_sample: chunk_start + (k as u64 + 1) * per_word,
        })
        .collect()
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<AudioChunk, Status>> + Send>>;

#[tonic::async_trait]
impl TextToSpeech for Fake {
    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        Ok(Response::new(InfoResponse {
            model_slug: "kokoro".into(),
            model_version: "test-model".into(),
            sample_rate: 24_000,
            device: Device::Cpu.into(),
            threads: 1,
            // A crashing worker claims more room, so the gateway tries it first.
            capacity: if matches!(self.fault, Fault::CrashMidStream) {
                2
            } else {
                1
            },
            voices: vec![Voice {
                slug: VOICE.into(),
                name: "Alpha".into(),
                language: "ja".into(),
            }],
            max_text_chars: 8192,
            // As a worker from before the speed range: the contract's whole range.
            min_speed: 0.0,
            max_speed: 0.0,
        }))
    }

    async fn phonemize(
        &self,
        _: Request<PhonemizeRequest>,
    ) -> Result<Response<PhonemizeResponse>, Status> {
        Err(Status::unimplemented("the fake worker reads no phonemes"))
    }

    type SynthesizeStream = ChunkStream;

    async fn synthesize(
        &self,
        request: Request<SynthesizeRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        let text = request.into_inner().text;
        self.texts.lock().unwrap().push(text.clone());
        let fault = self.fault;
        let stream = async_stream(fault, text, Arc::clone(&self.finished));
        Ok(Response::new(stream))
    }
}

fn async_stream(fault: Fault, text: String, finished: Arc<Mutex<Vec<String>>>) -> ChunkStream {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let chunks = if matches!(fault, Fault::Paced(_)) {
            3
        } else {
            1
        };
        let chunk = |sequence, last| AudioChunk {
            pcm: tone(),
            sample_rate: 24_000,
            sequence,
            last,
            text: String::new(),
            words: fake_words(&text, sequence, chunks),
        };
        match fault {
            Fault::None => {
                if tx.send(Ok(chunk(0, true))).await.is_ok() {
                    finished.lock().unwrap().push(text);
                }
            }
            Fault::Slow(delay) => {
                tokio::time::sleep(delay).await;
                // A caller that hung up meanwhile (its gateway stopped) gets nothing.
                if tx.send(Ok(chunk(0, true))).await.is_ok() {
                    finished.lock().unwrap().push(text);
                }
            }
            Fault::Paced(pause) => {
                for sequence in 0..3 {
                    if sequence > 0 {
                        tokio::time::sleep(pause).await;
                    }
                    if tx.send(Ok(chunk(sequence, sequence == 2))).await.is_err() {
                        return;
                    }
                }
                finished.lock().unwrap().push(text);
            }
            Fault::FailAfter(delay) => {
                tokio::time::sleep(delay).await;
                let _ = tx.send(Err(Status::internal("the model failed"))).await;
            }
            Fault::CrashMidStream => {
                let _ = tx.send(Ok(chunk(0, false))).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx
                    .send(Err(Status::unavailable("worker process died")))
                    .await;
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

pub async fn fake_worker(fault: Fault) -> FakeWorker {
    fake_worker_on(0, fault).await
}

/// A fake worker on `port` (0: a free one), e.g. one that comes back where another one was.
pub async fn fake_worker_on(port: u16, fault: Fault) -> FakeWorker {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let texts = Arc::new(Mutex::new(Vec::new()));
    let finished = Arc::new(Mutex::new(Vec::new()));
    let service = TextToSpeechServer::new(Fake {
        fault,
        texts: Arc::clone(&texts),
        finished: Arc::clone(&finished),
    });
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );
    FakeWorker {
        url: format!("http://{addr}"),
        texts,
        finished,
        stop: Some(stop),
    }
}
