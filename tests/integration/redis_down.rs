//! Redis is never the source of truth: while it cannot be reached, stateless MCP requests
//! are still decided (each node counts the rate limit on its own), REST keeps working,
//! requests that need a session answer 503, and everything recovers when Redis returns.

use std::time::Duration;

use charter_tests::mcp::Client;
use charter_tests::proxy::TcpProxy;
use charter_tests::rest::login;
use charter_tests::{spawn_app_with, tenant, test_config};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn without_redis_decisions_and_rest_go_on_and_sessions_wait() {
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let url = format!("redis://{}", proxy.addr);
    let app = spawn_app_with(test_config(&[("CHARTER_REDIS_URL", &url)])).await;
    let t = tenant(&app.store, "Redis down").await;
    let mut session = Client::new(&app, &t.slug, t.api_key.expose());
    session.initialize().await;

    proxy.cut();
    // Stateless requests are decided, and recorded.
    let mut stateless = Client::stateless(&app, &t.slug, t.api_key.expose());
    for i in 0..3 {
        let r = stateless
            .tool(
                "authorize_action",
                json!({"action": "deploy", "resource_type": "Service", "resource_id": format!("api-{i}")}),
            )
            .await;
        let decision = r["structuredContent"]["decision"]
            .as_str()
            .unwrap_or_default();
        assert!(["ALLOWED", "BLOCKED"].contains(&decision), "{r}");
        // Signed into the ledger like any decision.
        assert!(r["structuredContent"]["seq"].is_u64(), "{r}");
        assert!(r["structuredContent"]["signature"].is_string(), "{r}");
    }
    // REST: a person logs in and reads.
    let s = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let token = s["access_token"].as_str().unwrap();
    let r = app
        .client
        .get(app.url("/api/v1/agents"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A request in a session needs Redis: 503, not a wrong answer.
    let r = session
        .post(&json!({"jsonrpc": "2.0", "id": 50, "method": "tools/list"}))
        .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    let mut ok = false;
    for _ in 0..50 {
        let r = session
            .post(&json!({"jsonrpc": "2.0", "id": 51, "method": "tools/list"}))
            .await;
        if r.status() == StatusCode::OK {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok, "the session works again once Redis is back");
}
