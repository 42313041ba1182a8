//! A trial customer's first minutes: sign up, see the trial, create an agent, issue its key
//! (shown once), and use the key on MCP.

use std::time::Duration;

use charter_tests::browser::Browser;
use charter_tests::mcp::Client;
use charter_tests::{spawn_app_with, test_config};
use serde_json::json;
use uuid::Uuid;

use super::PASSWORD;

#[tokio::test]
async fn sign_up_see_the_trial_create_an_agent_and_use_its_key() {
    // Billing on (Stripe unreachable: nothing here needs it), so the trial is shown.
    let dead = format!("http://127.0.0.1:{}", charter_tests::free_port());
    let app = spawn_app_with(test_config(&[
        ("CHARTER_STRIPE_SECRET_KEY", "sk_test_dashboard"),
        ("CHARTER_STRIPE_WEBHOOK_SECRET", "whsec_dashboard"),
        ("CHARTER_STRIPE_API_BASE", &dead),
        (
            "CHARTER_BILLING_PLANS",
            "team price=price_team agents=25 decisions=100000",
        ),
    ]))
    .await;
    let b = Browser::start().await;
    b.window(1280, 900).await;
    let slug = format!("ui-{}", &Uuid::new_v4().simple().to_string()[..10]);

    b.goto(&app.url("/app/signup")).await;
    b.screenshot("signup").await;
    // A short password is refused next to its field; what was typed stays.
    b.fill("#tenant_name", "Acme Robotics").await;
    b.fill("#slug", &slug).await;
    b.fill("#email", &format!("owner@{slug}.example")).await;
    b.fill("#password", "short").await;
    b.follow("form[action='/app/signup'] button[type=submit]")
        .await;
    let error = b.text("#password-error").await;
    assert!(error.contains("12"), "{error}");
    b.console_errors().await; // the refusal's 422, reported by the browser
    assert_eq!(
        b.execute("return document.getElementById('slug').value", vec![])
            .await,
        json!(slug)
    );
    b.fill("#password", PASSWORD).await;
    b.follow("form[action='/app/signup'] button[type=submit]")
        .await;
    b.wait_text("h1", "Overview", Duration::from_secs(10)).await;
    assert!(b.url().await.ends_with("/app?done=signed_up"));
    assert_eq!(b.text("#trial-days").await, "14 trial days left");
    assert!(b.text("#trial-banner").await.contains("14 days left"));
    b.screenshot("overview-new-tenant").await;

    // An agent, then its key: shown once, with a snippet for an MCP client.
    b.follow("nav a[href='/app/agents']").await;
    b.fill("#name", "support-bot").await;
    b.follow("form[action='/app/agents'] button[type=submit]")
        .await;
    b.wait_text("h1", "support-bot", Duration::from_secs(10))
        .await;
    b.fill("#label", "laptop").await;
    b.follow("#issue-key").await;
    let key = b.text("#new-key").await;
    assert!(key.starts_with("chtr_"), "{key}");
    assert!(b.text("#mcp-config").await.contains(&key));
    assert!(
        b.text("#mcp-config")
            .await
            .contains(&format!("/t/{slug}/mcp"))
    );
    b.screenshot("agent-key-issued").await;
    let here = b.url().await;
    b.goto(here.trim_end_matches("/keys")).await;
    assert_eq!(b.count("#new-key").await, 0, "a key is shown once only");
    assert!(
        b.text("main table").await.contains(&key[..12]),
        "its prefix is listed"
    );

    let mut agent = Client::new(&app, &slug, &key);
    agent.initialize().await;
    let context = agent.tool("get_context", json!({})).await;
    assert_eq!(context["isError"], false, "{context}");
    assert!(b.console_errors().await.is_empty());
    b.quit().await;
}
