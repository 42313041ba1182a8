use crate::wire::engine::Answer;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReportOutcome {
    /// The `authorization_id` of the ALLOWED answer the action ran under.
    pub authorization_id: Uuid,
    /// Whether the action succeeded. Consecutive failures trip the agent's breaker.
    pub success: bool,
    /// What the action actually cost, if it differs from the spend authorized.
    #[serde(default)]
    pub actual_spend: Option<i64>,
    /// A retry with the same key gets the first answer and is never counted twice.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[tool_router(router = report_outcome_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Report how an authorized action went: success or failure (feeds the circuit
    /// breaker) and the actual spend (corrects the budget). Recorded in the ledger.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn report_outcome(
        &self,
        caller: Caller,
        Parameters(r): Parameters<ReportOutcome>,
    ) -> Result<Json<Answer>, Refusal> {
        Ok(Json(
            self.store()
                .engine()
                .report_outcome(
                    caller.tenant_id,
                    caller.agent_id,
                    r.authorization_id,
                    r.success,
                    r.actual_spend,
                    r.idempotency_key,
                )
                .await?
                .into(),
        ))
    }
}
