//! Appending inside one transaction: lock the tenant's head, seal, sign, extend the Merkle
//! tree, write. Gap-free across processes because every appender holds the head row lock
//! until it commits.
//!
//! Round trips are what limit an append, so there are two: one statement locks the head
//! and reads everything a batch needs (size, last hash, Merkle frontier, the database
//! clock, the current sealed key) — in the group commit, the same statement also enters
//! the tenant ([`enter`]); one statement writes the records, the new Merkle nodes and the
//! new head, and the state changes of the work before it when they can wait
//! ([`Deferred`]). Rows travel as one JSON parameter, so the SQL text is fixed and its
//! prepared statement is reused whatever the batch size.

use charter_core::keys::{self, MasterKey};
use charter_core::ledger::merkle::{CompactTree, Hash, NodeId, frontier_ids, leaf_hash};
use charter_core::ledger::record::{GENESIS_PREV_HASH, Record, SealAt, SignedRecord};
use charter_core::ledger::{Actor, Entry};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::Receipt;
use super::writer::Deferred;
use crate::{Result, StoreError, TenantTx};

/// The head of a tenant's log, locked for the rest of the transaction.
#[derive(Debug, Clone)]
pub(crate) struct Locked {
    pub tree_size: u64,
    pub last_hash: Hash,
    frontier: Vec<Hash>,
    now: DateTime<Utc>,
    key_id: String,
    sealed_key: Vec<u8>,
}

/// Creates the head of a new tenant's log and appends its genesis record.
pub(crate) async fn init(
    tx: &TenantTx,
    master: &MasterKey,
    payload: serde_json::Value,
) -> Result<Receipt> {
    tx.exec(
        "INSERT INTO ledger_heads (tenant_id, tree_size, last_hash) VALUES ($1, 0, $2)",
        vec![tx.tenant_id().into(), GENESIS_PREV_HASH.to_vec().into()],
    )
    .await?;
    let genesis = Entry::new("tenant.created", Actor::system()).payload(payload);
    let mut receipts = append_entries(tx, master, vec![genesis]).await?;
    receipts
        .pop()
        .ok_or(StoreError::Internal("genesis not appended".into()))
}

/// Locks the head row (no other reads): for key rotation and checkpoints, which must not
/// interleave with appends.
pub(crate) async fn lock_head(tx: &TenantTx) -> Result<(u64, Hash)> {
    let row = tx
        .one(
            "SELECT tree_size, last_hash FROM ledger_heads WHERE tenant_id = $1 FOR UPDATE",
            vec![tx.tenant_id().into()],
        )
        .await?
        .ok_or(StoreError::NotFound("ledger head"))?;
    let last: Vec<u8> = row.try_get("", "last_hash")?;
    Ok((row.try_get::<i64>("", "tree_size")? as u64, to_hash(&last)?))
}

/// Locks the head and reads everything an append needs, in one round trip. The current
/// key is read under the lock, so a concurrent rotation cannot retire it mid-batch. The
/// SELECT lives once, in `charter_enter_ledger`; entering the tenant the transaction is
/// already in changes nothing.
pub(crate) async fn lock(tx: &TenantTx) -> Result<Locked> {
    head(tx, tx.tenant_id()).await
}

/// Moves the group commit's transaction to `tenant` and locks its head, in one statement
/// (`charter_enter_ledger`: the tenant context, then the head and key SELECT under it).
pub(crate) async fn enter(tx: &mut TenantTx, tenant: Uuid) -> Result<Locked> {
    let locked = head(tx, tenant).await;
    tx.entered(tenant);
    locked
}

async fn head(tx: &TenantTx, tenant: Uuid) -> Result<Locked> {
    let row = tx
        .one(
            "SELECT * FROM charter_enter_ledger($1)",
            vec![tenant.into()],
        )
        .await?
        .ok_or(StoreError::NotFound("ledger head or current signing key"))?;
    let last: Vec<u8> = row.try_get("", "o_last_hash")?;
    let frontier: Vec<u8> = row.try_get("", "o_frontier")?;
    Ok(Locked {
        tree_size: row.try_get::<i64>("", "o_tree_size")? as u64,
        last_hash: to_hash(&last)?,
        frontier: frontier
            .chunks(32)
            .map(to_hash)
            .collect::<Result<Vec<_>>>()?,
        now: row.try_get("", "o_now")?,
        key_id: row.try_get("", "o_key_id")?,
        sealed_key: row.try_get("", "o_sealed_private_key")?,
    })
}

