//! What a run of decisions needs to know, read in one statement: the tenant (subscription,
//! limits and usage), each acting agent (scope limits, breaker, usage, reservations), each
//! task chain acted under with every delegating agent, the gates and approvals of each
//! request, and what an idempotency key was first used for. The rows become
//! `charter_core::engine::decide::Facts`; deciding is then pure.

use std::collections::HashMap;

use charter_core::engine::breaker::{Breaker, DEFAULT_COOLDOWN_SECS, DEFAULT_THRESHOLD, State};
use charter_core::engine::budget::{Amount, Budget, Limits};
use charter_core::engine::decide::{AgentFacts, ApprovalFacts, Delegator, Facts, TaskFacts};
use charter_core::status::{ReviewStatus, SubscriptionStatus};
use chrono::{DateTime, Duration, Utc};
use sea_orm::QueryResult;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::billing::BillingSetup;
use crate::{Result, StoreError, TenantTx};

/// The read, for every request of a run (the tenant's columns repeat on each row). `$2`
/// is the run's requests ([`Query`]).
pub(super) const READ: &str = "
WITH n AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS now),
t AS (
    SELECT n.now, t.subscription_status, t.trial_ends_at, t.past_due_since, t.plan,
           m.month AS usage_month, COALESCE(du.decisions, 0) AS month_decisions,
           COALESCE(p.version, 0) AS version,
           p.spend_limit AS tenant_spend_limit, p.dispatch_limit AS tenant_dispatch_limit, c.cycle,
           COALESCE(ut.spend, 0) AS tenant_spend, COALESCE(ut.dispatches, 0) AS tenant_dispatches
    FROM n, tenants t
    LEFT JOIN tenant_policy p ON p.tenant_id = t.id
    CROSS JOIN LATERAL (SELECT charter_budget_cycle(n.now, p.cycle_secs) AS cycle) c
    CROSS JOIN LATERAL (SELECT charter_usage_month(n.now) AS month) m
    LEFT JOIN budget_usage ut ON ut.tenant_id = t.id AND ut.subject = 'tenant' AND ut.cycle_start = c.cycle
    LEFT JOIN decision_usage du ON du.tenant_id = t.id AND du.month = m.month
    WHERE t.id = $1
),
q AS (
    SELECT * FROM jsonb_to_recordset($2::jsonb)
        AS q(i int, agent_id uuid, action text, resource_type text, resource_id text,
             initiative uuid, idem text, task uuid, digest text)
)
SELECT q.i, t.*, a.id IS NOT NULL AS found, a.name, a.status, a.responsible, a.spend_limit,
       a.dispatch_limit, a.state, a.consecutive_failures, a.threshold, a.cooldown_secs,
       a.opened_at, a.r_spend, a.r_dispatches,
       COALESCE(ua.spend, 0) AS used_spend, COALESCE(ua.dispatches, 0) AS used_dispatches,
       (SELECT count(*) FROM action_gates g
        WHERE g.tenant_id = $1 AND g.action = q.action AND g.resource_type = q.resource_type
          AND NOT EXISTS (SELECT 1 FROM gate_passes p
                          WHERE p.tenant_id = $1 AND p.initiative_id = q.initiative AND p.gate = g.gate)
       ) AS missing_gates,
       x.needs_approval,
       CASE WHEN x.needs_approval THEN (
           SELECT jsonb_agg(jsonb_build_object('id', p.id, 'status', p.status,
                                               'uses_left', p.uses_left, 'expires_at', p.expires_at)
                            ORDER BY p.requested_at DESC)
           FROM action_approvals p
           WHERE p.tenant_id = $1 AND p.agent_id = q.agent_id AND p.action = q.action
             AND p.resource_type = q.resource_type AND p.resource_id = q.resource_id
             AND p.args_digest = q.digest AND p.status <> 'rejected'
       ) END AS approvals,
       k.id IS NOT NULL AS seen_key, k.request_digest AS seen_digest,
       CASE WHEN q.task IS NOT NULL THEN (
           WITH RECURSIVE c(id, parent_id, lvl) AS (
               SELECT y.id, y.parent_id, 0 FROM tasks y WHERE y.tenant_id = $1 AND y.id = q.task
               UNION ALL
               SELECT y.id, y.parent_id, c.lvl + 1 FROM tasks y JOIN c ON y.id = c.parent_id
               WHERE y.tenant_id = $1 AND c.lvl < 16)
           SELECT jsonb_agg(jsonb_build_object(
                      'task', to_jsonb(et), 'delegator', to_jsonb(ea),
                      'used_spend', COALESCE(u.spend, 0), 'used_dispatches', COALESCE(u.dispatches, 0))
                  ORDER BY c.lvl)
           FROM c JOIN engine_tasks et ON et.tenant_id = $1 AND et.id = c.id
           LEFT JOIN engine_agents ea
               ON et.delegator_type = 'agent' AND ea.tenant_id = $1 AND ea.id = et.delegator_id
           LEFT JOIN budget_usage u ON ea.id IS NOT NULL AND u.tenant_id = $1
               AND u.subject = ea.id::text AND u.cycle_start = t.cycle
       ) END AS chain
