//! An agent asks for a review over MCP; a person approves it in the browser; the agent's
//! `await_decision` returns the approval. The producer's own person cannot approve it: the
//! inbox does not offer it, and a hand-made form is refused with `self_approval`, shown.

use std::time::Duration;

use charter_core::tenant::Role;
use charter_tests::browser::Browser;
use charter_tests::mcp::Client;
use charter_tests::{SCENARIO_GATE, SCENARIO_TEMPLATE, scenario_tenant, spawn_app};
use serde_json::{Value, json};

use super::{PASSWORD, log_in, log_out, person, post_form};

#[tokio::test]
async fn a_review_requested_over_mcp_is_approved_in_the_browser() {
    let app = spawn_app().await;
    let s = scenario_tenant(&app.store, "Inbox").await;
    let t = &s.t;
    let approver = person(&app, t.tenant_id, t.owner_id, Role::Approver).await;
    let mut producer = Client::new(&app, &t.slug, t.api_key.expose());
    producer.initialize().await;
    let ok = |r: Value| {
        assert_eq!(r["isError"], false, "{r}");
        r["structuredContent"].clone()
    };
    let initiative = ok(producer
        .tool(
            "create_initiative",
            json!({"name": "payments v2", "template": SCENARIO_TEMPLATE, "risk": 40}),
        )
        .await)["initiative_id"]
        .clone();
    let digest = format!("sha256:{}", "cd".repeat(32));
    let artifact = ok(producer
        .tool(
            "register_artifact",
            json!({"kind": "code", "digest": digest, "uri": "git://payments@v2", "initiative_id": initiative}),
        )
        .await)["artifact_id"]
        .clone();
    let review = ok(producer
        .tool(
            "request_review",
            json!({"artifact_id": artifact, "gate": SCENARIO_GATE}),
        )
        .await)["review_id"]
        .as_str()
        .unwrap()
        .to_string();
    let card = format!("#review-{review}");

    let b = Browser::start().await;
    b.window(1280, 1000).await;
    // The owner answers for the producer agent: the review is not offered to them...
    log_in(&b, &app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    b.goto(&app.url("/app/inbox")).await;
    assert_eq!(b.count(&card).await, 0);
    // ...and a hand-made verdict is refused, saying why.
    post_form(
        &b,
        &format!("/app/reviews/{review}/verdict"),
        &[("verdict", "approve"), ("digest", &digest)],
        true,
    )
    .await;
    let refusal = b.text(".flash.error").await;
    assert!(refusal.contains("self_approval"), "{refusal}");
    b.screenshot("self-approval-refused").await;
    b.console_errors().await; // the refusal's 403, reported by the browser
    b.goto(&app.url("/app")).await;
    log_out(&b).await;

    // Another person sees it with its provenance and approves it.
    log_in(&b, &app, &t.slug, &approver, PASSWORD).await;
    assert_eq!(b.text("#waiting").await, "1");
    b.follow("nav a[href='/app/inbox']").await;
    let shown = b.text(&card).await;
    assert!(shown.contains(&digest), "{shown}");
    assert!(
        shown.contains("git://payments@v2") || shown.contains("code"),
        "{shown}"
    );
    b.screenshot("inbox").await;
    // Enter in the comment adds a line; it does not submit (and so approve).
    b.fill(
        &format!("{card} textarea[name=comment]"),
        "checked the diff\u{E007}and the tests",
    )
    .await;
    b.follow(&format!("{card} button[value=approve]")).await;
    b.wait_text(".flash", "Approved", Duration::from_secs(10))
        .await;
    assert_eq!(b.count(&card).await, 0);

    let decided = ok(producer
        .tool(
            "await_decision",
            json!({"review_id": review, "timeout_secs": 5}),
        )
        .await);
    assert_eq!(
        (decided["decided"].clone(), decided["status"].clone()),
        (json!(true), json!("approved")),
        "{decided}"
    );
    // The verdict, with its comment, is a ledger record by the person.
    let records = app
        .store
        .engine()
        .query_ledger(
            t.tenant_id,
            charter_store::engine::views::LedgerFilter {
                kind: Some("review.approved".into()),
                limit: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .entries;
    assert_eq!(records.len(), 1);
    let entry = app
        .store
        .ledger()
        .ledger_entry(t.tenant_id, records[0].seq as u64)
        .await
        .unwrap();
    let record: Value = serde_json::from_str(entry.record.record.as_deref().unwrap()).unwrap();
    assert_eq!(
        record["payload"]["comment"],
        "checked the diff\nand the tests"
    );
    assert_eq!(record["actor"]["type"], "principal");
    // The refusal is on record as a violation.
    b.goto(&app.url("/app/violations?kind=self_approval")).await;
    assert!(b.text("tbody").await.contains("self_approval"));
    assert!(b.console_errors().await.is_empty());
    b.quit().await;
}
