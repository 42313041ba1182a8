//! "Which agent authorized that action?": the ledger explorer finds a decision by agent and
//! action, and **Verify** checks it in the browser. After the stored record is edited behind
//! Charter's back (as a superuser), Verify says it fails.

use std::time::Duration;

use charter_tests::browser::Browser;
use charter_tests::mcp::Client;
use charter_tests::{execute, scenario_tenant, spawn_app, superuser};
use serde_json::json;

use super::log_in;

#[tokio::test]
async fn the_explorer_finds_a_decision_and_verifies_it_in_the_browser() {
    let app = spawn_app().await;
    let s = scenario_tenant(&app.store, "Explorer").await;
    let t = &s.t;
    let mut agent = Client::new(&app, &t.slug, t.api_key.expose());
    agent.initialize().await;
    // Noise first, then the decision to find.
    for i in 0..30 {
        let r = agent
            .tool(
                "authorize_action",
                json!({"action": "read", "resource_type": "Document", "resource_id": format!("doc-{i}")}),
            )
            .await;
        assert!(r["structuredContent"]["seq"].is_u64(), "{r}");
    }
    let found = agent
        .tool(
            "authorize_action",
            json!({"action": "deploy", "resource_type": "Service", "resource_id": "payments-api",
                   "spend": 1, "arguments": {"version": "2.4.1"}}),
        )
        .await;
    let seq = found["structuredContent"]["seq"].as_u64().unwrap();

    let b = Browser::start().await;
    b.window(1280, 1000).await;
    log_in(&b, &app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    b.follow("nav a[href='/app/ledger']").await;
    b.fill("#f-actor", &t.agent_id.to_string()).await;
    b.fill("#f-action", "deploy").await;
    b.follow("form.filters button[type=submit]").await;
    let rows = b.texts("tbody tr").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].starts_with(&seq.to_string()), "{rows:?}");
    b.screenshot("ledger-filtered").await;

    b.follow(&format!("a[href='/app/ledger/{seq}']")).await;
    b.wait_text(
        "h1",
        &format!("Ledger record {seq}"),
        Duration::from_secs(10),
    )
    .await;
    b.click("#verify").await;
    let verdict = b
        .wait_text("#verify-result", "Verified", Duration::from_secs(10))
        .await;
    assert!(verdict.contains("inclusion"), "{verdict}");
    b.screenshot("ledger-entry-verified").await;

    // A superuser edits the record's text: the hash no longer matches.
    let su = superuser().await;
    execute(
        &su,
        &format!(
            "DO $$ BEGIN
               SET LOCAL session_replication_role = replica;
               UPDATE ledger_records SET record = replace(record, '2.4.1', '2.4.2')
               WHERE tenant_id = '{}' AND seq = {seq};
             END $$",
            t.tenant_id
        ),
        vec![],
    )
    .await
    .unwrap();
    b.goto(&app.url(&format!("/app/ledger/{seq}"))).await;
    assert!(b.text("#record").await.contains("2.4.2"));
    b.click("#verify").await;
    let verdict = b
        .wait_text("#verify-result", "failed", Duration::from_secs(10))
        .await;
    assert!(verdict.contains("changed after it was signed"), "{verdict}");
    b.screenshot("ledger-entry-tampered").await;

    // Keyset pages: the next page starts below the last seq shown, with the filters kept.
    b.goto(&app.url("/app/ledger?kind=decision")).await;
    let first: Vec<String> = b.texts("tbody tr td:first-child").await;
    assert_eq!(first.len(), 31);
    b.goto(&app.url(&format!(
        "/app/ledger?kind=decision&action=read&before={}",
        seq
    )))
    .await;
    assert_eq!(b.texts("tbody tr").await.len(), 30);
    assert!(b.console_errors().await.is_empty());
    b.quit().await;
}
