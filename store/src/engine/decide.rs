//! Decisions, a tenant's queued requests at a time.
//!
//! The ledger writer hands every run of decisions queued for a tenant to [`Decide::run`],
//! under the tenant's head lock, which serialises all engine work of the tenant (decisions,
//! outcomes, resets, scope changes all go through the writer): reading usage and then
//! writing it cannot race. One query reads what the checks need for the whole run; each
//! request is decided in order, in memory, counting the usage and breaker changes of the
//! decisions before it; the authorizations, usage and breakers are written by the
//! ledger's own statement that appends the run's records (see [`Deferred`]).
//! Requests under a task, and actions that need an approval, also read and write their
//! task chain or approval as they go. Checks follow SPEC §2's order.

use std::collections::{HashMap, HashSet};

use charter_core::engine::breaker::{
    Breaker, DEFAULT_COOLDOWN_SECS, DEFAULT_THRESHOLD, State, Transition,
};
use charter_core::engine::decision::{Decision, Reason, arguments_digest};
use charter_core::ledger::{Actor, Entry};
use charter_core::policy::Scope;
use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use sea_orm::QueryResult;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ActionRequest, approvals, transition_json};
use crate::ledger::{Deferred, GroupResults, GroupRun, Grouped};
use crate::{Result, Store, StoreError, TenantTx};

/// One authorization request, queued with its id.
pub(crate) struct Decide {
    pub agent: Uuid,
    pub id: Uuid,
    pub req: ActionRequest,
}

impl Grouped for Decide {
    type Output = Decision;

    // Its writes cannot fail on what agents send: sums saturate, idempotency keys are
    // checked under the head lock, ids are fresh.
    const SAVEPOINT: bool = false;

    fn run<'a>(
        store: &'a Store,
        tx: &'a TenantTx,
        first_seq: u64,
        items: Vec<Self>,
    ) -> BoxFuture<'a, GroupResults<Decision>> {
        Box::pin(decide_all(store, tx, first_seq, items))
    }
}

/// What the checks read, for every request of a run (tenant columns repeat on each row).
const READ: &str = "
WITH n AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS now),
t AS (
    SELECT n.now, t.subscription_status, COALESCE(p.version, 0) AS version,
           p.spend_limit AS tenant_spend_limit, p.dispatch_limit AS tenant_dispatch_limit, c.cycle,
           COALESCE(ut.spend, 0) AS tenant_spend, COALESCE(ut.dispatches, 0) AS tenant_dispatches
    FROM n, tenants t
    LEFT JOIN tenant_policy p ON p.tenant_id = t.id
    CROSS JOIN LATERAL (
        SELECT to_timestamp(floor(extract(epoch FROM n.now) / COALESCE(p.cycle_secs, 86400))
                            * COALESCE(p.cycle_secs, 86400)) AS cycle
    ) c
    LEFT JOIN budget_usage ut ON ut.tenant_id = t.id AND ut.subject = 'tenant' AND ut.cycle_start = c.cycle
    WHERE t.id = $1
),
q AS (
    SELECT * FROM jsonb_to_recordset($2::jsonb)
        AS q(i int, agent_id uuid, action text, resource_type text, initiative uuid, idem text)
)
SELECT q.i, t.*, a.id IS NOT NULL AS found, a.name, a.status, a.responsible_principal_id, s.scope,
       k.state, k.consecutive_failures, k.threshold, k.cooldown_secs, k.opened_at,
       COALESCE(ua.spend, 0) AS agent_spend, COALESCE(ua.dispatches, 0) AS agent_dispatches,
       (SELECT count(*) FROM action_gates g
        WHERE g.tenant_id = $1 AND g.action = q.action AND g.resource_type = q.resource_type
          AND NOT EXISTS (SELECT 1 FROM gate_passes p
                          WHERE p.tenant_id = $1 AND p.initiative_id = q.initiative AND p.gate = g.gate)
       ) AS missing_gates,
       EXISTS (SELECT 1 FROM action_approval_rules x
               WHERE x.tenant_id = $1 AND x.action = q.action AND x.resource_type = q.resource_type
       ) AS needs_approval,
       q.idem IS NOT NULL AND EXISTS (
           SELECT 1 FROM authorizations x
           WHERE x.tenant_id = $1 AND x.agent_id = q.agent_id AND x.idempotency_key = q.idem
       ) AS seen_key
