//! Synthesis: the content-addressed audio cache, the Redis job queues, completion events over
//! Redis pub/sub, and the dispatchers that fan jobs out over gRPC to worker replicas.
//!
//! A listener (a WebSocket or `POST /v1/audio/speech`) computes a block's variant hash, looks in
//! the cache, and otherwise subscribes to the hash's completion *before* enqueueing it, so a
//! completion can never slip between the two. Enqueueing a variant that is already queued or
//! running only joins it: one synthesis however many listeners want it.

pub mod dispatch;
pub mod events;
pub mod queue;
pub mod store;
pub mod variant;
pub mod wav;
pub mod words;
pub mod workers;

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

pub use events::{EventHub, HubMessage, Subscription};
/// How urgent a wanted variant is: its tier (distance from the listener's cursor) and score.
pub use queue::{Enqueued, JobSpec, MAX_TIER, Queue, Released, score, tier_for};
pub use store::{AudioStore, ColdStore, SegmentNote};
pub use variant::Variant;
pub use workers::WorkerPool;

/// Redis key names, all under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }
    pub fn audio(&self, hash: &str) -> String {
        format!("{}audio:{hash}", self.prefix)
    }
    /// The word timings beside `audio(hash)`, as JSON.
    pub fn words(&self, hash: &str) -> String {
        format!("{}words:{hash}", self.prefix)
    }
    pub fn job(&self, hash: &str) -> String {
        format!("{}job:{hash}", self.prefix)
    }
    pub fn queue(&self, model: &str) -> String {
        format!("{}queue:{model}", self.prefix)
    }
    pub fn processing(&self, model: &str) -> String {
        format!("{}processing:{model}", self.prefix)
    }
    /// A gateway's lease: present while that gateway lives.
    pub fn gateway(&self, id: &str) -> String {
        format!("{}gateway:{id}", self.prefix)
    }
    pub fn dead(&self, model: &str) -> String {
        format!("{}dead:{model}", self.prefix)
    }
    /// One hash: model slug → "sample rate|version" last seen on a live worker.
    pub fn model_versions(&self) -> String {
        format!("{}model-versions", self.prefix)
    }
    /// One rendered chunk of a variant still being synthesized (a segment listeners play
    /// before the whole block is cached), kept briefly.
    pub fn segment(&self, hash: &str, index: u32) -> String {
        format!("{}segment:{hash}:{index}", self.prefix)
    }
    /// The notes of a variant's segments (duration, last, words), one hash field per index,
    /// kept as long as the segments.
    pub fn segment_notes(&self, hash: &str) -> String {
        format!("{}segment-notes:{hash}", self.prefix)
    }
    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }
}

/// What happened to a job, published to every gateway.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub hash: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EventKind {
    /// A job joined a model's queue: wake that model's dispatchers.
    Enqueued { model: String },
    /// A worker started on it.
    Processing,
    /// The worker rendering it went away and no other was live: it waits in the queue again.
    Requeued,
    /// The audio of one chunk is in the segment store (for a short while): listeners can play
    /// it before the block is complete and follow its words. Segments are numbered from 0 in
    /// playing order; the `last` one ends the block.
    Segment(SegmentNote),
    /// The audio is in the cache.
    Cached { duration_ms: u64 },
    /// It was given up on.
    Error { error: String },
    /// The worker found nothing it can say in the text (only emoji, only punctuation, a script
    /// its phonemizer does not read): a listener skips it, the speech endpoint answers 422.
    Unspeakable { reason: String },
}

