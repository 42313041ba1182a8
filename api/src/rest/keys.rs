//! Agents' API keys: issue (shown once), list (prefix and last use only), revoke.

use actix_web::{HttpResponse, delete, get, post, web};
use charter_store::api_keys::ApiKeyInfo;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body};
use super::permissions::{ManageAgents, Read};
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list).service(issue).service(revoke);
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub agent_id: Uuid,
    /// The key's first characters, to recognise it.
    pub display_prefix: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyInfo> for ApiKeyView {
    fn from(k: ApiKeyInfo) -> Self {
        ApiKeyView {
            id: k.id,
            agent_id: k.agent_id,
            display_prefix: k.display_prefix,
            label: k.label,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// The agent's keys (never the keys themselves).
#[utoipa::path(operation_id = "keys_list", tag = "agents", security(("bearer" = ["read"])), responses((status = 200, body = [ApiKeyView]), Errors))]
#[get("/agents/{agent_id}/keys")]
pub async fn list(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let keys = state
        .store()
        .admin()
        .agent_keys(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(keys.into_iter().map(ApiKeyView::from).collect::<Vec<_>>()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for (at most 100 characters).
    #[serde(default)]
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct IssuedKey {
    pub key: ApiKeyView,
    /// The API key: the agent sends it as `Authorization: Bearer …` to its tenant's MCP
    /// endpoint. Shown only now.
    pub api_key: String,
}

/// Issues an API key for the agent.
#[utoipa::path(operation_id = "keys_issue", tag = "agents", security(("bearer" = ["manage_agents"])), request_body = NewKey,
    responses((status = 201, body = IssuedKey), Errors))]
#[post("/agents/{agent_id}/keys")]
pub async fn issue(
    auth: Authorized<ManageAgents>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(b): Body<NewKey>,
) -> Result<HttpResponse, ApiError> {
    let (info, token) = state
        .store()
        .admin()
        .issue_agent_key(auth.tenant_id, auth.acting(), path.into_inner(), b.label)
        .await?;
    Ok(HttpResponse::Created().json(IssuedKey {
        key: info.into(),
        api_key: token.expose().to_string(),
    }))
}

/// Revokes a key: refused at once on every node.
#[utoipa::path(operation_id = "keys_revoke", tag = "agents", security(("bearer" = ["manage_agents"])), responses((status = 204), Errors))]
#[delete("/agents/{agent_id}/keys/{key_id}")]
pub async fn revoke(
    auth: Authorized<ManageAgents>,
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (agent, key) = path.into_inner();
    state
        .store()
        .admin()
        .revoke_api_key(auth.tenant_id, auth.acting(), agent, key)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
