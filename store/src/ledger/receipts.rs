//! Checking a decision receipt against the ledger: the record at that position has that
//! hash, the tenant's key signed it, and — once a signed checkpoint covers it — the
//! record is included in that checkpoint's tree.

use charter_core::keys::verifying_key;
use charter_core::ledger::merkle::{leaf_hash, verify_inclusion};
use charter_core::ledger::record::verify_signature;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{checkpoints, read};
use crate::{Result, StoreError, signing_keys};

/// A receipt as a decision returned it (hex strings).
#[derive(Debug, Clone)]
pub struct ReceiptClaim {
    pub seq: u64,
    pub record_hash: String,
    pub signature: String,
    pub key_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceiptCheck {
    /// True when every check below passed.
    pub valid: bool,
    /// The ledger holds a record at this position with exactly this hash.
    pub record_matches: bool,
    /// The signature verifies with the tenant's key of this key id.
    pub signature_valid: bool,
    /// The latest signed checkpoint covering the record, if one does yet.
    pub checkpoint_tree_size: Option<u64>,
    /// Whether the record's inclusion in that checkpoint's tree verified (`None` while no
    /// checkpoint covers it yet; checkpoints are issued at least every minute).
    pub included_in_checkpoint: Option<bool>,
    /// What failed, in words.
    pub problems: Vec<String>,
    /// The record itself (canonical JSON), when found.
    pub record: Option<Value>,
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

fn hex64(s: &str) -> Option<[u8; 64]> {
    hex::decode(s).ok()?.try_into().ok()
}

impl crate::handles::Ledger<'_> {
    pub async fn verify_receipt(self, tenant: Uuid, claim: ReceiptClaim) -> Result<ReceiptCheck> {
        let hash = hex32(&claim.record_hash)
            .ok_or_else(|| StoreError::Invalid("record_hash: 64 hex digits expected".into()))?;
        let signature = hex64(&claim.signature)
            .ok_or_else(|| StoreError::Invalid("signature: 128 hex digits expected".into()))?;
        let tx = self.tenant_tx(tenant).await?;
        let mut problems = Vec::new();
        let stored = match read::record(&tx, claim.seq).await {
            Ok(r) => Some(r),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let record_matches = stored.as_ref().is_some_and(|r| r.record_hash == hash);
        if !record_matches {
            problems.push(match &stored {
                None => format!("no record at seq {}", claim.seq),
                Some(_) => format!("the record at seq {} has another hash", claim.seq),
            });
        }
        let keys = signing_keys::list_public(&tx).await?;
        let signature_valid = match keys.iter().find(|k| k.key_id == claim.key_id) {
            Some(k) => verifying_key(&k.public_key)
                .map(|vk| verify_signature(&vk, &hash, &signature))
                .unwrap_or(false),
            None => false,
        };
        if !signature_valid {
            problems.push(format!(
                "the signature does not verify with key {}",
                claim.key_id
            ));
        }
        let checkpoint = checkpoints::latest(&tx)
            .await?
            .filter(|c| c.tree_size > claim.seq);
        let included = match &checkpoint {
            Some(c) if record_matches => {
                let proof = read::inclusion_proof(&tx, claim.seq, c.tree_size).await?;
                Some(
                    verify_inclusion(claim.seq, c.tree_size, &leaf_hash(&hash), &proof, &c.root)
                        .is_ok(),
                )
            }
            Some(_) => Some(false),
            None => None,
        };
        if included == Some(false) {
            problems.push("the record is not included in the latest checkpoint".into());
        }
        tx.rollback().await?;
        Ok(ReceiptCheck {
            valid: problems.is_empty(),
            record_matches,
            signature_valid,
            checkpoint_tree_size: checkpoint.map(|c| c.tree_size),
            included_in_checkpoint: included,
            problems,
            record: stored.and_then(|r| serde_json::from_str(r.record.as_deref()?).ok()),
        })
    }
}
