//! Tenant policies (catalog and Cedar text), limits, gate bindings and approval rules;
//! validation without saving; and the simulator: "would this be allowed, and why?".

use actix_web::{HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body};
use super::ledger::Recorded;
use super::permissions::{ManagePolicies, Read, Simulate};
use crate::AppState;
use crate::error::ApiError;
use crate::wire::engine::{ActionRequest, Decision};
use crate::wire::policy::Catalog;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(get_policies)
        .service(put_policies)
        .service(validate)
        .service(simulate)
        .service(put_limits)
        .service(bind_gate)
        .service(approval_rule);
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    /// Resource types and actions (with their groups) the tenant's scopes and policies use.
    pub catalog: Catalog,
    /// Tenant-wide Cedar policies (e.g. `forbid` rules), in addition to agents' scopes.
    pub policies: String,
}

#[derive(Serialize, ToSchema)]
pub struct PoliciesView {
    /// Resource types and actions (with their groups).
    pub catalog: Catalog,
    /// Tenant-wide Cedar policies.
    pub policies: String,
    /// Increases with every change to these or to any agent's scope.
    pub version: i64,
    /// Tenant-wide spend per cycle (absent: unlimited).
    pub spend_limit: Option<i64>,
    /// Tenant-wide dispatches per cycle (absent: unlimited).
    pub dispatch_limit: Option<i64>,
    /// The budget cycle, in seconds.
    pub cycle_secs: i32,
}

/// The tenant's catalog, policies and limits.
#[utoipa::path(operation_id = "policies_get_policies", tag = "policies", security(("bearer" = ["read"])), responses((status = 200, body = PoliciesView), Errors))]
#[get("/policies")]
pub async fn get_policies(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = state
        .store()
        .engine()
        .tenant_policies(auth.tenant_id)
        .await?;
    Ok(HttpResponse::Ok().json(PoliciesView {
        catalog: p.catalog.into(),
        policies: p.policies,
        version: p.version,
        spend_limit: p.spend_limit,
        dispatch_limit: p.dispatch_limit,
        cycle_secs: p.cycle_secs,
    }))
}

/// Replaces the catalog and tenant policies. Everything (these and every agent's scope)
/// must compile first; errors give line and column.
#[utoipa::path(operation_id = "policies_put_policies", tag = "policies", security(("bearer" = ["manage_policies"])), request_body = Policies,
    responses((status = 200, body = Recorded), Errors))]
#[put("/policies")]
pub async fn put_policies(
    auth: Authorized<ManagePolicies>,
    state: web::Data<AppState>,
    Body(b): Body<Policies>,
) -> Result<HttpResponse, ApiError> {
    let r = state
        .store()
        .engine()
        .set_tenant_policies(auth.tenant_id, auth.acting(), b.catalog.into(), b.policies)
        .await?;
    Ok(HttpResponse::Ok().json(Recorded::from(r)))
}

#[derive(Serialize, ToSchema)]
pub struct Validation {
    /// Always true: invalid policies are a 422 naming line and column.
    pub valid: bool,
}

/// Checks a candidate catalog and policies without saving them.
#[utoipa::path(operation_id = "policies_validate", tag = "policies", security(("bearer" = ["manage_policies"])), request_body = Policies,
    responses((status = 200, body = Validation), Errors))]
#[post("/policies/validate")]
pub async fn validate(
    auth: Authorized<ManagePolicies>,
    state: web::Data<AppState>,
    Body(b): Body<Policies>,
) -> Result<HttpResponse, ApiError> {
    state
        .store()
        .engine()
        .validate_policies(auth.tenant_id, &b.catalog.into(), &b.policies)
        .await?;
    Ok(HttpResponse::Ok().json(Validation { valid: true }))
}

#[derive(Deserialize, ToSchema)]
pub struct SimulateRequest {
    /// The agent that would ask.
    pub agent_id: Uuid,
    /// What it would ask (as `authorize_action` takes it).
    #[serde(flatten)]
    pub request: ActionRequest,
}

#[derive(Serialize, ToSchema)]
pub struct SimulationView {
    /// What `authorize_action` would answer now.
    #[serde(flatten)]
    pub decision: Decision,
    /// Why, for people, when it would not simply be allowed.
    pub message: Option<String>,
}

/// Would this be allowed, and why? Runs every check of a real decision (subscription,
/// agent and breaker, scope, task chain, gates, approvals, budgets) and keeps nothing.
#[utoipa::path(operation_id = "policies_simulate", tag = "policies", security(("bearer" = ["simulate"])), request_body = SimulateRequest,
    responses((status = 200, body = SimulationView), Errors))]
