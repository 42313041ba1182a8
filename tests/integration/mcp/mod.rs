//! The MCP endpoint over real HTTP: authentication and isolation, sessions bound to their
//! tenant and agent, tool listing with schemas and annotations, and the decision tools
//! with business refusals as tool results. The whole review-and-deploy scenario is in
//! [`scenario`]; the deprecated SSE transport in [`sse`].

mod scenario;
mod sse;

use charter_core::policy::{Grant, Scope};
use charter_store::provision::Provisioned;
use charter_tests::mcp::{CURRENT, Client, LEGACY, message};
use charter_tests::sse::SseClient;
use charter_tests::{
    SCENARIO_GATE, SCENARIO_TEMPLATE, TestApp, add_agent, scenario_tenant, spawn_app, tenant,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The 21 tools docs/mcp.md lists.
const TOOLS: [&str; 21] = [
    "get_context",
    "list_workflow_templates",
    "create_initiative",
    "get_initiative",
    "register_artifact",
    "submit_evidence",
    "get_provenance",
    "check_gates",
    "request_review",
    "submit_review",
    "promote_gate",
    "list_review_requests",
    "authorize_action",
    "report_outcome",
    "await_decision",
    "delegate_task",
    "complete_task",
    "request_scope_change",
    "query_ledger",
    "verify_receipt",
    "list_violations",
];

fn deploy_scope() -> Scope {
    Scope {
        grants: vec![Grant {
            actions: vec!["deploy".into()],
            resource_type: "Service".into(),
            id_pattern: "payments-*".into(),
        }],
        may_direct: vec![],
        spend_limit: Some(100),
        dispatch_limit: None,
    }
}

async fn scoped_tenant(app: &TestApp, name: &str) -> Provisioned {
    let t = tenant(&app.store, name).await;
    app.store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, deploy_scope(), t.owner_id)
        .await
        .unwrap();
    t
}