impl Event {
    pub fn new(hash: &str, kind: EventKind) -> Self {
        Self {
            hash: hash.to_string(),
            kind,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Where the pipeline reports what a finished synthesis cost the user who caused it. A trait, so
/// that `synthesis` depends on no ledger (the gateway's is `usage::Ledger`, in Postgres).
pub trait UsageLedger: Send + Sync + 'static {
    /// Counts `characters` rendered into `audio_ms` of audio for `user`; failures are the
    /// ledger's words, logged by the caller.
    fn record(
        &self,
        user: uuid::Uuid,
        characters: i64,
        audio_ms: i64,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

/// The speeds every worker accepts (the `tts.v1` contract's range).
pub const SPEEDS: std::ops::RangeInclusive<f32> = 0.5..=2.0;

/// Refuses a speed outside `accepted` (the contract's range, narrowed to what a model's live
/// workers report), saying which are fine.
pub fn check_speed(
    model: &str,
    speed: f32,
    accepted: std::ops::RangeInclusive<f32>,
) -> Result<(), String> {
    if SPEEDS.contains(&speed) && accepted.contains(&speed) {
        return Ok(());
    }
    if accepted.start() == accepted.end() {
        return Err(format!(
            "model {model} speaks at speed {} only, not {speed}; players change the speed on playback",
            accepted.start()
        ));
    }
    Err(format!(
        "speed {speed} is out of range; use {} to {}",
        accepted.start().max(*SPEEDS.start()),
        accepted.end().min(*SPEEDS.end())
    ))
}

/// What a listener hears when no live worker serves the voice it asked for.
pub fn unserved(model: &str, voice: &str) -> String {
    format!(
        "voice {voice:?} of model {model} is not served by any running worker right now; \
         choose an available voice from /v1/models"
    )
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Settings of the pipeline, taken from the gateway configuration.
#[derive(Debug, Clone)]
pub struct SynthesisSettings {
    /// A worker call's time limit for an empty text; each character adds `call_per_char`.
    pub call_timeout: Duration,
    pub call_per_char: Duration,
    pub max_attempts: u32,
    pub lease: Duration,
    pub hot_ttl_secs: u64,
    pub probe_every: Duration,
}

impl SynthesisSettings {
    /// How long one worker call for `text` may take: longer text takes longer to render, so
    /// a passage at the block limit is not held to the limit of a short sentence (nor a short
    /// sentence to that of a long passage).
    pub fn call_timeout_for(&self, text: &str) -> Duration {
        self.call_timeout + self.call_per_char * text.chars().count() as u32
    }
}

/// The pipeline behind one small API. Listeners (the WebSocket, the speech endpoint) `want` a
/// variant, `unwant` or `leave` it, `reprioritize` what they wait for and `recheck` it after a
/// reconnect, and hear of it through their [`Subscription`] (a stream of events per listener);
/// the read side (cached audio, words, segments) is the [`AudioStore`]. The queue, the event hub
/// and the worker pool stay inside.
pub struct Synthesis {
    pool: Arc<WorkerPool>,
    queue: Arc<Queue>,
    store: Arc<AudioStore>,
    hub: Arc<EventHub>,
    settings: SynthesisSettings,
}

/// What a listener needs to know to start waiting for a variant.
#[derive(Debug, Clone)]
pub struct Target {
    pub hash: String,
    pub sample_rate: u32,
}

impl Synthesis {
    pub fn new(
        pool: Arc<WorkerPool>,
        queue: Queue,
        store: AudioStore,
        settings: SynthesisSettings,
    ) -> Self {
        Self {
            pool,
            queue: Arc::new(queue),
            store: Arc::new(store),
            hub: Arc::new(EventHub::default()),
            settings,
        }
    }

    /// Starts the background work until `stop`: this gateway's lease (taken now, so its
    /// listeners' claims count from the first request), the events from Redis, the worker
    /// probes, and one dispatcher per model, reporting usage to `ledger`.
    pub async fn start<L: UsageLedger>(
        self: &Arc<Self>,
        events: redis::Client,
        keys: Keys,
        models: impl IntoIterator<Item = String>,
        ledger: Arc<L>,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Result<(), redis::RedisError> {
        self.queue.set_lease(true).await?;
        tokio::spawn(queue::keep_lease(Arc::clone(&self.queue), stop.clone()));
        tokio::spawn(Arc::clone(&self.hub).run(events, keys, stop.clone()));
        tokio::spawn(Arc::clone(&self.pool).run_probes(self.settings.probe_every, stop.clone()));
        for model in models {
            tokio::spawn(dispatch::run(
                Arc::clone(self),
                Arc::clone(&ledger),
                model,
                stop.clone(),
            ));
        }
        Ok(())
    }

    /// Cached audio, its word timings and the segments of variants being rendered.
    pub fn store(&self) -> &AudioStore {
        &self.store
    }

    /// The worker replicas, as health, the catalogue and phonemizing see them.
    pub fn workers(&self) -> &WorkerPool {
        &self.pool
    }

    /// Whether a live worker serves the voice of the model.
    pub fn serves(&self, model: &str, voice: &str) -> bool {
        self.pool.serves(model, voice)
    }

    /// Refuses a speed the model's live workers do not accept (any the contract allows while
    /// none is live: the call waits for one).
    pub fn check_speed(&self, model: &str, speed: f32) -> Result<(), String> {
        check_speed(model, speed, self.pool.speeds(model).unwrap_or(SPEEDS))
    }

    /// A new listener's stream of events (it hears only the variants it wants).
    pub fn subscribe(&self) -> Subscription {
        self.hub.subscribe()
    }

    /// Whether events from Redis arrive now (false while it reconnects).
    pub fn events_connected(&self) -> bool {
        self.hub.is_connected()
    }

    /// Stops telling a listener about a variant.
    pub fn unwatch(&self, subscription_id: u64, hash: &str) {
        self.hub.unwatch(subscription_id, hash);
    }

    /// One listener no longer wants a variant (its cursor moved away); a queued job nobody
    /// wants leaves the queue, a running one keeps the listener's claim.
    pub async fn unwant(&self, model: &str, hash: &str) -> Result<Released, redis::RedisError> {
        self.queue.release(model, hash).await
    }

    /// One listener is gone for good: its claim ends also on a running job.
    pub async fn leave(&self, model: &str, hash: &str) -> Result<Released, redis::RedisError> {
        self.queue.leave(model, hash).await
    }

    /// Moves queued variants of a model up to these scores where that is sooner.
    pub async fn reprioritize(
        &self,
        model: &str,
        scored: &[(f64, &str)],
    ) -> Result<(), redis::RedisError> {
        self.queue.raise(model, scored).await
    }

    /// After a reconnect: queues a variant again if a restarted Redis forgot it, without
    /// counting the listener twice; `Cached` when it is done.
    pub async fn recheck(&self, spec: &JobSpec, score: f64) -> Result<Enqueued, redis::RedisError> {
        self.queue.enqueue(spec, score, false).await
    }

    /// How many jobs of the model go before a queued variant; `None` when it is not queued.
    pub async fn place(&self, model: &str, hash: &str) -> Result<Option<u64>, redis::RedisError> {
        self.queue.ahead_of(model, hash).await
    }

    /// Jobs of a model waiting and held (health, metrics).
    pub async fn depth(&self, model: &str) -> Result<(u64, u64), redis::RedisError> {
        self.queue.depth(model).await
    }

    /// The dead-letter list of a model, newest first.
    pub async fn dead_letters(&self, model: &str) -> Result<Vec<String>, redis::RedisError> {
        self.queue.dead_letters(model).await
    }

    /// The variant hash of `text` for a model and voice, using the version of the model the
    /// live workers run (or ran last, so cached audio still plays while they are down).
    pub fn target(&self, text: &str, model: &str, voice: &str, speed: f32) -> Option<Target> {
        let version = self.pool.model_version(model)?;
        Some(Target {
            hash: Variant {
                text,
                model,
                model_version: &version.version,
                voice,
                speed,
            }
            .hash(),
            sample_rate: version.sample_rate,
        })
    }

    /// Playing time of a cached variant; `None` when it is not cached.
    pub async fn cached_duration_ms(&self, target: &Target) -> Option<u64> {
        let len = self.store.size(&target.hash).await?;
        Some(wav::duration_ms(len, target.sample_rate))
    }
}

/// Counts a variant asked for (`yapit_cache_lookups_total{result}`): already cached (`hit`) or
/// to be synthesized (`miss`).
pub fn count_cache_lookup(hit: bool) {
    metrics::counter!("yapit_cache_lookups_total", "result" => if hit { "hit" } else { "miss" })
        .increment(1);
}

/// The answer to a listener's request for a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// Ready: this long.
    Cached { duration_ms: u64 },
    /// Subscribed; the completion event will come.
    Waiting(Enqueued),
}

impl Synthesis {
    /// A listener wants a variant: subscribes `subscription` to it, then queues it (or joins the
    /// job already queued or running). Subscribing first means no completion can be missed.
    pub async fn want(
        &self,
        spec: &JobSpec,
        target: &Target,
        score: f64,
        subscription: &Subscription,
    ) -> Result<Requested, redis::RedisError> {
        self.hub.watch(subscription, &spec.hash);
        match self.queue.enqueue(spec, score, true).await {
            Ok(Enqueued::Cached) => {
                count_cache_lookup(true);
                self.hub.unwatch(subscription.id, &spec.hash);
                let duration_ms = self.cached_duration_ms(target).await.unwrap_or(0);
                Ok(Requested::Cached { duration_ms })
            }
            Ok(enqueued) => {
                count_cache_lookup(false);
                Ok(Requested::Waiting(enqueued))
            }
            Err(e) => {
                self.hub.unwatch(subscription.id, &spec.hash);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_speed_is_checked_against_the_contract_and_the_models_own_range() {
        assert!(check_speed("kokoro", 1.5, SPEEDS).is_ok());
        let err = check_speed("kokoro", 9.0, SPEEDS).unwrap_err();
        assert_eq!(err, "speed 9 is out of range; use 0.5 to 2");
        assert!(check_speed("higgs", 1.0, 1.0..=1.0).is_ok());
        let err = check_speed("higgs", 1.5, 1.0..=1.0).unwrap_err();
        assert!(
            err.starts_with("model higgs speaks at speed 1 only, not 1.5"),
            "{err}"
        );
        // A worker's range never widens the contract's.
        assert!(check_speed("x", 3.0, 0.25..=4.0).is_err());
        assert_eq!(
            check_speed("x", 0.3, 0.25..=4.0).unwrap_err(),
            "speed 0.3 is out of range; use 0.5 to 2"
        );
    }
}
