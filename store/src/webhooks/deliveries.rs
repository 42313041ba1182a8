//! The worker's side of webhooks: fan events out of the outbox to subscribed endpoints,
//! claim due deliveries, record each attempt's result, retry on the schedule, dead-letter.
//!
//! A claim counts the attempt and moves the delivery's due time past the attempt's lease,
//! so a worker that dies during an attempt loses nothing: when the lease lapses the
//! delivery is due again and goes out with the same `webhook-id`. Delivery is therefore at
//! least once; receivers drop repeats by that id, as the specification says.

use std::time::Duration;

use charter_core::keys;
use charter_core::webhook::retry::delay_after;
use charter_core::webhook::{Event, message};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::SECRET_CONTEXT;
use crate::{Result, StoreError};

/// Events fanned out per transaction.
const FAN_OUT_BATCH: i64 = 500;

/// A delivery claimed for one attempt.
pub struct Claimed {
    pub tenant_id: Uuid,
    pub delivery_id: Uuid,
    /// The attempt's number (1 for the first).
    pub attempt: i32,
    pub url: String,
    pub secret: Zeroizing<Vec<u8>>,
    pub body: String,
}

impl Claimed {
    /// The `webhook-id` header: the same on every attempt.
    pub fn message_id(&self) -> String {
        charter_core::webhook::message_id(self.delivery_id)
    }
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum AttemptResult {
    /// The receiver answered with this status (2xx is delivered).
    Answered(u16),
    /// No answer: refused, timed out, an address not allowed, …
    Failed(String),
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    RetryAt(DateTime<Utc>),
    Dead,
    /// The attempt's lease had lapsed and a newer attempt owns the delivery.
    Superseded,
}

#[derive(Serialize)]
struct NewDelivery {
    id: Uuid,
    endpoint_id: Uuid,
    notification_id: Uuid,
    event: String,
    body: String,
}

impl crate::handles::Worker<'_> {
    /// Tenants with events to fan out or deliveries due.
    pub async fn webhook_tenants(self) -> Result<Vec<Uuid>> {
        let rows = self
            .platform_all("SELECT tenant_id FROM charter_webhook_tenants()", vec![])
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get("", "tenant_id")?))
            .collect()
    }

    /// Turns undispatched outbox events into one delivery per subscribed endpoint; returns
    /// how many events were dispatched. Several workers may run it at once (rows are
    /// claimed with `SKIP LOCKED`).
    pub async fn dispatch_notifications(self, tenant: Uuid) -> Result<usize> {
        let tx = self.tenant_tx(tenant).await?;
        let events = tx
            .all(
                "SELECT id, kind, payload, created_at FROM notifications
                 WHERE tenant_id = $1 AND delivered_at IS NULL
                 ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
                vec![tenant.into(), FAN_OUT_BATCH.into()],
            )
            .await?;
        if events.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let endpoints = tx
            .all(
                "SELECT id, events FROM webhook_endpoints
                 WHERE tenant_id = $1 AND enabled AND deleted_at IS NULL",
                vec![tenant.into()],
            )
            .await?;
        let endpoints: Vec<(Uuid, Vec<String>)> = endpoints
            .iter()
            .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "events")?)))
            .collect::<Result<_>>()?;
        let mut deliveries = Vec::new();
        let mut ids = Vec::with_capacity(events.len());
        for r in &events {
            let id: Uuid = r.try_get("", "id")?;
            let kind: String = r.try_get("", "kind")?;
            let payload: Value = r.try_get("", "payload")?;
            let at: DateTime<Utc> = r.try_get("", "created_at")?;
            ids.push(id);
            let body = message(&kind, at, &payload);
            for (endpoint, subscribed) in &endpoints {
                if subscribed.contains(&kind) {
                    deliveries.push(NewDelivery {
                        id: Uuid::now_v7(),
                        endpoint_id: *endpoint,
                        notification_id: id,
                        event: kind.clone(),
                        body: body.clone(),
                    });
                }
            }
        }
        if !deliveries.is_empty() {
            let rows = serde_json::to_value(&deliveries)
                .map_err(|e| StoreError::Internal(format!("deliveries: {e}")))?;
            tx.exec(
                "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, notification_id, event, body,
                                                 next_attempt_at)
                 SELECT $1, x.id, x.endpoint_id, x.notification_id, x.event, x.body, now()
                 FROM jsonb_to_recordset($2::jsonb)
                      AS x(id uuid, endpoint_id uuid, notification_id uuid, event text, body text)
                 ON CONFLICT (tenant_id, endpoint_id, notification_id) DO NOTHING",
                vec![tenant.into(), rows.into()],
            )
            .await?;
        }
        tx.exec(
            "UPDATE notifications SET delivered_at = now() WHERE tenant_id = $1 AND id = ANY($2)",
            vec![tenant.into(), ids.clone().into()],
        )
        .await?;
        tx.commit().await?;
        Ok(ids.len())
    }

    /// Claims up to `limit` due deliveries of enabled endpoints for one attempt each, for
    /// `lease` (after which an unfinished attempt's delivery is due again).
    pub async fn claim_deliveries(
        self,
        tenant: Uuid,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<Claimed>> {
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                "WITH due AS (
                     SELECT d.id FROM webhook_deliveries d
                     JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
                     WHERE d.tenant_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= now()
                       AND e.enabled AND e.deleted_at IS NULL
                     ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED
                 ), claimed AS (
                     UPDATE webhook_deliveries d
                     SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $3)
                     FROM due WHERE d.tenant_id = $1 AND d.id = due.id
                     RETURNING d.id, d.attempts, d.body, d.endpoint_id
                 ), attempts AS (
                     INSERT INTO webhook_attempts (tenant_id, delivery_id, n)
                     SELECT $1, c.id, c.attempts FROM claimed c
                 )
                 SELECT c.id, c.attempts, c.body, e.id AS endpoint_id, e.url, e.secret_sealed
                 FROM claimed c JOIN webhook_endpoints e ON e.tenant_id = $1 AND e.id = c.endpoint_id",
                vec![tenant.into(), i64::from(limit).into(), lease.as_secs_f64().into()],
            )
            .await?;
        tx.commit().await?;
        let tenant_text = tenant.to_string();
        rows.iter()
            .map(|r| {
                let endpoint: Uuid = r.try_get("", "endpoint_id")?;
                let sealed: Vec<u8> = r.try_get("", "secret_sealed")?;
                let secret = keys::open_secret(
                    self.master_key(),
                    SECRET_CONTEXT,
                    &tenant_text,
                    &endpoint.to_string(),
                    &sealed,
                )
                .map_err(|e| StoreError::Internal(format!("webhook secret: {e}")))?;
                Ok(Claimed {
                    tenant_id: tenant,
                    delivery_id: r.try_get("", "id")?,
                    attempt: r.try_get("", "attempts")?,
                    url: r.try_get("", "url")?,
                    secret,
                    body: r.try_get("", "body")?,
                })
            })
            .collect()
    }

    /// Records how attempt `c` ended and what follows: delivered, the next attempt's
    /// time (`jitter` in [0, 1) spreads it), or the dead letters after the last one.
    pub async fn finish_attempt(
        self,
        c: &Claimed,
        result: &AttemptResult,
        jitter: f64,
    ) -> Result<AfterAttempt> {
        let (code, error) = match result {
            AttemptResult::Answered(s) => (Some(i32::from(*s)), None),
            AttemptResult::Failed(e) => (None, Some(truncate(e, 500))),
        };
        let ok = code.is_some_and(|s| (200..300).contains(&s));
        let error =
            error.or_else(|| (!ok).then(|| format!("answered {}", code.unwrap_or_default())));
        let tx = self.tenant_tx(c.tenant_id).await?;
        tx.exec(
            "UPDATE webhook_attempts SET finished_at = now(), status_code = $4, error = $5
             WHERE tenant_id = $1 AND delivery_id = $2 AND n = $3",
            vec![
                c.tenant_id.into(),
                c.delivery_id.into(),
                c.attempt.into(),
                code.into(),
                (if ok { None } else { error.clone() }).into(),
            ],
        )
        .await?;
        let next = delay_after(c.attempt as u32, jitter);
        let after = if ok {
            AfterAttempt::Delivered
        } else {
            match next {
                Some(d) => AfterAttempt::RetryAt(
                    Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX),
                ),
                None => AfterAttempt::Dead,
            }
        };
        let (status, next_at) = match after {
            AfterAttempt::Delivered => ("delivered", None),
            AfterAttempt::RetryAt(t) => ("pending", Some(t)),
            _ => ("dead", None),
        };
        // A success counts whichever attempt it was; a failure moves the delivery only if
        // no newer attempt has taken it over.
        let moved = tx
            .exec(
                "UPDATE webhook_deliveries SET status = $4, next_attempt_at = $5, last_status = $6,
                     last_error = $7, finished_at = CASE WHEN $4 = 'pending' THEN NULL ELSE now() END
                 WHERE tenant_id = $1 AND id = $2 AND status = 'pending' AND ($8 OR attempts = $3)",
                vec![
                    c.tenant_id.into(),
                    c.delivery_id.into(),
                    c.attempt.into(),
                    status.into(),
                    next_at.into(),
                    code.into(),
                    (if ok { None } else { error }).into(),
                    ok.into(),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(if moved == 0 {
            AfterAttempt::Superseded
        } else {
            after
        })
    }

    /// Queues `trial.ending` for each tenant whose trial ends within `within`, once per end
    /// date; returns how many.
    /// Nothing while billing is off (no tenant is on a trial then).
    pub async fn announce_ending_trials(self, within: Duration) -> Result<usize> {
        if !self.billing_setup().enabled() {
            return Ok(0);
        }
        let rows = self
            .platform_all(
                "SELECT tenant_id, trial_ends_at FROM charter_trials_ending(make_interval(secs => $1))",
                vec![within.as_secs_f64().into()],
            )
            .await?;
        let mut n = 0;
        for r in &rows {
            let tenant: Uuid = r.try_get("", "tenant_id")?;
            let ends: DateTime<Utc> = r.try_get("", "trial_ends_at")?;
            let tx = self.tenant_tx(tenant).await?;
            let fresh = tx
                .exec(
                    "INSERT INTO trial_notices (tenant_id, trial_ends_at) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    vec![tenant.into(), ends.into()],
                )
                .await?;
            if fresh > 0 {
                let days_left = ((ends - Utc::now()).num_hours() as f64 / 24.0).ceil() as i64;
                crate::notifications::enqueue(
                    &tx,
                    Event::TrialEnding,
                    None,
                    json!({"trial_ends_at": ends, "days_left": days_left}),
                )
                .await?;
                n += 1;
            }
            tx.commit().await?;
        }
        Ok(n)
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
