//! The job table: what `charter worker` runs, and how often. Each job body is a plain
//! function of the store, so tests call it directly.

use std::sync::Arc;
use std::time::Duration;

use charter_core::config::Config;
use charter_store::Store;
use futures::FutureExt;

use crate::{Job, JobResult};

pub mod scanner;

/// Every scheduled job for this configuration.
pub fn all(config: &Config) -> Vec<Job> {
    let interval = config.checkpoint_interval;
    let daily_hour = config.daily_jobs_hour;
    vec![
        Job {
            name: "scanner",
            every: config.scan_interval,
            run: Arc::new(move |store| scanner::run(store, daily_hour).boxed()),
        },
        Job {
            name: "checkpoints",
            // Polled at a fraction of the interval, so a growing log is checkpointed at most
            // `interval` (plus one poll) after its previous checkpoint.
            every: (interval / 4).max(Duration::from_millis(250)),
            run: Arc::new(move |store| checkpoints(store, interval).boxed()),
        },
        Job {
            name: "task-expiry",
            every: Duration::from_secs(30),
            run: Arc::new(|store| expire_tasks(store).boxed()),
        },
    ]
}

/// Expires open tasks past their deadline.
pub async fn expire_tasks(store: Store) -> JobResult {
    let n = store.engine().expire_overdue_tasks().await?;
    Ok((n > 0).then(|| format!("{n} tasks expired")))
}

/// Signs a checkpoint for every tenant whose log grew and whose latest checkpoint is older
/// than `interval`.
pub async fn checkpoints(store: Store, interval: Duration) -> JobResult {
    let issued = store.ledger().issue_due_checkpoints(interval).await?;
    Ok((issued > 0).then(|| format!("{issued} checkpoints issued")))
}
