//! Decisions, a tenant's queued requests at a time.
//!
//! The ledger writer hands every run of decisions queued for a tenant to [`Decide::run`],
//! under the tenant's head lock, which serialises all engine work of the tenant (decisions,
//! outcomes, delegations, resets, scope changes all go through the writer): reading usage
//! and then writing it cannot race. One statement reads the facts of the whole run
//! ([`super::facts`]); each request is then decided in order by the pure
//! `charter_core::engine::decide`, which accounts for the decisions before it; and the
//! authorizations, usage, task budgets, breakers and approvals are written by the ledger's
//! own statement that appends the run's records (see [`Deferred`]). No round trip depends
//! on what a request asks.

use std::collections::HashMap;
use std::sync::Mutex;

use charter_core::code::Code;
use charter_core::engine::breaker::Transition;
use charter_core::engine::budget::Holder;
use charter_core::engine::decide::{self as rules, ApprovalUse, Authority, Request};
use charter_core::engine::decision::{Decision, arguments_digest};
use charter_core::ledger::{Actor, Entry};
use charter_core::policy::PolicyEngine;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::facts::{self, Query};
use super::{ActionRequest, transition_json};
use crate::ledger::{Deferred, GroupResults, GroupRun, Grouped};
use crate::{Result, Store, StoreError, TenantTx};

/// One authorization request, queued with its id and the digest of what it asks.
pub(crate) struct Decide {
    pub agent: Uuid,
    pub id: Uuid,
    pub req: ActionRequest,
    /// The digest of the whole request (an idempotency key is bound to it).
    pub digest: String,
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

/// Everything a run changes, as CTEs for the ledger writer's statement ([`Deferred`]):
/// `$2` the cycle, `$3` usage, `$4` breakers, `$5` authorizations, `$6` task budgets, `$7`
/// approvals used, `$8` approval requests opened (each also queues its notification), `$9`
/// the month and `$10` the decisions that count towards it (plan quotas, metered billing).
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
        decision, reason, spend_reserved, cycle_start, idempotency_key, ledger_seq, review_id,
        request_digest, task_id)
    SELECT $1, x.id, x.agent_id, x.action, x.resource_type, x.resource_id, x.decision, x.reason,
           x.spend_reserved, $2, x.idempotency_key, x.ledger_seq, x.review_id, x.request_digest,
           x.task_id
    FROM jsonb_to_recordset($5::jsonb) AS x(id uuid, agent_id uuid, action text,
        resource_type text, resource_id text, decision text, reason text, spend_reserved bigint,
        idempotency_key text, ledger_seq bigint, review_id uuid, request_digest text, task_id uuid)
), d_tasks AS (
    UPDATE tasks AS t
    SET spent = LEAST(t.spent::numeric + x.spend, 9223372036854775807)::bigint,
        dispatched = t.dispatched + x.dispatches
    FROM jsonb_to_recordset($6::jsonb) AS x(id uuid, spend bigint, dispatches bigint)
    WHERE t.tenant_id = $1 AND t.id = x.id
), d_consumed AS (
    UPDATE action_approvals AS p SET uses_left = GREATEST(p.uses_left - x.n, 0)
    FROM jsonb_to_recordset($7::jsonb) AS x(id uuid, n int)
    WHERE p.tenant_id = $1 AND p.id = x.id AND p.uses_left IS NOT NULL
), d_opened AS (
    INSERT INTO action_approvals (tenant_id, id, agent_id, action, resource_type, resource_id,
                                  args_digest, initiative_id)
    SELECT $1, x.id, x.agent_id, x.action, x.resource_type, x.resource_id, x.digest, x.initiative
    FROM jsonb_to_recordset($8::jsonb) AS x(id uuid, agent_id uuid, action text,
        resource_type text, resource_id text, digest text, initiative uuid)
), d_notified AS (
    -- `action_approval.requested` enters the outbox with the request (its id is the
    -- approval's: one notification per approval).
    INSERT INTO notifications (tenant_id, id, principal_id, kind, payload)
    SELECT $1, x.id, (SELECT a.responsible_principal_id FROM agents a
                      WHERE a.tenant_id = $1 AND a.id = x.agent_id),
           'action_approval.requested',
           jsonb_build_object('approval_id', x.id, 'agent_id', x.agent_id, 'action', x.action,
               'resource', x.resource_type || ':' || x.resource_id, 'args_digest', x.digest,
               'initiative_id', x.initiative)
    FROM jsonb_to_recordset($8::jsonb) AS x(id uuid, agent_id uuid, action text,
        resource_type text, resource_id text, digest text, initiative uuid)
), d_month AS (
    INSERT INTO decision_usage AS u (tenant_id, month, decisions)
    SELECT $1, $9, $10 WHERE $10 > 0
    ON CONFLICT (tenant_id, month) DO UPDATE SET decisions = u.decisions + EXCLUDED.decisions
)";

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
    request_digest: String,
    task_id: Option<Uuid>,
}

