//! `/app/violations`: violations newest first, filtered by status, severity and kind, in
//! keyset pages; acknowledge and resolve (`handle_violations`), each a ledger record.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::permission::{HandleViolations, Read};
use charter_store::admin::violations::{Violation, ViolationFilter};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::PageError;
use crate::layout::{Flash, done, flash};
use crate::session::{Form, Me, Page};
use crate::state::Dashboard;

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub before: Option<Uuid>,
}

fn word<T: std::str::FromStr>(field: &str, w: &str) -> Result<Option<T>, PageError>
where
    T::Err: std::fmt::Display,
{
    let w = w.trim();
    if w.is_empty() {
        return Ok(None);
    }
    w.parse::<T>()
        .map(Some)
        .map_err(|e| PageError::invalid(format!("{field}: {e}")))
}

impl Filters {
    pub fn query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &self.status)
            .append_pair("severity", &self.severity)
            .append_pair("kind", &self.kind)
            .finish()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "violations.html")]
pub struct ViolationsPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    f: Filters,
    violations: Vec<Violation>,
    next: Option<Uuid>,
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
    q: web::Query<Filters>,
) -> Result<ViolationsPage, PageError> {
    let f = q.into_inner();
    let (violations, more) = dash
        .store()
        .admin()
        .list_violations(
            page.me.tenant_id,
            ViolationFilter {
                status: word("status", &f.status)?,
                severity: word("severity", &f.severity)?,
                kind: (!f.kind.trim().is_empty()).then(|| f.kind.trim().to_string()),
                before: f.before,
                limit: 50,
            },
        )
        .await?;
    let next = more.then(|| violations.last().map(|v| v.id)).flatten();
    Ok(ViolationsPage {
        me: page.me,
        active: "/app/violations",
        flash: flash(&req),
        f,
        violations,
        next,
    })
}

#[derive(Deserialize)]
pub struct Resolution {
    #[serde(default)]
    resolution: String,
}

pub async fn acknowledge(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<HandleViolations, Resolution>,
) -> Result<HttpResponse, PageError> {
    dash.store()
        .admin()
        .acknowledge_violation(f.me.tenant_id, f.me.acting(), path.into_inner())
        .await?;
    Ok(done("/app/violations", "acknowledged"))
}

pub async fn resolve(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<HandleViolations, Resolution>,
) -> Result<HttpResponse, PageError> {
    dash.store()
        .admin()
        .resolve_violation(
            f.me.tenant_id,
            f.me.acting(),
            path.into_inner(),
            f.form.resolution.clone(),
        )
        .await?;
    Ok(done("/app/violations", "resolved"))
}
