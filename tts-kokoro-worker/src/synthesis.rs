//! The synthesis engine: turns a request into utterances (chunking, phonemes, token ids), then
//! renders them on a small pool of OS threads, each owning one ONNX session. Requests reach a
//! thread through a channel carrying the job, its tracing span and the reply channel; a
//! semaphore sized by capacity bounds how many run at once and how long a caller waits.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc as std_mpsc,
    },
    time::{Duration, Instant},
};

use ort::session::RunOptions;
use proto::blend::VoiceBlend;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::Instrument;

use crate::{
    audio,
    chunking::{self, Boundary, ChunkPlan, TextChunk},
    g2p::{G2p, G2pError, Language},
    model::{
        self, KokoroSession, MAX_TOKENS, ModelError, ModelFiles, ResolveError, SAMPLE_RATE,
        SAMPLES_PER_FRAME, Vocab, VocabError, VoiceError, VoicePack, VoiceSet,
    },
    words::{self, WordTiming, WordTokens},
};

pub const MIN_SPEED: f32 = 0.5;
pub const MAX_SPEED: f32 = 2.0;

/// Everything the engine needs, validated by the caller's config layer.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub files: ModelFiles,
    pub ort_dylib: PathBuf,
    /// Intra-op threads of each session.
    pub threads: usize,
    /// Sessions, hence requests rendered at once.
    pub capacity: usize,
    /// How long a request waits for a free session before RESOURCE_EXHAUSTED.
    pub queue_timeout: Duration,
    pub max_text_chars: usize,
    pub chunk_plan: ChunkPlan,
    /// Overrides the version derived from the model file's checksum.
    pub model_version: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Voices(#[from] VoiceError),
    #[error(transparent)]
    Vocab(#[from] VocabError),
    #[error(transparent)]
    G2p(#[from] G2pError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot start a synthesis thread: {0}")]
    Thread(std::io::Error),
}

/// Why a request was refused or ended; the server maps each to a gRPC status.
#[derive(Debug, thiserror::Error)]
pub enum SynthesisError {
    #[error("text is empty")]
    EmptyText,
    #[error("text is {chars} characters long; the limit is {limit}")]
    TextTooLong { chars: usize, limit: usize },
    #[error("unknown voice '{voice}'; this worker has: {}", available.join(", "))]
    UnknownVoice {
        voice: String,
        available: Vec<String>,
    },
    #[error(transparent)]
    BadBlend(#[from] proto::blend::BlendError),
    #[error(
        "voice blend {blend:?} mixes languages ({}); blend voices of one language",
        languages.join(", ")
    )]
    MixedLanguages {
        blend: String,
        languages: Vec<String>,
    },
    #[error("speed {0} is out of range; use {MIN_SPEED} to {MAX_SPEED}")]
    BadSpeed(f32),
    #[error("the text has nothing the model can pronounce")]
    NothingToSay,
    /// The voice's language cannot be read here (Japanese without its dictionary).
    #[error(transparent)]
    LanguageUnavailable(G2pError),
    #[error(
        "all {capacity} synthesis slots stayed busy for {waited:?}; try again or another replica"
    )]
    Busy { capacity: usize, waited: Duration },
    #[error("the worker is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// One synthesis request.
#[derive(Debug, Clone)]
pub struct SynthesisRequest {
    pub text: String,
    pub voice: String,
    /// 0 means 1.0.
    pub speed: f32,
    pub request_id: String,
}

/// One utterance ready for the model.
#[derive(Debug, Clone)]
pub struct Utterance {
    pub text: String,
    pub phoneme_ids: Vec<i64>,
    pub boundary: Boundary,
    /// Its written words, placed in the request's text (characters), each with the phoneme ids
    /// that speak it.
    pub words: Vec<WordTokens>,
}

/// Audio for one utterance, as it leaves the engine.
#[derive(Debug, Clone)]
pub struct RenderedChunk {
    /// 16-bit little-endian mono PCM at [`SAMPLE_RATE`].
    pub pcm: Vec<u8>,
    pub text: String,
    pub sequence: u32,
    pub last: bool,
    /// When each written word of this chunk is spoken: characters of the request's text and
    /// samples from the start of the request's audio (all chunks before this one included).
    /// Empty from a model that predicts no durations.
    pub words: Vec<WordTiming>,
}

