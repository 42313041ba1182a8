//! The daily self-audits: what the worker found needs a person's eyes, signed into the
//! ledger (the record holds the report's SHA-256 over its canonical JSON).

use actix_web::{HttpResponse, get, web};
use charter_store::worker::self_audit::SelfAudit;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::Authorized;
use super::permissions::Read;
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list).service(get_one);
}

#[derive(Serialize, ToSchema)]
pub struct SelfAuditView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    /// The report: ledger verified up to seq N against checkpoint C, open violations by
    /// severity, tripped breakers, work past half its time, keys due for rotation, trial
    /// days left, and `flagged` — the items for review.
    pub report: serde_json::Value,
    /// SHA-256 of the report's canonical JSON (RFC 8785), hex; the ledger record holds it.
    pub sha256: String,
    /// The `self_audit.completed` record's seq.
    pub seq: Option<i64>,
}

impl From<SelfAudit> for SelfAuditView {
    fn from(a: SelfAudit) -> Self {
        SelfAuditView {
            id: a.id,
            created_at: a.created_at,
            report: a.report,
            sha256: a.sha256,
            seq: a.seq,
        }
    }
}

/// Self-audits, newest first (at most 100).
#[utoipa::path(operation_id = "self_audits_list", tag = "self-audits", security(("bearer" = ["read"])), responses((status = 200, body = [SelfAuditView]), Errors))]
#[get("/self-audits")]
pub async fn list(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state
        .store()
        .admin()
        .self_audits(auth.tenant_id, 100)
        .await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(SelfAuditView::from).collect::<Vec<_>>()))
}

/// One self-audit.
#[utoipa::path(operation_id = "self_audits_get_one", tag = "self-audits", security(("bearer" = ["read"])), responses((status = 200, body = SelfAuditView), Errors))]
#[get("/self-audits/{audit_id}")]
pub async fn get_one(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let a = state
        .store()
        .admin()
        .self_audit(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(SelfAuditView::from(a)))
}
