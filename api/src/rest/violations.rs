//! Violations: list with filters and keyset pages, read one, acknowledge, resolve.

use actix_web::{HttpResponse, get, post, web};
use charter_store::admin::violations::{Violation, ViolationFilter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body, Query};
use super::permissions::{HandleViolations, Read};
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(get_one)
        .service(acknowledge)
        .service(resolve);
}

#[derive(Serialize, ToSchema)]
pub struct ViolationView {
    pub id: Uuid,
    /// e.g. `self_approval`.
    pub kind: String,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: String,
    /// Who it concerns.
    pub subject: serde_json::Value,
    /// What happened.
    pub details: serde_json::Value,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

impl From<Violation> for ViolationView {
    fn from(v: Violation) -> Self {
        ViolationView {
            id: v.id,
            kind: v.kind,
            severity: v.severity.to_string(),
            subject: v.subject,
            details: v.details,
            status: v.status.to_string(),
            created_at: v.created_at,
            acknowledged_by: v.acknowledged_by,
            acknowledged_at: v.acknowledged_at,
            resolved_by: v.resolved_by,
            resolved_at: v.resolved_at,
            resolution: v.resolution,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    /// `open`, `acknowledged` or `resolved`.
    pub status: Option<String>,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: Option<String>,
    /// e.g. `self_approval`.
    pub kind: Option<String>,
    /// Only violations older than this one (the previous page's `next_before`).
    pub before: Option<Uuid>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct ViolationPage {
    /// Newest first.
    pub violations: Vec<ViolationView>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<Uuid>,
}

/// A filter's state word as its type: an unknown word is a 400, not an empty page.
pub(crate) fn word<T: std::str::FromStr>(
    field: &str,
    w: Option<&str>,
) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    w.map(|w| w.parse::<T>())
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_query", format!("{field}: {e}")))
}

/// Violations, newest first.
#[utoipa::path(operation_id = "violations_list", tag = "violations", security(("bearer" = ["read"])), params(Filter),
    responses((status = 200, body = ViolationPage), Errors))]
#[get("/violations")]
pub async fn list(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    Query(f): Query<Filter>,
) -> Result<HttpResponse, ApiError> {
    if f.limit.is_some_and(|l| !(1..=200).contains(&l)) {
        return Err(ApiError::bad_request("invalid_query", "limit: 1 to 200"));
    }
    let (list, more) = state
        .store()
        .admin()
        .list_violations(
            auth.tenant_id,
            ViolationFilter {
                status: word("status", f.status.as_deref())?,
                severity: word("severity", f.severity.as_deref())?,
                kind: f.kind,
                before: f.before,
                limit: f.limit.unwrap_or(50),
            },
        )
        .await?;
    let next = more.then(|| list.last().map(|v| v.id)).flatten();
    Ok(HttpResponse::Ok().json(ViolationPage {
        violations: list.into_iter().map(ViolationView::from).collect(),
        next_before: next,
    }))
}

/// One violation.
#[utoipa::path(operation_id = "violations_get_one", tag = "violations", security(("bearer" = ["read"])), responses((status = 200, body = ViolationView), Errors))]
#[get("/violations/{violation_id}")]
pub async fn get_one(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = state
        .store()
        .admin()
        .violation(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(ViolationView::from(v)))
}

/// `open → acknowledged`.
#[utoipa::path(operation_id = "violations_acknowledge", tag = "violations", security(("bearer" = ["handle_violations"])),
    responses((status = 200, body = ViolationView), Errors))]
#[post("/violations/{violation_id}/acknowledge")]
pub async fn acknowledge(
    auth: Authorized<HandleViolations>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = state
        .store()
        .admin()
        .acknowledge_violation(auth.tenant_id, auth.acting(), path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(ViolationView::from(v)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// What was done about it (1–2000 characters).
    pub resolution: String,
}

/// `open | acknowledged → resolved`, saying what was done.
#[utoipa::path(operation_id = "violations_resolve", tag = "violations", security(("bearer" = ["handle_violations"])), request_body = Resolution,
    responses((status = 200, body = ViolationView), Errors))]
#[post("/violations/{violation_id}/resolve")]
pub async fn resolve(
    auth: Authorized<HandleViolations>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(b): Body<Resolution>,
) -> Result<HttpResponse, ApiError> {
    let v = state
        .store()
        .admin()
        .resolve_violation(
            auth.tenant_id,
            auth.acting(),
            path.into_inner(),
            b.resolution,
        )
        .await?;
    Ok(HttpResponse::Ok().json(ViolationView::from(v)))
}
