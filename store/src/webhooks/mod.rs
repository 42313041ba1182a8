//! Webhook endpoints and their deliveries.
//!
//! - [`endpoints`] — what administrators manage (`store.admin()`): endpoints, each change a
//!   ledger record; the test message; deliveries with their attempts.
//! - [`deliveries`] — what the worker's `webhooks` job does (`store.worker()`): fan the
//!   outbox (`notifications`) out to subscribed endpoints, claim due deliveries, record
//!   each attempt, retry on the schedule, dead-letter.

pub mod deliveries;
pub mod endpoints;

use charter_core::status::DeliveryStatus;
use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use uuid::Uuid;

use crate::Result;
use crate::error::state;

/// Sealing context of endpoint secrets (part of the AES-GCM associated data).
pub(crate) const SECRET_CONTEXT: &str = "charter/webhook-secret/v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const ENDPOINT_COLUMNS: &str =
    "id, url, description, events, enabled, created_by, created_at, updated_at";

pub(crate) fn endpoint_from_row(r: &QueryResult) -> Result<Endpoint> {
    Ok(Endpoint {
        id: r.try_get("", "id")?,
        url: r.try_get("", "url")?,
        description: r.try_get("", "description")?,
        events: r.try_get("", "events")?,
        enabled: r.try_get("", "enabled")?,
        created_by: r.try_get("", "created_by")?,
        created_at: r.try_get("", "created_at")?,
        updated_at: r.try_get("", "updated_at")?,
    })
}

/// One message to one endpoint, with every attempt made to deliver it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event: String,
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempt_log: Vec<Attempt>,
}

impl Delivery {
    /// The `webhook-id` header it is sent with.
    pub fn message_id(&self) -> String {
        charter_core::webhook::message_id(self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub n: i32,
    pub started_at: DateTime<Utc>,
    /// Unset while it runs, and for good if its worker stopped during it.
    pub finished_at: Option<DateTime<Utc>>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

pub(crate) const DELIVERY_COLUMNS: &str = "id, endpoint_id, event, body, status, attempts,
    next_attempt_at, last_status, last_error, created_at, finished_at";

pub(crate) fn delivery_from_row(r: &QueryResult) -> Result<Delivery> {
    Ok(Delivery {
        id: r.try_get("", "id")?,
        endpoint_id: r.try_get("", "endpoint_id")?,
        event: r.try_get("", "event")?,
        body: r.try_get("", "body")?,
        status: state(r, "status")?,
        attempts: r.try_get("", "attempts")?,
        next_attempt_at: r.try_get("", "next_attempt_at")?,
        last_status: r.try_get("", "last_status")?,
        last_error: r.try_get("", "last_error")?,
        created_at: r.try_get("", "created_at")?,
        finished_at: r.try_get("", "finished_at")?,
        attempt_log: Vec::new(),
    })
}
