//! The enforcement engine against the real database: scopes, budgets at the edge under
//! concurrency, breakers, idempotency, failing closed, and every decision in a ledger that
//! verifies.

use std::time::Duration;

use charter_core::code::Code;
use charter_core::engine::decision::{Decision, Reason};
use charter_core::ledger::Actor;
use charter_core::policy::{Grant, Scope};
use charter_store::Store;
use charter_store::engine::ActionRequest;
use charter_tests::proxy::TcpProxy;
use charter_tests::{
    add_agent, add_principal, ensure_migrated, execute, query, store, tenant, test_config,
};
use serde_json::json;
use uuid::Uuid;

fn deploy(service: &str, spend: i64) -> ActionRequest {
    ActionRequest {
        action: "deploy".into(),
        resource_type: "Service".into(),
        resource_id: service.into(),
        spend,
        idempotency_key: None,
        arguments: json!({"service": service}),
        initiative: None,
        task: None,
    }
}

fn scope(spend: Option<i64>, dispatches: Option<i64>) -> Scope {
    Scope {
        grants: vec![Grant {
            actions: vec!["deploy".into(), "read".into()],
            resource_type: "Service".into(),
            id_pattern: "payments-*".into(),
        }],
        may_direct: vec![],
        spend_limit: spend,
        dispatch_limit: dispatches,
    }
}

fn blocked(r: Reason) -> Decision {
    Decision::Blocked { reason: r }
}

#[tokio::test]
async fn scope_decides_and_every_decision_is_recorded() {
    let store = store().await;
    let t = tenant(&store, "Scope").await;
    // Without a scope an agent may do nothing.
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
        .await
        .unwrap();
    assert_eq!(a.decision, blocked(Reason::OutOfScope));
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
        .await
        .unwrap();
    assert_eq!(a.decision, Decision::Allowed);
    let b = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("billing-api", 0))
        .await
        .unwrap();
    assert_eq!(b.decision, blocked(Reason::OutOfScope));
    assert!(b.message.as_deref().unwrap().contains("scope"));
    // An invalid scope is refused with the field named, and nothing changes.
    let mut bad = scope(None, None);
    bad.grants[0].resource_type = "Spaceship".into();
    let err = store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, bad, t.owner_id)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("grants[0].resource_type"), "{err}");
    let c = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
        .await
        .unwrap();
    assert_eq!(c.decision, Decision::Allowed);

    // The decisions are in the ledger, with the receipts' positions and hashes.
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    for ans in [&a, &b, &c] {
        let r = charter_store::ledger::read::record(&tx, ans.seq)
            .await
            .unwrap();
        assert_eq!(hex::encode(r.record_hash), ans.record_hash);
        assert!(
            r.record
                .contains(&format!("\"decision\":\"{}\"", ans.decision.label())),
            "{}",
            r.record
        );
    }
    let rows = query(
        tx.raw(),
        "SELECT count(*) AS n FROM ledger_records WHERE kind = 'scope.changed'",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(rows[0].try_get::<i64>("", "n").unwrap(), 1);
    tx.rollback().await.unwrap();
    assert!(verified_records(&store, t.tenant_id).await >= 8);
}

async fn parallel(store: &Store, tenant: Uuid, agent: Uuid, n: usize, spend: i64) -> Vec<Decision> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move {
                s.engine()
                    .authorize(tenant, agent, deploy("payments-api", spend))
                    .await
                    .unwrap()
                    .decision
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// How many records the tenant's exported ledger holds, once it has verified.
async fn verified_records(store: &Store, tenant: Uuid) -> u64 {
    let mut buf = Vec::new();
    store
        .ledger()
        .export_ledger(tenant, None, None, Actor::system(), &mut buf)
        .await
        .unwrap();
    charter_core::ledger::export::verify_export(&buf[..], &Default::default())
        .unwrap()
        .records
}

/// What `agent` has spent in the current cycle.
async fn agent_spend(store: &Store, tenant: Uuid, agent: Uuid) -> i64 {
    let tx = store.tenant_tx(tenant).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT spend FROM budget_usage WHERE subject = $1",
        vec![agent.to_string().into()],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    rows[0].try_get::<i64>("", "spend").unwrap()
}

/// Decisions leave their writes to the ledger's statement; when other work of the tenant
/// follows them in the same batch, those writes must land first. With 2 of 10 spent, one
/// transaction holds: decide 4, an outcome report, decide 5 — which must see the 4.
#[tokio::test]
async fn a_decision_later_in_the_same_batch_sees_the_earlier_ones_spend() {
    let store = store().await;
    let t = tenant(&store, "Batched").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(Some(10), None), t.owner_id)
        .await
        .unwrap();
    let x = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 2))
        .await
        .unwrap();
    assert!(x.decision.is_allowed());
    // On this test's single-threaded runtime the writer's leader cannot start before all
    // three are queued, so they share one transaction.
    let before = charter_store::ledger::writer::commit_counts();
    let (first, report, second) = tokio::join!(
        store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 4)),
        store.engine().report_outcome(
            t.tenant_id,
            t.agent_id,
            x.authorization_id,
            true,
            Some(2),
            None
        ),
        store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 5)),
    );
    let after = charter_store::ledger::writer::commit_counts();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 3),
        "one batch"
    );
    assert!(first.unwrap().decision.is_allowed());
    report.unwrap();
    assert_eq!(
        second.unwrap().decision,
        blocked(Reason::BudgetExceeded),
        "2 + 4 + 5 > 10"
    );
    assert_eq!(agent_spend(&store, t.tenant_id, t.agent_id).await, 6);
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let decided = query(tx.raw(), "SELECT count(*) AS n FROM authorizations", vec![])
        .await
        .unwrap();
    assert_eq!(decided[0].try_get::<i64>("", "n").unwrap(), 3);
    tx.rollback().await.unwrap();
    // Genesis, the scope and the four records above at least, and the log verifies.
    assert!(verified_records(&store, t.tenant_id).await >= 6);
}

