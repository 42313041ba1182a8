use crate::wire::views::GateCheck;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};

use super::get_initiative::InitiativeRef;
use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[tool_router(router = check_gates_router, vis = "pub(crate)")]
impl CharterMcp {
    /// What stands between an initiative and its next stage: each gate that applies, the
    /// approvals and evidence it needs, what is missing, and whether promotion would pass.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn check_gates(
        &self,
        caller: Caller,
        Parameters(p): Parameters<InitiativeRef>,
    ) -> Result<Json<GateCheck>, Refusal> {
        Ok(Json(
            self.store()
                .engine()
                .check_gates(caller.tenant_id, p.initiative_id)
                .await?
                .into(),
        ))
    }
}
