use crate::wire::context::AgentContext;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};

use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[tool_router(router = get_context_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Who am I: the calling agent, its tenant and responsible principal, its scope, its
    /// circuit breaker, what is left of its budgets this cycle, and its open tasks.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn get_context(&self, caller: Caller) -> Result<Json<AgentContext>, Refusal> {
        Ok(Json(
            self.store()
                .engine()
                .agent_context(caller.tenant_id, caller.agent_id)
                .await?
                .into(),
        ))
    }
}