/// Counters that let operators and tests see work done and work saved.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub jobs_started: AtomicU64,
    pub jobs_completed: AtomicU64,
    pub jobs_cancelled: AtomicU64,
    pub utterances_rendered: AtomicU64,
}

struct Job {
    utterances: Vec<Utterance>,
    voice: Arc<VoicePack>,
    speed: f32,
    reply: mpsc::Sender<Result<RenderedChunk, SynthesisError>>,
    cancel: CancellationToken,
    run_options: Arc<RunOptions>,
    shutdown: CancellationToken,
    span: tracing::Span,
    _permit: OwnedSemaphorePermit,
    /// Ends the job's cancellation watcher however the job ends, even if no thread takes it.
    _done: DropGuard,
}

/// Text → utterances: chunking, phonemes, token ids. Cheap to clone onto a blocking thread.
#[derive(Clone)]
pub struct TextFrontend {
    g2p: Arc<G2p>,
    vocab: Arc<Vocab>,
    plan: ChunkPlan,
}

impl TextFrontend {
    /// Utterances within the model's token limit, read in `language`; those with nothing to
    /// pronounce are dropped.
    pub fn prepare(&self, text: &str, language: Language) -> Vec<Utterance> {
        let mut utterances = Vec::new();
        let chunks = self.plan.split(text);
        for (i, chunk) in chunks.iter().enumerate() {
            // A chunk cut inside a clause is read as the sentence goes on, so its last word
            // keeps its running form ("a", "to") instead of the one before a pause.
            let following = match chunk.boundary {
                Boundary::None | Boundary::Word => chunks.get(i + 1).map(|c| c.text.as_str()),
                _ => None,
            };
            self.prepare_chunk(chunk.clone(), language, following, &mut utterances, 0);
        }
        place_words(text, &mut utterances);
        utterances
    }

    fn prepare_chunk(
        &self,
        chunk: TextChunk,
        language: Language,
        following: Option<&str>,
        out: &mut Vec<Utterance>,
        depth: u32,
    ) {
        let phonemized = self.g2p.phonemize_words(&chunk.text, language, following);
        let phoneme_ids = self.vocab.encode(&phonemized.phonemes);
        if phoneme_ids.iter().all(|&id| is_pause_symbol(id)) {
            return;
        }
        // Phonemes of a chunk within its character budget almost always fit; dense text
        // (digits, symbols, spelled-out acronyms) can expand past the limit and is halved.
        if phoneme_ids.len() > MAX_TOKENS && depth < 8 {
            let (a, b) = chunking::halve(&chunk);
            let b_text = b.text.clone();
            let a_following = match a.boundary {
                Boundary::None | Boundary::Word => Some(b_text.as_str()),
                _ => None,
            };
            self.prepare_chunk(a, language, a_following, out, depth + 1);
            self.prepare_chunk(b, language, following, out, depth + 1);
            return;
        }
        let written = words::written_words(&chunk.text);
        let owners = words::assign(&written, &phonemized.words, |word| {
            self.g2p.word_texts(word, language)
        });
        let tokens = words::token_ranges(&phonemized.phonemes, &phonemized.words, |c| {
            self.vocab.knows(c)
        });
        out.push(Utterance {
            text: chunk.text,
            phoneme_ids,
            boundary: chunk.boundary,
            words: words::word_tokens(written, &tokens, &owners),
        });
    }
}

/// Moves each utterance's written words from characters of its own text to characters of the
/// request's `text`. The chunker rebuilds a chunk's text with single spaces, so each word is
/// found in the request after the one before it.
fn place_words(text: &str, utterances: &mut [Utterance]) {
    let mut byte = 0;
    let mut char_at_byte = 0;
    for utterance in utterances {
        for entry in &mut utterance.words {
            let Some(found) = text[byte..].find(entry.word.text.as_str()) else {
                continue;
            };
            char_at_byte += text[byte..byte + found].chars().count();
            byte += found;
            let len = entry.word.chars.len();
            entry.word.chars = char_at_byte..char_at_byte + len;
            char_at_byte += len;
            byte += entry.word.text.len();
        }
    }
}

