//! Billing: the subscription state in Postgres (the source of truth for enforcement),
//! plans and their limits, Stripe Checkout and the Customer Portal, and the operators'
//! changes. Without Stripe settings billing is off and every tenant is `unlimited`.
//!
//! - [`stripe`] — the calls to Stripe (customer, Checkout Session, portal, meter events).
//! - [`events`] — Stripe's webhook events applied once each, in order.
//! - [`lifecycle`] — the worker's part: trials that ended, usage reported to Stripe.
//! - `operators` — support's changes: a trial's end, a plan set by hand.
//!
//! Enforcement itself rides the decision's one read (`engine::facts`): the tenant's
//! stored state, trial end and this month's decisions come with the other facts, and
//! [`BillingSetup`] turns them into the `Subscription` and `Quota` the engine checks.

pub mod events;
pub mod lifecycle;
mod operators;
pub mod stripe;

use charter_core::billing::Subscription;
use charter_core::billing::plans::{self, Plans};
use charter_core::code::Code;
use charter_core::config::Config;
use charter_core::engine::decide::Quota;
use charter_core::ledger::{Actor, Entry};
use charter_core::status::SubscriptionStatus;
use charter_core::tenant::{Acting, Role};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::QueryResult;
use serde_json::json;
use uuid::Uuid;

use crate::engine::require_roles;
use crate::error::state;
use crate::{Result, StoreError, TenantTx};
use stripe::{CheckoutRequest, StripeApi};

/// Billing as configured: Stripe (or none), the plans, the grace period.
pub struct BillingSetup {
    stripe: Option<StripeApi>,
    plans: Plans,
    grace: Duration,
}

impl BillingSetup {
    pub fn new(config: &Config) -> Result<BillingSetup> {
        Ok(BillingSetup {
            stripe: config.stripe.as_ref().map(StripeApi::new).transpose()?,
            plans: config.plans.clone(),
            grace: Duration::days(i64::from(config.past_due_grace_days)),
        })
    }

    pub fn enabled(&self) -> bool {
        self.stripe.is_some()
    }

    pub fn plans(&self) -> &Plans {
        &self.plans
    }

    /// What is enforced for a tenant's stored state (unlimited when billing is off).
    pub fn subscription(
        &self,
        status: SubscriptionStatus,
        trial_ends_at: Option<DateTime<Utc>>,
        past_due_since: Option<DateTime<Utc>>,
    ) -> Subscription {
        if !self.enabled() {
            return Subscription::unlimited();
        }
        Subscription {
            status,
            trial_ends_at,
            past_due_since,
            grace: self.grace,
        }
    }

    /// The monthly decision quota of `plan`, when billing is on and the plan has one.
    pub fn quota(&self, plan: &str, used: i64) -> Option<Quota> {
        let limit = self.limits(plan)?.decisions?;
        Some(Quota {
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
            used,
        })
    }

    /// The plan's limits, when billing is on (an unknown plan name, e.g. one removed from
    /// the configuration, limits nothing and is logged).
    fn limits(&self, plan: &str) -> Option<&plans::Plan> {
        if !self.enabled() {
            return None;
        }
        // A plan no longer configured limits nothing (said once per run at debug: this
        // is on every decision's path).
        let found = self.plans.get(plan);
        if found.is_none() {
            tracing::debug!(plan, "a tenant's plan is not configured; it is not limited");
        }
        found
    }

    pub(crate) fn stripe(&self) -> Result<&StripeApi> {
        self.stripe.as_ref().ok_or_else(|| {
            StoreError::Refused(
                Code::BillingOff,
                "billing is off on this server (no Stripe settings): every tenant is unlimited"
                    .into(),
            )
        })
    }
}

/// A tenant's billing, as people see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    pub enabled: bool,
    pub plan: String,
    /// The state in force now (a trial past its end is `trial_expired`).
    pub status: SubscriptionStatus,
    pub allows_actions: bool,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub trial_days_left: Option<i64>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub past_due_since: Option<DateTime<Utc>>,
    /// When a past-due tenant's agents stop acting.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// The tenant's Stripe customer and subscription on record.
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub usage: Usage,
}

/// This month's use against the plan's limits (`None`: unlimited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub month: NaiveDate,
    pub decisions: i64,
    pub decisions_limit: Option<u64>,
    pub agents: i64,
    pub agents_limit: Option<u64>,
}

