//! The audio cache: hot in Redis (with a TTL), cold in content-addressed files bounded in size
//! with least-recently-used eviction. A file's modification time is its last use.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use bytes::Bytes;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{Keys, words::WordTiming};

/// A variant's audio, hot and cold, with its word timings, and the segments of variants still
/// being rendered. The one place audio is written.
pub struct AudioStore {
    redis: redis::aio::ConnectionManager,
    keys: Keys,
    hot_ttl_secs: u64,
    cold: ColdStore,
}

/// How long a segment (one chunk of a block still being rendered) stays playable. The whole
/// block is cached once complete; segments only bridge the seconds before that, for the
/// listeners waiting then.
pub const SEGMENT_TTL_SECS: u64 = 600;

/// What a listener needs to know of one segment besides its audio: where it stands in the
/// block, how long it plays, whether it ends the block, and the words it speaks (times in
/// seconds from the start of the *block*, as in the block's own timings, so the segments'
/// words put together are the block's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentNote {
    pub index: u32,
    pub duration_ms: u64,
    pub last: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<WordTiming>,
}

impl AudioStore {
    pub fn new(
        redis: redis::aio::ConnectionManager,
        keys: Keys,
        hot_ttl_secs: u64,
        cold: ColdStore,
    ) -> Self {
        Self {
            redis,
            keys,
            hot_ttl_secs,
            cold,
        }
    }

    pub fn cold(&self) -> &ColdStore {
        &self.cold
    }

    // ---- whole variants ---------------------------------------------------------------------

    /// Keeps a finished variant: the cold copy, its word timings (cold and hot) and last the
    /// hot copy, whose presence means "cached" to the queue. A cold store that cannot be written
    /// leaves the hot copy only (logged); an error means the hot copy is not there, and the job
    /// is not complete.
    pub async fn put(
        &self,
        hash: &str,
        wav: &[u8],
        words: &[WordTiming],
    ) -> Result<(), redis::RedisError> {
        if let Err(e) = self.cold.put(hash, wav).await {
            tracing::error!(error = %e, "cannot write to the cold audio store; hot cache only");
        }
        self.put_words(hash, words).await;
        self.restore_hot(hash, wav).await
    }

