//! The REST flow: a compliance officer asks for a bundle, the worker makes it (progress
//! visible), the officer downloads it and it verifies; bad requests name their field;
//! retention and holds through the API.

use charter_core::tenant::Role;
use charter_tests::rest::{call, staff};
use charter_tests::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

use super::verify;

#[tokio::test]
async fn a_compliance_officer_exports_and_downloads_a_verifiable_bundle() {
    let app = spawn_app().await;
    let s = staff(&app, "Exports").await;
    let officer = s.token(Role::ComplianceOfficer);
    let sys = call(
        &app,
        Some(s.owner()),
        "POST",
        "/api/v1/ai-systems",
        Some(
            json!({"name": "Triage", "intended_purpose": "Routes tickets", "provider": "Acme AI",
                    "deployer": "Acme", "high_risk": false, "contact": "ai@acme.example",
                    "agents": [s.tenant.agent_id]}),
        ),
    )
    .await;
    assert_eq!(sys.status, StatusCode::CREATED, "{:?}", sys.body);
    let system = sys.body["id"].as_str().unwrap().to_string();
    let today = chrono::Utc::now().date_naive();
    let (yesterday, tomorrow) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());

    // Bad requests, each naming its field.
    for (body, field) in [
        (
            json!({"system_id": uuid::Uuid::new_v4(), "from": yesterday.to_string(), "to": today.to_string(), "purpose": "risk_situations"}),
            "system_id",
        ),
        (
            json!({"system_id": system, "from": tomorrow.to_string(), "to": tomorrow.succ_opt().unwrap().to_string(), "purpose": "risk_situations"}),
            "from",
        ),
        (
            json!({"system_id": system, "from": today.to_string(), "to": yesterday.to_string(), "purpose": "risk_situations"}),
            "to",
        ),
        (
            json!({"system_id": system, "from": yesterday.to_string(), "to": today.to_string(), "purpose": "marketing"}),
            "purpose",
        ),
        (
            json!({"system_id": system, "from": "last week", "to": today.to_string(), "purpose": "risk_situations"}),
            "from",
        ),
        (
            json!({"agents": [uuid::Uuid::new_v4()], "from": yesterday.to_string(), "to": today.to_string(), "purpose": "risk_situations"}),
            "agents[0]",
        ),
        (
            // Named by its place in the request (a nil id would sort first).
            json!({"agents": [s.tenant.agent_id, uuid::Uuid::nil()], "from": yesterday.to_string(), "to": today.to_string(), "purpose": "risk_situations"}),
            "agents[1]",
        ),
    ] {
        let r = call(
            &app,
            Some(officer),
            "POST",
            "/api/v1/exports",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            r.body
        );
        let message = r.body["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}:")),
            "{body}: {message}"
        );
    }

    let asked = call(
        &app,
        Some(officer),
        "POST",
        "/api/v1/exports",
        Some(
            json!({"system_id": system, "from": yesterday.to_string(), "to": today.to_string(),
                    "purpose": "operation_monitoring"}),
        ),
    )
    .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    assert_eq!(asked.body["status"], "queued");
    let id = asked.body["id"].as_str().unwrap().to_string();
    let early = call(
        &app,
        Some(officer),
        "GET",
        &format!("/api/v1/exports/{id}/download"),
        None,
    )
    .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{:?}", early.body);

    // The worker's job makes it.
    let mut view = serde_json::Value::Null;
    for _ in 0..50 {
        charter_worker::jobs::exports(app.store.clone())
            .await
            .unwrap();
        view = call(
            &app,
            Some(officer),
            "GET",
            &format!("/api/v1/exports/{id}"),
            None,
        )
        .await
        .body;
        if view["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(view["status"], "done", "{view}");
    assert_eq!(view["progress"], 1.0);
    assert!(view["full_records"].as_i64().unwrap() >= 1);
    let history = call(
        &app,
        Some(s.token(Role::Viewer)),
        "GET",
        "/api/v1/exports",
        None,
    )
    .await;
    assert!(
        history
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id.as_str())
    );

    // Download: the officer may, a viewer may not; the bytes verify and match the record.
    let url = app.url(&format!("/api/v1/exports/{id}/download"));
    let viewer = app
        .client
        .get(&url)
        .bearer_auth(s.token(Role::Viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(viewer.status(), StatusCode::FORBIDDEN);
    let res = app
        .client
        .get(&url)
        .bearer_auth(officer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let zip = res.bytes().await.unwrap().to_vec();
    assert_eq!(zip.len() as i64, view["size_bytes"].as_i64().unwrap());
    let summary = verify(&zip).unwrap();
    assert_eq!(summary.system.as_deref(), Some("Triage"));
    let manifest = super::file(&zip, "manifest.json");
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(manifest.as_bytes())),
        view["manifest_sha256"].as_str().unwrap()
    );
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        m["requested_by"]["id"],
        s.id(Role::ComplianceOfficer).to_string()
    );

    // The officer changes nothing else.
    for (method, path, body) in [
        ("PUT", "/api/v1/retention", json!({"retention_days": 400})),
        ("POST", "/api/v1/legal-holds", json!({"reason": "x"})),
        (
            "PATCH",
            &format!("/api/v1/ai-systems/{system}") as &str,
            json!({"contact": "x@y.example"}),
        ),
    ] {
        let r = call(&app, Some(officer), method, path, Some(body)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
}

#[tokio::test]
async fn retention_has_a_floor_and_holds_are_placed_and_released() {
    let app = spawn_app().await;
    let s = staff(&app, "Retention").await;
    let owner = s.owner();
    let r = call(&app, Some(owner), "GET", "/api/v1/retention", None).await;
    assert_eq!(r.body["retention_days"], 3653);
    assert_eq!(r.body["floor_days"], 183);
    for days in [0, 100, 182] {
        let r = call(
            &app,
            Some(owner),
            "PUT",
            "/api/v1/retention",
            Some(json!({"retention_days": days})),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{days}");
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .starts_with("retention_days:")
        );
    }
    let r = call(
        &app,
        Some(owner),
        "PUT",
        "/api/v1/retention",
        Some(json!({"retention_days": 183})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["retention_days"], 183);

    let r = call(
        &app,
        Some(owner),
        "POST",
        "/api/v1/legal-holds",
        Some(json!({"system_id": uuid::Uuid::new_v4(), "reason": "a matter"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("system_id:")
    );
    let r = call(
        &app,
        Some(owner),
        "POST",
        "/api/v1/legal-holds",
        Some(json!({"reason": "tenant-wide matter"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let hold = r.body["id"].as_str().unwrap().to_string();
    let r = call(&app, Some(owner), "GET", "/api/v1/retention", None).await;
    assert_eq!(r.body["active_holds"].as_array().unwrap().len(), 1);
    let path = format!("/api/v1/legal-holds/{hold}/release");
    assert_eq!(
        call(&app, Some(owner), "POST", &path, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Some(owner), "POST", &path, None).await.status,
        StatusCode::CONFLICT
    );
    let r = call(
        &app,
        Some(s.token(Role::Viewer)),
        "GET",
        "/api/v1/legal-holds",
        None,
    )
    .await;
    assert!(r.body[0]["released_at"].is_string());

    // Each change is a ledger record by the person.
    for kind in [
        "retention.changed",
        "legal_hold.placed",
        "legal_hold.released",
    ] {
        let r = call(
            &app,
            Some(owner),
            "GET",
            &format!("/api/v1/ledger/entries?kind={kind}"),
            None,
        )
        .await;
        let e = &r.body["entries"][0];
        assert_eq!(
            e["actor_id"],
            s.tenant.owner_id.to_string(),
            "{kind}: {:?}",
            r.body
        );
    }
}
