//! Appending inside one transaction: lock the tenant's head, seal, sign, extend the Merkle
//! tree, insert, move the head. Gap-free across processes because every appender holds the
//! head row lock until it commits.

use charter_core::keys::MasterKey;
use charter_core::ledger::merkle::{CompactTree, Hash, NodeId, frontier_ids, leaf_hash};
use charter_core::ledger::record::{GENESIS_PREV_HASH, Record, SealAt, SignedRecord};
use charter_core::ledger::{Actor, Entry};
use sea_orm::Value;
use serde_json::json;

use super::Receipt;
use super::read::fetch_nodes;
use crate::signing_keys::{db_now, open_current};
use crate::{Result, StoreError, TenantTx};

/// The head of a tenant's log, as locked by an appender.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub tree_size: u64,
    pub last_hash: Hash,
}

/// Rows per multi-row INSERT (keeps the bind-parameter count far below PostgreSQL's limit).
const INSERT_CHUNK: usize = 500;

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

/// Locks the head row for the rest of the transaction.
pub(crate) async fn lock_head(tx: &TenantTx) -> Result<Head> {
    let row = tx
        .one(
            "SELECT tree_size, last_hash FROM ledger_heads WHERE tenant_id = $1 FOR UPDATE",
            vec![tx.tenant_id().into()],
        )
        .await?
        .ok_or(StoreError::NotFound("ledger head"))?;
    let size: i64 = row.try_get("", "tree_size")?;
    let last: Vec<u8> = row.try_get("", "last_hash")?;
    Ok(Head {
        tree_size: size as u64,
        last_hash: to_hash(&last)?,
    })
}

pub(crate) fn to_hash(bytes: &[u8]) -> Result<Hash> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Internal(format!("stored hash has {} bytes", bytes.len())))
}

/// Appends `entries` in order; returns one receipt each. The caller commits.
pub(crate) async fn append_entries(
    tx: &TenantTx,
    master: &MasterKey,
    entries: Vec<Entry>,
) -> Result<Vec<Receipt>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let head = lock_head(tx).await?;
    let ids = frontier_ids(head.tree_size);
    let nodes = fetch_nodes(tx, &ids).await?;
    let frontier: Vec<Hash> = ids
        .iter()
        .map(|id| {
            nodes
                .get(id)
                .copied()
                .ok_or_else(|| StoreError::Internal(format!("Merkle node {id:?} is missing")))
        })
        .collect::<Result<_>>()?;
    let mut tree = CompactTree::from_frontier(head.tree_size, &frontier)
        .ok_or_else(|| StoreError::Internal("frontier does not match the tree size".into()))?;
    // The key is opened after the head lock, so a concurrent rotation cannot retire it
    // under us; it zeroizes when this function returns.
    let (key_id, key) = open_current(tx, master).await?;
    let now = db_now(tx).await?;

    let mut prev = head.last_hash;
    let mut signed = Vec::with_capacity(entries.len());
    let mut new_nodes: Vec<(NodeId, Hash)> = Vec::with_capacity(entries.len() * 2);
    for (i, entry) in entries.into_iter().enumerate() {
        let seq = head.tree_size + i as u64;
        let record = Record::seal(
            entry,
            &SealAt {
                tenant_id: tx.tenant_id(),
                seq,
                recorded_at: now,
                prev_hash: prev,
                key_id: &key_id,
            },
        );
        let s = SignedRecord::sign(record, &key);
        prev = s.hash;
        new_nodes.extend(tree.push(leaf_hash(&s.hash)));
        signed.push(s);
    }
    drop(key);

    for chunk in signed.chunks(INSERT_CHUNK) {
        insert_records(tx, chunk).await?;
    }
    for chunk in new_nodes.chunks(INSERT_CHUNK * 2) {
        insert_nodes(tx, chunk).await?;
    }
    tx.exec(
        "UPDATE ledger_heads SET tree_size = $2, last_hash = $3, updated_at = now()
         WHERE tenant_id = $1",
        vec![
            tx.tenant_id().into(),
            (tree.size() as i64).into(),
            prev.to_vec().into(),
        ],
    )
    .await?;
    Ok(signed
        .into_iter()
        .map(|s| Receipt {
            tenant_id: tx.tenant_id(),
            seq: s.record.seq,
            record_hash: s.hash,
            signature: s.signature,
            key_id: s.record.key_id.clone(),
            recorded_at: s.record.recorded_at.clone(),
        })
        .collect())
}

const RECORD_COLUMNS: usize = 17;

async fn insert_records(tx: &TenantTx, rows: &[SignedRecord]) -> Result<()> {
    let mut sql = String::from(
        "INSERT INTO ledger_records (tenant_id, seq, recorded_at, kind, actor_type, actor_id,
             on_behalf_of, action, resource, initiative, gate, decision, reason, record,
             record_hash, signature, key_id) VALUES ",
    );
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * RECORD_COLUMNS);
    for (i, s) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..RECORD_COLUMNS {
            if c > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", i * RECORD_COLUMNS + c + 1));
            if c == 2 {
                sql.push_str("::timestamptz");
            }
        }
        sql.push(')');
        let r = &s.record;
        let canonical = String::from_utf8(s.canonical.clone())
            .map_err(|_| StoreError::Internal("canonical JSON is not UTF-8".into()))?;
        values.extend([
            tx.tenant_id().into(),
            (r.seq as i64).into(),
            r.recorded_at.clone().into(),
            r.kind.clone().into(),
            r.actor.kind.as_str().into(),
            r.actor.id.clone().into(),
            r.on_behalf_of.clone().into(),
            r.action.clone().into(),
            r.resource.clone().into(),
            r.initiative.clone().into(),
            r.gate.clone().into(),
            r.decision.clone().into(),
            r.reason.clone().into(),
            canonical.into(),
            s.hash.to_vec().into(),
            s.signature.to_vec().into(),
            r.key_id.clone().into(),
        ]);
    }
    tx.exec(&sql, values).await?;
    Ok(())
}

async fn insert_nodes(tx: &TenantTx, nodes: &[(NodeId, Hash)]) -> Result<()> {
    let mut sql = String::from("INSERT INTO ledger_nodes (tenant_id, level, idx, hash) VALUES ");
    let mut values: Vec<Value> = Vec::with_capacity(nodes.len() * 3 + 1);
    values.push(tx.tenant_id().into());
    for (i, (id, hash)) in nodes.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "($1,${},${},${})",
            i * 3 + 2,
            i * 3 + 3,
            i * 3 + 4
        ));
        values.extend([
            (id.level as i16).into(),
            (id.index as i64).into(),
            hash.to_vec().into(),
        ]);
    }
    tx.exec(&sql, values).await?;
    Ok(())
}

/// The genesis payload of a tenant's log.
pub(crate) fn genesis_payload(slug: &str, name: &str, key_id: &str) -> serde_json::Value {
    json!({"slug": slug, "name": name, "key_id": key_id})
}
