//! Retries must be the same request. An idempotency key is bound to what it was first used
//! for: a genuine retry replays the first answer; the same key with anything else changed
//! is refused (`idempotency_conflict`), records nothing and spends nothing — for
//! `authorize_action`, `report_outcome` and `delegate_task`, one at a time or at once.

use charter_core::policy::{Grant, Scope};
use charter_tests::mcp::{Client, refusal};
use charter_tests::rest::{call, login};
use charter_tests::{TestApp, add_agent, spawn_app, tenant};
use futures::future::join_all;
use serde_json::{Value, json};

fn scope(directs: Vec<String>) -> Scope {
    Scope {
        grants: vec![Grant {
            actions: vec!["deploy".into()],
            resource_type: "Service".into(),
            id_pattern: "payments-*".into(),
        }],
        may_direct: directs,
        spend_limit: Some(1000),
        dispatch_limit: None,
    }
}

fn deploy(resource: &str, spend: i64, args: Value, key: &str) -> Value {
    json!({"action": "deploy", "resource_type": "Service", "resource_id": resource,
           "spend": spend, "arguments": args, "idempotency_key": key})
}

/// How many decisions the tenant's ledger holds, through the REST API.
async fn decisions(app: &TestApp, token: &str) -> usize {
    let r = call(
        app,
        Some(token),
        "GET",
        "/api/v1/ledger/entries?kind=decision&limit=200",
        None,
    )
    .await;
    r.body["entries"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused_and_a_retry_replays() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Retries").await;
    let b = add_agent(&app.store, t.tenant_id, "assistant", t.owner_id).await;
    app.store
        .engine()
        .set_scope(
            t.tenant_id,
            t.agent_id,
            scope(vec![b.to_string()]),
            t.owner_id,
        )
        .await
        .unwrap();
    let owner = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let owner = owner["access_token"].as_str().unwrap().to_string();
    let mut a = Client::stateless(&app, &t.slug, t.api_key.expose());

    let first = a
        .tool(
            "authorize_action",
            deploy("payments-api", 30, json!({"v": 1}), "idem-1"),
        )
        .await;
    assert_eq!(first["structuredContent"]["decision"], "ALLOWED", "{first}");
    let recorded = decisions(&app, &owner).await;
    // The same key for something else: another resource (out of scope, even), another
    // spend, other arguments.
    for other in [
        deploy("billing-api", 30, json!({"v": 1}), "idem-1"),
        deploy("payments-api", 900, json!({"v": 1}), "idem-1"),
        deploy("payments-api", 30, json!({"v": 2}), "idem-1"),
    ] {
        let r = a.tool("authorize_action", other).await;
        assert_eq!(refusal(&r), Some("idempotency_conflict"), "{r}");
        let message = r["structuredContent"]["message"].as_str().unwrap();
        assert!(message.contains("idem-1"), "{message}");
    }
    assert_eq!(
        decisions(&app, &owner).await,
        recorded,
        "a conflict records nothing"
    );
    // A genuine retry (arguments in another key order) replays the first answer.
    let again = a
        .tool(
            "authorize_action",
            deploy("payments-api", 30, json!({"v": 1}), "idem-1"),
        )
        .await;
    assert_eq!(again["structuredContent"]["replayed"], true, "{again}");
    for field in ["authorization_id", "seq", "record_hash", "signature"] {
        assert_eq!(
            again["structuredContent"][field],
            first["structuredContent"][field]
        );
    }
    // Spent once: 970 of 1,000 left.
    let r = a
        .tool(
            "authorize_action",
            deploy("payments-api", 971, json!({}), "idem-2"),
        )
        .await;
    assert_eq!(refusal(&r), Some("budget_exceeded"), "{r}");

    // Outcome reports.
    let auth = first["structuredContent"]["authorization_id"].clone();
    let report = |success: bool, key: &str| {
        json!({"authorization_id": auth, "success": success, "actual_spend": 30,
               "idempotency_key": key})
    };
    let r = a.tool("report_outcome", report(true, "out-1")).await;
    assert_eq!(r["isError"], false, "{r}");
    let r2 = a.tool("report_outcome", report(false, "out-1")).await;
    assert_eq!(refusal(&r2), Some("idempotency_conflict"), "{r2}");
    let r3 = a.tool("report_outcome", report(true, "out-1")).await;
    assert_eq!(
        r3["structuredContent"]["seq"], r["structuredContent"]["seq"],
        "{r3}"
    );

    // Delegations.
    let delegate = |limit: i64| json!({"assignee_agent_id": b, "spend_limit": limit, "idempotency_key": "d-1"});
    let d = a.tool("delegate_task", delegate(100)).await;
    assert_eq!(d["isError"], false, "{d}");
    let d2 = a.tool("delegate_task", delegate(200)).await;
    assert_eq!(refusal(&d2), Some("idempotency_conflict"), "{d2}");
    let d3 = a.tool("delegate_task", delegate(100)).await;
    assert_eq!(d3["structuredContent"]["replayed"], true, "{d3}");
    assert_eq!(
        d3["structuredContent"]["task_id"],
        d["structuredContent"]["task_id"]
    );
}

#[tokio::test]
async fn concurrent_uses_of_one_key_decide_once() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Retries at once").await;
    app.store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(vec![]), t.owner_id)
        .await
        .unwrap();
    let owner = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let owner = owner["access_token"].as_str().unwrap().to_string();
    // Twelve copies of one request and twelve of another, all under one key, at once.
    let asks = (0..24).map(|i| {
        let (app, slug, key) = (&app, t.slug.clone(), t.api_key.expose().to_string());
        async move {
            let spend = if i % 2 == 0 { 10 } else { 20 };
            let mut c = Client::stateless(app, &slug, &key);
            let r = c
                .tool(
                    "authorize_action",
                    deploy("payments-api", spend, json!({}), "same"),
                )
                .await;
            (spend, r)
        }
    });
    let results = join_all(asks).await;
    let decided: Vec<&Value> = results
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r["isError"] == false)
        .collect();
    let ids: std::collections::HashSet<String> = decided
        .iter()
        .map(|r| r["structuredContent"]["authorization_id"].to_string())
        .collect();
    assert_eq!(ids.len(), 1, "one decision: {results:?}");
    let winner = results
        .iter()
        .find(|(_, r)| r["isError"] == false)
        .map(|(s, _)| *s)
        .unwrap();
    for (spend, r) in &results {
        if *spend == winner {
            assert_eq!(r["structuredContent"]["decision"], "ALLOWED", "{r}");
        } else {
            assert_eq!(refusal(r), Some("idempotency_conflict"), "{r}");
        }
    }
    assert_eq!(decisions(&app, &owner).await, 1);
}
