use crate::wire::all;
use crate::wire::views::ViolationInfo;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListViolations {
    /// Violations about this initiative's artifacts; without it, violations about you.
    #[serde(default)]
    pub initiative_id: Option<Uuid>,
    /// Include acknowledged and resolved ones (default: open only).
    #[serde(default)]
    pub include_closed: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Violations {
    /// Newest first, at most 100.
    pub violations: Vec<ViolationInfo>,
}

#[tool_router(router = list_violations_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Findings that concern you or an initiative (e.g. a refused self-approval).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn list_violations(
        &self,
        caller: Caller,
        Parameters(p): Parameters<ListViolations>,
    ) -> Result<Json<Violations>, Refusal> {
        Ok(Json(Violations {
            violations: all(self
                .store()
                .engine()
                .violations_for(
                    caller.tenant_id,
                    caller.agent_id,
                    p.initiative_id,
                    p.include_closed,
                )
                .await?),
        }))
    }
}
