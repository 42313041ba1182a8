//! Each rule against what it must find and what it must leave alone.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use serde_json::json;
use uuid::Uuid;

use super::ledger_integrity::{Columns, Position, Scan, StoredCheckpoint, StoredRow};
use super::*;
use crate::engine::provenance::{ArtifactNode, Graph, Party, Separation};
use crate::engine::workflow::{Gate, Template};
use crate::ledger::merkle::{CompactTree, leaf_hash};
use crate::ledger::record::{Entry, GENESIS_PREV_HASH, Record, SealAt, SignedRecord};
use crate::ledger::{Actor, Hash};

const KEY_ID: &str = "k1";

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 0).unwrap()
}

/// A signed chain of `n` decisions as the ledger stores them.
fn chain(key: &SigningKey, n: u64) -> Vec<StoredRow> {
    let mut prev = GENESIS_PREV_HASH;
    (0..n)
        .map(|seq| {
            let mut e =
                Entry::new("decision", Actor::agent(Uuid::from_u128(7))).payload(json!({"i": seq}));
            e.action = Some("deploy".into());
            e.decision = Some(if seq % 2 == 0 { "BLOCKED" } else { "ALLOWED" }.into());
            e.reason = (seq % 2 == 0).then(|| "out_of_scope".into());
            let r = Record::seal(
                e,
                &SealAt {
                    tenant_id: Uuid::nil(),
                    seq,
                    recorded_at: t0(),
                    prev_hash: prev,
                    key_id: KEY_ID,
                },
            );
            let s = SignedRecord::sign(r, key);
            prev = s.hash;
            StoredRow {
                seq,
                columns: Columns::of(&s.record),
                record: Some(String::from_utf8(s.canonical).unwrap()),
                hash: s.hash,
                signature: s.signature,
                key_id: KEY_ID.into(),
            }
        })
        .collect()
}

fn scan(key: &SigningKey, rows: &[StoredRow], checkpoints: Vec<StoredCheckpoint>) -> Vec<Finding> {
    let keys = HashMap::from([(KEY_ID.to_string(), key.verifying_key())]);
    let mut s = Scan::resume(
        Uuid::nil().to_string(),
        Position::start(),
        keys,
        checkpoints,
    );
    rows.iter().for_each(|r| {
        s.push(r);
    });
    s.finish().2
}

fn root_of(rows: &[StoredRow]) -> Hash {
    let mut t = CompactTree::new();
    rows.iter().for_each(|r| t.push_leaf(leaf_hash(&r.hash)));
    t.root()
}

fn keys_of(f: &[Finding]) -> Vec<String> {
    f.iter().map(|f| f.key.clone()).collect()
}

#[test]
fn an_untouched_log_and_its_checkpoints_yield_nothing() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let rows = chain(&key, 600);
    let cps = vec![
        StoredCheckpoint {
            tree_size: 100,
            root: root_of(&rows[..100]),
            signature_valid: true,
        },
        StoredCheckpoint {
            tree_size: 600,
            root: root_of(&rows),
            signature_valid: true,
        },
    ];
    assert_eq!(scan(&key, &rows, cps), vec![]);
}

#[test]
fn a_scan_resumed_midway_finds_what_a_whole_one_finds() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let mut rows = chain(&key, 300);
    rows[250].columns.decision = Some("ALLOWED".into());
    let keys = HashMap::from([(KEY_ID.to_string(), key.verifying_key())]);
    let mut first = Scan::resume(
        Uuid::nil().to_string(),
        Position::start(),
        keys.clone(),
        vec![],
    );
    rows[..200].iter().for_each(|r| {
        first.push(r);
    });
    let (at, read, found) = first.finish();
    assert_eq!((at.next_seq, read, found.len()), (200, 200, 0));
    // Resume from what a scan keeps: next seq, the last hash, the frontier.
    let frontier: Vec<Hash> = at.tree.frontier_hashes().copied().collect();
    let at = Position {
        next_seq: at.next_seq,
        prev_hash: at.prev_hash,
        tree: CompactTree::from_frontier(200, &frontier).unwrap(),
    };
    let cp = StoredCheckpoint {
        tree_size: 300,
        root: root_of(&rows),
        signature_valid: true,
    };
    let mut second = Scan::resume(Uuid::nil().to_string(), at, keys, vec![cp]);
    rows[200..].iter().for_each(|r| {
        second.push(r);
    });
    assert_eq!(
        keys_of(&second.finish().2),
        vec!["ledger_integrity:columns:250"]
    );
}

