//! Tenant API tokens for automation: created with roles (at most the creator's), shown
//! once, listed by prefix, revoked.

use actix_web::{HttpResponse, delete, get, post, web};
use charter_store::api_tokens::ApiTokenInfo;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body};
use super::permissions::ManagePeople;
use super::users::parse_roles;
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list).service(create).service(revoke);
}

#[derive(Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: Uuid,
    pub name: String,
    /// The token's first characters, to recognise it.
    pub display_prefix: String,
    pub roles: Vec<String>,
    /// The person it acts as.
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiTokenInfo> for ApiTokenView {
    fn from(t: ApiTokenInfo) -> Self {
        ApiTokenView {
            id: t.id,
            name: t.name,
            display_prefix: t.display_prefix,
            roles: t.roles.iter().map(|r| r.as_str().to_string()).collect(),
            created_by: t.created_by,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// The tenant's API tokens (never the tokens themselves).
#[utoipa::path(operation_id = "tokens_list", tag = "tokens", security(("bearer" = ["manage_people"])), responses((status = 200, body = [ApiTokenView]), Errors))]
#[get("/api-tokens")]
pub async fn list(
    auth: Authorized<ManagePeople>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.store().admin().api_tokens(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(ApiTokenView::from).collect::<Vec<_>>()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    /// What the token is for (1–100 characters).
    pub name: String,
    /// Its roles: none beyond the creator's own.
    pub roles: Vec<String>,
    /// When it stops working (never, if absent).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiToken {
    pub token: ApiTokenView,
    /// The token: send as `Authorization: Bearer …`. Shown only now.
    pub secret: String,
}

/// Creates a token for automation, acting as the caller with the given roles.
#[utoipa::path(operation_id = "tokens_create", tag = "tokens", security(("bearer" = ["manage_people"])), request_body = NewApiToken,
    responses((status = 201, body = CreatedApiToken), Errors))]
#[post("/api-tokens")]
pub async fn create(
    auth: Authorized<ManagePeople>,
    state: web::Data<AppState>,
    Body(b): Body<NewApiToken>,
) -> Result<HttpResponse, ApiError> {
    let roles = parse_roles("roles", &b.roles)?;
    let (info, secret) = state
        .store()
        .admin()
        .create_api_token(auth.tenant_id, auth.acting(), b.name, roles, b.expires_at)
        .await?;
    Ok(HttpResponse::Created().json(CreatedApiToken {
        token: info.into(),
        secret: secret.expose().to_string(),
    }))
}

/// Revokes a token; it stops working at once.
#[utoipa::path(operation_id = "tokens_revoke", tag = "tokens", security(("bearer" = ["manage_people"])), responses((status = 204), Errors))]
#[delete("/api-tokens/{token_id}")]
pub async fn revoke(
    auth: Authorized<ManagePeople>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .store()
        .admin()
        .revoke_api_token(auth.tenant_id, auth.acting(), path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
