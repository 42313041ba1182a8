use charter_store::engine::reviews::VerdictOutcome;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::mcp::params::Parameters;
use charter_store::engine::verdict::Verdict;

use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SubmitReview {
    /// The review to decide.
    pub review_id: Uuid,
    /// The digest of the artifact you reviewed: it must be the one the review is bound to.
    pub digest: String,
    /// `true` to approve, `false` to reject.
    pub approve: bool,
    /// Why (at most 2,000 characters); recorded with the verdict in the ledger.
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReviewDecided {
    /// The review's status now: `approved` or `rejected`.
    pub status: String,
    /// Where the verdict is recorded (seq and record hash).
    pub seq: u64,
    /// The record's hash (hex).
    pub record_hash: String,
}

#[tool_router(router = submit_review_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Approve or reject a review. Nobody may approve what they produced, what derives
    /// from it, or what a task they delegated produced — such an attempt is refused with
    /// `self_approval` and recorded as a violation.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn submit_review(
        &self,
        caller: Caller,
        Parameters(p): Parameters<SubmitReview>,
    ) -> Result<Json<ReviewDecided>, Refusal> {
        let me = self
            .store()
            .engine()
            .agent_as_party(caller.tenant_id, caller.agent_id)
            .await?;
        let (outcome, r) = self
            .store()
            .engine()
            .submit_verdict(
                caller.tenant_id,
                me,
                p.review_id,
                p.digest,
                Verdict::with_comment(p.approve, p.comment.as_deref())?,
            )
            .await?;
        match outcome {
            VerdictOutcome::Recorded { review_status } => Ok(Json(ReviewDecided {
                status: review_status.to_string(),
                seq: r.seq,
                record_hash: hex::encode(r.record_hash),
            })),
            VerdictOutcome::Refused { why, violation } => Err(Refusal::with_body(&json!({
                "reason": "self_approval",
                "message": why,
                "violation_id": violation,
                "seq": r.seq,
                "record_hash": hex::encode(r.record_hash),
            }))),
        }
    }
}
