//! Article 12 evidence bundles: asked for here, made by the worker (progress visible),
//! downloaded when made. Owners, admins and compliance officers export; everyone of the
//! tenant sees the history.

use actix_web::{HttpResponse, get, post, web};
use charter_core::bundle::{parse_bound, parse_purpose};
use charter_store::evidence::exports::{Export, ExportRequest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body};
use super::permissions::{Export as ExportPermission, Read};
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get_one)
        .service(download);
}

#[derive(Serialize, ToSchema)]
pub struct ExportView {
    pub id: Uuid,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub requested_by: Uuid,
    /// The AI system whose records are in full (others are elided to seq and hash).
    pub system_id: Option<Uuid>,
    /// Or the agents whose records are in full; neither: every record.
    pub agents: Vec<Uuid>,
    /// The period: `from` inclusive, `to` exclusive.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `risk_situations`, `post_market_monitoring` or `operation_monitoring`.
    pub purpose: String,
    /// Work done while running, 0 to 1 (two passes over the records).
    pub progress: f64,
    pub from_seq: Option<i64>,
    pub to_seq: Option<i64>,
    pub full_records: Option<i64>,
    pub elided_records: Option<i64>,
    /// SHA-256 of the bundle's manifest.json (also in its `export.created` record).
    pub manifest_sha256: Option<String>,
    pub size_bytes: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where to download it once `done`.
    pub download: Option<String>,
}

impl From<Export> for ExportView {
    fn from(e: Export) -> Self {
        let progress = match (e.status.as_str(), e.records_total) {
            ("done", _) => 1.0,
            (_, Some(t)) if t > 0 => e.records_done as f64 / t as f64,
            _ => 0.0,
        };
        ExportView {
            download: (e.status == "done").then(|| format!("/api/v1/exports/{}/download", e.id)),
            id: e.id,
            status: e.status,
            requested_by: e.requested_by,
            system_id: e.system,
            agents: e.agents,
            from: e.from,
            to: e.to,
            purpose: e.purpose.as_str().into(),
            progress,
            from_seq: e.from_seq,
            to_seq: e.to_seq,
            full_records: e.full_records,
            elided_records: e.elided_records,
            manifest_sha256: e.manifest_sha256,
            size_bytes: e.size_bytes,
            error: e.error,
            created_at: e.created_at,
            started_at: e.started_at,
            finished_at: e.finished_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExport {
    /// An AI system of the tenant: its agents' records in full.
    #[serde(default)]
    pub system_id: Option<Uuid>,
    /// Agents of the tenant, instead of a system. Neither: every record in full.
    #[serde(default)]
    pub agents: Vec<Uuid>,
    /// Start of the period: `YYYY-MM-DD` (UTC) or RFC 3339; not in the future.
    #[schema(example = "2026-11-01")]
    pub from: String,
    /// End of the period: `YYYY-MM-DD` (that day included) or RFC 3339 (excluded).
    #[schema(example = "2026-11-30")]
    pub to: String,
    /// `risk_situations`, `post_market_monitoring` or `operation_monitoring` (Article
    /// 12(2)(a), (b), (c)).
    #[schema(example = "operation_monitoring")]
    pub purpose: String,
}

/// The tenant's exports, newest first.
#[utoipa::path(operation_id = "exports_list", tag = "exports", security(("bearer" = ["read"])), responses((status = 200, body = [ExportView]), Errors))]
#[get("/exports")]
pub async fn list(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.store().admin().exports(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(ExportView::from).collect::<Vec<_>>()))
}

/// Asks for an evidence bundle; the worker makes it (`202`, then poll the export).
#[utoipa::path(operation_id = "exports_create", tag = "exports", security(("bearer" = ["export"])), request_body = NewExport,
    responses((status = 202, body = ExportView), Errors))]
#[post("/exports")]
pub async fn create(
    auth: Authorized<ExportPermission>,
    state: web::Data<AppState>,
    Body(b): Body<NewExport>,
) -> Result<HttpResponse, ApiError> {
    let from = parse_bound(&b.from, false)
        .ok_or_else(|| ApiError::invalid("from: a date YYYY-MM-DD or an RFC 3339 time"))?;
    let to = parse_bound(&b.to, true)
        .ok_or_else(|| ApiError::invalid("to: a date YYYY-MM-DD or an RFC 3339 time"))?;
    let purpose = parse_purpose(&b.purpose).map_err(|e| ApiError::invalid(e.to_string()))?;
    let req = ExportRequest {
        system: b.system_id,
        agents: b.agents,
        from,
        to,
        purpose,
    };
    let e = state
        .store()
        .admin()
        .request_export(auth.tenant_id, auth.acting(), req)
        .await?;
    Ok(HttpResponse::Accepted().json(ExportView::from(e)))
}

/// One export, with its progress.
#[utoipa::path(operation_id = "exports_get_one", tag = "exports", security(("bearer" = ["read"])), responses((status = 200, body = ExportView), Errors))]
#[get("/exports/{export_id}")]
pub async fn get_one(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let e = state
        .store()
        .admin()
        .export(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(ExportView::from(e)))
}

/// The bundle (a zip), streamed; `409` until it is made.
#[utoipa::path(operation_id = "exports_download", tag = "exports", security(("bearer" = ["export"])),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), Errors))]
#[get("/exports/{export_id}/download")]
pub async fn download(
    auth: Authorized<ExportPermission>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let tenant = auth.tenant_id;
    let e = state
        .store()
        .admin()
        .export_for_download(tenant, auth.acting(), id)
        .await?;
    Ok(charter_web::pages::exports::bundle_response(
        state.store(),
        tenant,
        &e,
    ))
}
