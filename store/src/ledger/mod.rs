//! The ledger in PostgreSQL: group-committed appends, stored Merkle nodes, proofs,
//! checkpoints, exports.
//!
//! - [`writer`] — group commit (`Store::append`, `Store::append_with`, grouped work).
//! - [`append`] — one transaction's append: head lock, seal, sign, nodes, head.
//! - [`read`] — records, tree size, roots and proofs from stored nodes.
//! - [`receipts`] — checking a decision receipt against the log and its checkpoints.
//! - [`checkpoints`] — signed checkpoints, consistent by construction.
//! - [`export`] — a self-contained export for `charter verify`.

pub mod append;
pub mod checkpoints;
pub mod export;
pub mod read;
pub mod receipts;
pub mod writer;

pub(crate) use writer::{Deferred, GroupResults, GroupRun, Grouped};

use charter_core::ledger::Hash;
use uuid::Uuid;

/// Proof that a record is durable in the ledger: where it is and how it was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub tenant_id: Uuid,
    pub seq: u64,
    pub record_hash: Hash,
    pub signature: [u8; 64],
    pub key_id: String,
    pub recorded_at: String,
}
