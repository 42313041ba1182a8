//! The worker's other jobs and what people see of them: cooled breakers turn half-open on
//! the worker's schedule (recorded), the daily self-audit is stored and signed, each job's
//! last run is listed for administrators, and /metrics counts runs and findings from the
//! database (so workers in other processes count too).

use charter_core::engine::breaker::State;
use charter_core::ledger::jcs;
use charter_core::ledger::record::hash_bytes;
use charter_core::tenant::Role;
use charter_store::engine::views::LedgerFilter;
use charter_tests::rest::{call, staff};
use charter_tests::{execute, spawn_app, store, superuser, tenant};
use reqwest::StatusCode;

#[tokio::test]
async fn a_cooled_breaker_turns_half_open_on_the_workers_schedule_and_is_recorded() {
    let store = store().await;
    let t = tenant(&store, "Breaker job").await;
    let su = superuser().await;
    execute(
        &su,
        "INSERT INTO breakers (tenant_id, agent_id, state, consecutive_failures, opened_at, cooldown_secs)
         VALUES ($1, $2, 'open', 3, now() - interval '10 minutes', 60)",
        vec![t.tenant_id.into(), t.agent_id.into()],
    )
    .await
    .unwrap();
    assert!(store.worker().half_open_cooled_breakers().await.unwrap() >= 1);
    let b = store.admin().breakers(t.tenant_id).await.unwrap();
    assert_eq!(b[0].state, State::HalfOpen);
    let page = store
        .engine()
        .query_ledger(
            t.tenant_id,
            LedgerFilter {
                kind: Some("breaker.half_opened".into()),
                limit: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 1);
    // Already half-open: a second run changes and records nothing for it.
    store.worker().half_open_cooled_breakers().await.unwrap();
    let page = store
        .engine()
        .query_ledger(
            t.tenant_id,
            LedgerFilter {
                kind: Some("breaker.half_opened".into()),
                limit: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 1);
}

#[tokio::test]
async fn the_self_audit_is_stored_signed_and_served() {
    let app = spawn_app().await;
    let s = staff(&app, "Self audit").await;
    let tenant = s.tenant.tenant_id;
    let audit = app.store.worker().self_audit(tenant).await.unwrap();
    let flagged: Vec<String> = serde_json::from_value(audit.report["flagged"].clone()).unwrap();
    assert!(
        flagged.iter().any(|f| f.contains("not been scanned")),
        "{flagged:?}"
    );
    assert_eq!(
        audit.sha256,
        hex::encode(hash_bytes(&jcs::to_vec(&audit.report)))
    );
    // The signed record names the same digest.
    let entry = app
        .store
        .ledger()
        .ledger_entry(tenant, audit.seq.unwrap() as u64)
        .await
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(entry.record.body()).unwrap();
    assert_eq!(record["kind"], "self_audit.completed");
    assert_eq!(record["payload"]["sha256"], audit.sha256.as_str());
    // After a scan the report says how far the ledger is verified.
    app.store
        .worker()
        .scan_tenant(tenant, true)
        .await
        .unwrap()
        .unwrap();
    let second = app.store.worker().self_audit(tenant).await.unwrap();
    assert!(second.report["ledger"]["verified_to_seq"].as_i64().unwrap() > 0);

    let list = call(
        &app,
        Some(s.token(Role::Viewer)),
        "GET",
        "/api/v1/self-audits",
        None,
    )
    .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body.as_array().unwrap().len(), 2);
    assert_eq!(list.body[0]["id"], second.id.to_string());
    let one = call(
        &app,
        Some(s.owner()),
        "GET",
        &format!("/api/v1/self-audits/{}", audit.id),
        None,
    )
    .await;
    assert_eq!(
        (one.status, one.body["sha256"].as_str()),
        (StatusCode::OK, Some(audit.sha256.as_str()))
    );
    // Another tenant's audit is not found.
    let other = staff(&app, "Self audit other").await;
    let foreign = call(
        &app,
        Some(other.owner()),
        "GET",
        &format!("/api/v1/self-audits/{}", audit.id),
        None,
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn job_runs_are_listed_for_administrators_and_counted_on_metrics() {
    let app = spawn_app().await;
    let s = staff(&app, "Jobs").await;
    // A name of this run's own: a job runs once per interval, and reruns of the suite on
    // the same database come within it.
    let name: &'static str =
        Box::leak(format!("expire-tasks-probe-{}", uuid::Uuid::new_v4()).into_boxed_str());
    let job = charter_worker::Job {
        name,
        every: std::time::Duration::from_secs(60),
        run: std::sync::Arc::new(|store| Box::pin(charter_worker::jobs::expire_tasks(store))),
    };
    assert!(charter_worker::run_once(&app.store, &job).await);
    let r = call(&app, Some(s.owner()), "GET", "/api/v1/jobs", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let probe = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == name)
        .unwrap()
        .clone();
    assert_eq!(probe["outcome"], "ok");
    assert!(probe["runs"].as_i64().unwrap() >= 1);
    let viewer = call(
        &app,
        Some(s.token(Role::Viewer)),
        "GET",
        "/api/v1/jobs",
        None,
    )
    .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "charter_job_runs_total{{job=\"{name}\",outcome=\"ok\"}}"
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!("charter_job_duration_seconds{{job=\"{name}\"}}")));
    assert!(metrics.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn an_ended_budget_cycle_is_closed_once_with_each_agents_usage() {
    let store = store().await;
    let t = tenant(&store, "Cycles").await;
    let su = superuser().await;
    execute(
        &su,
        "INSERT INTO budget_usage (tenant_id, subject, cycle_start, spend, dispatches)
         VALUES ($1, $2, date_trunc('day', now()) - interval '2 days', 750, 12)",
        vec![t.tenant_id.into(), t.agent_id.to_string().into()],
    )
    .await
    .unwrap();
    assert!(store.worker().close_budget_cycles().await.unwrap() >= 1);
    store.worker().close_budget_cycles().await.unwrap();
    let page = store
        .engine()
        .query_ledger(
            t.tenant_id,
            LedgerFilter {
                kind: Some("budget.cycle_closed".into()),
                limit: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 1, "closed once");
    let entry = store
        .ledger()
        .ledger_entry(t.tenant_id, page.entries[0].seq as u64)
        .await
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(entry.record.body()).unwrap();
    let agents = record["payload"]["agents"].as_array().unwrap();
    assert_eq!(
        (
            agents[0]["spend"].as_i64(),
            agents[0]["dispatches"].as_i64()
        ),
        (Some(750), Some(12))
    );
}