FROM q CROSS JOIN t
LEFT JOIN engine_agents a ON a.tenant_id = $1 AND a.id = q.agent_id
LEFT JOIN budget_usage ua ON ua.tenant_id = $1 AND ua.subject = q.agent_id::text AND ua.cycle_start = t.cycle
LEFT JOIN authorizations k ON q.idem IS NOT NULL AND k.tenant_id = $1 AND k.agent_id = q.agent_id
    AND k.idempotency_key = q.idem
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT 1 FROM action_approval_rules r
                   WHERE r.tenant_id = $1 AND r.action = q.action AND r.resource_type = q.resource_type
    ) AS needs_approval
) x
ORDER BY q.i";

/// One request of the run, as the read takes it.
#[derive(Serialize)]
pub(super) struct Query<'a> {
    pub i: usize,
    pub agent_id: Uuid,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub initiative: Option<Uuid>,
    pub idem: Option<&'a str>,
    pub task: Option<Uuid>,
    /// The arguments' digest (approvals are bound to it).
    pub digest: &'a str,
}

/// An agent as `engine_agents` shows it, with its use of the current cycle.
#[derive(Deserialize)]
struct AgentRow {
    id: Uuid,
    name: String,
    status: String,
    responsible: Uuid,
    spend_limit: Option<i64>,
    dispatch_limit: Option<i64>,
    state: Option<String>,
    consecutive_failures: Option<i32>,
    threshold: Option<i32>,
    cooldown_secs: Option<i32>,
    opened_at: Option<DateTime<Utc>>,
    r_spend: i64,
    r_dispatches: i64,
    #[serde(default)]
    used_spend: i64,
    #[serde(default)]
    used_dispatches: i64,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("stored {what}: {e}"))
}

impl AgentRow {
    fn from_row(r: &QueryResult, id: Uuid) -> Result<AgentRow> {
        Ok(AgentRow {
            id,
            name: r.try_get("", "name")?,
            status: r.try_get("", "status")?,
            responsible: r.try_get("", "responsible")?,
            spend_limit: r.try_get("", "spend_limit")?,
            dispatch_limit: r.try_get("", "dispatch_limit")?,
            state: r.try_get("", "state")?,
            consecutive_failures: r.try_get("", "consecutive_failures")?,
            threshold: r.try_get("", "threshold")?,
            cooldown_secs: r.try_get("", "cooldown_secs")?,
            opened_at: r.try_get("", "opened_at")?,
            r_spend: r.try_get("", "r_spend")?,
            r_dispatches: r.try_get("", "r_dispatches")?,
            used_spend: r.try_get("", "used_spend")?,
            used_dispatches: r.try_get("", "used_dispatches")?,
        })
    }

