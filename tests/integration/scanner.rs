//! The forensic scanner against the real database: each rule's violation planted — through
//! the public operations where the engine allows it, as a superuser behind Charter's back
//! where it would not — is found in one pass, with its severity, once; a busy tenant with
//! no violations yields none; two workers never scan one tenant at once, and the watermark
//! neither skips nor repeats a record.

use charter_core::engine::provenance::{Party, Separation};
use charter_core::status::Severity;
use charter_store::Store;
use charter_store::engine::ActionRequest;
use charter_store::engine::reviews::{Delegation, NewArtifact};
use charter_store::engine::views::LedgerFilter;
use charter_store::worker::scan::ScanReport;
use charter_tests::{
    ScenarioTenant, add_agent, execute, query, scenario_tenant, store, store_with, superuser,
    test_config,
};
use serde_json::json;
use uuid::Uuid;

async fn scan(store: &Store, tenant: Uuid, full: bool) -> ScanReport {
    store
        .worker()
        .scan_tenant(tenant, full)
        .await
        .unwrap()
        .expect("nobody else scans this tenant")
}

fn deploy(resource: &str, initiative: Option<Uuid>) -> ActionRequest {
    ActionRequest {
        action: "deploy".into(),
        resource_type: "Service".into(),
        resource_id: resource.into(),
        spend: 5,
        idempotency_key: None,
        arguments: json!({"version": "1.2.3"}),
        initiative,
        task: None,
    }
}

/// Runs one statement as a superuser with triggers off (the ledger's append-only triggers
/// included): an operator or attacker editing rows behind Charter's back.
async fn behind_the_back(sql: &str) {
    let su = superuser().await;
    execute(
        &su,
        &format!("DO $$ BEGIN SET LOCAL session_replication_role = replica; {sql}; END $$"),
        vec![],
    )
    .await
    .unwrap();
}

async fn violations(store: &Store, tenant: Uuid, kind: &str) -> Vec<(String, i32)> {
    let tx = store.tenant_tx(tenant).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT severity, occurrences FROM violations WHERE kind = $1 AND dedup_key IS NOT NULL",
        vec![kind.into()],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get("", "severity").unwrap(),
                r.try_get("", "occurrences").unwrap(),
            )
        })
        .collect()
}

/// An ordinary day: decisions allowed and blocked with their outcomes, an initiative taken
/// through its gate by an independent reviewer, delegations, a checkpoint.
async fn busy_day(store: &Store, s: &ScenarioTenant) -> Uuid {
    let (tenant, agent) = (s.t.tenant_id, s.t.agent_id);
    let engine = store.engine();
    for i in 0..120 {
        let resource = if i % 4 == 0 {
            format!("orders-{i}")
        } else {
            format!("payments-{i}")
        };
        let a = engine
            .authorize(tenant, agent, deploy(&resource, None))
            .await
            .unwrap();
        if a.decision.label() == "ALLOWED" {
            engine
                .report_outcome(tenant, agent, a.authorization_id, i % 7 != 0, Some(3), None)
                .await
                .unwrap();
        }
        if i == 60 {
            store.ledger().checkpoint(tenant).await.unwrap();
        }
    }
    let producer = Party::Agent {
        id: agent,
        on_behalf_of: s.t.owner_id,
    };
    let reviewer = Party::Agent {
        id: s.reviewer_id,
        on_behalf_of: s.t.owner_id,
    };
    let (initiative, _) = engine
        .create_initiative(
            tenant,
            producer,
            "release 1".into(),
            charter_tests::SCENARIO_TEMPLATE.into(),
            20,
        )
        .await
        .unwrap();
    let helper = add_agent(store, tenant, "helper", s.t.owner_id).await;
    for _ in 0..5 {
        engine
            .delegate(
                tenant,
                Delegation {
                    delegator: producer,
                    assignee: helper,
                    parent: None,
                    spend_limit: Some(10),
                    dispatch_limit: None,
                    deadline_secs: Some(3600),
                    initiative: Some(initiative),
                    idempotency_key: None,
                },
            )
            .await
            .unwrap();
    }
    let (artifact, _) = engine
        .register_artifact(
            tenant,
            producer,
            NewArtifact {
                kind: "changeset".into(),
                digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                    .into(),
                uri: "https://git.example.com/acme/payments/commit/9f86d08".into(),
                derived_from: vec![],
                task: None,
                initiative: Some(initiative),
            },
        )
        .await
        .unwrap();
    let (review, _) = engine
        .request_review(
            tenant,
            producer,
            artifact,
            Some(charter_tests::SCENARIO_GATE.into()),
            Separation::Standard,
        )
        .await
        .unwrap();
    engine
        .submit_verdict(
            tenant,
            reviewer,
            review,
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            true,
        )
        .await
        .unwrap();
    engine.promote(tenant, producer, initiative).await.unwrap();
    let a = engine
        .authorize(tenant, agent, deploy("payments-api", Some(initiative)))
        .await
        .unwrap();
    assert_eq!(a.decision.label(), "ALLOWED");
    initiative
}

