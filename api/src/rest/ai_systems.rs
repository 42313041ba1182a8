//! AI systems: what the tenant operates, in the EU AI Act's terms, and which agents act
//! for each — so decisions and evidence can be selected by system. Everyone of the tenant
//! reads them; the owner and admins register and change them (each change a ledger
//! record).

use actix_web::{HttpResponse, get, patch, post, web};
use charter_core::ai_system::Facts;
use charter_store::ai_systems::{AiSystem, Change};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body};
use super::permissions::{ManageAiSystems, Read};
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get_one)
        .service(update);
}

#[derive(Serialize, ToSchema)]
pub struct AiSystemView {
    pub id: Uuid,
    pub name: String,
    /// What the system is for (Article 3(12)).
    pub intended_purpose: String,
    /// Who develops it and places it on the market (Article 3(3)).
    pub provider: String,
    /// Who uses it under its authority (Article 3(4)).
    pub deployer: String,
    /// Whether it is high-risk (Article 6).
    pub high_risk: bool,
    /// The Annex III point it is high-risk under, as in `5(b)`.
    pub annex_iii_point: Option<String>,
    /// Who to ask about it.
    pub contact: String,
    /// The agents that act for it.
    pub agents: Vec<Uuid>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AiSystem> for AiSystemView {
    fn from(s: AiSystem) -> Self {
        let f = s.facts;
        AiSystemView {
            id: s.id,
            name: f.name,
            intended_purpose: f.intended_purpose,
            provider: f.provider,
            deployer: f.deployer,
            high_risk: f.high_risk,
            annex_iii_point: f.annex_iii_point,
            contact: f.contact,
            agents: f.agents,
            created_by: s.created_by,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAiSystem {
    /// 1 to 200 characters, unique in the tenant.
    #[schema(example = "Credit scoring")]
    pub name: String,
    /// 1 to 2,000 characters.
    pub intended_purpose: String,
    /// 1 to 200 characters.
    pub provider: String,
    /// 1 to 200 characters.
    pub deployer: String,
    pub high_risk: bool,
    /// A point of Annex III (`1` to `8`, optionally with its letter, as in `5(b)`); only
    /// for a high-risk system.
    #[serde(default)]
    pub annex_iii_point: Option<String>,
    /// 1 to 200 characters.
    pub contact: String,
    /// Agents of this tenant.
    #[serde(default)]
    pub agents: Vec<Uuid>,
}

/// `Some(None)` for an explicit `null`, `None` for a field left out.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiSystemChange {
    pub name: Option<String>,
    pub intended_purpose: Option<String>,
    pub provider: Option<String>,
    pub deployer: Option<String>,
    pub high_risk: Option<bool>,
    /// `null` removes the point.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub annex_iii_point: Option<Option<String>>,
    pub contact: Option<String>,
    /// The whole new list of agents.
    pub agents: Option<Vec<Uuid>>,
}

/// The tenant's AI systems, by name.
#[utoipa::path(operation_id = "ai_systems_list", tag = "ai-systems", security(("bearer" = ["read"])), responses((status = 200, body = [AiSystemView]), Errors))]
#[get("/ai-systems")]
pub async fn list(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.store().admin().ai_systems(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(AiSystemView::from).collect::<Vec<_>>()))
}

/// Registers an AI system.
#[utoipa::path(operation_id = "ai_systems_create", tag = "ai-systems", security(("bearer" = ["manage_ai_systems"])), request_body = NewAiSystem,
    responses((status = 201, body = AiSystemView), Errors))]
#[post("/ai-systems")]
pub async fn create(
    auth: Authorized<ManageAiSystems>,
    state: web::Data<AppState>,
    Body(b): Body<NewAiSystem>,
) -> Result<HttpResponse, ApiError> {
    let facts = Facts {
        name: b.name,
        intended_purpose: b.intended_purpose,
        provider: b.provider,
        deployer: b.deployer,
        high_risk: b.high_risk,
        annex_iii_point: b.annex_iii_point,
        contact: b.contact,
        agents: b.agents,
    };
    let s = state
        .store()
        .admin()
        .create_ai_system(auth.tenant_id, auth.acting(), facts)
        .await?;
    Ok(HttpResponse::Created().json(AiSystemView::from(s)))
}

/// One AI system.
#[utoipa::path(operation_id = "ai_systems_get_one", tag = "ai-systems", security(("bearer" = ["read"])), responses((status = 200, body = AiSystemView), Errors))]
#[get("/ai-systems/{system_id}")]
pub async fn get_one(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = state
        .store()
        .admin()
        .ai_system(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(AiSystemView::from(s)))
}

/// Changes an AI system (only the fields given; the result must satisfy every rule).
#[utoipa::path(operation_id = "ai_systems_update", tag = "ai-systems", security(("bearer" = ["manage_ai_systems"])), request_body = AiSystemChange,
    responses((status = 200, body = AiSystemView), Errors))]
#[patch("/ai-systems/{system_id}")]
pub async fn update(
    auth: Authorized<ManageAiSystems>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(b): Body<AiSystemChange>,
) -> Result<HttpResponse, ApiError> {
    let change = Change {
        name: b.name,
        intended_purpose: b.intended_purpose,
        provider: b.provider,
        deployer: b.deployer,
        high_risk: b.high_risk,
        annex_iii_point: b.annex_iii_point,
        contact: b.contact,
        agents: b.agents,
    };
    let s = state
        .store()
        .admin()
        .update_ai_system(auth.tenant_id, auth.acting(), path.into_inner(), change)
        .await?;
    Ok(HttpResponse::Ok().json(AiSystemView::from(s)))
}
