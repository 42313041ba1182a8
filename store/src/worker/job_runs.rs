//! The last run of each job, kept for administrators (`GET /api/v1/jobs`): job names,
//! times, outcome and a summary of counts — platform facts, no tenant's data.

use crate::Result;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub job: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `ok` or `failed`.
    pub outcome: String,
    pub summary: String,
    pub duration_ms: i64,
    pub runs: i64,
    pub failures: i64,
}

impl crate::handles::Worker<'_> {
    /// Records a finished run of `job`.
    pub async fn record_job_run(
        self,
        job: &str,
        started_at: DateTime<Utc>,
        ok: bool,
        summary: &str,
    ) -> Result<()> {
        let finished = Utc::now();
        let ms = (finished - started_at).num_milliseconds().max(0);
        self.platform_write(
            "INSERT INTO job_runs (job, started_at, finished_at, outcome, summary, duration_ms, failures)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (job) DO UPDATE SET started_at = $2, finished_at = $3, outcome = $4,
                 summary = $5, duration_ms = $6, runs = job_runs.runs + 1,
                 failures = job_runs.failures + $7",
            vec![
                job.into(),
                started_at.into(),
                finished.into(),
                (if ok { "ok" } else { "failed" }).into(),
                summary.into(),
                ms.into(),
                i64::from(!ok).into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Every job's last run, by name.
    pub async fn job_runs(self) -> Result<Vec<JobRun>> {
        let rows = self
            .platform_all(
                "SELECT job, started_at, finished_at, outcome, summary, duration_ms, runs, failures
                 FROM job_runs ORDER BY job",
                vec![],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(JobRun {
                    job: r.try_get("", "job")?,
                    started_at: r.try_get("", "started_at")?,
                    finished_at: r.try_get("", "finished_at")?,
                    outcome: r.try_get("", "outcome")?,
                    summary: r.try_get("", "summary")?,
                    duration_ms: r.try_get("", "duration_ms")?,
                    runs: r.try_get("", "runs")?,
                    failures: r.try_get("", "failures")?,
                })
            })
            .collect()
    }
}
