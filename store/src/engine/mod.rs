//! Decisions, made and recorded in one transaction.
//!
//! `authorize` runs inside the ledger's group commit: under the tenant's head lock it
//! gathers the facts and lets `charter_core::engine::decide` check, in the order
//! docs/concepts.md gives, the subscription, the agent and its breaker, the scope (Cedar),
//! the task chain, gates and approvals, then reserves budget, and returns the decision's
//! record, which commits with the reservation or not at all. ALLOWED reaches the caller
//! only after that commit; any failure on the way is an error, never an allowance.
//! Retries with the same idempotency key get the first answer back (rebuilt from the
//! authorization and its ledger record) and are never counted twice.
//!
//! - [`decide`] — the checks, for a tenant's queued requests at a time.
//! - [`facts`] — what those checks read, in one statement per run.
//! - [`outcome`] — outcome reports: breaker and spend correction.
//! - [`context`] — what an agent may know about itself.
//! - [`approvals`] — action approvals bound to the arguments' digest, uses and expiry.
//! - [`policies`] — compiled policies per tenant (cache checked against the version).
//! - [`reviews`] — tasks, artifacts, reviews; separation of duties at each verdict.
//! - [`graph`] — the provenance a separation-of-duties check reads (lineage, delegation
//!   chains).
//! - [`tasks`] — task completion and expiry.
//! - [`views`] — what agents read: initiatives, lineage, reviews to act on, violations.
//! - [`workflows`] — initiatives, evidence, promotion past gates, action→gate bindings.
//! - [`simulate`] — a decision made and rolled back: would this be allowed, and why?
//! - [`scope_change`] — an agent asks for more authority; only a principal with
//!   authority can grant it.

pub mod approvals;
pub mod context;
mod decide;
mod facts;
pub(crate) mod graph;
mod outcome;
pub mod policies;
pub mod reviews;
pub mod scope_change;
pub mod simulate;
pub mod tasks;
pub mod verdict;
pub mod views;
pub mod workflows;

use charter_core::engine::breaker::{Breaker, State, Transition};
use charter_core::engine::decision::{Decision, Reason, canonical_digest};
use charter_core::ledger::Entry;
use charter_core::ledger::jcs::first_inexact_number;
use charter_core::policy::Scope;
use charter_core::status::PrincipalStatus;
use charter_core::tenant::{Acting, Role};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ledger::Receipt;
use crate::{Result, StoreError, TenantTx, agents};
use policies::policy_row;

/// What an agent asks to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRequest {
    /// The action, as named in the tenant's catalog (e.g. `deploy`).
    pub action: String,
    /// The type of the resource acted on (e.g. `Service`).
    pub resource_type: String,
    /// The resource's id (e.g. `payments-api`).
    pub resource_id: String,
    /// Spend this action will incur, in the tenant's smallest currency unit.
    #[serde(default)]
    pub spend: i64,
    /// A retry with the same key gets the first answer and is never counted twice.
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
    /// The authorization this answer is about (report its outcome with this id).
    pub authorization_id: Uuid,
    #[serde(flatten)]
    pub decision: Decision,
    /// A sentence for people, when the action is not simply allowed.
    pub message: Option<String>,
    /// Where the decision is recorded in the tenant's ledger.
    pub seq: u64,
    /// SHA-256 of the record's canonical form, hex.
    pub record_hash: String,
    /// Ed25519 signature over the record hash, hex.
    pub signature: String,
    /// The tenant signing key that signed it (see `/t/{slug}/keys`).
    pub key_id: String,
    /// True when this is the stored answer to an earlier request with the same key.
    #[serde(default)]
    pub replayed: bool,
}

impl ActionRequest {
    /// What no request may hold, whoever sends it: a negative spend; a number in the
    /// arguments that canonical JSON cannot hold exactly (an approval bound to its digest
    /// would also match its neighbours: send such numbers as strings).
    pub fn check(&self) -> Result<()> {
        if self.spend < 0 {
            return Err(StoreError::Invalid("spend: must not be negative".into()));
        }
        if let Some(path) = first_inexact_number(&self.arguments, "arguments") {
            return Err(StoreError::Invalid(format!(
                "{path}: a number beyond 2^53 is not exact in canonical JSON; send it as a string"
            )));
        }
        Ok(())
    }
}

