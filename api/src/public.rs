//! Public, unauthenticated per-tenant endpoints that let anyone check a tenant's ledger:
//! its signing keys (with validity periods) and its latest signed checkpoint.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use charter_core::keys::verifying_key;
use charter_core::ledger::checkpoint::verifier_key;
use charter_core::ledger::record::format_time;
use charter_core::tenant::TenantSlug;
use charter_store::ledger::checkpoints::origin;
use charter_store::platform::TenantRef;
use serde_json::json;

use crate::AppState;
use crate::client::limit_anonymous;
use crate::error::ApiError;

async fn tenant(state: &AppState, slug: &str) -> Result<TenantRef, ApiError> {
    let slug = TenantSlug::parse(slug).map_err(|_| ApiError::not_found("tenant"))?;
    state
        .store()
        .sessions()
        .tenant_by_slug(slug.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))
}

/// `GET /t/{slug}/keys`
pub async fn keys(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    limit_anonymous(&req, &state).await?;
    let tenant = tenant(&state, &slug).await?;
    let keys = state.store().ledger().public_keys(tenant.id).await?;
    let log_origin = origin(state.store().origin_prefix(), &tenant.slug);
    let keys: Vec<_> = keys
        .into_iter()
        .map(|k| {
            let note_key = verifying_key(&k.public_key)
                .map(|vk| verifier_key(&log_origin, &vk))
                .ok();
            json!({
                "key_id": k.key_id,
                "algorithm": k.algorithm,
                "public_key": STANDARD.encode(k.public_key),
                "note_verifier_key": note_key,
                "valid_from": format_time(k.valid_from),
                "valid_until": k.valid_until.map(format_time),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "tenant": tenant.slug,
        "origin": log_origin,
        "keys": keys,
    })))
}

/// `GET /t/{slug}/checkpoint`: the latest signed note (a new one at most every
/// `checkpoint_interval_secs` while the log grows: reading never makes Charter write more).
pub async fn checkpoint(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    limit_anonymous(&req, &state).await?;
    let tenant = tenant(&state, &slug).await?;
    let interval = state.config().checkpoint_interval;
    let cp = state
        .store()
        .ledger()
        .published_checkpoint(tenant.id, interval)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(cp.note))
}

/// `GET /.well-known/oauth-protected-resource/t/{slug}/mcp` — RFC 9728 metadata of a
/// tenant's MCP endpoint: agents present an API key as a bearer token in the header.
pub async fn mcp_resource_metadata(
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = tenant(&state, &slug).await?;
    let base = state.config().public_url.trim_end_matches('/');
    Ok(HttpResponse::Ok().json(json!({
        "resource": format!("{base}/t/{}/mcp", tenant.slug),
        "resource_name": format!("Charter governance tools for {}", tenant.name),
        "bearer_methods_supported": ["header"],
    })))
}
