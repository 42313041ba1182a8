//! The worker's jobs and their last runs (the scanner, checkpoints, task expiry, …), so
//! administrators can see the machinery that watches their tenant is running.

use actix_web::{HttpResponse, get, web};
use charter_store::worker::job_runs::JobRun;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::Errors;
use super::extract::Authorized;
use super::permissions::Operate;
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list);
}

#[derive(Serialize, ToSchema)]
pub struct JobView {
    /// The job's name (e.g. `scanner`).
    pub job: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `ok` or `failed`.
    pub outcome: String,
    /// What the last run did (counts), or why it failed.
    pub summary: String,
    pub duration_ms: i64,
    /// Runs so far, and how many of them failed.
    pub runs: i64,
    pub failures: i64,
}

impl From<JobRun> for JobView {
    fn from(j: JobRun) -> Self {
        JobView {
            job: j.job,
            started_at: j.started_at,
            finished_at: j.finished_at,
            outcome: j.outcome,
            summary: j.summary,
            duration_ms: j.duration_ms,
            runs: j.runs,
            failures: j.failures,
        }
    }
}

/// Each job's last run.
#[utoipa::path(operation_id = "jobs_list", tag = "jobs", security(("bearer" = ["operate"])), responses((status = 200, body = [JobView]), Errors))]
#[get("/jobs")]
pub async fn list(
    _auth: Authorized<Operate>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let runs = state.store().worker().job_runs().await?;
    Ok(HttpResponse::Ok().json(runs.into_iter().map(JobView::from).collect::<Vec<_>>()))
}
