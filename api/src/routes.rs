//! The route table: every surface of the HTTP server, in one place.

use actix_web::middleware::from_fn;
use actix_web::web;
use charter_web::pages::home::HomeInfo;

use crate::mcp::CharterMcp;
use crate::{AppState, health, mcp, metrics, public, request_id, rest, stripe_webhook};

pub fn configure(
    state: &web::Data<AppState>,
    mcp: rmcp_actix_web::transport::StreamableHttpService<CharterMcp>,
) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
    let home = web::Data::new(HomeInfo {
        version: env!("CARGO_PKG_VERSION"),
        public_url: state.config().public_url.clone(),
    });
    let dashboard = web::Data::new(charter_web::Dashboard::new(
        state.shared_config(),
        state.store().clone(),
    ));
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope("")
                .wrap(from_fn(metrics::record))
                .wrap(from_fn(request_id::assign))
                .app_data(home)
                .app_data(dashboard)
                .route("/healthz", web::get().to(health::healthz))
                .route("/readyz", web::get().to(health::readyz))
                .route("/metrics", web::get().to(metrics::render))
                .service(
                    web::resource("/stripe/webhook")
                        .app_data(web::PayloadConfig::new(stripe_webhook::MAX_BODY_BYTES))
                        .route(web::post().to(stripe_webhook::receive)),
                )
                .route("/t/{slug}/keys", web::get().to(public::keys))
                .route("/t/{slug}/checkpoint", web::get().to(public::checkpoint))
                .route(
                    "/.well-known/oauth-protected-resource/t/{slug}/mcp",
                    web::get().to(public::mcp_resource_metadata),
                )
                .service(
                    mcp.scope_with_path("/t/{slug}/mcp")
                        .wrap(from_fn(mcp::session_end::no_content))
                        .wrap(from_fn(mcp::jsonrpc::validate))
                        .wrap(from_fn(mcp::auth::authenticate)),
                )
                .service(
                    web::scope("/t/{slug}/sse")
                        .wrap(from_fn(mcp::auth::authenticate))
                        .wrap(from_fn(mcp::auth::check_host))
                        .app_data(web::PayloadConfig::new(mcp::MAX_BODY_BYTES))
                        .route("", web::get().to(mcp::sse::connect))
                        .route("/messages", web::post().to(mcp::sse::message)),
                )
                .service(rest::scope())
                .service(rest::docs::service())
                .configure(charter_web::routes)
                .default_service(web::to(crate::error::not_found)),
        );
    }
}

/// Paths served outside the REST API, with their methods (the MCP endpoints answer every
/// method themselves).
const OTHER_ROUTES: &[(&str, &[&str])] = &[
    ("/healthz", &["GET"]),
    ("/readyz", &["GET"]),
    ("/metrics", &["GET"]),
    ("/t/{slug}/keys", &["GET"]),
    ("/t/{slug}/checkpoint", &["GET"]),
    (
        "/.well-known/oauth-protected-resource/t/{slug}/mcp",
        &["GET"],
    ),
    ("/t/{slug}/sse", &["GET"]),
    ("/t/{slug}/sse/messages", &["POST"]),
    ("/stripe/webhook", &["POST"]),
];

/// The methods `path` is served with (empty when no route has that path): every REST route
/// from the OpenAPI document, and the others above.
pub fn methods_at(path: &str) -> Vec<&'static str> {
    use std::sync::OnceLock;
    static TABLE: OnceLock<Vec<(actix_web::dev::ResourceDef, Vec<&'static str>)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t: Vec<(actix_web::dev::ResourceDef, Vec<&'static str>)> = OTHER_ROUTES
            .iter()
            .chain(charter_web::ROUTES)
            .map(|(p, m)| (actix_web::dev::ResourceDef::new(*p), m.to_vec()))
            .collect();
        for (p, item) in &crate::rest::docs::openapi().paths.paths {
            let methods: Vec<&'static str> = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
            ]
            .into_iter()
            .filter_map(|(m, has)| has.then_some(m))
            .collect();
            t.push((actix_web::dev::ResourceDef::new(p.as_str()), methods));
        }
        t
    });
    table
        .iter()
        .find(|(def, _)| def.is_match(path))
        .map(|(_, m)| m.clone())
        .unwrap_or_default()
}
