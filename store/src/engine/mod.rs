//! Decisions, made and recorded in one transaction.
//!
//! `authorize` runs as work inside the ledger's group commit: under the tenant's head
//! lock it checks, in SPEC order, the subscription, the agent and its breaker, the scope
//! (Cedar), then reserves budget, and returns the decision's record, which commits with
//! the reservation or not at all. ALLOWED reaches the caller only after that commit; any
//! failure on the way is an error, never an allowance. Retries with the same idempotency
//! key get the first answer back and are never counted twice.
//!
//! - [`approvals`] — action approvals bound to the arguments' digest, uses and expiry.
//! - [`policies`] — compiled policies per tenant (cache checked against the version).
//! - [`reviews`] — tasks, artifacts, reviews; separation of duties at each verdict.
//! - [`tasks`] — task completion and expiry.
//! - [`workflows`] — initiatives, evidence, promotion past gates, action→gate bindings.
//! - [`scope_change`] — an agent asks for more authority; only a principal with
//!   authority can grant it.

pub mod approvals;
pub mod policies;
pub mod reviews;
pub mod scope_change;
pub mod tasks;
pub mod workflows;

use charter_core::engine::breaker::{
    Breaker, DEFAULT_COOLDOWN_SECS, DEFAULT_THRESHOLD, State, Transition,
};
use charter_core::engine::decision::{Decision, Reason};
use charter_core::ledger::{Actor, Entry};
use charter_core::policy::Scope;
use charter_core::tenant::Role;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ledger::Receipt;
use crate::signing_keys::db_now;
use crate::{Result, Store, StoreError, TenantTx, agents};
use policies::policy_row;

/// What an agent asks to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    /// Spend this action will incur, in the tenant's smallest currency unit.
    #[serde(default)]
    pub spend: i64,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The exact arguments, recorded (redacted) with the decision.
    #[serde(default)]
    pub arguments: Value,
    /// The initiative the action belongs to (gates bound to the action are checked in it).
    #[serde(default)]
    pub initiative: Option<Uuid>,
    /// The delegated task the agent acts under: the action must then be within the scope
    /// of every agent up the delegation chain too (authority only narrows).
    #[serde(default)]
    pub task: Option<Uuid>,
}

/// The answer: the decision and where it is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub authorization_id: Uuid,
    #[serde(flatten)]
    pub decision: Decision,
    pub message: Option<String>,
    pub seq: u64,
    pub record_hash: String,
    pub signature: String,
    pub key_id: String,
    /// True when this is the stored answer to an earlier request with the same key.
    #[serde(default)]
    pub replayed: bool,
}

fn answer(id: Uuid, decision: Decision, r: &Receipt) -> Answer {
    Answer {
        authorization_id: id,
        message: decision.reason().map(|x| x.sentence().to_string()),
        decision,
        seq: r.seq,
        record_hash: hex::encode(r.record_hash),
        signature: hex::encode(r.signature),
        key_id: r.key_id.clone(),
        replayed: false,
    }
}

struct BreakerRow {
    breaker: Breaker,
}

async fn breaker(tx: &TenantTx, agent: Uuid) -> Result<BreakerRow> {
    tx.exec(
        "INSERT INTO breakers (tenant_id, agent_id) VALUES ($1, $2)
         ON CONFLICT (tenant_id, agent_id) DO NOTHING",
        vec![tx.tenant_id().into(), agent.into()],
    )
    .await?;
    let r = tx
        .one(
            "SELECT state, consecutive_failures, threshold, cooldown_secs, opened_at
             FROM breakers WHERE tenant_id = $1 AND agent_id = $2 FOR UPDATE",
            vec![tx.tenant_id().into(), agent.into()],
        )
        .await?
        .ok_or(StoreError::NotFound("breaker"))?;
    let state: String = r.try_get("", "state")?;
    Ok(BreakerRow {
        breaker: Breaker {
            state: State::parse(&state)
                .ok_or_else(|| StoreError::Internal(format!("breaker state {state}")))?,
            consecutive_failures: r.try_get::<i32>("", "consecutive_failures")? as u32,
            threshold: r.try_get::<i32>("", "threshold")? as u32,
            cooldown: Duration::seconds(i64::from(r.try_get::<i32>("", "cooldown_secs")?)),
            opened_at: r.try_get("", "opened_at")?,
        },
    })
}

