//! Argon2id password hashing, on a blocking thread: a hash costs tens of milliseconds of CPU.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::error::ApiError;

pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(ApiError::from)
}

/// Checks `password` against a stored hash. An unknown account is checked against a fixed
/// dummy hash so that the answer takes as long as for a real one.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let dummy = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J4moa2MM0/6uf3HbY2Tf5Fux8JIBTwIhmhxGRbsY14s";
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy.to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        known
            && Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))
}
