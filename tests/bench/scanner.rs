//! `charter-bench scanner`: the forensic scanner's throughput. A tenant's log is grown to
//! 1,000,000 signed records (written straight into the database, signed with the tenant's
//! own key, as appends would have written them), then: a full pass over all of it; an
//! incremental pass over 10,000 new records at the end of that log; and, for contrast, an
//! incremental pass over 10,000 new records of a tenant whose log is only 10,000 long —
//! the incremental cost should follow the new records, not the log.

use std::time::Instant;

use charter_core::ledger::merkle::{CompactTree, leaf_hash};
use charter_core::ledger::record::{Record, SealAt, SignedRecord};
use charter_core::ledger::{Actor, Entry};
use charter_store::Store;
use ed25519_dalek::SigningKey;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::json;
use uuid::Uuid;

use super::{payload, peak_rss_kb, provision};

/// Records written per statement.
const CHUNK: u64 = 5_000;

pub(crate) struct Log {
    pub(crate) tenant: Uuid,
    key_id: String,
    key: SigningKey,
    tree: CompactTree,
    prev: [u8; 32],
}

pub(crate) async fn open(store: &Store, su: &DatabaseConnection, name: &str) -> Log {
    let p = provision(store, name).await;
    open_tenant(store, su, p.tenant_id).await
}

/// The log of an existing tenant, to grow.
pub(crate) async fn open_tenant(store: &Store, su: &DatabaseConnection, tenant: Uuid) -> Log {
    let tx = store.tenant_tx(tenant).await.unwrap();
    let (key_id, key) = charter_store::signing_keys::open_current(&tx, store.master_key())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let mut log = Log {
        tenant,
        key_id,
        key,
        tree: CompactTree::new(),
        prev: [0; 32],
    };
    reload(su, &mut log).await;
    log
}

/// Takes the log's head as the database has it (the scanner and checkpoints append too).
async fn reload(su: &DatabaseConnection, log: &mut Log) {
    let r = su
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT tree_size, last_hash, frontier FROM ledger_heads WHERE tenant_id = $1",
            [log.tenant.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let size = r.try_get::<i64>("", "tree_size").unwrap() as u64;
    let frontier: Vec<u8> = r.try_get("", "frontier").unwrap();
    let hashes: Vec<[u8; 32]> = frontier.chunks(32).map(|c| c.try_into().unwrap()).collect();
    log.tree = CompactTree::from_frontier(size, &hashes).unwrap();
    log.prev = r
        .try_get::<Vec<u8>>("", "last_hash")
        .unwrap()
        .try_into()
        .unwrap();
}

/// Appends `n` signed decision records to the log, as the ledger writer would.
pub(crate) async fn grow(su: &DatabaseConnection, log: &mut Log, n: u64) {
    reload(su, log).await;
    let now = chrono::Utc::now();
    let mut left = n;
    while left > 0 {
        let batch = left.min(CHUNK);
        let mut nodes: Vec<serde_json::Value> = Vec::new();
        let mut signed: Vec<SignedRecord> = (0..batch)
            .map(|_| {
                let seq = log.tree.size();
                let mut e =
                    Entry::new("decision", Actor::agent(log.tenant)).payload(payload(seq as usize));
                e.action = Some("deploy".into());
                e.resource = Some(format!("Service:payments-{}", seq % 100));
                e.decision = Some("ALLOWED".into());
                let r = Record::seal(
                    e,
                    &SealAt {
                        tenant_id: log.tenant,
                        seq,
                        recorded_at: now,
                        prev_hash: log.prev,
                        key_id: &log.key_id,
                    },
                );
                let s = SignedRecord::hashed(r);
                log.prev = s.hash;
                for (id, h) in log.tree.push(leaf_hash(&s.hash)) {
                    nodes.push(json!({"l": id.level, "i": id.index, "h": hex::encode(h)}));
                }
                s
            })
            .collect();
        SignedRecord::sign_all(&mut signed, &log.key);
        let rows: Vec<serde_json::Value> = signed
            .iter()
            .map(|s| {
                let r = &s.record;
                json!({"seq": r.seq, "kind": r.kind, "actor_type": r.actor.kind.as_str(), "actor_id": r.actor.id,
                       "action": r.action, "resource": r.resource, "decision": r.decision,
                       "record": std::str::from_utf8(&s.canonical).unwrap(),
                       "hash": hex::encode(s.hash), "sig": hex::encode(s.signature)})
            })
            .collect();
        su.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO ledger_records (tenant_id, seq, recorded_at, kind, actor_type, actor_id, action,
                 resource, decision, record, record_hash, signature, key_id)
             SELECT $1, x.seq, $2, x.kind, x.actor_type, x.actor_id, x.action, x.resource, x.decision,
                    x.record, decode(x.hash, 'hex'), decode(x.sig, 'hex'), $3
             FROM jsonb_to_recordset($4::jsonb) AS x(seq bigint, kind text, actor_type text, actor_id text,
                 action text, resource text, decision text, record text, hash text, sig text)",
            [log.tenant.into(), now.into(), log.key_id.clone().into(), serde_json::Value::Array(rows).into()],
        ))
        .await
        .unwrap();
        su.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO ledger_nodes (tenant_id, level, idx, hash)
             SELECT $1, x.l, x.i, decode(x.h, 'hex') FROM jsonb_to_recordset($2::jsonb) AS x(l smallint, i bigint, h text)",
            [log.tenant.into(), serde_json::Value::Array(nodes).into()],
        ))
        .await
        .unwrap();
        left -= batch;
    }
    let frontier: Vec<u8> = log.tree.frontier_hashes().flatten().copied().collect();
    su.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE ledger_heads SET tree_size = $2, last_hash = $3, frontier = $4 WHERE tenant_id = $1",
        [log.tenant.into(), (log.tree.size() as i64).into(), log.prev.to_vec().into(), frontier.into()],
    ))
    .await
    .unwrap();
}

