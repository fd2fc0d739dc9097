//! The TTS worker replicas: found by resolving the configured addresses, described by their
//! `Info`, probed periodically, and leased one call slot at a time so no replica ever has more
//! calls in flight than the capacity it reports.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use proto::blend::VoiceBlend;
use proto::v1::{
    AudioChunk, InfoRequest, InfoResponse, PhonemizeRequest, SynthesizeRequest,
    text_to_speech_client::TextToSpeechClient,
};
use redis::AsyncCommands;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tonic::{
    Code,
    transport::{Channel, Endpoint},
};

use super::Keys;

/// What a call to a worker can fail with.
/// A whole text as a worker rendered it.
#[derive(Debug)]
pub struct Rendered {
    /// s16le mono.
    pub pcm: Vec<u8>,
    pub sample_rate: u32,
    /// Empty from a worker whose model predicts no durations.
    pub words: Vec<super::words::WordTiming>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("the worker refused the request: {0}")]
    Rejected(String),
    #[error("the worker failed: {0}")]
    Failed(String),
    #[error("the worker is unreachable: {0}")]
    Unreachable(String),
    #[error("the worker stream ended before the last chunk")]
    Truncated,
    #[error("the worker took longer than {0:?}")]
    Timeout(Duration),
}

impl From<tonic::Status> for WorkerError {
    fn from(status: tonic::Status) -> Self {
        let message = status.message().to_string();
        match status.code() {
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
                WorkerError::Rejected(message)
            }
            Code::Unavailable | Code::Cancelled | Code::Unknown => {
                WorkerError::Unreachable(message)
            }
            _ => WorkerError::Failed(message),
        }
    }
}

impl From<tonic::transport::Error> for WorkerError {
    fn from(error: tonic::transport::Error) -> Self {
        WorkerError::Unreachable(error.to_string())
    }
}

impl WorkerError {
    /// Retrying the same text elsewhere cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, WorkerError::Rejected(_))
    }
}

/// One worker process at one address.
pub struct Replica {
    pub address: String,
    pub info: InfoResponse,
    client: TextToSpeechClient<Channel>,
    slots: Arc<Semaphore>,
    healthy: AtomicBool,
}

impl Replica {
    /// Whether this replica has the voice, or every voice of the blend.
    pub fn serves(&self, voice: &str) -> bool {
        VoiceBlend::parse(voice).is_ok_and(|blend| {
            blend
                .voices()
                .all(|slug| self.info.voices.iter().any(|v| v.slug == slug))
        })
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> usize {
        (self.info.capacity.max(1) as usize).saturating_sub(self.slots.available_permits())
    }

    /// Renders `text` completely: its PCM (s16le mono), sample rate and word timings. Each
    /// chunk is also handed to `on_chunk` as it arrives (its audio, words and whether it is the
    /// last), so listeners can hear the start of a block before its end is rendered.
    #[tracing::instrument(skip(self, text, on_chunk), fields(replica = %self.address, chars = text.chars().count()))]
    pub async fn synthesize(
        &self,
        text: &str,
        voice: &str,
        speed: f32,
        request_id: &str,
        on_chunk: &mut (dyn FnMut(&AudioChunk) + Send),
    ) -> Result<Rendered, WorkerError> {
        let mut client = self.client.clone();
        let mut stream = client
            .synthesize(SynthesizeRequest {
                text: text.to_string(),
                voice: voice.to_string(),
                speed,
                request_id: request_id.to_string(),
            })
            .await?
            .into_inner();
        let mut pcm = Vec::new();
        let mut words = Vec::new();
        while let Some(chunk) = stream.message().await? {
            on_chunk(&chunk);
            pcm.extend_from_slice(&chunk.pcm);
            words.extend(super::words::from_worker(&chunk.words, chunk.sample_rate));
            if chunk.last {
                return Ok(Rendered {
                    pcm,
                    sample_rate: chunk.sample_rate,
                    words,
                });
            }
        }
        Err(WorkerError::Truncated)
    }

    /// The phonemes this replica would read `text` with in `voice` (debugging a pronunciation).
    #[tracing::instrument(skip(self, text), fields(replica = %self.address))]
    pub async fn phonemize(
        &self,
        text: &str,
        voice: &str,
    ) -> Result<(String, String), WorkerError> {
        let answer = self
            .client
            .clone()
            .phonemize(PhonemizeRequest {
                text: text.to_string(),
                voice: voice.to_string(),
            })
            .await?
            .into_inner();
        Ok((answer.phonemes, answer.language))
    }

    /// A failed call: not used again until the next probe answers.
    pub fn mark_down(&self) {
        self.healthy.store(false, Ordering::Relaxed);
    }
}

/// A call slot on a replica; dropping it frees the slot.
pub struct Lease {
    pub replica: Arc<Replica>,
    _permit: OwnedSemaphorePermit,
    released: Arc<Notify>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.released.notify_waiters();
    }
}

