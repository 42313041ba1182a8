//! Job claiming across worker processes: a transaction-scoped advisory lock, and for
//! scheduled jobs the time of their last claim.
//!
//! A worker runs a job only while it holds the job's lock; a second worker (or a second
//! process) that finds it held skips that run. The lock is released when the holder
//! commits, rolls back, or its connection dies, so a crashed worker never wedges a job.
//! A scheduled job is also claimed for its interval (`job_claims`, written under the
//! lock): however many workers poll it, it runs once per interval.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use sha2::{Digest, Sha256};

use crate::{Result, Store};

pub struct JobLock {
    tx: DatabaseTransaction,
}

impl JobLock {
    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// The 64-bit advisory key of a job name (stable across processes and versions).
fn key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("charter-job:{name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl Store {
    /// Claims the scheduled job `name` if no other worker holds it and `every` has passed
    /// since any worker last claimed it (by the database's clock, so workers' clocks do
    /// not matter). The claim commits when the lock is released; a rollback undoes it.
    pub async fn try_claim_job(&self, name: &str, every: Duration) -> Result<Option<JobLock>> {
        let Some(lock) = self.try_job_lock(name).await? else {
            return Ok(None);
        };
        let micros = i64::try_from(every.as_micros()).unwrap_or(i64::MAX);
        let claimed = lock
            .tx
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO job_claims (job, claimed_at) VALUES ($1, now())
                 ON CONFLICT (job) DO UPDATE SET claimed_at = now()
                 WHERE job_claims.claimed_at <= now() - $2::bigint * interval '1 microsecond'
                 RETURNING job",
                [name.into(), micros.into()],
            ))
            .await?;
        if claimed.is_some() {
            Ok(Some(lock))
        } else {
            lock.tx.rollback().await?;
            Ok(None)
        }
    }

    /// Claims `name` if no other worker holds it.
    pub async fn try_job_lock(&self, name: &str) -> Result<Option<JobLock>> {
        let tx = crate::db::begin(self.db()).await?;
        let row = tx
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock($1) AS locked",
                [key(name).into()],
            ))
            .await?;
        let locked = match row {
            Some(r) => r.try_get::<bool>("", "locked")?,
            None => false,
        };
        if locked {
            Ok(Some(JobLock { tx }))
        } else {
            tx.rollback().await?;
            Ok(None)
        }
    }
}
