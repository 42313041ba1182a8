//! Who is on the other end of a request: the client's address, and the per-address limit on
//! routes that need no credentials (checked before they touch the database).
//!
//! Behind a load balancer the TCP peer is the balancer, so every client would share one
//! address (and one limit). With `client_ip_header` set, a request whose peer is one of
//! `trusted_proxies` is attributed to the address the proxy appended last to that header;
//! a request from anyone else is attributed to its peer, whatever it claims.

use std::net::IpAddr;

use actix_web::HttpRequest;
use charter_core::config::Config;

use crate::AppState;
use crate::error::ApiError;

/// The client's address, as text (`unknown` when there is none, e.g. in unit tests).
pub fn address(req: &HttpRequest, config: &Config) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    let trusted = config.trusted_proxies.iter().any(|n| n.contains(peer));
    let forwarded = config
        .client_ip_header
        .as_deref()
        .filter(|_| trusted)
        .and_then(|h| req.headers().get(h))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    forwarded.unwrap_or(peer).to_string()
}

/// Counts a request to a route that needs no credentials against its client's address;
/// 429 with `Retry-After` when the address has used up its minute. Returns the address.
pub async fn limit_anonymous(req: &HttpRequest, state: &AppState) -> Result<String, ApiError> {
    let address = address(req, state.config());
    let per_minute = state.config().anonymous_rate_limit_per_minute;
    if let Some(wait) = state
        .store()
        .limits()
        .unauthenticated(&address, per_minute)
        .await
    {
        return Err(ApiError::too_many(
            format!("too many requests from this address; retry in {wait} s"),
            wait,
        ));
    }
    Ok(address)
}