#[derive(Serialize)]
struct UsageRow {
    subject: String,
    spend: i64,
    dispatches: i64,
}

#[derive(Serialize)]
struct TaskUseRow {
    id: Uuid,
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

#[derive(Serialize)]
struct Consumed {
    id: Uuid,
    n: i32,
}

#[derive(Serialize)]
struct Opened<'a> {
    id: Uuid,
    agent_id: Uuid,
    action: &'a str,
    resource_type: &'a str,
    resource_id: &'a str,
    digest: &'a str,
    initiative: Option<Uuid>,
}

fn json_param(v: &impl Serialize) -> Result<sea_orm::Value> {
    serde_json::to_string(v)
        .map(Into::into)
        .map_err(|e| StoreError::Internal(format!("decision rows: {e}")))
}

/// The tenant's compiled policies, each verdict kept for the run: policies are fixed for
/// it, and agents repeat actions (each Cedar evaluation costs microseconds).
struct Memo<'a> {
    engine: &'a PolicyEngine,
    known: Mutex<HashMap<String, bool>>,
}

impl Authority for Memo<'_> {
    fn permits(&self, agent: Uuid, name: &str, action: &str, rtype: &str, rid: &str) -> bool {
        let who = agent.to_string();
        let key = [who.as_str(), action, rtype, rid].join("\u{1f}");
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        *known
            .entry(key)
            .or_insert_with(|| self.engine.check(&who, name, action, rtype, rid).allowed)
    }
}

/// Whether a request with an idempotency key is new, a retry of the same request, or a
/// different request reusing the key (refused: nothing is recorded or spent).
fn retry(key: &str, first: Option<Option<&str>>, digest: &str) -> Result<bool> {
    match first {
        None => Ok(false),
        Some(Some(d)) if d == digest => Ok(true),
        Some(_) => Err(StoreError::Refused(
            Code::IdempotencyConflict,
            format!(
                "the idempotency key `{key}` was already used for a different request; \
                 a retry must repeat the request exactly, a new request needs a new key"
            ),
        )),
    }
}

async fn decide_all(
    store: &Store,
    tx: &TenantTx,
    first_seq: u64,
    items: Vec<Decide>,
) -> GroupResults<Decision> {
    let key = crate::signing_keys::digest_key(store, tx).await?;
    let digests: Vec<String> = items
        .iter()
        .map(|d| arguments_digest(&key, &d.req.arguments))
        .collect();
    drop(key);
    let queries: Vec<Query> = items
        .iter()
        .zip(&digests)
        .enumerate()
        .map(|(i, (d, digest))| Query {
            i,
            agent_id: d.agent,
            action: &d.req.action,
            resource_type: &d.req.resource_type,
            resource_id: &d.req.resource_id,
            initiative: d.req.initiative,
            idem: d.req.idempotency_key.as_deref(),
            task: d.req.task,
            digest,
        })
        .collect();
    let rows = tx
        .all(
            facts::READ,
            vec![tx.tenant_id().into(), json_param(&queries)?],
        )
        .await?;
    let (mut facts, own) = facts::gather(&rows, &queries, &store.billing_setup())?;
    drop(queries);
    let first = rows.first().ok_or(StoreError::NotFound("tenant"))?;
    let cycle: DateTime<Utc> = first.try_get("", "cycle")?;
    let month: chrono::NaiveDate = first.try_get("", "usage_month")?;
    let engine = store
        .engine()
        .policy_engine(tx, first.try_get("", "version")?)
        .await?;
    drop(rows);
    let memo = Memo {
        engine: &engine,
        known: Mutex::default(),
    };

    // Keys first used earlier in this run, with the digest they were used for.
    let mut keys: HashMap<(Uuid, String), String> = HashMap::new();
    let mut results = Vec::with_capacity(items.len());
    let mut authorizations = Vec::with_capacity(items.len());
    let mut opened: Vec<(Uuid, Option<Uuid>)> = Vec::new();
    let mut seq = first_seq;
    for ((d, digest), row) in items.into_iter().zip(&digests).zip(own) {
        if !row.found {
            results.push(Err(StoreError::NotFound("agent")));
            continue;
        }
        if let Some(key) = &d.req.idempotency_key {
            let earlier = keys.get(&(d.agent, key.clone())).map(|x| Some(x.as_str()));
            let first = row.seen.as_ref().map(|s| s.as_deref()).or(earlier);
            match retry(key, first, &d.digest) {
                Ok(true) => {
                    results.push(Err(StoreError::Replay));
                    continue;
                }
                Ok(false) => {
                    keys.insert((d.agent, key.clone()), d.digest.clone());
                }
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            }
        }
        let req = Request {
            agent: d.agent,
            action: &d.req.action,
            resource_type: &d.req.resource_type,
            resource_id: &d.req.resource_id,
            spend: d.req.spend,
            task: d.req.task,
            args_digest: digest,
            missing_gates: row.missing_gates,
            needs_approval: row.needs_approval,
            new_approval: Uuid::now_v7(),
        };
        let out = match rules::decide(&facts, &memo, &req) {
            Ok(out) => out,
            Err(rules::NotDecided::UnknownAgent) => {
                results.push(Err(StoreError::NotFound("agent")));
                continue;
            }
        };
        facts.apply(&req, &out);
        let decision = out.decision.clone();
        let allowed = decision.is_allowed();
        let review_id = match &decision {
            Decision::PendingApproval { review_id } => review_id.parse().ok(),
            _ => None,
        };
        if let Some(ApprovalUse::Open(id)) = out.approval {
            opened.push((id, d.req.initiative));
        }
        let approval = match out.approval {
            Some(ApprovalUse::Consume(id)) if allowed => Some(id),
            _ => None,
        };
        let responsible = facts
            .agents
            .get(&d.agent)
            .map(|a| a.responsible)
            .ok_or(StoreError::NotFound("agent"))?;
        authorizations.push(AuthorizationRow {
            id: d.id,
            agent_id: d.agent,
            action: d.req.action.clone(),
            resource_type: d.req.resource_type.clone(),
            resource_id: d.req.resource_id.clone(),
            decision: decision.label(),
            reason: decision.reason().map(|r| r.as_str()),
            spend_reserved: if allowed { d.req.spend } else { 0 },
            idempotency_key: d.req.idempotency_key.clone(),
            ledger_seq: seq,
            review_id,
            request_digest: d.digest,
            task_id: d.req.task,
        });
        let entry = record(
            d.agent,
            d.id,
            responsible,
            d.req,
            &decision,
            out.transition,
            approval,
            digest.clone(),
        );
        results.push(Ok((entry, decision)));
        seq += 1;
    }
    let deferred = match authorizations.is_empty() {
        true => None,
        false => Some(writes(&facts, cycle, month, &authorizations, &opened)?),
    };
    Ok(GroupRun { results, deferred })
}

