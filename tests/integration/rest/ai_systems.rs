//! AI systems over REST: registered and changed by the owner and admins, read by every
//! role (the compliance officer included, who may change nothing), each change a ledger
//! record; every rule refused with a 422 naming its field; names unique in the tenant;
//! agents only the tenant's own.

use charter_core::tenant::Role;
use charter_tests::rest::{call, staff};
use charter_tests::{spawn_app, tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The signed record behind a ledger line.
async fn record(app: &charter_tests::TestApp, token: &str, line: &Value) -> Value {
    charter_tests::rest::signed_record(app, token, line["seq"].as_u64().unwrap()).await
}

fn credit_scoring(agents: &[uuid::Uuid]) -> Value {
    json!({
        "name": "Credit scoring",
        "intended_purpose": "Scores consumer credit applications for the loan desk",
        "provider": "Acme AI Ltd",
        "deployer": "Acme Bank",
        "high_risk": true,
        "annex_iii_point": "5(b)",
        "contact": "ai-office@acme.example",
        "agents": agents,
    })
}

#[tokio::test]
async fn owners_register_everyone_reads_and_each_change_is_recorded() {
    let app = spawn_app().await;
    let s = staff(&app, "AI systems").await;
    let agent = s.tenant.agent_id;
    let created = call(
        &app,
        Some(s.owner()),
        "POST",
        "/api/v1/ai-systems",
        Some(credit_scoring(&[agent, agent])),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["annex_iii_point"], "5(b)");
    assert_eq!(created.body["agents"], json!([agent]));

    // Every role reads it; only the owner and admins change it.
    for role in Role::ALL {
        let r = call(
            &app,
            Some(s.token(role)),
            "GET",
            &format!("/api/v1/ai-systems/{id}"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{role}");
        let list = call(&app, Some(s.token(role)), "GET", "/api/v1/ai-systems", None).await;
        assert_eq!(list.body.as_array().unwrap().len(), 1, "{role}");
        let change = call(
            &app,
            Some(s.token(role)),
            "PATCH",
            &format!("/api/v1/ai-systems/{id}"),
            Some(json!({"contact": format!("{role}@acme.example")})),
        )
        .await;
        let may = matches!(role, Role::Owner | Role::Admin);
        let expected = if may {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(change.status, expected, "{role}: {:?}", change.body);
    }

    // No longer high-risk: the Annex III point must go too, and the refusal names it.
    let path = format!("/api/v1/ai-systems/{id}");
    let r = call(
        &app,
        Some(s.owner()),
        "PATCH",
        &path,
        Some(json!({"high_risk": false})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("annex_iii_point:"),
        "{:?}",
        r.body
    );
    let r = call(
        &app,
        Some(s.owner()),
        "PATCH",
        &path,
        Some(json!({"high_risk": false, "annex_iii_point": null, "agents": []})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["annex_iii_point"], Value::Null);
    assert_eq!(r.body["agents"], json!([]));

    // On the ledger: the registration with its facts, each change with before and after,
    // by the person who made it.
    let created = call(
        &app,
        Some(s.owner()),
        "GET",
        "/api/v1/ledger/entries?kind=ai_system.created",
        None,
    )
    .await;
    let entry = &created.body["entries"][0];
    assert_eq!(entry["actor_id"], s.id(Role::Owner).to_string());
    assert_eq!(entry["resource"], format!("ai_system:{id}"));
    let facts = &record(&app, s.owner(), entry).await["payload"]["facts"];
    assert_eq!(facts["annex_iii_point"], "5(b)", "{facts}");
    assert_eq!(facts["agents"], json!([agent]));
    let updates = call(
        &app,
        Some(s.owner()),
        "GET",
        "/api/v1/ledger/entries?kind=ai_system.updated",
        None,
    )
    .await;
    let updates = updates.body["entries"].as_array().unwrap().clone();
    assert_eq!(updates.len(), 3, "owner, admin and the last change");
    assert_eq!(updates[1]["actor_id"], s.id(Role::Admin).to_string());
    let last = &record(&app, s.owner(), &updates[0]).await["payload"]["changes"];
    assert_eq!(
        last["high_risk"],
        json!({"from": true, "to": false}),
        "{last}"
    );
    assert_eq!(last["annex_iii_point"], json!({"from": "5(b)", "to": null}));
    assert_eq!(last["agents"], json!({"from": [agent], "to": []}));
    assert!(last.get("name").is_none(), "only what changed: {last}");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let s = staff(&app, "AI systems input").await;
    let other = tenant(&app.store, "Someone else").await;
    let agent = s.tenant.agent_id;
    let good = credit_scoring(&[agent]);
    let with = |field: &str, value: Value| {
        let mut b = good.clone();
        b[field] = value;
        b
    };
    for (body, field) in [
        (with("name", json!("   ")), "name"),
        (
            with("intended_purpose", json!("x".repeat(2001))),
            "intended_purpose",
        ),
        (with("provider", json!("")), "provider"),
        (with("deployer", json!("a\u{0}b")), "deployer"),
        (with("contact", json!("c".repeat(201))), "contact"),
        (with("annex_iii_point", json!("9")), "annex_iii_point"),
        (with("annex_iii_point", json!("2(a)")), "annex_iii_point"),
        (with("high_risk", json!(false)), "annex_iii_point"),
        (with("agents", json!([uuid::Uuid::new_v4()])), "agents"),
        // Another tenant's agent is no agent of this tenant.
        (with("agents", json!([other.agent_id])), "agents"),
    ] {
        let r = call(
            &app,
            Some(s.owner()),
            "POST",
            "/api/v1/ai-systems",
            Some(body),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {:?}",
            r.body
        );
        let message = r.body["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}:")),
            "{field}: {message}"
        );
    }
    let r = call(
        &app,
        Some(s.owner()),
        "POST",
        "/api/v1/ai-systems",
        Some(with("colour", json!("red"))),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);

    // Names are unique in the tenant, on creation and on renaming.
    let first = call(
        &app,
        Some(s.owner()),
        "POST",
        "/api/v1/ai-systems",
        Some(good.clone()),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = call(
        &app,
        Some(s.owner()),
        "POST",
        "/api/v1/ai-systems",
        Some(good.clone()),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body["message"].as_str().unwrap().starts_with("name:"));
    let second = call(
        &app,
        Some(s.owner()),
        "POST",
        "/api/v1/ai-systems",
        Some(with("name", json!("Fraud screening"))),
    )
    .await;
    assert_eq!(second.status, StatusCode::CREATED);
    let rename = call(
        &app,
        Some(s.owner()),
        "PATCH",
        &format!("/api/v1/ai-systems/{}", second.body["id"].as_str().unwrap()),
        Some(json!({"name": "Credit scoring"})),
    )
    .await;
    assert_eq!(rename.status, StatusCode::CONFLICT);
    // The same name in another tenant is another system.
    let r = call(
        &app,
        Some(s.owner()),
        "GET",
        &format!("/api/v1/ai-systems/{}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn decisions_are_selected_by_system() {
    let app = spawn_app().await;
    let s = staff(&app, "By system").await;
    let t = &s.tenant;
    let outsider = charter_tests::add_agent(&app.store, t.tenant_id, "outsider", t.owner_id).await;
    let system = call(
        &app,
        Some(s.owner()),
        "POST",
        "/api/v1/ai-systems",
        Some(credit_scoring(&[t.agent_id])),
    )
    .await;
    let id = system.body["id"].as_str().unwrap();
    for agent in [t.agent_id, outsider, t.agent_id] {
        app.store
            .engine()
            .authorize(t.tenant_id, agent, charter_tests::deploy("api"))
            .await
            .unwrap();
    }
    let page = call(
        &app,
        Some(s.token(Role::ComplianceOfficer)),
        "GET",
        &format!("/api/v1/ledger/entries?kind=decision&system={id}"),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let actors: Vec<&str> = page.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor_id"].as_str().unwrap())
        .collect();
    assert_eq!(actors, [t.agent_id.to_string(), t.agent_id.to_string()]);
    let unknown = call(
        &app,
        Some(s.owner()),
        "GET",
        &format!("/api/v1/ledger/entries?system={}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
