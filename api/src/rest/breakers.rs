//! Circuit breakers: every agent's state, and resets by a person.

use actix_web::{HttpResponse, get, post, web};
use charter_store::admin::inbox::BreakerInfo;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::Authorized;
use super::ledger::Recorded;
use super::permissions::{Decide, Read};
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list).service(reset);
}

#[derive(Serialize, ToSchema)]
pub struct BreakerView {
    pub agent_id: Uuid,
    pub agent_name: String,
    /// `active`, `suspended` or `tripped`.
    pub agent_status: String,
    /// `closed`, `open` or `half_open`.
    pub state: String,
    pub consecutive_failures: i32,
    pub threshold: i32,
    pub cooldown_secs: i32,
    pub opened_at: Option<DateTime<Utc>>,
}

impl From<BreakerInfo> for BreakerView {
    fn from(b: BreakerInfo) -> Self {
        BreakerView {
            agent_id: b.agent_id,
            agent_name: b.agent_name,
            agent_status: b.agent_status.to_string(),
            state: b.state.to_string(),
            consecutive_failures: b.consecutive_failures,
            threshold: b.threshold,
            cooldown_secs: b.cooldown_secs,
            opened_at: b.opened_at,
        }
    }
}

/// Every agent's breaker.
#[utoipa::path(operation_id = "breakers_list", tag = "breakers", security(("bearer" = ["read"])), responses((status = 200, body = [BreakerView]), Errors))]
#[get("/breakers")]
pub async fn list(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.store().admin().breakers(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(BreakerView::from).collect::<Vec<_>>()))
}

/// Closes an agent's breaker (and reactivates a tripped agent).
#[utoipa::path(operation_id = "breakers_reset", tag = "breakers", security(("bearer" = ["decide"])), responses((status = 200, body = Recorded), Errors))]
#[post("/breakers/{agent_id}/reset")]
pub async fn reset(
    auth: Authorized<Decide>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let r = state
        .store()
        .engine()
        .reset_breaker(auth.tenant_id, path.into_inner(), auth.acting())
        .await?;
    Ok(HttpResponse::Ok().json(Recorded::from(r)))
}
