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
    ("/app/logout", &["POST"]),
    ("/app/inbox", &["GET"]),
    ("/app/reviews/{id}/verdict", &["POST"]),
    ("/app/approvals/{id}/verdict", &["POST"]),
    ("/app/scope-changes/{id}/verdict", &["POST"]),
    ("/app/static/{file}", &["GET"]),
];

/// Mounts the home page and the dashboard (under `/app`, with its security headers). The
/// application registers a `web::Data<Dashboard>` and a `web::Data<pages::home::HomeInfo>`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use pages::*;
    cfg.service(
        web::resource("/")
            .wrap(from_fn(headers::secure))
            .route(web::get().to(home::show)),
    )
    .service(
        web::scope("/app")
            .wrap(from_fn(headers::secure))
            .route("", web::get().to(overview::show))
            .route("/", web::get().to(overview::show))
            .route("/login", web::get().to(login::show))
            .route("/login", web::post().to(login::submit))
            .route("/signup", web::get().to(signup::show))
            .route("/signup", web::post().to(signup::submit))
            .route("/logout", web::post().to(logout::submit))
            .route("/inbox", web::get().to(inbox::show))
            .route(
                "/reviews/{id}/verdict",
                web::post().to(inbox::review_verdict),
            )
            .route(
                "/approvals/{id}/verdict",
                web::post().to(inbox::approval_verdict),
            )
            .route(
                "/scope-changes/{id}/verdict",
                web::post().to(inbox::scope_change_verdict),
            )
            .route("/static/{file}", web::get().to(assets::serve)),
    );
}