const STATE: &str = "
    SELECT t.plan, t.subscription_status, t.trial_ends_at, t.past_due_since,
           t.current_period_end, t.stripe_customer_id, t.stripe_subscription_id,
           t.stripe_event_at, n.now, m.month, COALESCE(u.decisions, 0) AS decisions,
           (SELECT count(*) FROM agents a WHERE a.tenant_id = t.id) AS agents
    FROM tenants t
    CROSS JOIN (SELECT date_trunc('milliseconds', clock_timestamp()) AS now) n
    CROSS JOIN LATERAL (SELECT charter_usage_month(n.now) AS month) m
    LEFT JOIN decision_usage u ON u.tenant_id = t.id AND u.month = m.month
    WHERE t.id = $1";

async fn read_state(tx: &TenantTx) -> Result<QueryResult> {
    tx.one(STATE, vec![tx.tenant_id().into()])
        .await?
        .ok_or(StoreError::NotFound("tenant"))
}

impl BillingSetup {
    fn overview(&self, r: &QueryResult) -> Result<Overview> {
        let plan: String = r.try_get("", "plan")?;
        let stored: SubscriptionStatus = state(r, "subscription_status")?;
        let now: DateTime<Utc> = r.try_get("", "now")?;
        let past_due_since: Option<DateTime<Utc>> = r.try_get("", "past_due_since")?;
        let sub = self.subscription(stored, r.try_get("", "trial_ends_at")?, past_due_since);
        let limits = self.limits(&plan);
        let status = sub.status_at(now);
        Ok(Overview {
            enabled: self.enabled(),
            status,
            allows_actions: sub.allows_actions_at(now),
            trial_ends_at: sub.trial_ends_at,
            trial_days_left: sub.trial_days_left(now),
            current_period_end: r.try_get("", "current_period_end")?,
            past_due_since: sub.past_due_since,
            grace_ends_at: (status == SubscriptionStatus::PastDue)
                .then(|| sub.past_due_since.map(|s| s + self.grace))
                .flatten(),
            customer: r.try_get("", "stripe_customer_id")?,
            subscription: r.try_get("", "stripe_subscription_id")?,
            usage: Usage {
                month: r.try_get("", "month")?,
                decisions: r.try_get("", "decisions")?,
                decisions_limit: limits.and_then(|l| l.decisions),
                agents: r.try_get("", "agents")?,
                agents_limit: limits.and_then(|l| l.agents),
            },
            plan,
        })
    }
}

/// Refuses a new agent beyond the plan's count (in the agent's creating transaction).
pub(crate) async fn check_agent_limit(setup: &BillingSetup, tx: &TenantTx) -> Result<()> {
    if !setup.enabled() {
        return Ok(());
    }
    let o = setup.overview(&read_state(tx).await?)?;
    if let Some(limit) = o.usage.agents_limit
        && o.usage.agents >= i64::try_from(limit).unwrap_or(i64::MAX)
    {
        return Err(StoreError::Refused(
            Code::PlanLimit,
            format!(
                "the plan `{}` allows {limit} agents and the tenant has {}; delete one or \
                 choose a larger plan",
                o.plan, o.usage.agents
            ),
        ));
    }
    Ok(())
}

/// A `subscription.changed` record.
pub(crate) fn changed(by: &str, from: &Overview, to: serde_json::Value) -> Entry {
    Entry::new("subscription.changed", Actor::system()).payload(json!({
        "by": by,
        "from": {"status": from.status.as_str(), "plan": from.plan,
                 "trial_ends_at": from.trial_ends_at},
        "to": to,
    }))
}

