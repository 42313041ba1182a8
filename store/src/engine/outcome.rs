//! Outcome reports: how an authorized action went. Success or failure feeds the agent's
//! breaker (tripping it notifies the responsible principal); the actual spend corrects
//! the reservation. Each report runs in its own savepoint within the tenant's batch, so
//! a refused one leaves nothing behind.

use charter_core::code::Code;
use charter_core::engine::breaker::State;
use charter_core::engine::decision::canonical_digest;
use charter_core::ledger::{Actor, Entry};
use charter_core::status::AgentStatus;
use charter_core::webhook::Event;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::json;
use uuid::Uuid;

use super::{breaker, save_breaker, transition_json};
use crate::ledger::{GroupResults, GroupRun, Grouped};
use crate::signing_keys::db_now;
use crate::{Result, Store, StoreError, TenantTx, agents};

/// One outcome report.
pub(crate) struct Report {
    pub agent: Uuid,
    pub authorization: Uuid,
    pub success: bool,
    pub actual_spend: Option<i64>,
    pub key: Option<String>,
}

impl Grouped for Report {
    type Output = ();

    fn run<'a>(
        _store: &'a Store,
        tx: &'a TenantTx,
        first_seq: u64,
        items: Vec<Self>,
    ) -> BoxFuture<'a, GroupResults<()>> {
        Box::pin(async move {
            let mut seq = first_seq;
            let mut results = Vec::with_capacity(items.len());
            for report in items {
                let sp = tx.savepoint().await?;
                match outcome(&sp, report, seq).await {
                    Ok(e) => {
                        sp.commit().await?;
                        results.push(Ok((e, ())));
                        seq += 1;
                    }
                    Err(e) => {
                        sp.rollback().await?;
                        results.push(Err(e));
                    }
                }
            }
            Ok(GroupRun {
                results,
                deferred: None,
            })
        })
    }
}

async fn outcome(tx: &TenantTx, r: Report, seq: u64) -> Result<Entry> {
    let Report {
        agent: agent_id,
        authorization,
        success,
        actual_spend,
        key,
    } = r;
    let now = db_now(tx).await?;
    // A key is bound to the report it was first used for: the same report replays, a
    // different one is refused.
    let digest = canonical_digest(&json!({
        "authorization_id": authorization, "success": success, "actual_spend": actual_spend,
    }));
    if let Some(k) = &key
        && let Some(first) = tx
            .one(
                "SELECT outcome_digest FROM authorizations
                 WHERE tenant_id = $1 AND agent_id = $2 AND outcome_key = $3",
                vec![tx.tenant_id().into(), agent_id.into(), k.clone().into()],
            )
            .await?
    {
        return match first.try_get::<Option<String>>("", "outcome_digest")? {
            Some(d) if d == digest => Err(StoreError::Replay),
            _ => Err(StoreError::Refused(
                Code::IdempotencyConflict,
                format!(
                    "the idempotency key `{k}` was already used for a different outcome report"
                ),
            )),
        };
    }
    let row = tx
        .one(
            "SELECT decision, spend_reserved, cycle_start, outcome, task_id
             FROM authorizations
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
    let task: Option<Uuid> = row.try_get("", "task_id")?;
    let actual = actual_spend.unwrap_or(reserved);
    if actual < 0 {
        return Err(StoreError::Invalid(
            "actual_spend: must not be negative".into(),
        ));
    }
    // Correct the reservation to what was actually spent, wherever the action counted: the
    // agent, the tenant, and the task chain it acted under with its delegating agents. It
    // may exceed the reservation: reported overruns are counted and show up for the
    // scanner's budget_overrun rule.
    let delta = actual.saturating_sub(reserved);
    if delta != 0 {
        tx.exec(
            "WITH RECURSIVE chain(id, parent_id, delegator_type, delegator_id, lvl) AS (
                 SELECT id, parent_id, delegator_type, delegator_id, 0 FROM tasks
                 WHERE tenant_id = $1 AND id = $5
                 UNION ALL
                 SELECT t.id, t.parent_id, t.delegator_type, t.delegator_id, c.lvl + 1
                 FROM tasks t JOIN chain c ON t.id = c.parent_id WHERE t.tenant_id = $1 AND c.lvl < 16
             ), t AS (
                 UPDATE tasks SET spent = GREATEST(LEAST(spent::numeric + $4, 9223372036854775807), 0)::bigint
                 WHERE tenant_id = $1 AND id IN (SELECT id FROM chain)
             )
             UPDATE budget_usage
             SET spend = GREATEST(LEAST(spend::numeric + $4, 9223372036854775807), 0)::bigint
             WHERE tenant_id = $1 AND cycle_start = $3
               AND subject IN (SELECT $2::text UNION SELECT 'tenant'
                               UNION SELECT delegator_id::text FROM chain WHERE delegator_type = 'agent')",
            vec![
                tx.tenant_id().into(),
                agent_id.to_string().into(),
                cycle.into(),
                delta.into(),
                task.into(),
            ],
        )
        .await?;
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
            State::Open => Some(AgentStatus::Tripped),
            State::Closed if agent.status == AgentStatus::Tripped => Some(AgentStatus::Active),
            _ => None,
        };
        if let Some(s) = status {
            tx.exec(
                "UPDATE agents SET status = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2",
                vec![tx.tenant_id().into(), agent_id.into(), s.as_str().into()],
            )
            .await?;
        }
        if t.to == State::Open {
            // The responsible principal is told (the worker delivers it).
            crate::notifications::enqueue(
                tx,
                Event::BreakerTripped,
                Some(agent.responsible_principal_id),
                json!({"agent_id": agent_id, "agent_name": agent.name,
                       "consecutive_failures": b.breaker.consecutive_failures}),
            )
            .await?;
        }
    }
    tx.exec(
        "UPDATE authorizations SET outcome = $3, outcome_spend = $4, outcome_key = $5,
             outcome_seq = $6, outcome_digest = $7
         WHERE tenant_id = $1 AND id = $2",
        vec![
            tx.tenant_id().into(),
            authorization.into(),
            (if success { "success" } else { "failure" }).into(),
            actual.into(),
            key.into(),
            (seq as i64).into(),
            digest.into(),
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
    Ok(e)
}
