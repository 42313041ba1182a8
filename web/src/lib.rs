//! charter-web: the server-rendered pages (askama), mounted by charter-api.
//!
//! # Layout
//! - `templates/` — askama templates, one per page, sharing `base.html`.
//! - [`pages`] — one module per page: the view model and its handler.
//! - [`routes`] — the page route table.

pub mod pages;

use actix_web::web;

/// Mounts every page on an actix `ServiceConfig`. Pages take what they show as `web::Data`
/// values registered by the application (see [`pages::home::HomeInfo`]).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::home::show));
}
