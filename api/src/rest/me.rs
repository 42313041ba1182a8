//! Who am I, and my tenant (plan and trial).

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::Errors;
use super::extract::Authorized;
use super::permissions::Read;
use super::users::UserView;
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(me).service(tenant);
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    /// The person.
    pub principal: UserView,
    /// The roles in force for this request (an API token's are at most its creator's).
    pub effective_roles: Vec<String>,
    /// The API token used, when not a login session.
    pub api_token_id: Option<uuid::Uuid>,
}

/// The caller.
#[utoipa::path(operation_id = "me_me", tag = "me", security(("bearer" = ["read"])), responses((status = 200, body = Me), Errors))]
#[get("/me")]
pub async fn me(auth: Authorized<Read>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Me {
        principal: auth.person.clone().into(),
        effective_roles: auth.roles.iter().map(|r| r.as_str().to_string()).collect(),
        api_token_id: auth.token_id,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TenantView {
    pub id: uuid::Uuid,
    pub slug: String,
    pub name: String,
    /// A configured plan: `trial` during the trial, `unlimited`, or one the server sells.
    pub plan: String,
    /// The state in force now: `trialing`, `active`, `past_due`, `canceled`, `trial_expired`
    /// or `unlimited` (see `GET /api/v1/billing`).
    pub subscription_status: String,
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// Whole days left in the trial (0 when it has ended; absent when not on a trial).
    pub trial_days_left: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// The caller's tenant: plan, subscription, trial days left.
#[utoipa::path(operation_id = "me_tenant", tag = "me", security(("bearer" = ["read"])), responses((status = 200, body = TenantView), Errors))]
#[get("/tenant")]
pub async fn tenant(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let t = state.store().admin().tenant(auth.tenant_id).await?;
    let billing = state.store().billing().overview(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(TenantView {
        id: t.id,
        slug: t.slug,
        name: t.name,
        plan: billing.plan,
        subscription_status: billing.status.to_string(),
        trial_ends_at: billing.trial_ends_at,
        trial_days_left: billing.trial_days_left,
        created_at: t.created_at,
    }))
}