FROM q CROSS JOIN t
LEFT JOIN agents a ON a.tenant_id = $1 AND a.id = q.agent_id
LEFT JOIN agent_scopes s ON s.tenant_id = $1 AND s.agent_id = q.agent_id
LEFT JOIN breakers k ON k.tenant_id = $1 AND k.agent_id = q.agent_id
LEFT JOIN budget_usage ua ON ua.tenant_id = $1 AND ua.subject = q.agent_id::text AND ua.cycle_start = t.cycle
ORDER BY q.i";

/// Everything a run changes besides tasks and approvals, as CTEs for the ledger writer's
/// statement ([`Deferred`]): `$2` the cycle, `$3` usage, `$4` breakers, `$5` authorizations.
const WRITE: &str = "
d_usage AS (
    INSERT INTO budget_usage AS b (tenant_id, subject, cycle_start, spend, dispatches)
    SELECT $1, x.subject, $2, x.spend, x.dispatches
    FROM jsonb_to_recordset($3::jsonb) AS x(subject text, spend bigint, dispatches bigint)
    ON CONFLICT (tenant_id, subject, cycle_start)
    DO UPDATE SET spend = LEAST(b.spend::numeric + EXCLUDED.spend, 9223372036854775807)::bigint,
                  dispatches = b.dispatches + EXCLUDED.dispatches
), d_breakers AS (
    INSERT INTO breakers AS k (tenant_id, agent_id, state, consecutive_failures, threshold,
                               cooldown_secs, opened_at)
    SELECT $1, x.agent_id, x.state, x.consecutive_failures, x.threshold, x.cooldown_secs, x.opened_at
    FROM jsonb_to_recordset($4::jsonb) AS x(agent_id uuid, state text, consecutive_failures int,
                                            threshold int, cooldown_secs int, opened_at timestamptz)
    ON CONFLICT (tenant_id, agent_id) DO UPDATE SET state = EXCLUDED.state,
        consecutive_failures = EXCLUDED.consecutive_failures,
        opened_at = EXCLUDED.opened_at, updated_at = now()
), d_authorizations AS (
    INSERT INTO authorizations (tenant_id, id, agent_id, action, resource_type, resource_id,
        decision, reason, spend_reserved, cycle_start, idempotency_key, ledger_seq, review_id)
    SELECT $1, x.id, x.agent_id, x.action, x.resource_type, x.resource_id, x.decision, x.reason,
           x.spend_reserved, $2, x.idempotency_key, x.ledger_seq, x.review_id
    FROM jsonb_to_recordset($5::jsonb) AS x(id uuid, agent_id uuid, action text,
        resource_type text, resource_id text, decision text, reason text, spend_reserved bigint,
        idempotency_key text, ledger_seq bigint, review_id uuid)
)";

#[derive(Serialize)]
struct Query<'a> {
    i: usize,
    agent_id: Uuid,
    action: &'a str,
    resource_type: &'a str,
    initiative: Option<Uuid>,
    idem: Option<&'a str>,
}

#[derive(Serialize)]
struct AuthorizationRow {
    id: Uuid,
    agent_id: Uuid,
    action: String,
    resource_type: String,
    resource_id: String,
    decision: &'static str,
    reason: Option<&'static str>,
    spend_reserved: i64,
    idempotency_key: Option<String>,
    ledger_seq: u64,
    review_id: Option<Uuid>,
}

#[derive(Serialize)]
struct UsageRow {
    subject: String,
    spend: i64,
    dispatches: i64,
}

