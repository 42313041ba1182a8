//! Argon2 hashing and verification, off the async threads and bounded: at most one per
//! core at a time, however many requests ask, so a flood of sign-ups or logins queues
//! here instead of taking every thread (and memory) of the machine.

use std::sync::LazyLock;

use charter_core::secret::Secret;
use tokio::sync::Semaphore;

use crate::{Result, StoreError};

static PERMITS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let _permit = PERMITS
        .acquire()
        .await
        .map_err(|e| StoreError::Internal(format!("password permits: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Internal(format!("password work: {e}")))
}

/// Hashes a new password (checked against the password rules first).
pub async fn hash(password: Secret<String>) -> Result<String> {
    bounded(move || charter_core::password::hash(password.expose()))
        .await?
        .map_err(|e| StoreError::Invalid(format!("password: {e}")))
}

/// Whether `password` matches `stored`.
pub async fn verify(password: Secret<String>, stored: String) -> Result<bool> {
    bounded(move || charter_core::password::verify(password.expose(), &stored)).await
}