async fn save_breaker(tx: &TenantTx, agent: Uuid, b: &Breaker) -> Result<()> {
    tx.exec(
        "UPDATE breakers SET state = $3, consecutive_failures = $4, opened_at = $5, updated_at = now()
         WHERE tenant_id = $1 AND agent_id = $2",
        vec![
            tx.tenant_id().into(),
            agent.into(),
            b.state.as_str().into(),
            (b.consecutive_failures as i32).into(),
            b.opened_at.into(),
        ],
    )
    .await?;
    Ok(())
}

fn transition_json(t: Option<Transition>) -> Value {
    match t {
        Some(t) => json!({"from": t.from.as_str(), "to": t.to.as_str()}),
        None => Value::Null,
    }
}

/// The stored answer to an earlier request with this idempotency key (of the decision or
/// of the outcome report), once it is complete.
async fn stored_answer(
    tx: &TenantTx,
    agent: Uuid,
    key: &str,
    outcome: bool,
) -> Result<Option<Answer>> {
    let sql = if outcome {
        "SELECT outcome_response AS response FROM authorizations
         WHERE tenant_id = $1 AND agent_id = $2 AND outcome_key = $3"
    } else {
        "SELECT response FROM authorizations
         WHERE tenant_id = $1 AND agent_id = $2 AND idempotency_key = $3"
    };
    let row = tx
        .one(sql, vec![tx.tenant_id().into(), agent.into(), key.into()])
        .await?;
    let Some(v) = row
        .map(|r| r.try_get::<Option<Value>>("", "response"))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let mut a: Answer = serde_json::from_value(v)
        .map_err(|e| StoreError::Internal(format!("stored answer: {e}")))?;
    a.replayed = true;
    Ok(Some(a))
}

impl Store {
    /// Stores an answer (with its receipt, known only after the commit) for replays to
    /// retries with the same idempotency key.
    async fn store_answer(&self, tenant: Uuid, a: &Answer, outcome: bool) -> Result<()> {
        let sql = if outcome {
            "UPDATE authorizations SET outcome_response = $3 WHERE tenant_id = $1 AND id = $2"
        } else {
            "UPDATE authorizations SET response = $3 WHERE tenant_id = $1 AND id = $2"
        };
        let value = serde_json::to_value(a).map_err(|e| StoreError::Internal(e.to_string()))?;
        let tx = self.tenant_tx(tenant).await?;
        tx.exec(
            sql,
            vec![tenant.into(), a.authorization_id.into(), value.into()],
        )
        .await?;
        tx.commit().await
    }