#[tokio::test]
async fn fifty_parallel_requests_against_room_for_ten() {
    let store = store().await;
    // Spend: 10 units each, a limit of 100.
    let t = tenant(&store, "Budget").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(Some(100), None), t.owner_id)
        .await
        .unwrap();
    let decisions = parallel(&store, t.tenant_id, t.agent_id, 50, 10).await;
    let allowed = decisions.iter().filter(|d| d.is_allowed()).count();
    assert_eq!(allowed, 10);
    assert!(
        decisions
            .iter()
            .filter(|d| !d.is_allowed())
            .all(|d| *d == blocked(Reason::BudgetExceeded))
    );
    assert_eq!(agent_spend(&store, t.tenant_id, t.agent_id).await, 100);

    // Dispatches: a limit of 10.
    let t = tenant(&store, "Dispatch").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, Some(10)), t.owner_id)
        .await
        .unwrap();
    let decisions = parallel(&store, t.tenant_id, t.agent_id, 50, 0).await;
    assert_eq!(decisions.iter().filter(|d| d.is_allowed()).count(), 10);
    assert!(
        decisions
            .iter()
            .filter(|d| !d.is_allowed())
            .all(|d| *d == blocked(Reason::DispatchLimit))
    );
}

#[tokio::test]
async fn concurrent_requests_of_many_agents_are_each_decided_on_their_own() {
    // Requests of several agents queue together and are decided as one run: each keeps
    // its own limits, an unknown agent is refused without sinking the others, and every
    // decision has its own record at the sequence number its answer names.
    let store = store().await;
    let t = tenant(&store, "Mixed").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, Some(3)), t.owner_id)
        .await
        .unwrap();
    let other = add_agent(&store, t.tenant_id, "unscoped", t.owner_id).await;
    let unknown = Uuid::now_v7();
    let tasks: Vec<_> = (0..18)
        .map(|i| {
            let s = store.clone();
            let agent = [t.agent_id, other, unknown][i % 3];
            tokio::spawn(async move {
                (
                    agent,
                    s.engine()
                        .authorize(t.tenant_id, agent, deploy("payments-api", 0))
                        .await,
                )
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let of = |agent: Uuid| {
        answers
            .iter()
            .filter(move |(a, _)| *a == agent)
            .map(|(_, r)| r)
    };
    let mine: Vec<_> = of(t.agent_id)
        .map(|r| r.as_ref().unwrap().decision.clone())
        .collect();
    assert_eq!(mine.iter().filter(|d| d.is_allowed()).count(), 3);
    assert_eq!(
        mine.iter()
            .filter(|d| **d == blocked(Reason::DispatchLimit))
            .count(),
        3
    );
    assert!(of(other).all(|r| r.as_ref().unwrap().decision == blocked(Reason::OutOfScope)));
    assert!(of(unknown).all(|r| matches!(r, Err(charter_store::StoreError::NotFound("agent")))));
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    for (_, r) in answers.iter().filter(|(a, _)| *a != unknown) {
        let a = r.as_ref().unwrap();
        let rec = charter_store::ledger::read::record(&tx, a.seq)
            .await
            .unwrap();
        assert!(rec.record.contains(&a.authorization_id.to_string()));
        assert_eq!(hex::encode(rec.record_hash), a.record_hash);
    }
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn huge_spends_saturate_instead_of_failing_the_batch() {
    // Decisions run without a savepoint of their own, so nothing an agent sends may make
    // their writes fail: sums near the bigint limit saturate.
    let store = store().await;
    let t = tenant(&store, "Huge").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    for _ in 0..2 {
        let d = parallel(&store, t.tenant_id, t.agent_id, 3, i64::MAX / 2).await;
        assert!(d.iter().all(|d| d.is_allowed()), "{d:?}");
    }
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT subject, spend, dispatches FROM budget_usage ORDER BY subject",
        vec![],
    )
    .await
    .unwrap();
    for r in rows {
        assert_eq!(r.try_get::<i64>("", "spend").unwrap(), i64::MAX);
        assert_eq!(r.try_get::<i64>("", "dispatches").unwrap(), 6);
    }
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn the_breaker_trips_blocks_half_opens_and_resets() {
    let store = store().await;
    let t = tenant(&store, "Breaker").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let a = store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
            .await
            .unwrap();
        assert!(a.decision.is_allowed());
        ids.push(a.authorization_id);
    }
    for (i, id) in ids.iter().enumerate() {
        store
            .engine()
            .report_outcome(t.tenant_id, t.agent_id, *id, false, None, None)
            .await
            .unwrap();
        let next = store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
            .await
            .unwrap();
        if i < 2 {
            assert!(
                next.decision.is_allowed(),
                "still closed after {} failures",
                i + 1
            );
        } else {
            assert_eq!(
                next.decision,
                blocked(Reason::BreakerOpen),
                "open on the 3rd failure"
            );
        }
    }
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let n = query(
        tx.raw(),
        "SELECT count(*) AS n FROM notifications WHERE kind = 'breaker.tripped'",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(
        n[0].try_get::<i64>("", "n").unwrap(),
        1,
        "the responsible principal is notified"
    );
    let agent = charter_store::agents::get(&tx, t.agent_id).await.unwrap();
    assert_eq!(agent.status, charter_core::status::AgentStatus::Tripped);
    // A short cool-down, then half-open: one action is let through.
    execute(tx.raw(), "UPDATE breakers SET cooldown_secs = 1", vec![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let probe = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
        .await
        .unwrap();
    assert!(probe.decision.is_allowed(), "half-open after the cool-down");
    store
        .engine()
        .report_outcome(
            t.tenant_id,
            t.agent_id,
            probe.authorization_id,
            true,
            None,
            None,
        )
        .await
        .unwrap();
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let state = query(tx.raw(), "SELECT state FROM breakers", vec![])
        .await
        .unwrap();
    assert_eq!(
        state[0].try_get::<String>("", "state").unwrap(),
        "closed",
        "a success closes it"
    );
    tx.rollback().await.unwrap();

    // Trip again and reset by hand: recorded with the principal.
    for _ in 0..3 {
        let a = store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
            .await
            .unwrap();
        store
            .engine()
            .report_outcome(
                t.tenant_id,
                t.agent_id,
                a.authorization_id,
                false,
                None,
                None,
            )
            .await
            .unwrap();
    }
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
        .await
        .unwrap();
    assert_eq!(a.decision, blocked(Reason::BreakerOpen));
    let r = store
        .engine()
        .reset_breaker(t.tenant_id, t.agent_id, t.owner_id)
        .await
        .unwrap();
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let rec = charter_store::ledger::read::record(&tx, r.seq)
        .await
        .unwrap();
    assert!(rec.record.contains("\"kind\":\"breaker.reset\""));
    assert!(rec.record.contains(&t.owner_id.to_string()));
    tx.rollback().await.unwrap();
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
        .await
        .unwrap();
    assert!(a.decision.is_allowed());
}

#[tokio::test]
async fn retries_with_the_same_key_get_the_first_answer_and_count_once() {
    let store = store().await;
    let t = tenant(&store, "Idem").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(Some(100), None), t.owner_id)
        .await
        .unwrap();
    let mut req = deploy("payments-api", 30);
    req.idempotency_key = Some("req-1".into());
    let first = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, req.clone())
        .await
        .unwrap();
    let again = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, req.clone())
        .await
        .unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(
        (first.authorization_id, first.seq, &first.signature),
        (again.authorization_id, again.seq, &again.signature)
    );
    // Concurrent retries of a new key: one decision.
    req.idempotency_key = Some("req-2".into());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, r) = (store.clone(), req.clone());
            tokio::spawn(async move {
                s.engine()
                    .authorize(t.tenant_id, t.agent_id, r)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert!(
        answers
            .iter()
            .all(|a| a.authorization_id == answers[0].authorization_id)
    );
    assert_eq!(
        agent_spend(&store, t.tenant_id, t.agent_id).await,
        60,
        "two keys, two reservations"
    );
    // A blocked answer replays with its reason (rebuilt from the authorization and its
    // ledger record), and the replay counts nothing.
    let mut big = deploy("payments-api", 200);
    big.idempotency_key = Some("req-3".into());
    let blocked = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, big.clone())
        .await
        .unwrap();
    let blocked_again = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, big)
        .await
        .unwrap();
    assert_eq!(
        blocked.decision,
        Decision::Blocked {
            reason: Reason::BudgetExceeded
        }
    );
    assert_eq!(blocked_again.decision, blocked.decision);
    assert_eq!(blocked_again.message, blocked.message);
    assert_eq!(
        (blocked_again.seq, &blocked_again.record_hash),
        (blocked.seq, &blocked.record_hash)
    );
    // Outcomes too: retried failure reports, sequential and concurrent, count once and
    // get the first report's receipt.
    let report = |key: &'static str| {
        let s = store.clone();
        async move {
            s.engine()
                .report_outcome(
                    t.tenant_id,
                    t.agent_id,
                    first.authorization_id,
                    false,
                    None,
                    Some(key.into()),
                )
                .await
        }
    };
    let first_report = report("out-1").await.unwrap();
    let retries = futures::future::join_all((0..4).map(|_| report("out-1"))).await;
    for r in retries {
        let r = r.unwrap();
        assert!(r.replayed);
        assert_eq!(
            (r.seq, &r.signature),
            (first_report.seq, &first_report.signature)
        );
    }
    // Another key for an authorization already reported is a conflict, not a second count.
    assert!(matches!(
        report("out-2").await,
        Err(charter_store::StoreError::Conflict(_))
    ));
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let b = query(
        tx.raw(),
        "SELECT consecutive_failures FROM breakers",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(b[0].try_get::<i32>("", "consecutive_failures").unwrap(), 1);
}

#[tokio::test]
async fn with_the_database_unreachable_nothing_is_allowed() {
    ensure_migrated().await;
    let base = store().await;
    let t = tenant(&base, "FailClosed").await;
    base.engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let url = charter_tests::database_url().replace("127.0.0.1:5432", &proxy.addr.to_string());
    let key = base.master_key().to_base64();
    let cfg = test_config(&[
        ("CHARTER_DATABASE_URL", &url),
        ("CHARTER_MASTER_KEY", key.as_str()),
        ("CHARTER_DB_CONNECT_TIMEOUT_SECS", "1"),
    ]);
    let store = Store::connect(&cfg, cfg.master_key.clone().unwrap())
        .await
        .unwrap();
    assert!(
        store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
            .await
            .unwrap()
            .decision
            .is_allowed()
    );
    // Cut the cable while requests are in flight and after.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move {
                s.engine()
                    .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
                    .await
            })
        })
        .collect();
    proxy.cut();
    for task in tasks {
        match task.await.unwrap() {
            Ok(a) => assert!(a.seq > 0, "an answer given before the cut is durable"),
            // Retryable, never `internal`.
            Err(e) => assert_eq!(e.code(), Code::Unavailable, "{e}"),
        }
    }
    let after = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
        .await;
    match &after {
        Err(e) => assert_eq!(e.code(), Code::Unavailable, "{e}"),
        Ok(a) => panic!("no decision without the database: {a:?}"),
    }
    // The database returns: the same store decides again, with no restart.
    proxy.restore();
    let mut back = false;
    for _ in 0..50 {
        if let Ok(a) = store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
            .await
        {
            assert!(a.decision.is_allowed());
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(back, "decisions resume when the database returns");
    // Every ALLOWED given is in the ledger (checked through a healthy connection).
    let tx = base.tenant_tx(t.tenant_id).await.unwrap();
    let rows = query(tx.raw(), "SELECT count(*) AS n FROM authorizations a WHERE decision = 'ALLOWED' AND NOT EXISTS (SELECT 1 FROM ledger_records r WHERE r.kind = 'decision' AND r.record LIKE '%' || a.id::text || '%')", vec![]).await.unwrap();
    assert_eq!(rows[0].try_get::<i64>("", "n").unwrap(), 0);
}

#[tokio::test]
async fn an_agent_cannot_widen_its_own_scope_only_a_principal_with_authority_can() {
    let store = store().await;
    let t = tenant(&store, "Widen").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    // A viewer exists in the tenant.
    let viewer = add_principal(
        &store,
        t.tenant_id,
        "viewer@widen.example",
        charter_core::tenant::Role::Viewer,
    )
    .await;

    let mut wider = scope(None, None);
    wider.grants[0].id_pattern = "*".into();
    let (request, receipt) = store
        .engine()
        .request_scope_change(
            t.tenant_id,
            t.agent_id,
            wider.clone(),
            "need billing too".into(),
        )
        .await
        .unwrap();
    // Asking changes nothing.
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("billing-api", 0))
        .await
        .unwrap();
    assert_eq!(a.decision, blocked(Reason::OutOfScope));
    // Neither a viewer's approval nor a viewer's direct edit goes through.
    let err = store
        .engine()
        .decide_scope_change(t.tenant_id, request, viewer, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, charter_store::StoreError::Forbidden(_)),
        "{err}"
    );
    let err = store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, wider, viewer)
        .await
        .unwrap_err();
    assert!(
        matches!(err, charter_store::StoreError::Forbidden(_)),
        "{err}"
    );
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("billing-api", 0))
        .await
        .unwrap();
    assert_eq!(a.decision, blocked(Reason::OutOfScope));
    // The owner approves: now it is allowed, and both steps are records.
    let approved = store
        .engine()
        .decide_scope_change(t.tenant_id, request, t.owner_id, true)
        .await
        .unwrap();
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("billing-api", 0))
        .await
        .unwrap();
    assert!(a.decision.is_allowed());
    let again = store
        .engine()
        .decide_scope_change(t.tenant_id, request, t.owner_id, false)
        .await
        .unwrap_err();
    assert!(
        matches!(again, charter_store::StoreError::Conflict(_)),
        "{again}"
    );
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let asked = charter_store::ledger::read::record(&tx, receipt.seq)
        .await
        .unwrap();
    assert!(asked.record.contains("\"kind\":\"scope_change.requested\""));
    assert!(asked.record.contains(&format!(
        "\"actor\":{{\"id\":\"{}\",\"type\":\"agent\"}}",
        t.agent_id
    )));
    let ok = charter_store::ledger::read::record(&tx, approved.seq)
        .await
        .unwrap();
    assert!(ok.record.contains("\"kind\":\"scope_change.approved\""));
    assert!(ok.record.contains(&t.owner_id.to_string()));
}