/// The run's writes, from what its decisions changed.
fn writes(
    facts: &rules::Facts,
    cycle: DateTime<Utc>,
    month: chrono::NaiveDate,
    authorizations: &[AuthorizationRow],
    opened: &[(Uuid, Option<Uuid>)],
) -> Result<Deferred> {
    let changes = facts.changes();
    let mut usage = Vec::new();
    let mut tasks = Vec::new();
    for (holder, amount) in &changes.used {
        match holder {
            Holder::Tenant => usage.push(UsageRow {
                subject: "tenant".into(),
                spend: amount.spend,
                dispatches: amount.dispatches,
            }),
            Holder::Agent(a) => usage.push(UsageRow {
                subject: a.to_string(),
                spend: amount.spend,
                dispatches: amount.dispatches,
            }),
            Holder::Task(t) => tasks.push(TaskUseRow {
                id: *t,
                spend: amount.spend,
                dispatches: amount.dispatches,
            }),
        }
    }
    let breakers: Vec<BreakerRow> = changes
        .breakers
        .iter()
        .filter_map(|id| facts.agents.get(id).map(|a| (id, &a.breaker)))
        .map(|(id, b)| BreakerRow {
            agent_id: *id,
            state: b.state.as_str(),
            consecutive_failures: b.consecutive_failures as i32,
            threshold: b.threshold as i32,
            cooldown_secs: b.cooldown.num_seconds() as i32,
            opened_at: b.opened_at,
        })
        .collect();
    let mut consumed: Vec<Consumed> = Vec::new();
    for id in &changes.consumed {
        match consumed.iter_mut().find(|c| c.id == *id) {
            Some(c) => c.n += 1,
            None => consumed.push(Consumed { id: *id, n: 1 }),
        }
    }
    let opened: Vec<Opened> = changes
        .opened
        .iter()
        .map(|a| Opened {
            id: a.id,
            agent_id: a.agent,
            action: &a.action,
            resource_type: &a.resource_type,
            resource_id: &a.resource_id,
            digest: &a.digest,
            initiative: opened
                .iter()
                .find(|(id, _)| *id == a.id)
                .and_then(|(_, i)| *i),
        })
        .collect();
    Ok(Deferred {
        sql: WRITE,
        values: vec![
            cycle.into(),
            json_param(&usage)?,
            json_param(&breakers)?,
            json_param(&authorizations)?,
            json_param(&tasks)?,
            json_param(&consumed)?,
            json_param(&opened)?,
            month.into(),
            changes.decisions.into(),
        ],
    })
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
        "task_id": req.task,
        "breaker": transition_json(transition),
        "approval_id": approval,
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
        digest: super::request_digest(&req),
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
