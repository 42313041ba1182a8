//! What the subscription and the plan allow: a trial ends at its exact time (actions
//! blocked, reads, receipts, exports and REST reads still answered), operators' trial and
//! plan changes, the plan's agents and monthly decisions (also under concurrent requests),
//! metered usage reported to Stripe, and billing off.

use charter_core::engine::decision::{Decision, Reason};
use charter_tests::mcp::structured;
use charter_tests::rest::call;
use charter_tests::{charter_cmd, deploy, outbox, spawn_app, succeeds};
use reqwest::StatusCode;
use serde_json::json;

use super::*;

fn cli(app: &TestApp, stripe: &LocalStripe) -> tokio::process::Command {
    let mut cmd = charter_cmd(&app.config);
    for (k, v) in billing_settings(stripe) {
        cmd.env(k, v);
    }
    cmd
}

#[tokio::test]
async fn an_ended_trial_blocks_actions_and_nothing_else() {
    let (stripe, app) = billing_app().await;
    let t = sign_up(&app).await;
    let key = add_agent(&app, &t.token, "builder").await.unwrap();
    let mut client = agent(&app, &t.slug, &key).await;
    assert_eq!(
        authorize(&mut client, "payments-api").await["reason"],
        "out_of_scope"
    );

    // Support ends the trial a minute ago; no job has run, yet actions are blocked now.
    let ended = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let out = succeeds(cli(&app, &stripe).args([
        "tenant",
        "trial",
        "--tenant",
        &t.slug,
        "--ends-at",
        &ended,
    ]))
    .await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("trial_expired"),
        "{out:?}"
    );
    let blocked = authorize(&mut client, "payments-api").await;
    assert_eq!(blocked["decision"], "BLOCKED");
    assert_eq!(blocked["reason"], "subscription_inactive", "{blocked}");

    // Reading, verifying and exporting still work.
    let q = client.tool("query_ledger", json!({"limit": 3})).await;
    assert_eq!(q["isError"], false, "{q}");
    assert_eq!(
        structured(&q)["entries"][0]["reason"],
        "subscription_inactive",
        "{q}"
    );
    let claim = json!({"seq": blocked["seq"], "record_hash": blocked["record_hash"],
                       "signature": blocked["signature"], "key_id": blocked["key_id"]});
    let check = client.tool("verify_receipt", claim).await;
    assert_eq!(structured(&check)["valid"], true, "{check}");
    let dir = tempdir();
    let file = dir.join("export.jsonl");
    succeeds(
        cli(&app, &stripe)
            .args(["ledger", "export", "--tenant", &t.slug, "--out"])
            .arg(&file),
    )
    .await;
    succeeds(
        tokio::process::Command::new(charter_tests::charter_bin())
            .arg("verify")
            .arg(&file),
    )
    .await;
    for path in [
        "/api/v1/agents",
        "/api/v1/ledger/entries",
        "/api/v1/tenant",
        "/api/v1/billing",
    ] {
        let r = call(&app, Some(&t.token), "GET", path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }
    let b = billing(&app, &t.token).await;
    assert_eq!(b["status"], "trial_expired");
    assert_eq!(b["trial_days_left"], 0);
    assert_eq!(b["actions_allowed"], false);

    // The worker records the end once, with a `trial.ended` notification.
    assert!(app.store.billing().expire_trials().await.unwrap() >= 1);
    assert_eq!(outbox(&app.store, t.tenant, "trial.ended").await.len(), 1);
    let recorded = changes(&app, &t.token).await;
    let kinds: Vec<(&str, &str)> = recorded
        .iter()
        .map(|c| {
            (
                c["by"].as_str().unwrap(),
                c["to"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("operator", "trialing"), ("worker", "trial_expired")]
    );

    // Extended: acting again. An invoiced customer on `unlimited`.
    let later = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    succeeds(cli(&app, &stripe).args([
        "tenant",
        "trial",
        "--tenant",
        &t.slug,
        "--ends-at",
        &later,
    ]))
    .await;
    assert_eq!(
        authorize(&mut client, "payments-api").await["reason"],
        "out_of_scope"
    );
    assert_eq!(billing(&app, &t.token).await["trial_days_left"], 7);
    let out = succeeds(cli(&app, &stripe).args([
        "tenant",
        "plan",
        "--tenant",
        &t.slug,
        "--plan",
        "unlimited",
    ]))
    .await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("plan unlimited, unlimited"),
        "{out:?}"
    );
    // A bad time or plan is named, nothing changed.
    let bad = cli(&app, &stripe)
        .args([
            "tenant",
            "trial",
            "--tenant",
            &t.slug,
            "--ends-at",
            "tomorrow",
        ])
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--ends-at"),
        "{bad:?}"
    );
    let bad = cli(&app, &stripe)
        .args(["tenant", "plan", "--tenant", &t.slug, "--plan", "gold"])
        .output()
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("no plan `gold`"),
        "{bad:?}"
    );
    assert_eq!(billing(&app, &t.token).await["status"], "unlimited");
}