/// Executes a grouped run's writes on their own (something after them reads state).
pub(crate) async fn execute_deferred(tx: &TenantTx, d: Deferred) -> Result<()> {
    let mut values = vec![tx.tenant_id().into()];
    values.extend(d.values);
    tx.exec(&format!("WITH {} SELECT 1", d.sql), values).await?;
    Ok(())
}

/// `sql` with every placeholder but `$1` (the tenant, shared) moved to start at `$first`.
fn renumber(sql: &str, first: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let digits = rest[i + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len() - i - 1, |n| n);
        match rest[i + 1..i + 1 + digits].parse::<usize>() {
            Ok(1) | Err(_) => out.push_str(&rest[i..i + 1 + digits]),
            Ok(n) => out.push_str(&format!("${}", n - 2 + first)),
        }
        rest = &rest[i + 1 + digits..];
    }
    out.push_str(rest);
    out
}

pub(crate) fn to_hash(bytes: &[u8]) -> Result<Hash> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Internal(format!("stored hash has {} bytes", bytes.len())))
}

/// Locks and appends `entries` in order; returns one receipt each. The caller commits.
pub(crate) async fn append_entries(
    tx: &TenantTx,
    master: &MasterKey,
    entries: Vec<Entry>,
) -> Result<Vec<Receipt>> {
    let locked = lock(tx).await?;
    write(tx, master, &locked, entries, None).await
}

#[derive(Serialize)]
struct RecordRow<'a> {
    seq: u64,
    kind: &'a str,
    actor_type: &'a str,
    actor_id: &'a str,
    on_behalf_of: Option<&'a str>,
    action: Option<&'a str>,
    resource: Option<&'a str>,
    initiative: Option<&'a str>,
    gate: Option<&'a str>,
    decision: Option<&'a str>,
    reason: Option<&'a str>,
    record: &'a str,
    record_hash: String,
    signature: String,
}

#[derive(Serialize)]
struct NodeRow {
    level: u8,
    idx: u64,
    hash: String,
}

