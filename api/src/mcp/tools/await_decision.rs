use std::time::Duration;

use charter_store::engine::views::DecisionState;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

/// The longest one call waits; call again to keep waiting.
const MAX_WAIT_SECS: u64 = 30;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AwaitDecision {
    /// The review (`request_review`) or the approval (`review_id` of a PENDING_APPROVAL
    /// answer from `authorize_action`) to wait for.
    pub review_id: Uuid,
    /// How long to wait at most, in seconds (default 20, at most 30).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

#[tool_router(router = await_decision_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Wait, for a bounded time, until a pending review or approval is decided. Returns
    /// its state either way; while `decided` is false, call again.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn await_decision(
        &self,
        caller: Caller,
        Parameters(p): Parameters<AwaitDecision>,
    ) -> Result<Json<DecisionState>, Refusal> {
        let wait = Duration::from_secs(p.timeout_secs.unwrap_or(20).min(MAX_WAIT_SECS));
        let until = tokio::time::Instant::now() + wait;
        loop {
            let state = self
                .store()
                .decision_state(caller.tenant_id, p.review_id)
                .await?;
            if state.decided || tokio::time::Instant::now() >= until {
                return Ok(Json(state));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
