//! Signed checkpoints: issued on demand and by the worker, never inconsistent with the
//! previous one.

use charter_core::ledger::checkpoint::Checkpoint;
use charter_core::ledger::merkle::{Hash, leaf_hash, verify_consistency};
use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use uuid::Uuid;

use super::append::to_hash;
use super::read::{consistency_proof, fetch_nodes, root};
use crate::signing_keys::open_current;
use crate::{Result, Store, StoreError, TenantTx, tenants};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub tree_size: u64,
    pub root: Hash,
    pub note: String,
    pub key_id: String,
    pub issued_at: DateTime<Utc>,
}

fn from_row(r: &QueryResult) -> Result<StoredCheckpoint> {
    let root: Vec<u8> = r.try_get("", "root_hash")?;
    Ok(StoredCheckpoint {
        tree_size: r.try_get::<i64>("", "tree_size")? as u64,
        root: to_hash(&root)?,
        note: r.try_get("", "note")?,
        key_id: r.try_get("", "key_id")?,
        issued_at: r.try_get("", "issued_at")?,
    })
}

const COLUMNS: &str = "tree_size, root_hash, note, key_id, issued_at";

pub async fn latest(tx: &TenantTx) -> Result<Option<StoredCheckpoint>> {
    tx.one(
        &format!(
            "SELECT {COLUMNS} FROM ledger_checkpoints WHERE tenant_id = $1
             ORDER BY tree_size DESC LIMIT 1"
        ),
        vec![tx.tenant_id().into()],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Stored checkpoints with `from <= tree_size <= to`, oldest first, at most `limit`
/// (the newest of them when there are more).
pub async fn between(
    tx: &TenantTx,
    from: u64,
    to: u64,
    limit: u64,
) -> Result<Vec<StoredCheckpoint>> {
    let mut rows = tx
        .all(
            &format!(
                "SELECT {COLUMNS} FROM ledger_checkpoints
                 WHERE tenant_id = $1 AND tree_size BETWEEN $2 AND $3
                 ORDER BY tree_size DESC LIMIT $4"
            ),
            vec![
                tx.tenant_id().into(),
                (from as i64).into(),
                (to as i64).into(),
                (limit as i64).into(),
            ],
        )
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>>>()?;
    rows.reverse();
    Ok(rows)
}

/// The origin line of a tenant's checkpoints.
pub fn origin(prefix: &str, slug: &str) -> String {
    format!("{prefix}{slug}")
}

/// Issues a checkpoint of the current log unless the latest one already covers it; returns
/// the checkpoint covering the whole log. Before signing, the new tree is proven to extend
/// the previous checkpoint (consistency proof from the stored nodes) and its last leaf is
/// checked against the head: Charter never signs two inconsistent checkpoints.
pub async fn issue(tx: &TenantTx, store: &Store) -> Result<StoredCheckpoint> {
    issue_unless_recent(tx, store, None).await
}

/// As [`issue`], but when the latest checkpoint is younger than `min_age` it is returned
/// even if the log grew since: checkpoints at most that often.
async fn issue_unless_recent(
    tx: &TenantTx,
    store: &Store,
    min_age: Option<std::time::Duration>,
) -> Result<StoredCheckpoint> {
    // Serialise issuers of this tenant (and see a stable head) with the head lock.
    let (tree_size, last_hash) = super::append::lock_head(tx).await?;
    let previous = latest(tx).await?;
    if let Some(p) = &previous {
        let recent = min_age.is_some_and(|age| {
            chrono::Duration::from_std(age).is_ok_and(|age| p.issued_at > chrono::Utc::now() - age)
        });
        if p.tree_size == tree_size || recent {
            return Ok(p.clone());
        }
    }
    let size = tree_size;
    let new_root = root(tx, size).await?;
    if size > 0 {
        let last = charter_core::ledger::merkle::NodeId {
            level: 0,
            index: size - 1,
        };
        let nodes = fetch_nodes(tx, &[last]).await?;
        if nodes.get(&last) != Some(&leaf_hash(&last_hash)) {
            return Err(refuse(
                tx.tenant_id(),
                size,
                "the last leaf does not match the head",
            ));
        }
    }
    if let Some(p) = &previous {
        if p.tree_size > size {
            return Err(refuse(
                tx.tenant_id(),
                size,
                "the log is smaller than its latest checkpoint",
            ));
        }
        let proof = consistency_proof(tx, p.tree_size, size).await?;
        verify_consistency(p.tree_size, size, &p.root, &new_root, &proof).map_err(|e| {
            refuse(
                tx.tenant_id(),
                size,
                &format!("not consistent with checkpoint {}: {e}", p.tree_size),
            )
        })?;
    }
    let tenant = tenants::get(tx).await?;
    let cp = Checkpoint {
        origin: origin(store.origin_prefix(), &tenant.slug),
        size,
        root: new_root,
    };
    let (key_id, key) = open_current(tx, store.master_key()).await?;
    let note = cp.sign(&key);
    drop(key);
    let issued_at = crate::signing_keys::db_now(tx).await?;
    tx.exec(
        "INSERT INTO ledger_checkpoints (tenant_id, tree_size, root_hash, note, key_id, issued_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            tx.tenant_id().into(),
            (size as i64).into(),
            new_root.to_vec().into(),
            note.clone().into(),
            key_id.clone().into(),
            issued_at.into(),
        ],
    )
    .await?;
    Ok(StoredCheckpoint {
        tree_size: size,
        root: new_root,
        note,
        key_id,
        issued_at,
    })
}

fn refuse(tenant: Uuid, size: u64, why: &str) -> StoreError {
    tracing::error!(%tenant, size, why, "refusing to sign a checkpoint");
    StoreError::Internal(format!("refusing to sign checkpoint {size}: {why}"))
}

impl crate::handles::Ledger<'_> {
    /// The tenant's public signing keys, current and retired, with their validity periods.
    pub async fn public_keys(
        self,
        tenant: Uuid,
    ) -> Result<Vec<crate::signing_keys::PublicKeyInfo>> {
        self.read(tenant, |tx| Box::pin(crate::signing_keys::list_public(tx)))
            .await
    }

    /// The checkpoint anyone may read: the latest stored one, or a new one when there is
    /// none yet, or when the log grew and the latest is older than `interval`. However
    /// often it is asked for, a tenant gets at most one new checkpoint per interval; the
    /// worker checkpoints growing logs on the same schedule.
    pub async fn published_checkpoint(
        self,
        tenant_id: Uuid,
        interval: std::time::Duration,
    ) -> Result<StoredCheckpoint> {
        let tx = self.tenant_tx(tenant_id).await?;
        let current = latest(&tx).await?;
        let due = match &current {
            None => true,
            Some(p) => {
                let old = chrono::Duration::from_std(interval)
                    .is_ok_and(|i| p.issued_at <= chrono::Utc::now() - i);
                old && crate::ledger::read::tree_size(&tx).await? > p.tree_size
            }
        };
        let cp = match (current, due) {
            (Some(p), false) => {
                tx.rollback().await?;
                return Ok(p);
            }
            _ => issue_unless_recent(&tx, self.0, Some(interval)).await?,
        };
        tx.commit().await?;
        Ok(cp)
    }

    /// Issues (if the log grew) and returns the checkpoint covering a tenant's whole log.
    pub async fn checkpoint(self, tenant_id: Uuid) -> Result<StoredCheckpoint> {
        let tx = self.tenant_tx(tenant_id).await?;
        let cp = issue(&tx, self.0).await?;
        tx.commit().await?;
        Ok(cp)
    }

    /// The worker's job: a checkpoint for every tenant whose log grew and whose latest
    /// checkpoint is older than `interval`. Returns how many were issued.
    pub async fn issue_due_checkpoints(self, interval: std::time::Duration) -> Result<usize> {
        let rows = self
            .platform_all(
                "SELECT tenant_id FROM charter_ledger_checkpoint_due(make_interval(secs => $1))",
                vec![interval.as_secs_f64().into()],
            )
            .await?;
        let mut issued = 0;
        for row in rows {
            let tenant: Uuid = row.try_get("", "tenant_id")?;
            match self.checkpoint(tenant).await {
                Ok(_) => issued += 1,
                Err(e) => tracing::error!(%tenant, error = %e, "checkpoint failed"),
            }
        }
        Ok(issued)
    }
}