pub struct Engine {
    frontend: TextFrontend,
    voices: VoiceSet,
    config: EngineConfig,
    model_version: String,
    slots: Arc<Semaphore>,
    jobs: std_mpsc::Sender<Job>,
    shutdown: CancellationToken,
    stats: Arc<EngineStats>,
}

impl Engine {
    /// Loads the model into `capacity` sessions and starts a thread for each.
    pub fn load(config: EngineConfig) -> Result<Self, LoadError> {
        let environment = model::runtime(&config.ort_dylib)?;
        let voices = VoiceSet::load(&config.files.voices)?;
        let vocab = Arc::new(Vocab::load(&config.files.vocab)?);
        let g2p = Arc::new(G2p::load(&config.files.lexicon_dir, &config.files.ja_dict)?);
        let model_version = match &config.model_version {
            Some(version) => version.clone(),
            None => version_of(&config.files.model)?,
        };
        let capacity = config.capacity.max(1);
        let (jobs, queue) = std_mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let stats = Arc::new(EngineStats::default());
        for slot in 0..capacity {
            let session =
                KokoroSession::load(environment, &config.files.model, config.threads.max(1))?;
            let queue = Arc::clone(&queue);
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name(format!("kokoro-session-{slot}"))
                .spawn(move || session_thread(session, &queue, &stats))
                .map_err(LoadError::Thread)?;
        }
        tracing::info!(
            model = %config.files.model.display(),
            %model_version,
            voices = ?voices.slugs(),
            threads = config.threads,
            capacity,
            "model loaded"
        );
        Ok(Self {
            frontend: TextFrontend {
                g2p,
                vocab,
                plan: config.chunk_plan,
            },
            voices,
            model_version,
            slots: Arc::new(Semaphore::new(capacity)),
            jobs,
            shutdown: CancellationToken::new(),
            stats,
            config: EngineConfig { capacity, ..config },
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn voices(&self) -> &VoiceSet {
        &self.voices
    }

    pub fn model_version(&self) -> &str {
        &self.model_version
    }

    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    pub fn frontend(&self) -> &TextFrontend {
        &self.frontend
    }

    /// Stops taking requests and cancels those running.
    pub fn shut_down(&self) {
        self.shutdown.cancel();
    }

    /// The phonemes `voice` (or a blend) would read `text` with, and that language's tag.
    pub async fn phonemize(
        &self,
        text: String,
        voice: &str,
    ) -> Result<(String, &'static str), SynthesisError> {
        self.check_text(&text)?;
        let voice = self.resolve_voice(voice)?;
        let language = Language::of_voice(&voice.slug).unwrap_or(Language::AmericanEnglish);
        self.frontend
            .g2p
            .supports(language)
            .map_err(SynthesisError::LanguageUnavailable)?;
        let g2p = Arc::clone(&self.frontend.g2p);
        let phonemes = tokio::task::spawn_blocking(move || g2p.phonemize_in(&text, language))
            .await
            .map_err(|e| ModelError::Inference(format!("phonemizing the text failed: {e}")))?;
        Ok((phonemes, language.tag()))
    }

    fn check_text(&self, text: &str) -> Result<(), SynthesisError> {
        if text.trim().is_empty() {
            return Err(SynthesisError::EmptyText);
        }
        let chars = text.chars().count();
        if chars > self.config.max_text_chars {
            return Err(SynthesisError::TextTooLong {
                chars,
                limit: self.config.max_text_chars,
            });
        }
        Ok(())
    }

    /// A voice or a blend of loaded voices of one language.
    fn resolve_voice(&self, voice: &str) -> Result<Arc<VoicePack>, SynthesisError> {
        let blend = VoiceBlend::parse(voice)?;
        self.voices.resolve(&blend).map_err(|e| match e {
            ResolveError::Unknown(unknown) => SynthesisError::UnknownVoice {
                voice: unknown,
                available: self.voices.slugs().iter().map(|s| s.to_string()).collect(),
            },
            ResolveError::MixedLanguages(languages) => SynthesisError::MixedLanguages {
                blend: voice.to_owned(),
                languages,
            },
        })
    }

    /// Validates and queues a request; the receiver yields its chunks as they are rendered. A
    /// caller that drops the receiver stops the work; one that drops this future while it waits
    /// for a slot simply leaves the queue.
    pub async fn synthesize(
        &self,
        request: SynthesisRequest,
    ) -> Result<mpsc::Receiver<Result<RenderedChunk, SynthesisError>>, SynthesisError> {
        if self.shutdown.is_cancelled() {
            return Err(SynthesisError::ShuttingDown);
        }
        let chars = request.text.chars().count();
        self.check_text(&request.text)?;
        let speed = if request.speed == 0.0 {
            1.0
        } else {
            request.speed
        };
        if !(MIN_SPEED..=MAX_SPEED).contains(&speed) {
            return Err(SynthesisError::BadSpeed(request.speed));
        }
        let voice = self.resolve_voice(&request.voice)?;

        let span = tracing::info_span!(
            "synthesize",
            request_id = %request.request_id,
            voice = %request.voice,
            chars,
            utterances = tracing::field::Empty,
        );
        // Each voice speaks its own language; a voice file with slugs of no known language
        // (a custom pack) is read as American English.
        let language = Language::of_voice(&voice.slug).unwrap_or(Language::AmericanEnglish);
        self.frontend
            .g2p
            .supports(language)
            .map_err(SynthesisError::LanguageUnavailable)?;
        let frontend = self.frontend.clone();
        let text = request.text;
        let utterances = tokio::task::spawn_blocking(move || frontend.prepare(&text, language))
            .instrument(span.clone())
            .await
            .map_err(|e| ModelError::Inference(format!("preparing the text failed: {e}")))?;
        if utterances.is_empty() {
            return Err(SynthesisError::NothingToSay);
        }
        span.record("utterances", utterances.len());

        let waited = Instant::now();
        let slot = Arc::clone(&self.slots).acquire_owned();
        let permit = tokio::select! {
            permit = tokio::time::timeout(self.config.queue_timeout, slot) => match permit {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => return Err(SynthesisError::ShuttingDown),
                Err(_) => return Err(SynthesisError::Busy {
                    capacity: self.config.capacity,
                    waited: waited.elapsed(),
                }),
            },
            _ = self.shutdown.cancelled() => return Err(SynthesisError::ShuttingDown),
        };
        tracing::debug!(parent: &span, queue_wait_ms = waited.elapsed().as_millis() as u64, "slot acquired");

        let run_options =
            Arc::new(RunOptions::new().map_err(|e| ModelError::Inference(e.to_string()))?);
        // The reply channel holds a whole request's chunks, so a slow reader never holds a session.
        let (reply, chunks) = mpsc::channel(utterances.len() + 1);
        let cancel = CancellationToken::new();
        let job_done = CancellationToken::new();
        tokio::spawn(watch_for_cancellation(
            reply.clone(),
            cancel.clone(),
            self.shutdown.clone(),
            job_done.clone(),
            Arc::clone(&run_options),
        ));
        let job = Job {
            utterances,
            voice,
            speed,
            reply,
            cancel,
            run_options,
            shutdown: self.shutdown.clone(),
            span,
            _permit: permit,
            _done: job_done.drop_guard(),
        };
        self.jobs
            .send(job)
            .map_err(|_| SynthesisError::ShuttingDown)?;
        Ok(chunks)
    }
}

/// Interrupts a job's inference the moment its caller leaves or the worker shuts down, so no CPU
/// is spent on audio nobody will hear.
async fn watch_for_cancellation(
    reply: mpsc::Sender<Result<RenderedChunk, SynthesisError>>,
    cancel: CancellationToken,
    shutdown: CancellationToken,
    job_done: CancellationToken,
    run_options: Arc<RunOptions>,
) {
    tokio::select! {
        _ = reply.closed() => {},
        _ = shutdown.cancelled() => {},
        _ = job_done.cancelled() => return,
    }
    cancel.cancel();
    if let Err(e) = run_options.terminate() {
        tracing::warn!(error = %e, "could not interrupt a running inference");
    }
}

/// Ids of symbols that carry no sound (space and punctuation in Kokoro's vocabulary).
fn is_pause_symbol(id: i64) -> bool {
    (1..=16).contains(&id)
}

fn version_of(model: &std::path::Path) -> Result<String, LoadError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let path = model.display().to_string();
    let mut file = std::fs::File::open(model)
        .map_err(|_| LoadError::Model(ModelError::MissingModel(path.clone())))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let hex: String = hasher.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("v1.0-{hex}"))
}

fn session_thread(
    mut session: KokoroSession,
    queue: &Mutex<std_mpsc::Receiver<Job>>,
    stats: &EngineStats,
) {
    loop {
        // The lock is held only while waiting for the next job.
        let job = match queue.lock() {
            Ok(queue) => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let span = job.span.clone();
        let _entered = span.enter();
        // A panic inside ONNX Runtime's wrapper must not silently cost the worker a slot.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            render(&mut session, job, stats)
        }));
        if outcome.is_err() {
            tracing::error!("a synthesis job panicked; the session thread carries on");
        }
    }
}