#[derive(Serialize)]
struct BreakerRow {
    agent_id: Uuid,
    state: &'static str,
    consecutive_failures: i32,
    threshold: i32,
    cooldown_secs: i32,
    opened_at: Option<DateTime<Utc>>,
}

/// Usage in the current cycle, and what this run adds to it.
#[derive(Default)]
struct Usage {
    spend: i64,
    dispatches: i64,
    added_spend: i64,
    added_dispatches: i64,
}

impl Usage {
    fn read(r: &QueryResult, prefix: &str) -> Result<Usage> {
        Ok(Usage {
            spend: r.try_get("", &format!("{prefix}_spend"))?,
            dispatches: r.try_get("", &format!("{prefix}_dispatches"))?,
            ..Usage::default()
        })
    }

    fn dispatch_full(&self, limit: Option<i64>) -> bool {
        limit.is_some_and(|l| self.dispatches + 1 > l)
    }

    fn spend_exceeds(&self, spend: i64, limit: Option<i64>) -> bool {
        limit.is_some_and(|l| self.spend.saturating_add(spend) > l)
    }

    fn add(&mut self, spend: i64) {
        self.spend = self.spend.saturating_add(spend);
        self.dispatches += 1;
        self.added_spend = self.added_spend.saturating_add(spend);
        self.added_dispatches += 1;
    }

    fn row(&self, subject: String) -> Option<UsageRow> {
        (self.added_dispatches > 0).then_some(UsageRow {
            subject,
            spend: self.added_spend,
            dispatches: self.added_dispatches,
        })
    }
}

/// An agent as the run sees it, with the changes of the run's earlier decisions.
struct AgentState {
    name: String,
    status: String,
    responsible: Uuid,
    scope: Scope,
    breaker: Breaker,
    breaker_changed: bool,
    usage: Usage,
}

impl AgentState {
    fn read(r: &QueryResult) -> Result<AgentState> {
        let scope = match r.try_get::<Option<Value>>("", "scope")? {
            Some(v) => serde_json::from_value(v)
                .map_err(|e| StoreError::Internal(format!("stored scope: {e}")))?,
            None => Scope::default(),
        };
        let breaker = match r.try_get::<Option<String>>("", "state")? {
            Some(state) => Breaker {
                state: State::parse(&state)
                    .ok_or_else(|| StoreError::Internal(format!("breaker state {state}")))?,
                consecutive_failures: r.try_get::<i32>("", "consecutive_failures")? as u32,
                threshold: r.try_get::<i32>("", "threshold")? as u32,
                cooldown: Duration::seconds(i64::from(r.try_get::<i32>("", "cooldown_secs")?)),
                opened_at: r.try_get("", "opened_at")?,
            },
            None => Breaker::new(DEFAULT_THRESHOLD, Duration::seconds(DEFAULT_COOLDOWN_SECS)),
        };
        Ok(AgentState {
            name: r.try_get("", "name")?,
            status: r.try_get("", "status")?,
            responsible: r.try_get("", "responsible_principal_id")?,
            scope,
            breaker,
            breaker_changed: false,
            usage: Usage::read(r, "agent")?,
        })
    }
}

fn json_param(v: &impl Serialize) -> Result<sea_orm::Value> {
    serde_json::to_string(v)
        .map(Into::into)
        .map_err(|e| StoreError::Internal(format!("decision rows: {e}")))
}

