//! Tenant A's owner walks every route of the OpenAPI document with tenant B's ids: never
//! a 2xx, never a byte of B's data, and B is unchanged afterwards.

use charter_core::engine::provenance::{Party, Separation};
use charter_store::engine::ActionRequest;
use charter_store::engine::reviews::NewArtifact;
use charter_tests::rest::{call, login};
use charter_tests::{scenario_tenant, spawn_app, tenant};
use reqwest::StatusCode;
use serde_json::json;

use super::samples::{Ids, operations};

#[tokio::test]
async fn another_tenants_ids_get_nothing_anywhere() {
    let app = spawn_app().await;
    let store = &app.store;
    // Tenant B, with one of everything.
    let b = scenario_tenant(store, "Tenant B").await;
    let bt = &b.t;
    let b_owner = login(&app, &bt.slug, &bt.owner_email, bt.owner_password.expose()).await;
    let b_owner = b_owner["access_token"].as_str().unwrap().to_string();
    let user = call(
        &app,
        Some(&b_owner),
        "POST",
        "/api/v1/users",
        Some(json!({"email": "b-admin@b.example", "roles": ["admin"]})),
    )
    .await;
    assert_eq!(user.status, StatusCode::CREATED, "{:?}", user.body);
    let token = call(
        &app,
        Some(&b_owner),
        "POST",
        "/api/v1/api-tokens",
        Some(json!({"name": "b", "roles": ["viewer"]})),
    )
    .await;
    let producer = Party::Agent {
        id: bt.agent_id,
        on_behalf_of: bt.owner_id,
    };
    let (initiative, _) = store
        .engine()
        .create_initiative(bt.tenant_id, producer, "B launch".into(), "ci".into(), 10)
        .await
        .unwrap();
    let (artifact, _) = store
        .engine()
        .register_artifact(
            bt.tenant_id,
            producer,
            NewArtifact {
                kind: "changeset".into(),
                digest: "sha256:abc".into(),
                initiative: Some(initiative),
                ..NewArtifact::default()
            },
        )
        .await
        .unwrap();
    let (review, _) = store
        .engine()
        .request_review(
            bt.tenant_id,
            producer,
            artifact,
            Some("release".into()),
            Separation::Standard,
        )
        .await
        .unwrap();
    // The producer's own approval is refused: a violation.
    store
        .engine()
        .submit_verdict(bt.tenant_id, producer, review, "sha256:abc".into(), true)
        .await
        .unwrap();
    let scope = charter_core::policy::Scope {
        grants: vec![charter_core::policy::Grant {
            actions: vec!["send".into()],
            resource_type: "Service".into(),
            id_pattern: "*".into(),
        }],
        ..Default::default()
    };
    store
        .engine()
        .set_scope(bt.tenant_id, bt.agent_id, scope, bt.owner_id)
        .await
        .unwrap();
    store
        .engine()
        .require_approval(
            bt.tenant_id,
            bt.owner_id,
            "send".into(),
            "Service".into(),
            None,
            None,
        )
        .await
        .unwrap();
    let pending = store
        .engine()
        .authorize(
            bt.tenant_id,
            bt.agent_id,
            ActionRequest {
                action: "send".into(),
                resource_type: "Service".into(),
                resource_id: "payments-api".into(),
                spend: 0,
                idempotency_key: None,
                arguments: json!({}),
                initiative: None,
                task: None,
            },
        )
        .await
        .unwrap();
    let (request, _) = store
        .engine()
        .request_scope_change(bt.tenant_id, bt.agent_id, Default::default(), "more".into())
        .await
        .unwrap();
    let (violations, _) = store
        .admin()
        .list_violations(bt.tenant_id, Default::default())
        .await
        .unwrap();
    let audit = store.worker().self_audit(bt.tenant_id).await.unwrap().id;
    let (webhook, _) = store
        .admin()
        .create_webhook(
            bt.tenant_id,
            bt.owner_id,
            charter_store::webhooks::endpoints::NewEndpoint {
                url: "https://hooks.b.example/charter".into(),
                description: "B's receiver".into(),
                events: vec!["violation.found".into()],
            },
        )
        .await
        .unwrap();
    let system = store
        .admin()
        .create_ai_system(
            bt.tenant_id,
            bt.owner_id,
            charter_core::ai_system::Facts {
                name: "B's assistant".into(),
                intended_purpose: "Answers B's customers".into(),
                provider: "B Labs".into(),
                deployer: "B".into(),
                high_risk: false,
                annex_iii_point: None,
                contact: "ai@b.example".into(),
                agents: vec![bt.agent_id],
            },
        )
        .await
        .unwrap();
    let export = store
        .admin()
        .request_export(
            bt.tenant_id,
            bt.owner_id,
            charter_store::evidence::exports::ExportRequest {
                system: Some(system.id),
                agents: vec![],
                from: chrono::Utc::now() - chrono::Duration::days(1),
                to: chrono::Utc::now(),
                purpose: charter_core::bundle::Purpose::RiskSituations,
            },
        )
        .await
        .unwrap();
    let hold = store
        .admin()
        .place_legal_hold(
            bt.tenant_id,
            bt.owner_id,
            Some(system.id),
            "B's matter".into(),
        )
        .await
        .unwrap();
    let tx = store.tenant_tx(bt.tenant_id).await.unwrap();
    let key = charter_store::api_keys::list(&tx, bt.agent_id)
        .await
        .unwrap()[0]
        .id;
    let b_size = charter_store::ledger::read::tree_size(&tx).await.unwrap();
    tx.rollback().await.unwrap();
    let ids = Ids {
        user: user.body["user"]["id"].as_str().unwrap().parse().unwrap(),
        agent: bt.agent_id,
        key,
        token: token.body["token"]["id"].as_str().unwrap().parse().unwrap(),
        initiative,
        artifact,
        review,
        approval: match &pending.decision {
            charter_core::engine::decision::Decision::PendingApproval { review_id } => {
                review_id.parse().unwrap()
            }
            d => panic!("expected a pending approval, got {d:?}"),
        },
        request,
        violation: violations[0].id,
        audit,
        webhook: webhook.id,
        system: system.id,
        export: export.id,
        hold: hold.id,
        seq: b_size - 1,
    };

    // Tenant A: its owner, logged in.
    let a = tenant(store, "Tenant A").await;
    let a_owner = login(&app, &a.slug, &a.owner_email, a.owner_password.expose()).await;
    let a_owner = a_owner["access_token"].as_str().unwrap().to_string();
    let tx = store.tenant_tx(a.tenant_id).await.unwrap();
    let a_size = charter_store::ledger::read::tree_size(&tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(
        ids.seq >= a_size,
        "B's record {} must lie beyond A's log ({a_size})",
        ids.seq
    );

    // B's data, as it could appear in a response.
    let secrets: Vec<String> = [
        ids.user,
        ids.agent,
        ids.key,
        ids.token,
        ids.initiative,
        ids.artifact,
        ids.review,
        ids.approval,
        ids.request,
        ids.violation,
        ids.audit,
        ids.webhook,
        ids.system,
        ids.export,
        ids.hold,
        bt.tenant_id,
        bt.owner_id,
        b.reviewer_id,
    ]
    .iter()
    .map(|u| u.to_string())
    .chain([
        bt.slug.clone(),
        "b-admin@b.example".into(),
        "B launch".into(),
        "hooks.b.example".into(),
        "B Labs".into(),
    ])
    .collect();

    let mut walked = 0;
    for op in operations(&app).await.into_iter().filter(|o| !o.public()) {
        let body = op.body(&ids);
        // A template name is the caller's own namespace, not an id of B's.
        let names_b = (op.has_params() && !op.path.ends_with("{name}"))
            || body
                .as_ref()
                .is_some_and(|b| secrets.iter().any(|s| b.to_string().contains(s)));
        let r = call(&app, Some(&a_owner), &op.method, &op.url(&ids), body).await;
        if names_b {
            assert!(
                !r.status.is_success(),
                "{} with B's ids: {} {:?}",
                op.key(),
                r.status,
                r.body
            );
        }
        assert!(!r.status.is_server_error(), "{}: {:?}", op.key(), r.body);
        let text = r.body.to_string();
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{} leaked {s}: {text}",
                op.key()
            );
        }
        walked += 1;
    }
    assert!(walked > 50);

    // B is as it was.
    let agent = call(
        &app,
        Some(&b_owner),
        "GET",
        &format!("/api/v1/agents/{}", bt.agent_id),
        None,
    )
    .await;
    assert_eq!(agent.body["status"], "active");
    let keys = call(
        &app,
        Some(&b_owner),
        "GET",
        &format!("/api/v1/agents/{}/keys", bt.agent_id),
        None,
    )
    .await;
    assert!(keys.body[0]["revoked_at"].is_null());
    let v = call(
        &app,
        Some(&b_owner),
        "GET",
        &format!("/api/v1/violations/{}", ids.violation),
        None,
    )
    .await;
    assert_eq!(v.body["status"], "open");
    let u = call(
        &app,
        Some(&b_owner),
        "GET",
        &format!("/api/v1/users/{}", ids.user),
        None,
    )
    .await;
    assert_eq!(u.status, StatusCode::OK);
    assert_eq!(u.body["display_name"], "b-admin");
}