/// The version and sample rate a model's workers run.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    pub version: String,
    pub sample_rate: u32,
}

/// What the live replicas of one model offer.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ModelServing {
    pub replicas: usize,
    pub capacity: usize,
    pub in_flight: usize,
    pub voices: BTreeSet<String>,
    pub max_text_chars: usize,
    /// The speeds every live replica accepts (0 to 0 before the first).
    pub min_speed: f32,
    pub max_speed: f32,
}

pub struct WorkerPool {
    targets: Vec<String>,
    replicas: RwLock<Vec<Arc<Replica>>>,
    versions: Mutex<HashMap<String, ModelVersion>>,
    released: Arc<Notify>,
    redis: redis::aio::ConnectionManager,
    keys: Keys,
}

impl WorkerPool {
    pub fn new(targets: Vec<String>, redis: redis::aio::ConnectionManager, keys: Keys) -> Self {
        Self {
            targets: targets
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            replicas: RwLock::new(Vec::new()),
            versions: Mutex::new(HashMap::new()),
            released: Arc::new(Notify::new()),
            redis,
            keys,
        }
    }

    fn snapshot(&self) -> Vec<Arc<Replica>> {
        self.replicas
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every known replica, live or not (for health).
    pub fn replicas(&self) -> Vec<Arc<Replica>> {
        self.snapshot()
    }

    /// Notified whenever a call slot is freed.
    pub fn released(&self) -> Arc<Notify> {
        Arc::clone(&self.released)
    }

    /// The live replicas of each model.
    pub fn serving(&self) -> BTreeMap<String, ModelServing> {
        let mut models: BTreeMap<String, ModelServing> = BTreeMap::new();
        for replica in self.snapshot().iter().filter(|r| r.is_healthy()) {
            let model = models.entry(replica.info.model_slug.clone()).or_default();
            model.replicas += 1;
            model.capacity += replica.info.capacity.max(1) as usize;
            model.in_flight += replica.in_flight();
            model
                .voices
                .extend(replica.info.voices.iter().map(|v| v.slug.clone()));
            let max = replica.info.max_text_chars as usize;
            model.max_text_chars = if model.max_text_chars == 0 {
                max
            } else {
                model.max_text_chars.min(max)
            };
            let accepted = speeds(&replica.info);
            (model.min_speed, model.max_speed) = if model.replicas == 1 {
                accepted
            } else {
                narrow((model.min_speed, model.max_speed), accepted)
            };
        }
        models
    }

    /// The speeds every live replica of `model` accepts; `None` while none is live. Read from
    /// that model's replicas alone, without building `serving()`: it runs for every request.
    pub fn speeds(&self, model: &str) -> Option<std::ops::RangeInclusive<f32>> {
        self.snapshot()
            .iter()
            .filter(|r| r.is_healthy() && r.info.model_slug == model)
            .map(|r| speeds(&r.info))
            .reduce(narrow)
            .map(|(low, high)| low..=high)
    }

    /// Whether a live replica serves this voice of this model.
    pub fn serves(&self, model: &str, voice: &str) -> bool {
        self.snapshot()
            .iter()
            .any(|r| r.is_healthy() && r.info.model_slug == model && r.serves(voice))
    }

    /// The version of a model the live workers run, or the last one seen (so cached audio still
    /// plays while every worker is down).
    pub fn model_version(&self, model: &str) -> Option<ModelVersion> {
        let live = self
            .snapshot()
            .iter()
            .filter(|r| r.is_healthy() && r.info.model_slug == model)
            .map(|r| ModelVersion {
                version: r.info.model_version.clone(),
                sample_rate: r.info.sample_rate,
            })
            .min_by(|a, b| a.version.cmp(&b.version));
        live.or_else(|| {
            self.versions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(model)
                .cloned()
        })
    }

    /// A free call slot on the least busy live replica of `model` that serves `voice`, avoiding
    /// the `avoid` addresses while another replica is free.
    pub fn try_acquire(&self, model: &str, voice: Option<&str>, avoid: &[String]) -> Option<Lease> {
        self.lease(model, voice, avoid, false)
    }

    /// A free slot, least busy replica first; `exclude` never takes one in `avoid`, otherwise
    /// those come last.
    fn lease(
        &self,
        model: &str,
        voice: Option<&str>,
        avoid: &[String],
        exclude: bool,
    ) -> Option<Lease> {
        let mut candidates: Vec<Arc<Replica>> = self
            .snapshot()
            .into_iter()
            .filter(|r| {
                r.is_healthy()
                    && r.info.model_slug == model
                    && voice.is_none_or(|v| r.serves(v))
                    && !(exclude && avoid.contains(&r.address))
                    && r.slots.available_permits() > 0
            })
            .collect();
        candidates.sort_by_key(|r| {
            (
                avoid.contains(&r.address),
                std::cmp::Reverse(r.slots.available_permits()),
            )
        });
        candidates.into_iter().find_map(|replica| {
            let permit = Arc::clone(&replica.slots).try_acquire_owned().ok()?;
            Some(Lease {
                replica,
                _permit: permit,
                released: Arc::clone(&self.released),
            })
        })
    }

    /// Waits up to `patience` for a slot (see [`WorkerPool::try_acquire`]).
    pub async fn acquire(
        &self,
        model: &str,
        voice: &str,
        avoid: &[String],
        patience: Duration,
    ) -> Option<Lease> {
        let start = tokio::time::Instant::now();
        let deadline = start + patience;
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            // A replica that already failed this job is taken again only when no other live
            // one serves the voice: a busy healthy replica is worth waiting for, a crashing
            // one that happens to be free is not.
            let others = self.snapshot().iter().any(|r| {
                r.is_healthy()
                    && r.info.model_slug == model
                    && r.serves(voice)
                    && !avoid.contains(&r.address)
            });
            if let Some(lease) = self.lease(model, Some(voice), avoid, others) {
                return Some(lease);
            }
            // Busy replicas free up; with none live at all, give the next probe a moment only.
            if !self.serves(model, voice) && start.elapsed() > NO_REPLICA_PATIENCE {
                return None;
            }
            let wait = tokio::time::sleep_until(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(250)),
            );
            tokio::select! {
                _ = released => {},
                _ = wait => {},
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
        }
    }