async fn decide_all(
    store: &Store,
    tx: &TenantTx,
    first_seq: u64,
    items: Vec<Decide>,
) -> GroupResults<Decision> {
    let queries: Vec<Query> = items
        .iter()
        .enumerate()
        .map(|(i, d)| Query {
            i,
            agent_id: d.agent,
            action: &d.req.action,
            resource_type: &d.req.resource_type,
            initiative: d.req.initiative,
            idem: d.req.idempotency_key.as_deref(),
        })
        .collect();
    let rows = tx
        .all(READ, vec![tx.tenant_id().into(), json_param(&queries)?])
        .await?;

    drop(queries);
    let Some(first) = rows.first() else {
        return Err(StoreError::NotFound("tenant"));
    };
    if rows.len() != items.len() {
        return Err(StoreError::Internal(
            "decision rows do not match the requests".into(),
        ));
    }
    let now: DateTime<Utc> = first.try_get("", "now")?;
    let cycle: DateTime<Utc> = first.try_get("", "cycle")?;
    let subscription_active = !matches!(
        first.try_get::<String>("", "subscription_status")?.as_str(),
        "canceled" | "unpaid" | "expired"
    );
    let tenant_spend_limit: Option<i64> = first.try_get("", "tenant_spend_limit")?;
    let tenant_dispatch_limit: Option<i64> = first.try_get("", "tenant_dispatch_limit")?;
    let mut tenant_usage = Usage::read(first, "tenant")?;
    let engine = store
        .policy_engine(tx, first.try_get("", "version")?)
        .await?;

    let mut agents: HashMap<Uuid, AgentState> = HashMap::new();
    let mut keys: HashSet<(Uuid, String)> = HashSet::new();
    let mut results = Vec::with_capacity(items.len());
    let mut authorizations = Vec::with_capacity(items.len());
    let mut seq = first_seq;
    let verdicts: std::sync::Mutex<HashMap<String, bool>> = Default::default();
    for (Decide { agent, id, req }, r) in items.into_iter().zip(&rows) {
        if !r.try_get::<bool>("", "found")? {
            results.push(Err(StoreError::NotFound("agent")));
            continue;
        }
        if let Some(key) = &req.idempotency_key
            && (r.try_get::<bool>("", "seen_key")? || !keys.insert((agent, key.clone())))
        {
            results.push(Err(StoreError::Replay));
            continue;
        }
        let a = match agents.entry(agent) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(AgentState::read(r)?),
        };
        let (admitted, transition) = a.breaker.admit(now);
        a.breaker_changed |= transition.is_some();
        // Policies are fixed for the run, so a verdict holds for every identical request
        // in it (agents repeat actions; each Cedar evaluation costs microseconds).
        let permits = |who: &str, name: &str| {
            let key = [who, &req.action, &req.resource_type, &req.resource_id].join("\u{1f}");
            let mut known = verdicts.lock().unwrap_or_else(|p| p.into_inner());
            *known.entry(key).or_insert_with(|| {
                engine
                    .check(who, name, &req.action, &req.resource_type, &req.resource_id)
                    .allowed
            })
        };
        let digest = arguments_digest(&req.arguments);
        let mut approval = None;
        let blocked = |r: Reason| Decision::Blocked { reason: r };
        let decision = if !subscription_active {
            blocked(Reason::SubscriptionInactive)
        } else if a.status == "suspended" {
            blocked(Reason::AgentSuspended)
        } else if !admitted {
            blocked(Reason::BreakerOpen)
        } else if !permits(&agent.to_string(), &a.name) {
            blocked(Reason::OutOfScope)
        } else if let Some(task) = req.task
            && let Some(reason) = task_refusal(tx, agent, task, req.spend, &permits).await?
        {
            blocked(reason)
        } else if r.try_get::<i64>("", "missing_gates")? > 0 {
            blocked(Reason::GateNotPassed)
        } else if r.try_get::<bool>("", "needs_approval")?
            && let approvals::ApprovalState::Pending(pending) = {
                let state = approvals::state(
                    tx,
                    agent,
                    &req.action,
                    &req.resource_type,
                    &req.resource_id,
                    &digest,
                    now,
                )
                .await?;
                if let approvals::ApprovalState::Valid(v) = state {
                    approval = Some(v);
                }
                state
            }
        {
            Decision::PendingApproval {
                review_id: pending.to_string(),
            }
        } else if a.usage.dispatch_full(a.scope.dispatch_limit)
            || tenant_usage.dispatch_full(tenant_dispatch_limit)
        {
            blocked(Reason::DispatchLimit)
        } else if a.usage.spend_exceeds(req.spend, a.scope.spend_limit)
            || tenant_usage.spend_exceeds(req.spend, tenant_spend_limit)
        {
            blocked(Reason::BudgetExceeded)
        } else {
            Decision::Allowed
        };
        let allowed = decision.is_allowed();
        if allowed {
            a.usage.add(req.spend);
            tenant_usage.add(req.spend);
            if let Some(approval) = approval {
                approvals::consume(tx, approval).await?;
            }
            if let Some(task) = req.task
                && req.spend > 0
            {
                charge_task_chain(tx, task, req.spend).await?;
            }
        }
        let review_id = match &decision {
            Decision::PendingApproval { review_id } => review_id.parse().ok(),
            _ => None,
        };
        authorizations.push(AuthorizationRow {
            id,
            agent_id: agent,
            action: req.action.clone(),
            resource_type: req.resource_type.clone(),
            resource_id: req.resource_id.clone(),
            decision: decision.label(),
            reason: decision.reason().map(|r| r.as_str()),
            spend_reserved: if allowed { req.spend } else { 0 },
            idempotency_key: req.idempotency_key.clone(),
            ledger_seq: seq,
            review_id,
        });
        let entry = record(
            agent,
            id,
            a.responsible,
            req,
            &decision,
            transition,
            approval,
            digest,
        );
        results.push(Ok((entry, decision)));
        seq += 1;
    }
    let mut deferred = None;
    if !authorizations.is_empty() {
        let usage: Vec<UsageRow> = agents
            .iter()
            .filter_map(|(id, a)| a.usage.row(id.to_string()))
            .chain(tenant_usage.row("tenant".into()))
            .collect();
        let breakers: Vec<BreakerRow> = agents
            .iter()
            .filter(|(_, a)| a.breaker_changed)
            .map(|(id, a)| BreakerRow {
                agent_id: *id,
                state: a.breaker.state.as_str(),
                consecutive_failures: a.breaker.consecutive_failures as i32,
                threshold: a.breaker.threshold as i32,
                cooldown_secs: a.breaker.cooldown.num_seconds() as i32,
                opened_at: a.breaker.opened_at,
            })
            .collect();
        deferred = Some(Deferred {
            sql: WRITE,
            values: vec![
                cycle.into(),
                json_param(&usage)?,
                json_param(&breakers)?,
                json_param(&authorizations)?,
            ],
        });
    }
    Ok(GroupRun { results, deferred })
}