impl crate::handles::Billing<'_> {
    /// The tenant's plan, state, trial, period and usage.
    pub async fn overview(self, tenant: Uuid) -> Result<Overview> {
        let setup = self.billing_setup();
        self.read(tenant, move |tx| {
            Box::pin(async move { setup.overview(&read_state(tx).await?) })
        })
        .await
    }

    /// The configured plans (those with a price are on sale through Checkout).
    pub fn plans(self) -> Vec<plans::Plan> {
        self.billing_setup().plans().all().to_vec()
    }

    /// Whether the tenant's agents may act now (`subscription_inactive` otherwise): for
    /// the acting tools that are not decisions.
    pub async fn may_act(self, tenant: Uuid) -> Result<()> {
        if !self.billing_setup().enabled() {
            return Ok(());
        }
        let o = self.overview(tenant).await?;
        if o.allows_actions {
            return Ok(());
        }
        Err(StoreError::Refused(
            Code::SubscriptionInactive,
            format!(
                "the tenant's subscription is {}: agents' actions are blocked until it is \
                 renewed (reading, exporting and verifying still work)",
                o.status
            ),
        ))
    }

    /// A Stripe Checkout Session for `plan` (owners only); returns its URL. The Stripe
    /// customer is created here, the first time, never at sign-up.
    pub async fn checkout(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        plan: &str,
        public_url: &str,
    ) -> Result<String> {
        let by: Acting = by.into();
        let setup = self.billing_setup();
        let api = setup.stripe()?;
        let price = setup
            .plans()
            .get(plan)
            .and_then(|p| p.price.clone())
            .ok_or_else(|| {
                let sellable: Vec<&str> = setup
                    .plans()
                    .all()
                    .iter()
                    .filter(|p| p.price.is_some())
                    .map(|p| p.name.as_str())
                    .collect();
                StoreError::Invalid(format!(
                    "plan: `{plan}` is not a plan on sale here (plans: {})",
                    sellable.join(", ")
                ))
            })?;
        let customer = self.customer(tenant, by.clone(), api).await?;
        let url = api
            .checkout(CheckoutRequest {
                tenant,
                customer: &customer,
                plan,
                price: &price,
                success_url: format!("{public_url}/app/billing?checkout=done"),
                cancel_url: format!("{public_url}/app/billing?checkout=canceled"),
            })
            .await?;
        let plan = plan.to_string();
        self.append_with(tenant, move |tx| {
            Box::pin(async move {
                require_roles(tx, &by, &[Role::Owner]).await?;
                let e = crate::admin::entry(
                    "billing.checkout_started",
                    &by,
                    None,
                    json!({"plan": plan, "price": price, "stripe_customer_id": customer}),
                );
                Ok((e, ()))
            })
        })
        .await?;
        Ok(url)
    }

    /// A Stripe Customer Portal session (owners only); returns its URL.
    pub async fn portal(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        public_url: &str,
    ) -> Result<String> {
        let by: Acting = by.into();
        let setup = self.billing_setup();
        let api = setup.stripe()?;
        let setup_read = setup.clone();
        let customer = self
            .read(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, &[Role::Owner]).await?;
                    Ok(setup_read.overview(&read_state(tx).await?)?.customer)
                })
            })
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(
                    "the tenant has no Stripe customer yet: start a checkout first".into(),
                )
            })?;
        api.portal(&customer, format!("{public_url}/app/billing"))
            .await
    }

    /// The Stripe customer of a tenant about to check out, created (and stored) the first
    /// time. A tenant with a live subscription is refused: a second one would bill twice.
    async fn customer(self, tenant: Uuid, by: Acting, api: &StripeApi) -> Result<String> {
        let owner = by.principal;
        let setup = self.billing_setup();
        let (o, name, email) = self
            .read(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, &[Role::Owner]).await?;
                    let o = setup.overview(&read_state(tx).await?)?;
                    let t = crate::tenants::get(tx).await?;
                    let p = crate::principals::get(tx, by.principal).await?;
                    Ok((o, t.name, p.email))
                })
            })
            .await?;
        if matches!(
            o.status,
            SubscriptionStatus::Active | SubscriptionStatus::PastDue
        ) && o.subscription.is_some()
        {
            return Err(StoreError::Conflict(format!(
                "the tenant already has a subscription ({}, plan `{}`): change or renew it in \
                 the Customer Portal (POST /api/v1/billing/portal)",
                o.status, o.plan
            )));
        }
        if let Some(c) = o.customer {
            return Ok(c);
        }
        let created = api.create_customer(tenant, owner, &name, &email).await?;
        let tx = self.tenant_tx(tenant).await?;
        // Another checkout may have stored one meanwhile: the first stays.
        let row = tx
            .one(
                "UPDATE tenants SET stripe_customer_id = COALESCE(stripe_customer_id, $2),
                     updated_at = now()
                 WHERE id = $1 RETURNING stripe_customer_id",
                vec![tenant.into(), created.into()],
            )
            .await?
            .ok_or(StoreError::NotFound("tenant"))?;
        let customer: String = row.try_get("", "stripe_customer_id")?;
        tx.commit().await?;
        Ok(customer)
    }
}

/// A change of plan: decisions made so far are not billed under the new plan (a metered
/// plan reports only what is decided on it).
pub(crate) async fn usage_billable_from_now(tx: &TenantTx) -> Result<()> {
    tx.exec(
        "UPDATE decision_usage SET reported = decisions, reporting = NULL WHERE tenant_id = $1",
        vec![tx.tenant_id().into()],
    )
    .await?;
    Ok(())
}