/// Signs `entries` onto the log whose head this transaction locked ([`lock`] or [`enter`])
/// and stores them; `deferred` writes (see [`Deferred`]) go in the same statement.
pub(crate) async fn write(
    tx: &TenantTx,
    master: &MasterKey,
    locked: &Locked,
    entries: Vec<Entry>,
    deferred: Option<Deferred>,
) -> Result<Vec<Receipt>> {
    if entries.is_empty() {
        if let Some(d) = deferred {
            execute_deferred(tx, d).await?;
        }
        return Ok(Vec::new());
    }
    let mut tree =
        CompactTree::from_frontier(locked.tree_size, &locked.frontier).ok_or_else(|| {
            StoreError::Internal(format!(
                "the stored frontier ({} hashes) does not fit tree size {}",
                locked.frontier.len(),
                locked.tree_size
            ))
        })?;
    // Opened for this batch only; the key zeroizes when dropped below.
    let key = keys::open(
        master,
        &tx.tenant_id().to_string(),
        &locked.key_id,
        &locked.sealed_key,
    )?;
    let mut prev = locked.last_hash;
    let mut signed = Vec::with_capacity(entries.len());
    let mut new_nodes: Vec<(NodeId, Hash)> = Vec::with_capacity(entries.len() * 2);
    for (i, entry) in entries.into_iter().enumerate() {
        let record = Record::seal(
            entry,
            &SealAt {
                tenant_id: tx.tenant_id(),
                seq: locked.tree_size + i as u64,
                recorded_at: locked.now,
                prev_hash: prev,
                key_id: &locked.key_id,
            },
        );
        let s = SignedRecord::hashed(record);
        prev = s.hash;
        new_nodes.extend(tree.push(leaf_hash(&s.hash)));
        signed.push(s);
    }
    SignedRecord::sign_all(&mut signed, &key);
    drop(key);

    let canonical: Vec<&str> = signed
        .iter()
        .map(|s| std::str::from_utf8(&s.canonical))
        .collect::<Result<_, _>>()
        .map_err(|_| StoreError::Internal("canonical JSON is not UTF-8".into()))?;
    let records: Vec<RecordRow> = signed
        .iter()
        .zip(&canonical)
        .map(|(s, text)| {
            let r = &s.record;
            RecordRow {
                seq: r.seq,
                kind: &r.kind,
                actor_type: r.actor.kind.as_str(),
                actor_id: &r.actor.id,
                on_behalf_of: r.on_behalf_of.as_deref(),
                action: r.action.as_deref(),
                resource: r.resource.as_deref(),
                initiative: r.initiative.as_deref(),
                gate: r.gate.as_deref(),
                decision: r.decision.as_deref(),
                reason: r.reason.as_deref(),
                record: text,
                record_hash: hex::encode(s.hash),
                signature: hex::encode(s.signature),
            }
        })
        .collect();
    // Leaves are derived from the records when read (see `read::fetch_nodes`).
    let nodes: Vec<NodeRow> = new_nodes
        .iter()
        .filter(|(id, _)| id.level > 0)
        .map(|(id, h)| NodeRow {
            level: id.level,
            idx: id.index,
            hash: hex::encode(h),
        })
        .collect();
    debug_assert_eq!(
        frontier_ids(tree.size()).len(),
        tree.frontier_hashes().count()
    );
    let frontier: Vec<u8> = tree.frontier_hashes().flatten().copied().collect();
    let json_err = |e: serde_json::Error| StoreError::Internal(format!("ledger rows: {e}"));
    let records = serde_json::to_string(&records).map_err(json_err)?;
    let nodes = serde_json::to_string(&nodes).map_err(json_err)?;
    let mut values: Vec<sea_orm::Value> = vec![
        tx.tenant_id().into(),
        locked.now.into(),
        locked.key_id.clone().into(),
        records.into(),
        nodes.into(),
        (tree.size() as i64).into(),
        prev.to_vec().into(),
        frontier.into(),
    ];
    let mut with = String::new();
    if let Some(d) = deferred {
        with = format!("{},\n", renumber(d.sql, values.len() + 1));
        values.extend(d.values);
    }
    let sql = format!(
        "WITH {with}r AS (
             INSERT INTO ledger_records (tenant_id, seq, recorded_at, kind, actor_type, actor_id,
                 on_behalf_of, action, resource, initiative, gate, decision, reason, record,
                 record_hash, signature, key_id)
             SELECT $1, x.seq, $2, x.kind, x.actor_type, x.actor_id, x.on_behalf_of, x.action,
                    x.resource, x.initiative, x.gate, x.decision, x.reason, x.record,
                    decode(x.record_hash, 'hex'), decode(x.signature, 'hex'), $3
             FROM jsonb_to_recordset($4::jsonb) AS x(seq bigint, kind text, actor_type text,
                 actor_id text, on_behalf_of text, action text, resource text, initiative text,
                 gate text, decision text, reason text, record text, record_hash text,
                 signature text)
         ), n AS (
             INSERT INTO ledger_nodes (tenant_id, level, idx, hash)
             SELECT $1, x.level, x.idx, decode(x.hash, 'hex')
             FROM jsonb_to_recordset($5::jsonb) AS x(level smallint, idx bigint, hash text)
         )
         UPDATE ledger_heads SET tree_size = $6, last_hash = $7, frontier = $8, updated_at = now()
         WHERE tenant_id = $1"
    );
    tx.exec(&sql, values).await?;
    Ok(signed
        .into_iter()
        .map(|s| Receipt {
            tenant_id: tx.tenant_id(),
            seq: s.record.seq,
            record_hash: s.hash,
            signature: s.signature,
            key_id: s.record.key_id,
            recorded_at: s.record.recorded_at,
        })
        .collect())
}

/// The genesis payload of a tenant's log.
pub(crate) fn genesis_payload(slug: &str, name: &str, key_id: &str) -> serde_json::Value {
    json!({"slug": slug, "name": name, "key_id": key_id})
}
