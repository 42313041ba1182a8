//! Webhook endpoints as administrators manage them. Each change is a ledger record in the
//! transaction that makes it; the ledger names the endpoint's host and a SHA-256 of its
//! URL, not the URL itself (receivers often carry a secret in the path).

use charter_core::keys;
use charter_core::secret::Secret;
use charter_core::status::DeliveryStatus;
use charter_core::tenant::Acting;
use charter_core::webhook::target::{Targets, check_url};
use charter_core::webhook::{Event, message, signature};
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    DELIVERY_COLUMNS, Delivery, ENDPOINT_COLUMNS, Endpoint, SECRET_CONTEXT, delivery_from_row,
    endpoint_from_row,
};
use crate::admin::{ADMINS, entry};
use crate::engine::require_roles;
use crate::{Result, StoreError, TenantTx};

/// A new endpoint, as asked for.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
}

/// A change to an endpoint: only what is set changes.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Which deliveries to list: newest first, in keyset pages.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    /// Only deliveries older than this one (the previous page's last id).
    pub before: Option<Uuid>,
    pub limit: u32,
}

fn check_events(events: &[String]) -> Result<Vec<String>> {
    if events.is_empty() {
        return Err(StoreError::Invalid(format!(
            "events: at least one of {}",
            Event::names()
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let ev = Event::parse(e).ok_or_else(|| {
            StoreError::Invalid(format!(
                "events: `{e}` is not an event; the events are {}",
                Event::names()
            ))
        })?;
        if !out.iter().any(|x| x == ev.as_str()) {
            out.push(ev.as_str().to_string());
        }
    }
    Ok(out)
}

fn check_description(d: &str) -> Result<String> {
    let d = d.trim();
    if d.chars().count() > 500 || d.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "description: at most 500 characters, no control characters".into(),
        ));
    }
    Ok(d.to_string())
}

fn checked_url(url: &str, targets: Targets) -> Result<String> {
    check_url(url, targets)
        .map(|u| u.to_string())
        .map_err(|e| StoreError::Invalid(format!("url: {e}")))
}

/// What the ledger says of a URL: its host and a digest of the whole.
fn url_facts(url: &str) -> Value {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    json!({"host": host, "url_sha256": hex::encode(Sha256::digest(url.as_bytes()))})
}

async fn endpoint_for_update(tx: &TenantTx, id: Uuid) -> Result<Endpoint> {
    let row = tx
        .one(
            &format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
                 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE"
            ),
            vec![tx.tenant_id().into(), id.into()],
        )
        .await?
        .ok_or(StoreError::NotFound("webhook"))?;
    endpoint_from_row(&row)
}

