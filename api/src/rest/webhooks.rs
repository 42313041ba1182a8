//! Webhook endpoints: where Charter sends its notifications (Standard Webhooks), which
//! events each receives, a test message, and every delivery with its attempts.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use charter_store::webhooks::endpoints::{DeliveryFilter, EndpointChange, NewEndpoint};
use charter_store::webhooks::{Attempt, Delivery, Endpoint};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body, Query};
use super::permissions::ManageWebhooks;
use super::violations::word;
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(test)
        .service(deliveries);
}

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// The events it receives.
    pub events: Vec<String>,
    /// A disabled endpoint keeps its waiting deliveries until it is enabled again.
    pub enabled: bool,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookView {
    fn from(e: Endpoint) -> Self {
        WebhookView {
            id: e.id,
            url: e.url,
            description: e.description,
            events: e.events,
            enabled: e.enabled,
            created_by: e.created_by,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to send: an `https` URL of a public host in production (`http` and local
    /// hosts are allowed in development).
    pub url: String,
    /// At most 500 characters.
    #[serde(default)]
    pub description: String,
    /// Some of `violation.found`, `breaker.tripped`, `review.requested`,
    /// `action_approval.requested`, `self_audit.completed`, `trial.ending`.
    #[schema(example = json!(["violation.found", "breaker.tripped"]))]
    pub events: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub webhook: WebhookView,
    /// The signing secret (`whsec_…`): verify each message's `webhook-signature` with it.
    /// Shown only now.
    pub secret: String,
}

/// The tenant's webhook endpoints.
#[utoipa::path(operation_id = "webhooks_list", tag = "webhooks", security(("bearer" = ["manage_webhooks"])), responses((status = 200, body = [WebhookView]), Errors))]
#[get("/webhooks")]
pub async fn list(
    auth: Authorized<ManageWebhooks>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.store().admin().webhooks(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(WebhookView::from).collect::<Vec<_>>()))
}

/// Adds an endpoint; its signing secret is in the answer, once.
#[utoipa::path(operation_id = "webhooks_create", tag = "webhooks", security(("bearer" = ["manage_webhooks"])), request_body = NewWebhook,
    responses((status = 201, body = CreatedWebhook), Errors))]
#[post("/webhooks")]
pub async fn create(
    auth: Authorized<ManageWebhooks>,
    state: web::Data<AppState>,
    Body(b): Body<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    let (endpoint, secret) = state
        .store()
        .admin()
        .create_webhook(
            auth.tenant_id,
            auth.acting(),
            NewEndpoint {
                url: b.url,
                description: b.description,
                events: b.events,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(CreatedWebhook {
        webhook: endpoint.into(),
        secret: secret.expose().to_string(),
    }))
}

/// One endpoint.
#[utoipa::path(operation_id = "webhooks_get_one", tag = "webhooks", security(("bearer" = ["manage_webhooks"])), responses((status = 200, body = WebhookView), Errors))]
#[get("/webhooks/{webhook_id}")]
pub async fn get_one(
    auth: Authorized<ManageWebhooks>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let e = state
        .store()
        .admin()
        .webhook(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(e)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Changes an endpoint (only the fields given).
#[utoipa::path(operation_id = "webhooks_update", tag = "webhooks", security(("bearer" = ["manage_webhooks"])), request_body = WebhookChange,
    responses((status = 200, body = WebhookView), Errors))]
#[patch("/webhooks/{webhook_id}")]
pub async fn update(
    auth: Authorized<ManageWebhooks>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(b): Body<WebhookChange>,
) -> Result<HttpResponse, ApiError> {
    let e = state
        .store()
        .admin()
        .update_webhook(
            auth.tenant_id,
            auth.acting(),
            path.into_inner(),
            EndpointChange {
                url: b.url,
                description: b.description,
                events: b.events,
                enabled: b.enabled,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(e)))
}

/// Deletes an endpoint; what still waited for it is dead-lettered.
#[utoipa::path(operation_id = "webhooks_delete", tag = "webhooks", security(("bearer" = ["manage_webhooks"])), responses((status = 204), Errors))]
#[delete("/webhooks/{webhook_id}")]
pub async fn remove(
    auth: Authorized<ManageWebhooks>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .store()
        .admin()
        .delete_webhook(auth.tenant_id, auth.acting(), path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    /// 1 for the first attempt.
    pub n: i32,
    pub started_at: DateTime<Utc>,
    /// Absent while it runs, and for good if its worker stopped during it (the delivery
    /// is then tried again).
    pub finished_at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    /// The `webhook-id` header, the same on every attempt.
    pub message_id: String,
    pub webhook_id: Uuid,
    pub event: String,
    /// The message body, exactly as sent.
    pub body: String,
    /// `pending`, `delivered` or `dead` (the dead letters).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempt_log: Vec<AttemptView>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            message_id: d.message_id(),
            id: d.id,
            webhook_id: d.endpoint_id,
            event: d.event,
            body: d.body,
            status: d.status.as_str().to_string(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            finished_at: d.finished_at,
            attempt_log: d
                .attempt_log
                .into_iter()
                .map(|a: Attempt| AttemptView {
                    n: a.n,
                    started_at: a.started_at,
                    finished_at: a.finished_at,
                    status_code: a.status_code,
                    error: a.error,
                })
                .collect(),
        }
    }
}

/// Queues a `webhook.test` message to this endpoint; its delivery is in the answer and in
/// the endpoint's deliveries.
#[utoipa::path(operation_id = "webhooks_test", tag = "webhooks", security(("bearer" = ["manage_webhooks"])), responses((status = 202, body = DeliveryView), Errors))]
#[post("/webhooks/{webhook_id}/test")]
pub async fn test(
    auth: Authorized<ManageWebhooks>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let d = state
        .store()
        .admin()
        .test_webhook(auth.tenant_id, auth.acting(), path.into_inner())
        .await?;
    Ok(HttpResponse::Accepted().json(DeliveryView::from(d)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `dead` (the dead letters).
    pub status: Option<String>,
    /// Only deliveries older than this one (the previous page's `next_before`).
    pub before: Option<Uuid>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryPage {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<Uuid>,
}

/// An endpoint's deliveries with their attempts, newest first.
#[utoipa::path(operation_id = "webhooks_deliveries", tag = "webhooks", security(("bearer" = ["manage_webhooks"])), params(DeliveryQuery),
    responses((status = 200, body = DeliveryPage), Errors))]
#[get("/webhooks/{webhook_id}/deliveries")]
pub async fn deliveries(
    auth: Authorized<ManageWebhooks>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Query(q): Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    if q.limit.is_some_and(|l| !(1..=200).contains(&l)) {
        return Err(ApiError::bad_request("invalid_query", "limit: 1 to 200"));
    }
    let (page, more) = state
        .store()
        .admin()
        .webhook_deliveries(
            auth.tenant_id,
            path.into_inner(),
            DeliveryFilter {
                status: word("status", q.status.as_deref())?,
                before: q.before,
                limit: q.limit.unwrap_or(50),
            },
        )
        .await?;
    let next = more.then(|| page.last().map(|d| d.id)).flatten();
    Ok(HttpResponse::Ok().json(DeliveryPage {
        deliveries: page.into_iter().map(DeliveryView::from).collect(),
        next_before: next,
    }))
}
