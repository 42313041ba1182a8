//! The ledger against the real database: concurrent appends, append-only storage, secret
//! redaction, proofs and checkpoints, public endpoints, and `charter verify` catching each
//! class of tampering. Exports and `charter verify` are in [`exports`].

mod exports;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use charter_core::keys::verifying_key;
use charter_core::ledger::checkpoint::Checkpoint;
use charter_core::ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use charter_core::ledger::record::{Record, SignedRecord};
use charter_core::ledger::{Actor, Entry};
use charter_store::ledger::{checkpoints, read};
use charter_store::{Store, signing_keys};
use charter_tests::{
    charter_cmd, execute, query, spawn_app, store, store_with, superuser, tenant, test_config,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// Records a provisioned tenant starts with: genesis, agent created, API key issued.
const PROVISIONED: u64 = 3;

fn entry(i: usize) -> Entry {
    Entry::new("test.event", Actor::system()).payload(json!({"i": i}))
}

async fn append_n(store: &Store, tenant: Uuid, range: std::ops::Range<usize>) {
    for i in range {
        store.append(tenant, entry(i)).await.unwrap();
    }
}

async fn export(store: &Store, tenant: Uuid, from: Option<u64>, to: Option<u64>) -> Vec<String> {
    let mut buf = Vec::new();
    store
        .ledger()
        .export_ledger(tenant, from, to, Actor::system(), &mut buf)
        .await
        .unwrap();
    String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write(lines: &[String], name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("charter-ledger-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Runs `charter verify` (offline: an empty environment) and returns (success, output).
async fn verify_cli(file: &Path, extra: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(charter_tests::charter_bin())
        .env_clear()
        .arg("verify")
        .arg(file)
        .args(extra)
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn record_index(lines: &[String], seq: u64) -> usize {
    lines
        .iter()
        .position(|l| {
            l.starts_with("{\"type\":\"record\"") && l.contains(&format!("\"seq\":{seq},"))
        })
        .unwrap()
}

#[tokio::test]
async fn concurrent_appends_from_several_pools_are_gap_free_and_verify() {
    let base = store().await;
    let one = tenant(&base, "Busy").await;
    let mut many = Vec::new();
    for i in 0..6 {
        many.push(tenant(&base, &format!("Many {i}")).await);
    }
    // Four "processes" (separate pools and writers), each with 8 concurrent appenders.
    // Every store needs the same master key to open tenant keys: share the base's.
    let key = base.master_key().to_base64();
    let stores: Vec<Store> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let cfg = test_config(&[("CHARTER_MASTER_KEY", key.as_str())]);
            v.push(
                Store::connect(&cfg, cfg.master_key.clone().unwrap())
                    .await
                    .unwrap(),
            );
        }
        v
    };
    const PER_TASK: usize = 80;
    let mut tasks = Vec::new();
    for (p, s) in stores.iter().enumerate() {
        for t in 0..8 {
            let s = s.clone();
            let target = if t % 2 == 0 {
                one.tenant_id
            } else {
                many[(p + t) % many.len()].tenant_id
            };
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..PER_TASK {
                    seqs.push((target, s.append(target, entry(i)).await.unwrap().seq));
                }
                seqs
            }));
        }
    }
    let mut per_tenant: std::collections::HashMap<Uuid, Vec<u64>> = Default::default();
    for t in tasks {
        for (tenant, seq) in t.await.unwrap() {
            per_tenant.entry(tenant).or_default().push(seq);
        }
    }
    let total: usize = per_tenant.values().map(Vec::len).sum();
    assert_eq!(total, 4 * 8 * PER_TASK);
    assert_eq!(per_tenant[&one.tenant_id].len(), 4 * 4 * PER_TASK);
    for (tenant_id, mut seqs) in per_tenant {
        seqs.sort_unstable();
        // Provisioning wrote seq 0..=2 (genesis, agent, key); appends take 3.. without gaps
        // or repeats.
        let expected: Vec<u64> = (PROVISIONED..PROVISIONED + seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "tenant {tenant_id}");
        // The Merkle root of the stored nodes equals the signed checkpoint's.
        let cp = base.ledger().checkpoint(tenant_id).await.unwrap();
        let tx = base.tenant_tx(tenant_id).await.unwrap();
        let size = read::tree_size(&tx).await.unwrap();
        assert_eq!(cp.tree_size, size);
        assert_eq!(read::root(&tx, size).await.unwrap(), cp.root);
        tx.rollback().await.unwrap();
        // And the whole log verifies offline.
        let lines = export(&base, tenant_id, None, None).await;
        let (ok, out) = verify_cli(&write(&lines, "export.jsonl"), &[]).await;
        assert!(ok, "{out}");
    }
}