/// The ledger record of a decision (blocked ones too).
#[allow(clippy::too_many_arguments)]
fn record(
    agent: Uuid,
    id: Uuid,
    responsible: Uuid,
    req: ActionRequest,
    decision: &Decision,
    transition: Option<Transition>,
    approval: Option<Uuid>,
    digest: String,
) -> Entry {
    let mut e = Entry::new("decision", Actor::agent(agent)).payload(json!({
        "authorization_id": id,
        "arguments": req.arguments,
        "spend": req.spend,
        "breaker": transition_json(transition),
        "approval_id": approval.filter(|_| decision.is_allowed()),
        "args_digest": digest,
    }));
    e.on_behalf_of = Some(format!("principal:{responsible}"));
    e.initiative = req.initiative.map(|i| i.to_string());
    e.action = Some(req.action);
    e.resource = Some(format!("{}:{}", req.resource_type, req.resource_id));
    e.decision = Some(decision.label().to_string());
    e.reason = decision.reason().map(|r| r.as_str().to_string());
    e
}

/// Spend under a task counts against it and every task above it.
async fn charge_task_chain(tx: &TenantTx, task: Uuid, spend: i64) -> Result<()> {
    tx.exec(
        "WITH RECURSIVE chain(id, parent_id) AS (
             SELECT id, parent_id FROM tasks WHERE tenant_id = $1 AND id = $2
             UNION SELECT t.id, t.parent_id FROM tasks t JOIN chain c ON t.id = c.parent_id
             WHERE t.tenant_id = $1)
         UPDATE tasks SET spent = LEAST(spent::numeric + $3, 9223372036854775807)::bigint
         WHERE tenant_id = $1 AND id IN (SELECT id FROM chain)",
        vec![tx.tenant_id().into(), task.into(), spend.into()],
    )
    .await?;
    Ok(())
}

