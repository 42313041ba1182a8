//! charter-web: the dashboard, server-rendered with askama and mounted by charter-api.
//!
//! # Layout
//! - `templates/` — askama templates: `base.html` (the page shell), `app.html` (navigation,
//!   banners, flash), one per page, `macros.html` (CSRF fields, field errors).
//! - `static/` — the stylesheet and the two scripts (copy buttons, in-browser ledger
//!   verification), embedded in the binary ([`assets`]).
//! - [`pages`] — one module per page: its view model, handler and forms.
//! - [`session`] — the session cookie, `Page<P>` and `Form<P, T>`: who is looking, with the
//!   REST API's permission matrix, and CSRF checks on every form.
//! - [`headers`] — Content-Security-Policy and the other security headers.
//!
//! Handlers are thin: they read the request, call the store's named operations (the same
//! ones the REST API calls) and render; none opens a transaction or writes SQL.

pub mod assets;
pub mod client;
pub mod error;
pub mod headers;
pub mod layout;
pub mod pages;
pub mod session;
pub mod state;

use actix_web::middleware::from_fn;
use actix_web::web;

pub use state::Dashboard;

/// Every dashboard path with its methods, for `405 Allow` answers.
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/app", &["GET"]),
    ("/app/login", &["GET", "POST"]),
    ("/app/signup", &["GET", "POST"]),
    ("/app/invite", &["GET", "POST"]),
    ("/app/logout", &["POST"]),
    ("/app/inbox", &["GET"]),
    ("/app/reviews/{id}/verdict", &["POST"]),
    ("/app/approvals/{id}/verdict", &["POST"]),
    ("/app/scope-changes/{id}/verdict", &["POST"]),
    ("/app/initiatives", &["GET"]),
    ("/app/initiatives/{id}", &["GET"]),
    ("/app/agents", &["GET", "POST"]),
    ("/app/agents/{id}", &["GET"]),
    ("/app/agents/{id}/suspend", &["POST"]),
    ("/app/agents/{id}/resume", &["POST"]),
    ("/app/agents/{id}/delete", &["POST"]),
    ("/app/agents/{id}/keys", &["POST"]),
    ("/app/agents/{id}/keys/{key}/revoke", &["POST"]),
    ("/app/agents/{id}/scope", &["POST"]),
    ("/app/agents/{id}/breaker/reset", &["POST"]),
    ("/app/agents/{id}/simulate", &["POST"]),
    ("/app/policies", &["GET", "POST"]),
    ("/app/ledger", &["GET"]),
    ("/app/ledger/{seq}", &["GET"]),
    ("/app/violations", &["GET"]),
    ("/app/violations/{id}/acknowledge", &["POST"]),
    ("/app/violations/{id}/resolve", &["POST"]),
    ("/app/breakers", &["GET"]),
    ("/app/settings", &["GET"]),
    ("/app/tokens", &["POST"]),
    ("/app/tokens/{id}/revoke", &["POST"]),
    ("/app/webhooks", &["GET", "POST"]),
    ("/app/webhooks/{id}/test", &["POST"]),
    ("/app/webhooks/{id}/delete", &["POST"]),
    ("/app/exports", &["GET", "POST"]),
    ("/app/exports/{id}/download", &["GET"]),
    ("/app/people", &["POST"]),
    ("/app/people/{id}/roles", &["POST"]),
    ("/app/billing", &["GET"]),
    ("/app/billing/checkout", &["POST"]),
    ("/app/billing/portal", &["POST"]),
    ("/app/static/{file}", &["GET"]),
];

/// Mounts the home page and the dashboard (under `/app`, with its security headers). The
/// application registers a `web::Data<Dashboard>` and a `web::Data<pages::home::HomeInfo>`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use pages::*;
    let get = web::get;
    let post = web::post;
    cfg.service(
        web::resource("/")
            .wrap(from_fn(headers::secure))
            .route(get().to(home::show)),
    )
    .service(
        web::scope("/app")
            .wrap(from_fn(headers::secure))
            .app_data(
                web::PathConfig::default().error_handler(|e, _| {
                    error::PageError::not_found(&format!("page ({e})")).into()
                }),
            )
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                error::PageError::invalid(format!("the address's query: {e}")).into()
            }))
            .route("", get().to(overview::show))
            .route("/", get().to(overview::show))
            .route("/login", get().to(login::show))
            .route("/login", post().to(login::submit))
            .route("/signup", get().to(signup::show))
            .route("/signup", post().to(signup::submit))
            .route("/invite", get().to(invite::show))
            .route("/invite", post().to(invite::accept))
            .route("/logout", post().to(logout::submit))
            .route("/inbox", get().to(inbox::show))
            .route("/reviews/{id}/verdict", post().to(inbox::review_verdict))
            .route(
                "/approvals/{id}/verdict",
                post().to(inbox::approval_verdict),
            )
            .route(
                "/scope-changes/{id}/verdict",
                post().to(inbox::scope_change_verdict),
            )
            .route("/initiatives", get().to(initiatives::list))
            .route("/initiatives/{id}", get().to(initiatives::show))
            .route("/agents", get().to(agents::show))
            .route("/agents", post().to(agents::create))
            .route("/agents/{id}", get().to(agent::show))
            .route("/agents/{id}/suspend", post().to(agent::suspend))
            .route("/agents/{id}/resume", post().to(agent::resume))
            .route("/agents/{id}/delete", post().to(agent::delete))
            .route("/agents/{id}/keys", post().to(agent::issue_key))
            .route(
                "/agents/{id}/keys/{key}/revoke",
                post().to(agent::revoke_key),
            )
            .route("/agents/{id}/scope", post().to(agent::save_scope))
            .route(
                "/agents/{id}/breaker/reset",
                post().to(agent::reset_breaker),
            )
            .route("/agents/{id}/simulate", post().to(agent::simulate))
            .route("/policies", get().to(policies::show))
            .route("/policies", post().to(policies::submit))
            .route("/ledger", get().to(ledger::show))
            .route("/ledger/{seq}", get().to(entry::show))
            .route("/violations", get().to(violations::show))
            .route(
                "/violations/{id}/acknowledge",
                post().to(violations::acknowledge),
            )
            .route("/violations/{id}/resolve", post().to(violations::resolve))
            .route("/breakers", get().to(breakers::show))
            .route("/settings", get().to(settings::show))
            .route("/tokens", post().to(settings::create_token))
            .route("/tokens/{id}/revoke", post().to(settings::revoke_token))
            .route("/webhooks", get().to(webhooks::show))
            .route("/webhooks", post().to(webhooks::create))
            .route("/webhooks/{id}/test", post().to(webhooks::test))
            .route("/webhooks/{id}/delete", post().to(webhooks::delete))
            .route("/exports", get().to(exports::show))
            .route("/exports", post().to(exports::create))
            .route("/exports/{id}/download", get().to(exports::download))
            .route("/people", post().to(settings::add_person))
            .route("/people/{id}/roles", post().to(settings::set_roles))
            .route("/billing", get().to(billing::show))
            .route("/billing/checkout", post().to(billing::checkout))
            .route("/billing/portal", post().to(billing::portal))
            .route("/static/{file}", get().to(assets::serve))
            .default_service(web::to(error::fallback)),
    );
}