#[tokio::test]
async fn the_plan_limits_agents_and_monthly_decisions() {
    let (_stripe, app) = billing_app().await;
    let t = sign_up(&app).await;
    app.store
        .billing()
        .set_plan(t.tenant, "team")
        .await
        .unwrap();
    // Three agents; the fourth is refused, naming the limit.
    let mut keys = Vec::new();
    for i in 0..3 {
        keys.push(
            add_agent(&app, &t.token, &format!("agent-{i}"))
                .await
                .unwrap(),
        );
    }
    let refused = add_agent(&app, &t.token, "agent-3").await.unwrap_err();
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{:?}",
        refused.body
    );
    assert_eq!(refused.code(), "plan_limit");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("allows 3 agents"),
        "{:?}",
        refused.body
    );

    // Four decisions a month; concurrent requests at the edge never pass it.
    let agent_id = first_agent(&app, &t.token).await;
    let asks = (0..8).map(|i| {
        app.store
            .engine()
            .authorize(t.tenant, agent_id, deploy(&format!("svc-{i}")))
    });
    let answers = futures::future::join_all(asks).await;
    let quota = answers
        .iter()
        .filter(|a| {
            a.as_ref().unwrap().decision
                == Decision::Blocked {
                    reason: Reason::PlanQuotaExceeded,
                }
        })
        .count();
    assert_eq!(quota, 4, "{answers:?}");
    let b = billing(&app, &t.token).await;
    assert_eq!(b["usage"]["decisions"], 4);
    assert_eq!(b["usage"]["decisions_limit"], 4);
    let mut client = agent(&app, &t.slug, &keys[1]).await;
    let d = authorize(&mut client, "payments-api").await;
    assert_eq!(d["reason"], "plan_quota_exceeded", "{d}");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("decisions for this month"),
        "{d}"
    );
}

