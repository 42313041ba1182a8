//! The smaller holes of the security read, each tried: the public checkpoint cannot be made
//! to write, argument digests cannot be tested offline, an ended parent task authorises
//! nothing, numbers that canonical JSON cannot hold are refused, sessions end, access
//! tokens survive a master-key rotation, the application role's limits, caps on streams
//! and waits, a panicking batch, wrong methods.

use charter_core::engine::decision::canonical_digest;
use charter_core::engine::provenance::Party;
use charter_core::ledger::Entry;
use charter_core::policy::{Grant, Scope};
use charter_store::engine::reviews::Delegation;
use charter_tests::mcp::{Client, refusal};
use charter_tests::rest::{call, login};
use charter_tests::{add_agent, agent_key, query, spawn_app, spawn_app_with, tenant, test_config};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn deploy_anything() -> Scope {
    Scope {
        grants: vec![Grant {
            actions: vec!["deploy".into()],
            resource_type: "Service".into(),
            id_pattern: "*".into(),
        }],
        may_direct: vec!["*".into()],
        ..Scope::default()
    }
}

async fn count(store: &charter_store::Store, tenant: uuid::Uuid, sql: &str) -> i64 {
    let tx = store.tenant_tx(tenant).await.unwrap();
    let rows = query(tx.raw(), sql, vec![]).await.unwrap();
    tx.rollback().await.unwrap();
    rows[0].try_get("", "n").unwrap()
}

