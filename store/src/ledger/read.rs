//! Reading the ledger: records by seq, the tree size, roots and proofs from stored nodes
//! (O(log n) node reads, one query each).

use std::collections::HashMap;

use charter_core::ledger::merkle::{self, Hash, NodeId, collect_nodes, getter};
use sea_orm::QueryResult;

use super::append::to_hash;
use crate::{Result, StoreError, TenantTx};

/// A stored record: its canonical bytes (as hashed), hash, signature and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub seq: u64,
    /// The canonical bytes; None once retention removed the body.
    pub record: Option<String>,
    pub record_hash: Hash,
    pub signature: Vec<u8>,
    pub key_id: String,
}

impl StoredRecord {
    /// The canonical text, or "" once retention removed it.
    pub fn body(&self) -> &str {
        self.record.as_deref().unwrap_or_default()
    }

    /// Whether the stored text is what its hash was made from (false: edited after it was
    /// signed; never show it as valid).
    pub fn hash_matches(&self) -> bool {
        self.record.as_ref().is_some_and(|r| {
            charter_core::ledger::record::hash_bytes(r.as_bytes()) == self.record_hash
        })
    }
}

fn record_from_row(r: &QueryResult) -> Result<StoredRecord> {
    let hash: Vec<u8> = r.try_get("", "record_hash")?;
    Ok(StoredRecord {
        seq: r.try_get::<i64>("", "seq")? as u64,
        record: r.try_get("", "record")?,
        record_hash: to_hash(&hash)?,
        signature: r.try_get("", "signature")?,
        key_id: r.try_get("", "key_id")?,
    })
}

/// Fetches the given complete-subtree nodes in one query.
pub(crate) async fn fetch_nodes(tx: &TenantTx, ids: &[NodeId]) -> Result<HashMap<NodeId, Hash>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // Integers we generated ourselves, inlined as a VALUES list.
    let wanted: Vec<String> = ids
        .iter()
        .map(|id| format!("({}::smallint,{}::bigint)", id.level, id.index))
        .collect();
    // Leaves (level 0) are not stored as nodes: a leaf is SHA-256(0x00 ‖ record hash),
    // computed here from the record itself.
    let rows = tx
        .all(
            &format!(
                "WITH w(level, idx) AS (VALUES {})
                 SELECT n.level, n.idx, n.hash FROM ledger_nodes n
                 JOIN w ON n.level = w.level AND n.idx = w.idx
                 WHERE n.tenant_id = $1 AND w.level > 0
                 UNION ALL
                 SELECT 0::smallint, r.seq, sha256('\\x00'::bytea || r.record_hash) FROM ledger_records r
                 JOIN w ON w.level = 0 AND r.seq = w.idx
                 WHERE r.tenant_id = $1",
                wanted.join(",")
            ),
            vec![tx.tenant_id().into()],
        )
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let level: i16 = r.try_get("", "level")?;
        let idx: i64 = r.try_get("", "idx")?;
        let hash: Vec<u8> = r.try_get("", "hash")?;
        out.insert(
            NodeId {
                level: level as u8,
                index: idx as u64,
            },
            to_hash(&hash)?,
        );
    }
    Ok(out)
}

/// Runs a proof or root builder against the stored nodes: one query for what it needs.
async fn with_nodes<T>(
    tx: &TenantTx,
    build: impl Fn(&mut dyn FnMut(NodeId) -> Hash) -> T,
) -> Result<T> {
    let ids = collect_nodes(|g| build(g));
    let nodes = fetch_nodes(tx, &ids).await?;
    let mut missing = None;
    let out = {
        let mut get = getter(&nodes, &mut missing);
        build(&mut get)
    };
    match missing {
        Some(id) => Err(StoreError::Internal(format!(
            "Merkle node {id:?} is missing"
        ))),
        None => Ok(out),
    }
}

/// The number of records in the tenant's log.
pub async fn tree_size(tx: &TenantTx) -> Result<u64> {
    let row = tx
        .one(
            "SELECT tree_size FROM ledger_heads WHERE tenant_id = $1",
            vec![tx.tenant_id().into()],
        )
        .await?
        .ok_or(StoreError::NotFound("ledger"))?;
    Ok(row.try_get::<i64>("", "tree_size")? as u64)
}

pub async fn root(tx: &TenantTx, size: u64) -> Result<Hash> {
    with_nodes(tx, |mut g| merkle::root(size, &mut g)).await
}

pub async fn inclusion_proof(tx: &TenantTx, seq: u64, size: u64) -> Result<Vec<Hash>> {
    with_nodes(tx, |mut g| merkle::inclusion_proof(seq, size, &mut g))
        .await?
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

pub async fn consistency_proof(tx: &TenantTx, first: u64, second: u64) -> Result<Vec<Hash>> {
    with_nodes(tx, |mut g| merkle::consistency_proof(first, second, &mut g))
        .await?
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

pub async fn record(tx: &TenantTx, seq: u64) -> Result<StoredRecord> {
    let row = tx
        .one(
            "SELECT seq, record, record_hash, signature, key_id FROM ledger_records
             WHERE tenant_id = $1 AND seq = $2",
            vec![tx.tenant_id().into(), (seq as i64).into()],
        )
        .await?
        .ok_or(StoreError::NotFound("ledger record"))?;
    record_from_row(&row)
}

/// Records with `from <= seq <= to`, in seq order, at most `limit`.
pub async fn records_between(
    tx: &TenantTx,
    from: u64,
    to: u64,
    limit: u64,
) -> Result<Vec<StoredRecord>> {
    tx.all(
        "SELECT seq, record, record_hash, signature, key_id FROM ledger_records
         WHERE tenant_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq LIMIT $4",
        vec![
            tx.tenant_id().into(),
            (from as i64).into(),
            (to as i64).into(),
            (limit as i64).into(),
        ],
    )
    .await?
    .iter()
    .map(record_from_row)
    .collect()
}
