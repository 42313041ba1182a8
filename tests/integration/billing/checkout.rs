//! From sign-up to a paid subscription and back: the trial, Checkout through localstripe
//! (whose webhooks, signed by localstripe itself, make the tenant `active`), the portal,
//! and a cancellation that blocks actions but not reads.

use charter_tests::rest::call;
use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn sign_up_trial_checkout_active_then_canceled() {
    let (stripe, app) = billing_app().await;
    stripe
        .deliver_to(&app.url("/stripe/webhook"), WEBHOOK_SECRET)
        .await;
    let t = sign_up(&app).await;

    // A 14-day trial without a card; no Stripe customer yet.
    let b = billing(&app, &t.token).await;
    assert_eq!(b["billing_enabled"], true);
    assert_eq!(b["status"], "trialing");
    assert_eq!(b["plan"], "trial");
    assert_eq!(b["trial_days_left"], 14);
    assert_eq!(b["actions_allowed"], true);
    assert_eq!(b["usage"]["agents_limit"], 10);
    let on_sale: Vec<&str> = b["plans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["on_sale"] == true)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(on_sale, ["team", "scale"]);
    let me = call(&app, Some(&t.token), "GET", "/api/v1/tenant", None).await;
    assert_eq!(me.body["subscription_status"], "trialing");
    assert_eq!(me.body["trial_days_left"], 14);
    let customers = stripe.get("/v1/customers").await;
    let before = customers["data"].as_array().unwrap().len();

    // The portal needs a customer; a plan not on sale is named.
    let portal = call(&app, Some(&t.token), "POST", "/api/v1/billing/portal", None).await;
    assert_eq!(portal.status, StatusCode::CONFLICT, "{:?}", portal.body);
    let bad = try_checkout(&app, &t.token, "gold").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap()
            .starts_with("plan: `gold`"),
        "{:?}",
        bad.body
    );

    // Checkout: the customer is created now, with the tenant's id, and the session sells
    // the plan's price to it.
    let r = try_checkout(&app, &t.token, "team").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let url = r.body["url"].as_str().unwrap();
    let session_id = url.rsplit('/').next().unwrap();
    let session = stripe
        .get(&format!("/_test/checkout/sessions/{session_id}"))
        .await;
    assert_eq!(session["price"], "price_team");
    assert_eq!(session["mode"], "subscription");
    assert_eq!(session["client_reference_id"], t.tenant.to_string());
    let customer = session["customer"].as_str().unwrap().to_string();
    let c = stripe.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(c["metadata"]["tenant_id"], t.tenant.to_string());
    assert_eq!(c["email"], format!("owner@{}.example", t.slug));
    // A second checkout reuses the customer.
    let again = try_checkout(&app, &t.token, "team").await;
    assert_eq!(again.status, StatusCode::OK);
    let customers = stripe.get("/v1/customers").await;
    assert_eq!(customers["data"].as_array().unwrap().len(), before + 1);

    // The customer pays on Stripe's page; localstripe creates the subscription, charges
    // it and sends its signed events to Charter.
    stripe
        .post(
            &format!("/_test/checkout/sessions/{session_id}/complete"),
            &[("card", "4242424242424242")],
        )
        .await;
    let b = wait_for(&app, &t.token, "active", "team").await;
    assert_eq!(b["trial_days_left"], serde_json::Value::Null);
    assert_eq!(b["usage"]["agents_limit"], 3);
    assert_eq!(b["usage"]["decisions_limit"], 4);
    let recorded = changes(&app, &t.token).await;
    let first = &recorded[0];
    assert_eq!(first["by"], "stripe");
    assert_eq!(first["from"]["status"], "trialing");
    assert!(
        first["to"]["stripe_event_id"]
            .as_str()
            .unwrap()
            .starts_with("evt_"),
        "{first}"
    );

    // A second subscription is refused: changes go through the portal.
    let twice = try_checkout(&app, &t.token, "team").await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{:?}", twice.body);
    assert!(
        twice.body["message"]
            .as_str()
            .unwrap()
            .contains("Customer Portal")
    );
    // The portal opens now.
    let portal = call(&app, Some(&t.token), "POST", "/api/v1/billing/portal", None).await;
    assert_eq!(portal.status, StatusCode::OK, "{:?}", portal.body);
    assert!(
        portal.body["url"]
            .as_str()
            .unwrap()
            .starts_with("https://billing.stripe.test/")
    );

    // An agent acts while active.
    let key = add_agent(&app, &t.token, "builder").await.unwrap();
    let mut client = agent(&app, &t.slug, &key).await;
    let d = authorize(&mut client, "payments-api").await;
    assert_eq!(d["reason"], "out_of_scope", "{d}");

    // Canceled in Stripe: `customer.subscription.deleted` → canceled; actions blocked,
    // reads still answered.
    let sub =
        stripe.get(&format!("/v1/customers/{customer}")).await["subscriptions"]["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
    let (status, body) = stripe.try_delete(&format!("/v1/subscriptions/{sub}")).await;
    assert!(status < 300, "{status} {body}");
    let b = wait_for(&app, &t.token, "canceled", "team").await;
    assert_eq!(b["actions_allowed"], false);
    let d = authorize(&mut client, "payments-api").await;
    assert_eq!(d["decision"], "BLOCKED");
    assert_eq!(d["reason"], "subscription_inactive", "{d}");
    let q = client.tool("query_ledger", json!({"limit": 5})).await;
    assert_eq!(q["isError"], false, "{q}");
    let delegated = client
        .tool(
            "request_scope_change",
            json!({"grants": [], "justification": "more"}),
        )
        .await;
    assert_eq!(
        charter_tests::mcp::refusal(&delegated),
        Some("subscription_inactive"),
        "{delegated}"
    );
}
