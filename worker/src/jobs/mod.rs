//! The job table: what `charter worker` runs, and how often. Each job body is a plain
//! function of the store, so tests call it directly.

use std::sync::Arc;
use std::time::Duration;

use charter_core::config::Config;
use charter_core::webhook::target::Targets;
use charter_store::Store;
use futures::FutureExt;

use crate::{Job, JobResult};

pub mod billing;
pub mod scanner;
pub mod self_audit;
pub mod webhooks;

use chrono::{DateTime, Timelike, Utc};

/// Whether a daily job last run at `last` is due now: at the daily hour (UTC) once it is
/// 20 hours old, or whenever it is two days old (a worker down at that hour does not
/// skip a day), or when it never ran.
pub fn daily_due(last: Option<DateTime<Utc>>, now: DateTime<Utc>, daily_hour: u32) -> bool {
    match last {
        None => true,
        Some(t) => {
            let age = now - t;
            age > chrono::Duration::hours(47)
                || (age > chrono::Duration::hours(20) && now.hour() == daily_hour)
        }
    }
}

/// Every scheduled job for this configuration (an error if the webhook sender's HTTP
/// client cannot be built).
pub fn all(config: &Config) -> Result<Vec<Job>, reqwest::Error> {
    let interval = config.checkpoint_interval;
    let daily_hour = config.daily_jobs_hour;
    let targets = Targets::for_mode(config.mode);
    let sender = Arc::new(webhooks::Sender::new(targets, config.webhook_timeout)?);
    Ok(vec![
        Job {
            name: "webhooks",
            every: Duration::from_secs(1),
            run: Arc::new(move |store| webhooks::run(store, sender.clone()).boxed()),
        },
        Job {
            name: "trial-notices",
            every: Duration::from_secs(600),
            run: Arc::new(|store| webhooks::trials_ending(store).boxed()),
        },
        Job {
            name: "trial-expiry",
            every: Duration::from_secs(60),
            run: Arc::new(|store| billing::expire_trials(store).boxed()),
        },
        Job {
            name: "usage-report",
            every: Duration::from_secs(600),
            run: Arc::new(|store| billing::report_usage(store).boxed()),
        },
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
            name: "self-audit",
            every: Duration::from_secs(300),
            run: Arc::new(move |store| self_audit::run(store, daily_hour).boxed()),
        },
        Job {
            name: "breakers",
            every: Duration::from_secs(15),
            run: Arc::new(|store| half_open_breakers(store).boxed()),
        },
        Job {
            name: "budget-cycles",
            every: Duration::from_secs(60),
            run: Arc::new(|store| close_budget_cycles(store).boxed()),
        },
        Job {
            name: "exports",
            every: Duration::from_secs(2),
            run: Arc::new(|store| exports(store).boxed()),
        },
        Job {
            name: "retention",
            every: Duration::from_secs(3600),
            run: Arc::new(|store| retention(store).boxed()),
        },
        Job {
            name: "sessions",
            every: Duration::from_secs(3600),
            run: Arc::new(|store| prune_sessions(store).boxed()),
        },
        Job {
            name: "task-expiry",
            every: Duration::from_secs(30),
            run: Arc::new(|store| expire_tasks(store).boxed()),
        },
    ])
}

/// Turns breakers whose cool-down has passed half-open.
pub async fn half_open_breakers(store: Store) -> JobResult {
    let n = store.worker().half_open_cooled_breakers().await?;
    Ok((n > 0).then(|| format!("{n} breakers half-opened")))
}

/// Records each ended budget cycle's usage per agent.
pub async fn close_budget_cycles(store: Store) -> JobResult {
    let n = store.worker().close_budget_cycles().await?;
    Ok((n > 0).then(|| format!("{n} budget cycles closed")))
}

/// Makes the evidence bundles people asked for.
pub async fn exports(store: Store) -> JobResult {
    let n = store.worker().run_due_exports().await?;
    Ok((n > 0).then(|| format!("{n} evidence bundles made")))
}

/// Removes record bodies past each tenant's retention (not held); hourly, so a record
/// goes within an hour of passing it.
pub async fn retention(store: Store) -> JobResult {
    let n = store.worker().prune_ledgers().await?;
    Ok((n > 0).then(|| format!("{n} record bodies pruned past retention")))
}

/// Deletes dashboard sessions that are over (their records stay in the ledger).
pub async fn prune_sessions(store: Store) -> JobResult {
    let n = store.worker().prune_web_sessions().await?;
    Ok((n > 0).then(|| format!("{n} ended dashboard sessions deleted")))
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
