//! Operator endpoints over real HTTP: health, readiness (with dependencies cut), metrics.

use charter_store::Store;
use charter_tests::proxy::TcpProxy;
use charter_tests::{ensure_migrated, spawn_app, spawn_app_on, test_config};

#[tokio::test]
async fn healthz_readyz_and_metrics() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "charter_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("charter_dependency_up{dependency=\"postgres\"} 1"),
        "{text}"
    );
    assert!(text.contains("charter_build_info"), "{text}");
    // Unknown routes get the common error body with the request id.
    let r = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"code": "not_found", "message": "no such route", "request_id": "req-123"})
    );
}

#[tokio::test]
async fn readyz_is_503_when_redis_is_down() {
    // Nothing listens on port 1: Redis is "down" from the start; the server still starts.
    let app =
        charter_tests::spawn_app_with(test_config(&[("CHARTER_REDIS_URL", "redis://127.0.0.1:1")]))
            .await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["postgres"], "ok");
    assert!(
        body["checks"]["redis"]
            .as_str()
            .unwrap()
            .starts_with("error"),
        "{body}"
    );
}

#[tokio::test]
async fn readyz_is_503_when_postgres_goes_away_and_recovers() {
    ensure_migrated().await;
    let pg: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = TcpProxy::start(pg).await;
    let db_url = charter_tests::database_url().replace("127.0.0.1:5432", &proxy.addr.to_string());
    let config = test_config(&[
        ("CHARTER_DATABASE_URL", &db_url),
        ("CHARTER_DB_CONNECT_TIMEOUT_SECS", "1"),
    ]);
    let store = Store::connect(&config, config.master_key.clone().unwrap())
        .await
        .unwrap();
    let app = spawn_app_on(config, store).await;
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    proxy.cut();
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["checks"]["postgres"]
            .as_str()
            .unwrap()
            .starts_with("error"),
        "{body}"
    );
    assert_eq!(body["checks"]["redis"], "ok");
    proxy.restore();
    let mut ok = false;
    for _ in 0..20 {
        if app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(ok, "ready again once PostgreSQL is back");
}