/// The digest of everything a request asks (an idempotency key is bound to it: a retry
/// must be the same request).
pub(crate) fn request_digest(req: &ActionRequest) -> String {
    canonical_digest(&json!({
        "action": req.action,
        "resource_type": req.resource_type,
        "resource_id": req.resource_id,
        "spend": req.spend,
        "arguments": req.arguments,
        "initiative": req.initiative,
        "task": req.task,
    }))
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

pub(crate) struct BreakerRow {
    pub(crate) breaker: Breaker,
}

pub(crate) async fn breaker(tx: &TenantTx, agent: Uuid) -> Result<BreakerRow> {
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
    Ok(BreakerRow {
        breaker: Breaker {
            state: crate::error::state::<State>(&r, "state")?,
            consecutive_failures: r.try_get::<i32>("", "consecutive_failures")? as u32,
            threshold: r.try_get::<i32>("", "threshold")? as u32,
            cooldown: Duration::seconds(i64::from(r.try_get::<i32>("", "cooldown_secs")?)),
            opened_at: r.try_get("", "opened_at")?,
        },
    })
}

pub(crate) async fn save_breaker(tx: &TenantTx, agent: Uuid, b: &Breaker) -> Result<()> {
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

/// The answer to an earlier request with this idempotency key (of the decision or of the
/// outcome report), rebuilt from the authorization and the ledger record it points to.
async fn stored_answer(
    tx: &TenantTx,
    agent: Uuid,
    key: &str,
    outcome: bool,
) -> Result<Option<Answer>> {
    let sql = if outcome {
        "SELECT a.id, 'ALLOWED' AS decision, NULL::text AS reason, NULL::uuid AS review_id,
                r.seq, r.record_hash, r.signature, r.key_id
         FROM authorizations a JOIN ledger_records r ON r.tenant_id = a.tenant_id AND r.seq = a.outcome_seq
         WHERE a.tenant_id = $1 AND a.agent_id = $2 AND a.outcome_key = $3"
    } else {
        "SELECT a.id, a.decision, a.reason, a.review_id, r.seq, r.record_hash, r.signature, r.key_id
         FROM authorizations a JOIN ledger_records r ON r.tenant_id = a.tenant_id AND r.seq = a.ledger_seq
         WHERE a.tenant_id = $1 AND a.agent_id = $2 AND a.idempotency_key = $3"
    };
    let Some(r) = tx
        .one(sql, vec![tx.tenant_id().into(), agent.into(), key.into()])
        .await?
    else {
        return Ok(None);
    };
    let label: String = r.try_get("", "decision")?;
    let reason: Option<String> = r.try_get("", "reason")?;
    let bad = || StoreError::Internal(format!("stored decision {label} {reason:?}"));
    let decision = match label.as_str() {
        "ALLOWED" => Decision::Allowed,
        "BLOCKED" => Decision::Blocked {
            reason: reason.as_deref().and_then(Reason::parse).ok_or_else(bad)?,
        },
        "PENDING_APPROVAL" => Decision::PendingApproval {
            review_id: r
                .try_get::<Option<Uuid>>("", "review_id")?
                .ok_or_else(bad)?
                .to_string(),
        },
        _ => return Err(bad()),
    };
    Ok(Some(Answer {
        authorization_id: r.try_get("", "id")?,
        message: decision.reason().map(|x| x.sentence().to_string()),
        decision,
        seq: r.try_get::<i64>("", "seq")? as u64,
        record_hash: hex::encode(r.try_get::<Vec<u8>>("", "record_hash")?),
        signature: hex::encode(r.try_get::<Vec<u8>>("", "signature")?),
        key_id: r.try_get("", "key_id")?,
        replayed: true,
    }))
}

impl crate::handles::Engine<'_> {
    /// The first answer to a request with this idempotency key. When the first request is
    /// in the same batch as the retry it commits a moment later: wait briefly for it.
    async fn replay(self, tenant: Uuid, agent: Uuid, key: &str, outcome: bool) -> Result<Answer> {
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

    /// The pre-execution check. Returns the recorded answer; an `Err` means no decision
    /// could be made safely (the caller answers "blocked, retry"), never "allowed".
    pub async fn authorize(self, tenant: Uuid, agent: Uuid, req: ActionRequest) -> Result<Answer> {
        req.check()?;
        let id = Uuid::now_v7();
        let key = req.idempotency_key.clone();
        let digest = request_digest(&req);
        match self
            .append_grouped(
                tenant,
                decide::Decide {
                    agent,
                    id,
                    req,
                    digest,
                },
            )
            .await
        {
            Ok((receipt, decision)) => Ok(answer(id, decision, &receipt)),
            Err(StoreError::Replay) => {
                self.replay(tenant, agent, key.as_deref().unwrap_or_default(), false)
                    .await
            }
            Err(e) => Err(e),
        }
    }

    /// Reports how an authorized action went: feeds the breaker and corrects the spend.
    pub async fn report_outcome(
        self,
        tenant: Uuid,
        agent: Uuid,
        authorization: Uuid,
        success: bool,
        actual_spend: Option<i64>,
        idempotency_key: Option<String>,
    ) -> Result<Answer> {
        if actual_spend.is_some_and(|s| s < 0) {
            return Err(StoreError::Invalid(
                "actual_spend: must not be negative".into(),
            ));
        }
        let report = outcome::Report {
            agent,
            authorization,
            success,
            actual_spend,
            key: idempotency_key.clone(),
        };
        match self.append_grouped(tenant, report).await {
            Ok((receipt, ())) => Ok(answer(authorization, Decision::Allowed, &receipt)),
            Err(StoreError::Replay) => {
                let key = idempotency_key.as_deref().unwrap_or_default();
                self.replay(tenant, agent, key, true).await
            }
            Err(e) => Err(e),
        }
    }

    /// Sets an agent's breaker threshold and cool-down; recorded.
    pub async fn configure_breaker(
        self,
        tenant: Uuid,
        agent: Uuid,
        by: impl Into<Acting>,
        threshold: u32,
        cooldown_secs: u32,
    ) -> Result<Receipt> {
        let by: Acting = by.into();
        if !(1..=MAX_THRESHOLD).contains(&threshold) {
            return Err(StoreError::Invalid(format!(
                "threshold: 1 to {MAX_THRESHOLD}"
            )));
        }
        if !(1..=MAX_COOLDOWN_SECS).contains(&cooldown_secs) {
            return Err(StoreError::Invalid(format!(
                "cooldown_secs: 1 to {MAX_COOLDOWN_SECS}"
            )));
        }
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, SCOPE_AUTHORITY).await?;
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
                    let mut e = Entry::new("breaker.configured", by.actor()).payload(
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
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        spend_limit: Option<i64>,
        dispatch_limit: Option<i64>,
        cycle_secs: u32,
    ) -> Result<Receipt> {
        let by: Acting = by.into();
        if !(1..=MAX_CYCLE_SECS).contains(&cycle_secs)
            || spend_limit.is_some_and(|l| l < 0)
            || dispatch_limit.is_some_and(|l| l < 0)
        {
            return Err(StoreError::Invalid(format!(
                "limits must not be negative; cycle_secs 1 to {MAX_CYCLE_SECS}"
            )));
        }
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, SCOPE_AUTHORITY).await?;
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
                    let e = Entry::new("limits.changed", by.actor()).payload(json!({
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
        self,
        tenant: Uuid,
        agent: Uuid,
        by: impl Into<Acting>,
    ) -> Result<Receipt> {
        let by: Acting = by.into();
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, &[Role::Owner, Role::Admin, Role::Approver]).await?;
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
                    let mut e = Entry::new("breaker.reset", by.actor())
                        .payload(json!({"agent_id": agent, "transition": transition_json(t)}));
                    e.resource = Some(format!("agent:{agent}"));
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }

    /// Sets an agent's scope (validated against the tenant's catalog and compiled with all
    /// other policies before it is saved); recorded with the acting person.
    pub async fn set_scope(
        self,
        tenant: Uuid,
        agent: Uuid,
        scope: Scope,
        by: impl Into<Acting>,
    ) -> Result<Receipt> {
        let by: Acting = by.into();
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, SCOPE_AUTHORITY).await?;
                    let value = apply_scope(tx, agent, &scope, by.principal).await?;
                    let mut e = Entry::new("scope.changed", by.actor())
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

/// Most consecutive failures a breaker may be set to allow.
pub const MAX_THRESHOLD: u32 = 1000;
/// Longest breaker cool-down: 30 days.
pub const MAX_COOLDOWN_SECS: u32 = 30 * 86_400;
/// Longest budget cycle: 366 days.
pub const MAX_CYCLE_SECS: u32 = 366 * 86_400;

/// Roles that may change an agent's authority.
pub(crate) const SCOPE_AUTHORITY: &[Role] = &[Role::Owner, Role::Admin];

/// The caller must be an active person acting with one of `roles`: their own roles, or,
/// through an API token, the token's roles that they still hold. Returns the roles the
/// caller acts with, for checks that depend on them (granting roles, say).
pub(crate) async fn require_roles(tx: &TenantTx, by: &Acting, roles: &[Role]) -> Result<Vec<Role>> {
    let p = crate::principals::get(tx, by.principal).await?;
    let acting = by.effective(&p.roles);
    if p.status != PrincipalStatus::Active || !acting.iter().any(|r| roles.contains(r)) {
        return Err(StoreError::Forbidden(format!(
            "this needs one of the roles {}",
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(acting)
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
