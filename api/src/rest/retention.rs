//! Retention of record bodies (at least six months) and legal holds. Everyone of the
//! tenant reads them; owners and admins change them, each change a ledger record.

use actix_web::{HttpResponse, get, post, put, web};
use charter_store::evidence::retention::{DEFAULT_DAYS, FLOOR_DAYS, LegalHold, Retention};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body};
use super::permissions::{ManageRetention, Read};
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(get_retention)
        .service(set_retention)
        .service(list_holds)
        .service(place_hold)
        .service(release_hold);
}

#[derive(Serialize, ToSchema)]
pub struct RetentionView {
    /// Record bodies older than this are removed (seq, hash, signature and the Merkle tree
    /// stay), unless held.
    pub retention_days: i32,
    /// The least allowed: six months (Articles 19(1) and 26(6)).
    pub floor_days: i32,
    /// What applies when nothing is set: ten years.
    pub default_days: i32,
    /// Holds in force.
    pub active_holds: Vec<LegalHoldView>,
}

#[derive(Serialize, ToSchema)]
pub struct LegalHoldView {
    pub id: Uuid,
    /// The held AI system; null: every record of the tenant.
    pub system_id: Option<Uuid>,
    pub reason: String,
    pub placed_by: Uuid,
    pub placed_at: DateTime<Utc>,
    pub released_by: Option<Uuid>,
    pub released_at: Option<DateTime<Utc>>,
}

impl From<LegalHold> for LegalHoldView {
    fn from(h: LegalHold) -> Self {
        LegalHoldView {
            id: h.id,
            system_id: h.system,
            reason: h.reason,
            placed_by: h.placed_by,
            placed_at: h.placed_at,
            released_by: h.released_by,
            released_at: h.released_at,
        }
    }
}

fn view(r: Retention) -> RetentionView {
    RetentionView {
        retention_days: r.retention_days,
        floor_days: FLOOR_DAYS,
        default_days: DEFAULT_DAYS,
        active_holds: r
            .holds
            .into_iter()
            .filter(|h| h.released_at.is_none())
            .map(LegalHoldView::from)
            .collect(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionChange {
    /// 183 (six months) to 36,525 days.
    #[schema(example = 3653)]
    pub retention_days: i32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLegalHold {
    /// An AI system of the tenant; absent or null: every record of the tenant.
    #[serde(default)]
    pub system_id: Option<Uuid>,
    /// 1 to 2,000 characters: why (a matter, an authority's request, …).
    pub reason: String,
}

/// The tenant's retention and the holds in force.
#[utoipa::path(operation_id = "retention_get", tag = "retention", security(("bearer" = ["read"])), responses((status = 200, body = RetentionView), Errors))]
#[get("/retention")]
pub async fn get_retention(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let r = state.store().admin().retention(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(view(r)))
}

/// Sets the retention (never below six months: `422`).
#[utoipa::path(operation_id = "retention_set", tag = "retention", security(("bearer" = ["manage_retention"])), request_body = RetentionChange,
    responses((status = 200, body = RetentionView), Errors))]
#[put("/retention")]
pub async fn set_retention(
    auth: Authorized<ManageRetention>,
    state: web::Data<AppState>,
    Body(b): Body<RetentionChange>,
) -> Result<HttpResponse, ApiError> {
    let admin = state.store().admin();
    admin
        .set_retention(auth.tenant_id, auth.acting(), b.retention_days)
        .await?;
    let r = admin.retention(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(view(r)))
}

/// Every legal hold, released ones too, newest first.
#[utoipa::path(operation_id = "legal_holds_list", tag = "retention", security(("bearer" = ["read"])), responses((status = 200, body = [LegalHoldView]), Errors))]
#[get("/legal-holds")]
pub async fn list_holds(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let r = state.store().admin().retention(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(
        r.holds
            .into_iter()
            .map(LegalHoldView::from)
            .collect::<Vec<_>>(),
    ))
}

/// Places a legal hold: the system's (or all) records are kept whatever the retention.
#[utoipa::path(operation_id = "legal_holds_place", tag = "retention", security(("bearer" = ["manage_retention"])), request_body = NewLegalHold,
    responses((status = 201, body = LegalHoldView), Errors))]
#[post("/legal-holds")]
pub async fn place_hold(
    auth: Authorized<ManageRetention>,
    state: web::Data<AppState>,
    Body(b): Body<NewLegalHold>,
) -> Result<HttpResponse, ApiError> {
    let h = state
        .store()
        .admin()
        .place_legal_hold(auth.tenant_id, auth.acting(), b.system_id, b.reason)
        .await?;
    Ok(HttpResponse::Created().json(LegalHoldView::from(h)))
}

/// Releases a hold (`409` when it already is).
#[utoipa::path(operation_id = "legal_holds_release", tag = "retention", security(("bearer" = ["manage_retention"])),
    responses((status = 200, body = LegalHoldView), Errors))]
#[post("/legal-holds/{hold_id}/release")]
pub async fn release_hold(
    auth: Authorized<ManageRetention>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let h = state
        .store()
        .admin()
        .release_legal_hold(auth.tenant_id, auth.acting(), path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(LegalHoldView::from(h)))
}
