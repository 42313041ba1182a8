use charter_store::engine::reviews::Delegation;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

/// The longest deadline a task may be given.
const MAX_DEADLINE_SECS: u64 = 30 * 24 * 3600;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DelegateTask {
    /// The agent to direct (your scope must allow directing it).
    pub assignee_agent_id: Uuid,
    /// The task you hold that this one is part of (authority and budget then narrow
    /// further down the chain).
    #[serde(default)]
    pub parent_task_id: Option<Uuid>,
    /// The most the assignee may spend under this task (never more than a parent has left).
    #[serde(default)]
    pub spend_limit: Option<i64>,
    /// Seconds until the task expires if not completed.
    #[serde(default)]
    pub deadline_secs: Option<u64>,
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
        let deadline = match p.deadline_secs {
            Some(0) => {
                return Err(Refusal::new(
                    "invalid_arguments",
                    "deadline_secs: at least 1",
                ));
            }
            Some(s) if s > MAX_DEADLINE_SECS => {
                return Err(Refusal::new(
                    "invalid_arguments",
                    "deadline_secs: at most 30 days",
                ));
            }
            Some(s) => Some(chrono::Utc::now() + chrono::Duration::seconds(s as i64)),
            None => None,
        };
        let me = self
            .store()
            .agent_as_party(caller.tenant_id, caller.agent_id)
            .await?;
        let d = self
            .store()
            .delegate(
                caller.tenant_id,
                Delegation {
                    delegator: me,
                    assignee: p.assignee_agent_id,
                    parent: p.parent_task_id,
                    spend_limit: p.spend_limit,
                    deadline,
                    idempotency_key: p.idempotency_key,
                },
            )
            .await?;
        Ok(Json(TaskDelegated {
            task_id: d.task_id,
            spend_limit: d.spend_limit,
            seq: d.seq,
            record_hash: d.record_hash,
            replayed: d.replayed,
        }))
    }
}
