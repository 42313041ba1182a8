use crate::wire::engine::{ActionRequest, Answer, Decision};
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[tool_router(router = authorize_action_router, vis = "pub(crate)")]
impl CharterMcp {
    /// The pre-execution check: call it before every consequential action and act only on
    /// ALLOWED. The answer carries a signed receipt (ledger seq, record hash, signature,
    /// key id). BLOCKED comes back as an error result with a machine-readable `reason`;
    /// PENDING_APPROVAL names the review to wait for with `await_decision`. Retries with
    /// the same `idempotency_key` get the first answer and are never counted twice.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn authorize_action(
        &self,
        caller: Caller,
        Parameters(req): Parameters<ActionRequest>,
    ) -> Result<Json<Answer>, Refusal> {
        let answer = self
            .store()
            .engine()
            .authorize(caller.tenant_id, caller.agent_id, req.into())
            .await?;
        let answer = Answer::from(answer);
        if matches!(answer.decision, Decision::Blocked { .. }) {
            return Err(Refusal::with_body(&answer));
        }
        Ok(Json(answer))
    }
}