#[test]
fn each_kind_of_tampering_is_found_at_its_seq() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let clean = chain(&key, 10);
    let cp = |rows: &[StoredRow]| {
        vec![StoredCheckpoint {
            tree_size: 10,
            root: root_of(rows),
            signature_valid: true,
        }]
    };

    // Only the decision column of a BLOCKED decision says ALLOWED.
    let mut rows = clean.clone();
    rows[4].columns.decision = Some("ALLOWED".into());
    assert_eq!(
        keys_of(&scan(&key, &rows, cp(&clean))),
        vec!["ledger_integrity:columns:4"]
    );

    // The record's text edited (the hash column left alone).
    let mut rows = clean.clone();
    rows[4].record = rows[4]
        .record
        .as_ref()
        .map(|r| r.replace("BLOCKED", "ALLOWED"));
    let found = keys_of(&scan(&key, &rows, cp(&clean)));
    assert!(
        found.contains(&"ledger_integrity:edited:4".to_string()),
        "{found:?}"
    );

    // Text and hash both rewritten: the signature and the next link fail, so does the root.
    let mut rows = clean.clone();
    rows[4].record = rows[4]
        .record
        .as_ref()
        .map(|r| r.replace("BLOCKED", "ALLOWED"));
    rows[4].hash = crate::ledger::record::hash_bytes(rows[4].record.as_ref().unwrap().as_bytes());
    let found = keys_of(&scan(&key, &rows, cp(&clean)));
    for k in [
        "ledger_integrity:signature:4",
        "ledger_integrity:chain:5",
        "ledger_integrity:checkpoint_root:10",
    ] {
        assert!(found.contains(&k.to_string()), "{k} in {found:?}");
    }

    // A row deleted: a gap and a broken link.
    let mut rows = clean.clone();
    rows.remove(6);
    let found = keys_of(&scan(&key, &rows, vec![]));
    assert!(
        found.contains(&"ledger_integrity:seq_gap:6".to_string()),
        "{found:?}"
    );
    assert!(
        found.contains(&"ledger_integrity:chain:7".to_string()),
        "{found:?}"
    );

    // Signed by another key.
    let mut rows = clean.clone();
    let other = SigningKey::from_bytes(&[4; 32]);
    rows[2].signature = ed25519_dalek::Signer::sign(&other, &rows[2].hash).to_bytes();
    assert_eq!(
        keys_of(&scan(&key, &rows, vec![])),
        vec!["ledger_integrity:signature:2"]
    );

    // A checkpoint whose note does not verify.
    let mut bad = cp(&clean);
    bad[0].signature_valid = false;
    assert_eq!(
        keys_of(&scan(&key, &clean, bad)),
        vec!["ledger_integrity:checkpoint_signature:10"]
    );
}

fn template() -> Template {
    let gate = |name: &str, before: &str, mandatory: bool, min_risk: u8| Gate {
        name: name.into(),
        before_stage: before.into(),
        approvals: 1,
        approver_roles: vec![],
        human_only: false,
        evidence: vec![],
        mandatory,
        min_risk,
        principal_separation: false,
    };
    Template {
        name: "t".into(),
        stages: vec!["intent".into(), "build".into(), "release".into()],
        gates: vec![
            gate("design", "build", true, 0),
            gate("security", "release", false, 50),
            gate("ship", "release", true, 0),
        ],
    }
}

