//! Webhook notifications end to end: endpoints managed over REST (each change a ledger
//! record), events from the outbox delivered to a real receiver on loopback with Standard
//! Webhooks signatures checked by the specification's reference library (npm
//! `standardwebhooks`), retries with the same `webhook-id`, dead letters, a worker killed
//! mid-delivery, and the bad input each refused with a 422 naming its field.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use charter_core::tenant::Role;
use charter_core::webhook::target::Targets;
use charter_store::Store;
use charter_store::engine::views::LedgerFilter;
use charter_tests::receiver::{Behaviour, Received, Receiver};
use charter_tests::rest::{Reply, call, staff};
use charter_tests::{
    TestApp, charter_cmd, execute, outbox, spawn_app, spawn_app_with, superuser, test_config,
};
use charter_worker::jobs::webhooks::{Sender, Tally, resolve_public, run_tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

const ALL_EVENTS: [&str; 6] = [
    "violation.found",
    "breaker.tripped",
    "review.requested",
    "action_approval.requested",
    "self_audit.completed",
    "trial.ending",
];

async fn create(app: &TestApp, token: &str, url: &str, events: &[&str]) -> Reply {
    call(
        app,
        Some(token),
        "POST",
        "/api/v1/webhooks",
        Some(json!({"url": url, "description": "on-call", "events": events})),
    )
    .await
}

/// Creates an endpoint; returns its id and secret.
async fn endpoint(app: &TestApp, token: &str, url: &str, events: &[&str]) -> (Uuid, String) {
    let r = create(app, token, url, events).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    (
        r.body["webhook"]["id"].as_str().unwrap().parse().unwrap(),
        r.body["secret"].as_str().unwrap().to_string(),
    )
}

fn sender(timeout: Duration) -> Arc<Sender> {
    Arc::new(Sender::new(Targets::Any, timeout).unwrap())
}

/// Runs the webhooks job for one tenant (other tests' tenants are left alone).
async fn deliver(store: &Store, sender: &Arc<Sender>, tenant: Uuid) -> Tally {
    run_tenant(
        store,
        sender,
        tenant,
        Instant::now() + Duration::from_secs(30),
    )
    .await
    .unwrap()
}

/// Makes a waiting delivery due now (as if its back-off had passed).
async fn make_due(delivery: &str) {
    execute(
        &superuser().await,
        "UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = $1::uuid AND status = 'pending'",
        vec![delivery.into()],
    )
    .await
    .unwrap();
}

async fn deliveries(app: &TestApp, token: &str, webhook: Uuid, query: &str) -> Vec<Value> {
    let r = call(
        app,
        Some(token),
        "GET",
        &format!("/api/v1/webhooks/{webhook}/deliveries{query}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["deliveries"].as_array().unwrap().clone()
}

/// Checks every message with the Standard Webhooks reference library; returns their types.
async fn verify_independently(secret: &str, seen: &[Received]) -> Vec<String> {
    let messages: Vec<Value> = seen
        .iter()
        .map(|m| json!({"headers": m.headers, "body": m.body}))
        .collect();
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients");
    let mut child = tokio::process::Command::new("node")
        .arg("verify-webhook.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (run scripts/clients-setup first)");
    let input = json!({"secret": secret, "messages": messages}).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "verification failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| l.trim_start_matches("ok ").to_string())
        .collect()
}

#[tokio::test]
async fn events_are_delivered_signed_and_verify_with_the_reference_library() {
    // Trials are announced only when billing is on (no Stripe call is made here).
    let app = spawn_app_with(test_config(&[
        ("CHARTER_STRIPE_SECRET_KEY", "sk_test_unused"),
        ("CHARTER_STRIPE_WEBHOOK_SECRET", "whsec_unused"),
        ("CHARTER_STRIPE_API_BASE", "http://127.0.0.1:9"),
    ]))
    .await;
    let s = staff(&app, "Webhooks").await;
    let tenant = s.tenant.tenant_id;
    let rx = Receiver::start(Behaviour::Ok).await;
    let (id, secret) = endpoint(&app, s.owner(), &rx.url, &ALL_EVENTS).await;
    assert!(secret.starts_with("whsec_"));
    // The secret is never shown again.
    let listed = call(&app, Some(s.owner()), "GET", "/api/v1/webhooks", None).await;
    assert_eq!(listed.body[0]["id"], id.to_string());
    assert!(!listed.body.to_string().contains(&secret));

    // Three events: the daily self-audit, a trial about to end, and a test message.
    app.store.worker().self_audit(tenant).await.unwrap();
    execute(
        &superuser().await,
        "UPDATE tenants SET trial_ends_at = now() + interval '2 days' WHERE id = $1",
        vec![tenant.into()],
    )
    .await
    .unwrap();
    app.store
        .worker()
        .announce_ending_trials(Duration::from_secs(3 * 86_400))
        .await
        .unwrap();
    // Announced once per end date.
    app.store
        .worker()
        .announce_ending_trials(Duration::from_secs(3 * 86_400))
        .await
        .unwrap();
    assert_eq!(outbox(&app.store, tenant, "trial.ending").await.len(), 1);
    let test = call(
        &app,
        Some(s.owner()),
        "POST",
        &format!("/api/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{:?}", test.body);

    let tally = deliver(&app.store, &sender(Duration::from_secs(5)), tenant).await;
    assert_eq!(tally.delivered, 3, "{tally:?}");
    let seen = rx.wait_for(3, Duration::from_secs(5)).await;
    let mut types = verify_independently(&secret, &seen).await;
    types.sort();
    assert_eq!(
        types,
        ["self_audit.completed", "trial.ending", "webhook.test"]
    );
    for m in &seen {
        assert_eq!(m.headers["content-type"], "application/json");
        assert!(m.headers["webhook-id"].starts_with("msg_"));
        let body: Value = serde_json::from_str(&m.body).unwrap();
        assert!(
            body["timestamp"].is_string() && body["data"].is_object(),
            "{body}"
        );
    }
    // Each delivery is listed as delivered, with its one attempt and the same message id.
    let list = deliveries(&app, s.owner(), id, "").await;
    assert_eq!(list.len(), 3);
    for d in &list {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempt_log"][0]["status_code"], 200);
        assert!(
            seen.iter()
                .any(|m| m.headers["webhook-id"] == d["message_id"].as_str().unwrap())
        );
    }
    // Nothing is sent twice.
    assert_eq!(
        deliver(&app.store, &sender(Duration::from_secs(5)), tenant).await,
        Tally::default()
    );
    assert_eq!(rx.seen().len(), 3);

    // Creating, changing and deleting are ledger records; the URL itself stays out of the
    // ledger (receivers often carry a secret in it).
    let r = call(
        &app,
        Some(s.owner()),
        "PATCH",
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({"events": ["violation.found"], "enabled": false})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["events"], json!(["violation.found"]));
    let r = call(
        &app,
        Some(s.owner()),
        "DELETE",
        &format!("/api/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for kind in ["webhook.created", "webhook.updated", "webhook.deleted"] {
        let page = app
            .store
            .engine()
            .query_ledger(
                tenant,
                LedgerFilter {
                    kind: Some(kind.into()),
                    limit: 5,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.entries.len(), 1, "{kind}");
        let text = serde_json::to_string(&page.entries[0]).unwrap();
        assert!(!text.contains("/hooks/charter"), "{text}");
    }
    let gone = call(
        &app,
        Some(s.owner()),
        "GET",
        &format!("/api/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // Only administrators manage webhooks.
    let r = create(&app, s.token(Role::Approver), &rx.url, &["trial.ending"]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_event_delivered_once_with_the_same_id() {
    let app = spawn_app().await;
    let s = staff(&app, "Webhook retries").await;
    let tenant = s.tenant.tenant_id;
    let rx = Receiver::start(Behaviour::FailFirst(2)).await;
    let (id, secret) = endpoint(&app, s.owner(), &rx.url, &["self_audit.completed"]).await;
    app.store.worker().self_audit(tenant).await.unwrap();
    let sender = sender(Duration::from_secs(5));
    let tally = deliver(&app.store, &sender, tenant).await;
    assert_eq!((tally.dispatched, tally.retrying), (1, 1), "{tally:?}");
    let d = &deliveries(&app, s.owner(), id, "").await[0];
    assert_eq!(d["status"], "pending");
    // The first retry waits about five seconds (±10 %), then 5 minutes: time is moved on.
    let wait = chrono::DateTime::parse_from_rfc3339(d["next_attempt_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
        - chrono::Utc::now();
    assert!((3..=6).contains(&wait.num_seconds()), "{wait}");
    let delivery = d["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        make_due(&delivery).await;
        deliver(&app.store, &sender, tenant).await;
    }
    let seen = rx.wait_for(3, Duration::from_secs(5)).await;
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen.iter().map(|m| m.answered).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(200)]
    );
    // Every attempt carries the same id, and each signature (over its own timestamp) verifies.
    assert!(
        seen.iter()
            .all(|m| m.headers["webhook-id"] == seen[0].headers["webhook-id"])
    );
    verify_independently(&secret, &seen).await;
    let d = &deliveries(&app, s.owner(), id, "").await[0];
    assert_eq!(d["status"], "delivered", "{d}");
    assert_eq!(d["attempts"], 3);
    let codes: Vec<&Value> = d["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(200)]);
    // Delivered is final: nothing more goes out.
    make_due(&delivery).await;
    deliver(&app.store, &sender, tenant).await;
    assert_eq!(rx.seen().len(), 3);
}

#[tokio::test]
async fn a_receiver_that_never_answers_ends_in_the_dead_letters() {
    let app = spawn_app().await;
    let s = staff(&app, "Webhook dead").await;
    let tenant = s.tenant.tenant_id;
    let rx = Receiver::start(Behaviour::HangFirst(usize::MAX)).await;
    let (id, _) = endpoint(&app, s.owner(), &rx.url, &["trial.ending"]).await;
    let r = call(
        &app,
        Some(s.owner()),
        "POST",
        &format!("/api/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    let delivery = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.body["message_id"],
        format!("msg_{}", delivery.replace('-', ""))
    );
    let sender = sender(Duration::from_secs(1));
    for _ in 0..20 {
        let d = &deliveries(&app, s.owner(), id, "").await[0];
        if d["status"] == "dead" {
            break;
        }
        make_due(&delivery).await;
        deliver(&app.store, &sender, tenant).await;
    }
    let dead = deliveries(&app, s.owner(), id, "?status=dead").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let d = &dead[0];
    assert_eq!(d["attempts"], 8, "{d}");
    assert!(d["next_attempt_at"].is_null());
    for a in d["attempt_log"].as_array().unwrap() {
        assert!(a["status_code"].is_null());
        assert!(a["error"].as_str().unwrap().contains("timed out"), "{a}");
    }
    assert!(
        deliveries(&app, s.owner(), id, "?status=pending")
            .await
            .is_empty()
    );
    assert_eq!(rx.seen().len(), 8);
    let r = call(
        &app,
        Some(s.owner()),
        "GET",
        &format!("/api/v1/webhooks/{id}/deliveries?status=lost"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_worker_killed_mid_delivery_loses_nothing() {
    let app = spawn_app().await;
    let s = staff(&app, "Webhook kill").await;
    let tenant = s.tenant.tenant_id;
    let rx = Receiver::start(Behaviour::HangFirst(1)).await;
    let (id, secret) = endpoint(&app, s.owner(), &rx.url, &["self_audit.completed"]).await;
    app.store.worker().self_audit(tenant).await.unwrap();
    // A real worker process takes the delivery; the receiver holds the request open.
    let mut worker = charter_cmd(&app.config)
        .arg("worker")
        .env("CHARTER_WEBHOOK_TIMEOUT_SECS", "60")
        .env("CHARTER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    rx.wait_for(1, Duration::from_secs(30)).await;
    worker.start_kill().unwrap();
    worker.wait().await.unwrap();
    let d = &deliveries(&app, s.owner(), id, "").await[0];
    assert_eq!(d["status"], "pending", "{d}");
    assert_eq!(d["attempts"], 1);
    assert!(d["attempt_log"][0]["finished_at"].is_null(), "{d}");
    // When its claim lapses (moved on here), the next worker sends it again, same id.
    make_due(d["id"].as_str().unwrap()).await;
    deliver(&app.store, &sender(Duration::from_secs(5)), tenant).await;
    let seen = rx.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(seen[0].headers["webhook-id"], seen[1].headers["webhook-id"]);
    assert_eq!(seen[1].answered, Some(200));
    verify_independently(&secret, &seen).await;
    let d = &deliveries(&app, s.owner(), id, "").await[0];
    assert_eq!(d["status"], "delivered", "{d}");
    assert_eq!(d["attempts"], 2);
}

#[tokio::test]
async fn bad_webhook_input_is_a_422_naming_the_field() {
    let dev = spawn_app().await;
    let s = staff(&dev, "Webhook input").await;
    for (body, field) in [
        (
            json!({"url": "not a url", "events": ["trial.ending"]}),
            "url:",
        ),
        (
            json!({"url": "ftp://hooks.example.com/", "events": ["trial.ending"]}),
            "url:",
        ),
        (
            json!({"url": "https://hooks.example.com/", "events": ["trial.over"]}),
            "events:",
        ),
        (
            json!({"url": "https://hooks.example.com/", "events": []}),
            "events:",
        ),
        (
            json!({"url": "https://hooks.example.com/", "events": ["webhook.test"]}),
            "events:",
        ),
        (
            json!({"url": "https://hooks.example.com/", "events": ["trial.ending"], "description": "x".repeat(501)}),
            "description:",
        ),
    ] {
        let r = call(
            &dev,
            Some(s.owner()),
            "POST",
            "/api/v1/webhooks",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            r.body
        );
        assert!(
            r.body["message"].as_str().unwrap().starts_with(field),
            "{body}: {:?}",
            r.body
        );
    }
    // Development takes a local receiver over http …
    let r = create(
        &dev,
        s.owner(),
        "http://127.0.0.1:9/hook",
        &["trial.ending"],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["webhook"]["id"].as_str().unwrap().to_string();
    let r = call(
        &dev,
        Some(s.owner()),
        "PATCH",
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({"events": ["nope"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = call(
        &dev,
        Some(s.owner()),
        "PATCH",
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("nothing to change")
    );

    // … production only public https hosts.
    let prod = spawn_app_with(test_config(&[("CHARTER_MODE", "production")])).await;
    let s = staff(&prod, "Webhook input prod").await;
    for url in [
        "http://hooks.example.com/",
        "https://127.0.0.1/hook",
        "https://10.0.0.7/hook",
        "https://192.168.1.20/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://localhost/hook",
    ] {
        let r = create(&prod, s.owner(), url, &["trial.ending"]).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {:?}",
            r.body
        );
        assert!(
            r.body["message"].as_str().unwrap().starts_with("url:"),
            "{url}: {:?}",
            r.body
        );
    }
    let r = create(
        &prod,
        s.owner(),
        "https://hooks.example.com/charter",
        &["trial.ending"],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn a_host_name_that_resolves_to_a_private_address_is_not_reached_in_production() {
    // A public-looking name can point anywhere: the production sender's resolver keeps
    // only public addresses, at connection time.
    let err = resolve_public("localhost").await.unwrap_err();
    assert!(err.contains("local, private or reserved"), "{err}");
    let none = resolve_public("no-such-host.invalid").await.unwrap_err();
    assert!(!none.is_empty());
}
