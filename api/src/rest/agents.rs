//! Agents: list, create, read, suspend and resume, delete; their scope and breaker
//! settings.

use crate::wire::policy::Scope;
use actix_web::{HttpResponse, delete, get, post, put, web};
use charter_store::agents::Agent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body};
use super::ledger::Recorded;
use super::permissions::{ManageAgents, ManagePolicies, Read};
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get_one)
        .service(suspend)
        .service(resume)
        .service(remove)
        .service(get_scope)
        .service(put_scope)
        .service(put_breaker);
}

#[derive(Serialize, ToSchema)]
pub struct AgentView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// `active`, `suspended` or `tripped`.
    pub status: String,
    /// The person it acts for (notified when its breaker trips).
    pub responsible_principal_id: Uuid,
    pub created_at: DateTime<Utc>,
}

impl From<Agent> for AgentView {
    fn from(a: Agent) -> Self {
        AgentView {
            id: a.id,
            name: a.name,
            description: a.description,
            status: a.status.to_string(),
            responsible_principal_id: a.responsible_principal_id,
            created_at: a.created_at,
        }
    }
}

/// Every agent of the tenant.
#[utoipa::path(operation_id = "agents_list", tag = "agents", security(("bearer" = ["read"])), responses((status = 200, body = [AgentView]), Errors))]
#[get("/agents")]
pub async fn list(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.store().admin().agents(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(AgentView::from).collect::<Vec<_>>()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// Unique in the tenant, 1–100 characters.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The person it acts for; the caller if absent.
    #[serde(default)]
    pub responsible_principal_id: Option<Uuid>,
}

/// Registers an agent (with no authority until its scope is set).
#[utoipa::path(operation_id = "agents_create", tag = "agents", security(("bearer" = ["manage_agents"])), request_body = NewAgent,
    responses((status = 201, body = AgentView), Errors))]
#[post("/agents")]
pub async fn create(
    auth: Authorized<ManageAgents>,
    state: web::Data<AppState>,
    Body(b): Body<NewAgent>,
) -> Result<HttpResponse, ApiError> {
    let a = state
        .store()
        .admin()
        .create_agent(
            auth.tenant_id,
            auth.acting(),
            b.name,
            b.description,
            b.responsible_principal_id.unwrap_or(auth.principal_id),
        )
        .await?;
    Ok(HttpResponse::Created().json(AgentView::from(a)))
}

/// One agent.
#[utoipa::path(operation_id = "agents_get_one", tag = "agents", security(("bearer" = ["read"])), responses((status = 200, body = AgentView), Errors))]
#[get("/agents/{agent_id}")]
pub async fn get_one(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let a = state
        .store()
        .admin()
        .agent(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(AgentView::from(a)))
}

/// Suspends an agent: every action it asks for is BLOCKED (`agent_suspended`).
#[utoipa::path(operation_id = "agents_suspend", tag = "agents", security(("bearer" = ["manage_agents"])), responses((status = 200, body = AgentView), Errors))]
#[post("/agents/{agent_id}/suspend")]
pub async fn suspend(
    auth: Authorized<ManageAgents>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let a = state
        .store()
        .admin()
        .set_agent_suspended(auth.tenant_id, auth.acting(), path.into_inner(), true)
        .await?;
    Ok(HttpResponse::Ok().json(AgentView::from(a)))
}

/// Resumes a suspended agent.
#[utoipa::path(operation_id = "agents_resume", tag = "agents", security(("bearer" = ["manage_agents"])), responses((status = 200, body = AgentView), Errors))]
#[post("/agents/{agent_id}/resume")]
pub async fn resume(
    auth: Authorized<ManageAgents>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let a = state
        .store()
        .admin()
        .set_agent_suspended(auth.tenant_id, auth.acting(), path.into_inner(), false)
        .await?;
    Ok(HttpResponse::Ok().json(AgentView::from(a)))
}

/// Deletes an agent with its keys, scope and breaker (its ledger records stay).
#[utoipa::path(operation_id = "agents_remove", tag = "agents", security(("bearer" = ["manage_agents"])), responses((status = 204), Errors))]
#[delete("/agents/{agent_id}")]
pub async fn remove(
    auth: Authorized<ManageAgents>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .store()
        .admin()
        .delete_agent(auth.tenant_id, auth.acting(), path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The agent's authority scope.
#[utoipa::path(operation_id = "agents_get_scope", tag = "agents", security(("bearer" = ["read"])), responses((status = 200, body = Scope), Errors))]
#[get("/agents/{agent_id}/scope")]
pub async fn get_scope(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = state
        .store()
        .engine()
        .agent_scope(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(Scope::from(s)))
}

/// Replaces the agent's scope (validated against the tenant's catalog and compiled with
/// every policy before it is saved).
#[utoipa::path(operation_id = "agents_put_scope", tag = "agents", security(("bearer" = ["manage_policies"])), request_body = Scope,
    responses((status = 200, body = Recorded), Errors))]
#[put("/agents/{agent_id}/scope")]
pub async fn put_scope(
    auth: Authorized<ManagePolicies>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(scope): Body<Scope>,
) -> Result<HttpResponse, ApiError> {
    let r = state
        .store()
        .engine()
        .set_scope(
            auth.tenant_id,
            path.into_inner(),
            scope.into(),
            auth.acting(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(Recorded::from(r)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSettings {
    /// Consecutive failures that trip the breaker (1 to 1000).
    #[schema(minimum = 1, maximum = 1000)]
    pub threshold: u32,
    /// Seconds before a tripped breaker half-opens (1 to 30 days).
    #[schema(minimum = 1, maximum = 2592000)]
    pub cooldown_secs: u32,
}

/// Sets the agent's breaker threshold and cool-down.
#[utoipa::path(operation_id = "agents_put_breaker", tag = "agents", security(("bearer" = ["manage_policies"])), request_body = BreakerSettings,
    responses((status = 200, body = Recorded), Errors))]
#[put("/agents/{agent_id}/breaker")]
pub async fn put_breaker(
    auth: Authorized<ManagePolicies>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(b): Body<BreakerSettings>,
) -> Result<HttpResponse, ApiError> {
    let r = state
        .store()
        .engine()
        .configure_breaker(
            auth.tenant_id,
            path.into_inner(),
            auth.acting(),
            b.threshold,
            b.cooldown_secs,
        )
        .await?;
    Ok(HttpResponse::Ok().json(Recorded::from(r)))
}
