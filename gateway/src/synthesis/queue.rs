//! Per-model job queues in Redis that survive a crash.
//!
//! - `queue:{model}` is a sorted set of variant hashes; the score is priority tier × 10¹³ plus
//!   the enqueue time in ms, so the lowest score goes first and each tier is first-come first-served.
//! - `job:{hash}` holds the job: its text, voice, speed, the user who caused it, how many
//!   listeners of each gateway still want it (`holder:{gateway id}`) and how often a dispatcher
//!   has taken it (`attempts`).
//! - `gateway:{id}` is a gateway's lease, a key that expires unless the gateway renews it (see
//!   [`keep_lease`]). A gateway killed without a chance to release its listeners' claims stops
//!   renewing; once the lease is gone its claims count for nothing, and a job nobody alive
//!   wants is dropped when a dispatcher reaches it: never synthesized, never billed.
//! - `processing:{model}` is a sorted set of the jobs dispatchers hold, scored by lease deadline.
//!   A dispatcher renews its lease while the worker runs; a lease that runs out (its gateway
//!   died) puts the job back at the head of its queue, and after `max_attempts` takes it is
//!   dead-lettered to `dead:{model}` and its listeners hear `error`.
//!
//! Every step is one Lua script, so two gateways never see a half-done move.

use std::time::Duration;

use redis::{Script, aio::ConnectionManager};
use tokio_util::sync::CancellationToken;

use super::{Event, EventKind, Keys};

/// A tier spans 10¹³ ms (317 years) of enqueue times.
const TIER_SPAN: f64 = 1e13;
/// Tiers beyond this share the last one.
pub const MAX_TIER: u32 = 100;

/// A block's tier is its distance from the listener's cursor: every listener's current block
/// (tier 0: someone is waiting in silence) goes first, then every listener's next sentence, and
/// deeper prefetch after both. Blocks one message asks for share an enqueue time, so the tier
/// alone keeps them in reading order.
pub fn tier_for(block_idx: i64, cursor: i64) -> u32 {
    (block_idx - cursor).unsigned_abs().min(u64::from(MAX_TIER)) as u32
}

pub fn score(tier: u32, now_ms: u64) -> f64 {
    f64::from(tier.min(MAX_TIER)) * TIER_SPAN + now_ms as f64
}

/// What a listener asks to have synthesized.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub hash: String,
    pub model: String,
    pub voice: String,
    pub speed: f32,
    pub text: String,
    pub user_id: String,
}

/// A job a dispatcher has taken.
#[derive(Debug, Clone)]
pub struct Job {
    pub spec: JobSpec,
    /// How many times a dispatcher has taken it, this time included.
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// The audio is already in the hot cache.
    Cached,
    /// A new job.
    New,
    /// Another listener's job, still waiting in the queue: this listener joined it.
    Queued,
    /// Another listener's job that a worker is rendering now.
    Processing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Nobody else wanted it: it left the queue and will not be synthesized.
    Dropped,
    /// It stays queued for other listeners.
    Shared,
    /// A worker is already rendering it; it will be cached.
    Running,
    /// No such job (finished or dead).
    Gone,
}