    /// Waits briefly for the first request with this key to store its answer (it does so
    /// right after its commit): a concurrent retry then gets that same answer.
    async fn replay(&self, tenant: Uuid, agent: Uuid, key: &str, outcome: bool) -> Result<Answer> {
        for _ in 0..40 {
            let tx = self.tenant_tx(tenant).await?;
            let found = stored_answer(&tx, agent, key, outcome).await?;
            tx.rollback().await?;
            if let Some(a) = found {
                return Ok(a);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(StoreError::Unavailable(
            "the first request with this idempotency key has not finished; retry".into(),
        ))
    }
}

fn subscription_active(status: &str) -> bool {
    !matches!(status, "canceled" | "unpaid" | "expired")
}

impl Store {
    /// The pre-execution check. Returns the recorded answer; an `Err` means no decision
    /// could be made safely (the caller answers "blocked, retry"), never "allowed".
    pub async fn authorize(&self, tenant: Uuid, agent: Uuid, req: ActionRequest) -> Result<Answer> {
        if req.spend < 0 {
            return Err(StoreError::Invalid("spend: must not be negative".into()));
        }
        if let Some(key) = &req.idempotency_key {
            let tx = self.tenant_tx(tenant).await?;
            let found = stored_answer(&tx, agent, key, false).await?;
            tx.rollback().await?;
            if let Some(a) = found {
                return Ok(a);
            }
        }
        let store = self.clone();
        let id = Uuid::now_v7();
        let r = req.clone();
        let result = self
            .append_with(tenant, move |tx| {
                Box::pin(async move { decide(&store, tx, agent, id, r).await })
            })
            .await;
        match result {
            Ok((receipt, decision)) => {
                let a = answer(id, decision, &receipt);
                self.store_answer(tenant, &a, false).await?;
                Ok(a)
            }
            // A concurrent retry with the same key won the race: return its answer.
            Err(StoreError::Conflict(_)) if req.idempotency_key.is_some() => {
                let key = req.idempotency_key.as_deref().unwrap_or_default();
                self.replay(tenant, agent, key, false).await
            }
            Err(e) => Err(e),
        }
    }

    /// Reports how an authorized action went: feeds the breaker and corrects the spend.
    pub async fn report_outcome(
        &self,
        tenant: Uuid,
        agent: Uuid,
        authorization: Uuid,
        success: bool,
        actual_spend: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<Answer> {
        if let Some(key) = &idempotency_key {
            let tx = self.tenant_tx(tenant).await?;
            let found = stored_answer(&tx, agent, key, true).await?;
            tx.rollback().await?;
            if let Some(a) = found {
                return Ok(a);
            }
        }
        let key = idempotency_key.clone();
        let result = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    outcome(tx, agent, authorization, success, actual_spend, key).await
                })
            })
            .await;
        let (receipt, decision) = match result {
            Err(StoreError::Conflict(_)) if idempotency_key.is_some() => {
                let key = idempotency_key.as_deref().unwrap_or_default();
                return self.replay(tenant, agent, key, true).await;
            }
            other => other?,
        };
        let a = answer(authorization, decision, &receipt);
        self.store_answer(tenant, &a, true).await?;
        Ok(a)
    }

    /// Sets an agent's breaker threshold and cool-down; recorded.
    pub async fn configure_breaker(
        &self,
        tenant: Uuid,
        agent: Uuid,
        principal: Uuid,
        threshold: u32,
        cooldown_secs: u32,
    ) -> Result<Receipt> {
        if threshold == 0 || cooldown_secs == 0 {
            return Err(StoreError::Invalid(
                "threshold and cooldown_secs: at least 1".into(),
            ));
        }
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, principal, SCOPE_AUTHORITY).await?;
                    agents::get(tx, agent).await?;
                    tx.exec(
                        "INSERT INTO breakers (tenant_id, agent_id, threshold, cooldown_secs) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (tenant_id, agent_id)
                         DO UPDATE SET threshold = EXCLUDED.threshold, cooldown_secs = EXCLUDED.cooldown_secs,
                             updated_at = now()",
                        vec![
                            tx.tenant_id().into(),
                            agent.into(),
                            (threshold as i32).into(),
                            (cooldown_secs as i32).into(),
                        ],
                    )
                    .await?;
                    let mut e = Entry::new("breaker.configured", Actor::principal(principal)).payload(
                        json!({"agent_id": agent, "threshold": threshold, "cooldown_secs": cooldown_secs}),
                    );
                    e.resource = Some(format!("agent:{agent}"));
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }

    /// Sets the tenant-wide spend and dispatch limits per cycle and the cycle length.
    pub async fn set_tenant_limits(
        &self,
        tenant: Uuid,
        principal: Uuid,
        spend_limit: Option<i64>,
        dispatch_limit: Option<i64>,
        cycle_secs: u32,
    ) -> Result<Receipt> {
        if cycle_secs == 0
            || spend_limit.is_some_and(|l| l < 0)
            || dispatch_limit.is_some_and(|l| l < 0)
        {
            return Err(StoreError::Invalid(
                "limits must not be negative; cycle_secs at least 1".into(),
            ));
        }
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, principal, SCOPE_AUTHORITY).await?;
                    tx.exec(
                        "INSERT INTO tenant_policy (tenant_id, spend_limit, dispatch_limit, cycle_secs)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (tenant_id) DO UPDATE SET spend_limit = EXCLUDED.spend_limit,
                             dispatch_limit = EXCLUDED.dispatch_limit, cycle_secs = EXCLUDED.cycle_secs,
                             updated_at = now()",
                        vec![
                            tx.tenant_id().into(),
                            spend_limit.into(),
                            dispatch_limit.into(),
                            (cycle_secs as i32).into(),
                        ],
                    )
                    .await?;
                    let e = Entry::new("limits.changed", Actor::principal(principal)).payload(json!({
                        "spend_limit": spend_limit, "dispatch_limit": dispatch_limit, "cycle_secs": cycle_secs,
                    }));
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }

    /// A principal closes an agent's breaker; recorded.
    pub async fn reset_breaker(
        &self,
        tenant: Uuid,
        agent: Uuid,
        principal: Uuid,
    ) -> Result<Receipt> {
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, principal, &[Role::Owner, Role::Admin, Role::Approver])
                        .await?;
                    agents::get(tx, agent).await?;
                    let mut b = breaker(tx, agent).await?;
                    let t = b.breaker.reset();
                    save_breaker(tx, agent, &b.breaker).await?;
                    tx.exec(
                        "UPDATE agents SET status = 'active', updated_at = now()
                         WHERE tenant_id = $1 AND id = $2 AND status = 'tripped'",
                        vec![tx.tenant_id().into(), agent.into()],
                    )
                    .await?;
                    let mut e = Entry::new("breaker.reset", Actor::principal(principal))
                        .payload(json!({"agent_id": agent, "transition": transition_json(t)}));
                    e.resource = Some(format!("agent:{agent}"));
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }

    /// Sets an agent's scope (validated against the tenant's catalog and compiled with all
    /// other policies before it is saved); recorded with the acting principal.
    pub async fn set_scope(
        &self,
        tenant: Uuid,
        agent: Uuid,
        scope: Scope,
        principal: Uuid,
    ) -> Result<Receipt> {
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, principal, SCOPE_AUTHORITY).await?;
                    let value = apply_scope(tx, agent, &scope, principal).await?;
                    let mut e = Entry::new("scope.changed", Actor::principal(principal))
                        .payload(json!({"agent_id": agent, "scope": value}));
                    e.resource = Some(format!("agent:{agent}"));
                    Ok((e, ()))
                })
            })
            .await?;
        self.announce_policy_change(tenant).await;
        Ok(receipt)
    }
}

