//! The REST admin API under `/api/v1`: what the dashboard and customers' automation use.
//! JSON only; one error body everywhere; every change a ledger record naming the person
//! who made it. The OpenAPI 3.1 document is generated from the handlers themselves
//! (utoipa), so it lists exactly the routes served.
//!
//! # Layout
//! - [`extract`] — `Authorized<P>` (who calls, with which permission), `Body`, `Query`.
//! - [`permissions`] — the role → permission matrix.
//! - [`docs`] — `/api/openapi.json` and the interactive page `/api/docs/`.
//! - one file per resource: [`signup`], [`sessions`], [`me`], [`users`], [`tokens`],
//!   [`agents`], [`keys`], [`policies`], [`workflow`], [`reviews`], [`breakers`],
//!   [`violations`], [`ledger`], [`jobs`], [`self_audits`], [`webhooks`], [`ai_systems`],
//!   [`exports`], [`retention`], [`billing`].

pub mod agents;
pub mod ai_systems;
pub mod billing;
pub mod breakers;
pub mod docs;
pub mod exports;
pub mod extract;
pub mod jobs;
pub mod keys;
pub mod ledger;
pub mod me;
pub mod permissions;
pub mod policies;
pub mod retention;
pub mod reviews;
pub mod self_audits;
pub mod sessions;
pub mod signup;
pub mod tokens;
pub mod users;
pub mod violations;
pub mod webhooks;
pub mod workflow;

use actix_web::web;
use utoipa::IntoResponses;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ErrorBody;

/// The error responses any route may give (documented on each operation).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Errors {
    /// Malformed JSON or query parameters.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No valid access token or API token.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The plan allows no more of this, or the subscription has ended (see
    /// `/api/v1/billing`).
    #[response(status = 402)]
    PaymentRequired(ErrorBody),
    /// The caller's roles do not grant this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such resource in the caller's tenant.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The change conflicts with the current state.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The body is too large.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not JSON.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// A field is invalid; the message names it.
    #[response(status = 422)]
    Invalid(ErrorBody),
    /// Too many requests; see `Retry-After`.
    #[response(status = 429)]
    TooMany(ErrorBody),
    /// A dependency is down; nothing was changed. Retry.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Registers every REST handler; the OpenAPI document is collected from the same calls.
pub fn services(cfg: &mut ServiceConfig) {
    signup::services(cfg);
    sessions::services(cfg);
    me::services(cfg);
    users::services(cfg);
    tokens::services(cfg);
    agents::services(cfg);
    keys::services(cfg);
    policies::services(cfg);
    workflow::services(cfg);
    reviews::services(cfg);
    breakers::services(cfg);
    violations::services(cfg);
    ledger::services(cfg);
    jobs::services(cfg);
    self_audits::services(cfg);
    webhooks::services(cfg);
    ai_systems::services(cfg);
    exports::services(cfg);
    retention::services(cfg);
    billing::services(cfg);
}

/// The `/api/v1` scope, with its limits and error handlers.
pub fn scope() -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope("/api/v1")
        .app_data(web::PayloadConfig::new(extract::MAX_BODY_BYTES))
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .configure(services)
        .default_service(web::to(crate::error::not_found))
}
