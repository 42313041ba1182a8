//! `POST /stripe/webhook` under attack and disorder: bad signatures, stale timestamps and
//! edited bodies change nothing; a replay is processed once; an older event never
//! overwrites a newer state; a failed payment is `past_due`, blocks actions only after the
//! grace period, and paying again makes the tenant `active`.

use charter_tests::stripe::{event, signature};
use charter_tests::{execute, superuser};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

fn subscription(id: &str, customer: &str, status: &str) -> Value {
    json!({"id": id, "object": "subscription", "customer": customer, "status": status,
           "current_period_end": chrono::Utc::now().timestamp() + 30 * 86_400,
           "items": {"object": "list", "data": [{"price": {"id": "price_team"}}]}})
}

fn invoice(customer: &str, sub: &str) -> Value {
    json!({"id": format!("in_{}", uuid::Uuid::new_v4().simple()), "object": "invoice",
           "customer": customer,
           "parent": {"subscription_details": {"subscription": sub}}})
}

async fn send(app: &TestApp, body: &str) -> Reply {
    let now = chrono::Utc::now().timestamp();
    post_webhook(app, body, Some(&signature(WEBHOOK_SECRET, now, body))).await
}

#[tokio::test]
async fn forged_stale_replayed_and_late_events_change_nothing() {
    let (_stripe, app) = billing_app().await;
    let t = sign_up(&app).await;
    // Checkout creates the tenant's Stripe customer (events name it).
    checkout(&app, &t.token, "team").await;
    let customer: String = {
        let tx = app.store.tenant_tx(t.tenant).await.unwrap();
        let row = charter_tests::query(tx.raw(), "SELECT stripe_customer_id FROM tenants", vec![])
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        row[0].try_get("", "stripe_customer_id").unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let body = event(
        "evt_active",
        "customer.subscription.updated",
        now - 100,
        subscription("sub_1", &customer, "active"),
    );

    // Refused with 400, and nothing changes: no header, a wrong secret, a timestamp
    // outside the tolerance, a body changed after signing.
    let good = signature(WEBHOOK_SECRET, now, &body);
    let cases = [
        None,
        Some(signature("whsec_someone_else", now, &body)),
        Some(signature(WEBHOOK_SECRET, now - 301, &body)),
        Some(signature(WEBHOOK_SECRET, now + 301, &body)),
        Some(format!("t={now},v1=00")),
    ];
    for sig in &cases {
        let r = post_webhook(&app, &body, sig.as_deref()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{sig:?}: {:?}", r.body);
    }
    let edited = body.replace("\"active\"", "\"canceled\"");
    let r = post_webhook(&app, &edited, Some(&good)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_signature");
    assert_eq!(billing(&app, &t.token).await["status"], "trialing");
    assert!(changes(&app, &t.token).await.is_empty());

    // The event, signed: active. Twice: processed once. With a rolled secret's second
    // signature in the header too: accepted.
    let r = send(&app, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["outcome"], "changed");
    let rolled = format!(
        "{},v1={}",
        signature("whsec_old", now, &body),
        &good[good.find("v1=").unwrap() + 3..]
    );
    let r = post_webhook(&app, &body, Some(&rolled)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["outcome"], "replay");
    assert_eq!(billing(&app, &t.token).await["status"], "active");
    assert_eq!(changes(&app, &t.token).await.len(), 1);

    // An older event arriving late: acknowledged, the newer state stands.
    let older = event(
        "evt_older",
        "customer.subscription.updated",
        now - 200,
        subscription("sub_1", &customer, "past_due"),
    );
    let r = send(&app, &older).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["outcome"], "unchanged");
    assert_eq!(billing(&app, &t.token).await["status"], "active");
    // Types Charter does not handle, and customers of no tenant here: 200, ignored.
    let other = event(
        "evt_other",
        "customer.created",
        now,
        json!({"id": customer}),
    );
    assert_eq!(send(&app, &other).await.body["outcome"], "ignored");
    let stranger = event(
        "evt_stranger",
        "invoice.payment_failed",
        now,
        invoice("cus_nobody", "sub_9"),
    );
    assert_eq!(send(&app, &stranger).await.body["outcome"], "ignored");
    assert_eq!(changes(&app, &t.token).await.len(), 1);

    // A failed payment: past_due, still acting within the grace period (3 days here).
    let key = add_agent(&app, &t.token, "builder").await.unwrap();
    let mut client = agent(&app, &t.slug, &key).await;
    let failed = event(
        "evt_failed",
        "invoice.payment_failed",
        now - 50,
        invoice(&customer, "sub_1"),
    );
    assert_eq!(send(&app, &failed).await.body["outcome"], "changed");
    let b = billing(&app, &t.token).await;
    assert_eq!(b["status"], "past_due");
    assert_eq!(b["actions_allowed"], true);
    assert!(b["grace_ends_at"].is_string(), "{b}");
    assert_eq!(
        authorize(&mut client, "payments-api").await["reason"],
        "out_of_scope"
    );
    // Past the grace period: blocked.
    execute(
        &superuser().await,
        "UPDATE tenants SET past_due_since = now() - interval '3 days 1 minute' WHERE id = $1",
        vec![t.tenant.into()],
    )
    .await
    .unwrap();
    assert_eq!(billing(&app, &t.token).await["actions_allowed"], false);
    let d = authorize(&mut client, "payments-api").await;
    assert_eq!(d["reason"], "subscription_inactive", "{d}");
    // Paying again: active, acting again.
    let paid = event(
        "evt_paid",
        "invoice.paid",
        now - 10,
        invoice(&customer, "sub_1"),
    );
    assert_eq!(send(&app, &paid).await.body["outcome"], "changed");
    let b = billing(&app, &t.token).await;
    assert_eq!(b["status"], "active");
    assert_eq!(b["past_due_since"], Value::Null);
    assert_eq!(
        authorize(&mut client, "payments-api").await["reason"],
        "out_of_scope"
    );
    // Deleted: canceled.
    let deleted = event(
        "evt_deleted",
        "customer.subscription.deleted",
        now - 5,
        subscription("sub_1", &customer, "canceled"),
    );
    assert_eq!(send(&app, &deleted).await.body["outcome"], "changed");
    assert_eq!(billing(&app, &t.token).await["status"], "canceled");
    let recorded = changes(&app, &t.token).await;
    let events: Vec<&str> = recorded
        .iter()
        .map(|c| c["to"]["stripe_event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["evt_active", "evt_failed", "evt_paid", "evt_deleted"]
    );
}