#[tokio::test]
async fn delegation_only_narrows_authority_down_a_chain_of_three() {
    use charter_core::engine::provenance::Party;
    let store = store().await;
    let t = tenant(&store, "Delegation").await;
    let a2 = add_agent(&store, t.tenant_id, "agent-2", t.owner_id).await;
    let a3 = add_agent(&store, t.tenant_id, "agent-3", t.owner_id).await;
    let outsider = add_agent(&store, t.tenant_id, "outsider", t.owner_id).await;
    let grant = |pattern: &str| Grant {
        actions: vec!["deploy".into()],
        resource_type: "Service".into(),
        id_pattern: pattern.into(),
    };
    // a1: payments-*, may direct a2. a2: payments-api-* and billing-*, may direct a3.
    // a3: everything.
    let s1 = Scope {
        grants: vec![grant("payments-*")],
        may_direct: vec![a2.to_string()],
        ..Scope::default()
    };
    let s2 = Scope {
        grants: vec![grant("payments-api*"), grant("billing-*")],
        may_direct: vec![a3.to_string()],
        ..Scope::default()
    };
    let s3 = Scope {
        grants: vec![grant("*")],
        ..Scope::default()
    };
    for (agent, s) in [(t.agent_id, s1), (a2, s2), (a3, s3)] {
        store
            .engine()
            .set_scope(t.tenant_id, agent, s, t.owner_id)
            .await
            .unwrap();
    }
    let party = |id| Party::Agent {
        id,
        on_behalf_of: t.owner_id,
    };
    // Directing an agent the scope does not name is refused.
    let err = store
        .engine()
        .delegate_task(t.tenant_id, party(t.agent_id), outsider, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("out_of_scope"), "{err}");
    let (t1, _) = store
        .engine()
        .delegate_task(t.tenant_id, party(t.agent_id), a2, None)
        .await
        .unwrap();
    let (t2, _) = store
        .engine()
        .delegate_task(t.tenant_id, party(a2), a3, Some(t1))
        .await
        .unwrap();
    // Someone else's task cannot be delegated further.
    let err = store
        .engine()
        .delegate_task(t.tenant_id, party(t.agent_id), a2, Some(t2))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("task it holds"), "{err}");

    let under = |service: &str, task: Option<Uuid>| {
        let mut r = deploy(service, 0);
        r.task = task;
        r
    };
    // a3 on its own may deploy anything; under the chain only what a1 and a2 both allow.
    assert!(
        store
            .engine()
            .authorize(t.tenant_id, a3, under("billing-api", None))
            .await
            .unwrap()
            .decision
            .is_allowed()
    );
    for (service, allowed) in [
        ("payments-api-v2", true),
        ("payments-db", false),
        ("billing-api", false),
        ("other", false),
    ] {
        let d = store
            .engine()
            .authorize(t.tenant_id, a3, under(service, Some(t2)))
            .await
            .unwrap()
            .decision;
        assert_eq!(d.is_allowed(), allowed, "{service}: {d:?}");
        if !allowed {
            assert_eq!(d, blocked(Reason::OutOfScope));
        }
    }
    // Only the assignee may act under a task.
    let d = store
        .engine()
        .authorize(t.tenant_id, a2, under("payments-api-v2", Some(t2)))
        .await
        .unwrap()
        .decision;
    assert_eq!(d, blocked(Reason::InvalidRequest));
}

