//! `/app/exports`: EU AI Act Article 12 evidence bundles for compliance officers — ask for
//! one (an AI system or agents, a period, a purpose), follow the worker making it, download
//! it (`export`), all through the store's operations the REST API uses.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::bundle::{Purpose, parse_bound, parse_purpose};
use charter_core::permission::{Export as ExportPermission, Read};
use charter_store::agents::Agent;
use charter_store::ai_systems::AiSystem;
use charter_store::evidence::exports::{Export, ExportRequest};
use futures::StreamExt;
use uuid::Uuid;

use super::settings::field;
use crate::error::PageError;
use crate::layout::{Flash, done, flash};
use crate::session::{Form, Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "exports.html")]
pub struct ExportsPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    exports: Vec<Export>,
    systems: Vec<AiSystem>,
    agents: Vec<Agent>,
    purposes: [Purpose; 3],
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
) -> Result<ExportsPage, PageError> {
    let admin = dash.store().admin();
    let t = page.me.tenant_id;
    Ok(ExportsPage {
        exports: admin.exports(t).await?,
        systems: admin.ai_systems(t).await?,
        agents: admin.agents(t).await?,
        purposes: Purpose::ALL,
        me: page.me,
        active: "/app/exports",
        flash: flash(&req),
    })
}

fn uuid(field: &str, v: &str) -> Result<Uuid, PageError> {
    v.parse()
        .map_err(|_| PageError::invalid(format!("{field}: `{v}` is not an id")))
}

pub async fn create(
    dash: web::Data<Dashboard>,
    f: Form<ExportPermission, Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let form = &f.form;
    let system = match field(form, "system_id").trim() {
        "" => None,
        v => Some(uuid("system_id", v)?),
    };
    let agents = form
        .iter()
        .filter(|(k, _)| k == "agents")
        .map(|(_, v)| uuid("agents", v))
        .collect::<Result<Vec<_>, _>>()?;
    let from = parse_bound(field(form, "from"), false)
        .ok_or_else(|| PageError::invalid("from: a date YYYY-MM-DD or an RFC 3339 time"))?;
    let to = parse_bound(field(form, "to"), true)
        .ok_or_else(|| PageError::invalid("to: a date YYYY-MM-DD or an RFC 3339 time"))?;
    let purpose =
        parse_purpose(field(form, "purpose")).map_err(|e| PageError::invalid(e.to_string()))?;
    dash.store()
        .admin()
        .request_export(
            f.me.tenant_id,
            f.me.acting(),
            ExportRequest {
                system,
                agents,
                from,
                to,
                purpose,
            },
        )
        .await?;
    Ok(done("/app/exports", "export_requested"))
}

/// The bundle, streamed from its stored chunks; recorded as downloaded by the store.
pub async fn download(
    page: Page<ExportPermission>,
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let tenant = page.me.tenant_id;
    let e = dash
        .store()
        .admin()
        .export_for_download(tenant, page.me.acting(), id)
        .await?;
    Ok(bundle_response(dash.store(), tenant, &e))
}

/// A made bundle as a download (`application/zip`, attachment), streamed from its stored
/// chunks: for the dashboard and `GET /api/v1/exports/{id}/download` alike.
pub fn bundle_response(store: &charter_store::Store, tenant: Uuid, e: &Export) -> HttpResponse {
    let chunks = store.admin().export_stream(tenant, e.id).map(|c| {
        c.map(actix_web::web::Bytes::from)
            .map_err(actix_web::error::ErrorServiceUnavailable)
    });
    let mut res = HttpResponse::Ok();
    res.content_type("application/zip")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!(
                "charter-art12-{}.zip",
                e.id
            ))],
        });
    if let Some(size) = e.size_bytes {
        res.no_chunking(size as u64);
    }
    res.streaming(chunks)
}