#[test]
fn gate_gap_needs_every_applying_gate_up_to_the_stage() {
    let id = Uuid::from_u128(1);
    let mut i = gate_gap::Initiative {
        id,
        template: template(),
        risk: 10,
        stage: "intent".into(),
        passed: HashMap::new(),
    };
    assert!(gate_gap::check_initiative(&i).is_empty());
    i.stage = "release".into();
    i.passed.insert("design".into(), t0());
    // `security` does not apply at risk 10; `ship` does and was skipped.
    assert_eq!(
        keys_of(&gate_gap::check_initiative(&i)),
        vec![format!("gate_gap:{id}:ship")]
    );
    i.passed.insert("ship".into(), t0());
    assert!(gate_gap::check_initiative(&i).is_empty());
    i.risk = 80;
    assert_eq!(
        keys_of(&gate_gap::check_initiative(&i)),
        vec![format!("gate_gap:{id}:security")]
    );

    let d = gate_gap::GuardedDecision {
        seq: 9,
        initiative: id,
        action: "deploy".into(),
        recorded_at: t0(),
        gates: vec!["ship".into()],
    };
    let mut passed = HashMap::new();
    assert_eq!(gate_gap::check_decision(&d, &passed).len(), 1);
    passed.insert("ship".to_string(), t0() + Duration::seconds(1));
    assert_eq!(
        gate_gap::check_decision(&d, &passed).len(),
        1,
        "passed only after the decision"
    );
    passed.insert("ship".to_string(), t0() - Duration::seconds(1));
    assert!(gate_gap::check_decision(&d, &passed).is_empty());
}

#[test]
fn self_approval_is_found_in_rows_the_engine_never_saw() {
    let (a, b) = (Uuid::from_u128(10), Uuid::from_u128(11));
    let owner = Uuid::from_u128(1);
    let art = Uuid::from_u128(20);
    let mut graph = Graph::default();
    graph.artifacts.insert(
        art,
        ArtifactNode {
            id: art,
            producer: Party::Agent {
                id: a,
                on_behalf_of: owner,
            },
            derived_from: vec![],
            task: None,
        },
    );
    let approval = |reviewer| self_approval::Approval {
        review_id: Uuid::from_u128(30),
        artifact_id: art,
        gate: None,
        reviewer,
        separation: Separation::Standard,
        graph: graph.clone(),
    };
    let own = self_approval::check(&approval(Party::Agent {
        id: a,
        on_behalf_of: owner,
    }))
    .unwrap();
    assert_eq!(own.severity, crate::status::Severity::Critical);
    // The person behind the producer may not approve either; another agent may.
    assert!(self_approval::check(&approval(Party::Principal { id: owner })).is_some());
    assert!(
        self_approval::check(&approval(Party::Agent {
            id: b,
            on_behalf_of: owner
        }))
        .is_none()
    );
}

#[test]
fn budgets_stale_work_and_exposed_credentials() {
    let o = budget_overrun::Outcome {
        authorization_id: Uuid::nil(),
        agent_id: Uuid::nil(),
        reserved: 100,
        reported: 100,
    };
    assert!(budget_overrun::check_outcome(&o).is_none());
    assert!(
        budget_overrun::check_outcome(&budget_overrun::Outcome { reported: 101, ..o }).is_some()
    );
    let c = budget_overrun::CycleSpend {
        agent_id: Uuid::nil(),
        cycle_start: t0(),
        spent: 1_001,
        limit: Some(1_000),
    };
    assert!(budget_overrun::check_cycle(&c).is_some());
    assert!(
        budget_overrun::check_cycle(&budget_overrun::CycleSpend { limit: None, ..c }).is_none()
    );

    let task = stale_job::Open {
        kind: stale_job::Kind::Task,
        id: Uuid::nil(),
        due: t0(),
    };
    assert!(
        stale_job::check(&task, t0() + Duration::minutes(1)).is_none(),
        "expiry has time to run"
    );
    assert!(stale_job::check(&task, t0() + Duration::minutes(10)).is_some());
    let review = stale_job::Open {
        kind: stale_job::Kind::Review,
        ..task
    };
    assert!(stale_job::check(&review, t0() + Duration::days(2)).is_none());
    assert_eq!(
        stale_job::check(&review, t0() + Duration::days(8))
            .unwrap()
            .severity,
        crate::status::Severity::Low
    );

    for secret in [
        "https://ci.example.com/run?token=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "AKIAIOSFODNN7EXAMPLE",
        "api_key=Zx8q2LmP9vR4tY7wK1nB5cD3fG6hJ0sA",
    ] {
        assert!(
            !credential_exposure::secrets_in(secret).is_empty(),
            "{secret}"
        );
    }
    for ordinary in [
        "https://github.com/acme/payments/pull/42",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "token=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "api_token=0192f7a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b",
        "token=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        "[REDACTED:github_token]",
    ] {
        assert!(
            credential_exposure::secrets_in(ordinary).is_empty(),
            "{ordinary}"
        );
    }
}