#[tokio::test]
async fn metered_usage_is_reported_to_stripe_once() {
    let (stripe, app) = billing_app().await;
    let t = sign_up(&app).await;
    checkout(&app, &t.token, "scale").await;
    add_agent(&app, &t.token, "builder").await.unwrap();
    let agent_id = first_agent(&app, &t.token).await;
    // Decisions of the trial are not billed under the metered plan.
    decide_n(&app, t.tenant, agent_id, 0, 2).await;
    app.store
        .billing()
        .set_plan(t.tenant, "scale")
        .await
        .unwrap();
    decide_n(&app, t.tenant, agent_id, 2, 3).await;
    app.store.billing().report_usage().await.unwrap();
    app.store.billing().report_usage().await.unwrap();
    assert_eq!(billing(&app, &t.token).await["usage"]["decisions"], 5);
    // Other tenants of the shared database may be metered too: only ours count.
    let ours = meter_events(&stripe, t.tenant).await;
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0]["event_name"], "charter_decisions");
    assert_eq!(ours[0]["payload"]["value"], "3");
    // Two more, and the report's answer is lost after Stripe took it: Charter sends the
    // same report again (same count, same identifier) and Stripe counts it once.
    decide_n(&app, t.tenant, agent_id, 5, 2).await;
    let month = chrono::Utc::now().format("%Y-%m-01").to_string();
    charter_tests::execute(
        &charter_tests::superuser().await,
        "UPDATE decision_usage SET reporting = decisions WHERE tenant_id = $1",
        vec![t.tenant.into()],
    )
    .await
    .unwrap();
    let customers = stripe.get("/v1/customers").await;
    let customer = customers["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metadata"]["tenant_id"] == t.tenant.to_string())
        .unwrap()["id"]
        .as_str()
        .unwrap();
    let identifier = format!("charter-{}-{month}-7", t.tenant);
    stripe
        .post_idempotent(
            "/v1/billing/meter_events",
            &identifier,
            &[
                ("event_name", "charter_decisions"),
                ("payload[stripe_customer_id]", customer),
                ("payload[value]", "2"),
                ("identifier", &identifier),
            ],
        )
        .await;
    app.store.billing().report_usage().await.unwrap();
    app.store.billing().report_usage().await.unwrap();
    let values: Vec<i64> = meter_events(&stripe, t.tenant)
        .await
        .iter()
        .map(|e| e["payload"]["value"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(values.len(), 2, "{values:?}");
    assert_eq!(values.iter().sum::<i64>(), 5, "{values:?}");
}

#[tokio::test]
async fn billing_off_means_unlimited_and_no_stripe() {
    let app = spawn_app().await;
    let t = sign_up(&app).await;
    let b = billing(&app, &t.token).await;
    assert_eq!(b["billing_enabled"], false);
    assert_eq!(b["status"], "unlimited");
    assert_eq!(b["actions_allowed"], true);
    assert_eq!(b["usage"]["agents_limit"], serde_json::Value::Null);
    // Beyond any plan's agents: no limit.
    for i in 0..11 {
        add_agent(&app, &t.token, &format!("agent-{i}"))
            .await
            .unwrap();
    }
    // An ended trial means nothing without billing.
    execute_sql(
        &t,
        "UPDATE tenants SET trial_ends_at = now() - interval '1 day' WHERE id = $1",
    )
    .await;
    let agents = call(&app, Some(&t.token), "GET", "/api/v1/agents", None).await;
    let agent_id = agents.body[0]["id"].as_str().unwrap().parse().unwrap();
    let a = app
        .store
        .engine()
        .authorize(t.tenant, agent_id, deploy("svc"))
        .await
        .unwrap();
    assert_eq!(
        a.decision,
        Decision::Blocked {
            reason: Reason::OutOfScope
        }
    );
    assert_eq!(app.store.billing().expire_trials().await.unwrap(), 0);
    // Checkout and the webhook say billing is off; nothing calls Stripe.
    let r = try_checkout(&app, &t.token, "team").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "billing_off");
    let r = post_webhook(&app, "{}", Some("t=1,v1=00")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn execute_sql(t: &SignedUp, sql: &str) {
    charter_tests::execute(
        &charter_tests::superuser().await,
        sql,
        vec![t.tenant.into()],
    )
    .await
    .unwrap();
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("charter-billing-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The meter events localstripe received for `tenant`.
async fn meter_events(stripe: &LocalStripe, tenant: uuid::Uuid) -> Vec<serde_json::Value> {
    let events = stripe.get("/_test/meter_events").await;
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["identifier"]
                .as_str()
                .unwrap()
                .contains(&tenant.to_string())
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_stripe_outage_fails_checkout_alone() {
    // Billing on, but nothing listens where Stripe should be.
    let dead = format!("http://127.0.0.1:{}", charter_tests::free_port());
    let app = spawn_app_with(test_config(&[
        ("CHARTER_STRIPE_SECRET_KEY", SECRET_KEY),
        ("CHARTER_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("CHARTER_STRIPE_API_BASE", &dead),
        ("CHARTER_BILLING_PLANS", PLANS),
        ("CHARTER_STRIPE_TIMEOUT_SECS", "2"),
    ]))
    .await;
    // Sign-up, agents and decisions never wait on Stripe.
    let t = sign_up(&app).await;
    add_agent(&app, &t.token, "builder").await.unwrap();
    let agent_id = first_agent(&app, &t.token).await;
    decide_n(&app, t.tenant, agent_id, 0, 1).await;
    assert_eq!(billing(&app, &t.token).await["status"], "trialing");
    // Checkout says Stripe is unavailable, and nothing changed.
    let r = try_checkout(&app, &t.token, "team").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("Stripe"),
        "{:?}",
        r.body
    );
    let b = billing(&app, &t.token).await;
    assert_eq!(b["status"], "trialing");
    assert!(changes(&app, &t.token).await.is_empty());
}
