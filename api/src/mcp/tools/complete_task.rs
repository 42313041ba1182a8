use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CompleteTask {
    /// The task you were assigned.
    pub task_id: Uuid,
    /// `true`: completed; `false`: failed.
    pub success: bool,
    /// What came of it (any JSON; secrets are redacted before it is recorded).
    #[serde(default)]
    pub result: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskClosed {
    /// `completed` or `failed`.
    pub status: String,
    /// Where it is recorded (seq and record hash).
    pub seq: u64,
    /// The record's hash (hex).
    pub record_hash: String,
}

#[tool_router(router = complete_task_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Close a task assigned to you, with its result. Only the assignee can, and only
    /// while it is open.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn complete_task(
        &self,
        caller: Caller,
        Parameters(p): Parameters<CompleteTask>,
    ) -> Result<Json<TaskClosed>, Refusal> {
        let r = self
            .store()
            .engine()
            .complete_task(
                caller.tenant_id,
                caller.agent_id,
                p.task_id,
                p.success,
                p.result,
            )
            .await?;
        Ok(Json(TaskClosed {
            status: if p.success { "completed" } else { "failed" }.into(),
            seq: r.seq,
            record_hash: hex::encode(r.record_hash),
        }))
    }
}
