//! Attacks tried against a running server: an API token that tries to act as more than it
//! is, a flood of made-up credentials meant to fail other tenants' decisions, and guesses
//! at a password in parallel.

use charter_core::ledger::Entry;
use charter_core::tenant::Role;
use charter_core::tenant_token::{Kind, generate};
use charter_tests::mcp::Client;
use charter_tests::rest::{PASSWORD, call, staff};
use charter_tests::{spawn_app, spawn_app_with, test_config};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn an_admin_token_of_an_owner_cannot_do_what_only_owners_do() {
    let app = spawn_app().await;
    let s = staff(&app, "Escalation").await;
    let owner = s.owner();
    let r = call(
        &app,
        Some(owner),
        "POST",
        "/api/v1/api-tokens",
        Some(json!({"name": "automation", "roles": ["admin"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let token = r.body["secret"].as_str().unwrap().to_string();
    let token_id = r.body["token"]["id"].as_str().unwrap().to_string();
    // A second owner to change or remove, and an admin to promote.
    let other_owner = call(
        &app,
        Some(owner),
        "POST",
        "/api/v1/users",
        Some(
            json!({"email": format!("co-owner@{}.example", s.tenant.slug), "roles": ["owner"],
                    "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(
        other_owner.status,
        StatusCode::CREATED,
        "{:?}",
        other_owner.body
    );
    let other_owner = other_owner.body["user"]["id"].as_str().unwrap().to_string();
    let admin = s.id(Role::Admin);
    let owner_only = [
        (
            "POST",
            "/api/v1/api-tokens".to_string(),
            Some(json!({"name": "x", "roles": ["owner"]})),
        ),
        (
            "POST",
            "/api/v1/users".to_string(),
            Some(
                json!({"email": format!("new-owner@{}.example", s.tenant.slug),
                        "roles": ["owner"], "password": PASSWORD}),
            ),
        ),
        (
            "PATCH",
            format!("/api/v1/users/{admin}"),
            Some(json!({"roles": ["owner"]})),
        ),
        (
            "PATCH",
            format!("/api/v1/users/{other_owner}"),
            Some(json!({"roles": ["viewer"]})),
        ),
        (
            "PATCH",
            format!("/api/v1/users/{other_owner}"),
            Some(json!({"status": "disabled"})),
        ),
        ("DELETE", format!("/api/v1/users/{other_owner}"), None),
    ];
    for (method, path, body) in &owner_only {
        let r = call(&app, Some(&token), method, path, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {:?}",
            r.body
        );
    }
    // The same requests as the owner's own session succeed: they are owner-only, not
    // impossible.
    for (method, path, body) in &owner_only[..3] {
        let r = call(&app, Some(owner), method, path, body.clone()).await;
        assert!(r.status.is_success(), "{method} {path}: {:?}", r.body);
    }
    // What the token does is recorded as the token's act, for its creator.
    let r = call(
        &app,
        Some(&token),
        "POST",
        "/api/v1/agents",
        Some(json!({"name": "made-by-token"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let entries = call(
        &app,
        Some(owner),
        "GET",
        "/api/v1/ledger/entries?kind=agent.created&limit=1",
        None,
    )
    .await;
    let seq = entries.body["entries"][0]["seq"].as_u64().unwrap();
    let entry = call(
        &app,
        Some(owner),
        "GET",
        &format!("/api/v1/ledger/entries/{seq}"),
        None,
    )
    .await;
    let record: Value = serde_json::from_str(entry.body["record"].as_str().unwrap()).unwrap();
    assert_eq!(
        record["actor"],
        json!({"type": "api_token", "id": token_id, "on_behalf_of": s.tenant.owner_id.to_string()})
    );
    assert_eq!(
        record["on_behalf_of"],
        format!("principal:{}", s.tenant.owner_id)
    );
}

#[tokio::test]
async fn made_up_credentials_and_foreign_work_do_not_fail_another_tenants_decisions() {
    let app = spawn_app().await;
    let t = charter_tests::tenant(&app.store, "Victim").await;
    let scope = charter_core::policy::Scope {
        grants: vec![charter_core::policy::Grant {
            actions: vec!["deploy".into()],
            resource_type: "Service".into(),
            id_pattern: "*".into(),
        }],
        ..Default::default()
    };
    app.store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope, t.owner_id)
        .await
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Attackers: refresh tokens and invitations naming tenants that do not exist, and —
    // standing for any tenant's failing work — ledger appends for tenants that do not exist,
    // queued on the same writer as the victim's decisions.
    let mut attackers = Vec::new();
    for i in 0..3 {
        let (app_url, stop) = (app.address.clone(), stop.clone());
        let store = app.store.clone();
        attackers.push(tokio::spawn(async move {
            let client = charter_tests::http().build().unwrap();
            let mut sent = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let nowhere = Uuid::new_v4();
                if i == 2 {
                    let _ = store.append(nowhere, Entry::default()).await;
                } else {
                    let kind = if i == 0 { Kind::Refresh } else { Kind::Invite };
                    let token = generate(kind, nowhere).unwrap().token.expose().to_string();
                    let (path, body) = match kind {
                        Kind::Refresh => ("auth/refresh", json!({"refresh_token": token})),
                        _ => (
                            "invitations/accept",
                            json!({"token": token, "password": PASSWORD}),
                        ),
                    };
                    let r = client
                        .post(format!("{app_url}/api/v1/{path}"))
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_client_error(), "{}", r.status());
                }
                sent += 1;
            }
            sent
        }));
    }
    // The victim decides, 40 at a time, all the while.
    let mut decided = 0;
    for _ in 0..10 {
        let asks = (0..40).map(|n| {
            let (app, slug, key) = (&app, t.slug.clone(), t.api_key.expose().to_string());
            async move {
                let mut c = Client::stateless(app, &slug, &key);
                c.tool(
                    "authorize_action",
                    json!({"action": "deploy", "resource_type": "Service", "resource_id": format!("s-{n}")}),
                )
                .await
            }
        });
        for r in join_all(asks).await {
            assert_eq!(r["structuredContent"]["decision"], "ALLOWED", "{r}");
            decided += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sent = 0;
    for a in attackers {
        sent += a.await.unwrap();
    }
    assert_eq!(decided, 400);
    assert!(sent > 100, "the attack ran ({sent} requests)");
    // The victim's ledger is whole.
    let tx = app.store.tenant_tx(t.tenant_id).await.unwrap();
    let rows = charter_tests::query(
        tx.raw(),
        "SELECT count(*) AS n, max(seq) AS top FROM ledger_records",
        vec![],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let n: i64 = rows[0].try_get("", "n").unwrap();
    let top: i64 = rows[0].try_get("", "top").unwrap();
    assert_eq!(n, top + 1, "gap-free");
}

#[tokio::test]
async fn parallel_guesses_get_at_most_the_allowed_attempts() {
    let app = spawn_app().await;
    let t = charter_tests::tenant(&app.store, "Guessing").await;
    let guess = |pw: String| {
        call(
            &app,
            None,
            "POST",
            "/api/v1/auth/login",
            Some(json!({"tenant": t.slug, "email": t.owner_email, "password": pw})),
        )
    };
    let results = join_all((0..20).map(|i| guess(format!("wrong password {i}")))).await;
    let checked = results
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = results
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + refused, 20);
    assert!(
        checked <= charter_store::limits::LOGIN_ATTEMPTS_PER_ACCOUNT as usize,
        "{checked} passwords were checked"
    );
    // Now even the right password waits.
    let r = guess(t.owner_password.expose().to_string()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn anonymous_routes_are_limited_per_address_before_anything_else() {
    let app = spawn_app_with(test_config(&[(
        "CHARTER_ANONYMOUS_RATE_LIMIT_PER_MINUTE",
        "10",
    )]))
    .await;
    let results = join_all((0..15).map(|_| {
        call(
            &app,
            None,
            "POST",
            "/api/v1/auth/refresh",
            Some(json!({"refresh_token": "chtr_rt_nothing"})),
        )
    }))
    .await;
    let limited: Vec<_> = results
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(limited.len(), 5, "{results:?}");
    assert!(limited.iter().all(|r| r.code() == "rate_limited"));
    // The public checkpoint counts too, and another address is not affected.
    let r = call(&app, None, "GET", "/t/nobody/checkpoint", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let other = charter_tests::own_address_client();
    let r = other
        .get(app.url("/t/nobody/checkpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sign_ups_are_limited_per_address_and_per_domain() {
    let app = spawn_app_with(test_config(&[
        ("CHARTER_SIGNUPS_PER_ADDRESS_PER_HOUR", "3"),
        ("CHARTER_SIGNUPS_PER_DOMAIN_PER_HOUR", "4"),
    ]))
    .await;
    let domain = format!("{}.example", Uuid::new_v4().simple());
    let sign_up = |client: reqwest::Client, n: usize| {
        let (url, domain) = (app.url("/api/v1/signup"), domain.clone());
        async move {
            client
                .post(url)
                .json(
                    &json!({"tenant_name": format!("Org {n} {}", Uuid::new_v4().simple()),
                              "email": format!("a{n}@{domain}"), "password": PASSWORD}),
                )
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let one = charter_tests::own_address_client();
    let mut seen = Vec::new();
    for n in 0..4 {
        seen.push(sign_up(one.clone(), n).await);
    }
    assert_eq!(seen[..3], [StatusCode::CREATED; 3], "{seen:?}");
    assert_eq!(seen[3], StatusCode::TOO_MANY_REQUESTS);
    // From another address, the domain still has one left.
    let two = charter_tests::own_address_client();
    assert_eq!(sign_up(two.clone(), 10).await, StatusCode::CREATED);
    assert_eq!(sign_up(two, 11).await, StatusCode::TOO_MANY_REQUESTS);
}
