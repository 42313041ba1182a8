//! The deprecated HTTP+SSE transport serves the same tools, to the agent that opened the
//! stream only.

use super::*;

#[tokio::test]
async fn the_legacy_sse_transport_serves_the_same_tools() {
    let app = spawn_app().await;
    let a = scoped_tenant(&app, "Sse A").await;
    let b = scoped_tenant(&app, "Sse B").await;
    let key = a.api_key.expose().to_string();
    // No key, no stream.
    let res = app
        .client
        .get(app.url(&format!("/t/{}/sse", a.slug)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let mut c = SseClient::connect(&app.url(""), &a.slug, &key).await;
    assert_eq!(c.headers["x-accel-buffering"], "no");
    let init = c
        .call(
            1,
            "initialize",
            json!({"protocolVersion": "2024-11-05", "capabilities": {},
                   "clientInfo": {"name": "sse-test", "version": "1"}}),
        )
        .await;
    assert_eq!(init["result"]["protocolVersion"], "2024-11-05");
    let res = c
        .post(
            &key,
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let list = c.call(2, "tools/list", json!({})).await;
    assert_eq!(list["result"]["tools"].as_array().unwrap().len(), 21);
    let ctx = c
        .call(
            3,
            "tools/call",
            json!({"name": "get_context", "arguments": {}}),
        )
        .await;
    assert_eq!(
        ctx["result"]["structuredContent"]["agent_id"],
        a.agent_id.to_string()
    );
    let blocked = c
        .call(
            4,
            "tools/call",
            json!({"name": "authorize_action", "arguments":
                   {"action": "deploy", "resource_type": "Service", "resource_id": "billing-api"}}),
        )
        .await;
    assert_eq!(blocked["result"]["isError"], true);
    assert_eq!(
        blocked["result"]["structuredContent"]["reason"],
        "out_of_scope"
    );
    // Malformed input is refused with the JSON-RPC code, and nothing reaches the service.
    let res = app
        .client
        .post(&c.post_url)
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    // The session is this agent's alone: another agent of the tenant, or another tenant
    // (at its own path, with its own key), cannot post into it.
    let other = add_agent(&app.store, a.tenant_id, "other", a.owner_id).await;
    let tx = app.store.tenant_tx(a.tenant_id).await.unwrap();
    let (_, other_key) = charter_store::api_keys::issue(&tx, other, "t", None, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let ping = json!({"jsonrpc": "2.0", "id": 9, "method": "ping"});
    let res = c.post(other_key.expose(), &ping).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let foreign = c
        .post_url
        .replace(&format!("/t/{}/", a.slug), &format!("/t/{}/", b.slug));
    let res = app
        .client
        .post(&foreign)
        .header("Authorization", format!("Bearer {}", b.api_key.expose()))
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // A foreign Host is refused before anything else.
    let res = app
        .client
        .get(app.url(&format!("/t/{}/sse", a.slug)))
        .header("Host", "evil.example")
        .header("Authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
