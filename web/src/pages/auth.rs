//! Shared by the login, sign-up and invitation pages: form errors shown next to their
//! field, the anonymous rate limit, and starting a session (a new cookie on every login,
//! the previous session ended).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::error::PageError;
use crate::session;
use crate::state::Dashboard;

/// Errors of a form: by field (`""` for the form as a whole).
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn on(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_string(), message.into()));
    }

    /// A store refusal: `field: message` goes next to that field, anything else above
    /// the form. Faults that are not the person's go to the error page.
    pub fn from_refusal(
        err: charter_store::StoreError,
        fields: &[&str],
    ) -> Result<(StatusCode, Self), PageError> {
        let e = PageError::from(err);
        let PageError::Shown {
            status, message, ..
        } = &e
        else {
            return Err(e);
        };
        if status.is_server_error() {
            return Err(e);
        }
        let mut errors = FieldErrors::default();
        match message.split_once(": ") {
            Some((f, m)) if fields.contains(&f) => errors.add(f, m),
            _ => errors.add("", message.clone()),
        }
        Ok((*status, errors))
    }
}

/// Counts the request against its address's anonymous limit; the error page when used up.
pub async fn limit(req: &HttpRequest, dash: &Dashboard) -> Result<String, PageError> {
    let (address, wait) = crate::client::count_anonymous(req, dash.config(), dash.store()).await;
    match wait {
        Some(wait) => Err(PageError::coded(
            charter_core::code::Code::RateLimited,
            format!("too many requests from this address; retry in {wait} s"),
        )),
        None => Ok(address),
    }
}

/// Where to go after logging in: only a dashboard path of this server.
pub fn safe_next(next: &str) -> &str {
    let ok = next.starts_with("/app")
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if ok { next } else { "/app" }
}

/// Starts a dashboard session (a new token: the cookie changes on every login, and the
/// session the browser had before is ended) and redirects to `to`.
pub async fn log_in(
    req: &HttpRequest,
    dash: &Dashboard,
    tenant: Uuid,
    principal: Uuid,
    to: &str,
) -> Result<HttpResponse, PageError> {
    if let Some(old) = session::token(req, dash) {
        dash.store().sessions().end_web_session(&old).await?;
    }
    let config = dash.config();
    let new = dash
        .store()
        .sessions()
        .start_web_session(
            tenant,
            principal,
            config.dashboard_idle_timeout,
            config.dashboard_session_max,
        )
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::SET_COOKIE,
            session::set_cookie(dash, new.token.expose()),
        ))
        .insert_header((header::LOCATION, to.to_string()))
        .finish())
}
