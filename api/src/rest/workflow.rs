//! Workflow templates, initiatives (gates, promotion, evidence) and artifacts with their
//! provenance, as people manage them.

use actix_web::{HttpResponse, get, post, put, web};
use charter_core::engine::provenance::Party;
use charter_store::admin::inbox::InitiativeSummary;
use charter_store::engine::reviews::NewArtifact;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body};
use super::ledger::Recorded;
use super::permissions::{ManagePolicies, ManageWork, Read};
use crate::AppState;
use crate::error::ApiError;
use crate::wire::all;
use crate::wire::views::{GateCheck, InitiativeView, ProvenanceView};
use crate::wire::workflow::Template;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(templates)
        .service(put_template)
        .service(initiatives)
        .service(create_initiative)
        .service(initiative)
        .service(gates)
        .service(promote)
        .service(evidence)
        .service(register_artifact)
        .service(artifact);
}

#[derive(Serialize, ToSchema)]
pub struct Templates {
    /// Charter's presets (those the tenant has not overridden).
    pub presets: Vec<Template>,
    /// The tenant's own templates.
    pub tenant: Vec<Template>,
}

/// Presets and the tenant's own workflow templates.
#[utoipa::path(operation_id = "workflow_templates", tag = "workflow", security(("bearer" = ["read"])), responses((status = 200, body = Templates), Errors))]
#[get("/workflow-templates")]
pub async fn templates(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (presets, tenant) = state
        .store()
        .engine()
        .workflow_templates(auth.tenant_id)
        .await?;
    Ok(HttpResponse::Ok().json(Templates {
        presets: all(presets),
        tenant: all(tenant),
    }))
}

/// Saves a tenant template (a preset's name overrides that preset for this tenant). The
/// body's `name` must match the path.
#[utoipa::path(operation_id = "workflow_put_template", tag = "workflow", security(("bearer" = ["manage_policies"])), request_body = Template,
    responses((status = 200, body = Recorded), Errors))]
#[put("/workflow-templates/{name}")]
pub async fn put_template(
    auth: Authorized<ManagePolicies>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Body(t): Body<Template>,
) -> Result<HttpResponse, ApiError> {
    if t.name != *path {
        return Err(ApiError::invalid(
            "name: must match the template name in the path",
        ));
    }
    let r = state
        .store()
        .engine()
        .save_template(auth.tenant_id, auth.acting(), t.into())
        .await?;
    Ok(HttpResponse::Ok().json(Recorded::from(r)))
}

#[derive(Serialize, ToSchema)]
pub struct InitiativeItem {
    pub id: Uuid,
    pub name: String,
    /// The template it follows.
    pub template: String,
    /// Risk score, 0–100.
    pub risk: i16,
    /// Its current stage.
    pub stage: String,
    pub created_at: DateTime<Utc>,
}

impl From<InitiativeSummary> for InitiativeItem {
    fn from(i: InitiativeSummary) -> Self {
        InitiativeItem {
            id: i.id,
            name: i.name,
            template: i.template,
            risk: i.risk,
            stage: i.stage,
            created_at: i.created_at,
        }
    }
}

