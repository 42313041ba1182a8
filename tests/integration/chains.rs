//! Separation of duties across delegation chains, tried as an agent and a person would:
//! through the MCP endpoint and the REST API. Nobody approves work of someone they are in
//! one delegation chain with — the producer directed them, or they directed the producer,
//! directly or through others — at every gate of every preset, for reviews and for action
//! approvals; the inboxes stop offering such items; an outsider still approves.

use charter_core::engine::provenance::Party;
use charter_core::policy::Scope;
use charter_core::tenant::Role;
use charter_store::engine::reviews::Delegation;
use charter_tests::mcp::{Client, refusal};
use charter_tests::rest::{call, staff};
use charter_tests::{add_agent, add_principal, agent_key, spawn_app, tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// An agent that may direct `directs` (and take no action).
fn directs(agents: &[Uuid]) -> Scope {
    Scope {
        may_direct: agents.iter().map(Uuid::to_string).collect(),
        ..Scope::default()
    }
}

fn ids(v: &Value) -> Vec<String> {
    v["structuredContent"]["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["review_id"].as_str().unwrap().to_string())
        .collect()
}

/// A producer's artifact under review at `gate` of a `template` initiative.
async fn under_review(a: &mut Client<'_>, template: &str, gate: &str) -> (String, String) {
    let init = a
        .tool(
            "create_initiative",
            json!({"name": "feature", "template": template, "risk": 10}),
        )
        .await;
    let initiative = init["structuredContent"]["initiative_id"].clone();
    let digest = format!("sha256:{}", "ab".repeat(32));
    let art = a
        .tool(
            "register_artifact",
            json!({"kind": "changeset", "digest": digest, "initiative_id": initiative}),
        )
        .await;
    let artifact = art["structuredContent"]["artifact_id"].clone();
    let review = a
        .tool(
            "request_review",
            json!({"artifact_id": artifact, "gate": gate}),
        )
        .await;
    assert_eq!(review["isError"], false, "{review}");
    (
        review["structuredContent"]["review_id"]
            .as_str()
            .unwrap()
            .to_string(),
        digest,
    )
}

async fn delegate(from: &mut Client<'_>, to: Uuid, parent: Option<&str>) -> String {
    let r = from
        .tool(
            "delegate_task",
            json!({"assignee_agent_id": to, "parent_task_id": parent}),
        )
        .await;
    assert_eq!(r["isError"], false, "{r}");
    r["structuredContent"]["task_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn approve(c: &mut Client<'_>, review: &str, digest: &str) -> Value {
    c.tool(
        "submit_review",
        json!({"review_id": review, "digest": digest, "approve": true}),
    )
    .await
}

async fn laundering_is_refused_at(template: &str, gate: &str) {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Launder").await;
    let other = add_principal(
        &app.store,
        t.tenant_id,
        &format!("p2-{}@x.example", Uuid::new_v4().simple()),
        Role::Approver,
    )
    .await;
    let b = add_agent(&app.store, t.tenant_id, "b", t.owner_id).await;
    let c = add_agent(&app.store, t.tenant_id, "c", t.owner_id).await;
    let b2 = add_agent(&app.store, t.tenant_id, "b2", other).await;
    let outsider = add_agent(&app.store, t.tenant_id, "outsider", other).await;
    for (agent, may) in [(t.agent_id, vec![b, b2]), (b, vec![c])] {
        app.store
            .engine()
            .set_scope(t.tenant_id, agent, directs(&may), t.owner_id)
            .await
            .unwrap();
    }
    let key = |id| agent_key(&app.store, t.tenant_id, id);
    let mut a = Client::stateless(&app, &t.slug, t.api_key.expose());
    let (kb, kc, kb2, ko) = (
        key(b).await,
        key(c).await,
        key(b2).await,
        key(outsider).await,
    );
    let mut cb = Client::stateless(&app, &t.slug, &kb);
    let mut cc = Client::stateless(&app, &t.slug, &kc);
    let mut cb2 = Client::stateless(&app, &t.slug, &kb2);
    let mut co = Client::stateless(&app, &t.slug, &ko);

    let (review, digest) = under_review(&mut a, template, gate).await;
    let t1 = delegate(&mut a, b, None).await;
    let t2 = delegate(&mut cb, c, Some(&t1)).await;
    let t3 = delegate(&mut a, b2, None).await;

    // Nobody in a chain with the producer is offered the review …
    for (who, client) in [("b", &mut cb), ("c", &mut cc), ("b2", &mut cb2)] {
        let list = client.tool("list_review_requests", json!({})).await;
        assert!(!ids(&list).contains(&review), "{who} is offered it");
    }
    // … nor may approve it: direct delegate, depth 2, another person's agent.
    for (client, chain) in [
        (&mut cb, vec![t1.clone()]),
        (&mut cc, vec![t1.clone(), t2.clone()]),
        (&mut cb2, vec![t3.clone()]),
    ] {
        let r = approve(client, &review, &digest).await;
        assert_eq!(refusal(&r), Some("self_approval"), "{r}");
        assert!(
            r["structuredContent"]["message"]
                .as_str()
                .unwrap()
                .contains("delegation chain"),
            "{r}"
        );
        // The violation names the chain, root first.
        let violation = r["structuredContent"]["violation_id"].as_str().unwrap();
        let tx = app.store.tenant_tx(t.tenant_id).await.unwrap();
        let rows = charter_tests::query(
            tx.raw(),
            "SELECT details FROM violations WHERE id = $1::uuid",
            vec![violation.to_string().into()],
        )
        .await
        .unwrap();
        tx.rollback().await.unwrap();
        let details: Value = rows[0].try_get("", "details").unwrap();
        assert_eq!(details["chain"]["tasks"], json!(chain), "{details}");
        assert_eq!(details["chain"]["with"], json!(t.agent_id));
    }
    // The producer itself, as before.
    let r = approve(&mut a, &review, &digest).await;
    assert_eq!(refusal(&r), Some("self_approval"), "{r}");
    // An outsider is offered it and approves.
    let list = co.tool("list_review_requests", json!({})).await;
    assert!(ids(&list).contains(&review));
    let r = approve(&mut co, &review, &digest).await;
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(r["structuredContent"]["status"], "approved");
    // The request and each refusal were queued for the tenant's webhooks.
    let requested = charter_tests::outbox(&app.store, t.tenant_id, "review.requested").await;
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0]["review_id"], review.as_str());
    let found = charter_tests::outbox(&app.store, t.tenant_id, "violation.found").await;
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found.iter().all(|f| f["kind"] == "self_approval"));
}