#[tokio::test]
async fn approvals_are_bound_to_the_exact_arguments_and_used_up() {
    let store = store().await;
    let t = tenant(&store, "Approvals").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    store
        .engine()
        .require_approval(
            t.tenant_id,
            t.owner_id,
            "deploy".into(),
            "Service".into(),
            Some(1),
            Some(3600),
        )
        .await
        .unwrap();
    let mut v1 = deploy("payments-api", 0);
    v1.arguments = json!({"version": "1.2.3", "region": "eu"});
    let first = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, v1.clone())
        .await
        .unwrap();
    let Decision::PendingApproval { review_id } = first.decision.clone() else {
        panic!("{first:?}")
    };
    assert_eq!(
        first.message.as_deref(),
        Some(Reason::ApprovalRequired.sentence())
    );
    // Asking again before the decision points at the same request.
    let again = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, v1.clone())
        .await
        .unwrap();
    assert_eq!(again.decision, first.decision);
    let approval: Uuid = review_id.parse().unwrap();
    store
        .engine()
        .decide_action_approval(t.tenant_id, approval, t.owner_id, true)
        .await
        .unwrap();
    // Other arguments are not covered.
    let mut v2 = v1.clone();
    v2.arguments = json!({"version": "6.6.6", "region": "eu"});
    let other = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, v2)
        .await
        .unwrap();
    assert!(
        matches!(other.decision, Decision::PendingApproval { ref review_id } if *review_id != approval.to_string())
    );
    // The same arguments, spelled differently, are; the single use is then spent.
    let mut same = v1.clone();
    same.arguments = json!({"region": "eu", "version": "1.2.3"});
    let ok = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, same)
        .await
        .unwrap();
    assert!(ok.decision.is_allowed(), "{ok:?}");
    let spent = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, v1)
        .await
        .unwrap();
    assert!(
        matches!(spent.decision, Decision::PendingApproval { .. }),
        "{spent:?}"
    );
    // Deciding twice is refused, and an agent's responsible principal needs a role.
    let err = store
        .engine()
        .decide_action_approval(t.tenant_id, approval, t.owner_id, false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, charter_store::StoreError::Conflict(_)),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_approval_no_longer_allows() {
    let store = store().await;
    let t = tenant(&store, "Expiry").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    store
        .engine()
        .require_approval(
            t.tenant_id,
            t.owner_id,
            "deploy".into(),
            "Service".into(),
            None,
            Some(1),
        )
        .await
        .unwrap();
    let req = deploy("payments-api", 0);
    let Decision::PendingApproval { review_id } = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, req.clone())
        .await
        .unwrap()
        .decision
    else {
        panic!("approval required")
    };
    store
        .engine()
        .decide_action_approval(t.tenant_id, review_id.parse().unwrap(), t.owner_id, true)
        .await
        .unwrap();
    // Unlimited uses while valid…
    for _ in 0..3 {
        assert!(
            store
                .engine()
                .authorize(t.tenant_id, t.agent_id, req.clone())
                .await
                .unwrap()
                .decision
                .is_allowed()
        );
    }
    // …and none after the time limit.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let d = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, req)
        .await
        .unwrap()
        .decision;
    assert!(matches!(d, Decision::PendingApproval { .. }), "{d:?}");
}

