use charter_store::ledger::receipts::ReceiptClaim;

use crate::wire::receipts::ReceiptCheck;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct VerifyReceipt {
    /// The receipt's ledger position.
    pub seq: u64,
    /// The receipt's record hash (hex SHA-256).
    pub record_hash: String,
    /// The receipt's Ed25519 signature (hex).
    pub signature: String,
    /// The key id that signed it.
    pub key_id: String,
}

#[tool_router(router = verify_receipt_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Check a receipt from this tenant's ledger: the record at that position has that
    /// hash, the tenant's key signed it, and a signed checkpoint includes it (once one
    /// covers it). Returns each check, what failed, and the record.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn verify_receipt(
        &self,
        caller: Caller,
        Parameters(p): Parameters<VerifyReceipt>,
    ) -> Result<Json<ReceiptCheck>, Refusal> {
        let claim = ReceiptClaim {
            seq: p.seq,
            record_hash: p.record_hash,
            signature: p.signature,
            key_id: p.key_id,
        };
        Ok(Json(
            self.store()
                .ledger()
                .verify_receipt(caller.tenant_id, claim)
                .await?
                .into(),
        ))
    }
}