/// Roles that may change an agent's authority.
pub(crate) const SCOPE_AUTHORITY: &[Role] = &[Role::Owner, Role::Admin];

/// The acting principal must be active and hold one of `roles`.
pub(crate) async fn require_roles(tx: &TenantTx, principal: Uuid, roles: &[Role]) -> Result<()> {
    let p = crate::principals::get(tx, principal).await?;
    if p.status != "active" || !p.roles.iter().any(|r| roles.contains(r)) {
        return Err(StoreError::Forbidden(format!(
            "this needs one of the roles {}",
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// Validates `scope` against the tenant's catalog, compiles it with every other policy,
/// saves it and bumps the policy version. Returns the stored JSON.
pub(crate) async fn apply_scope(
    tx: &TenantTx,
    agent: Uuid,
    scope: &Scope,
    principal: Uuid,
) -> Result<Value> {
    agents::get(tx, agent).await?;
    let row = policy_row(tx).await?;
    scope
        .validate(&row.catalog)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut all = policies::scopes(tx).await?;
    all.retain(|(a, _)| a != &agent.to_string());
    all.push((agent.to_string(), scope.clone()));
    charter_core::policy::PolicyEngine::compile(&row.catalog, &all, &row.policies)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let value = serde_json::to_value(scope).map_err(|e| StoreError::Internal(e.to_string()))?;
    tx.exec(
        "INSERT INTO agent_scopes (tenant_id, agent_id, scope, updated_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, agent_id)
         DO UPDATE SET scope = EXCLUDED.scope, updated_by = EXCLUDED.updated_by, updated_at = now()",
        vec![tx.tenant_id().into(), agent.into(), value.clone().into(), principal.into()],
    )
    .await?;
    tx.exec(
        "UPDATE tenant_policy SET version = version + 1, updated_at = now() WHERE tenant_id = $1",
        vec![tx.tenant_id().into()],
    )
    .await?;
    Ok(value)
}

/// The checks, in SPEC §2 order, inside the batch transaction. Returns the record of the
/// decision (blocked ones too) and the decision.
///
/// Everything a decision reads comes in one query and everything it writes goes in one
/// statement: the tenant's head lock, held by the batch, serialises all engine work of the
/// tenant (decisions, outcomes, resets, scope changes all run through the ledger writer),
/// so reading usage and then writing it cannot race.
async fn decide(
    store: &Store,
    tx: &TenantTx,
    agent_id: Uuid,
    id: Uuid,
    req: ActionRequest,
) -> Result<(Entry, Decision)> {
    let r = tx
        .one(
            "WITH n AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS now)
             SELECT n.now, t.subscription_status, a.name, a.status, a.responsible_principal_id,
                    COALESCE(p.version, 0) AS version, p.spend_limit AS tenant_spend_limit,
                    p.dispatch_limit AS tenant_dispatch_limit, c.cycle, s.scope,
                    k.state, k.consecutive_failures, k.threshold, k.cooldown_secs, k.opened_at,
                    COALESCE(ua.spend, 0) AS agent_spend, COALESCE(ua.dispatches, 0) AS agent_dispatches,
                    COALESCE(ut.spend, 0) AS tenant_spend, COALESCE(ut.dispatches, 0) AS tenant_dispatches,
                    (SELECT count(*) FROM action_gates g
                     WHERE g.tenant_id = t.id AND g.action = $4 AND g.resource_type = $5
                       AND NOT EXISTS (SELECT 1 FROM gate_passes p
                                       WHERE p.tenant_id = t.id AND p.initiative_id = $6 AND p.gate = g.gate)
                    ) AS missing_gates,
                    EXISTS (SELECT 1 FROM action_approval_rules x
                            WHERE x.tenant_id = t.id AND x.action = $4 AND x.resource_type = $5
                    ) AS needs_approval
             FROM n, tenants t
             JOIN agents a ON a.tenant_id = t.id AND a.id = $2
             LEFT JOIN tenant_policy p ON p.tenant_id = t.id
             CROSS JOIN LATERAL (
                 SELECT to_timestamp(floor(extract(epoch FROM n.now) / COALESCE(p.cycle_secs, 86400))
                                     * COALESCE(p.cycle_secs, 86400)) AS cycle
             ) c
             LEFT JOIN agent_scopes s ON s.tenant_id = t.id AND s.agent_id = a.id
             LEFT JOIN breakers k ON k.tenant_id = t.id AND k.agent_id = a.id
             LEFT JOIN budget_usage ua ON ua.tenant_id = t.id AND ua.subject = $3 AND ua.cycle_start = c.cycle
             LEFT JOIN budget_usage ut ON ut.tenant_id = t.id AND ut.subject = 'tenant' AND ut.cycle_start = c.cycle
             WHERE t.id = $1",
            vec![
                tx.tenant_id().into(),
                agent_id.into(),
                agent_id.to_string().into(),
                req.action.clone().into(),
                req.resource_type.clone().into(),
                req.initiative.into(),
            ],
        )
        .await?
        .ok_or(StoreError::NotFound("agent"))?;
    let now: DateTime<Utc> = r.try_get("", "now")?;
    let cycle: DateTime<Utc> = r.try_get("", "cycle")?;
    let agent_name: String = r.try_get("", "name")?;
    let agent_status: String = r.try_get("", "status")?;
    let responsible: Uuid = r.try_get("", "responsible_principal_id")?;
    let scope: Scope = match r.try_get::<Option<Value>>("", "scope")? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| StoreError::Internal(format!("stored scope: {e}")))?,
        None => Scope::default(),
    };
    let mut breaker = match r.try_get::<Option<String>>("", "state")? {
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
    let (admitted, transition) = breaker.admit(now);
    let over = |used: i64, add: i64, limit: Option<i64>| limit.is_some_and(|l| used + add > l);
    let (agent_spend, agent_dispatches): (i64, i64) = (
        r.try_get("", "agent_spend")?,
        r.try_get("", "agent_dispatches")?,
    );
    let (tenant_spend, tenant_dispatches): (i64, i64) = (
        r.try_get("", "tenant_spend")?,
        r.try_get("", "tenant_dispatches")?,
    );
    let tenant_spend_limit: Option<i64> = r.try_get("", "tenant_spend_limit")?;
    let tenant_dispatch_limit: Option<i64> = r.try_get("", "tenant_dispatch_limit")?;

    let engine = store.policy_engine(tx, r.try_get("", "version")?).await?;
    let permits = |who: &str, name: &str| {
        engine
            .check(who, name, &req.action, &req.resource_type, &req.resource_id)
            .allowed
    };
    let blocked = |r: Reason| Decision::Blocked { reason: r };
    let mut valid_approval = None;
    let decision = if !subscription_active(&r.try_get::<String>("", "subscription_status")?) {
        blocked(Reason::SubscriptionInactive)
    } else if agent_status == "suspended" {
        blocked(Reason::AgentSuspended)
    } else if !admitted {
        blocked(Reason::BreakerOpen)
    } else if !permits(&agent_id.to_string(), &agent_name) {
        blocked(Reason::OutOfScope)
    } else if let Some(task) = req.task
        && let Some(reason) = task_refusal(tx, agent_id, task, req.spend, &permits).await?
    {
        blocked(reason)
    } else if r.try_get::<i64>("", "missing_gates")? > 0 {
        blocked(Reason::GateNotPassed)
    } else if r.try_get::<bool>("", "needs_approval")?
        && let approvals::ApprovalState::Pending(pending) = {
            let digest = charter_core::engine::decision::arguments_digest(&req.arguments);
            let state = approvals::state(
                tx,
                agent_id,
                &req.action,
                &req.resource_type,
                &req.resource_id,
                &digest,
                now,
            )
            .await?;
            if let approvals::ApprovalState::Valid(v) = state {
                valid_approval = Some(v);
            }
            state
        }
    {
        Decision::PendingApproval {
            review_id: pending.to_string(),
        }
    } else if over(agent_dispatches, 1, scope.dispatch_limit)
        || over(tenant_dispatches, 1, tenant_dispatch_limit)
    {
        blocked(Reason::DispatchLimit)
    } else if over(agent_spend, req.spend, scope.spend_limit)
        || over(tenant_spend, req.spend, tenant_spend_limit)
    {
        blocked(Reason::BudgetExceeded)
    } else {
        Decision::Allowed
    };
    let allowed = decision.is_allowed();
    if allowed && let Some(approval) = valid_approval {
        approvals::consume(tx, approval).await?;
    }
    if allowed
        && req.spend > 0
        && let Some(task) = req.task
    {
        // Spend under a task counts against it and every task above it.
        tx.exec(
            "WITH RECURSIVE chain(id, parent_id) AS (
                 SELECT id, parent_id FROM tasks WHERE tenant_id = $1 AND id = $2
                 UNION SELECT t.id, t.parent_id FROM tasks t JOIN chain c ON t.id = c.parent_id
                 WHERE t.tenant_id = $1)
             UPDATE tasks SET spent = spent + $3 WHERE tenant_id = $1 AND id IN (SELECT id FROM chain)",
            vec![tx.tenant_id().into(), task.into(), req.spend.into()],
        )
        .await?;
    }
    let reserved = if allowed { req.spend } else { 0 };
    tx.exec(
        "WITH u AS (
             INSERT INTO budget_usage AS b (tenant_id, subject, cycle_start, spend, dispatches)
             SELECT $1, x.subject, $10, $9, 1 FROM (VALUES ($12::text), ('tenant')) AS x(subject)
             WHERE $13::boolean
             ON CONFLICT (tenant_id, subject, cycle_start)
             DO UPDATE SET spend = b.spend + EXCLUDED.spend, dispatches = b.dispatches + 1
         ), k AS (
             INSERT INTO breakers AS k (tenant_id, agent_id, state, consecutive_failures, threshold,
                                        cooldown_secs, opened_at)
             SELECT $1, $3, $14, $15, $16, $17, $18 WHERE $19::boolean
             ON CONFLICT (tenant_id, agent_id) DO UPDATE SET state = EXCLUDED.state,
                 consecutive_failures = EXCLUDED.consecutive_failures,
                 opened_at = EXCLUDED.opened_at, updated_at = now()
         )
         INSERT INTO authorizations (tenant_id, id, agent_id, action, resource_type, resource_id,
             decision, reason, spend_reserved, cycle_start, idempotency_key, response)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)",
        vec![
            tx.tenant_id().into(),
            id.into(),
            agent_id.into(),
            req.action.clone().into(),
            req.resource_type.clone().into(),
            req.resource_id.clone().into(),
            decision.label().into(),
            decision.reason().map(|r| r.as_str()).into(),
            reserved.into(),
            cycle.into(),
            req.idempotency_key.clone().into(),
            agent_id.to_string().into(),
            allowed.into(),
            breaker.state.as_str().into(),
            (breaker.consecutive_failures as i32).into(),
            (breaker.threshold as i32).into(),
            (breaker.cooldown.num_seconds() as i32).into(),
            breaker.opened_at.into(),
            transition.is_some().into(),
        ],
    )
    .await?;
    let mut e = Entry::new("decision", Actor::agent(agent_id)).payload(json!({
        "authorization_id": id,
        "arguments": req.arguments,
        "spend": req.spend,
        "breaker": transition_json(transition),
        "approval_id": valid_approval.filter(|_| allowed),
        "args_digest": charter_core::engine::decision::arguments_digest(&req.arguments),
    }));
    e.on_behalf_of = Some(format!("principal:{responsible}"));
    e.initiative = req.initiative.map(|i| i.to_string());
    e.action = Some(req.action);
    e.resource = Some(format!("{}:{}", req.resource_type, req.resource_id));
    e.decision = Some(decision.label().to_string());
    e.reason = decision.reason().map(|r| r.as_str().to_string());
    Ok((e, decision))
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
            && link.try_get::<i64>("", "spent")? + spend > limit
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

async fn outcome(
    tx: &TenantTx,
    agent_id: Uuid,
    authorization: Uuid,
    success: bool,
    actual_spend: Option<i64>,
    key: Option<String>,
) -> Result<(Entry, Decision)> {
    let now = db_now(tx).await?;
    let row = tx
        .one(
            "SELECT decision, spend_reserved, cycle_start, outcome FROM authorizations
             WHERE tenant_id = $1 AND id = $2 AND agent_id = $3 FOR UPDATE",
            vec![tx.tenant_id().into(), authorization.into(), agent_id.into()],
        )
        .await?
        .ok_or(StoreError::NotFound("authorization"))?;
    let decision: String = row.try_get("", "decision")?;
    if decision != "ALLOWED" {
        return Err(StoreError::Invalid(
            "only an allowed action has an outcome".into(),
        ));
    }
    if row.try_get::<Option<String>>("", "outcome")?.is_some() {
        return Err(StoreError::Conflict(
            "this authorization's outcome is already reported".into(),
        ));
    }
    let reserved: i64 = row.try_get("", "spend_reserved")?;
    let cycle: DateTime<Utc> = row.try_get("", "cycle_start")?;
    let actual = actual_spend.unwrap_or(reserved);
    if actual < 0 {
        return Err(StoreError::Invalid(
            "actual_spend: must not be negative".into(),
        ));
    }
    // Correct the reservation to what was actually spent (may exceed the reservation:
    // reported overruns are counted and show up for the scanner's budget_overrun rule).
    let delta = actual - reserved;
    if delta != 0 {
        for subject in [agent_id.to_string(), "tenant".to_string()] {
            tx.exec(
                "UPDATE budget_usage SET spend = GREATEST(spend + $4, 0)
                 WHERE tenant_id = $1 AND subject = $2 AND cycle_start = $3",
                vec![
                    tx.tenant_id().into(),
                    subject.into(),
                    cycle.into(),
                    delta.into(),
                ],
            )
            .await?;
        }
    }
    let mut b = breaker(tx, agent_id).await?;
    let transition = if success {
        b.breaker.record_success()
    } else {
        b.breaker.record_failure(now)
    };
    save_breaker(tx, agent_id, &b.breaker).await?;
    let agent = agents::get(tx, agent_id).await?;
    if let Some(t) = transition {
        let status = match t.to {
            State::Open => Some("tripped"),
            State::Closed if agent.status == "tripped" => Some("active"),
            _ => None,
        };
        if let Some(s) = status {
            tx.exec(
                "UPDATE agents SET status = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2",
                vec![tx.tenant_id().into(), agent_id.into(), s.into()],
            )
            .await?;
        }
        if t.to == State::Open {
            // The responsible principal is told (delivery comes with the worker).
            tx.exec(
                "INSERT INTO notifications (tenant_id, id, principal_id, kind, payload)
                 VALUES ($1, $2, $3, 'breaker.tripped', $4)",
                vec![
                    tx.tenant_id().into(),
                    Uuid::now_v7().into(),
                    agent.responsible_principal_id.into(),
                    json!({"agent_id": agent_id, "consecutive_failures": b.breaker.consecutive_failures}).into(),
                ],
            )
            .await?;
        }
    }
    tx.exec(
        "UPDATE authorizations SET outcome = $3, outcome_spend = $4, outcome_key = $5
         WHERE tenant_id = $1 AND id = $2",
        vec![
            tx.tenant_id().into(),
            authorization.into(),
            (if success { "success" } else { "failure" }).into(),
            actual.into(),
            key.into(),
        ],
    )
    .await?;
    let mut e = Entry::new("outcome", Actor::agent(agent_id)).payload(json!({
        "authorization_id": authorization,
        "success": success,
        "spend": actual,
        "breaker": transition_json(transition),
        "consecutive_failures": b.breaker.consecutive_failures,
    }));
    e.on_behalf_of = Some(format!("principal:{}", agent.responsible_principal_id));
    Ok((e, Decision::Allowed))
}