#[tokio::test]
async fn budgets_split_down_a_chain_of_three() {
    use charter_core::engine::provenance::Party;
    let store = store().await;
    let t = tenant(&store, "TaskBudget").await;
    let a2 = add_agent(&store, t.tenant_id, "agent-2", t.owner_id).await;
    let a3 = add_agent(&store, t.tenant_id, "agent-3", t.owner_id).await;
    for (agent, directs) in [(t.agent_id, Some(a2)), (a2, Some(a3)), (a3, None)] {
        let mut s = scope(None, None);
        s.may_direct = directs.map(|d| vec![d.to_string()]).unwrap_or_default();
        store
            .engine()
            .set_scope(t.tenant_id, agent, s, t.owner_id)
            .await
            .unwrap();
    }
    let party = |id| Party::Agent {
        id,
        on_behalf_of: t.owner_id,
    };
    let owner = Party::Principal { id: t.owner_id };
    let (t1, _) = store
        .engine()
        .delegate_task_with_budget(t.tenant_id, owner, t.agent_id, None, Some(100))
        .await
        .unwrap();
    let err = store
        .engine()
        .delegate_task_with_budget(t.tenant_id, party(t.agent_id), a2, Some(t1), Some(150))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("exceeds the 100 the parent task has left"),
        "{err}"
    );
    let (t2, _) = store
        .engine()
        .delegate_task_with_budget(t.tenant_id, party(t.agent_id), a2, Some(t1), Some(60))
        .await
        .unwrap();
    // No limit given: the child gets what the parent has left.
    let (t3, _) = store
        .engine()
        .delegate_task_with_budget(t.tenant_id, party(a2), a3, Some(t2), None)
        .await
        .unwrap();
    let spend = |agent, task, amount| {
        let store = store.clone();
        async move {
            let mut r = deploy("payments-api", amount);
            r.task = Some(task);
            store
                .engine()
                .authorize(t.tenant_id, agent, r)
                .await
                .unwrap()
                .decision
        }
    };
    assert!(spend(a3, t3, 40).await.is_allowed());
    assert_eq!(
        spend(a3, t3, 40).await,
        blocked(Reason::BudgetExceeded),
        "60 - 40 leaves 20"
    );
    assert!(spend(a3, t3, 20).await.is_allowed());
    // The spend counted up the chain: t1 has 100 - 60 left.
    assert!(spend(t.agent_id, t1, 40).await.is_allowed());
    assert_eq!(
        spend(t.agent_id, t1, 1).await,
        blocked(Reason::BudgetExceeded)
    );
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT spend_limit, spent FROM tasks ORDER BY depth",
        vec![],
    )
    .await
    .unwrap();
    let got: Vec<(Option<i64>, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "spend_limit").unwrap(),
                r.try_get("", "spent").unwrap(),
            )
        })
        .collect();
    assert_eq!(got, vec![(Some(100), 100), (Some(60), 60), (Some(60), 60)]);
}

