//! An owner's administration in the browser: invite a person (the link shown once) who then
//! sets a password and logs in; a tenant API token shown once and revoked; a webhook
//! endpoint added, tested and removed; tenant policies validated (errors at line and
//! column), saved and seen by the simulator; an Article 12 bundle made and downloaded.

use std::time::Duration;

use charter_tests::browser::Browser;
use charter_tests::{spawn_app, tenant};
use serde_json::json;

use super::{PASSWORD, log_in, log_out};

#[tokio::test]
async fn people_tokens_webhooks_policies_and_exports() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Admin").await;
    let b = Browser::start().await;
    b.window(1280, 1000).await;
    log_in(&b, &app, &t.slug, &t.owner_email, t.owner_password.expose()).await;

    // A person, invited.
    b.follow("nav a[href='/app/settings']").await;
    let email = format!("approver@{}.example", t.slug);
    b.fill("#p-email", &email).await;
    b.fill("#p-name", "Ada Approver").await;
    b.click("form[action='/app/people'] input[value=approver]")
        .await;
    b.follow("form[action='/app/people'] button[type=submit]")
        .await;
    let link = b.text("#invitation").await;
    assert!(link.contains("/app/invite?token=chtr_inv_"), "{link}");
    assert!(b.text("main").await.contains("Ada Approver"));

    // A token, shown once, then revoked.
    b.fill("#t-name", "ci pipeline").await;
    b.click("form[action='/app/tokens'] input[value=viewer]")
        .await;
    b.follow("form[action='/app/tokens'] button[type=submit]")
        .await;
    let token = b.text("#new-token").await;
    assert!(token.starts_with("chtr_at_"), "{token}");
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    b.screenshot("settings-token-issued").await;
    b.follow("form[action^='/app/tokens/'] button").await;
    b.wait_text(".flash", "revoked", Duration::from_secs(10))
        .await;
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);

    // A webhook endpoint: its secret shown once, a test sent, then removed.
    b.goto(&app.url("/app/webhooks")).await;
    b.fill("#w-url", "https://hooks.example.com/charter").await;
    b.fill("#w-desc", "on-call").await;
    b.follow("form[action='/app/webhooks'] button[type=submit]")
        .await;
    assert!(b.text("#webhook-secret").await.starts_with("whsec_"));
    b.follow("form[action$='/test'] button").await;
    b.wait_text(".flash", "webhook.test", Duration::from_secs(10))
        .await;
    b.screenshot("webhooks").await;
    b.follow("form[action$='/delete'] button").await;
    b.wait_text(".flash", "removed", Duration::from_secs(10))
        .await;
    assert!(
        app.store
            .admin()
            .webhooks(t.tenant_id)
            .await
            .unwrap()
            .is_empty()
    );

    // Policies: a Cedar error names its line; a valid forbid rule is saved, and the
    // simulator on the agent's page answers with it.
    b.follow("nav a[href='/app/policies']").await;
    b.fill(
        "#policies",
        "forbid (principal, action, resource)\nwhen { nonsense };",
    )
    .await;
    b.follow("form[action='/app/policies'] button[value=validate]")
        .await;
    let error = b.text("#policies-error").await;
    assert!(error.contains("line 2"), "{error}");
    b.console_errors().await; // the refusal's 422
    b.fill(
        "#policies",
        "forbid (principal, action == Charter::Action::\"delete\", resource is Charter::Database);",
    )
    .await;
    b.follow("form[action='/app/policies'] button[value=validate]")
        .await;
    b.wait_text(".flash", "Valid", Duration::from_secs(10))
        .await;
    b.follow("form[action='/app/policies'] button[value=save]")
        .await;
    b.wait_text(".flash", "saved", Duration::from_secs(10))
        .await;
    b.screenshot("policies").await;
    let scope = json!({"grants": [{"actions": ["write"], "resource_type": "Database"}]});
    app.store
        .engine()
        .set_scope(
            t.tenant_id,
            t.agent_id,
            serde_json::from_value(scope).unwrap(),
            t.owner_id,
        )
        .await
        .unwrap();
    b.goto(&app.url(&format!("/app/agents/{}", t.agent_id)))
        .await;
    for (action, expected) in [("update", "ALLOWED"), ("delete", "BLOCKED")] {
        b.fill("#sim-action", action).await;
        b.fill("#sim-type", "Database").await;
        b.fill("#sim-id", "customers").await;
        b.follow("form[action$='/simulate'] button").await;
        let answer = b.text("#simulation").await;
        assert!(answer.starts_with(expected), "{action}: {answer}");
    }
    b.screenshot("agent-simulated").await;

    // An evidence bundle for the agent, made by the worker, downloaded as a zip.
    b.follow("nav a[href='/app/exports']").await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    b.click(&format!("input[name=agents][value='{}']", t.agent_id))
        .await;
    for field in ["#x-from", "#x-to"] {
        b.execute(
            "document.querySelector(arguments[0]).value = arguments[1];",
            vec![json!(field), json!(today)],
        )
        .await;
    }
    b.follow("form[action='/app/exports'] button[type=submit]")
        .await;
    b.wait_text(".flash", "worker", Duration::from_secs(10))
        .await;
    assert_eq!(app.store.worker().run_due_exports().await.unwrap(), 1);
    b.goto(&app.url("/app/exports")).await;
    b.screenshot("exports").await;
    let zip = b
        .execute(
            "const a = document.querySelector('a[href$=\"/download\"]');
             return fetch(a.href).then(r => r.arrayBuffer().then(buf =>
                 [r.status, r.headers.get('content-type'), Array.from(new Uint8Array(buf.slice(0, 2)))]));",
            vec![],
        )
        .await;
    assert_eq!(zip, json!([200, "application/zip", [80, 75]]), "a zip (PK)");

    // The invited person sets a password and is in, as an approver.
    log_out(&b).await;
    let path = &link[link.find("/app/invite").unwrap()..];
    b.goto(&app.url(path)).await;
    b.fill("#password", PASSWORD).await;
    b.follow("form[action='/app/invite'] button[type=submit]")
        .await;
    b.wait_text("h1", "Overview", Duration::from_secs(10)).await;
    assert!(b.text("header").await.contains(&email));
    assert!(b.text("header").await.contains("approver"));
    // The link works once.
    log_out(&b).await;
    b.goto(&app.url(path)).await;
    assert!(b.text("main").await.contains("unknown, used or expired"));
    b.quit().await;
}