#[tokio::test]
async fn an_approval_cannot_be_laundered_through_delegates_at_a_startup_gate() {
    laundering_is_refused_at("startup", "release").await;
}

#[tokio::test]
async fn an_approval_cannot_be_laundered_through_delegates_at_a_regulated_gate() {
    laundering_is_refused_at("regulated", "design").await;
}

/// A person who directed an agent, and a reviewer and approver outside any chain, through
/// the REST API.
#[tokio::test]
async fn a_person_who_directed_the_producer_neither_sees_nor_approves_its_work() {
    let app = spawn_app().await;
    let s = staff(&app, "Directed").await;
    let t = &s.tenant;
    let h = s.id(Role::Approver);
    let mut p = Client::stateless(&app, &t.slug, t.api_key.expose());
    // The approver directs the producer (a person delegates; no REST route is needed for
    // the test to stand where an integration would).
    let task = app
        .store
        .engine()
        .delegate(
            t.tenant_id,
            Delegation::new(Party::Principal { id: h }, t.agent_id),
        )
        .await
        .unwrap()
        .task_id;
    let (review, digest) = under_review(&mut p, "startup", "release").await;
    let inbox = |token: &str| call(&app, Some(token), "GET", "/api/v1/reviews", None);
    let listed = |body: &Value| {
        body.as_array()
            .unwrap()
            .iter()
            .any(|r| r["review_id"] == review.as_str())
    };
    assert!(!listed(&inbox(s.token(Role::Approver)).await.body));
    let verdict = json!({"verdict": "approve", "digest": digest});
    let path = format!("/api/v1/reviews/{review}/verdict");
    let r = call(
        &app,
        Some(s.token(Role::Approver)),
        "POST",
        &path,
        Some(verdict.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "self_approval");

    // Action approvals: the agent's deploy needs one; the same person may not give it.
    let mut scope = directs(&[]);
    scope.grants = vec![charter_core::policy::Grant {
        actions: vec!["deploy".into()],
        resource_type: "Service".into(),
        id_pattern: "*".into(),
    }];
    app.store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope, t.owner_id)
        .await
        .unwrap();
    app.store
        .engine()
        .require_approval(
            t.tenant_id,
            t.owner_id,
            "deploy".into(),
            "Service".into(),
            Some(1),
            None,
        )
        .await
        .unwrap();
    let pending = p
        .tool(
            "authorize_action",
            json!({"action": "deploy", "resource_type": "Service", "resource_id": "api"}),
        )
        .await;
    assert_eq!(
        pending["structuredContent"]["decision"], "PENDING_APPROVAL",
        "{pending}"
    );
    let approval = pending["structuredContent"]["review_id"]
        .as_str()
        .unwrap()
        .to_string();
    let queued = charter_tests::outbox(&app.store, t.tenant_id, "action_approval.requested").await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["approval_id"], approval.as_str());
    assert_eq!(queued[0]["resource"], "Service:api");
    let approvals = |token: &str| call(&app, Some(token), "GET", "/api/v1/action-approvals", None);
    let offered = |body: &Value| {
        body.as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == approval.as_str())
    };
    assert!(!offered(&approvals(s.token(Role::Approver)).await.body));
    let path = format!("/api/v1/action-approvals/{approval}/verdict");
    let approve = json!({"verdict": "approve"});
    let r = call(
        &app,
        Some(s.token(Role::Approver)),
        "POST",
        &path,
        Some(approve.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "self_approval");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains(&task.to_string())
    );
    // Recorded as a violation of the approver's.
    let v = call(&app, Some(s.owner()), "GET", "/api/v1/violations", None).await;
    let found = v.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "self_approval" && x["subject"]["id"] == json!(h))
        .count();
    assert_eq!(found, 2, "{:?}", v.body);
    // The admin is in no chain with the agent: offered both, and approves both.
    assert!(offered(&approvals(s.token(Role::Admin)).await.body));
    let r = call(
        &app,
        Some(s.token(Role::Admin)),
        "POST",
        &path,
        Some(approve),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(listed(&inbox(s.token(Role::Admin)).await.body));

    // Once the task is closed (it served no initiative), the person is out of the chain.
    let done = p
        .tool(
            "complete_task",
            json!({"task_id": task, "success": true, "result": {}}),
        )
        .await;
    assert_eq!(done["isError"], false, "{done}");
    assert!(listed(&inbox(s.token(Role::Approver)).await.body));
    let path = format!("/api/v1/reviews/{review}/verdict");
    let r = call(
        &app,
        Some(s.token(Role::Approver)),
        "POST",
        &path,
        Some(verdict),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
