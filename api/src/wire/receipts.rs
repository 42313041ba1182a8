//! The check of a decision receipt against the ledger (`verify_receipt`).

use charter_store::ledger::receipts as store;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
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

impl From<store::ReceiptCheck> for ReceiptCheck {
    fn from(c: store::ReceiptCheck) -> Self {
        ReceiptCheck {
            valid: c.valid,
            record_matches: c.record_matches,
            signature_valid: c.signature_valid,
            checkpoint_tree_size: c.checkpoint_tree_size,
            included_in_checkpoint: c.included_in_checkpoint,
            problems: c.problems,
            record: c.record,
        }
    }
}