#[tokio::test]
async fn tasks_close_once_by_their_assignee_and_expire_past_their_deadline() {
    use charter_core::engine::provenance::Party;
    let store = store().await;
    let t = tenant(&store, "Tasks").await;
    let a2 = add_agent(&store, t.tenant_id, "agent-2", t.owner_id).await;
    store
        .engine()
        .set_scope(t.tenant_id, a2, scope(None, None), t.owner_id)
        .await
        .unwrap();
    let owner = Party::Principal { id: t.owner_id };
    let (done, _) = store
        .engine()
        .delegate_task(t.tenant_id, owner, a2, None)
        .await
        .unwrap();
    let err = store
        .engine()
        .complete_task(t.tenant_id, t.agent_id, done, true, json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, charter_store::StoreError::Forbidden(_)),
        "{err}"
    );
    store
        .engine()
        .complete_task(t.tenant_id, a2, done, true, json!({"pr": 42}))
        .await
        .unwrap();
    let err = store
        .engine()
        .complete_task(t.tenant_id, a2, done, false, json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, charter_store::StoreError::Conflict(_)),
        "{err}"
    );

    let (late, _) = store
        .engine()
        .delegate_task(t.tenant_id, owner, a2, None)
        .await
        .unwrap();
    store
        .engine()
        .set_task_deadline(
            t.tenant_id,
            late,
            chrono::Utc::now() - chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    let summary = charter_worker::jobs::expire_tasks(store.clone())
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(summary.contains("tasks expired"), "{summary}");
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT id, status FROM tasks ORDER BY created_at",
        vec![],
    )
    .await
    .unwrap();
    let statuses: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("", "status").unwrap())
        .collect();
    assert_eq!(statuses, ["completed", "expired"]);
    tx.rollback().await.unwrap();
    // Nothing may be done under an ended task.
    for task in [done, late] {
        let mut r = deploy("payments-api", 0);
        r.task = Some(task);
        let d = store
            .engine()
            .authorize(t.tenant_id, a2, r)
            .await
            .unwrap()
            .decision;
        assert_eq!(d, blocked(Reason::InvalidRequest));
    }
}