#[tokio::test]
async fn group_commit_batches_concurrent_appends() {
    let store = store().await;
    let t = tenant(&store, "Batch").await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move { s.append(t.tenant_id, entry(i)).await.unwrap() })
        })
        .collect();
    let mut receipts = Vec::new();
    for task in tasks {
        receipts.push(task.await.unwrap());
    }
    let seqs: HashSet<u64> = receipts.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len(), 200);
    // Fewer distinct recorded_at values than records: they shared transactions.
    let times: HashSet<&str> = receipts.iter().map(|r| r.recorded_at.as_str()).collect();
    assert!(times.len() < 200, "{} batches for 200 appends", times.len());
}

#[tokio::test]
async fn failed_work_rolls_back_alone() {
    let store = store().await;
    let t = tenant(&store, "Work").await;
    let ok = store.append_with(t.tenant_id, |tx| {
        Box::pin(async move {
            execute(
                tx.raw(),
                "UPDATE agents SET description = 'changed'",
                vec![],
            )
            .await
            .unwrap();
            Ok((entry(1), 7u32))
        })
    });
    let bad = store.append_with(t.tenant_id, |tx| {
        Box::pin(async move {
            execute(
                tx.raw(),
                "UPDATE principals SET display_name = 'should not stick'",
                vec![],
            )
            .await
            .unwrap();
            Err::<(Entry, ()), _>(charter_store::StoreError::Invalid("refused".into()))
        })
    });
    let (ok, bad) = tokio::join!(ok, bad);
    let (receipt, out) = ok.unwrap();
    assert_eq!(out, 7);
    assert!(matches!(bad, Err(charter_store::StoreError::Invalid(_))));
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let rows = charter_tests::query(tx.raw(), "SELECT description FROM agents", vec![])
        .await
        .unwrap();
    assert_eq!(
        rows[0].try_get::<String>("", "description").unwrap(),
        "changed"
    );
    let rows = charter_tests::query(tx.raw(), "SELECT display_name FROM principals", vec![])
        .await
        .unwrap();
    assert_ne!(
        rows[0].try_get::<String>("", "display_name").unwrap(),
        "should not stick"
    );
    assert_eq!(read::tree_size(&tx).await.unwrap(), receipt.seq + 1);
    tx.rollback().await.unwrap();
    // A tenant without a log is told so; a caller never waits on a dead batch, and the
    // tenant's own appends keep working.
    let nobody = store.append(uuid::Uuid::now_v7(), entry(2)).await;
    assert!(
        matches!(nobody, Err(charter_store::StoreError::NotFound(_))),
        "{nobody:?}"
    );
    store.append(t.tenant_id, entry(3)).await.unwrap();
}

