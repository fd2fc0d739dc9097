//! Argon2id password hashing on blocking threads, a bounded number at once: each hash costs
//! tens of milliseconds of CPU and 19 MiB of memory, so 200 unbounded sign-ups once took the
//! gateway to 3.9 GB. Requests beyond the bound wait briefly for a slot, then get 503 with
//! Retry-After. Each slot owns its 19 MiB, allocated once and reused: a fresh allocation per
//! hash lands in whichever allocator arena the blocking thread uses and stays there, so even
//! two hashes at a time grew the gateway by 800 MiB over 200 sign-ups.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{self, Output, ParamsString, SaltString, rand_core::OsRng},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// A hash of a password nobody has, with the default parameters, checked for an unknown
/// account so that a wrong e-mail costs as much as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J4moa2MM0/6uf3HbY2Tf5Fux8JIBTwIhmhxGRbsY14s";

/// The working memory of one slot.
type Memory = Vec<Block>;

pub struct Passwords {
    slots: Arc<Semaphore>,
    /// One working memory per slot; a permit entitles its holder to take one.
    memories: Arc<Mutex<Vec<Memory>>>,
    wait: Duration,
    computed: Arc<AtomicU64>,
}

impl Passwords {
    /// At most `slots` hashes at once; a request waits up to `wait` for one.
    pub fn new(slots: usize, wait: Duration) -> Self {
        let slots = slots.max(1);
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            memories: Arc::new(Mutex::new(Vec::with_capacity(slots))),
            wait,
            computed: Arc::default(),
        }
    }

    /// Argon2 computations finished so far (hashes and verifications, dummy ones included).
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::Busy {
                retry_after_secs: self.wait.as_secs().max(1),
            }),
        }
    }

    /// Runs `work` on a blocking thread holding a slot and its memory. The slot travels with
    /// the thread, so a client that hangs up does not free it while the hash still runs.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let slot = self.slot().await?;
        let (memories, computed) = (Arc::clone(&self.memories), Arc::clone(&self.computed));
        tokio::task::spawn_blocking(move || {
            let taken = memories.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut memory =
                taken.unwrap_or_else(|| vec![Block::default(); Params::DEFAULT.block_count()]);
            let result = work(&mut memory);
            memories
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(memory);
            computed.fetch_add(1, Ordering::Relaxed);
            drop(slot);
            result
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move |memory| hash_with(password.as_bytes(), memory))
            .await?
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing a password failed: {e}")))
    }

    /// Checks `password` against a stored hash. An unknown account is checked against the
    /// dummy hash, the same work, and is never valid.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        self.run(move |memory| {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return false;
            };
            let matches = verify_with(password.as_bytes(), &parsed, memory);
            known && matches
        })
        .await
    }
}

/// A new Argon2id hash (default parameters, random salt) in PHC form, computed in `memory`.
fn hash_with(password: &[u8], memory: &mut Memory) -> password_hash::Result<String> {
    let params = Params::DEFAULT;
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes)?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])?)
    })?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string())
}

/// Whether `password` matches `stored`, computed in `memory` (a hash made with more memory
/// than the default, by other settings, gets its own for the occasion).
fn verify_with(password: &[u8], stored: &PasswordHash<'_>, memory: &mut Memory) -> bool {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(stored.algorithm),
        Params::try_from(stored),
    ) else {
        return false;
    };
    let version = match stored.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut own = Vec::new();
    let blocks: &mut [Block] = if params.block_count() <= memory.len() {
        &mut memory[..]
    } else {
        own.resize(params.block_count(), Block::default());
        &mut own[..]
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    Output::init_with(expected.len(), |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut *blocks)?)
    })
    .is_ok_and(|computed| computed == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_account_costs_one_verification_and_never_matches() {
        let passwords = Passwords::new(1, Duration::from_secs(5));
        let stored = passwords.hash("correct horse".into()).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        // What the argon2 crate's own verifier says of it, and of a hash the crate made.
        let reference = argon2::PasswordVerifier::verify_password(
            &Argon2::default(),
            b"correct horse",
            &PasswordHash::new(&stored).unwrap(),
        );
        assert!(reference.is_ok());
        // And hashes stored before, made by the crate, still sign in.
        let salt = SaltString::generate(&mut OsRng);
        let earlier = argon2::PasswordHasher::hash_password(&Argon2::default(), b"older", &salt)
            .unwrap()
            .to_string();
        assert!(
            passwords
                .verify("older".into(), Some(earlier.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("newer".into(), Some(earlier))
                .await
                .unwrap()
        );
        assert!(
            passwords
                .verify("correct horse".into(), Some(DUMMY_HASH.into()))
                .await
                .is_ok_and(|valid| !valid)
        );
        assert!(
            passwords
                .verify("correct horse".into(), Some(stored))
                .await
                .unwrap()
        );
        let before = passwords.computed();
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
        assert_eq!(passwords.computed(), before + 1);
    }

    #[tokio::test]
    async fn a_request_that_finds_no_slot_in_time_is_told_to_come_back() {
        let passwords = Passwords::new(1, Duration::from_millis(50));
        let held = Arc::clone(&passwords.slots).acquire_owned().await.unwrap();
        let refused = passwords.hash("correct horse".into()).await.unwrap_err();
        assert!(
            matches!(refused, ApiError::Busy { retry_after_secs } if retry_after_secs >= 1),
            "{refused:?}"
        );
        drop(held);
        assert!(passwords.hash("correct horse".into()).await.is_ok());
    }
}