const ENQUEUE: &str = r"
-- KEYS: job, queue, audio, processing
-- ARGV: hash, score, model, voice, speed, text, user, join, holder field
if redis.call('EXISTS', KEYS[3]) == 1 then return 'cached' end
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[8] == '1' then
    redis.call('HINCRBY', KEYS[1], ARGV[9], 1)
  else
    -- A re-check: this gateway's claim stays, or comes back if it was judged dead.
    redis.call('HSETNX', KEYS[1], ARGV[9], 1)
  end
  if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
    redis.call('ZADD', KEYS[2], 'LT', ARGV[2], ARGV[1])
    return 'queued'
  end
  if redis.call('ZSCORE', KEYS[4], ARGV[1]) then return 'processing' end
  -- A job in neither set (left over by a crash): queue it again.
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  return 'queued'
end
redis.call('HSET', KEYS[1], 'model', ARGV[3], 'voice', ARGV[4], 'speed', ARGV[5], 'text', ARGV[6],
  'user', ARGV[7], ARGV[9], 1, 'attempts', 0, 'score', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 'new'
";

/// Lua: whether any listener whose gateway is alive still wants `job`. Claims of a gateway
/// whose lease (`ARGV[3] .. id`) expired are removed on the way. A job from before holders were
/// recorded (`refs`) counts as wanted.
const LIVE_HOLDERS: &str = r"
local function wanted(job, lease_prefix)
  local fields = redis.call('HGETALL', job)
  local live = false
  for i = 1, #fields, 2 do
    local field, n = fields[i], tonumber(fields[i + 1]) or 0
    if string.sub(field, 1, 7) == 'holder:' then
      if n > 0 and redis.call('EXISTS', lease_prefix .. string.sub(field, 8)) == 1 then
        live = true
      else
        redis.call('HDEL', job, field)
      end
    elseif field == 'refs' and n > 0 then
      live = true
    end
  end
  return live
end
";

const CLAIM: &str = r"
-- KEYS: queue, processing
-- ARGV: deadline, job key prefix, gateway lease key prefix, own id, own lease ms
-- The claiming gateway is alive: its own lease holds, even right after a Redis restart.
redis.call('SET', ARGV[3] .. ARGV[4], '1', 'PX', ARGV[5])
while true do
  local top = redis.call('ZPOPMIN', KEYS[1])
  if #top == 0 then return false end
  local hash = top[1]
  local job = ARGV[2] .. hash
  if wanted(job, ARGV[3]) then
    redis.call('ZADD', KEYS[2], ARGV[1], hash)
    redis.call('HINCRBY', job, 'attempts', 1)
    local f = redis.call('HMGET', job, 'model', 'voice', 'speed', 'text', 'user', 'attempts')
    return {hash, f[1], f[2], f[3], f[4], f[5], f[6]}
  end
  -- Every listener left (or died with its gateway) before a worker was free: never
  -- synthesized.
  redis.call('DEL', job)
end
";

const RELEASE: &str = r"
-- KEYS: job, queue, processing   ARGV: hash, holder field, gateway lease key prefix, leaving
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local running = redis.call('ZSCORE', KEYS[3], ARGV[1])
-- A listener that still waits for a running job keeps its claim.
if running and ARGV[4] ~= '1' then return 'running' end
if redis.call('HINCRBY', KEYS[1], ARGV[2], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[2]) end
if running then return 'running' end
if wanted(KEYS[1], ARGV[3]) then return 'shared' end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 'dropped'
";

const ABANDON: &str = r"
-- KEYS: job, processing   ARGV: hash, gateway lease key prefix
if wanted(KEYS[1], ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
";

const COMPLETE: &str = r"
-- KEYS: job, processing   ARGV: hash, channel, event
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
";

const BURY: &str = r"
-- KEYS: job, processing, dead   ARGV: hash, record, channel, event
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('LPUSH', KEYS[3], ARGV[2])
redis.call('LTRIM', KEYS[3], 0, 999)
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
";

const REQUEUE: &str = r"
-- KEYS: job, processing, queue   ARGV: hash, most requeues, channel, event
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], 'requeues', 1) > tonumber(ARGV[2]) then return -1 end
-- The take did not count: no worker was there to try it on.
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
";

const REAP: &str = r"
-- KEYS: processing, queue, dead   ARGV: now, max attempts, job key prefix, channel, model
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
local requeued = 0
for _, hash in ipairs(expired) do
  redis.call('ZREM', KEYS[1], hash)
  local job = ARGV[3] .. hash
  local attempts = tonumber(redis.call('HGET', job, 'attempts') or '0')
  if redis.call('EXISTS', job) == 0 then
  elseif attempts >= tonumber(ARGV[2]) then
    redis.call('DEL', job)
    local why = 'synthesis failed: the job was abandoned ' .. attempts .. ' times'
    redis.call('LPUSH', KEYS[3], cjson.encode({hash = hash, model = ARGV[5], error = why}))
    redis.call('LTRIM', KEYS[3], 0, 999)
    redis.call('PUBLISH', ARGV[4], cjson.encode({hash = hash, kind = 'error', error = why}))
  else
    -- Back at the head of the queue: it has waited long enough.
    redis.call('ZADD', KEYS[2], 0, hash)
    requeued = requeued + 1
  end
end
return requeued
";

pub struct Queue {
    redis: ConnectionManager,
    keys: Keys,
    /// This gateway's id: its listeners' claims on jobs are recorded under it.
    gateway: String,
    /// How long this gateway's lease lasts unless renewed.
    lease: Duration,
    enqueue: Script,
    claim: Script,
    release: Script,
    abandon: Script,
    complete: Script,
    bury: Script,
    requeue: Script,
    reap: Script,
}

