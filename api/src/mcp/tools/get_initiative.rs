use crate::wire::views::InitiativeView;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct InitiativeRef {
    /// The initiative.
    pub initiative_id: Uuid,
}

#[tool_router(router = get_initiative_router, vis = "pub(crate)")]
impl CharterMcp {
    /// An initiative: its stage, the gates ahead and what they still need, the gates
    /// passed, a scorecard (artifacts, reviews, evidence, open violations) and its recent
    /// history from the ledger.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn get_initiative(
        &self,
        caller: Caller,
        Parameters(p): Parameters<InitiativeRef>,
    ) -> Result<Json<InitiativeView>, Refusal> {
        Ok(Json(
            self.store()
                .engine()
                .initiative_view(caller.tenant_id, p.initiative_id)
                .await?
                .into(),
        ))
    }
}
