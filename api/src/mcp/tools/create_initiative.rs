use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateInitiative {
    /// A name for the initiative (e.g. the change or project it tracks).
    pub name: String,
    /// The workflow template: a preset (`startup`, `enterprise`, `regulated`, `release-qa`)
    /// or one of the tenant's own (see `list_workflow_templates`).
    pub template: String,
    /// Risk score 0–100: decides which optional gates apply (mandatory ones always do).
    pub risk: u8,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InitiativeCreated {
    /// The new initiative.
    pub initiative_id: Uuid,
    /// Where it is recorded in the ledger (seq and record hash).
    pub seq: u64,
    /// The record's hash (hex).
    pub record_hash: String,
}

#[tool_router(router = create_initiative_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Start an initiative with a workflow template and a risk score. It begins at the
    /// template's first stage and moves on only by `promote_gate` past satisfied gates.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn create_initiative(
        &self,
        caller: Caller,
        Parameters(p): Parameters<CreateInitiative>,
    ) -> Result<Json<InitiativeCreated>, Refusal> {
        let me = self
            .store()
            .engine()
            .agent_as_party(caller.tenant_id, caller.agent_id)
            .await?;
        let (initiative_id, r) = self
            .store()
            .engine()
            .create_initiative(caller.tenant_id, me, p.name, p.template, p.risk)
            .await?;
        Ok(Json(InitiativeCreated {
            initiative_id,
            seq: r.seq,
            record_hash: hex::encode(r.record_hash),
        }))
    }
}