    fn facts(self) -> Result<AgentFacts> {
        let breaker = match self.state {
            Some(state) => Breaker {
                state: State::parse(&state).ok_or_else(|| corrupt("breaker state", &state))?,
                consecutive_failures: self.consecutive_failures.unwrap_or(0).max(0) as u32,
                threshold: self.threshold.unwrap_or(DEFAULT_THRESHOLD as i32).max(1) as u32,
                cooldown: Duration::seconds(i64::from(
                    self.cooldown_secs.unwrap_or(DEFAULT_COOLDOWN_SECS as i32),
                )),
                opened_at: self.opened_at,
            },
            None => Breaker::new(DEFAULT_THRESHOLD, Duration::seconds(DEFAULT_COOLDOWN_SECS)),
        };
        Ok(AgentFacts {
            status: self
                .status
                .parse()
                .map_err(|e| corrupt("agent status", e))?,
            name: self.name,
            responsible: self.responsible,
            breaker,
            budget: Budget {
                limits: Limits {
                    spend: self.spend_limit,
                    dispatches: self.dispatch_limit,
                },
                used: Amount {
                    spend: self.used_spend,
                    dispatches: self.used_dispatches,
                },
                reserved: Amount {
                    spend: self.r_spend,
                    dispatches: self.r_dispatches,
                },
            },
        })
    }
}

/// A task as `engine_tasks` shows it.
#[derive(Deserialize)]
struct TaskRow {
    id: Uuid,
    parent_id: Option<Uuid>,
    #[serde(default)]
    initiative_id: Option<Uuid>,
    delegator_type: String,
    delegator_id: Uuid,
    assignee_agent: Uuid,
    status: String,
    deadline: Option<DateTime<Utc>>,
    spend_limit: Option<i64>,
    dispatch_limit: Option<i64>,
    spent: i64,
    dispatched: i64,
    r_spend: i64,
    r_dispatches: i64,
}

impl TaskRow {
    fn facts(self) -> Result<TaskFacts> {
        Ok(TaskFacts {
            id: self.id,
            parent: self.parent_id,
            delegator: match self.delegator_type.as_str() {
                "agent" => Delegator::Agent(self.delegator_id),
                "principal" => Delegator::Principal(self.delegator_id),
                other => return Err(corrupt("delegator type", other)),
            },
            assignee: self.assignee_agent,
            status: self.status.parse().map_err(|e| corrupt("task status", e))?,
            deadline: self.deadline,
            budget: Budget {
                limits: Limits {
                    spend: self.spend_limit,
                    dispatches: self.dispatch_limit,
                },
                used: Amount {
                    spend: self.spent,
                    dispatches: self.dispatched,
                },
                reserved: Amount {
                    spend: self.r_spend,
                    dispatches: self.r_dispatches,
                },
            },
        })
    }
}

#[derive(Deserialize)]
struct ChainLink {
    task: TaskRow,
    delegator: Option<AgentRow>,
    used_spend: i64,
    used_dispatches: i64,
}

#[derive(Deserialize)]
struct ApprovalRow {
    id: Uuid,
    status: String,
    uses_left: Option<i32>,
    expires_at: Option<DateTime<Utc>>,
}

/// Per request: what only it needs.
pub(super) struct RequestRow {
    pub found: bool,
    pub missing_gates: u32,
    pub needs_approval: bool,
    /// The digest of the request an idempotency key was first used for (`Some(None)`: a
    /// key stored before digests were kept).
    pub seen: Option<Option<String>>,
}