#[post("/simulate")]
pub async fn simulate(
    auth: Authorized<Simulate>,
    state: web::Data<AppState>,
    Body(b): Body<SimulateRequest>,
) -> Result<HttpResponse, ApiError> {
    let s = state
        .store()
        .engine()
        .simulate(auth.tenant_id, b.agent_id, b.request.into())
        .await?;
    Ok(HttpResponse::Ok().json(SimulationView {
        decision: s.decision.into(),
        message: s.message,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Tenant-wide spend per cycle (absent: unlimited).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub spend_limit: Option<i64>,
    /// Tenant-wide dispatches per cycle (absent: unlimited).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub dispatch_limit: Option<i64>,
    /// The cycle length in seconds (1 to 366 days).
    #[schema(minimum = 1, maximum = 31622400)]
    pub cycle_secs: u32,
}

/// Sets the tenant-wide blast-radius limits per cycle.
#[utoipa::path(operation_id = "policies_put_limits", tag = "policies", security(("bearer" = ["manage_policies"])), request_body = Limits,
    responses((status = 200, body = Recorded), Errors))]
#[put("/limits")]
pub async fn put_limits(
    auth: Authorized<ManagePolicies>,
    state: web::Data<AppState>,
    Body(b): Body<Limits>,
) -> Result<HttpResponse, ApiError> {
    let r = state
        .store()
        .engine()
        .set_tenant_limits(
            auth.tenant_id,
            auth.acting(),
            b.spend_limit,
            b.dispatch_limit,
            b.cycle_secs,
        )
        .await?;
    Ok(HttpResponse::Ok().json(Recorded::from(r)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GateBinding {
    /// The action (e.g. `deploy`).
    pub action: String,
    /// The resource type it acts on (e.g. `Service`).
    pub resource_type: String,
    /// The gate that must be passed in the action's initiative.
    pub gate: String,
}

fn non_empty(field: &str, v: &str) -> Result<(), ApiError> {
    if v.trim().is_empty() || v.len() > 200 {
        return Err(ApiError::invalid(format!("{field}: 1 to 200 characters")));
    }
    Ok(())
}

/// Makes an action require a gate passed in its initiative (BLOCKED `gate_not_passed`
/// until then).
#[utoipa::path(operation_id = "policies_bind_gate", tag = "policies", security(("bearer" = ["manage_policies"])), request_body = GateBinding,
    responses((status = 200, body = Recorded), Errors))]
#[post("/action-gates")]
pub async fn bind_gate(
    auth: Authorized<ManagePolicies>,
    state: web::Data<AppState>,
    Body(b): Body<GateBinding>,
) -> Result<HttpResponse, ApiError> {
    non_empty("action", &b.action)?;
    non_empty("resource_type", &b.resource_type)?;
    non_empty("gate", &b.gate)?;
    let r = state
        .store()
        .engine()
        .bind_action_gate(
            auth.tenant_id,
            auth.acting(),
            b.action,
            b.resource_type,
            b.gate,
        )
        .await?;
    Ok(HttpResponse::Ok().json(Recorded::from(r)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    /// The action that needs a person's approval of its exact arguments.
    pub action: String,
    /// The resource type it acts on.
    pub resource_type: String,
    /// How many actions one approval allows (absent: unlimited).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_uses: Option<i32>,
    /// How long an approval stays valid, in seconds (absent: forever).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub ttl_secs: Option<i32>,
}

/// From now on the action needs a person's approval (PENDING_APPROVAL until given).
#[utoipa::path(operation_id = "policies_approval_rule", tag = "policies", security(("bearer" = ["manage_policies"])), request_body = ApprovalRule,
    responses((status = 200, body = Recorded), Errors))]
#[post("/approval-rules")]
pub async fn approval_rule(
    auth: Authorized<ManagePolicies>,
    state: web::Data<AppState>,
    Body(b): Body<ApprovalRule>,
) -> Result<HttpResponse, ApiError> {
    non_empty("action", &b.action)?;
    non_empty("resource_type", &b.resource_type)?;
    if b.max_uses.is_some_and(|n| n < 1) || b.ttl_secs.is_some_and(|n| n < 1) {
        return Err(ApiError::invalid(
            "max_uses, ttl_secs: at least 1 when given",
        ));
    }
    let r = state
        .store()
        .engine()
        .require_approval(
            auth.tenant_id,
            auth.acting(),
            b.action,
            b.resource_type,
            b.max_uses,
            b.ttl_secs,
        )
        .await?;
    Ok(HttpResponse::Ok().json(Recorded::from(r)))
}
