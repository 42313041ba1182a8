//! charter-worker: the scheduler and its jobs, each a plain function tests can call.
//!
//! # Layout
//! - [`Scheduler`] — runs each registered [`Job`] at its interval until shutdown. Several
//!   worker processes may run at once: a run is claimed with a Postgres advisory lock and
//!   the time of the job's last run, so each due run happens on one worker only, once per
//!   interval.
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

    /// Runs until `shutdown` turns true; a job in progress finishes first. Each job has its
    /// own loop, so a long scanner pass does not hold back webhooks or checkpoints.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        tracing::info!(jobs = self.jobs.len(), "worker started");
        let loops = self.jobs.iter().map(|job| {
            let (store, mut shutdown) = (self.store.clone(), shutdown.clone());
            let tick = self.tick;
            async move {
                loop {
                    if *shutdown.borrow() {
                        break;
                    }
                    run_once(&store, job).await;
                    // Sleep in ticks, so a stop is seen within one.
                    let due = tokio::time::Instant::now() + job.every;
                    while tokio::time::Instant::now() < due && !*shutdown.borrow() {
                        tokio::select! {
                            _ = tokio::time::sleep_until(due.min(tokio::time::Instant::now() + tick)) => {}
                            // A dropped sender can never say stop: treat it as one.
                            r = shutdown.changed() => if r.is_err() { return; }
                        }
                    }
                }
            }
        });
        futures::future::join_all(loops).await;
        tracing::info!("worker stopped");
    }
}

/// Runs `job` once if no other worker holds it and none ran it within its interval;
/// returns whether it ran.
pub async fn run_once(store: &Store, job: &Job) -> bool {
    let lock = match store.try_claim_job(job.name, job.every).await {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            tracing::debug!(job = job.name, "held or run by another worker; skipped");
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
