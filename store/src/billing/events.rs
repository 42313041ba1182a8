//! Stripe's webhook events, applied once each and in order.
//!
//! The event's id is stored with the tenant (`stripe_events`) in the transaction that
//! applies it, so a replay finds it and changes nothing. Stripe does not promise order:
//! the `created` time of the newest event applied is kept, and an older event is stored
//! as seen but never overwrites a newer state. A change of state is a `subscription.changed`
//! record carrying the event's id.

use charter_core::billing::stripe_event::{BillingState, StripeEvent};
use charter_core::ledger::Entry;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::read_state;
use crate::error::state;
use crate::{Result, StoreError, TenantTx};

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The tenant's subscription changed (recorded at this seq).
    Changed { seq: u64 },
    /// Received, nothing to change (or older than the state in force).
    Unchanged,
    /// Seen before: nothing done.
    Replay,
    /// An event type Charter does not handle, or for no tenant of this server.
    Ignored,
}

/// Why a transaction ended without a record (it is rolled back; see [`apply`]).
const UNCHANGED: &str = "stripe event: nothing to change";

async fn first_time(tx: &TenantTx, e: &StripeEvent, applied: bool) -> Result<bool> {
    let n = tx
        .exec(
            "INSERT INTO stripe_events (tenant_id, event_id, type, created, applied)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            vec![
                tx.tenant_id().into(),
                e.id.clone().into(),
                e.kind.clone().into(),
                e.created.into(),
                applied.into(),
            ],
        )
        .await?;
    Ok(n > 0)
}

impl crate::handles::Billing<'_> {
    /// Applies a verified Stripe event (see the module's notes).
    pub async fn apply_stripe_event(self, event: StripeEvent) -> Result<Applied> {
        if !event.handled() {
            return Ok(Applied::Ignored);
        }
        let Some(tenant) = self.tenant_of(&event).await? else {
            tracing::info!(event = %event.id, kind = %event.kind, "Stripe event for no tenant here; ignored");
            return Ok(Applied::Ignored);
        };
        let setup = self.billing_setup();
        let e = event.clone();
        let outcome = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let r = read_state(tx).await?;
                    let before = setup.overview(&r)?;
                    let current = BillingState {
                        status: state(&r, "subscription_status")?,
                        plan: before.plan.clone(),
                        customer: before.customer.clone(),
                        subscription: before.subscription.clone(),
                        past_due_since: before.past_due_since,
                        current_period_end: before.current_period_end,
                    };
                    let newest: Option<DateTime<Utc>> = r.try_get("", "stripe_event_at")?;
                    let stale = newest.is_some_and(|n| e.created < n);
                    let next = e.apply(&current, setup.plans());
                    if stale || next == current {
                        return Err(StoreError::Internal(UNCHANGED.into()));
                    }
                    if !first_time(tx, &e, true).await? {
                        return Err(StoreError::Replay);
                    }
                    tx.exec(
                        "UPDATE tenants SET subscription_status = $2, plan = $3,
                             stripe_customer_id = $4, stripe_subscription_id = $5,
                             past_due_since = $6, current_period_end = $7,
                             stripe_event_at = GREATEST(stripe_event_at, $8), updated_at = now()
                         WHERE id = $1",
                        vec![
                            tx.tenant_id().into(),
                            next.status.as_str().into(),
                            next.plan.clone().into(),
                            next.customer.clone().into(),
                            next.subscription.clone().into(),
                            next.past_due_since.into(),
                            next.current_period_end.into(),
                            e.created.into(),
                        ],
                    )
                    .await?;
                    if next.plan != current.plan {
                        super::usage_billable_from_now(tx).await?;
                    }
                    let entry: Entry = super::changed(
                        "stripe",
                        &before,
                        json!({"status": next.status.as_str(), "plan": next.plan,
                               "stripe_event_id": e.id, "stripe_event_type": e.kind,
                               "stripe_subscription_id": next.subscription}),
                    );
                    Ok((entry, ()))
                })
            })
            .await;
        match outcome {
            Ok((receipt, ())) => {
                tracing::info!(%tenant, event = %event.id, kind = %event.kind, "subscription changed");
                Ok(Applied::Changed { seq: receipt.seq })
            }
            Err(StoreError::Replay) => Ok(Applied::Replay),
            Err(StoreError::Internal(m)) if m == UNCHANGED => {
                // Nothing to record in the ledger; remember the event so a replay is known.
                let tx = self.tenant_tx(tenant).await?;
                let fresh = first_time(&tx, &event, false).await?;
                tx.commit().await?;
                Ok(if fresh {
                    Applied::Unchanged
                } else {
                    Applied::Replay
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The tenant an event is about: the one whose Stripe customer it names.
    async fn tenant_of(self, event: &StripeEvent) -> Result<Option<Uuid>> {
        if let Some(customer) = event.customer() {
            let row = self
                .platform_one(
                    "SELECT charter_tenant_by_stripe_customer($1) AS id",
                    vec![customer.to_string().into()],
                )
                .await?;
            if let Some(id) = row
                .map(|r| r.try_get::<Option<Uuid>>("", "id"))
                .transpose()?
                .flatten()
            {
                return Ok(Some(id));
            }
        }
        // Only customers Charter created (and stored before any checkout) name a tenant.
        Ok(None)
    }
}
