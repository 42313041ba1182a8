//! The approvals inbox: reviews a person may decide (separation of duties applies to
//! people too: nobody approves their own work or their own agents' work), action approvals
//! and agents' scope-change requests — each approved or rejected, and recorded.

use actix_web::{HttpResponse, get, post, web};
use charter_core::engine::provenance::Party;
use charter_store::admin::inbox::{PendingApproval, ScopeChangeRequest};
use charter_store::engine::reviews::VerdictOutcome;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body};
use super::ledger::Recorded;
use super::permissions::{Decide, ManagePolicies, Read};
use crate::AppState;
use crate::error::ApiError;
use crate::wire::all;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(reviews)
        .service(review_verdict)
        .service(action_approvals)
        .service(action_approval_verdict)
        .service(scope_changes)
        .service(scope_change_verdict);
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Approve,
    Reject,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// `approve` or `reject`.
    pub verdict: VerdictKind,
    /// Why (at most 2,000 characters); recorded with the verdict in the ledger.
    #[serde(default)]
    pub comment: Option<String>,
}

impl Verdict {
    fn checked(&self) -> Result<charter_store::engine::verdict::Verdict, ApiError> {
        Ok(charter_store::engine::verdict::Verdict::with_comment(
            self.verdict == VerdictKind::Approve,
            self.comment.as_deref(),
        )?)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewVerdict {
    /// `approve` or `reject`.
    pub verdict: VerdictKind,
    /// The artifact digest the review is bound to (an approval names exactly what it
    /// approves).
    pub digest: String,
    /// Why (at most 2,000 characters); recorded with the verdict in the ledger.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Pending reviews the caller may decide (their own work, and their agents', is left out).
#[utoipa::path(operation_id = "reviews_reviews", tag = "reviews", security(("bearer" = ["read"])), responses((status = 200, body = [crate::wire::views::ReviewInfo]), Errors))]
#[get("/reviews")]
pub async fn reviews(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = state
        .store()
        .admin()
        .reviews_for_principal(auth.tenant_id, auth.principal_id)
        .await?;
    Ok(HttpResponse::Ok().json(all::<_, crate::wire::views::ReviewInfo>(list)))
}

#[derive(Serialize, ToSchema)]
pub struct ReviewDecided {
    /// `approved` or `rejected`.
    pub status: String,
    pub recorded: Recorded,
}

/// Approves or rejects a review. Approving one's own work (or one's agents', or work
/// derived from it, or delegated by one) is refused with `self_approval` and recorded as a
/// violation.
#[utoipa::path(operation_id = "reviews_review_verdict", tag = "reviews", security(("bearer" = ["decide"])), request_body = ReviewVerdict,
    responses((status = 200, body = ReviewDecided), Errors))]
#[post("/reviews/{review_id}/verdict")]
pub async fn review_verdict(
    auth: Authorized<Decide>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(b): Body<ReviewVerdict>,
) -> Result<HttpResponse, ApiError> {
    let (outcome, receipt) = state
        .store()
        .engine()
        .submit_verdict(
            auth.tenant_id,
            Party::Principal {
                id: auth.principal_id,
            },
            path.into_inner(),
            b.digest,
            charter_store::engine::verdict::Verdict::with_comment(
                b.verdict == VerdictKind::Approve,
                b.comment.as_deref(),
            )?,
        )
        .await?;
    match outcome {
        VerdictOutcome::Recorded { review_status } => Ok(HttpResponse::Ok().json(ReviewDecided {
            status: review_status.to_string(),
            recorded: receipt.into(),
        })),
        VerdictOutcome::Refused { why, violation } => Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "self_approval",
            format!(
                "{why} (recorded as violation {violation}, ledger seq {})",
                receipt.seq
            ),
        )),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActionApprovalView {
    pub id: Uuid,
    /// The agent that asked.
    pub agent_id: Uuid,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    /// The canonical digest of the exact arguments the approval is for.
    pub args_digest: String,
    pub status: String,
    pub requested_at: DateTime<Utc>,
}

impl From<PendingApproval> for ActionApprovalView {
    fn from(a: PendingApproval) -> Self {
        ActionApprovalView {
            id: a.id,
            agent_id: a.agent_id,
            action: a.action,
            resource_type: a.resource_type,
            resource_id: a.resource_id,
            args_digest: a.args_digest,
            status: a.status.to_string(),
            requested_at: a.requested_at,
        }
    }
}

/// Actions waiting for a person's approval of their exact arguments.
#[utoipa::path(operation_id = "reviews_action_approvals", tag = "reviews", security(("bearer" = ["read"])), responses((status = 200, body = [ActionApprovalView]), Errors))]
#[get("/action-approvals")]
pub async fn action_approvals(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = state
        .store()
        .admin()
        .pending_action_approvals(auth.tenant_id, auth.principal_id)
        .await?;
    Ok(HttpResponse::Ok().json(
        list.into_iter()
            .map(ActionApprovalView::from)
            .collect::<Vec<_>>(),
    ))
}

/// Approves or rejects an action approval.
#[utoipa::path(operation_id = "reviews_action_approval_verdict", tag = "reviews", security(("bearer" = ["decide"])), request_body = Verdict,
    responses((status = 200, body = Recorded), Errors))]