impl Queue {
    /// The queues as gateway `gateway` sees them; `lease`: how long its lease lasts unless
    /// renewed (renew it with [`keep_lease`]).
    pub fn new(redis: ConnectionManager, keys: Keys, gateway: String, lease: Duration) -> Self {
        Self {
            redis,
            keys,
            gateway,
            lease,
            enqueue: Script::new(ENQUEUE),
            claim: Script::new(&format!("{LIVE_HOLDERS}{CLAIM}")),
            release: Script::new(&format!("{LIVE_HOLDERS}{RELEASE}")),
            abandon: Script::new(&format!("{LIVE_HOLDERS}{ABANDON}")),
            complete: Script::new(COMPLETE),
            bury: Script::new(BURY),
            requeue: Script::new(REQUEUE),
            reap: Script::new(REAP),
        }
    }

    /// Adds a job, or joins the listener to the one already queued or running for that
    /// variant (`join`: count this listener; a re-check of an existing listener passes false).
    pub async fn enqueue(
        &self,
        spec: &JobSpec,
        score: f64,
        join: bool,
    ) -> Result<Enqueued, redis::RedisError> {
        let mut redis = self.redis.clone();
        let answer: String = self
            .enqueue
            .key(self.keys.job(&spec.hash))
            .key(self.keys.queue(&spec.model))
            .key(self.keys.audio(&spec.hash))
            .key(self.keys.processing(&spec.model))
            .arg(&spec.hash)
            .arg(score)
            .arg(&spec.model)
            .arg(&spec.voice)
            .arg(spec.speed)
            .arg(&spec.text)
            .arg(&spec.user_id)
            .arg(if join { "1" } else { "0" })
            .arg(self.holder_field())
            .invoke_async(&mut redis)
            .await?;
        let enqueued = match answer.as_str() {
            "cached" => Enqueued::Cached,
            "new" => Enqueued::New,
            "processing" => Enqueued::Processing,
            _ => Enqueued::Queued,
        };
        if enqueued == Enqueued::New || enqueued == Enqueued::Queued {
            self.publish(&Event::new(
                &spec.hash,
                EventKind::Enqueued {
                    model: spec.model.clone(),
                },
            ))
            .await?;
        }
        Ok(enqueued)
    }

    /// Takes the most urgent job of a model that someone still wants, leasing it until
    /// `lease_deadline_ms`.
    pub async fn claim(
        &self,
        model: &str,
        lease_deadline_ms: u64,
    ) -> Result<Option<Job>, redis::RedisError> {
        let mut redis = self.redis.clone();
        let row: Option<(String, String, String, f32, String, String, u32)> = self
            .claim
            .key(self.keys.queue(model))
            .key(self.keys.processing(model))
            .arg(lease_deadline_ms)
            .arg(self.keys.job(""))
            .arg(self.keys.gateway(""))
            .arg(&self.gateway)
            .arg(self.lease.as_millis() as u64)
            .invoke_async(&mut redis)
            .await?;
        Ok(
            row.map(|(hash, model, voice, speed, text, user_id, attempts)| Job {
                spec: JobSpec {
                    hash,
                    model,
                    voice,
                    speed,
                    text,
                    user_id,
                },
                attempts,
            }),
        )
    }