fn render(session: &mut KokoroSession, job: Job, stats: &EngineStats) {
    stats.jobs_started.fetch_add(1, Ordering::Relaxed);
    let count = job.utterances.len();
    let cancelled = |rendered: usize| {
        stats.jobs_cancelled.fetch_add(1, Ordering::Relaxed);
        tracing::info!(rendered, of = count, "cancelled");
        // A caller that left hears nothing; one still listening learns why its audio stopped.
        if job.shutdown.is_cancelled() {
            let _ = job.reply.try_send(Err(SynthesisError::ShuttingDown));
        }
    };
    // Samples of the request's audio sent so far: where this chunk's word timings start.
    let mut elapsed = 0u64;
    for (sequence, utterance) in job.utterances.iter().enumerate() {
        if job.cancel.is_cancelled() {
            return cancelled(sequence);
        }
        let started = Instant::now();
        let style = job.voice.style_for(utterance.phoneme_ids.len());
        let inference =
            match session.infer(&utterance.phoneme_ids, style, job.speed, &job.run_options) {
                Ok(inference) => inference,
                Err(_) if job.cancel.is_cancelled() => return cancelled(sequence),
                Err(e) => {
                    tracing::error!(error = %e, "inference failed");
                    let _ = job.reply.blocking_send(Err(e.into()));
                    return;
                }
            };
        stats.utterances_rendered.fetch_add(1, Ordering::Relaxed);
        let last = sequence + 1 == count;
        let pause = if last {
            0
        } else {
            utterance.boundary.pause_ms()
        };
        let shaped = audio::shape(&inference.samples, sequence == 0, pause, job.speed);
        let words = chunk_words(utterance, &inference.durations, &shaped, elapsed);
        elapsed += shaped.samples.len() as u64;
        tracing::debug!(
            sequence,
            tokens = utterance.phoneme_ids.len(),
            audio_ms = shaped.samples.len() as u64 * 1000 / u64::from(SAMPLE_RATE),
            synth_ms = started.elapsed().as_millis() as u64,
            "utterance rendered"
        );
        let chunk = RenderedChunk {
            pcm: audio::to_pcm16(&shaped.samples),
            text: utterance.text.clone(),
            sequence: sequence as u32,
            last,
            words,
        };
        if job.reply.blocking_send(Ok(chunk)).is_err() {
            return cancelled(sequence + 1);
        }
    }
    stats.jobs_completed.fetch_add(1, Ordering::Relaxed);
}

/// The utterance's word timings in the request's audio: the model's times moved as shaping
/// moved its samples, kept within the voiced part, then after the `elapsed` samples before it.
fn chunk_words(
    utterance: &Utterance,
    durations: &[u32],
    shaped: &audio::Shaped,
    elapsed: u64,
) -> Vec<WordTiming> {
    let place = |sample: u64| {
        let at = (sample as i64 + shaped.origin).clamp(0, shaped.voiced as i64) as u64;
        elapsed + at
    };
    words::time_words(&utterance.words, durations, SAMPLES_PER_FRAME as u64)
        .into_iter()
        .map(|mut timing| {
            timing.samples = place(timing.samples.start)..place(timing.samples.end);
            timing
        })
        .collect()
}
