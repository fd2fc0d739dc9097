//! Dispatchers: take jobs from a model's queue only when a replica has a free call slot, run
//! them on the worker, retry elsewhere with backoff, and store the audio.

use std::{sync::Arc, time::Duration};

use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};

use super::{
    Event, EventKind, SegmentNote, Synthesis, UsageLedger, now_ms,
    queue::{Job, JobSpec},
    wav,
    words::{self, WordTiming},
    workers::{Lease, Rendered, WorkerError},
};

/// Runs one model's dispatcher and its lease reaper until `stop`; what each synthesis cost its
/// user goes to `ledger`.
pub async fn run<L: UsageLedger>(
    synthesis: Arc<Synthesis>,
    ledger: Arc<L>,
    model: String,
    stop: CancellationToken,
) {
    let reaper = tokio::spawn(reap_forever(
        Arc::clone(&synthesis),
        model.clone(),
        stop.clone(),
    ));
    let enqueued = synthesis.hub.enqueued(&model);
    let released = synthesis.pool.released();
    while !stop.is_cancelled() {
        let slot_freed = released.notified();
        tokio::pin!(slot_freed);
        slot_freed.as_mut().enable();
        let Some(lease) = synthesis.pool.try_acquire(&model, None, &[]) else {
            tokio::select! {
                _ = slot_freed => {},
                _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                _ = stop.cancelled() => break,
            }
            continue;
        };
        let new_work = enqueued.notified();
        tokio::pin!(new_work);
        new_work.as_mut().enable();
        let deadline = now_ms() + synthesis.settings.lease.as_millis() as u64;
        match synthesis.queue.claim(&model, deadline).await {
            Ok(Some(job)) => {
                let (synthesis, ledger, stop) =
                    (Arc::clone(&synthesis), Arc::clone(&ledger), stop.clone());
                tokio::spawn(async move {
                    // A stopping gateway abandons its jobs; their leases run out and another
                    // gateway takes them again.
                    tokio::select! {
                        _ = run_job(synthesis, ledger.as_ref(), job, lease) => {},
                        _ = stop.cancelled() => {},
                    }
                });
            }
            Ok(None) => {
                drop(lease);
                tokio::select! {
                    _ = new_work => {},
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                    _ = stop.cancelled() => break,
                }
            }
            Err(e) => {
                drop(lease);
                tracing::warn!(model, error = %e, "cannot take jobs from redis; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {},
                    _ = stop.cancelled() => break,
                }
            }
        }
    }
    reaper.abort();
}

async fn reap_forever(synthesis: Arc<Synthesis>, model: String, stop: CancellationToken) {
    let every = (synthesis.settings.lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {},
            _ = stop.cancelled() => return,
        }
        match synthesis
            .queue
            .reap(&model, now_ms(), synthesis.settings.max_attempts)
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(
                    model,
                    jobs = n,
                    "re-queued jobs whose dispatcher stopped renewing"
                );
                synthesis.hub.enqueued(&model).notify_waiters();
            }
            Err(e) => tracing::debug!(model, error = %e, "reaper cannot reach redis"),
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * 4u64.pow(attempt.min(4)))
}

