//! Redis is never the source of truth: while it cannot be reached, stateless MCP requests
//! are still decided (each node counts the rate limit on its own), REST keeps working,
//! requests that need a session answer 503, and everything recovers when Redis returns —
//! with the connection cut in-process, and with a real Redis stopped and started under a
//! real node's load.

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

/// A `redis-server` of the test's own on a free port, stopped and started at will.
struct Redis {
    port: u16,
    child: Option<std::process::Child>,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis {
            port,
            child: Some(child),
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn redis_stopped_and_started_under_load_loses_nothing() {
    use charter_tests::nodes::{Load, Node, on_the_ledger};
    let mut redis = Redis::start(charter_tests::free_port());
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let config = test_config(&[("CHARTER_REDIS_URL", &url)]);
    let store = charter_tests::store_with(&config).await;
    let t = tenant(&store, "Redis restart").await;
    let node = Node::start(&config, &[]).await;
    let load = Load::start(vec![node.mcp_url(&t.slug)], t.api_key.expose(), 16);
    tokio::time::sleep(Duration::from_millis(1000)).await;

    redis.stop();
    let stopped = load.receipts();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let while_down = load.receipts() - stopped;
    let readyz = charter_tests::http()
        .build()
        .unwrap()
        .get(format!("{}/readyz", node.base))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(readyz, StatusCode::SERVICE_UNAVAILABLE);

    let port = redis.port;
    let _redis = Redis::start(port);
    node.wait_ready(Duration::from_secs(10)).await;
    // Sessions, which live in Redis, open again.
    let http = charter_tests::http().build().unwrap();
    let mut session = Client::at(&node.base, http, &t.slug, t.api_key.expose());
    session.initialize().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = load.finish().await;
    eprintln!(
        "Redis stopped under load: {while_down} decisions in the 2 s without it, {} in all, \
         failures {:?}",
        seen.receipts.len(),
        seen.failures
    );
    // Stateless decisions never stopped, and none failed.
    assert!(
        while_down > 20,
        "{while_down} decisions while Redis was down"
    );
    assert!(seen.failures.is_empty(), "{:?}", seen.failures);
    on_the_ledger(&config, t.tenant_id, &t.slug, &seen.receipts).await;
}