    /// Resolves every target and asks each address for its `Info`, until `stop`.
    pub async fn run_probes(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        self.load_versions().await;
        loop {
            self.probe().await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {},
                _ = stop.cancelled() => return,
            }
        }
    }

    /// One probe round.
    pub async fn probe(&self) {
        let mut addresses = Vec::new();
        for target in &self.targets {
            match resolve(target).await {
                Ok(found) => addresses.extend(found),
                Err(e) => tracing::warn!(target, error = %e, "cannot resolve worker address"),
            }
        }
        addresses.sort();
        addresses.dedup();
        let known: HashMap<String, Arc<Replica>> = self
            .snapshot()
            .into_iter()
            .map(|r| (r.address.clone(), r))
            .collect();
        let probes = addresses.into_iter().map(|address| {
            let existing = known.get(&address).cloned();
            async move { probe_one(address, existing).await }
        });
        let replicas: Vec<Arc<Replica>> = futures_util::future::join_all(probes)
            .await
            .into_iter()
            .flatten()
            .collect();
        let mut changed_versions = Vec::new();
        {
            let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
            for replica in replicas.iter().filter(|r| r.is_healthy()) {
                let version = ModelVersion {
                    version: replica.info.model_version.clone(),
                    sample_rate: replica.info.sample_rate,
                };
                if versions.get(&replica.info.model_slug) != Some(&version) {
                    versions.insert(replica.info.model_slug.clone(), version.clone());
                    changed_versions.push((replica.info.model_slug.clone(), version));
                }
            }
        }
        let mut redis = self.redis.clone();
        for (model, version) in changed_versions {
            let value = format!("{}|{}", version.sample_rate, version.version);
            let _: Result<(), _> = redis.hset(self.keys.model_versions(), model, value).await;
        }
        *self.replicas.write().unwrap_or_else(|e| e.into_inner()) = replicas;
        self.released.notify_waiters();
    }

    /// The model versions last seen by any gateway, for when no worker is up at start.
    async fn load_versions(&self) {
        let mut redis = self.redis.clone();
        let Ok(seen) = redis
            .hgetall::<_, HashMap<String, String>>(self.keys.model_versions())
            .await
        else {
            return;
        };
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        for (model, value) in seen {
            let Some((rate, version)) = value.split_once('|') else {
                continue;
            };
            let Ok(sample_rate) = rate.parse() else {
                continue;
            };
            versions.entry(model).or_insert(ModelVersion {
                version: version.to_string(),
                sample_rate,
            });
        }
    }
}

