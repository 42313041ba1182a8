//! Operator endpoints: liveness and readiness.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: the process answers. No dependencies are checked.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: PostgreSQL and Redis both answer within two seconds; otherwise 503 and
/// which one failed, so a load balancer stops routing here.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store();
    let (db, redis) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, store.ping_db()),
        tokio::time::timeout(CHECK_TIMEOUT, store.ping_redis()),
    );
    let describe = |r: Result<Result<(), charter_store::StoreError>, _>| match r {
        Ok(Ok(())) => (true, "ok".to_string()),
        Ok(Err(e)) => (false, format!("error: {e}")),
        Err(_) => (false, "error: timed out".to_string()),
    };
    let (db_ok, db_text) = describe(db);
    let (redis_ok, redis_text) = describe(redis);
    state.metrics().set_ready(db_ok, redis_ok);
    let body = json!({
        "status": if db_ok && redis_ok { "ready" } else { "not_ready" },
        "checks": {"postgres": db_text, "redis": redis_text},
    });
    if db_ok && redis_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
