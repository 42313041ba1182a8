use crate::wire::policy::Scope;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RequestScopeChange {
    /// The whole scope the agent asks to have (it replaces the current one if approved).
    pub scope: Scope,
    /// Why the agent needs it, for the principal who decides.
    pub reason: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ScopeChangeRequested {
    /// The request, for the principal to approve or reject.
    pub request_id: Uuid,
    /// Always `PENDING_APPROVAL`: an agent can never widen its own scope.
    pub decision: String,
    /// Where the request is recorded in the ledger.
    pub seq: u64,
    /// The record's hash (hex).
    pub record_hash: String,
}

#[tool_router(router = request_scope_change_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Ask for more (or different) authority. Nothing changes until a principal with
    /// authority (owner or admin) approves; the request and the decision are recorded.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn request_scope_change(
        &self,
        caller: Caller,
        Parameters(p): Parameters<RequestScopeChange>,
    ) -> Result<Json<ScopeChangeRequested>, Refusal> {
        let (request_id, receipt) = self
            .store()
            .engine()
            .request_scope_change(caller.tenant_id, caller.agent_id, p.scope.into(), p.reason)
            .await?;
        Ok(Json(ScopeChangeRequested {
            request_id,
            decision: "PENDING_APPROVAL".into(),
            seq: receipt.seq,
            record_hash: hex::encode(receipt.record_hash),
        }))
    }
}
