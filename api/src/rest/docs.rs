//! The OpenAPI 3.1 document (`/api/openapi.json`), collected from the handlers that are
//! served, and the interactive page (`/api/docs/`, Swagger UI served from the binary: it
//! loads nothing from elsewhere).

use std::sync::OnceLock;

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_actix_web::OpenApiFactory;
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Charter admin API",
        description = "The REST admin API of Charter, a governance OS for multi-agent AI systems. \
            Authenticate with `Authorization: Bearer` and an access token (from `/api/v1/auth/login`) \
            or a tenant API token. Errors are `{code, message, request_id}`. Security scopes name the \
            permission a route needs; docs/permissions.md maps permissions to roles.",
    ),
    components(schemas(crate::error::ErrorBody)),
    tags(
        (name = "auth", description = "Sign-up, login, refresh, logout"),
        (name = "me", description = "The caller and their tenant"),
        (name = "users", description = "People and their roles"),
        (name = "tokens", description = "Tenant API tokens for automation"),
        (name = "agents", description = "Agents, their keys, scopes and breaker settings"),
        (name = "policies", description = "Catalog, policies, limits, simulation"),
        (name = "workflow", description = "Templates, initiatives, artifacts"),
        (name = "reviews", description = "The approvals inbox"),
        (name = "breakers", description = "Circuit breakers"),
        (name = "violations", description = "Findings and their handling"),
        (name = "ledger", description = "Entries, proofs, checkpoints"),
        (name = "jobs", description = "The worker's jobs and their last runs"),
        (name = "self-audits", description = "Daily signed summaries of what needs review"),
        (name = "webhooks", description = "Notification endpoints (Standard Webhooks) and their deliveries"),
        (name = "ai-systems", description = "The AI systems the tenant operates (EU AI Act terms) and the agents acting for each"),
        (name = "exports", description = "Article 12 evidence bundles: ask, follow the progress, download"),
        (name = "retention", description = "Retention of record bodies (at least six months) and legal holds"),
    )
)]
struct Base;

/// The whole document, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = Base::openapi();
        let scope = super::scope();
        doc.paths.merge(scope.paths());
        let mut schemas = Vec::new();
        scope.schemas(&mut schemas);
        let components = doc.components.get_or_insert_with(Default::default);
        components.schemas.extend(schemas);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        doc
    })
}

/// `/api/docs/` (the page) and `/api/openapi.json` (the document).
pub fn service() -> SwaggerUi {
    SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", openapi().clone())
}
