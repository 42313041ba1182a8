//! What admins, approvers and compliance officers do, with the rules that hold whoever
//! asks: people and owners, API tokens, agents and keys, human separation of duties,
//! violations, the simulator, policies with line and column, ledger proofs — and every
//! change a ledger record naming the person. Policies and ledger proofs are in [`policies`].

mod policies;

use charter_core::engine::provenance::{Party, Separation};
use charter_core::ledger::merkle;
use charter_core::tenant::Role;
use charter_store::engine::reviews::NewArtifact;
use charter_tests::rest::{PASSWORD, call, login, staff};
use charter_tests::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn people_rules_hold_whoever_asks() {
    let app = spawn_app().await;
    let s = staff(&app, "People").await;
    let (owner, admin) = (s.owner(), s.token(Role::Admin));
    let viewer_id = s.id(Role::Viewer);
    // An admin cannot make anyone an owner, nor change an owner.
    let r = call(
        &app,
        Some(admin),
        "PATCH",
        &format!("/api/v1/users/{viewer_id}"),
        Some(json!({"roles": ["owner"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = call(
        &app,
        Some(admin),
        "PATCH",
        &format!("/api/v1/users/{}", s.id(Role::Owner)),
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Nobody changes their own roles; the last owner stays one.
    let r = call(
        &app,
        Some(admin),
        "PATCH",
        &format!("/api/v1/users/{}", s.id(Role::Admin)),
        Some(json!({"roles": ["owner"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Some(owner),
        "DELETE",
        &format!("/api/v1/users/{}", s.id(Role::Owner)),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // A role change takes effect at once, without a new login: the viewer made approver.
    let r = call(
        &app,
        Some(admin),
        "PATCH",
        &format!("/api/v1/users/{viewer_id}"),
        Some(json!({"roles": ["approver"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let me = call(&app, Some(s.token(Role::Viewer)), "GET", "/api/v1/me", None).await;
    assert_eq!(me.body["effective_roles"], json!(["approver"]));
    // Disabling ends access at once; so does removal.
    let r = call(
        &app,
        Some(admin),
        "PATCH",
        &format!("/api/v1/users/{viewer_id}"),
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(r.body["status"], "disabled");
    assert_eq!(
        call(&app, Some(s.token(Role::Viewer)), "GET", "/api/v1/me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let co = s.id(Role::ComplianceOfficer);
    assert_eq!(
        call(
            &app,
            Some(admin),
            "DELETE",
            &format!("/api/v1/users/{co}"),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(
            &app,
            Some(s.token(Role::ComplianceOfficer)),
            "GET",
            "/api/v1/me",
            None
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    // An invitation: a token, shown once, accepted with a password; then a normal login.
    let inv = call(
        &app,
        Some(admin),
        "POST",
        "/api/v1/users",
        Some(json!({"email": "new@people.example", "roles": ["viewer"]})),
    )
    .await;
    assert_eq!(inv.body["user"]["status"], "invited");
    let token = inv.body["invitation_token"].as_str().unwrap();
    let acc = call(
        &app,
        None,
        "POST",
        "/api/v1/invitations/accept",
        Some(json!({"token": token, "password": PASSWORD})),
    )
    .await;
    assert_eq!(acc.body["status"], "active", "{:?}", acc.body);
    let again = call(
        &app,
        None,
        "POST",
        "/api/v1/invitations/accept",
        Some(json!({"token": token, "password": PASSWORD})),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    login(&app, &s.tenant.slug, "new@people.example", PASSWORD).await;
    // Each change is on the ledger with the admin as actor.
    let page = call(
        &app,
        Some(owner),
        "GET",
        &format!("/api/v1/ledger/entries?actor_id={}", s.id(Role::Admin)),
        None,
    )
    .await;
    let kinds: Vec<&str> = page.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.iter().filter(|k| **k == "principal.updated").count() >= 2,
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"principal.removed") && kinds.contains(&"principal.invited"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn api_tokens_act_with_at_most_their_roles_and_their_creators() {
    let app = spawn_app().await;
    let s = staff(&app, "Tokens").await;
    let admin = s.token(Role::Admin);
    // An admin cannot mint an owner token.
    let r = call(
        &app,
        Some(admin),
        "POST",
        "/api/v1/api-tokens",
        Some(json!({"name": "x", "roles": ["owner"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Some(admin),
        "POST",
        "/api/v1/api-tokens",
        Some(json!({"name": "ci", "roles": ["viewer"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let id = r.body["token"]["id"].as_str().unwrap().to_string();
    // It reads, as the admin, with the viewer role only.
    let me = call(&app, Some(&secret), "GET", "/api/v1/me", None).await;
    assert_eq!(me.body["principal"]["id"], s.id(Role::Admin).to_string());
    assert_eq!(me.body["effective_roles"], json!(["viewer"]));
    let r = call(
        &app,
        Some(&secret),
        "POST",
        "/api/v1/agents",
        Some(json!({"name": "nope"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Listed without the secret; revoked, it stops at once.
    let list = call(&app, Some(admin), "GET", "/api/v1/api-tokens", None).await;
    assert!(!list.body.to_string().contains(&secret));
    assert_eq!(
        call(
            &app,
            Some(admin),
            "DELETE",
            &format!("/api/v1/api-tokens/{id}"),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, Some(&secret), "GET", "/api/v1/me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A token whose creator is demoted loses the roles the creator lost.
    let r = call(
        &app,
        Some(admin),
        "POST",
        "/api/v1/api-tokens",
        Some(json!({"name": "ops", "roles": ["admin"]})),
    )
    .await;
    let ops = r.body["secret"].as_str().unwrap().to_string();
    call(
        &app,
        Some(s.owner()),
        "PATCH",
        &format!("/api/v1/users/{}", s.id(Role::Admin)),
        Some(json!({"roles": ["viewer"]})),
    )
    .await;
    // (a viewer's roles do not cover admin: nothing is left, not even reading).
    assert_eq!(
        call(&app, Some(&ops), "GET", "/api/v1/me", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, Some(&ops), "GET", "/api/v1/agents", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn agents_keys_and_suspension_reach_the_engine() {
    let app = spawn_app().await;
    let s = staff(&app, "Agents").await;
    let admin = s.token(Role::Admin);
    let a = call(
        &app,
        Some(admin),
        "POST",
        "/api/v1/agents",
        Some(json!({"name": "deployer"})),
    )
    .await;
    let agent = a.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        a.body["responsible_principal_id"],
        s.id(Role::Admin).to_string()
    );
    assert_eq!(
        call(
            &app,
            Some(admin),
            "POST",
            "/api/v1/agents",
            Some(json!({"name": "deployer"}))
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let scope = json!({"grants": [{"actions": ["deploy"], "resource_type": "Service", "id_pattern": "payments-*"}]});
    let r = call(
        &app,
        Some(admin),
        "PUT",
        &format!("/api/v1/agents/{agent}/scope"),
        Some(scope.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        call(
            &app,
            Some(admin),
            "GET",
            &format!("/api/v1/agents/{agent}/scope"),
            None
        )
        .await
        .body["grants"],
        scope["grants"]
    );
    // The simulator answers like the engine and keeps nothing.
    let size = |b: &serde_json::Value| b["entries"][0]["seq"].as_i64().unwrap();
    let before = size(
        &call(
            &app,
            Some(admin),
            "GET",
            "/api/v1/ledger/entries?limit=1",
            None,
        )
        .await
        .body,
    );
    let sim = |rid: &str| {
        call(
            &app,
            Some(s.token(Role::Approver)),
            "POST",
            "/api/v1/simulate",
            Some(json!({
        "agent_id": agent, "action": "deploy", "resource_type": "Service", "resource_id": rid})),
        )
    };
    let ok = sim("payments-api").await;
    assert_eq!(ok.body["decision"], "ALLOWED", "{:?}", ok.body);
    let no = sim("billing").await;
    assert_eq!(
        (no.body["decision"].as_str(), no.body["reason"].as_str()),
        (Some("BLOCKED"), Some("out_of_scope"))
    );
    assert!(no.body["message"].as_str().is_some());
    assert_eq!(
        size(
            &call(
                &app,
                Some(admin),
                "GET",
                "/api/v1/ledger/entries?limit=1",
                None
            )
            .await
            .body
        ),
        before
    );
    // Suspended: blocked with the reason; resumed: allowed again.
    call(
        &app,
        Some(admin),
        "POST",
        &format!("/api/v1/agents/{agent}/suspend"),
        None,
    )
    .await;
    assert_eq!(sim("payments-api").await.body["reason"], "agent_suspended");
    call(
        &app,
        Some(admin),
        "POST",
        &format!("/api/v1/agents/{agent}/resume"),
        None,
    )
    .await;
    assert_eq!(sim("payments-api").await.body["decision"], "ALLOWED");
    // Keys: issued once, listed by prefix, revoked; deletion takes the keys with it.
    let k = call(
        &app,
        Some(admin),
        "POST",
        &format!("/api/v1/agents/{agent}/keys"),
        Some(json!({"label": "ci"})),
    )
    .await;
    let key_id = k.body["key"]["id"].as_str().unwrap().to_string();
    let listed = call(
        &app,
        Some(admin),
        "GET",
        &format!("/api/v1/agents/{agent}/keys"),
        None,
    )
    .await;
    assert!(
        !listed
            .body
            .to_string()
            .contains(k.body["api_key"].as_str().unwrap())
    );
    assert_eq!(
        call(
            &app,
            Some(admin),
            "DELETE",
            &format!("/api/v1/agents/{agent}/keys/{key_id}"),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let listed = call(
        &app,
        Some(admin),
        "GET",
        &format!("/api/v1/agents/{agent}/keys"),
        None,
    )
    .await;
    assert!(listed.body[0]["revoked_at"].is_string());
    let k2 = call(
        &app,
        Some(admin),
        "POST",
        &format!("/api/v1/agents/{agent}/keys"),
        Some(json!({})),
    )
    .await;
    let api_key = k2.body["api_key"].as_str().unwrap().to_string();
    assert!(
        app.store
            .sessions()
            .lookup_api_key(&api_key)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        call(
            &app,
            Some(admin),
            "DELETE",
            &format!("/api/v1/agents/{agent}"),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert!(
        app.store
            .sessions()
            .lookup_api_key(&api_key)
            .await
            .unwrap()
            .is_none(),
        "a deleted agent's key is forgotten at once"
    );
    assert_eq!(
        call(
            &app,
            Some(admin),
            "GET",
            &format!("/api/v1/agents/{agent}"),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // The admin's changes, in order, on the ledger.
    let page = call(
        &app,
        Some(admin),
        "GET",
        &format!(
            "/api/v1/ledger/entries?actor_id={}&limit=200",
            s.id(Role::Admin)
        ),
        None,
    )
    .await;
    let mut kinds: Vec<String> = page.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    kinds.reverse();
    for k in [
        "agent.created",
        "scope.changed",
        "agent.suspended",
        "agent.resumed",
        "api_key.issued",
        "api_key.revoked",
        "agent.deleted",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} not in {kinds:?}");
    }
}

#[tokio::test]
async fn people_cannot_approve_their_own_or_their_agents_work() {
    let app = spawn_app().await;
    let s = staff(&app, "Human SoD").await;
    let t = &s.tenant;
    // The owner's agent produces; the owner asks for review.
    let producer = Party::Agent {
        id: t.agent_id,
        on_behalf_of: t.owner_id,
    };
    let (artifact, _) = app
        .store
        .engine()
        .register_artifact(
            t.tenant_id,
            producer,
            NewArtifact {
                kind: "changeset".into(),
                digest: "sha256:abc".into(),
                ..NewArtifact::default()
            },
        )
        .await
        .unwrap();
    let (review, _) = app
        .store
        .engine()
        .request_review(t.tenant_id, producer, artifact, None, Separation::Standard)
        .await
        .unwrap();
    // Not in the owner's inbox; in the approver's.
    let inbox = call(&app, Some(s.owner()), "GET", "/api/v1/reviews", None).await;
    assert!(!inbox.body.to_string().contains(&review.to_string()));
    let inbox = call(
        &app,
        Some(s.token(Role::Approver)),
        "GET",
        "/api/v1/reviews",
        None,
    )
    .await;
    assert!(inbox.body.to_string().contains(&review.to_string()));
    let verdict = |token: &str, digest: &str| {
        call(
            &app,
            Some(token),
            "POST",
            &format!("/api/v1/reviews/{review}/verdict"),
            Some(json!({"verdict": "approve", "digest": digest})),
        )
    };
    let r = verdict(s.owner(), "sha256:abc").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "self_approval"),
        "{:?}",
        r.body
    );
    // Recorded as a violation that a compliance officer can work through.
    let v = call(
        &app,
        Some(s.token(Role::ComplianceOfficer)),
        "GET",
        "/api/v1/violations?status=open&kind=self_approval",
        None,
    )
    .await;
    let vid = v.body["violations"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        v.body["violations"][0]["subject"]["id"],
        t.owner_id.to_string()
    );
    // The approver, with the wrong digest and then the right one.
    assert_eq!(
        verdict(s.token(Role::Approver), "sha256:other")
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let r = verdict(s.token(Role::Approver), "sha256:abc").await;
    assert_eq!(r.body["status"], "approved", "{:?}", r.body);
    assert_eq!(
        verdict(s.token(Role::Approver), "sha256:abc").await.status,
        StatusCode::CONFLICT
    );
    // open → acknowledged → resolved, no going back.
    let co = s.token(Role::ComplianceOfficer);
    let r = call(
        &app,
        Some(co),
        "POST",
        &format!("/api/v1/violations/{vid}/acknowledge"),
        None,
    )
    .await;
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["acknowledged_by"].as_str()
        ),
        (
            Some("acknowledged"),
            Some(s.id(Role::ComplianceOfficer).to_string().as_str())
        )
    );
    let r = call(
        &app,
        Some(co),
        "POST",
        &format!("/api/v1/violations/{vid}/resolve"),
        Some(json!({"resolution": "talked to the owner"})),
    )
    .await;
    assert_eq!(r.body["status"], "resolved");
    assert_eq!(
        call(
            &app,
            Some(co),
            "POST",
            &format!("/api/v1/violations/{vid}/acknowledge"),
            None
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let page = call(
        &app,
        Some(co),
        "GET",
        "/api/v1/ledger/entries?kind=violation.resolved",
        None,
    )
    .await;
    assert_eq!(
        page.body["entries"][0]["actor_id"],
        s.id(Role::ComplianceOfficer).to_string()
    );
}