#[tokio::test]
async fn tenant_policies_are_validated_and_forbid_rules_apply_at_once() {
    let store = store().await;
    let t = tenant(&store, "Policies").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    assert!(
        store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-core", 0))
            .await
            .unwrap()
            .decision
            .is_allowed()
    );
    let catalog = charter_core::policy::Catalog::default();
    let err = store
        .engine()
        .set_tenant_policies(
            t.tenant_id,
            t.owner_id,
            catalog.clone(),
            "permit (principal,\n  action == Charter::Action::\"fly\", resource);".into(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    store
        .engine().set_tenant_policies(
            t.tenant_id,
            t.owner_id,
            catalog,
            "forbid (principal, action == Charter::Action::\"deploy\", resource is Charter::Service)\n  when { resource.id == \"payments-core\" };".into(),
        )
        .await
        .unwrap();
    let d = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("payments-core", 0))
        .await
        .unwrap()
        .decision;
    assert_eq!(d, blocked(Reason::OutOfScope));
    assert!(
        store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
            .await
            .unwrap()
            .decision
            .is_allowed()
    );
}

#[tokio::test]
async fn tenant_templates_are_validated_and_usable() {
    use charter_core::engine::provenance::Party;
    use charter_core::engine::workflow::{Gate, Template};
    let store = store().await;
    let t = tenant(&store, "Templates").await;
    let gate = Gate {
        name: "ship".into(),
        before_stage: "shipped".into(),
        approvals: 1,
        approver_roles: vec![],
        human_only: true,
        evidence: vec![],
        mandatory: true,
        min_risk: 0,
        principal_separation: false,
    };
    let bad = Template {
        name: "ours".into(),
        stages: vec!["only".into()],
        gates: vec![],
    };
    assert!(
        store
            .engine()
            .save_template(t.tenant_id, t.owner_id, bad)
            .await
            .is_err()
    );
    let ours = Template {
        name: "ours".into(),
        stages: vec!["draft".into(), "shipped".into()],
        gates: vec![gate],
    };
    store
        .engine()
        .save_template(t.tenant_id, t.owner_id, ours)
        .await
        .unwrap();
    let by = Party::Principal { id: t.owner_id };
    let (init, _) = store
        .engine()
        .create_initiative(t.tenant_id, by, "x".into(), "ours".into(), 10)
        .await
        .unwrap();
    let err = store
        .engine()
        .promote(t.tenant_id, by, init)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("0 of 1 approvals by humans"),
        "{err}"
    );
}

