//! charter-worker: the scheduler and its jobs, each a plain function tests can call.
//!
//! # Layout
//! - [`Scheduler`] — runs each registered [`Job`] at its interval until shutdown. Several
//!   worker processes may run at once: a run is claimed with a Postgres advisory lock, so
//!   each due run happens on one worker only.
//! - [`jobs`] — the job table (the jobs themselves arrive with the features they serve).

pub mod jobs;

use std::sync::Arc;
use std::time::Duration;

use charter_store::Store;
use futures::future::BoxFuture;
use tokio::sync::watch;

/// What a job run reports: a summary when it did something (logged at INFO), `None`
/// when there was nothing to do (no line: an idle worker is quiet).
pub type JobResult = Result<Option<String>, charter_store::StoreError>;

/// The body of a job: a plain async function of the store.
pub type JobFn = Arc<dyn Fn(Store) -> BoxFuture<'static, JobResult> + Send + Sync>;

/// A scheduled job: a name (also its lock), an interval and the function to run.
#[derive(Clone)]
pub struct Job {
    pub name: &'static str,
    pub every: Duration,
    pub run: JobFn,
}

pub struct Scheduler {
    store: Store,
    jobs: Vec<Job>,
    tick: Duration,
}

impl Scheduler {
    pub fn new(store: Store, jobs: Vec<Job>) -> Scheduler {
        Scheduler {
            store,
            jobs,
            tick: Duration::from_millis(500),
        }
    }

    /// Runs until `shutdown` turns true; a job in progress finishes first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(jobs = self.jobs.len(), "worker started");
        let start = tokio::time::Instant::now();
        let mut next_due: Vec<tokio::time::Instant> = self.jobs.iter().map(|_| start).collect();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = tokio::time::Instant::now();
            for (job, due) in self.jobs.iter().zip(next_due.iter_mut()) {
                if now >= *due {
                    run_once(&self.store, job).await;
                    *due = tokio::time::Instant::now() + job.every;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.tick) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!("worker stopped");
    }
}

/// Runs `job` once if no other worker holds it; returns whether it ran.
pub async fn run_once(store: &Store, job: &Job) -> bool {
    let lock = match store.try_job_lock(job.name).await {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            tracing::debug!(job = job.name, "held by another worker; skipped");
            return false;
        }
        Err(e) => {
            tracing::warn!(job = job.name, error = %e, "cannot claim job");
            return false;
        }
    };
    let started = std::time::Instant::now();
    let started_at = chrono::Utc::now();
    let (ok, summary) = match (job.run)(store.clone()).await {
        Ok(Some(summary)) => {
            tracing::info!(
                job = job.name,
                elapsed_ms = started.elapsed().as_millis() as u64,
                summary,
                "job done"
            );
            (true, summary)
        }
        Ok(None) => (true, "nothing to do".to_string()),
        Err(e) => {
            tracing::warn!(job = job.name, error = %e, "job failed");
            (false, e.to_string())
        }
    };
    let recorded = store
        .worker()
        .record_job_run(job.name, started_at, ok, &summary)
        .await;
    if let Err(e) = recorded {
        tracing::warn!(job = job.name, error = %e, "recording the job's run failed");
    }
    if let Err(e) = lock.release().await {
        tracing::warn!(job = job.name, error = %e, "releasing job lock failed");
    }
    true
}