/// `http://host:port` → one `http://ip:port` per address the host resolves to.
async fn resolve(target: &str) -> Result<Vec<String>, std::io::Error> {
    let url = url::Url::parse(target).map_err(|e| std::io::Error::other(e.to_string()))?;
    let host = url
        .host_str()
        .ok_or_else(|| std::io::Error::other("no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(50051);
    let scheme = url.scheme();
    Ok(tokio::net::lookup_host((host, port))
        .await?
        .map(|addr| format!("{scheme}://{addr}"))
        .collect())
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a job waits for a replica to come back when none serving its voice is live.
const NO_REPLICA_PATIENCE: Duration = Duration::from_secs(3);

/// Asks an address for its `Info`. An answering replica is live; a known replica that does
/// not answer stays listed but down; an unknown one that does not answer is not listed.
async fn probe_one(address: String, existing: Option<Arc<Replica>>) -> Option<Arc<Replica>> {
    let client = match &existing {
        Some(replica) => replica.client.clone(),
        None => {
            let endpoint = Endpoint::from_shared(address.clone())
                .ok()?
                .connect_timeout(PROBE_TIMEOUT)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(10))
                .keep_alive_timeout(Duration::from_secs(5));
            TextToSpeechClient::new(endpoint.connect_lazy())
                .max_decoding_message_size(64 * 1024 * 1024)
        }
    };
    let answer = tokio::time::timeout(PROBE_TIMEOUT, client.clone().info(InfoRequest {})).await;
    match answer {
        Ok(Ok(info)) => {
            let info = info.into_inner();
            if let Some(replica) = existing
                && replica.info == info
            {
                if !replica.is_healthy() {
                    tracing::info!(address, "worker is back");
                }
                replica.healthy.store(true, Ordering::Relaxed);
                return Some(replica);
            }
            tracing::info!(
                address,
                model = info.model_slug,
                version = info.model_version,
                capacity = info.capacity,
                voices = info.voices.len(),
                "worker found"
            );
            Some(Arc::new(Replica {
                slots: Arc::new(Semaphore::new(info.capacity.max(1) as usize)),
                address,
                info,
                client,
                healthy: AtomicBool::new(true),
            }))
        }
        Ok(Err(_)) | Err(_) => {
            let replica = existing?;
            if replica.healthy.swap(false, Ordering::Relaxed) {
                tracing::warn!(address, "worker stopped answering");
            }
            Some(replica)
        }
    }
}

/// The speeds a worker accepts: its own range, or the contract's whole range from a worker that
/// reports none.
fn speeds(info: &proto::v1::InfoResponse) -> (f32, f32) {
    if info.min_speed == 0.0 && info.max_speed == 0.0 {
        (*super::SPEEDS.start(), *super::SPEEDS.end())
    } else {
        (info.min_speed, info.max_speed)
    }
}

/// The speeds two replicas both accept.
fn narrow((low, high): (f32, f32), (other_low, other_high): (f32, f32)) -> (f32, f32) {
    (low.max(other_low), high.min(other_high))
}