#[tokio::test]
async fn tenant_limits_and_per_agent_breaker_thresholds() {
    let store = store().await;
    let t = tenant(&store, "Limits").await;
    let a2 = add_agent(&store, t.tenant_id, "agent-2", t.owner_id).await;
    for agent in [t.agent_id, a2] {
        store
            .engine()
            .set_scope(t.tenant_id, agent, scope(None, None), t.owner_id)
            .await
            .unwrap();
    }
    // Three dispatches per cycle for the whole tenant, whichever agent asks.
    store
        .engine()
        .set_tenant_limits(t.tenant_id, t.owner_id, None, Some(3), 3600)
        .await
        .unwrap();
    let mut allowed = 0;
    for i in 0..6 {
        let agent = if i % 2 == 0 { t.agent_id } else { a2 };
        let d = store
            .engine()
            .authorize(t.tenant_id, agent, deploy("payments-api", 0))
            .await
            .unwrap()
            .decision;
        if d.is_allowed() {
            allowed += 1;
        } else {
            assert_eq!(d, blocked(Reason::DispatchLimit));
        }
    }
    assert_eq!(allowed, 3);
    // A threshold of 1 for agent-2 trips on its first failure.
    store
        .engine()
        .set_tenant_limits(t.tenant_id, t.owner_id, None, None, 3600)
        .await
        .unwrap();
    store
        .engine()
        .configure_breaker(t.tenant_id, a2, t.owner_id, 1, 60)
        .await
        .unwrap();
    let a = store
        .engine()
        .authorize(t.tenant_id, a2, deploy("payments-api", 0))
        .await
        .unwrap();
    store
        .engine()
        .report_outcome(t.tenant_id, a2, a.authorization_id, false, None, None)
        .await
        .unwrap();
    let d = store
        .engine()
        .authorize(t.tenant_id, a2, deploy("payments-api", 0))
        .await
        .unwrap()
        .decision;
    assert_eq!(d, blocked(Reason::BreakerOpen));
}
