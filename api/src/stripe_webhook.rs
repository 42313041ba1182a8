//! `POST /stripe/webhook`: Stripe's events, verified before anything is read.
//!
//! The `Stripe-Signature` header must carry a `v1` HMAC-SHA256 of `timestamp.body` under
//! the configured webhook secret, with a timestamp within five minutes; anything else is
//! `400` and changes nothing. A verified event is applied once (a replay is `200` and
//! changes nothing) and in order (see `charter_store::billing::events`); an event type
//! Charter does not handle is `200` too, since Stripe retries any other answer. Without
//! Stripe settings (billing off) the route answers `404`.

use actix_web::{HttpRequest, HttpResponse, web};
use charter_core::billing::signature;
use charter_core::billing::stripe_event::StripeEvent;
use charter_store::billing::events::Applied;
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;

/// Stripe's events are small; this is far above any of them.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

pub async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(stripe) = &state.config().stripe else {
        return Err(ApiError::not_found("route (billing is off on this server)"));
    };
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = signature::verify(stripe.webhook_secret.expose(), header, &body, now) {
        tracing::warn!(error = %e, "Stripe webhook refused");
        return Err(ApiError::bad_request("invalid_signature", e.to_string()));
    }
    let event = StripeEvent::parse(&body).map_err(|m| ApiError::bad_request("invalid", m))?;
    let applied = state.store().billing().apply_stripe_event(event).await?;
    let outcome = match applied {
        Applied::Changed { .. } => "changed",
        Applied::Unchanged => "unchanged",
        Applied::Replay => "replay",
        Applied::Ignored => "ignored",
    };
    Ok(HttpResponse::Ok().json(json!({"received": true, "outcome": outcome})))
}
