//! What an agent may know about itself (`get_context`).

use charter_core::engine::breaker::State;
use charter_core::status::{AgentStatus, SubscriptionStatus};
use charter_store::engine::context as store;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::policy::Scope;
use super::{all, words};

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
pub struct AgentContext {
    /// The calling agent.
    pub agent_id: Uuid,
    /// Its name.
    pub agent_name: String,
    /// `active`, `suspended` or `tripped` (breaker open).
    #[schemars(schema_with = "words::agent_status::json")]
    #[schema(schema_with = words::agent_status::openapi)]
    pub agent_status: AgentStatus,
    /// The tenant (organisation) the agent belongs to.
    pub tenant_id: Uuid,
    /// The tenant's slug (its URL name).
    pub tenant_slug: String,
    /// `trialing`, `active`, … — actions are blocked once it has ended.
    #[schemars(schema_with = "words::subscription_status::json")]
    #[schema(schema_with = words::subscription_status::openapi)]
    pub subscription_status: SubscriptionStatus,
    /// The human principal the agent acts for.
    pub responsible_principal_id: Uuid,
    /// The agent's authority.
    pub scope: Scope,
    /// `closed` (normal), `open` (blocked after failures) or `half_open`.
    #[schemars(schema_with = "words::breaker_state::json")]
    #[schema(schema_with = words::breaker_state::openapi)]
    pub breaker_state: State,
    /// Failures reported in a row.
    pub consecutive_failures: i32,
    /// When the current budget cycle began.
    pub cycle_start: DateTime<Utc>,
    /// The cycle's length in seconds.
    pub cycle_secs: i32,
    /// Spend used this cycle.
    pub spend_used: i64,
    /// Dispatches (authorized actions) used this cycle.
    pub dispatches_used: i64,
    /// Spend left this cycle under the agent's own limit (`None`: unlimited).
    pub spend_left: Option<i64>,
    /// Dispatches left this cycle under the agent's own limit (`None`: unlimited).
    pub dispatches_left: Option<i64>,
    /// Delegated tasks assigned to the agent and still open.
    pub open_tasks: Vec<OpenTask>,
}

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
pub struct OpenTask {
    /// The task.
    pub task_id: Uuid,
    /// The most that may be spent under it.
    pub spend_limit: Option<i64>,
    /// What is spent under it so far.
    pub spent: i64,
    /// When it expires if not completed.
    pub deadline: Option<DateTime<Utc>>,
}

impl From<store::OpenTask> for OpenTask {
    fn from(t: store::OpenTask) -> Self {
        OpenTask {
            task_id: t.task_id,
            spend_limit: t.spend_limit,
            spent: t.spent,
            deadline: t.deadline,
        }
    }
}

impl From<store::AgentContext> for AgentContext {
    fn from(c: store::AgentContext) -> Self {
        AgentContext {
            agent_id: c.agent_id,
            agent_name: c.agent_name,
            agent_status: c.agent_status,
            tenant_id: c.tenant_id,
            tenant_slug: c.tenant_slug,
            subscription_status: c.subscription_status,
            responsible_principal_id: c.responsible_principal_id,
            scope: c.scope.into(),
            breaker_state: c.breaker_state,
            consecutive_failures: c.consecutive_failures,
            cycle_start: c.cycle_start,
            cycle_secs: c.cycle_secs,
            spend_used: c.spend_used,
            dispatches_used: c.dispatches_used,
            spend_left: c.spend_left,
            dispatches_left: c.dispatches_left,
            open_tasks: all(c.open_tasks),
        }
    }
}
