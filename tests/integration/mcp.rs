//! The MCP endpoint over real HTTP: authentication and isolation, sessions bound to their
//! tenant and agent, tool listing with schemas and annotations, and the decision tools
//! with business refusals as tool results.

use charter_core::policy::{Grant, Scope};
use charter_store::provision::Provisioned;
use charter_tests::{TestApp, add_agent, spawn_app, tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

const LEGACY: &str = "2025-06-18";

/// A client of one tenant's endpoint with one agent's key.
struct Client<'a> {
    app: &'a TestApp,
    slug: String,
    key: String,
    session: Option<String>,
    next_id: u64,
}

impl<'a> Client<'a> {
    fn new(app: &'a TestApp, slug: &str, key: &str) -> Client<'a> {
        Client {
            app,
            slug: slug.into(),
            key: key.into(),
            session: None,
            next_id: 1,
        }
    }

    async fn post(&mut self, body: &Value) -> reqwest::Response {
        let mut r = self
            .app
            .client
            .post(self.app.url(&format!("/t/{}/mcp", self.slug)))
            .header("Accept", "application/json, text/event-stream")
            .header("Authorization", format!("Bearer {}", self.key))
            .header("MCP-Protocol-Version", LEGACY)
            .json(body);
        if let Some(s) = &self.session {
            r = r.header("Mcp-Session-Id", s);
        }
        r.send().await.unwrap()
    }

    /// A JSON-RPC request; the response message (from JSON or an SSE stream).
    async fn call(&mut self, method: &str, params: Value) -> (StatusCode, Value) {
        let id = self.next_id;
        self.next_id += 1;
        let res = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let status = res.status();
        if let Some(s) = res.headers().get("mcp-session-id") {
            self.session = Some(s.to_str().unwrap().to_string());
        }
        let text = res.text().await.unwrap();
        (status, message(&text, id))
    }

    async fn initialize(&mut self) {
        let (status, init) = self
            .call(
                "initialize",
                json!({"protocolVersion": LEGACY, "capabilities": {},
                       "clientInfo": {"name": "charter-tests", "version": "1"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{init}");
        assert_eq!(init["result"]["serverInfo"]["name"], "charter");
        assert!(self.session.is_some(), "a legacy client gets a session");
        let res = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }

    async fn tool(&mut self, name: &str, arguments: Value) -> Value {
        let (status, msg) = self
            .call("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        assert_eq!(status, StatusCode::OK, "{msg}");
        msg["result"].clone()
    }
}

/// The JSON-RPC message with `id` in a JSON body or an SSE stream.
fn message(text: &str, id: u64) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return v;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no message {id} in {text:?}"))
}

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
    // A revoked key is refused like an unknown one.
    let tx = app.store.tenant_tx(a.tenant_id).await.unwrap();
    let keys = charter_store::api_keys::list(&tx, a.agent_id)
        .await
        .unwrap();
    charter_store::api_keys::revoke(&tx, keys[0].id, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
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
    for name in [
        "get_context",
        "list_workflow_templates",
        "authorize_action",
        "report_outcome",
        "verify_receipt",
        "request_scope_change",
    ] {
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
    app.store.checkpoint(a.tenant_id).await.unwrap();
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
