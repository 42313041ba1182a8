use charter_core::engine::provenance::Separation;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RequestReview {
    /// The artifact to review (the review binds to its current digest).
    pub artifact_id: Uuid,
    /// The gate the approval counts for, if any.
    #[serde(default)]
    pub gate: Option<String>,
    /// Ask that the approver act for a different principal than the producer (a gate may
    /// demand this regardless).
    #[serde(default)]
    pub principal_separation: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReviewRequested {
    /// The review, for reviewers (`list_review_requests`, `submit_review`) and for
    /// `await_decision`.
    pub review_id: Uuid,
    /// Always `PENDING_APPROVAL` until a reviewer decides.
    pub decision: String,
    /// Where the request is recorded (seq and record hash).
    pub seq: u64,
    /// The record's hash (hex).
    pub record_hash: String,
}

#[tool_router(router = request_review_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Ask for approval of an artifact at a gate. Humans and reviewer agents who may act
    /// on it see it in `list_review_requests`; wait for the outcome with `await_decision`.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn request_review(
        &self,
        caller: Caller,
        Parameters(p): Parameters<RequestReview>,
    ) -> Result<Json<ReviewRequested>, Refusal> {
        let me = self
            .store()
            .engine()
            .agent_as_party(caller.tenant_id, caller.agent_id)
            .await?;
        let separation = if p.principal_separation {
            Separation::Principal
        } else {
            Separation::Standard
        };
        let (review_id, r) = self
            .store()
            .engine()
            .request_review(caller.tenant_id, me, p.artifact_id, p.gate, separation)
            .await?;
        Ok(Json(ReviewRequested {
            review_id,
            decision: "PENDING_APPROVAL".into(),
            seq: r.seq,
            record_hash: hex::encode(r.record_hash),
        }))
    }
}
