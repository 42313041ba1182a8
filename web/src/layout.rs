//! What every dashboard page shares: the navigation, flash messages after a form, and the
//! keyset pager.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::error::PageError;

/// The navigation, in order: (path, label).
pub const NAV: &[(&str, &str)] = &[
    ("/app", "Overview"),
    ("/app/inbox", "Approvals"),
    ("/app/initiatives", "Initiatives"),
    ("/app/agents", "Agents"),
    ("/app/policies", "Policies"),
    ("/app/ledger", "Ledger"),
    ("/app/violations", "Violations"),
    ("/app/exports", "Exports"),
    ("/app/breakers", "Breakers"),
    ("/app/settings", "Settings"),
    ("/app/billing", "Billing"),
];

/// A message shown once above a page, after a form redirected there.
#[derive(Debug, Clone)]
pub struct Flash {
    pub text: String,
    pub error: bool,
}

/// The messages a redirect may ask for, by key (`?done=approved`): only these texts can
/// appear, so a link cannot make the dashboard say anything else.
const DONE: &[(&str, &str)] = &[
    ("approved", "Approved and recorded in the ledger."),
    ("rejected", "Rejected and recorded in the ledger."),
    (
        "agent_suspended",
        "The agent is suspended: every action it asks for is BLOCKED.",
    ),
    ("agent_resumed", "The agent is active again."),
    (
        "agent_deleted",
        "The agent was deleted; its ledger records stay.",
    ),
    (
        "key_revoked",
        "The key is revoked; calls with it are refused from now on.",
    ),
    ("breaker_reset", "The breaker is closed."),
    ("acknowledged", "The violation is acknowledged."),
    ("resolved", "The violation is resolved."),
    ("roles_changed", "Their roles are changed."),
    (
        "signed_up",
        "Your tenant is ready: a 14-day trial, no card needed.",
    ),
    (
        "scope_saved",
        "The scope is saved and in force for the agent's next request.",
    ),
    (
        "policies_saved",
        "The policies are saved and in force for the next request.",
    ),
    ("token_revoked", "The token is revoked."),
    (
        "webhook_deleted",
        "The endpoint is removed; nothing more is sent to it.",
    ),
    (
        "export_requested",
        "The worker is making the bundle; it is listed below when ready.",
    ),
];

pub fn flash(req: &HttpRequest) -> Option<Flash> {
    let done = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.into_owned())?;
    DONE.iter()
        .find(|(k, _)| *k == done)
        .map(|(_, text)| Flash {
            text: (*text).to_string(),
            error: false,
        })
}

/// A redirect after a successful form (POST → 303 → GET), with a flash key.
pub fn done(to: &str, key: &str) -> actix_web::HttpResponse {
    let sep = if to.contains('?') { '&' } else { '?' };
    actix_web::HttpResponse::SeeOther()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("{to}{sep}done={key}"),
        ))
        .finish()
}

/// A page with a status other than 200 (a form shown again with its errors), or one that
/// is not a handler's return value.
pub fn render(status: StatusCode, page: impl Template) -> Result<HttpResponse, PageError> {
    let html = page
        .render()
        .map_err(|e| PageError::coded(charter_core::code::Code::Internal, e.to_string()))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}