/// Initiatives, newest first.
#[utoipa::path(operation_id = "workflow_initiatives", tag = "workflow", security(("bearer" = ["read"])), responses((status = 200, body = [InitiativeItem]), Errors))]
#[get("/initiatives")]
pub async fn initiatives(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.store().admin().initiatives(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(
        all.into_iter()
            .map(InitiativeItem::from)
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInitiative {
    /// 1–200 characters.
    pub name: String,
    /// A preset's or the tenant's template name.
    pub template: String,
    /// Risk score 0–100: chooses which gates apply.
    #[schema(minimum = 0, maximum = 100)]
    pub risk: u8,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedInitiative {
    pub initiative_id: Uuid,
    pub recorded: Recorded,
}

/// Starts an initiative.
#[utoipa::path(operation_id = "workflow_create_initiative", tag = "workflow", security(("bearer" = ["manage_work"])), request_body = NewInitiative,
    responses((status = 201, body = CreatedInitiative), Errors))]
#[post("/initiatives")]
pub async fn create_initiative(
    auth: Authorized<ManageWork>,
    state: web::Data<AppState>,
    Body(b): Body<NewInitiative>,
) -> Result<HttpResponse, ApiError> {
    let (id, r) = state
        .store()
        .engine()
        .create_initiative(
            auth.tenant_id,
            Party::Principal {
                id: auth.principal_id,
            },
            b.name,
            b.template,
            b.risk,
        )
        .await?;
    Ok(HttpResponse::Created().json(CreatedInitiative {
        initiative_id: id,
        recorded: r.into(),
    }))
}

/// An initiative: stages, gates passed and pending, scorecard, history.
#[utoipa::path(operation_id = "workflow_initiative", tag = "workflow", security(("bearer" = ["read"])), responses((status = 200, body = InitiativeView), Errors))]
#[get("/initiatives/{initiative_id}")]
pub async fn initiative(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = state
        .store()
        .engine()
        .initiative_view(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(InitiativeView::from(v)))
}

/// What stands between the initiative and its next stage.
#[utoipa::path(operation_id = "workflow_gates", tag = "workflow", security(("bearer" = ["read"])), responses((status = 200, body = GateCheck), Errors))]
#[get("/initiatives/{initiative_id}/gates")]
pub async fn gates(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let g = state
        .store()
        .engine()
        .check_gates(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(GateCheck::from(g)))
}

#[derive(Serialize, ToSchema)]
pub struct Promoted {
    /// The stage the initiative moved to.
    pub stage: String,
    pub recorded: Recorded,
}

/// Moves the initiative past its next gates, if they are satisfied (422
/// `gate_not_passed` naming what is missing otherwise).
#[utoipa::path(operation_id = "workflow_promote", tag = "workflow", security(("bearer" = ["manage_work"])), responses((status = 200, body = Promoted), Errors))]
#[post("/initiatives/{initiative_id}/promote")]
pub async fn promote(
    auth: Authorized<ManageWork>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (stage, r) = state
        .store()
        .engine()
        .promote(
            auth.tenant_id,
            Party::Principal {
                id: auth.principal_id,
            },
            path.into_inner(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(Promoted {
        stage,
        recorded: r.into(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvidence {
    /// The gate it is for.
    pub gate: String,
    /// Its kind (e.g. `unit_test`, `security_scan`).
    pub kind: String,
    /// Where it can be seen.
    #[serde(default)]
    pub uri: String,
}

/// Attaches evidence to a gate of the initiative.
#[utoipa::path(operation_id = "workflow_evidence", tag = "workflow", security(("bearer" = ["manage_work"])), request_body = NewEvidence,
    responses((status = 201, body = Recorded), Errors))]
#[post("/initiatives/{initiative_id}/evidence")]
pub async fn evidence(
    auth: Authorized<ManageWork>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(b): Body<NewEvidence>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let r = state
        .store()
        .engine()
        .submit_evidence(
            auth.tenant_id,
            Party::Principal {
                id: auth.principal_id,
            },
            id,
            b.gate,
            b.kind,
            b.uri,
        )
        .await?;
    Ok(HttpResponse::Created().json(Recorded::from(r)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArtifactRequest {
    /// What it is (e.g. `changeset`, `document`).
    pub kind: String,
    /// Its content digest, e.g. `sha256:…`; reviews bind to it.
    pub digest: String,
    #[serde(default)]
    pub uri: String,
    /// Artifacts it was derived from.
    #[serde(default)]
    pub derived_from: Vec<Uuid>,
    /// The initiative it belongs to.
    #[serde(default)]
    pub initiative_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedArtifact {
    pub artifact_id: Uuid,
    pub recorded: Recorded,
}

/// Declares an artifact a person produced.
#[utoipa::path(operation_id = "workflow_register_artifact", tag = "workflow", security(("bearer" = ["manage_work"])), request_body = NewArtifactRequest,
    responses((status = 201, body = CreatedArtifact), Errors))]
#[post("/artifacts")]
pub async fn register_artifact(
    auth: Authorized<ManageWork>,
    state: web::Data<AppState>,
    Body(b): Body<NewArtifactRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store();
    let (id, r) = store
        .engine()
        .register_artifact(
            auth.tenant_id,
            Party::Principal {
                id: auth.principal_id,
            },
            NewArtifact {
                kind: b.kind,
                digest: b.digest,
                uri: b.uri,
                derived_from: b.derived_from,
                task: None,
                initiative: b.initiative_id,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(CreatedArtifact {
        artifact_id: id,
        recorded: r.into(),
    }))
}

/// An artifact's lineage: producers, sources, delegations, reviews.
#[utoipa::path(operation_id = "workflow_artifact", tag = "workflow", security(("bearer" = ["read"])), responses((status = 200, body = ProvenanceView), Errors))]
#[get("/artifacts/{artifact_id}")]
pub async fn artifact(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = state
        .store()
        .engine()
        .provenance(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(ProvenanceView::from(v)))
}