    /// Renews a lease, if the job is still held (a reaped job is not taken back).
    pub async fn renew(
        &self,
        model: &str,
        hash: &str,
        lease_deadline_ms: u64,
    ) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        redis::cmd("ZADD")
            .arg(self.keys.processing(model))
            .arg("XX")
            .arg(lease_deadline_ms)
            .arg(hash)
            .query_async::<i64>(&mut redis)
            .await
            .map(|_| ())
    }

    /// Moves queued jobs of a model up to these scores where that is sooner than where they
    /// stand (a listener's cursor came closer). Running, finished and more urgent jobs stay.
    pub async fn raise(
        &self,
        model: &str,
        scored: &[(f64, &str)],
    ) -> Result<(), redis::RedisError> {
        if scored.is_empty() {
            return Ok(());
        }
        let mut command = redis::cmd("ZADD");
        command.arg(self.keys.queue(model)).arg("XX").arg("LT");
        for (score, hash) in scored {
            command.arg(*score).arg(*hash);
        }
        let mut redis = self.redis.clone();
        command.query_async::<i64>(&mut redis).await.map(|_| ())
    }

    /// One listener no longer wants a job; a queued job nobody wants leaves the queue. A
    /// running job keeps the listener's claim (it may go on waiting for the audio).
    pub async fn release(&self, model: &str, hash: &str) -> Result<Released, redis::RedisError> {
        self.let_go(model, hash, false).await
    }

    /// One listener is gone for good (its socket closed, its client hung up): its claim ends
    /// also on a running job, so a failed run is not tried again for nobody.
    pub async fn leave(&self, model: &str, hash: &str) -> Result<Released, redis::RedisError> {
        self.let_go(model, hash, true).await
    }

    async fn let_go(
        &self,
        model: &str,
        hash: &str,
        leaving: bool,
    ) -> Result<Released, redis::RedisError> {
        let mut redis = self.redis.clone();
        let answer: String = self
            .release
            .key(self.keys.job(hash))
            .key(self.keys.queue(model))
            .key(self.keys.processing(model))
            .arg(hash)
            .arg(self.holder_field())
            .arg(self.keys.gateway(""))
            .arg(if leaving { "1" } else { "0" })
            .invoke_async(&mut redis)
            .await?;
        Ok(match answer.as_str() {
            "dropped" => Released::Dropped,
            "shared" => Released::Shared,
            "running" => Released::Running,
            _ => Released::Gone,
        })
    }

    /// Drops a taken job that no listener of a live gateway wants any more (they left while
    /// it ran); true when it was dropped. Then it is neither tried again nor billed.
    pub async fn abandon_if_unwanted(&self, spec: &JobSpec) -> Result<bool, redis::RedisError> {
        let mut redis = self.redis.clone();
        let dropped: i64 = self
            .abandon
            .key(self.keys.job(&spec.hash))
            .key(self.keys.processing(&spec.model))
            .arg(&spec.hash)
            .arg(self.keys.gateway(""))
            .invoke_async(&mut redis)
            .await?;
        Ok(dropped == 1)
    }

    /// Retires a job whose audio is cached ([`AudioStore::put`](super::AudioStore::put) wrote
    /// it first, so no listener ever finds neither the job nor the audio) and tells every
    /// gateway, in one step.
    pub async fn complete(
        &self,
        spec: &JobSpec,
        duration_ms: u64,
    ) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        let event = Event::new(&spec.hash, EventKind::Cached { duration_ms });
        let _: i64 = self
            .complete
            .key(self.keys.job(&spec.hash))
            .key(self.keys.processing(&spec.model))
            .arg(&spec.hash)
            .arg(self.keys.events())
            .arg(event.to_json())
            .invoke_async(&mut redis)
            .await?;
        Ok(())
    }

    /// Gives up on a job: dead-lettered with its error, every listener told.
    /// `unspeakable`: the worker found nothing to say in the text, which is no failure.
    pub async fn bury(
        &self,
        spec: &JobSpec,
        error: &str,
        unspeakable: bool,
    ) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        let record = serde_json::json!({
            "hash": spec.hash, "model": spec.model, "voice": spec.voice, "error": error,
        });
        let kind = if unspeakable {
            EventKind::Unspeakable {
                reason: error.to_string(),
            }
        } else {
            EventKind::Error {
                error: error.to_string(),
            }
        };
        let event = Event::new(&spec.hash, kind);
        let _: i64 = self
            .bury
            .key(self.keys.job(&spec.hash))
            .key(self.keys.processing(&spec.model))
            .key(self.keys.dead(&spec.model))
            .arg(&spec.hash)
            .arg(record.to_string())
            .arg(self.keys.events())
            .arg(event.to_json())
            .invoke_async(&mut redis)
            .await?;
        Ok(())
    }

    /// Puts a taken job back at the head of its queue without counting the take, because no
    /// live worker was left to try it on; its listeners hear it is queued again. False when it
    /// was put back `most` times already (then bury it) or is gone.
    pub async fn requeue(&self, spec: &JobSpec, most: u32) -> Result<bool, redis::RedisError> {
        let mut redis = self.redis.clone();
        let event = Event::new(&spec.hash, EventKind::Requeued);
        let requeued: i64 = self
            .requeue
            .key(self.keys.job(&spec.hash))
            .key(self.keys.processing(&spec.model))
            .key(self.keys.queue(&spec.model))
            .arg(&spec.hash)
            .arg(most)
            .arg(self.keys.events())
            .arg(event.to_json())
            .invoke_async(&mut redis)
            .await?;
        Ok(requeued == 1)
    }

    /// Puts jobs whose lease ran out back in their queue (or dead-letters them); returns how
    /// many were re-queued.
    pub async fn reap(
        &self,
        model: &str,
        now_ms: u64,
        max_attempts: u32,
    ) -> Result<u64, redis::RedisError> {
        let mut redis = self.redis.clone();
        self.reap
            .key(self.keys.processing(model))
            .key(self.keys.queue(model))
            .key(self.keys.dead(model))
            .arg(now_ms)
            .arg(max_attempts)
            .arg(self.keys.job(""))
            .arg(self.keys.events())
            .arg(model)
            .invoke_async(&mut redis)
            .await
    }

    /// The field of a job that counts this gateway's listeners who want it.
    fn holder_field(&self) -> String {
        format!("holder:{}", self.gateway)
    }

    /// Renews this gateway's lease now; `false` ends it (a gateway that stops cleanly).
    pub async fn set_lease(&self, alive: bool) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        let key = self.keys.gateway(&self.gateway);
        let command = if alive {
            let mut set = redis::cmd("SET");
            set.arg(key)
                .arg("1")
                .arg("PX")
                .arg(self.lease.as_millis() as u64);
            set
        } else {
            let mut del = redis::cmd("DEL");
            del.arg(key);
            del
        };
        command.query_async::<()>(&mut redis).await
    }

    pub async fn publish(&self, event: &Event) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        redis::cmd("PUBLISH")
            .arg(self.keys.events())
            .arg(event.to_json())
            .query_async::<i64>(&mut redis)
            .await
            .map(|_| ())
    }

    /// Jobs waiting and held, per model (for health and metrics).
    pub async fn depth(&self, model: &str) -> Result<(u64, u64), redis::RedisError> {
        let mut redis = self.redis.clone();
        redis::pipe()
            .zcard(self.keys.queue(model))
            .zcard(self.keys.processing(model))
            .query_async(&mut redis)
            .await
    }

    /// How many jobs of the model are queued before this one; `None` when it is not queued
    /// (a worker renders it, or it is done).
    pub async fn ahead_of(
        &self,
        model: &str,
        hash: &str,
    ) -> Result<Option<u64>, redis::RedisError> {
        let mut redis = self.redis.clone();
        redis::cmd("ZRANK")
            .arg(self.keys.queue(model))
            .arg(hash)
            .query_async(&mut redis)
            .await
    }

    /// The dead-letter list of a model, newest first.
    pub async fn dead_letters(&self, model: &str) -> Result<Vec<String>, redis::RedisError> {
        let mut redis = self.redis.clone();
        redis::cmd("LRANGE")
            .arg(self.keys.dead(model))
            .arg(0)
            .arg(99)
            .query_async(&mut redis)
            .await
    }
}

/// Renews the gateway's lease a few times per lease period until `stop`, then ends it: while
/// the lease lives, the claims its listeners hold on queued jobs count.
pub async fn keep_lease(queue: std::sync::Arc<Queue>, stop: CancellationToken) {
    let every = (queue.lease / 3).max(Duration::from_millis(100));
    loop {
        if let Err(e) = queue.set_lease(true).await {
            tracing::debug!(error = %e, "cannot renew the gateway's lease");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {},
            _ = stop.cancelled() => break,
        }
    }
    if let Err(e) = queue.set_lease(false).await {
        tracing::debug!(error = %e, "cannot end the gateway's lease");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_sentence_of_any_listener_goes_before_deep_prefetch() {
        assert_eq!(tier_for(10, 10), 0);
        assert_eq!(tier_for(11, 10), 1);
        assert_eq!(tier_for(12, 10), 2);
        assert_eq!(tier_for(9, 10), 1);
        assert_eq!(tier_for(10_000, 0), MAX_TIER);
        // A deep prefetch block queued long ago still waits behind a new next sentence.
        assert!(score(0, 2_000_000_000_000) < score(2, 1_000));
        // Within a tier, first come first served.
        assert!(score(3, 1_000) < score(3, 1_001));
    }
}