async fn timed_scan(store: &Store, tenant: Uuid, full: bool) -> (u64, f64) {
    let t = Instant::now();
    let r = store
        .worker()
        .scan_tenant(tenant, full)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.new_count(),
        0,
        "a clean log yields no findings: {:?}",
        r.new
    );
    (r.to_seq - r.from_seq, t.elapsed().as_secs_f64())
}

fn line(what: &str, (records, secs): (u64, f64)) {
    println!(
        "scanner   {what:<44} {records:>9} records in {secs:>7.2} s   {:>8.0} records/s",
        records as f64 / secs
    );
}

pub async fn scanner() {
    let (_, store, su) = super::bench_store().await;

    // BENCH_SCANNER_RECORDS shrinks the big log for a quick check of the program itself.
    let n: u64 = std::env::var("BENCH_SCANNER_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut big = open(&store, &su, "scanner big").await;
    let t = Instant::now();
    grow(&su, &mut big, n).await;
    println!(
        "(wrote {n} signed records in {:.1} s)",
        t.elapsed().as_secs_f64()
    );
    store.ledger().checkpoint(big.tenant).await.unwrap();
    line(
        &format!("full pass, {n}-record log:"),
        timed_scan(&store, big.tenant, true).await,
    );
    grow(&su, &mut big, 10_000).await;
    line(
        &format!("incremental, 10,000 new over {n}:"),
        timed_scan(&store, big.tenant, false).await,
    );

    let mut small = open(&store, &su, "scanner small").await;
    grow(&su, &mut small, 10_000).await;
    timed_scan(&store, small.tenant, true).await;
    grow(&su, &mut small, 10_000).await;
    line(
        "incremental, 10,000 new over 10,000:",
        timed_scan(&store, small.tenant, false).await,
    );
    println!("peak memory of this process: {} MiB", peak_rss_kb() / 1024);
}
