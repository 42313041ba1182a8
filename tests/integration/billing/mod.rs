//! Billing against a real Stripe-compatible server (localstripe, started per test): the
//! trial, checkout, Stripe's webhooks (signature, replay, order), enforcement of the
//! subscription and the plan's limits, and billing off.

mod checkout;
mod enforcement;
mod webhooks;

use charter_tests::mcp::{Client, structured};
use charter_tests::rest::{Reply, call};
use charter_tests::stripe::{LocalStripe, SECRET_KEY};
use charter_tests::{TestApp, spawn_app_with, test_config};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

pub const WEBHOOK_SECRET: &str = "whsec_charter_test_secret";

/// The plans the tests sell: `team` (3 agents, 4 decisions a month), `scale` (metered).
pub const PLANS: &str = "team price=price_team agents=3 decisions=4; \
                         scale price=price_scale meter=charter_decisions";

/// Settings that turn billing on against `stripe`.
pub fn billing_settings(stripe: &LocalStripe) -> Vec<(&'static str, String)> {
    vec![
        ("CHARTER_STRIPE_SECRET_KEY", SECRET_KEY.to_string()),
        ("CHARTER_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
        ("CHARTER_STRIPE_API_BASE", stripe.base.clone()),
        ("CHARTER_BILLING_PLANS", PLANS.to_string()),
        ("CHARTER_PAST_DUE_GRACE_DAYS", "3".to_string()),
    ]
}

/// localstripe with the plans' prices, and an app with billing on against it.
pub async fn billing_app() -> (LocalStripe, TestApp) {
    let stripe = LocalStripe::start().await;
    stripe.price("price_team", 4900).await;
    stripe.price("price_scale", 0).await;
    let settings = billing_settings(&stripe);
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(test_config(&pairs)).await;
    (stripe, app)
}

/// A tenant made through sign-up.
pub struct SignedUp {
    pub tenant: Uuid,
    pub slug: String,
    /// The owner's access token.
    pub token: String,
}

/// A new tenant through sign-up.
pub async fn sign_up(app: &TestApp) -> SignedUp {
    let slug = format!("bill-{}", &Uuid::new_v4().simple().to_string()[..12]);
    let r = call(
        app,
        None,
        "POST",
        "/api/v1/signup",
        Some(json!({"tenant_name": "Billing Test", "slug": slug,
                    "email": format!("owner@{slug}.example"),
                    "password": "a long enough password"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let tenant = r.body["tenant_id"].as_str().unwrap().parse().unwrap();
    let token = r.body["session"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    SignedUp {
        tenant,
        slug,
        token,
    }
}

/// Registers an agent with a key (`POST /agents`, `POST /agents/{id}/keys`); the reply of
/// the agent's creation when it is refused.
pub async fn add_agent(app: &TestApp, token: &str, name: &str) -> Result<String, Reply> {
    let agent = call(
        app,
        Some(token),
        "POST",
        "/api/v1/agents",
        Some(json!({"name": name})),
    )
    .await;
    if agent.status != StatusCode::CREATED {
        return Err(agent);
    }
    let id = agent.body["id"].as_str().unwrap();
    let key = call(
        app,
        Some(token),
        "POST",
        &format!("/api/v1/agents/{id}/keys"),
        Some(json!({"label": "test"})),
    )
    .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    Ok(key.body["api_key"].as_str().unwrap().to_string())
}

/// An MCP session of the agent with `key`.
pub async fn agent<'a>(app: &'a TestApp, slug: &str, key: &str) -> Client<'a> {
    let mut c = Client::new(app, slug, key);
    c.initialize().await;
    c
}

/// Polls the tenant's billing until it shows `status` on `plan`, or panics after 20 s
/// (Stripe's events arrive in any order).
pub async fn wait_for(app: &TestApp, token: &str, status: &str, plan: &str) -> Value {
    let end = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let b = billing(app, token).await;
        if b["status"] == status && b["plan"] == plan {
            return b;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "still {b}, not {status} on {plan}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

pub async fn billing(app: &TestApp, token: &str) -> Value {
    let r = call(app, Some(token), "GET", "/api/v1/billing", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// Posts an event body to the webhook with a signature header (or none).
pub async fn post_webhook(app: &TestApp, body: &str, signature: Option<&str>) -> Reply {
    let mut req = app
        .client
        .post(app.url("/stripe/webhook"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    Reply::read(req.send().await.unwrap()).await
}

/// An agent's request to deploy `resource` through MCP; the decision's body.
pub async fn authorize(client: &mut Client<'_>, resource: &str) -> Value {
    let r = client
        .tool(
            "authorize_action",
            json!({"action": "deploy", "resource_type": "Service", "resource_id": resource}),
        )
        .await;
    structured(&r).clone()
}

/// The payloads of a tenant's `subscription.changed` records, oldest first.
pub async fn changes(app: &TestApp, token: &str) -> Vec<Value> {
    let r = call(
        app,
        Some(token),
        "GET",
        "/api/v1/ledger/entries?kind=subscription.changed&limit=100",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut seqs: Vec<u64> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    seqs.sort();
    let mut out = Vec::new();
    for seq in seqs {
        let record = charter_tests::rest::signed_record(app, token, seq).await;
        out.push(record["payload"].clone());
    }
    out
}

/// Starts a Stripe checkout for `plan` as the owner; panics unless it answers 200. Returns
/// the Checkout Session's URL.
pub async fn checkout(app: &TestApp, token: &str, plan: &str) -> String {
    let r = try_checkout(app, token, plan).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["url"].as_str().unwrap().to_string()
}

/// `POST /api/v1/billing/checkout` for `plan`.
pub async fn try_checkout(app: &TestApp, token: &str, plan: &str) -> Reply {
    let body = json!({"plan": plan});
    call(
        app,
        Some(token),
        "POST",
        "/api/v1/billing/checkout",
        Some(body),
    )
    .await
}

/// The id of the tenant's first agent.
pub async fn first_agent(app: &TestApp, token: &str) -> Uuid {
    let agents = call(app, Some(token), "GET", "/api/v1/agents", None).await;
    agents.body[0]["id"].as_str().unwrap().parse().unwrap()
}

/// `n` decisions by `agent` (through the store), on resources `svc-{from}`, ….
pub async fn decide_n(app: &TestApp, tenant: Uuid, agent: Uuid, from: usize, n: usize) {
    for i in from..from + n {
        app.store
            .engine()
            .authorize(tenant, agent, charter_tests::deploy(&format!("svc-{i}")))
            .await
            .unwrap();
    }
}
