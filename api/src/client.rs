//! The per-address limit on routes that need no credentials (checked before they touch the
//! database). The client's address is worked out as the dashboard does
//! (`charter_web::client`).

use actix_web::HttpRequest;

use crate::AppState;
use crate::error::ApiError;

/// Counts a request to a route that needs no credentials against its client's address;
/// 429 with `Retry-After` when the address has used up its minute. Returns the address.
pub async fn limit_anonymous(req: &HttpRequest, state: &AppState) -> Result<String, ApiError> {
    let (address, wait) =
        charter_web::client::count_anonymous(req, state.config(), state.store()).await;
    match wait {
        Some(wait) => Err(ApiError::too_many(
            format!("too many requests from this address; retry in {wait} s"),
            wait,
        )),
        None => Ok(address),
    }
}