#[tokio::test]
async fn a_busy_tenant_without_violations_yields_none_and_each_scan_is_recorded() {
    let store = store().await;
    let s = scenario_tenant(&store, "Scanner busy").await;
    busy_day(&store, &s).await;
    let full = scan(&store, s.t.tenant_id, true).await;
    assert_eq!(full.new_count(), 0, "{:?}", full.new);
    assert!(full.records > 100, "{}", full.records);
    // Nothing new: the next pass reads only the previous pass's own record.
    let again = scan(&store, s.t.tenant_id, false).await;
    assert_eq!(
        (again.new_count(), again.records, again.from_seq),
        (0, 0, full.to_seq)
    );
    let quiet = scan(&store, s.t.tenant_id, false).await;
    assert_eq!(quiet.from_seq, quiet.to_seq, "a quiet log is not re-read");
    let page = store
        .engine()
        .query_ledger(
            s.t.tenant_id,
            LedgerFilter {
                kind: Some("scan.completed".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.entries.len(),
        1,
        "a pass that read nothing new records nothing"
    );
}

#[tokio::test]
async fn tampered_ledger_rows_are_found_once_and_never_shown_as_valid() {
    let store = store().await;
    let s = scenario_tenant(&store, "Scanner ledger").await;
    let tenant = s.t.tenant_id;
    let blocked = store
        .engine()
        .authorize(tenant, s.t.agent_id, deploy("orders-1", None))
        .await
        .unwrap();
    assert_eq!(blocked.decision.label(), "BLOCKED");
    for i in 0..5 {
        store
            .engine()
            .authorize(tenant, s.t.agent_id, deploy(&format!("payments-{i}"), None))
            .await
            .unwrap();
    }
    store.ledger().checkpoint(tenant).await.unwrap();
    assert_eq!(scan(&store, tenant, true).await.new_count(), 0);
    let last = blocked.seq + 5;

    // Only the decision column of the BLOCKED decision says ALLOWED.
    behind_the_back(&format!(
        "UPDATE ledger_records SET decision = 'ALLOWED', reason = NULL WHERE tenant_id = '{tenant}' AND seq = {}",
        blocked.seq
    ))
    .await;
    // Lists find the row by its column but show what the signed record says, flagged.
    let page = store
        .engine()
        .query_ledger(
            tenant,
            LedgerFilter {
                decision: Some("ALLOWED".into()),
                limit: 200,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let line = page
        .entries
        .iter()
        .find(|l| l.seq as u64 == blocked.seq)
        .unwrap();
    assert_eq!(
        (line.decision.as_deref(), line.verified),
        (Some("BLOCKED"), false)
    );
    assert!(
        page.entries
            .iter()
            .filter(|l| l.seq as u64 != blocked.seq)
            .all(|l| l.verified)
    );

    // A record's text edited, and a row deleted.
    behind_the_back(&format!(
        "UPDATE ledger_records SET record = replace(record, 'payments-2', 'payments-9') WHERE tenant_id = '{tenant}' AND seq = {}",
        blocked.seq + 3
    ))
    .await;
    behind_the_back(&format!(
        "DELETE FROM ledger_records WHERE tenant_id = '{tenant}' AND seq = {last}"
    ))
    .await;
    let entry = store
        .ledger()
        .ledger_entry(tenant, blocked.seq + 3)
        .await
        .unwrap();
    assert!(!entry.record.hash_matches());

    // The incremental pass does not re-read old rows; the full pass finds each problem.
    let full = scan(&store, tenant, true).await;
    let keys: Vec<String> = full.new.values().flatten().map(|f| f.key.clone()).collect();
    for k in [
        format!("ledger_integrity:columns:{}", blocked.seq),
        format!("ledger_integrity:edited:{}", blocked.seq + 3),
        format!("ledger_integrity:seq_gap:{last}"),
        format!("ledger_integrity:chain:{}", last + 1),
    ] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert!(
        full.new
            .values()
            .flatten()
            .all(|f| f.severity == Severity::Critical)
    );
    let n = violations(&store, tenant, "ledger_integrity").await.len();
    // Found again on the next full pass: the same violations, seen twice, nothing new.
    let again = scan(&store, tenant, true).await;
    assert_eq!(again.new_count(), 0);
    let after = violations(&store, tenant, "ledger_integrity").await;
    assert_eq!(after.len(), n);
    assert!(after.iter().all(|(_, seen)| *seen == 2), "{after:?}");
    // Each new violation was queued once for the tenant's webhooks, in its transaction.
    let queued = charter_tests::outbox(&store, tenant, "violation.found").await;
    assert_eq!(queued.len(), n, "{queued:?}");
    assert!(
        queued
            .iter()
            .all(|q| q["kind"] == "ledger_integrity" && q["severity"] == "critical")
    );
}

#[tokio::test]
async fn rows_written_past_the_engine_are_found_by_their_rules() {
    let store = store().await;
    let s = scenario_tenant(&store, "Scanner rules").await;
    let tenant = s.t.tenant_id;
    let initiative = busy_day(&store, &s).await;
    assert_eq!(scan(&store, tenant, true).await.new_count(), 0);
    let engine = store.engine();
    let producer = Party::Agent {
        id: s.t.agent_id,
        on_behalf_of: s.t.owner_id,
    };

    // self_approval: the producer's approval of its own artifact, inserted by hand.
    let (artifact, _) = engine
        .register_artifact(
            tenant,
            producer,
            NewArtifact {
                kind: "changeset".into(),
                digest: "sha256:aa".into(),
                uri: String::new(),
                derived_from: vec![],
                task: None,
                initiative: Some(initiative),
            },
        )
        .await
        .unwrap();
    let (review, _) = engine
        .request_review(tenant, producer, artifact, None, Separation::Standard)
        .await
        .unwrap();
    behind_the_back(&format!(
        "INSERT INTO review_verdicts (tenant_id, review_id, reviewer_type, reviewer_id, reviewer_principal, verdict)
         VALUES ('{tenant}', '{review}', 'agent', '{}', '{}', 'approve')",
        s.t.agent_id, s.t.owner_id
    ))
    .await;
    // gate_gap: an initiative moved to a later stage by hand, past a gate never passed.
    let (skipped, _) = engine
        .create_initiative(
            tenant,
            producer,
            "skipped".into(),
            charter_tests::SCENARIO_TEMPLATE.into(),
            20,
        )
        .await
        .unwrap();
    behind_the_back(&format!(
        "UPDATE initiatives SET stage = 'release' WHERE tenant_id = '{tenant}' AND id = '{skipped}'"
    ))
    .await;
    // budget_overrun: an outcome reporting more than was authorized.
    let a = engine
        .authorize(tenant, s.t.agent_id, deploy("payments-x", None))
        .await
        .unwrap();
    behind_the_back(&format!(
        "UPDATE authorizations SET outcome = 'success', outcome_spend = spend_reserved + 500 WHERE tenant_id = '{tenant}' AND id = '{}'",
        a.authorization_id
    ))
    .await;
    // stale_job: a delegated task still open an hour past its deadline.
    behind_the_back(&format!(
        "UPDATE tasks SET deadline = now() - interval '1 hour' WHERE tenant_id = '{tenant}' AND id = (SELECT id FROM tasks WHERE tenant_id = '{tenant}' AND status = 'open' LIMIT 1)"
    ))
    .await;
    // credential_exposure: a token in an artifact's URI, through the public operation.
    engine
        .register_artifact(
            tenant,
            producer,
            NewArtifact {
                kind: "build".into(),
                digest: "sha256:bb".into(),
                uri: "https://ci.example.com/run/7?token=ghp_abcdefghijklmnopqrstuvwxyz0123456789"
                    .into(),
                derived_from: vec![],
                task: None,
                initiative: None,
            },
        )
        .await
        .unwrap();

    let found = scan(&store, tenant, false).await;
    let mut rules: Vec<&str> = found.new.keys().copied().collect();
    rules.sort_unstable();
    assert_eq!(
        rules,
        [
            "budget_overrun",
            "credential_exposure",
            "gate_gap",
            "self_approval",
            "stale_job"
        ],
        "{:?}",
        found.new
    );
    for (rule, severity) in [
        ("self_approval", "critical"),
        ("gate_gap", "high"),
        ("budget_overrun", "high"),
        ("stale_job", "medium"),
        ("credential_exposure", "high"),
    ] {
        let v = violations(&store, tenant, rule).await;
        assert_eq!(v.len(), 1, "{rule}: {v:?}");
        assert_eq!(v[0].0, severity, "{rule}");
    }
    // Each problem is one violation however often it is seen.
    assert_eq!(scan(&store, tenant, false).await.new_count(), 0);
    assert_eq!(scan(&store, tenant, true).await.new_count(), 0);
    // And each new violation is a signed record.
    let page = engine
        .query_ledger(
            tenant,
            LedgerFilter {
                kind: Some("violation.found".into()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 5);
}

#[tokio::test]
async fn two_workers_never_scan_a_tenant_at_once_and_the_watermark_is_exact() {
    let config = test_config(&[]);
    let a = store_with(&config).await;
    let b = store_with(&config).await; // a second worker process: its own pool
    let s = scenario_tenant(&a, "Scanner twice").await;
    let tenant = s.t.tenant_id;
    let mut reports = Vec::new();
    for round in 0..6 {
        for i in 0..20 {
            a.engine()
                .authorize(
                    tenant,
                    s.t.agent_id,
                    deploy(&format!("payments-{round}-{i}"), None),
                )
                .await
                .unwrap();
        }
        let (x, y) = tokio::join!(
            a.worker().scan_tenant(tenant, false),
            b.worker().scan_tenant(tenant, false)
        );
        let ran: Vec<ScanReport> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
        assert!(!ran.is_empty());
        reports.extend(ran);
    }
    reports.sort_by_key(|r| r.from_seq);
    assert_eq!(reports[0].from_seq, 0);
    for w in reports.windows(2) {
        assert_eq!(
            w[1].from_seq, w[0].to_seq,
            "no record skipped or read twice"
        );
    }
    assert!(reports.iter().all(|r| r.new_count() == 0));
}