impl crate::handles::Admin<'_> {
    /// The tenant's endpoints (deleted ones are gone from the list; their deliveries stay).
    pub async fn webhooks(self, tenant: Uuid) -> Result<Vec<Endpoint>> {
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                &format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
                     WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
                ),
                vec![tenant.into()],
            )
            .await?;
        tx.rollback().await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    pub async fn webhook(self, tenant: Uuid, id: Uuid) -> Result<Endpoint> {
        let tx = self.tenant_tx(tenant).await?;
        let row = tx
            .one(
                &format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
                     WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
                ),
                vec![tenant.into(), id.into()],
            )
            .await?
            .ok_or(StoreError::NotFound("webhook"))?;
        tx.rollback().await?;
        endpoint_from_row(&row)
    }

    /// Creates an endpoint; returns it with its signing secret (`whsec_…`), shown only now.
    pub async fn create_webhook(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        new: NewEndpoint,
    ) -> Result<(Endpoint, Secret<String>)> {
        let by: Acting = by.into();
        let url = checked_url(&new.url, self.webhook_targets())?;
        let description = check_description(&new.description)?;
        let events = check_events(&new.events)?;
        let secret = signature::generate().map_err(|e| StoreError::Internal(e.to_string()))?;
        let id = Uuid::now_v7();
        let sealed = keys::seal_secret(
            self.master_key(),
            SECRET_CONTEXT,
            &tenant.to_string(),
            &id.to_string(),
            &secret,
        )
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        let fingerprint = self.master_key().fingerprint();
        let shown = Secret::new(signature::display(&secret).to_string());
        let (_, endpoint) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    let row = tx
                        .one(
                            &format!(
                                "INSERT INTO webhook_endpoints (tenant_id, id, url, description, events,
                                     secret_sealed, master_fingerprint, created_by)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {ENDPOINT_COLUMNS}"
                            ),
                            vec![
                                tx.tenant_id().into(),
                                id.into(),
                                url.clone().into(),
                                description.clone().into(),
                                events.clone().into(),
                                sealed.into(),
                                fingerprint.into(),
                                by.principal.into(),
                            ],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("webhook"))?;
                    let mut payload = url_facts(&url);
                    payload["webhook_id"] = json!(id);
                    payload["events"] = json!(events);
                    payload["description"] = json!(description);
                    let e = entry("webhook.created", &by, Some(format!("webhook:{id}")), payload);
                    Ok((e, endpoint_from_row(&row)?))
                })
            })
            .await?;
        Ok((endpoint, shown))
    }

    /// Changes an endpoint's URL, description, events or whether it is enabled.
    pub async fn update_webhook(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        id: Uuid,
        change: EndpointChange,
    ) -> Result<Endpoint> {
        let by: Acting = by.into();
        if change.url.is_none()
            && change.description.is_none()
            && change.events.is_none()
            && change.enabled.is_none()
        {
            return Err(StoreError::Invalid(
                "nothing to change: give url, description, events or enabled".into(),
            ));
        }
        let url = change
            .url
            .as_deref()
            .map(|u| checked_url(u, self.webhook_targets()))
            .transpose()?;
        let description = change
            .description
            .as_deref()
            .map(check_description)
            .transpose()?;
        let events = change.events.as_deref().map(check_events).transpose()?;
        let enabled = change.enabled;
        let (_, endpoint) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    endpoint_for_update(tx, id).await?;
                    let row = tx
                        .one(
                            &format!(
                                "UPDATE webhook_endpoints SET url = COALESCE($3, url),
                                     description = COALESCE($4, description), events = COALESCE($5, events),
                                     enabled = COALESCE($6, enabled), updated_at = now()
                                 WHERE tenant_id = $1 AND id = $2 RETURNING {ENDPOINT_COLUMNS}"
                            ),
                            vec![
                                tx.tenant_id().into(),
                                id.into(),
                                url.clone().into(),
                                description.clone().into(),
                                events.clone().into(),
                                enabled.into(),
                            ],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("webhook"))?;
                    let mut changes = json!({});
                    if let Some(u) = &url {
                        changes["url"] = url_facts(u);
                    }
                    if let Some(d) = &description {
                        changes["description"] = json!(d);
                    }
                    if let Some(ev) = &events {
                        changes["events"] = json!(ev);
                    }
                    if let Some(en) = enabled {
                        changes["enabled"] = json!(en);
                    }
                    let e = entry(
                        "webhook.updated",
                        &by,
                        Some(format!("webhook:{id}")),
                        json!({"webhook_id": id, "changes": changes}),
                    );
                    Ok((e, endpoint_from_row(&row)?))
                })
            })
            .await?;
        Ok(endpoint)
    }

    /// Deletes an endpoint: nothing more is sent to it, and what still waited for it is
    /// dead-lettered. Its deliveries stay listed.
    pub async fn delete_webhook(self, tenant: Uuid, by: impl Into<Acting>, id: Uuid) -> Result<()> {
        let by: Acting = by.into();
        self.append_with(tenant, move |tx| {
            Box::pin(async move {
                require_roles(tx, &by, ADMINS).await?;
                let endpoint = endpoint_for_update(tx, id).await?;
                tx.exec(
                    "UPDATE webhook_endpoints SET deleted_at = now(), enabled = false, updated_at = now()
                     WHERE tenant_id = $1 AND id = $2",
                    vec![tx.tenant_id().into(), id.into()],
                )
                .await?;
                let dropped = tx
                    .exec(
                        "UPDATE webhook_deliveries SET status = 'dead', next_attempt_at = NULL,
                             finished_at = now(), last_error = 'the endpoint was deleted'
                         WHERE tenant_id = $1 AND endpoint_id = $2 AND status = 'pending'",
                        vec![tx.tenant_id().into(), id.into()],
                    )
                    .await?;
                let mut payload = url_facts(&endpoint.url);
                payload["webhook_id"] = json!(id);
                payload["pending_dropped"] = json!(dropped);
                let e = entry("webhook.deleted", &by, Some(format!("webhook:{id}")), payload);
                Ok((e, ()))
            })
        })
        .await?;
        Ok(())
    }

    /// Queues a `webhook.test` message to one endpoint (whatever it subscribes to); the
    /// worker sends it like any other.
    pub async fn test_webhook(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        id: Uuid,
    ) -> Result<Delivery> {
        let by: Acting = by.into();
        let tx = self.tenant_tx(tenant).await?;
        require_roles(&tx, &by, ADMINS).await?;
        endpoint_for_update(&tx, id).await?;
        let delivery = Uuid::now_v7();
        let body = message(
            Event::Test.as_str(),
            Utc::now(),
            &json!({"webhook_id": id, "requested_by": by.principal,
                    "message": "A test message from Charter: this endpoint receives its notifications."}),
        );
        let row = tx
            .one(
                &format!(
                    "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event, body, next_attempt_at)
                     VALUES ($1, $2, $3, $4, $5, now()) RETURNING {DELIVERY_COLUMNS}"
                ),
                vec![
                    tenant.into(),
                    delivery.into(),
                    id.into(),
                    Event::Test.as_str().into(),
                    body.into(),
                ],
            )
            .await?
            .ok_or(StoreError::NotFound("webhook"))?;
        tx.commit().await?;
        delivery_from_row(&row)
    }

    /// A page of an endpoint's deliveries with their attempts, newest first; the `bool`
    /// says whether more follow. Dead letters are those with status `dead`.
    pub async fn webhook_deliveries(
        self,
        tenant: Uuid,
        endpoint: Uuid,
        f: DeliveryFilter,
    ) -> Result<(Vec<Delivery>, bool)> {
        let limit = i64::from(f.limit.clamp(1, 200));
        let tx = self.tenant_tx(tenant).await?;
        if !tx.exists("webhook_endpoints", endpoint).await? {
            return Err(StoreError::NotFound("webhook"));
        }
        let rows = tx
            .all(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                     WHERE tenant_id = $1 AND endpoint_id = $2 AND ($3::text IS NULL OR status = $3)
                       AND ($4::uuid IS NULL OR (created_at, id) <
                            (SELECT created_at, id FROM webhook_deliveries WHERE tenant_id = $1 AND id = $4))
                     ORDER BY created_at DESC, id DESC LIMIT $5"
                ),
                vec![
                    tenant.into(),
                    endpoint.into(),
                    f.status.map(DeliveryStatus::as_str).into(),
                    f.before.into(),
                    (limit + 1).into(),
                ],
            )
            .await?;
        let mut out: Vec<Delivery> = rows.iter().map(delivery_from_row).collect::<Result<_>>()?;
        let more = out.len() as i64 > limit;
        out.truncate(limit as usize);
        let ids: Vec<Uuid> = out.iter().map(|d| d.id).collect();
        let attempts = tx
            .all(
                "SELECT delivery_id, n, started_at, finished_at, status_code, error FROM webhook_attempts
                 WHERE tenant_id = $1 AND delivery_id = ANY($2) ORDER BY delivery_id, n",
                vec![tenant.into(), ids.into()],
            )
            .await?;
        tx.rollback().await?;
        for r in &attempts {
            let id: Uuid = r.try_get("", "delivery_id")?;
            if let Some(d) = out.iter_mut().find(|d| d.id == id) {
                d.attempt_log.push(super::Attempt {
                    n: r.try_get("", "n")?,
                    started_at: r.try_get("", "started_at")?,
                    finished_at: r.try_get("", "finished_at")?,
                    status_code: r.try_get("", "status_code")?,
                    error: r.try_get("", "error")?,
                });
            }
        }
        Ok((out, more))
    }
}
