//! Who is calling `/t/{slug}/mcp`, decided before rmcp sees the request.
//!
//! The bearer token must be an active API key of an agent of the path's tenant; anything
//! else — no key, an unknown or revoked key, another tenant's key — is 401 with
//! `WWW-Authenticate` pointing at the RFC 9728 metadata. A session (`Mcp-Session-Id`)
//! is bound in Redis to the tenant and agent that opened it: presented at another tenant's
//! path or with another agent's key, it is unknown (404), so sessions cannot be borrowed.
//! Redis being down fails closed (503): sessions and rate limits live there. Outside
//! production, one tenant may be configured open (`mcp_open_tenant`) for protocol test
//! suites that cannot send a key.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use serde_json::json;

use super::Caller;
use crate::AppState;
use crate::error::ApiError;

const SESSION_HEADER: &str = "mcp-session-id";

/// The RFC 9728 metadata URL of a tenant's MCP endpoint.
pub fn metadata_url(public_url: &str, slug: &str) -> String {
    format!(
        "{}/.well-known/oauth-protected-resource/t/{slug}/mcp",
        public_url.trim_end_matches('/')
    )
}

fn unauthorized(state: &AppState, slug: &str, why: &str) -> HttpResponse {
    let challenge = format!(
        "Bearer resource_metadata=\"{}\", error=\"invalid_token\", error_description=\"{why}\"",
        metadata_url(&state.config().public_url, slug)
    );
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .json(json!({
            "code": "unauthorized",
            "message": why,
            "request_id": crate::request_id::current(),
        }))
}

fn bearer(req: &ServiceRequest) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let e = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "no application state",
        );
        return Err(e.into());
    };
    let slug = req.match_info().get("slug").unwrap_or_default().to_string();
    let store = state.store();
    let tenant = store
        .sessions()
        .tenant_by_slug(&slug)
        .await
        .map_err(ApiError::from)?;
    let Some(tenant) = tenant else {
        return Ok(req.into_response(unauthorized(&state, &slug, "unknown tenant or API key")));
    };
    // The agent, and what its requests are counted against (its key).
    let identity = match bearer(&req) {
        Some(token) => store
            .sessions()
            .lookup_api_key(token)
            .await
            .map_err(ApiError::from)?
            .filter(|i| i.tenant_id == tenant.id)
            .map(|i| (i.agent_id, i.key_id)),
        None if state.config().mcp_open_tenant.as_deref() == Some(slug.as_str()) => store
            .sessions()
            .open_tenant_agent(tenant.id)
            .await
            .map_err(ApiError::from)?
            .map(|a| (a, a)),
        None => None,
    };
    let Some((agent_id, counted_as)) = identity else {
        return Ok(req.into_response(unauthorized(&state, &slug, "unknown tenant or API key")));
    };
    let per_minute = state.config().rate_limit_per_minute;
    if let Some(wait) = store.limits().mcp_request(counted_as, per_minute).await {
        let res = HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, wait.to_string()))
            .json(json!({
                "code": "rate_limited",
                "message": format!("too many requests for this API key; retry in {wait} s"),
                "request_id": crate::request_id::current(),
            }));
        return Ok(req.into_response(res));
    }
    let caller = Caller {
        tenant_id: tenant.id,
        slug: slug.clone(),
        agent_id,
    };
    let presented = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(id) = &presented {
        let theirs = store
            .sessions()
            .mcp_session_is(id, caller.tenant_id, caller.agent_id)
            .await
            .map_err(ApiError::from)?;
        if !theirs {
            return Ok(req.into_response(HttpResponse::NotFound().json(json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {"code": -32001, "message": "session not found"},
            }))));
        }
    }
    let (tenant_id, agent_id) = (caller.tenant_id, caller.agent_id);
    req.extensions_mut().insert(caller);
    let mut res = next.call(req).await?.map_into_boxed_body();
    // A session minted by this response is bound to this tenant and agent.
    let minted = res
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(id) = minted.filter(|m| presented.as_deref() != Some(m.as_str()))
        && let Err(e) = store
            .sessions()
            .bind_mcp_session(&id, tenant_id, agent_id)
            .await
    {
        // Unbound, the session would be refused on its next request: say so now.
        tracing::warn!(error = %e, "could not bind an MCP session");
        let r = res.request().clone();
        let e = ApiError::unavailable("sessions are unavailable; retry or use stateless requests");
        return Ok(ServiceResponse::new(r, e.error_response()));
    }
    // Streams must not be buffered by proxies.
    res.headers_mut().insert(
        header::HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(res)
}

/// Whether `authority` (a Host header) names an allowed host, with or without its port.
pub fn host_allowed(authority: &str, allowed: &[String]) -> bool {
    let authority = authority.to_ascii_lowercase();
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().map(|h| format!("[{h}]")),
        None => authority.split(':').next().map(str::to_string),
    }
    .unwrap_or_default();
    allowed.iter().any(|a| *a == authority || *a == host)
}

/// DNS-rebinding protection for the routes rmcp does not serve (the SSE transport): a
/// Host outside loopback, the public URL and `allowed_hosts` gets 403.
pub async fn check_host(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let allowed = match req.app_data::<web::Data<AppState>>() {
        Some(state) => super::hosts(state.config()),
        None => Vec::new(),
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !host_allowed(host, &allowed) {
        let e = ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this host is not allowed",
        );
        return Ok(req.into_response(e.error_response()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
