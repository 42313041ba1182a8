//! The enforcement engine against the real database: scopes, budgets at the edge under
//! concurrency, breakers, idempotency, failing closed, and every decision in a ledger that
//! verifies. Authority down delegation chains, approvals and tasks are in
//! [`authority`]; tenants' own policies, templates and limits in [`settings`].

mod authority;
mod settings;

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
            r.body()
                .contains(&format!("\"decision\":\"{}\"", ans.decision.label())),
            "{}",
            r.body()
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
        assert!(rec.body().contains(&a.authorization_id.to_string()));
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
    assert!(rec.body().contains("\"kind\":\"breaker.reset\""));
    assert!(rec.body().contains(&t.owner_id.to_string()));
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
