//! `/app/ledger`: the tenant's records, newest first, filtered by agent, principal, kind,
//! action, resource, decision and time, in keyset pages (`before` = the last seq shown;
//! never `OFFSET`, so a deep page costs what the first does). "Which agent authorized that
//! action?" is a filter on action and resource.

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::permission::Read;
use charter_store::engine::views::{LedgerFilter, LedgerLine};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::error::PageError;
use crate::layout::{Flash, flash};
use crate::session::{Me, Page};
use crate::state::Dashboard;

/// The filters, as the form sends them (empty fields are no filter).
#[derive(Deserialize, Default, Clone)]
pub struct Filters {
    #[serde(default)]
    pub actor_id: String,
    #[serde(default)]
    pub principal: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub decision: String,
    /// `YYYY-MM-DDTHH:MM` (UTC), as a `datetime-local` input sends it.
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub before: Option<i64>,
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn time(field: &str, s: &str) -> Result<Option<DateTime<Utc>>, PageError> {
    let Some(s) = some(s) else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&s, f).ok())
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| {
            PageError::invalid(format!(
                "{field}: `{s}` is not a time (YYYY-MM-DDTHH:MM, UTC)"
            ))
        })
}

impl Filters {
    fn to_filter(&self) -> Result<LedgerFilter, PageError> {
        if self.before.is_some_and(|b| b < 0) {
            return Err(PageError::invalid("before: must not be negative"));
        }
        let principal = some(&self.principal).map(|p| {
            if p.starts_with("principal:") {
                p
            } else {
                format!("principal:{p}")
            }
        });
        Ok(LedgerFilter {
            kind: some(&self.kind),
            actor_id: some(&self.actor_id),
            action: some(&self.action),
            decision: some(&self.decision),
            on_behalf_of: principal,
            resource: some(&self.resource),
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            before_seq: self.before,
            limit: 50,
            ..LedgerFilter::default()
        })
    }

    /// The query string of these filters, for the next page's link.
    pub fn query_without_before(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor_id", &self.actor_id),
            ("principal", &self.principal),
            ("kind", &self.kind),
            ("action", &self.action),
            ("resource", &self.resource),
            ("decision", &self.decision),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.trim().is_empty() {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "ledger.html")]
pub struct LedgerPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    f: Filters,
    rows: Vec<LedgerLine>,
    next: Option<i64>,
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
    q: web::Query<Filters>,
) -> Result<LedgerPage, PageError> {
    let f = q.into_inner();
    let result = dash
        .store()
        .engine()
        .query_ledger(page.me.tenant_id, f.to_filter()?)
        .await?;
    Ok(LedgerPage {
        me: page.me,
        active: "/app/ledger",
        flash: flash(&req),
        f,
        rows: result.entries,
        next: result.next_before_seq,
    })
}