/// Why acting under `task` is refused, if it is: the task must be this agent's and open,
/// every agent that delegated along the chain must itself be allowed the action, and the
/// spend must fit what every task up the chain has left.
async fn task_refusal(
    tx: &TenantTx,
    agent: Uuid,
    task: Uuid,
    spend: i64,
    permits: &impl Fn(&str, &str) -> bool,
) -> Result<Option<Reason>> {
    let chain = tx
        .all(
            "WITH RECURSIVE chain(id, parent_id, delegator_type, delegator_id, assignee_agent, status,
                                  spend_limit, spent, lvl) AS (
                 SELECT id, parent_id, delegator_type, delegator_id, assignee_agent, status, spend_limit, spent, 0
                 FROM tasks WHERE tenant_id = $1 AND id = $2
                 UNION ALL
                 SELECT t.id, t.parent_id, t.delegator_type, t.delegator_id, t.assignee_agent, t.status,
                        t.spend_limit, t.spent, c.lvl + 1
                 FROM tasks t JOIN chain c ON t.id = c.parent_id WHERE t.tenant_id = $1 AND c.lvl < 16)
             SELECT c.lvl, c.delegator_type, c.delegator_id, c.assignee_agent, c.status, c.spend_limit,
                    c.spent, a.name
             FROM chain c LEFT JOIN agents a ON a.tenant_id = $1 AND a.id = c.delegator_id
             ORDER BY c.lvl",
            vec![tx.tenant_id().into(), task.into()],
        )
        .await?;
    let Some(first) = chain.first() else {
        return Ok(Some(Reason::InvalidRequest));
    };
    if first.try_get::<Uuid>("", "assignee_agent")? != agent
        || first.try_get::<String>("", "status")? != "open"
    {
        return Ok(Some(Reason::InvalidRequest));
    }
    for link in &chain {
        if let Some(limit) = link.try_get::<Option<i64>>("", "spend_limit")?
            && link.try_get::<i64>("", "spent")?.saturating_add(spend) > limit
        {
            return Ok(Some(Reason::BudgetExceeded));
        }
    }
    for link in &chain {
        if link.try_get::<String>("", "delegator_type")? == "agent" {
            let id: Uuid = link.try_get("", "delegator_id")?;
            let name: Option<String> = link.try_get("", "name")?;
            if !permits(&id.to_string(), name.as_deref().unwrap_or_default()) {
                return Ok(Some(Reason::OutOfScope));
            }
        }
    }
    Ok(None)
}

/// What deciding `req` would answer now, with every check of a real decision, in a
/// transaction the caller rolls back: nothing is reserved, recorded or created.
pub(crate) async fn dry_run(
    store: &Store,
    tx: &TenantTx,
    agent: Uuid,
    req: ActionRequest,
) -> Result<Decision> {
    let size = crate::ledger::read::tree_size(tx).await?;
    let item = Decide {
        agent,
        id: Uuid::now_v7(),
        req,
    };
    // Its writes are deferred and dropped here: a dry run reserves and records nothing.
    let mut results = decide_all(store, tx, size, vec![item]).await?.results;
    match results.pop() {
        Some(Ok((_, decision))) => Ok(decision),
        Some(Err(e)) => Err(e),
        None => Err(StoreError::Internal("no simulated decision".into())),
    }
}
