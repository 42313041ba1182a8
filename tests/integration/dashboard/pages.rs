//! Every page, on a tenant seeded with the demo example (as `charter up` seeds it): it
//! renders, breaks no rule of the Content-Security-Policy (a violation is a console error),
//! shows the example's decisions of each outcome, and is saved as a screenshot.

use std::time::Duration;

use charter_tests::browser::Browser;
use charter_tests::{spawn_app, tenant};

use super::log_in;

#[tokio::test]
async fn every_page_renders_the_demo_example_and_is_screenshotted() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Pages").await;
    app.store
        .admin()
        .seed_demo(t.tenant_id, t.owner_id, t.agent_id)
        .await
        .unwrap();
    let b = Browser::start().await;
    b.window(1366, 1000).await;
    b.goto(&app.url("/app/login")).await;
    b.screenshot("login").await;
    log_in(&b, &app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    // The newcomer sees each outcome at once, and something to approve.
    let overview = b.text("main").await;
    for outcome in ["ALLOWED", "BLOCKED", "PENDING_APPROVAL"] {
        assert!(overview.contains(outcome), "the overview lacks {outcome}");
    }
    assert_eq!(b.text("#waiting").await, "2", "the review and the refund");
    b.screenshot("overview").await;

    let agents = app.store.admin().agents(t.tenant_id).await.unwrap();
    let initiatives = app.store.admin().initiatives(t.tenant_id).await.unwrap();
    let pages = [
        ("inbox", "/app/inbox".to_string(), "Approvals inbox"),
        ("initiatives", "/app/initiatives".into(), "Initiatives"),
        (
            "initiative",
            format!("/app/initiatives/{}", initiatives[0].id),
            "Release notes 2.4",
        ),
        ("agents", "/app/agents".into(), "Agents"),
        (
            "agent",
            format!("/app/agents/{}", agents[0].id),
            agents[0].name.as_str(),
        ),
        ("ledger", "/app/ledger".into(), "Ledger"),
        ("ledger-entry", "/app/ledger/1".into(), "Ledger record 1"),
        ("violations", "/app/violations".into(), "Violations"),
        ("breakers", "/app/breakers".into(), "Breakers"),
        ("settings", "/app/settings".into(), "Settings"),
        ("policies", "/app/policies".into(), "Policies"),
        ("webhooks", "/app/webhooks".into(), "Webhooks"),
        ("exports", "/app/exports".into(), "Evidence exports"),
        ("billing", "/app/billing".into(), "Billing"),
    ];
    for (name, path, heading) in pages {
        b.goto(&app.url(&path)).await;
        b.wait_text("h1", heading, Duration::from_secs(10)).await;
        b.screenshot(name).await;
        let errors = b.console_errors().await;
        assert!(errors.is_empty(), "{path}: {errors:?}");
    }
    // The inbox shows the refund's exact arguments and their digest.
    b.goto(&app.url("/app/inbox")).await;
    let approval = b.text("section[id^=approval-]").await;
    assert!(
        approval.contains("refund-1042") && approval.contains("duplicate charge"),
        "{approval}"
    );
    assert!(approval.contains("hmac-sha256:"), "{approval}");
    // The demo's refund can be approved by the owner in one click.
    b.follow("section[id^=approval-] button[value=approve]")
        .await;
    b.wait_text(".flash", "Approved", Duration::from_secs(10))
        .await;
    // A scope that does not parse is refused with its line and column, and kept.
    b.goto(&app.url(&format!("/app/agents/{}", t.agent_id)))
        .await;
    b.fill(
        "#scope",
        "{\n  \"grants\": [\n    {\"actions\": [\"read\"] \"resource_type\": \"Ticket\"}\n  ]\n}",
    )
    .await;
    b.follow("form[action$='/scope'] button[type=submit]").await;
    let error = b.text("#scope-error").await;
    assert!(error.starts_with("line 3, column"), "{error}");
    // One that parses but names an unknown type is refused by the store's validation.
    b.fill(
        "#scope",
        "{\"grants\": [{\"actions\": [\"read\"], \"resource_type\": \"Spaceship\"}]}",
    )
    .await;
    b.follow("form[action$='/scope'] button[type=submit]").await;
    let error = b.text("#scope-error").await;
    assert!(error.contains("Spaceship"), "{error}");
    b.screenshot("agent-scope-refused").await;
    b.quit().await;
}