#[tokio::test]
async fn ledger_rows_cannot_be_updated_or_deleted() {
    let store = store().await;
    let t = tenant(&store, "AppendOnly").await;
    store.append(t.tenant_id, entry(1)).await.unwrap();
    store.ledger().checkpoint(t.tenant_id).await.unwrap();
    // The application role: no privilege at all.
    for sql in [
        "UPDATE ledger_records SET reason = 'edited'",
        "DELETE FROM ledger_records",
        "UPDATE ledger_nodes SET hash = hash",
        "DELETE FROM ledger_checkpoints",
        "TRUNCATE ledger_records",
        "DELETE FROM ledger_heads",
        "UPDATE ledger_heads SET tree_size = 0",
    ] {
        let tx = store.tenant_tx(t.tenant_id).await.unwrap();
        let err = execute(tx.raw(), sql, vec![])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("permission denied")
                || err.contains("append-only")
                || err.contains("only moves forward"),
            "{sql}: {err}"
        );
        tx.rollback().await.unwrap();
    }
    // Even a superuser is stopped by the triggers.
    let su = superuser().await;
    for sql in [
        "UPDATE ledger_records SET reason = 'edited' WHERE tenant_id = $1",
        "DELETE FROM ledger_records WHERE tenant_id = $1",
        "DELETE FROM ledger_nodes WHERE tenant_id = $1",
        "UPDATE ledger_heads SET tree_size = 0 WHERE tenant_id = $1",
    ] {
        let err = execute(&su, sql, vec![t.tenant_id.into()])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("append-only") || err.contains("only moves forward"),
            "{sql}: {err}"
        );
    }
    let err = execute(&su, "TRUNCATE ledger_checkpoints", vec![])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("append-only"), "{err}");
}

#[tokio::test]
async fn secrets_are_redacted_before_they_reach_the_ledger() {
    let store = store().await;
    let t = tenant(&store, "Secrets").await;
    let secrets = json!({
        "pem": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----",
        "aws": "AKIAIOSFODNN7EXAMPLE",
        "gh": "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        "stripe": "sk_live_51H8abcdefghijklmnopqrstu",
        "slack": "xoxb-1234567890-abcdefghijklmn",
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dsn": "postgres://u@h/db?password=hunter2hunter2",
        "own": t.api_key.expose(),
        "clean": "deploy api v2",
    });
    let mut e = Entry::new("test.secrets", Actor::system()).payload(secrets);
    e.reason = Some("retry with Bearer abcdefghijklmnop12345".into());
    let receipt = store.append(t.tenant_id, e).await.unwrap();
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let stored = read::record(&tx, receipt.seq).await.unwrap();
    for leaked in [
        "MHcCAQEEIBkg",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghij",
        "sk_live_51H8",
        "xoxb-1234567890",
        "dozjgNryP4J3",
        "hunter2hunter2",
        &t.api_key.expose()[8..],
        "abcdefghijklmnop12345",
    ] {
        assert!(
            !stored.body().contains(leaked),
            "{leaked} leaked into {}",
            stored.body()
        );
    }
    let record: Value = serde_json::from_str(stored.body()).unwrap();
    assert_eq!(record["payload"]["clean"], "deploy api v2");
    let rules: HashSet<&str> = record["redactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    for rule in [
        "private_key",
        "aws_access_key_id",
        "github_token",
        "stripe_key",
        "slack_token",
        "jwt",
        "password",
        "charter_api_key",
        "bearer_token",
    ] {
        assert!(rules.contains(rule), "{rule} missing from {rules:?}");
    }
    // Redacted records still verify: the redaction happened before sealing.
    let lines = export(&store, t.tenant_id, None, None).await;
    let (ok, out) = verify_cli(&write(&lines, "e.jsonl"), &[]).await;
    assert!(ok, "{out}");
}

