//! Billing: the tenant's plan, state, trial and usage (everyone reads it), and the owner's
//! ways to pay: a Stripe Checkout Session for a plan, the Stripe Customer Portal.

use actix_web::{HttpResponse, get, post, web};
use charter_core::billing::plans::Plan;
use charter_store::billing::Overview;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::Errors;
use super::extract::{Authorized, Body};
use super::permissions::{ManageBilling, Read};
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(get_billing).service(checkout).service(portal);
}

#[derive(Serialize, ToSchema)]
pub struct BillingView {
    /// False when the server has no Stripe settings: every tenant is `unlimited`.
    pub billing_enabled: bool,
    pub plan: String,
    /// The state in force now: `trialing`, `active`, `past_due`, `canceled`,
    /// `trial_expired` or `unlimited` (a trial past its end is `trial_expired` at once).
    pub status: String,
    /// Whether agents may act; reading, exporting and verifying never depend on it.
    pub actions_allowed: bool,
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// Whole days left in the trial (0 once ended; absent when not trialing).
    pub trial_days_left: Option<i64>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub past_due_since: Option<DateTime<Utc>>,
    /// When a past-due tenant's agents stop acting, unless it pays first.
    pub grace_ends_at: Option<DateTime<Utc>>,
    pub usage: UsageView,
    /// The plans of this server; those `on_sale` can be bought through Checkout.
    pub plans: Vec<PlanView>,
}

#[derive(Serialize, ToSchema)]
pub struct PlanView {
    pub name: String,
    /// A Checkout Session can sell it (it has a Stripe price).
    pub on_sale: bool,
    /// Agents allowed; absent: unlimited.
    pub agents: Option<u64>,
    /// Decisions per calendar month (UTC); absent: unlimited.
    pub decisions_per_month: Option<u64>,
    /// Decisions are reported to Stripe as usage.
    pub metered: bool,
}

#[derive(Serialize, ToSchema)]
pub struct UsageView {
    /// The calendar month (UTC) counted, as its first day.
    pub month: NaiveDate,
    /// Decisions made this month (those refused for the subscription or the quota are not
    /// counted).
    pub decisions: i64,
    /// The plan's monthly decisions; absent: unlimited.
    pub decisions_limit: Option<u64>,
    pub agents: i64,
    /// The plan's agents; absent: unlimited.
    pub agents_limit: Option<u64>,
}

impl BillingView {
    fn new(o: Overview, plans: Vec<Plan>) -> Self {
        BillingView {
            billing_enabled: o.enabled,
            plan: o.plan,
            status: o.status.to_string(),
            actions_allowed: o.allows_actions,
            trial_ends_at: o.trial_ends_at,
            trial_days_left: o.trial_days_left,
            current_period_end: o.current_period_end,
            past_due_since: o.past_due_since,
            grace_ends_at: o.grace_ends_at,
            usage: UsageView {
                month: o.usage.month,
                decisions: o.usage.decisions,
                decisions_limit: o.usage.decisions_limit,
                agents: o.usage.agents,
                agents_limit: o.usage.agents_limit,
            },
            plans: plans
                .into_iter()
                .map(|p| PlanView {
                    on_sale: o.enabled && p.price.is_some(),
                    agents: p.agents,
                    decisions_per_month: p.decisions,
                    metered: p.meter.is_some(),
                    name: p.name,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// A configured plan with a Stripe price.
    #[schema(example = "team")]
    pub plan: String,
}

#[derive(Serialize, ToSchema)]
pub struct RedirectView {
    /// Where to send the owner's browser (a Stripe page).
    pub url: String,
}

/// The tenant's plan, subscription state, trial, period, this month's usage, and the plans
/// of this server.
#[utoipa::path(operation_id = "billing_get", tag = "billing", security(("bearer" = ["read"])), responses((status = 200, body = BillingView), Errors))]
#[get("/billing")]
pub async fn get_billing(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let billing = state.store().billing();
    let o = billing.overview(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(BillingView::new(o, billing.plans())))
}

/// A Stripe Checkout Session for a plan (owners only). The Stripe customer is created
/// now, the first time. `409 billing_off` without Stripe settings; `503` when Stripe
/// cannot be reached (nothing changed).
#[utoipa::path(operation_id = "billing_checkout", tag = "billing", security(("bearer" = ["manage_billing"])), request_body = CheckoutRequest,
    responses((status = 200, body = RedirectView), Errors))]
#[post("/billing/checkout")]
pub async fn checkout(
    auth: Authorized<ManageBilling>,
    state: web::Data<AppState>,
    Body(b): Body<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let url = state
        .store()
        .billing()
        .checkout(
            auth.tenant_id,
            auth.acting(),
            &b.plan,
            &state.config().public_url,
        )
        .await?;
    Ok(HttpResponse::Ok().json(RedirectView { url }))
}

/// A Stripe Customer Portal session (owners only): change the plan, the card, cancel.
/// `409` before any checkout (no Stripe customer yet).
#[utoipa::path(operation_id = "billing_portal", tag = "billing", security(("bearer" = ["manage_billing"])),
    responses((status = 200, body = RedirectView), Errors))]
#[post("/billing/portal")]
pub async fn portal(
    auth: Authorized<ManageBilling>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let url = state
        .store()
        .billing()
        .portal(auth.tenant_id, auth.acting(), &state.config().public_url)
        .await?;
    Ok(HttpResponse::Ok().json(RedirectView { url }))
}
