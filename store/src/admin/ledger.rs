//! The ledger as an auditor reads it through the API: one entry with everything needed to
//! check it offline (canonical record, hash, signature, key, and an inclusion proof into a
//! signed checkpoint), the checkpoints issued, and consistency proofs between tree sizes.

use charter_core::ledger::merkle::Hash;
use uuid::Uuid;

use crate::ledger::checkpoints::{self, StoredCheckpoint};
use crate::ledger::read::{self, StoredRecord};
use crate::{Result, StoreError};

/// A record with its proof of inclusion in `checkpoint`.
pub struct ProvenEntry {
    pub record: StoredRecord,
    pub checkpoint: StoredCheckpoint,
    pub inclusion_proof: Vec<Hash>,
}

impl crate::handles::Ledger<'_> {
    /// Record `seq` and its inclusion proof into the checkpoint covering the whole log
    /// (issued now if the log grew since the last one).
    pub async fn ledger_entry(self, tenant: Uuid, seq: u64) -> Result<ProvenEntry> {
        let tx = self.tenant_tx(tenant).await?;
        let record = read::record(&tx, seq).await?;
        let latest = checkpoints::latest(&tx).await?;
        tx.rollback().await?;
        let checkpoint = match latest {
            Some(c) if c.tree_size > seq => c,
            _ => self.checkpoint(tenant).await?,
        };
        let tx = self.tenant_tx(tenant).await?;
        let proof = read::inclusion_proof(&tx, seq, checkpoint.tree_size).await?;
        tx.rollback().await?;
        Ok(ProvenEntry {
            record,
            checkpoint,
            inclusion_proof: proof,
        })
    }

    /// Checkpoints with tree size below `before` (all when `None`), newest first.
    pub async fn checkpoints(
        self,
        tenant: Uuid,
        before: Option<u64>,
        limit: u32,
    ) -> Result<(Vec<StoredCheckpoint>, bool)> {
        let limit = u64::from(limit.clamp(1, 200));
        let to = before.map_or(i64::MAX as u64, |b| b.saturating_sub(1));
        let tx = self.tenant_tx(tenant).await?;
        let mut rows = checkpoints::between(&tx, 0, to, limit + 1).await?;
        tx.rollback().await?;
        rows.reverse();
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        Ok((rows, more))
    }

    /// The RFC 6962 consistency proof from tree size `first` to `second` (both at most the
    /// current size, `first <= second`), with the roots of both.
    pub async fn consistency(
        self,
        tenant: Uuid,
        first: u64,
        second: u64,
    ) -> Result<(Hash, Hash, Vec<Hash>)> {
        let tx = self.tenant_tx(tenant).await?;
        let size = read::tree_size(&tx).await?;
        if first > second || second > size {
            return Err(StoreError::Invalid(format!(
                "first, second: need first <= second <= {size} (the current tree size)"
            )));
        }
        let proof = read::consistency_proof(&tx, first, second).await?;
        let a = read::root(&tx, first).await?;
        let b = read::root(&tx, second).await?;
        tx.rollback().await?;
        Ok((a, b, proof))
    }
}
