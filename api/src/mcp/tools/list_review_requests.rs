use crate::wire::all;
use crate::wire::views::ReviewInfo;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReviewRequests {
    /// Pending reviews you may decide (oldest first, at most 50). Reviews of your own
    /// work — direct, derived or delegated — are never offered.
    pub reviews: Vec<ReviewInfo>,
}

#[tool_router(router = list_review_requests_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Reviews waiting for a decision that you may act on, with separation of duties
    /// already applied.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn list_review_requests(&self, caller: Caller) -> Result<Json<ReviewRequests>, Refusal> {
        Ok(Json(ReviewRequests {
            reviews: all(self
                .store()
                .engine()
                .review_requests(caller.tenant_id, caller.agent_id)
                .await?),
        }))
    }
}
