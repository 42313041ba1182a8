//! `/app/initiatives` and `/app/initiatives/{id}`: initiatives, and one initiative's gate
//! pipeline — its stages, the gates passed, what each open gate still needs, its scorecard
//! and its history.

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::permission::Read;
use charter_store::admin::inbox::InitiativeSummary;
use charter_store::engine::views::{InitiativeView, LedgerLine};
use uuid::Uuid;

use crate::error::PageError;
use crate::layout::{Flash, flash};
use crate::session::{Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "initiatives.html")]
pub struct InitiativesPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    initiatives: Vec<InitiativeSummary>,
}

pub async fn list(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
) -> Result<InitiativesPage, PageError> {
    Ok(InitiativesPage {
        initiatives: dash.store().admin().initiatives(page.me.tenant_id).await?,
        me: page.me,
        active: "/app/initiatives",
        flash: flash(&req),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "initiative.html")]
pub struct InitiativePage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    i: InitiativeView,
    /// The template's stages, in order (from its snapshot).
    stages: Vec<String>,
    rows: Vec<LedgerLine>,
}

pub async fn show(
    page: Page<Read>,
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
) -> Result<InitiativePage, PageError> {
    let mut i = dash
        .store()
        .engine()
        .initiative_view(page.me.tenant_id, path.into_inner())
        .await?;
    let stages = i
        .template
        .get("stages")
        .and_then(|s| s.as_array())
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let rows = std::mem::take(&mut i.history);
    Ok(InitiativePage {
        me: page.me,
        active: "/app/initiatives",
        flash: None,
        i,
        stages,
        rows,
    })
}