    /// Writes the hot copy of a variant whose cold copy (and words) are already kept.
    pub async fn restore_hot(&self, hash: &str, wav: &[u8]) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        redis
            .set_ex(self.keys.audio(hash), wav, self.hot_ttl_secs)
            .await
    }

    /// The size in bytes of a cached variant, hot first, then cold; `None` when it is in neither.
    /// A Redis outage falls through to the cold store.
    pub async fn size(&self, hash: &str) -> Option<u64> {
        let mut redis = self.redis.clone();
        match redis.strlen::<_, u64>(self.keys.audio(hash)).await {
            Ok(len) if len > 0 => return Some(len),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "hot cache unreachable; trying the cold store"),
        }
        self.cold.size(hash).await
    }

    /// The WAV of a variant, hot first; a cold hit is copied back into the hot cache.
    pub async fn get(&self, hash: &str) -> Option<Bytes> {
        let mut redis = self.redis.clone();
        match redis.get::<_, Option<Vec<u8>>>(self.keys.audio(hash)).await {
            Ok(Some(wav)) if !wav.is_empty() => return Some(Bytes::from(wav)),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "hot cache unreachable; trying the cold store"),
        }
        let wav = self.cold.get(hash).await?;
        let _: Result<(), _> = redis
            .set_ex(self.keys.audio(hash), wav.as_ref(), self.hot_ttl_secs)
            .await;
        Some(wav)
    }

    /// Keeps a variant's word timings beside its audio, cold and hot (nothing when there are
    /// none). Failures are logged: audio without its words still plays, only unhighlighted.
    async fn put_words(&self, hash: &str, words: &[WordTiming]) {
        if words.is_empty() {
            return;
        }
        let json = match serde_json::to_vec(words) {
            Ok(json) => json,
            Err(e) => return tracing::error!(error = %e, "cannot encode word timings"),
        };
        if let Err(e) = self.cold.put_words(hash, &json).await {
            tracing::error!(error = %e, "cannot write word timings to the cold audio store");
        }
        let mut redis = self.redis.clone();
        let stored: Result<(), _> = redis
            .set_ex(self.keys.words(hash), json, self.hot_ttl_secs)
            .await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "cannot write word timings to the hot cache");
        }
    }

    /// A variant's word timings, hot first; a cold hit is copied back into the hot cache.
    /// `None` when the audio was made without them or is no longer cached.
    pub async fn words(&self, hash: &str) -> Option<Vec<WordTiming>> {
        let mut redis = self.redis.clone();
        let json = match redis.get::<_, Option<Vec<u8>>>(self.keys.words(hash)).await {
            Ok(Some(json)) if !json.is_empty() => json,
            Ok(_) | Err(_) => {
                let json = self.cold.get_words(hash).await?;
                let _: Result<(), _> = redis
                    .set_ex(self.keys.words(hash), json.as_slice(), self.hot_ttl_secs)
                    .await;
                json
            }
        };
        serde_json::from_slice(&json).ok()
    }

    // ---- segments of variants still being rendered ------------------------------------------

    /// Keeps one chunk of a variant still being rendered, as its own WAV, with its note, for
    /// [`SEGMENT_TTL_SECS`]. In Redis, so a listener on any gateway can fetch it; both in one
    /// transaction, so a note never names a segment that is not kept.
    pub async fn put_segment(
        &self,
        hash: &str,
        note: &SegmentNote,
        wav: &[u8],
    ) -> Result<(), redis::RedisError> {
        let json = serde_json::to_string(note).unwrap_or_default();
        let notes = self.keys.segment_notes(hash);
        let mut redis = self.redis.clone();
        redis::pipe()
            .atomic()
            .set_ex(self.keys.segment(hash, note.index), wav, SEGMENT_TTL_SECS)
            .ignore()
            .hset(&notes, note.index, json)
            .ignore()
            .expire(&notes, SEGMENT_TTL_SECS as i64)
            .ignore()
            .query_async(&mut redis)
            .await
    }

    /// The notes of the segments of `hash` kept now, from the first, in order, up to the first
    /// missing one (for a listener who joins a block while it is rendered). One round trip.
    pub async fn segments(&self, hash: &str) -> Vec<SegmentNote> {
        let mut redis = self.redis.clone();
        let stored: std::collections::HashMap<u32, String> =
            match redis.hgetall(self.keys.segment_notes(hash)).await {
                Ok(stored) => stored,
                Err(e) => {
                    tracing::debug!(error = %e, "segment store unreachable");
                    return Vec::new();
                }
            };
        (0..)
            .map_while(|index| stored.get(&index))
            .map_while(|json| serde_json::from_str(json).ok())
            .collect()
    }

    /// A segment's WAV while it is kept.
    pub async fn segment(&self, hash: &str, index: u32) -> Option<Bytes> {
        let mut redis = self.redis.clone();
        match redis
            .get::<_, Option<Vec<u8>>>(self.keys.segment(hash, index))
            .await
        {
            Ok(Some(wav)) if !wav.is_empty() => Some(Bytes::from(wav)),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "segment store unreachable");
                None
            }
        }
    }
}

/// Content-addressed WAV files under one folder (`ab/abcdef….wav`), kept under a byte budget.
#[derive(Clone)]
pub struct ColdStore {
    inner: Arc<ColdInner>,
}

struct ColdInner {
    root: PathBuf,
    max_bytes: u64,
    used: AtomicU64,
    evicting: Mutex<()>,
}

impl ColdStore {
    /// Opens (creating) the folder and counts what it already holds.
    pub async fn open(root: PathBuf, max_bytes: u64) -> std::io::Result<Self> {
        tokio::fs::create_dir_all(&root).await?;
        let used = files(&root).await?.iter().map(|f| f.len).sum::<u64>();
        Ok(Self {
            inner: Arc::new(ColdInner {
                root,
                max_bytes,
                used: AtomicU64::new(used),
                evicting: Mutex::new(()),
            }),
        })
    }

    pub fn used_bytes(&self) -> u64 {
        self.inner.used.load(Ordering::Relaxed)
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.inner.root.join(&hash[..2]).join(format!("{hash}.wav"))
    }

    /// Where a variant's word timings are kept: beside its WAV, evicted with it.
    fn words_path(&self, hash: &str) -> PathBuf {
        self.path(hash).with_extension("words.json")
    }