#[tokio::test]
async fn reading_the_public_checkpoint_never_writes_more_than_one_per_interval() {
    let app = spawn_app_with(test_config(&[("CHARTER_CHECKPOINT_INTERVAL_SECS", "3600")])).await;
    let t = tenant(&app.store, "Checkpoint load").await;
    let url = app.url(&format!("/t/{}/checkpoint", t.slug));
    let first = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for i in 0..20 {
        app.store
            .append(
                t.tenant_id,
                Entry::new("test", charter_core::ledger::Actor::system()).payload(json!({"i": i})),
            )
            .await
            .unwrap();
    }
    let reads = join_all((0..50).map(|_| {
        let (client, url) = (app.client.clone(), url.clone());
        async move { client.get(&url).send().await.unwrap().text().await.unwrap() }
    }))
    .await;
    assert!(
        reads.iter().all(|r| *r == first),
        "the latest stored checkpoint is served"
    );
    let sql = "SELECT count(*) AS n FROM ledger_checkpoints";
    assert_eq!(count(&app.store, t.tenant_id, sql).await, 1);
    // The worker (and exports) still checkpoint the grown log on their schedule.
    charter_worker::jobs::checkpoints(app.store.clone(), std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(count(&app.store, t.tenant_id, sql).await, 2);
    let next = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_ne!(next, first);
}

#[tokio::test]
async fn the_arguments_digest_is_keyed_per_tenant() {
    let app = spawn_app().await;
    let a = tenant(&app.store, "Digest A").await;
    let b = tenant(&app.store, "Digest B").await;
    let args = json!({"pin": "1234"});
    let mut digests = Vec::new();
    for t in [&a, &b] {
        app.store
            .engine()
            .set_scope(t.tenant_id, t.agent_id, deploy_anything(), t.owner_id)
            .await
            .unwrap();
        let mut c = Client::stateless(&app, &t.slug, t.api_key.expose());
        let r = c
            .tool(
                "authorize_action",
                json!({"action": "deploy", "resource_type": "Service", "resource_id": "x",
                       "arguments": args}),
            )
            .await;
        let seq = r["structuredContent"]["seq"].as_i64().unwrap();
        let tx = app.store.tenant_tx(t.tenant_id).await.unwrap();
        let rows = query(
            tx.raw(),
            "SELECT record FROM ledger_records WHERE seq = $1",
            vec![seq.into()],
        )
        .await
        .unwrap();
        tx.rollback().await.unwrap();
        let record: Value =
            serde_json::from_str(&rows[0].try_get::<String>("", "record").unwrap()).unwrap();
        digests.push(
            record["payload"]["args_digest"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert!(digests[0].starts_with("hmac-sha256:"), "{}", digests[0]);
    // Another tenant's key gives another digest; the plain hash of a guess matches neither.
    assert_ne!(digests[0], digests[1]);
    let guess = canonical_digest(&args);
    assert!(!digests.iter().any(|d| d[12..] == guess[7..]));
}

#[tokio::test]
async fn an_ended_parent_task_authorises_nothing_below_it() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Ended parent").await;
    let b = add_agent(&app.store, t.tenant_id, "b", t.owner_id).await;
    let c = add_agent(&app.store, t.tenant_id, "c", t.owner_id).await;
    for agent in [t.agent_id, b, c] {
        app.store
            .engine()
            .set_scope(t.tenant_id, agent, deploy_anything(), t.owner_id)
            .await
            .unwrap();
    }
    let party = |id| Party::Agent {
        id,
        on_behalf_of: t.owner_id,
    };
    let parent = app
        .store
        .engine()
        .delegate(t.tenant_id, Delegation::new(party(t.agent_id), b))
        .await
        .unwrap()
        .task_id;
    let child = app
        .store
        .engine()
        .delegate(
            t.tenant_id,
            Delegation {
                parent: Some(parent),
                ..Delegation::new(party(b), c)
            },
        )
        .await
        .unwrap()
        .task_id;
    let mut cc = Client::stateless(&app, &t.slug, &agent_key(&app.store, t.tenant_id, c).await);
    let ask = json!({"action": "deploy", "resource_type": "Service", "resource_id": "x",
                     "task": child});
    let r = cc.tool("authorize_action", ask.clone()).await;
    assert_eq!(r["structuredContent"]["decision"], "ALLOWED", "{r}");
    // The parent expires (its deadline passed; the worker has not run yet).
    let su = charter_tests::superuser().await;
    charter_tests::execute(
        &su,
        "UPDATE tasks SET deadline = now() - interval '1 second' WHERE id = $1",
        vec![parent.into()],
    )
    .await
    .unwrap();
    let r = cc.tool("authorize_action", ask).await;
    assert_eq!(refusal(&r), Some("invalid_request"), "{r}");
    // Nor can the child be delegated further.
    let r = cc
        .tool(
            "delegate_task",
            json!({"assignee_agent_id": t.agent_id, "parent_task_id": child}),
        )
        .await;
    assert_eq!(refusal(&r), Some("conflict"), "{r}");
}

#[tokio::test]
async fn numbers_beyond_two_to_the_53_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Big numbers").await;
    app.store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, deploy_anything(), t.owner_id)
        .await
        .unwrap();
    let mut c = Client::stateless(&app, &t.slug, t.api_key.expose());
    let r = c
        .tool(
            "authorize_action",
            serde_json::from_str(
                r#"{"action": "deploy", "resource_type": "Service", "resource_id": "x",
                    "arguments": {"amount": {"cents": 9007199254740993}}}"#,
            )
            .unwrap(),
        )
        .await;
    assert_eq!(refusal(&r), Some("invalid"), "{r}");
    let message = r["structuredContent"]["message"].as_str().unwrap();
    assert!(message.starts_with("arguments.amount.cents:"), "{message}");
    // As a string it is exact, and fine.
    let r = c
        .tool(
            "authorize_action",
            json!({"action": "deploy", "resource_type": "Service", "resource_id": "x",
                   "arguments": {"amount": {"cents": "9007199254740993"}}}),
        )
        .await;
    assert_eq!(r["structuredContent"]["decision"], "ALLOWED", "{r}");
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_often_it_is_refreshed() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Absolute").await;
    let s = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let refresh = s["refresh_token"].as_str().unwrap().to_string();
    // The family started long ago: a rotation issues a token expiring at the family's end.
    let tx = app.store.tenant_tx(t.tenant_id).await.unwrap();
    charter_tests::execute(
        tx.raw(),
        "UPDATE refresh_tokens SET family_started_at = now() - interval '89 days 23 hours'",
        vec![],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = call(
        &app,
        None,
        "POST",
        "/api/v1/auth/refresh",
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let next = r.body["refresh_token"].as_str().unwrap().to_string();
    let sql = "SELECT (extract(epoch FROM max(expires_at) - now()))::bigint AS n
               FROM refresh_tokens WHERE used_at IS NULL";
    let left = count(&app.store, t.tenant_id, sql).await;
    assert!((3500..=3600).contains(&left), "{left} s left");
    let tx = app.store.tenant_tx(t.tenant_id).await.unwrap();
    charter_tests::execute(
        tx.raw(),
        "UPDATE refresh_tokens SET family_started_at = now() - interval '91 days',
                                   expires_at = now() - interval '1 second'",
        vec![],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = call(
        &app,
        None,
        "POST",
        "/api/v1/auth/refresh",
        Some(json!({"refresh_token": next})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
}

#[tokio::test]
async fn access_tokens_survive_a_master_key_rotation() {
    let old = test_config(&[]);
    let app_old = spawn_app_with(old.clone()).await;
    let t = tenant(&app_old.store, "Rotation").await;
    let s = login(&app_old, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let token = s["access_token"].as_str().unwrap().to_string();
    // The same database under a new master key, the old one configured as previous. (Its
    // tenants' sealed keys would be re-sealed by the rotation; reading needs none.)
    let previous = old.master_key.as_ref().unwrap().to_base64().to_string();
    let rotated = test_config(&[("CHARTER_PREVIOUS_MASTER_KEY", previous.as_str())]);
    let app_new = spawn_app_with(rotated).await;
    let r = call(&app_new, Some(&token), "GET", "/api/v1/me", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Without the previous key it is a stranger's token.
    let app_other = spawn_app().await;
    let r = call(&app_other, Some(&token), "GET", "/api/v1/me", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_application_role_has_timeouts_and_no_temporary_tables() {
    let store = charter_tests::store().await;
    let t = tenant(&store, "Role limits").await;
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l",
        vec![],
    )
    .await
    .unwrap();
    let (s, l): (String, String) = (
        rows[0].try_get("", "s").unwrap(),
        rows[0].try_get("", "l").unwrap(),
    );
    assert_eq!((s.as_str(), l.as_str()), ("30s", "10s"));
    let temp = query(tx.raw(), "CREATE TEMPORARY TABLE t (x int)", vec![]).await;
    assert!(temp.is_err(), "charter_app may not create temporary tables");
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_panicking_batch_answers_every_caller_at_once_and_the_writer_goes_on() {
    let store = charter_tests::store().await;
    let t = tenant(&store, "Panic").await;
    let appends = (0..20).map(|i| {
        let store = store.clone();
        async move {
            if i == 5 {
                store
                    .append_with(t.tenant_id, |_tx| {
                        Box::pin(async { panic!("a bug in some work") })
                    })
                    .await
                    .map(|(r, ())| r)
            } else {
                store
                    .append(
                        t.tenant_id,
                        Entry::new("test", charter_core::ledger::Actor::system()),
                    )
                    .await
            }
        }
    });
    let answered = tokio::time::timeout(std::time::Duration::from_secs(10), join_all(appends))
        .await
        .expect("every caller is answered");
    assert!(answered[5].is_err());
    // Afterwards the writer works.
    store
        .append(
            t.tenant_id,
            Entry::new("after", charter_core::ledger::Actor::system()),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow_and_a_conflict_does_not_echo_the_database() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Methods").await;
    let s = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let token = s["access_token"].as_str().unwrap();
    let r = call(&app, Some(token), "DELETE", "/api/v1/me", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{:?}", r.body);
    assert_eq!(r.headers["allow"], "GET");
    let r = call(&app, None, "POST", "/healthz", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = call(&app, Some(token), "GET", "/api/v1/nothing-here", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A duplicate: the message says what, not which constraint.
    let agent = json!({"name": "same-name"});
    let first = call(
        &app,
        Some(token),
        "POST",
        "/api/v1/agents",
        Some(agent.clone()),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = call(&app, Some(token), "POST", "/api/v1/agents", Some(agent)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    let message = again.body["message"].as_str().unwrap();
    assert!(
        !message.contains("constraint") && !message.contains("agents_"),
        "{message}"
    );
}

#[tokio::test]
async fn streams_and_waits_per_agent_are_capped() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Caps").await;
    let url = app.url(&format!("/t/{}/sse", t.slug));
    let mut open = Vec::new();
    for _ in 0..charter_api::mcp::sse::MAX_STREAMS_PER_AGENT {
        let r = app
            .client
            .get(&url)
            .bearer_auth(t.api_key.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        open.push(r);
    }
    let r = app
        .client
        .get(&url)
        .bearer_auth(t.api_key.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(open);
    // Waits: the ninth concurrent await_decision of one agent is refused at once.
    app.store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, deploy_anything(), t.owner_id)
        .await
        .unwrap();
    app.store
        .engine()
        .require_approval(
            t.tenant_id,
            t.owner_id,
            "deploy".into(),
            "Service".into(),
            None,
            None,
        )
        .await
        .unwrap();
    let mut c = Client::stateless(&app, &t.slug, t.api_key.expose());
    let pending = c
        .tool(
            "authorize_action",
            json!({"action": "deploy", "resource_type": "Service", "resource_id": "x"}),
        )
        .await;
    let review = pending["structuredContent"]["review_id"].clone();
    let waits = (0..9).map(|_| {
        let (app, slug, key) = (&app, t.slug.clone(), t.api_key.expose().to_string());
        let review = review.clone();
        async move {
            let mut c = Client::stateless(app, &slug, &key);
            c.tool(
                "await_decision",
                json!({"review_id": review, "timeout_secs": 2}),
            )
            .await
        }
    });
    let results = join_all(waits).await;
    let refused = results
        .iter()
        .filter(|r| refusal(r) == Some("rate_limited"))
        .count();
    assert_eq!(refused, 1, "{results:?}");
}
