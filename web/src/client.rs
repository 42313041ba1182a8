//! Who is on the other end of a request: the client's address, for rate limits.
//!
//! Behind a load balancer the TCP peer is the balancer, so every client would share one
//! address (and one limit). With `client_ip_header` set, a request whose peer is one of
//! `trusted_proxies` is attributed to the address the proxy appended last to that header;
//! a request from anyone else is attributed to its peer, whatever it claims.

use std::net::IpAddr;

use actix_web::HttpRequest;
use charter_core::config::Config;

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

/// Counts a request to a route that needs no credentials against its client's address.
/// Returns the address, and the seconds to wait when it has used up its minute.
pub async fn count_anonymous(
    req: &HttpRequest,
    config: &Config,
    store: &charter_store::Store,
) -> (String, Option<u64>) {
    let address = address(req, config);
    let wait = store
        .limits()
        .unauthenticated(&address, config.anonymous_rate_limit_per_minute)
        .await;
    (address, wait)
}