/// Turns the read's rows into the run's facts and each request's own part. `queries` are
/// the requests in the rows' order.
pub(super) fn gather(
    rows: &[QueryResult],
    queries: &[Query],
    billing: &BillingSetup,
) -> Result<(Facts, Vec<RequestRow>)> {
    let first = rows.first().ok_or(StoreError::NotFound("tenant"))?;
    if rows.len() != queries.len() {
        return Err(StoreError::Internal(
            "decision rows do not match the requests".into(),
        ));
    }
    let subscription: String = first.try_get("", "subscription_status")?;
    let status = SubscriptionStatus::parse(&subscription)
        .ok_or_else(|| corrupt("subscription status", &subscription))?;
    let mut facts = Facts::new(
        first.try_get("", "now")?,
        billing.subscription(
            status,
            first.try_get("", "trial_ends_at")?,
            first.try_get("", "past_due_since")?,
        ),
        Budget {
            limits: Limits {
                spend: first.try_get("", "tenant_spend_limit")?,
                dispatches: first.try_get("", "tenant_dispatch_limit")?,
            },
            used: Amount {
                spend: first.try_get("", "tenant_spend")?,
                dispatches: first.try_get("", "tenant_dispatches")?,
            },
            reserved: Amount::default(),
        },
    );
    let plan: String = first.try_get("", "plan")?;
    facts.quota = billing.quota(&plan, first.try_get("", "month_decisions")?);
    let mut own = Vec::with_capacity(rows.len());
    let mut approvals: HashMap<Uuid, ApprovalFacts> = HashMap::new();
    for (r, q) in rows.iter().zip(queries) {
        let found: bool = r.try_get("", "found")?;
        if found && !facts.agents.contains_key(&q.agent_id) {
            let row = AgentRow::from_row(r, q.agent_id)?;
            facts.agents.insert(q.agent_id, row.facts()?);
        }
        if let Some(chain) = r.try_get::<Option<serde_json::Value>>("", "chain")? {
            let links: Vec<ChainLink> =
                serde_json::from_value(chain).map_err(|e| corrupt("task chain", e))?;
            for mut link in links {
                if let Some(mut d) = link.delegator.take()
                    && !facts.agents.contains_key(&d.id)
                {
                    (d.used_spend, d.used_dispatches) = (link.used_spend, link.used_dispatches);
                    facts.agents.insert(d.id, d.facts()?);
                }
                let id = link.task.id;
                if let std::collections::hash_map::Entry::Vacant(e) = facts.tasks.entry(id) {
                    e.insert(link.task.facts()?);
                }
            }
        }
        if let Some(list) = r.try_get::<Option<serde_json::Value>>("", "approvals")? {
            let list: Vec<ApprovalRow> =
                serde_json::from_value(list).map_err(|e| corrupt("approvals", e))?;
            for a in list {
                approvals.entry(a.id).or_insert(ApprovalFacts {
                    id: a.id,
                    agent: q.agent_id,
                    action: q.action.to_string(),
                    resource_type: q.resource_type.to_string(),
                    resource_id: q.resource_id.to_string(),
                    digest: q.digest.to_string(),
                    status: ReviewStatus::parse(&a.status)
                        .ok_or_else(|| corrupt("approval status", &a.status))?,
                    uses_left: a.uses_left,
                    expires_at: a.expires_at,
                });
            }
        }
        let seen = match r.try_get::<bool>("", "seen_key")? {
            true => Some(r.try_get::<Option<String>>("", "seen_digest")?),
            false => None,
        };
        own.push(RequestRow {
            found,
            missing_gates: r
                .try_get::<i64>("", "missing_gates")?
                .clamp(0, i64::from(u32::MAX)) as u32,
            needs_approval: r.try_get("", "needs_approval")?,
            seen,
        });
    }
    // Newest first, as each request's list was.
    let mut approvals: Vec<ApprovalFacts> = approvals.into_values().collect();
    approvals.sort_by_key(|a| std::cmp::Reverse(a.id));
    facts.approvals = approvals;
    Ok((facts, own))
}