    /// Writes a variant's word timings atomically. They are small beside the audio (about 60
    /// bytes a word against 48 kB a second) and are not counted in the budget.
    pub async fn put_words(&self, hash: &str, json: &[u8]) -> std::io::Result<()> {
        let path = self.words_path(hash);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&tmp, json).await?;
        tokio::fs::rename(&tmp, &path).await
    }

    pub async fn get_words(&self, hash: &str) -> Option<Vec<u8>> {
        tokio::fs::read(self.words_path(hash)).await.ok()
    }

    pub async fn size(&self, hash: &str) -> Option<u64> {
        tokio::fs::metadata(self.path(hash))
            .await
            .ok()
            .map(|m| m.len())
    }

    /// Reads a file and marks it as just used.
    pub async fn get(&self, hash: &str) -> Option<Bytes> {
        let path = self.path(hash);
        let wav = tokio::fs::read(&path).await.ok()?;
        let _ = tokio::task::spawn_blocking(move || touch(&path)).await;
        Some(Bytes::from(wav))
    }

    /// Writes atomically (temporary file, then rename), then evicts the least recently used
    /// files while the folder is over its budget.
    pub async fn put(&self, hash: &str, wav: &[u8]) -> std::io::Result<()> {
        let path = self.path(hash);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let existed = tokio::fs::metadata(&path).await.map(|m| m.len()).ok();
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&tmp, wav).await?;
        tokio::fs::rename(&tmp, &path).await?;
        let added = (wav.len() as u64).saturating_sub(existed.unwrap_or(0));
        let used = self.inner.used.fetch_add(added, Ordering::Relaxed) + added;
        if used > self.inner.max_bytes {
            self.evict().await?;
        }
        Ok(())
    }

    async fn evict(&self) -> std::io::Result<()> {
        let _one_at_a_time = self.inner.evicting.lock().await;
        let mut all = files(&self.inner.root).await?;
        let mut used: u64 = all.iter().map(|f| f.len).sum();
        // Down to 90 % of the budget, so the next writes don't each trigger a scan.
        let target = self.inner.max_bytes / 10 * 9;
        all.sort_by_key(|f| f.used_at);
        for file in all {
            if used <= target {
                break;
            }
            if tokio::fs::remove_file(&file.path).await.is_ok() {
                let _ = tokio::fs::remove_file(file.path.with_extension("words.json")).await;
                used = used.saturating_sub(file.len);
                tracing::debug!(path = %file.path.display(), "evicted from the cold audio store");
            }
        }
        self.inner.used.store(used, Ordering::Relaxed);
        Ok(())
    }
}

fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

struct StoredFile {
    path: PathBuf,
    len: u64,
    used_at: SystemTime,
}

async fn files(root: &Path) -> std::io::Result<Vec<StoredFile>> {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for dir in std::fs::read_dir(&root)? {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(dir.path())? {
                let file = file?;
                let meta = file.metadata()?;
                if meta.is_file() && file.path().extension().is_some_and(|e| e == "wav") {
                    out.push(StoredFile {
                        path: file.path(),
                        len: meta.len(),
                        used_at: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    });
                }
            }
        }
        Ok(out)
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hash(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    #[tokio::test]
    async fn least_recently_used_files_go_first() {
        let dir = std::env::temp_dir().join(format!("yapit-cold-{}", uuid::Uuid::new_v4()));
        let store = ColdStore::open(dir.clone(), 3_000).await.unwrap();
        store.put(&hash(1), &[1; 1000]).await.unwrap();
        store.put(&hash(2), &[2; 1000]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Reading 1 makes 2 the least recently used.
        assert!(store.get(&hash(1)).await.is_some());
        tokio::time::sleep(Duration::from_millis(50)).await;
        store.put(&hash(3), &[3; 1500]).await.unwrap();
        assert!(store.get(&hash(2)).await.is_none(), "2 was evicted");
        assert_eq!(store.get(&hash(1)).await.unwrap().len(), 1000);
        assert_eq!(store.get(&hash(3)).await.unwrap().len(), 1500);
        assert!(store.used_bytes() <= 3_000);
        // A new process counts what is already there.
        let reopened = ColdStore::open(dir.clone(), 3_000).await.unwrap();
        assert_eq!(reopened.used_bytes(), 2_500);
        let _ = std::fs::remove_dir_all(dir);
    }
}
