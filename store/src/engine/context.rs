//! What an agent may know about itself (`get_context`): who it is and acts for, its scope,
//! its breaker, what is left of its budgets this cycle, and its open tasks.

use charter_core::engine::breaker::State;
use charter_core::policy::Scope;
use charter_core::status::{AgentStatus, SubscriptionStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::state;
use crate::{Result, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct AgentContext {
    /// The calling agent.
    pub agent_id: Uuid,
    /// Its name.
    pub agent_name: String,
    /// `active`, `suspended` or `tripped` (breaker open).
    pub agent_status: AgentStatus,
    /// The tenant (organisation) the agent belongs to.
    pub tenant_id: Uuid,
    /// The tenant's slug (its URL name).
    pub tenant_slug: String,
    /// In force now: `trialing`, `active`, `past_due`, `canceled`, `trial_expired`,
    /// `unlimited` (billing off) — actions are blocked once it has ended.
    pub subscription_status: SubscriptionStatus,
    /// The human principal the agent acts for.
    pub responsible_principal_id: Uuid,
    /// The agent's authority.
    pub scope: Scope,
    /// `closed` (normal), `open` (blocked after failures) or `half_open`.
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

#[derive(Debug, Clone, Serialize)]
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

impl crate::handles::Engine<'_> {
    pub async fn agent_context(self, tenant: Uuid, agent: Uuid) -> Result<AgentContext> {
        let tx = self.tenant_tx(tenant).await?;
        let r = tx
            .one(
                "WITH n AS (SELECT clock_timestamp() AS now)
                 SELECT a.name, a.status, a.responsible_principal_id, t.slug, t.subscription_status,
                        t.trial_ends_at, t.past_due_since, n.now,
                        s.scope, COALESCE(k.state, 'closed') AS breaker_state,
                        COALESCE(k.consecutive_failures, 0) AS consecutive_failures,
                        COALESCE(p.cycle_secs, 86400) AS cycle_secs, c.cycle,
                        COALESCE(u.spend, 0) AS spend, COALESCE(u.dispatches, 0) AS dispatches
                 FROM n, agents a
                 JOIN tenants t ON t.id = a.tenant_id
                 LEFT JOIN tenant_policy p ON p.tenant_id = a.tenant_id
                 CROSS JOIN LATERAL (
                     SELECT to_timestamp(floor(extract(epoch FROM n.now) / COALESCE(p.cycle_secs, 86400))
                                         * COALESCE(p.cycle_secs, 86400)) AS cycle
                 ) c
                 LEFT JOIN agent_scopes s ON s.tenant_id = a.tenant_id AND s.agent_id = a.id
                 LEFT JOIN breakers k ON k.tenant_id = a.tenant_id AND k.agent_id = a.id
                 LEFT JOIN budget_usage u ON u.tenant_id = a.tenant_id AND u.subject = a.id::text
                                          AND u.cycle_start = c.cycle
                 WHERE a.tenant_id = $1 AND a.id = $2",
                vec![tenant.into(), agent.into()],
            )
            .await?
            .ok_or(StoreError::NotFound("agent"))?;
        let scope: Scope = match r.try_get::<Option<Value>>("", "scope")? {
            Some(v) => serde_json::from_value(v)
                .map_err(|e| StoreError::Internal(format!("stored scope: {e}")))?,
            None => Scope::default(),
        };
        let tasks = tx
            .all(
                "SELECT id, spend_limit, spent, deadline FROM tasks
                 WHERE tenant_id = $1 AND assignee_agent = $2 AND status = 'open'
                 ORDER BY created_at LIMIT 100",
                vec![tenant.into(), agent.into()],
            )
            .await?;
        tx.rollback().await?;
        let spend: i64 = r.try_get("", "spend")?;
        let dispatches: i64 = r.try_get("", "dispatches")?;
        Ok(AgentContext {
            agent_id: agent,
            agent_name: r.try_get("", "name")?,
            agent_status: state(&r, "status")?,
            tenant_id: tenant,
            tenant_slug: r.try_get("", "slug")?,
            // The state in force now, as decisions see it.
            subscription_status: self
                .billing_setup()
                .subscription(
                    state(&r, "subscription_status")?,
                    r.try_get("", "trial_ends_at")?,
                    r.try_get("", "past_due_since")?,
                )
                .status_at(r.try_get("", "now")?),
            responsible_principal_id: r.try_get("", "responsible_principal_id")?,
            spend_left: scope.spend_limit.map(|l| (l - spend).max(0)),
            dispatches_left: scope.dispatch_limit.map(|l| (l - dispatches).max(0)),
            scope,
            breaker_state: state(&r, "breaker_state")?,
            consecutive_failures: r.try_get("", "consecutive_failures")?,
            cycle_start: r.try_get("", "cycle")?,
            cycle_secs: r.try_get("", "cycle_secs")?,
            spend_used: spend,
            dispatches_used: dispatches,
            open_tasks: tasks
                .iter()
                .map(|t| {
                    Ok(OpenTask {
                        task_id: t.try_get("", "id")?,
                        spend_limit: t.try_get("", "spend_limit")?,
                        spent: t.try_get("", "spent")?,
                        deadline: t.try_get("", "deadline")?,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }
}