#[tokio::test]
async fn proofs_from_stored_nodes_verify_against_checkpoints() {
    let store = store().await;
    let t = tenant(&store, "Proofs").await;
    append_n(&store, t.tenant_id, 0..20).await;
    let first = store.ledger().checkpoint(t.tenant_id).await.unwrap();
    append_n(&store, t.tenant_id, 0..13).await;
    let second = store.ledger().checkpoint(t.tenant_id).await.unwrap();
    let (m, n) = (PROVISIONED + 20, PROVISIONED + 33);
    assert_eq!((first.tree_size, second.tree_size), (m, n));
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let public = signing_keys::list_public(&tx).await.unwrap();
    let vk = verifying_key(&public[0].public_key).unwrap();
    let cp1 = Checkpoint::verify(&first.note, &vk).unwrap();
    let cp2 = Checkpoint::verify(&second.note, &vk).unwrap();
    let proof = read::consistency_proof(&tx, m, n).await.unwrap();
    verify_consistency(m, n, &cp1.root, &cp2.root, &proof).unwrap();
    for seq in [0, 1, m - 1, m, n - 1] {
        let r = read::record(&tx, seq).await.unwrap();
        let proof = read::inclusion_proof(&tx, seq, n).await.unwrap();
        assert!(proof.len() <= 6);
        verify_inclusion(seq, n, &leaf_hash(&r.record_hash), &proof, &cp2.root).unwrap();
    }
    // Leaves are derived from the records, not stored twice; inner nodes are stored.
    let levels = query(
        tx.raw(),
        "SELECT count(*) FILTER (WHERE level = 0) AS leaves, count(*) AS nodes FROM ledger_nodes",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(levels[0].try_get::<i64>("", "leaves").unwrap(), 0);
    assert!(levels[0].try_get::<i64>("", "nodes").unwrap() >= (n / 2) as i64);
    // Asking again without growth returns the same checkpoint.
    tx.rollback().await.unwrap();
    assert_eq!(
        store.ledger().checkpoint(t.tenant_id).await.unwrap().note,
        second.note
    );
}

#[tokio::test]
async fn a_checkpoint_inconsistent_with_the_previous_one_is_never_signed() {
    let store = store().await;
    let t = tenant(&store, "Fork").await;
    append_n(&store, t.tenant_id, 0..5).await;
    store.ledger().checkpoint(t.tenant_id).await.unwrap();
    store.append(t.tenant_id, entry(9)).await.unwrap();
    // An operator with superuser rights rewrites a stored node behind Charter's back.
    let su = superuser().await;
    execute(
        &su,
        "ALTER TABLE ledger_nodes DISABLE TRIGGER append_only",
        vec![],
    )
    .await
    .unwrap();
    let res = execute(
        &su,
        "UPDATE ledger_nodes SET hash = sha256(hash) WHERE tenant_id = $1 AND level > 0 AND idx = 0",
        vec![t.tenant_id.into()],
    )
    .await;
    execute(
        &su,
        "ALTER TABLE ledger_nodes ENABLE TRIGGER append_only",
        vec![],
    )
    .await
    .unwrap();
    assert!(res.unwrap() >= 1);
    let err = store.ledger().checkpoint(t.tenant_id).await.unwrap_err();
    assert!(err.to_string().contains("refusing to sign"), "{err}");
}

#[tokio::test]
async fn public_keys_and_checkpoint_endpoints() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Public").await;
    app.store.append(t.tenant_id, entry(1)).await.unwrap();
    let keys: Value = app
        .client
        .get(app.url(&format!("/t/{}/keys", t.slug)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["tenant"], t.slug.as_str());
    let key = &keys["keys"][0];
    assert!(key["valid_until"].is_null());
    let vk = verifying_key(
        &STANDARD
            .decode(key["public_key"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let r = app
        .client
        .get(app.url(&format!("/t/{}/checkpoint", t.slug)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let note = r.text().await.unwrap();
    let cp = Checkpoint::verify(&note, &vk).unwrap();
    assert_eq!(cp.size, PROVISIONED + 1);
    assert_eq!(cp.origin, keys["origin"].as_str().unwrap());
    assert!(
        charter_core::keys::parse_public_key(key["note_verifier_key"].as_str().unwrap()).unwrap()
            == vk
    );
    let r = app
        .client
        .get(app.url("/t/no-such-tenant/keys"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_worker_job_checkpoints_growing_logs() {
    let store = store().await;
    let t = tenant(&store, "Job").await;
    store.append(t.tenant_id, entry(1)).await.unwrap();
    let summary = charter_worker::jobs::checkpoints(store.clone(), std::time::Duration::ZERO)
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(summary.contains("checkpoints issued"), "{summary}");
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let cp = checkpoints::latest(&tx).await.unwrap().unwrap();
    assert_eq!(cp.tree_size, PROVISIONED + 1);
}
