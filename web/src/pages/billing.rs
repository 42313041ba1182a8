//! `/app/billing`: the plan, the subscription state in force, the trial, this month's use
//! against the plan's limits, and the plans on sale; owners start a Stripe Checkout or open
//! the Customer Portal (`manage_billing`), through the same store operations as the REST
//! API.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::billing::plans::Plan;
use charter_core::permission::{ManageBilling, Read};
use serde::Deserialize;

use crate::error::PageError;
use crate::layout::{Flash, flash};
use crate::session::{Form, Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "billing.html")]
pub struct BillingPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    plans: Vec<Plan>,
    /// `done` or `canceled`, when Stripe sent the browser back here.
    checkout: Option<String>,
}

#[derive(Deserialize)]
pub struct Back {
    checkout: Option<String>,
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
    q: web::Query<Back>,
) -> Result<BillingPage, PageError> {
    Ok(BillingPage {
        plans: dash.store().billing().plans(),
        checkout: q
            .into_inner()
            .checkout
            .filter(|c| c == "done" || c == "canceled"),
        me: page.me,
        active: "/app/billing",
        flash: flash(&req),
    })
}

#[derive(Deserialize)]
pub struct Checkout {
    plan: String,
}

/// Sends the browser on to a Stripe page. Not a redirect: after a form, browsers hold a
/// redirect to the form's `form-action` policy (`'self'`), so a 303 to Stripe would be
/// refused; a page that refreshes to it (and shows the link) is an ordinary navigation.
#[derive(Template)]
#[template(path = "to_stripe.html")]
struct ToStripe {
    url: String,
}

fn to_stripe(url: String) -> Result<HttpResponse, PageError> {
    crate::layout::render(actix_web::http::StatusCode::OK, ToStripe { url })
}

pub async fn checkout(
    dash: web::Data<Dashboard>,
    f: Form<ManageBilling, Checkout>,
) -> Result<HttpResponse, PageError> {
    let url = dash
        .store()
        .billing()
        .checkout(
            f.me.tenant_id,
            f.me.acting(),
            &f.form.plan,
            dash.public_url(),
        )
        .await?;
    to_stripe(url)
}

#[derive(Deserialize)]
pub struct NoFields {}

pub async fn portal(
    dash: web::Data<Dashboard>,
    f: Form<ManageBilling, NoFields>,
) -> Result<HttpResponse, PageError> {
    let url = dash
        .store()
        .billing()
        .portal(f.me.tenant_id, f.me.acting(), dash.public_url())
        .await?;
    to_stripe(url)
}
