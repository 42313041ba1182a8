use charter_store::engine::reviews::Delegation;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DelegateTask {
    /// The agent to direct (your scope must allow directing it).
    pub assignee_agent_id: Uuid,
    /// The task you hold that this one is part of (authority and budget then narrow
    /// further down the chain).
    #[serde(default)]
    pub parent_task_id: Option<Uuid>,
    /// The most that may be spent under this task. It is reserved out of what you have
    /// left (your own spend limit this cycle, and the parent task's): never more than that.
    /// Without it, a sub-task gets what its parent has left; a top-level task reserves
    /// nothing and each action under it must fit in your budget.
    #[serde(default)]
    pub spend_limit: Option<i64>,
    /// The most actions that may be authorized under this task; reserved like the spend.
    #[serde(default)]
    pub dispatch_limit: Option<i64>,
    /// Seconds until the task expires if not completed (1 to 2,592,000: 30 days).
    #[serde(default)]
    pub deadline_secs: Option<u64>,
    /// The initiative the task serves (default: the parent task's).
    #[serde(default)]
    pub initiative_id: Option<Uuid>,
    /// A retry with the same key returns the first task and delegates nothing new.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskDelegated {
    /// The task: the assignee acts under it with `authorize_action { task }`.
    pub task_id: Uuid,
    /// Its spend limit (a parent's remainder when none was given).
    pub spend_limit: Option<i64>,
    /// Its dispatch limit (likewise).
    pub dispatch_limit: Option<i64>,
    /// Where the delegation is recorded (seq and record hash).
    pub seq: u64,
    /// The record's hash (hex).
    pub record_hash: String,
    /// True when this is the task of an earlier request with the same key.
    pub replayed: bool,
}

#[tool_router(router = delegate_task_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Direct another agent. The task's authority is the intersection of your scope and
    /// the assignee's; its budget is split from yours; chains are depth-limited.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn delegate_task(
        &self,
        caller: Caller,
        Parameters(p): Parameters<DelegateTask>,
    ) -> Result<Json<TaskDelegated>, Refusal> {
        let me = self
            .store()
            .engine()
            .agent_as_party(caller.tenant_id, caller.agent_id)
            .await?;
        let d = self
            .store()
            .engine()
            .delegate(
                caller.tenant_id,
                Delegation {
                    parent: p.parent_task_id,
                    spend_limit: p.spend_limit,
                    dispatch_limit: p.dispatch_limit,
                    deadline_secs: p.deadline_secs,
                    initiative: p.initiative_id,
                    idempotency_key: p.idempotency_key,
                    ..Delegation::new(me, p.assignee_agent_id)
                },
            )
            .await?;
        Ok(Json(TaskDelegated {
            task_id: d.task_id,
            spend_limit: d.spend_limit,
            dispatch_limit: d.dispatch_limit,
            seq: d.seq,
            record_hash: d.record_hash,
            replayed: d.replayed,
        }))
    }
}
