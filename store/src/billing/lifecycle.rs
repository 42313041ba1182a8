//! The worker's part of billing: recording trials that ended (enforcement does not wait
//! for it: the decision's read compares the trial's end with its own clock) and reporting
//! metered usage to Stripe.

use charter_core::status::SubscriptionStatus;
use charter_core::webhook::Event;
use chrono::NaiveDate;
use serde_json::json;
use uuid::Uuid;

use super::read_state;
use crate::{Result, StoreError};

/// Marker: the trial was extended (or paid) between the listing and the lock.
const STILL_LIVE: &str = "trial: no longer ended";

impl crate::handles::Billing<'_> {
    /// Moves trials whose end has passed to `trial_expired`, each with a
    /// `subscription.changed` record and a `trial.ended` notification. Returns how many.
    pub async fn expire_trials(self) -> Result<usize> {
        if !self.billing_setup().enabled() {
            return Ok(0);
        }
        let rows = self
            .platform_all("SELECT tenant_id FROM charter_trials_ended()", vec![])
            .await?;
        let mut n = 0;
        for r in &rows {
            let tenant: Uuid = r.try_get("", "tenant_id")?;
            match self.expire_trial(tenant).await {
                Ok(()) => n += 1,
                Err(StoreError::Internal(m)) if m == STILL_LIVE => {}
                Err(e) => {
                    tracing::warn!(%tenant, error = %e, "could not record the end of a trial")
                }
            }
        }
        Ok(n)
    }

    async fn expire_trial(self, tenant: Uuid) -> Result<()> {
        let setup = self.billing_setup();
        self.append_with(tenant, move |tx| {
            Box::pin(async move {
                let before = setup.overview(&read_state(tx).await?)?;
                if before.status != SubscriptionStatus::TrialExpired {
                    return Err(StoreError::Internal(STILL_LIVE.into()));
                }
                tx.exec(
                    "UPDATE tenants SET subscription_status = 'trial_expired', updated_at = now()
                     WHERE id = $1 AND subscription_status = 'trialing'",
                    vec![tx.tenant_id().into()],
                )
                .await?;
                crate::notifications::enqueue(
                    tx,
                    Event::TrialEnded,
                    None,
                    json!({"trial_ends_at": before.trial_ends_at, "plan": before.plan}),
                )
                .await?;
                let e = super::changed(
                    "worker",
                    &before,
                    json!({"status": "trial_expired", "plan": before.plan}),
                );
                Ok((e, ()))
            })
        })
        .await?;
        tracing::info!(%tenant, "trial ended: agents' actions are blocked until a plan is chosen");
        Ok(())
    }

    /// Reports decisions not yet reported, for tenants on a metered plan, as Stripe meter
    /// events. The count a report is for is stored before it is sent, and the identifier
    /// names the tenant, month and that count: a report whose answer was lost is sent again
    /// unchanged, and Stripe counts it once. Returns the decisions reported.
    pub async fn report_usage(self) -> Result<i64> {
        let setup = self.billing_setup();
        let Ok(api) = setup.stripe() else {
            return Ok(0);
        };
        let metered: Vec<String> = setup.plans().metered().map(|p| p.name.clone()).collect();
        if metered.is_empty() {
            return Ok(0);
        }
        let rows = self
            .platform_all(
                "SELECT tenant_id, month FROM charter_usage_unreported($1)",
                vec![metered.into()],
            )
            .await?;
        let mut total = 0;
        for r in &rows {
            let tenant: Uuid = r.try_get("", "tenant_id")?;
            let month: NaiveDate = r.try_get("", "month")?;
            // Fix the count this report is for before sending it: a report whose answer
            // was lost is sent again with the same count and identifier.
            let tx = self.tenant_tx(tenant).await?;
            let row = tx
                .one(
                    "UPDATE decision_usage u SET reporting = COALESCE(u.reporting, u.decisions)
                     FROM tenants t
                     WHERE u.tenant_id = $1 AND u.month = $2 AND t.id = u.tenant_id
                     RETURNING u.reporting, u.reported, t.plan, t.stripe_customer_id",
                    vec![tenant.into(), month.into()],
                )
                .await?;
            tx.commit().await?;
            let Some(row) = row else { continue };
            let target: i64 = row.try_get("", "reporting")?;
            let reported: i64 = row.try_get("", "reported")?;
            let plan: String = row.try_get("", "plan")?;
            let customer: Option<String> = row.try_get("", "stripe_customer_id")?;
            let (Some(customer), Some(meter)) = (
                customer,
                setup.plans().get(&plan).and_then(|p| p.meter.clone()),
            ) else {
                continue;
            };
            if target <= reported {
                continue;
            }
            let identifier = format!("charter-{tenant}-{month}-{target}");
            if let Err(e) = api
                .meter_event(&meter, &customer, target - reported, &identifier)
                .await
            {
                tracing::warn!(%tenant, error = %e, "usage not reported to Stripe; sent again next run");
                continue;
            }
            let tx = self.tenant_tx(tenant).await?;
            tx.exec(
                "UPDATE decision_usage SET reported = GREATEST(reported, $3), reporting = NULL
                 WHERE tenant_id = $1 AND month = $2 AND reporting = $3",
                vec![tenant.into(), month.into(), target.into()],
            )
            .await?;
            tx.commit().await?;
            total += target - reported;
        }
        Ok(total)
    }
}
