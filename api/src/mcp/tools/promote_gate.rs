use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use super::get_initiative::InitiativeRef;
use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Serialize, JsonSchema)]
pub struct Promoted {
    /// The stage the initiative is now at.
    pub stage: String,
    /// Where the promotion is recorded (seq and record hash).
    pub seq: u64,
    /// The record's hash (hex).
    pub record_hash: String,
}

#[tool_router(router = promote_gate_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Move an initiative to its next stage, past the gates in front of it. Refused with
    /// `gate_not_passed` (and what is missing) unless every applicable gate is satisfied.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn promote_gate(
        &self,
        caller: Caller,
        Parameters(p): Parameters<InitiativeRef>,
    ) -> Result<Json<Promoted>, Refusal> {
        let me = self
            .store()
            .engine()
            .agent_as_party(caller.tenant_id, caller.agent_id)
            .await?;
        let (stage, r) = self
            .store()
            .engine()
            .promote(caller.tenant_id, me, p.initiative_id)
            .await?;
        Ok(Json(Promoted {
            stage,
            seq: r.seq,
            record_hash: hex::encode(r.record_hash),
        }))
    }
}
