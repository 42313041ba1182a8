//! Who is looking at a page, and with what authority.
//!
//! The session cookie (`HttpOnly`, `SameSite=Lax`, `Path=/`; `Secure` and `__Host-`
//! prefixed when `public_url` is https) carries only a random token; the server keeps the
//! session (see `charter_store::web_sessions`). Every page names the permission it needs
//! (`Page<Decide>`), from the matrix the REST API uses; every state-changing form is a
//! `Form<P, T>`, which also checks the session's CSRF token and the request's `Origin`.
//! Roles are read from the database on every request, so a removed or demoted person loses
//! access at once.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use charter_core::permission::{ALL, Permission};
use charter_core::tenant::{Acting, Role};
use charter_store::billing::Overview;
use charter_store::principals::Principal;
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::PageError;
use crate::state::Dashboard;

/// The largest form the dashboard reads.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The cookie's name: `__Host-` prefixed over https, so no subdomain or plain-http page can
/// set or shadow it.
pub fn cookie_name(dash: &Dashboard) -> &'static str {
    if dash.https() {
        "__Host-charter_session"
    } else {
        "charter_session"
    }
}

/// `Set-Cookie` for a new session token, lasting at most the session's absolute end.
pub fn set_cookie(dash: &Dashboard, token: &str) -> String {
    let secure = if dash.https() { "; Secure" } else { "" };
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        cookie_name(dash),
        dash.config().dashboard_session_max.as_secs()
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(dash: &Dashboard) -> String {
    let secure = if dash.https() { "; Secure" } else { "" };
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
        cookie_name(dash)
    )
}

/// The session token the request carries, if any.
pub fn token(req: &HttpRequest, dash: &Dashboard) -> Option<String> {
    let name = cookie_name(dash);
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn dashboard(req: &HttpRequest) -> Result<web::Data<Dashboard>, PageError> {
    req.app_data::<web::Data<Dashboard>>()
        .cloned()
        .ok_or_else(|| PageError::coded(charter_core::code::Code::Unavailable, "no dashboard"))
}

/// The person looking at a page: who, in which tenant, with which roles, and the tenant's
/// subscription (for the trial banner).
#[derive(Debug, Clone)]
pub struct Me {
    pub tenant_id: Uuid,
    pub person: Principal,
    pub csrf_token: String,
    pub billing: Overview,
}

impl Me {
    pub fn principal_id(&self) -> Uuid {
        self.person.id
    }

    pub fn roles(&self) -> &[Role] {
        &self.person.roles
    }

    /// For the store's own checks and the ledger: the person, acting directly.
    pub fn acting(&self) -> Acting {
        Acting::person(self.person.id)
    }

    /// Whether the person holds the permission named `name` (templates show only the
    /// controls a person may use; the handlers check again).
    pub fn can(&self, name: &str) -> bool {
        ALL.iter()
            .find(|(n, _)| *n == name)
            .is_some_and(|(_, roles)| self.roles().iter().any(|r| roles.contains(r)))
    }

    /// Trial days left, while the tenant is on its trial (billing on).
    pub fn trial_days_left(&self) -> Option<i64> {
        self.billing
            .enabled
            .then_some(self.billing.trial_days_left)
            .flatten()
    }

    /// The subscription state in force, when it stops agents from acting.
    pub fn inactive(&self) -> Option<String> {
        (!self.billing.allows_actions).then(|| self.billing.status.to_string())
    }
}

async fn me(req: &HttpRequest) -> Result<Me, PageError> {
    let dash = dashboard(req)?;
    let login = || PageError::Login {
        next: req
            .uri()
            .path_and_query()
            .map_or("/app".into(), |p| p.to_string()),
    };
    let token = token(req, &dash).ok_or_else(login)?;
    let caller = dash
        .store()
        .sessions()
        .web_session(&token, dash.config().dashboard_idle_timeout)
        .await?
        .ok_or_else(login)?;
    let billing = dash.store().billing().overview(caller.tenant_id).await?;
    Ok(Me {
        tenant_id: caller.tenant_id,
        person: caller.person,
        csrf_token: caller.csrf_token,
        billing,
    })
}

fn require<P: Permission>(me: &Me) -> Result<(), PageError> {
    if P::held_by(me.roles()) {
        return Ok(());
    }
    Err(PageError::forbidden(P::refusal()))
}

/// Held by anyone with a live session, whatever their roles: logging out.
pub struct LoggedIn;

impl Permission for LoggedIn {
    const NAME: &'static str = "session";
    const ROLES: &'static [Role] = &[];

    fn held_by(_: &[Role]) -> bool {
        true
    }
}

/// A page for a person holding permission `P`.
pub struct Page<P> {
    pub me: Me,
    _p: PhantomData<P>,
}

impl<P: Permission> FromRequest for Page<P> {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let me = me(&req).await?;
            require::<P>(&me)?;
            Ok(Page {
                me,
                _p: PhantomData,
            })
        })
    }
}

