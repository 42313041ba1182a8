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
    /// `trial`, `team`, `enterprise` or `unlimited`.
    pub plan: String,
    /// `trialing`, `active`, `past_due`, `canceled`, `unpaid`, `incomplete`, `expired`, `none`.
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
    let left = t
        .trial_ends_at
        .filter(|_| t.plan == "trial")
        .map(|end| ((end - Utc::now()).num_hours() + 23).div_euclid(24).max(0));
    Ok(HttpResponse::Ok().json(TenantView {
        id: t.id,
        slug: t.slug,
        name: t.name,
        plan: t.plan,
        subscription_status: t.subscription_status.to_string(),
        trial_ends_at: t.trial_ends_at,
        trial_days_left: left,
        created_at: t.created_at,
    }))
}
