//! What support does by hand (`charter tenant trial`, `charter tenant plan`): each a
//! `subscription.changed` record by `operator`.

use charter_core::billing::plans;
use charter_core::status::SubscriptionStatus;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Overview, changed, read_state, usage_billable_from_now};
use crate::{Result, StoreError};

impl crate::handles::Billing<'_> {
    /// Operators: sets when the trial ends (extends or shortens it; the tenant trials
    /// again if its trial had expired). A `subscription.changed` record.
    pub async fn set_trial_end(self, tenant: Uuid, ends_at: DateTime<Utc>) -> Result<Overview> {
        let setup = self.billing_setup();
        self.append_with(tenant, move |tx| {
            Box::pin(async move {
                let before = setup.overview(&read_state(tx).await?)?;
                if !matches!(
                    before.status,
                    SubscriptionStatus::Trialing | SubscriptionStatus::TrialExpired
                ) && setup.enabled()
                {
                    return Err(StoreError::Conflict(format!(
                        "the tenant is {}, not on a trial",
                        before.status
                    )));
                }
                tx.exec(
                    "UPDATE tenants SET trial_ends_at = $2, subscription_status = 'trialing',
                         updated_at = now() WHERE id = $1",
                    vec![tx.tenant_id().into(), ends_at.into()],
                )
                .await?;
                let e = changed(
                    "operator",
                    &before,
                    json!({"status": "trialing", "plan": before.plan, "trial_ends_at": ends_at}),
                );
                Ok((e, ()))
            })
        })
        .await?;
        self.overview(tenant).await
    }

    /// Operators: puts the tenant on `plan` by hand (invoiced customers): `active`, or
    /// `unlimited` for the unlimited plan. A `subscription.changed` record.
    pub async fn set_plan(self, tenant: Uuid, plan: &str) -> Result<Overview> {
        let setup = self.billing_setup();
        if plan == plans::TRIAL {
            return Err(StoreError::Invalid(
                "plan: `trial` is not set by hand; use `tenant trial --ends-at` to change a trial"
                    .into(),
            ));
        }
        if setup.plans().get(plan).is_none() {
            let names: Vec<&str> = setup
                .plans()
                .all()
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            return Err(StoreError::Invalid(format!(
                "plan: no plan `{plan}` (plans: {})",
                names.join(", ")
            )));
        }
        let status = if plan == plans::UNLIMITED {
            SubscriptionStatus::Unlimited
        } else {
            SubscriptionStatus::Active
        };
        let plan = plan.to_string();
        self.append_with(tenant, move |tx| {
            Box::pin(async move {
                let before = setup.overview(&read_state(tx).await?)?;
                tx.exec(
                    // The hand-set plan stands until a new subscription: Stripe's events
                    // about the one on record (or older ones) no longer apply.
                    "UPDATE tenants SET plan = $2, subscription_status = $3, past_due_since = NULL,
                         stripe_subscription_id = NULL,
                         stripe_event_at = GREATEST(stripe_event_at, now()), updated_at = now()
                     WHERE id = $1",
                    vec![
                        tx.tenant_id().into(),
                        plan.clone().into(),
                        status.as_str().into(),
                    ],
                )
                .await?;
                if before.plan != plan {
                    usage_billable_from_now(tx).await?;
                }
                let e = changed(
                    "operator",
                    &before,
                    json!({"status": status.as_str(), "plan": plan}),
                );
                Ok((e, ()))
            })
        })
        .await?;
        self.overview(tenant).await
    }
}