#[tokio::test]
async fn only_the_tenants_own_agents_get_in() {
    let app = spawn_app().await;
    let a = scoped_tenant(&app, "Mcp A").await;
    let b = scoped_tenant(&app, "Mcp B").await;
    let url = app.url(&format!("/t/{}/mcp", a.slug));
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}});
    for key in [
        None,
        Some("chtr_ak_nope"),
        Some(b.api_key.expose().as_str()),
    ] {
        let mut r = app
            .client
            .post(&url)
            .header("Accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(k) = key {
            r = r.header("Authorization", format!("Bearer {k}"));
        }
        let res = r.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "key {key:?}");
        let challenge = res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.starts_with("Bearer ")
                && challenge.contains(&format!(
                    "/.well-known/oauth-protected-resource/t/{}/mcp",
                    a.slug
                )),
            "{challenge}"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized");
    }
    // The RFC 9728 metadata names the resource.
    let meta: Value = app
        .client
        .get(app.url(&format!(
            "/.well-known/oauth-protected-resource/t/{}/mcp",
            a.slug
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        meta["resource"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/t/{}/mcp", a.slug))
    );
    assert_eq!(meta["bearer_methods_supported"], json!(["header"]));
    // A revoked key is refused like an unknown one, at once, though it was just used
    // (and so remembered by this node).
    let post = |key: String| {
        app.client
            .post(&url)
            .header("Accept", "application/json, text/event-stream")
            .header("Authorization", format!("Bearer {key}"))
            .json(&init)
            .send()
    };
    let res = post(a.api_key.expose().to_string()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let tx = app.store.tenant_tx(a.tenant_id).await.unwrap();
    let keys = charter_store::api_keys::list(&tx, a.agent_id)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    app.store
        .admin()
        .revoke_api_key(a.tenant_id, a.owner_id, a.agent_id, keys[0].id)
        .await
        .unwrap();
    let res = app
        .client
        .post(&url)
        .header("Accept", "application/json, text/event-stream")
        .header("Authorization", format!("Bearer {}", a.api_key.expose()))
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_session_stays_with_its_tenant_and_agent() {
    let app = spawn_app().await;
    let a = scoped_tenant(&app, "Sess A").await;
    let b = scoped_tenant(&app, "Sess B").await;
    let mut client = Client::new(&app, &a.slug, a.api_key.expose());
    client.initialize().await;
    let session = client.session.clone().unwrap();
    let (status, _) = client.call("tools/list", json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // Replayed at another tenant's path with that tenant's (valid) key.
    let mut thief = Client::new(&app, &b.slug, b.api_key.expose());
    thief.session = Some(session.clone());
    let (status, msg) = thief.call("tools/list", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{msg}");

    // Replayed at the same tenant by another agent.
    let other = add_agent(&app.store, a.tenant_id, "other", a.owner_id).await;
    let tx = app.store.tenant_tx(a.tenant_id).await.unwrap();
    let (_, key) = charter_store::api_keys::issue(&tx, other, "t", None, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut colleague = Client::new(&app, &a.slug, key.expose());
    colleague.session = Some(session);
    let (status, _) = colleague.call("tools/list", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The owner of the session still uses it.
    let (status, _) = client.call("tools/list", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn tools_have_schemas_annotations_and_refuse_as_results() {
    let app = spawn_app().await;
    let a = scoped_tenant(&app, "Tools").await;
    let mut client = Client::new(&app, &a.slug, a.api_key.expose());
    client.initialize().await;
    let (_, list) = client.call("tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    let mut expected = TOOLS.to_vec();
    expected.sort();
    assert_eq!(names, expected);
    for name in TOOLS {
        let t = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(!t["description"].as_str().unwrap().is_empty());
        assert_eq!(t["inputSchema"]["type"], "object", "{name}");
        assert_eq!(t["outputSchema"]["type"], "object", "{name}");
        assert!(t["annotations"]["readOnlyHint"].is_boolean(), "{name}");
        for (field, schema) in t["inputSchema"]["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default()
        {
            assert!(
                schema["description"].is_string(),
                "{name}.{field} has no description"
            );
        }
    }
    let ctx = client.tool("get_context", json!({})).await;
    assert_eq!(ctx["isError"], false);
    assert_eq!(ctx["structuredContent"]["agent_id"], a.agent_id.to_string());
    assert_eq!(ctx["structuredContent"]["tenant_slug"], a.slug);
    assert_eq!(ctx["structuredContent"]["spend_left"], 100);
    // The same JSON as text, for older clients.
    let text: Value = serde_json::from_str(ctx["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, ctx["structuredContent"]);

    let allowed = client
        .tool(
            "authorize_action",
            json!({"action": "deploy", "resource_type": "Service", "resource_id": "payments-api",
                   "spend": 30, "idempotency_key": "k1"}),
        )
        .await;
    assert_eq!(allowed["isError"], false, "{allowed}");
    let receipt = &allowed["structuredContent"];
    assert_eq!(receipt["decision"], "ALLOWED");
    assert_eq!(receipt["signature"].as_str().unwrap().len(), 128);
    // The receipt verifies: before any checkpoint covers it, and after.
    let claim = json!({"seq": receipt["seq"], "record_hash": receipt["record_hash"],
                       "signature": receipt["signature"], "key_id": receipt["key_id"]});
    let check = client.tool("verify_receipt", claim.clone()).await;
    assert_eq!(check["structuredContent"]["valid"], true, "{check}");
    assert!(check["structuredContent"]["included_in_checkpoint"].is_null());
    app.store.ledger().checkpoint(a.tenant_id).await.unwrap();
    let check = client.tool("verify_receipt", claim.clone()).await;
    assert_eq!(check["structuredContent"]["valid"], true, "{check}");
    assert_eq!(check["structuredContent"]["included_in_checkpoint"], true);
    assert_eq!(check["structuredContent"]["record"]["decision"], "ALLOWED");
    // A forged signature or a hash from elsewhere does not.
    let mut forged = claim.clone();
    let sig = receipt["signature"].as_str().unwrap();
    forged["signature"] = json!(format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    ));
    let check = client.tool("verify_receipt", forged).await;
    assert_eq!(check["structuredContent"]["valid"], false);
    assert_eq!(check["structuredContent"]["signature_valid"], false);
    let mut moved = claim;
    moved["seq"] = json!(0);
    let check = client.tool("verify_receipt", moved).await;
    assert_eq!(check["structuredContent"]["record_matches"], false);
    let blocked = client
        .tool(
            "authorize_action",
            json!({"action": "deploy", "resource_type": "Service", "resource_id": "billing-api"}),
        )
        .await;
    assert_eq!(blocked["isError"], true);
    assert_eq!(blocked["structuredContent"]["decision"], "BLOCKED");
    assert_eq!(blocked["structuredContent"]["reason"], "out_of_scope");
    let outcome = client
        .tool(
            "report_outcome",
            json!({"authorization_id": receipt["authorization_id"], "success": true, "actual_spend": 20}),
        )
        .await;
    assert_eq!(outcome["isError"], false, "{outcome}");
    let ctx = client.tool("get_context", json!({})).await;
    assert_eq!(ctx["structuredContent"]["spend_used"], 20);
    // Not found is a refusal too, with its reason.
    let missing = client
        .tool(
            "report_outcome",
            json!({"authorization_id": uuid::Uuid::now_v7(), "success": true}),
        )
        .await;
    assert_eq!(missing["isError"], true);
    assert_eq!(missing["structuredContent"]["reason"], "not_found");
    // Invalid arguments name the field; an unknown tool is an error too.
    let (_, bad) = client
        .call(
            "tools/call",
            json!({"name": "authorize_action", "arguments": {"action": "deploy"}}),
        )
        .await;
    assert!(bad.to_string().contains("resource_type"), "{bad}");
    let (_, unknown) = client
        .call(
            "tools/call",
            json!({"name": "no_such_tool", "arguments": {}}),
        )
        .await;
    assert!(
        unknown["error"].is_object() || unknown["result"]["isError"] == true,
        "{unknown}"
    );
    // Asking for a wider scope changes nothing until a principal approves.
    let wider =
        json!({"grants": [{"actions": ["deploy"], "resource_type": "Service", "id_pattern": "*"}]});
    let asked = client
        .tool(
            "request_scope_change",
            json!({"scope": wider, "reason": "billing needs a deploy"}),
        )
        .await;
    assert_eq!(asked["isError"], false, "{asked}");
    assert_eq!(asked["structuredContent"]["decision"], "PENDING_APPROVAL");
    let still = client
        .tool(
            "authorize_action",
            json!({"action": "deploy", "resource_type": "Service", "resource_id": "billing-api"}),
        )
        .await;
    assert_eq!(still["structuredContent"]["reason"], "out_of_scope");
    // Presets are listed with the gates a risk score calls for.
    let t = client
        .tool("list_workflow_templates", json!({"risk": 10}))
        .await;
    let names: Vec<&str> = t["structuredContent"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["template"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"regulated"), "{names:?}");
}

#[tokio::test]
async fn requests_addressed_to_a_foreign_host_are_refused() {
    let app = spawn_app().await;
    let a = scoped_tenant(&app, "Host").await;
    let res = app
        .client
        .post(app.url(&format!("/t/{}/mcp", a.slug)))
        .header("Host", "evil.example")
        .header("Accept", "application/json, text/event-stream")
        .header("Authorization", format!("Bearer {}", a.api_key.expose()))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn each_key_is_rate_limited_with_retry_after() {
    let app = charter_tests::spawn_app_with(charter_tests::test_config(&[(
        "CHARTER_RATE_LIMIT_PER_MINUTE",
        "5",
    )]))
    .await;
    let a = scoped_tenant(&app, "Limited").await;
    let other = scoped_tenant(&app, "Unlimited").await;
    // Stay clear of a minute boundary, where the window restarts.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if secs > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - secs)).await;
    }
    let mut client = Client::stateless(&app, &a.slug, a.api_key.expose());
    for _ in 0..5 {
        let (status, _) = client.call("tools/list", json!({})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let res = client
        .post(&json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list", "params": {}}))
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Another key has its own budget.
    let mut fresh = Client::stateless(&app, &other.slug, other.api_key.expose());
    let (status, _) = fresh.call("tools/list", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

/// Posts raw bytes as a stateless 2026-07-28 request.
async fn raw(
    app: &TestApp,
    slug: &str,
    key: &str,
    method: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let res = app
        .client
        .post(app.url(&format!("/t/{slug}/mcp")))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {key}"))
        .header("MCP-Protocol-Version", CURRENT)
        .header("Mcp-Method", method)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

fn meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": CURRENT,
           "io.modelcontextprotocol/clientCapabilities": {}})
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_never_a_5xx() {
    let app = spawn_app().await;
    let a = scoped_tenant(&app, "Bad input").await;
    let (slug, key) = (a.slug.clone(), a.api_key.expose().to_string());
    let code = |text: &str| -> i64 {
        let v: Value = serde_json::from_str(text).unwrap_or_else(|_| message(text, 1));
        v["error"]["code"].as_i64().unwrap_or(0)
    };
    let (s, t) = raw(&app, &slug, &key, "tools/list", b"{not json".to_vec()).await;
    assert_eq!((s, code(&t)), (StatusCode::BAD_REQUEST, -32700), "{t}");
    let (s, t) = raw(
        &app,
        &slug,
        &key,
        "tools/list",
        br#"{"jsonrpc":"2.0","id":1}"#.to_vec(),
    )
    .await;
    assert!(s.is_client_error(), "{s} {t}");
    assert!(matches!(code(&t), -32600 | -32700), "{t}");
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "no/such_method", "params": {"_meta": meta()}});
    let (s, t) = raw(
        &app,
        &slug,
        &key,
        "no/such_method",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert!(s.is_success() || s.is_client_error(), "{s} {t}");
    assert_eq!(code(&t), -32601, "{t}");
    // Unknown tool and invalid arguments name what is wrong.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "no_such_tool", "arguments": {}, "_meta": meta()}});
    let res = app
        .client
        .post(app.url(&format!("/t/{slug}/mcp")))
        .header("Accept", "application/json, text/event-stream")
        .header("Authorization", format!("Bearer {key}"))
        .header("MCP-Protocol-Version", CURRENT)
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "no_such_tool")
        .json(&body)
        .send()
        .await
        .unwrap();
    let t = res.text().await.unwrap();
    assert!(t.contains("no_such_tool"), "{t}");
    let mut client = Client::stateless(&app, &slug, &key);
    let (_, bad) = client
        .call("tools/call", json!({"name": "report_outcome", "arguments": {"authorization_id": "nope", "success": true}}))
        .await;
    assert!(bad.to_string().contains("authorization_id"), "{bad}");
    // A Mcp-Name header that does not match the body.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "get_context", "arguments": {}, "_meta": meta()}});
    let res = app
        .client
        .post(app.url(&format!("/t/{slug}/mcp")))
        .header("Accept", "application/json, text/event-stream")
        .header("Authorization", format!("Bearer {key}"))
        .header("MCP-Protocol-Version", CURRENT)
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "authorize_action")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Oversized bodies are refused before they are read whole.
    let big = vec![b' '; charter_api::mcp::MAX_BODY_BYTES + 1];
    let (s, _) = raw(&app, &slug, &key, "tools/list", big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // A quick fuzz of the JSON-RPC input: mutated valid requests never get a 5xx.
    let seeds = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "authorize_action", "_meta": meta(),
                          "arguments": {"action": "deploy", "resource_type": "Service", "resource_id": "payments-api", "spend": 1}}}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": meta()}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "query_ledger", "_meta": meta(), "arguments": {"limit": 5}}}),
    ];
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let odd = [
        json!(null),
        json!(-1),
        json!(1e308),
        json!(""),
        json!("\u{0}"),
        json!([]),
        json!({}),
        json!(i64::MAX),
        json!("x".repeat(5000)),
        json!({"nested": {"deep": [1, [2, [3]]]}}),
    ];
    for i in 0..300 {
        let mut v = seeds[i % seeds.len()].clone();
        let paths: [&[&str]; 7] = [
            &["id"],
            &["method"],
            &["jsonrpc"],
            &["params", "name"],
            &["params", "arguments"],
            &["params", "arguments", "spend"],
            &["params", "arguments", "action"],
        ];
        let path = paths[(next() % paths.len() as u64) as usize];
        let mut slot = &mut v;
        for p in &path[..path.len() - 1] {
            slot = &mut slot[*p];
        }
        slot[path[path.len() - 1]] = odd[(next() % odd.len() as u64) as usize].clone();
        let mut bytes = serde_json::to_vec(&v).unwrap();
        if next() % 5 == 0 && !bytes.is_empty() {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = (next() % 256) as u8;
        }
        // Header values must be printable; the body may say anything.
        let method = v["method"]
            .as_str()
            .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_graphic()))
            .unwrap_or("tools/call")
            .to_string();
        let (s, t) = raw(&app, &slug, &key, &method, bytes).await;
        assert!(!s.is_server_error(), "case {i}: {s} {t} for {v}");
    }
}

#[tokio::test]
async fn a_session_continues_on_another_node() {
    // Two API nodes sharing PostgreSQL and Redis.
    let node_a = spawn_app().await;
    let node_b = spawn_app().await;
    let t = scoped_tenant(&node_a, "Two nodes").await;
    let mut on_a = Client::new(&node_a, &t.slug, t.api_key.expose());
    on_a.initialize().await;
    let mut on_b = Client::new(&node_b, &t.slug, t.api_key.expose());
    on_b.session = on_a.session.clone();
    let (status, list) = on_b.call("tools/list", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["result"]["tools"].as_array().unwrap().len(), 21);
    let ctx = on_b.tool("get_context", json!({})).await;
    assert_eq!(ctx["structuredContent"]["agent_id"], t.agent_id.to_string());
    // The binding travels too: on node B the session is still this agent's alone.
    let other = scoped_tenant(&node_b, "Two nodes other").await;
    let mut thief = Client::new(&node_b, &other.slug, other.api_key.expose());
    thief.session = on_a.session.clone();
    let (status, _) = thief.call("tools/list", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A key revoked through one node is refused by the other, which had it cached.
    let tx = node_a.store.tenant_tx(t.tenant_id).await.unwrap();
    let keys = charter_store::api_keys::list(&tx, t.agent_id)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    node_a
        .store
        .admin()
        .revoke_api_key(t.tenant_id, t.owner_id, t.agent_id, keys[0].id)
        .await
        .unwrap();
    let mut refused = false;
    for _ in 0..20 {
        let (status, _) = on_b.call("tools/list", json!({})).await;
        if status == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused, "node B still accepts a revoked key after 2 s");
}

#[tokio::test]
async fn a_suspended_agent_cannot_act_through_any_tool() {
    let app = spawn_app().await;
    let s = scenario_tenant(&app.store, "Suspended").await;
    let mut client = Client::stateless(&app, &s.t.slug, s.t.api_key.expose());
    let tx = app.store.tenant_tx(s.t.tenant_id).await.unwrap();
    charter_tests::execute(
        tx.raw(),
        "UPDATE agents SET status = 'suspended' WHERE id = $1",
        vec![s.t.agent_id.into()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let calls = [
        (
            "create_initiative",
            json!({"name": "x", "template": SCENARIO_TEMPLATE, "risk": 1}),
        ),
        (
            "register_artifact",
            json!({"kind": "code", "digest": "sha256:00"}),
        ),
        ("delegate_task", json!({"assignee_agent_id": s.reviewer_id})),
    ];
    for (tool, args) in calls {
        let r = client.tool(tool, args).await;
        assert_eq!(r["isError"], true, "{tool}: {r}");
        assert_eq!(
            r["structuredContent"]["reason"], "agent_suspended",
            "{tool}: {r}"
        );
    }
    let r = client
        .tool(
            "authorize_action",
            json!({"action": "deploy", "resource_type": "Service", "resource_id": "payments-api"}),
        )
        .await;
    assert_eq!(r["structuredContent"]["reason"], "agent_suspended", "{r}");
    // Reading its own context still works.
    let ctx = client.tool("get_context", json!({})).await;
    assert_eq!(ctx["structuredContent"]["agent_status"], "suspended");
}