#[post("/action-approvals/{approval_id}/verdict")]
pub async fn action_approval_verdict(
    auth: Authorized<Decide>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(b): Body<Verdict>,
) -> Result<HttpResponse, ApiError> {
    let r = state
        .store()
        .engine()
        .decide_action_approval(
            auth.tenant_id,
            path.into_inner(),
            auth.acting(),
            b.checked()?,
        )
        .await?;
    Ok(HttpResponse::Ok().json(Recorded::from(r)))
}

#[derive(Serialize, ToSchema)]
pub struct ScopeChangeView {
    pub id: Uuid,
    pub agent_id: Uuid,
    /// The scope the agent asks for.
    pub requested_scope: serde_json::Value,
    pub reason: String,
    pub status: String,
    pub requested_at: DateTime<Utc>,
}

impl From<ScopeChangeRequest> for ScopeChangeView {
    fn from(r: ScopeChangeRequest) -> Self {
        ScopeChangeView {
            id: r.id,
            agent_id: r.agent_id,
            requested_scope: r.requested_scope,
            reason: r.reason,
            status: r.status.to_string(),
            requested_at: r.requested_at,
        }
    }
}

/// Agents' pending requests for more authority.
#[utoipa::path(operation_id = "reviews_scope_changes", tag = "reviews", security(("bearer" = ["read"])), responses((status = 200, body = [ScopeChangeView]), Errors))]
#[get("/scope-change-requests")]
pub async fn scope_changes(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = state
        .store()
        .admin()
        .pending_scope_changes(auth.tenant_id)
        .await?;
    Ok(HttpResponse::Ok().json(
        list.into_iter()
            .map(ScopeChangeView::from)
            .collect::<Vec<_>>(),
    ))
}

/// Approves (applies the requested scope) or rejects a scope-change request.
#[utoipa::path(operation_id = "reviews_scope_change_verdict", tag = "reviews", security(("bearer" = ["manage_policies"])), request_body = Verdict,
    responses((status = 200, body = Recorded), Errors))]
#[post("/scope-change-requests/{request_id}/verdict")]
pub async fn scope_change_verdict(
    auth: Authorized<ManagePolicies>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(b): Body<Verdict>,
) -> Result<HttpResponse, ApiError> {
    let r = state
        .store()
        .engine()
        .decide_scope_change(
            auth.tenant_id,
            path.into_inner(),
            auth.acting(),
            b.checked()?,
        )
        .await?;
    Ok(HttpResponse::Ok().json(Recorded::from(r)))
}