/// A cross-site request: its `Origin` (sent by browsers on every POST) is not this server.
/// Refused whatever else it carries.
pub fn cross_site(req: &HttpRequest, dash: &Dashboard) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return false;
    };
    let origin = origin.to_str().unwrap_or("null");
    let host = req.connection_info().host().to_string();
    let ours = [
        dash.public_url().to_string(),
        format!("http://{host}"),
        format!("https://{host}"),
    ];
    !ours.iter().any(|o| o == origin)
}

/// An urlencoded form body: at most [`MAX_FORM_BYTES`], no NUL characters.
async fn body(req: &HttpRequest, payload: &mut Payload) -> Result<web::Bytes, PageError> {
    let bytes = web::Bytes::from_request(req, payload)
        .await
        .map_err(|_| PageError::invalid("the form could not be read"))?;
    if bytes.len() > MAX_FORM_BYTES {
        return Err(PageError::invalid("the form is too large"));
    }
    if form_urlencoded::parse(&bytes).any(|(k, v)| k.contains('\0') || v.contains('\0')) {
        return Err(PageError::invalid("text must not contain NUL characters"));
    }
    Ok(bytes)
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PageError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| PageError::invalid(e.to_string()))
}

/// A form that needs no session (login, sign-up, an invitation): same-origin, parsed as
/// `T`.
pub struct AnonymousForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for AnonymousForm<T> {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if cross_site(&req, &*dashboard(&req)?) {
                return Err(PageError::forbidden(
                    "cross-site form submissions are refused",
                ));
            }
            Ok(AnonymousForm(parse(&body(&req, &mut payload).await?)?))
        })
    }
}

#[derive(serde::Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

/// Equal without a timing signal of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A state-changing form from a person holding `P`: same-origin, with the session's CSRF
/// token in its `csrf` field, then parsed as `T` (which ignores `csrf`).
pub struct Form<P, T> {
    pub me: Me,
    pub form: T,
    _p: PhantomData<P>,
}

impl<P: Permission, T: DeserializeOwned + 'static> FromRequest for Form<P, T> {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let dash = dashboard(&req)?;
            if cross_site(&req, &dash) {
                return Err(PageError::forbidden(
                    "cross-site form submissions are refused",
                ));
            }
            let me = me(&req).await.map_err(|e| match e {
                PageError::Login { .. } => {
                    PageError::coded(charter_core::code::Code::Unauthorized, "log in first")
                }
                e => e,
            })?;
            let bytes = body(&req, &mut payload).await?;
            let csrf: CsrfOnly = parse(&bytes)?;
            if !csrf.csrf.is_some_and(|t| same(&t, &me.csrf_token)) {
                return Err(PageError::forbidden(
                    "the form's security token is missing or stale; reload the page and try again",
                ));
            }
            require::<P>(&me)?;
            let form = parse(&bytes)?;
            Ok(Form {
                me,
                form,
                _p: PhantomData,
            })
        })
    }
}