/// An agent's facts now, with its use of the current cycle (outside a run of decisions:
/// for a delegation, under the head lock too). `None` if there is no such agent.
pub(crate) async fn agent_now(tx: &TenantTx, agent: Uuid) -> Result<Option<AgentFacts>> {
    let Some(r) = tx
        .one(
            "SELECT to_jsonb(ea) || jsonb_build_object('used_spend', COALESCE(u.spend, 0),
                                                       'used_dispatches', COALESCE(u.dispatches, 0)) AS agent
             FROM engine_agents ea
             LEFT JOIN tenant_policy p ON p.tenant_id = ea.tenant_id
             LEFT JOIN budget_usage u ON u.tenant_id = ea.tenant_id AND u.subject = ea.id::text
                 AND u.cycle_start = charter_budget_cycle(clock_timestamp(), p.cycle_secs)
             WHERE ea.tenant_id = $1 AND ea.id = $2",
            vec![tx.tenant_id().into(), agent.into()],
        )
        .await?
    else {
        return Ok(None);
    };
    let row: AgentRow =
        serde_json::from_value(r.try_get("", "agent")?).map_err(|e| corrupt("agent", e))?;
    row.facts().map(Some)
}

/// A task and every task above it, nearest first, with the database's clock (for
/// deadlines) and each task's initiative. Empty if there is no such task.
pub(crate) async fn chain_now(
    tx: &TenantTx,
    task: Uuid,
) -> Result<(DateTime<Utc>, Vec<(TaskFacts, Option<Uuid>)>)> {
    let rows = tx
        .all(
            "WITH RECURSIVE c(id, parent_id, lvl) AS (
                 SELECT y.id, y.parent_id, 0 FROM tasks y WHERE y.tenant_id = $1 AND y.id = $2
                 UNION ALL
                 SELECT y.id, y.parent_id, c.lvl + 1 FROM tasks y JOIN c ON y.id = c.parent_id
                 WHERE y.tenant_id = $1 AND c.lvl < 16)
             SELECT to_jsonb(et) AS task, clock_timestamp() AS now
             FROM c JOIN engine_tasks et ON et.tenant_id = $1 AND et.id = c.id ORDER BY c.lvl",
            vec![tx.tenant_id().into(), task.into()],
        )
        .await?;
    let now = match rows.first() {
        Some(r) => r.try_get("", "now")?,
        None => Utc::now(),
    };
    let chain = rows
        .iter()
        .map(|r| {
            let t: TaskRow =
                serde_json::from_value(r.try_get("", "task")?).map_err(|e| corrupt("task", e))?;
            let initiative = t.initiative_id;
            Ok((t.facts()?, initiative))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((now, chain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use charter_core::status::{AgentStatus, TaskStatus};

    #[test]
    fn a_chain_link_parses_as_the_views_show_it() {
        let v = serde_json::json!([{
            "task": {"tenant_id": Uuid::nil(), "id": Uuid::nil(), "parent_id": null,
                     "delegator_type": "agent", "delegator_id": Uuid::nil(),
                     "assignee_agent": Uuid::nil(), "status": "open", "deadline": null,
                     "spend_limit": 300, "dispatch_limit": null, "spent": 10, "dispatched": 1,
                     "r_spend": 0, "r_dispatches": 0},
            "delegator": {"tenant_id": Uuid::nil(), "id": Uuid::nil(), "name": "a",
                          "status": "active", "responsible": Uuid::nil(), "spend_limit": 1000,
                          "dispatch_limit": null, "state": null, "consecutive_failures": null,
                          "threshold": null, "cooldown_secs": null, "opened_at": null,
                          "r_spend": 300, "r_dispatches": 0},
            "used_spend": 5, "used_dispatches": 1
        }]);
        let mut links: Vec<ChainLink> = serde_json::from_value(v).unwrap();
        let link = links.remove(0);
        let t = link.task.facts().unwrap();
        assert_eq!(t.status, TaskStatus::Open);
        assert_eq!(t.budget.used.spend, 10);
        assert_eq!(t.delegator, Delegator::Agent(Uuid::nil()));
        let a = link.delegator.unwrap().facts().unwrap();
        assert_eq!(a.status, AgentStatus::Active);
        assert_eq!(a.budget.reserved.spend, 300);
        assert_eq!(a.breaker.state, State::Closed);
    }
}