/// Runs a job to its end: cached, or dead-lettered with the error every listener gets.
#[tracing::instrument(skip_all, fields(hash = %job.spec.hash, model = %job.spec.model, voice = %job.spec.voice, attempt = job.attempts))]
async fn run_job(synthesis: Arc<Synthesis>, ledger: &impl UsageLedger, job: Job, first: Lease) {
    let attempts = job.attempts;
    let job = job.spec;
    // A run before this one made the audio but its gateway lost Redis before it could say so
    // (the job came back when its lease ran out): finish from the cold store, without a worker
    // and without billing the user again.
    if let Some(wav) = synthesis.store.cold().get(&job.hash).await
        && let Some(sample_rate) = wav::sample_rate(&wav)
    {
        drop(first);
        let duration_ms = wav::duration_ms(wav.len() as u64, sample_rate);
        // The hot copy again (and its words, kept beside the cold copy), then the completion.
        let finished = match synthesis.store.restore_hot(&job.hash, &wav).await {
            Ok(()) => synthesis.queue.complete(&job, duration_ms).await,
            Err(e) => Err(e),
        };
        match finished {
            Ok(()) => tracing::info!(duration_ms, "already in the cold store; no worker needed"),
            Err(e) => tracing::warn!(error = %e, "cannot record the finished job in redis"),
        }
        return;
    }
    let _ = synthesis
        .queue
        .publish(&Event::new(&job.hash, EventKind::Processing))
        .await;
    // Renew the lease while the worker runs, so no other gateway takes the job meanwhile. The
    // renewal ends with the job, also when the job's future is dropped because the gateway stops.
    let renewing = AbortOnDropHandle::new({
        let synthesis = Arc::clone(&synthesis);
        let (model, hash) = (job.model.clone(), job.hash.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(synthesis.settings.lease / 3).await;
                let deadline = now_ms() + synthesis.settings.lease.as_millis() as u64;
                if let Err(e) = synthesis.queue.renew(&model, &hash, deadline).await {
                    tracing::debug!(error = %e, "lease renewal failed");
                }
            }
        })
    });
    let started = std::time::Instant::now();
    let (segments, relayed) = relay_segments(Arc::clone(&synthesis), job.hash.clone());
    let outcome = attempt_all(&synthesis, &job, first, segments).await;
    // Every segment is out before the block's completion, so a listener never hears of the
    // whole block before the pieces it may be playing.
    let _ = relayed.await;
    drop(renewing);
    let outcome = match outcome {
        Err(Failure::NoWorker(error)) => {
            // Every replica is gone: wait in the queue for one to come back instead of failing
            // the listeners; the take is not counted. A job that keeps losing its workers
            // (one that crashes them, say) is given up on after MOST_REQUEUES.
            match synthesis.queue.requeue(&job, MOST_REQUEUES).await {
                Ok(true) => {
                    tracing::warn!(%error, "no worker left for the job; queued again");
                    return;
                }
                Ok(false) => Err(error),
                Err(e) => {
                    // The lease runs out and the reaper puts it back.
                    tracing::warn!(error = %e, "cannot queue the job again");
                    return;
                }
            }
        }
        Err(Failure::Worker(error)) => Err(error),
        Err(Failure::Abandoned) => {
            tracing::info!("every listener left while the job ran; not tried again");
            return;
        }
        Ok(audio) => Ok(audio),
    };
    metrics::histogram!("yapit_synthesis_seconds", "model" => job.model.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "yapit_jobs_total",
        "model" => job.model.clone(),
        "outcome" => if outcome.is_ok() { "cached" } else { "failed" }
    )
    .increment(1);
    match outcome {
        Ok(rendered) => {
            let sample_rate = rendered.sample_rate;
            let wav = wav::from_pcm(&rendered.pcm, sample_rate);
            let duration_ms = wav::duration_ms(wav.len() as u64, sample_rate);
            // Both copies and the words before listeners hear the block is ready, so all are
            // there when they ask.
            if let Err(e) = synthesis.store.put(&job.hash, &wav, &rendered.words).await {
                // The lease runs out and another dispatcher finishes it from the cold copy.
                tracing::error!(error = %e, "cannot write to the hot cache");
                return;
            }
            // Counted before listeners hear of it, so a quota check right after sees it.
            if let Ok(user_id) = job.user_id.parse() {
                let chars = job.text.chars().count() as i64;
                if let Err(e) = ledger.record(user_id, chars, duration_ms as i64).await {
                    tracing::warn!(error = %e, "cannot record usage");
                }
            }
            if let Err(e) = synthesis.queue.complete(&job, duration_ms).await {
                // The lease runs out and another dispatcher redoes it: nothing is lost.
                tracing::error!(error = %e, "cannot record the finished job in redis");
                return;
            }
            tracing::info!(duration_ms, "synthesized");
        }
        Err(error) => {
            let unspeakable = matches!(error, WorkerError::Rejected(_));
            let message = for_listener(&error);
            if unspeakable {
                tracing::info!(%error, "the worker found nothing to say");
            } else {
                tracing::warn!(%error, taken = attempts, "giving up on the job");
            }
            if let Err(e) = synthesis.queue.bury(&job, &message, unspeakable).await {
                tracing::error!(error = %e, "cannot dead-letter the job");
            }
        }
    }
}

/// What a listener reads when a job is given up on: what happened, not the transport's words
/// (those are in the log).
fn for_listener(error: &WorkerError) -> String {
    match error {
        WorkerError::Rejected(why) => format!("this text cannot be spoken: {why}"),
        WorkerError::Unreachable(_) | WorkerError::Truncated => {
            "synthesis failed: the speech worker stopped answering; try again".to_string()
        }
        WorkerError::Timeout(limit) => format!(
            "synthesis failed: the speech worker took longer than {} s; try again",
            limit.as_secs()
        ),
        WorkerError::Failed(_) => {
            "synthesis failed: the speech worker could not render this passage; try again"
                .to_string()
        }
    }
}

/// One chunk on its way to the listeners: its index, PCM, sample rate, whether it ends the
/// block, and its words (seconds from the start of the block).
struct SegmentOut {
    index: u32,
    pcm: Vec<u8>,
    sample_rate: u32,
    last: bool,
    words: Vec<WordTiming>,
}

