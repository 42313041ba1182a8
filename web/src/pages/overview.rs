//! `/app`: the tenant's health at a glance — how far the ledger is verified and against
//! which checkpoint, open violations, tripped breakers, what waits for this person, the
//! trial, the last self-audit, the latest decisions.

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::permission::Read;
use charter_store::engine::views::{LedgerFilter, LedgerLine};
use charter_store::worker::self_audit::{Health, SelfAudit};

use crate::error::PageError;
use crate::layout::{Flash, flash};
use crate::session::{Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
pub struct Overview {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    health: Health,
    waiting: usize,
    last_audit: Option<SelfAudit>,
    rows: Vec<LedgerLine>,
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
) -> Result<Overview, PageError> {
    let me = page.me;
    let store = dash.store();
    let health = store.admin().health(me.tenant_id).await?;
    let waiting = super::inbox::Inbox::count(&dash, &me).await?;
    let last_audit = store
        .admin()
        .self_audits(me.tenant_id, 1)
        .await?
        .into_iter()
        .next();
    let rows = store
        .engine()
        .query_ledger(
            me.tenant_id,
            LedgerFilter {
                kind: Some("decision".into()),
                limit: 10,
                ..LedgerFilter::default()
            },
        )
        .await?
        .entries;
    Ok(Overview {
        me,
        active: "/app",
        flash: flash(&req),
        health,
        waiting,
        last_audit,
        rows,
    })
}