/// Stores each chunk as a segment and announces it on the events channel, in order, so that
/// listeners on every gateway can start on a block (and follow its words) before it is
/// complete. A segment that cannot be stored is not announced: its listeners wait for the
/// whole block instead.
fn relay_segments(
    synthesis: Arc<Synthesis>,
    hash: String,
) -> (
    tokio::sync::mpsc::UnboundedSender<SegmentOut>,
    tokio::task::JoinHandle<()>,
) {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<SegmentOut>();
    let task = tokio::spawn(async move {
        let mut broken = false;
        while let Some(out) = receiver.recv().await {
            // A gap would leave a listener stuck before it: after one lost segment, none.
            if broken {
                continue;
            }
            let wav = wav::from_pcm(&out.pcm, out.sample_rate);
            let note = SegmentNote {
                index: out.index,
                duration_ms: wav::duration_ms(wav.len() as u64, out.sample_rate),
                last: out.last,
                words: out.words,
            };
            if let Err(e) = synthesis.store.put_segment(&hash, &note, &wav).await {
                tracing::debug!(error = %e, index = note.index, "cannot keep a segment; listeners wait for the block");
                broken = true;
                continue;
            }
            let event = Event::new(&hash, EventKind::Segment(note));
            if synthesis.queue.publish(&event).await.is_err() {
                broken = true;
            }
        }
    });
    (sender, task)
}

/// How often a job may go back to the queue because its workers went away.
const MOST_REQUEUES: u32 = 10;

/// Why a job's tries ended without audio.
enum Failure {
    /// The workers failed it (or refused it).
    Worker(WorkerError),
    /// It failed on a worker that then went away, and no live replica serves its voice.
    NoWorker(WorkerError),
    /// It failed, and every listener left meanwhile: it was dropped, not tried again.
    Abandoned,
}

/// Tries the job up to the attempt limit, each retry on another replica where one is free.
async fn attempt_all(
    synthesis: &Synthesis,
    job: &JobSpec,
    first: Lease,
    segments: tokio::sync::mpsc::UnboundedSender<SegmentOut>,
) -> Result<Rendered, Failure> {
    let settings = &synthesis.settings;
    // Chunks relayed so far, over all tries: a retry renders the same text again and relays
    // only the chunks past those (the model renders a text the same way every time).
    let mut relayed: u32 = 0;
    let mut next = Some(first);
    let mut tried: Vec<String> = Vec::new();
    let mut last_error = WorkerError::Unreachable("no worker serves this voice".into());
    let timeout = settings.call_timeout_for(&job.text);
    for attempt in 0..settings.max_attempts {
        // A retry only for someone: a client that hung up (or a gateway that died with its
        // listeners) does not keep the workers busy.
        if attempt > 0
            && synthesis
                .queue
                .abandon_if_unwanted(job)
                .await
                .unwrap_or(false)
        {
            return Err(Failure::Abandoned);
        }
        let lease = match next.take().filter(|l| l.replica.serves(&job.voice)) {
            Some(lease) => lease,
            None => {
                match synthesis
                    .pool
                    .acquire(&job.model, &job.voice, &tried, settings.call_timeout)
                    .await
                {
                    Some(lease) => lease,
                    None if !tried.is_empty() && !synthesis.pool.serves(&job.model, &job.voice) => {
                        return Err(Failure::NoWorker(last_error));
                    }
                    None => return Err(Failure::Worker(last_error)),
                }
            }
        };
        let replica = Arc::clone(&lease.replica);
        let mut index: u32 = 0;
        let mut on_chunk = |chunk: &proto::v1::AudioChunk| {
            if index >= relayed {
                let _ = segments.send(SegmentOut {
                    index,
                    pcm: chunk.pcm.clone(),
                    sample_rate: chunk.sample_rate,
                    last: chunk.last,
                    words: words::from_worker(&chunk.words, chunk.sample_rate),
                });
                relayed = index + 1;
            }
            index += 1;
        };
        let call = replica.synthesize(&job.text, &job.voice, job.speed, &job.hash, &mut on_chunk);
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(WorkerError::Timeout(timeout)),
        };
        drop(lease);
        match result {
            Ok(audio) => return Ok(audio),
            Err(e) if e.is_permanent() => return Err(Failure::Worker(e)),
            Err(e) => {
                tracing::warn!(replica = %replica.address, attempt, error = %e, "worker call failed");
                if matches!(e, WorkerError::Unreachable(_) | WorkerError::Truncated) {
                    replica.mark_down();
                }
                tried.push(replica.address.clone());
                last_error = e;
            }
        }
        if attempt + 1 < settings.max_attempts {
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
    if !tried.is_empty() && !synthesis.pool.serves(&job.model, &job.voice) {
        return Err(Failure::NoWorker(last_error));
    }
    Err(Failure::Worker(last_error))
}
