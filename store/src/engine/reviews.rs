//! Tasks, artifacts and reviews, with separation of duties enforced when a verdict is
//! submitted: the provenance subgraph (the artifact, everything it derives from, and every
//! delegation up the tasks it was produced under) is loaded in the verdict's transaction
//! and checked by `charter_core::engine::provenance`. A refused self-approval is committed
//! as a violation and a ledger record; the reviewer gets `self_approval`. The provenance
//! itself is read by [`super::graph`].

use charter_core::code::Code;
use charter_core::engine::budget::{self, Giver, Limits, Quantity, Short};
use charter_core::engine::decision::canonical_digest;
use charter_core::engine::provenance::{Chain, Party, SelfApproval, Separation};
use charter_core::ledger::Entry;
use charter_core::policy::DIRECT;
use charter_core::status::{AgentStatus, ReviewStatus};
use charter_core::webhook::Event;
use serde_json::json;
use uuid::Uuid;

use super::facts;
use super::graph::load_graph;
use crate::ledger::Receipt;
use crate::{Result, Store, StoreError, TenantTx, agents};

/// Longest delegation chain (a task delegated from a task …).
pub const MAX_DELEGATION_DEPTH: i32 = 5;

/// An artifact being declared.
#[derive(Debug, Clone, Default)]
pub struct NewArtifact {
    pub kind: String,
    /// Content digest, e.g. `sha256:…`; reviews bind to it.
    pub digest: String,
    /// Where it can be fetched (optional).
    pub uri: String,
    pub derived_from: Vec<Uuid>,
    /// The task it was produced under.
    pub task: Option<Uuid>,
    pub initiative: Option<Uuid>,
}

/// A task to delegate.
#[derive(Debug, Clone)]
pub struct Delegation {
    pub delegator: Party,
    pub assignee: Uuid,
    pub parent: Option<Uuid>,
    /// The most that may be spent under the task (reserved out of the delegator's budget).
    pub spend_limit: Option<i64>,
    /// The most actions that may be taken under the task (reserved likewise).
    pub dispatch_limit: Option<i64>,
    /// Seconds until the task expires if not completed (at most [`MAX_DEADLINE_SECS`]).
    pub deadline_secs: Option<u64>,
    /// The initiative the task serves (a sub-task's default is its parent's).
    pub initiative: Option<Uuid>,
    pub idempotency_key: Option<String>,
}

impl Delegation {
    /// `delegator` directs `assignee`, with nothing else said.
    pub fn new(delegator: Party, assignee: Uuid) -> Delegation {
        Delegation {
            delegator,
            assignee,
            parent: None,
            spend_limit: None,
            dispatch_limit: None,
            deadline_secs: None,
            initiative: None,
            idempotency_key: None,
        }
    }
}

/// The longest deadline a task may be given: 30 days.
pub const MAX_DEADLINE_SECS: u64 = 30 * 86_400;

/// A delegated task and where its delegation is recorded.
#[derive(Debug, Clone)]
pub struct Delegated {
    pub task_id: Uuid,
    pub seq: u64,
    pub record_hash: String,
    /// The task's spend limit (a parent's remainder when none was given).
    pub spend_limit: Option<i64>,
    /// The task's dispatch limit (likewise).
    pub dispatch_limit: Option<i64>,
    /// True when this is the task of an earlier request with the same key.
    pub replayed: bool,
    /// The full receipt, for a new delegation.
    pub receipt: Option<Receipt>,
}

/// The verdict's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerdictOutcome {
    Recorded { review_status: ReviewStatus },
    Refused { why: String, violation: Uuid },
}

/// A party as the engine sees it: for an agent, the principal it acts for.
pub async fn agent_party(tx: &TenantTx, agent: Uuid) -> Result<Party> {
    let a = agents::get(tx, agent).await?;
    Ok(Party::Agent {
        id: a.id,
        on_behalf_of: a.responsible_principal_id,
    })
}

impl crate::handles::Engine<'_> {
    /// An agent as a party (with the principal it acts for), about to act: a suspended
    /// agent may not (it may still report outcomes and close its tasks).
    pub async fn agent_as_party(self, tenant: Uuid, agent: Uuid) -> Result<Party> {
        let tx = self.tenant_tx(tenant).await?;
        let a = agents::get(&tx, agent).await?;
        tx.rollback().await?;
        if a.status == AgentStatus::Suspended {
            return Err(StoreError::Refused(
                Code::AgentSuspended,
                "this agent is suspended".into(),
            ));
        }
        Ok(Party::Agent {
            id: a.id,
            on_behalf_of: a.responsible_principal_id,
        })
    }

    /// `delegator` directs agent `assignee`, optionally under a `parent` task it holds. An
    /// agent may direct only agents its scope allows (`direct`); an action under the task
    /// is then allowed only if every agent up the chain may take it too (see `authorize`).
    /// (Budget split down the chain is still to come.)
    pub async fn delegate_task(
        self,
        tenant: Uuid,
        delegator: Party,
        assignee: Uuid,
        parent: Option<Uuid>,
    ) -> Result<(Uuid, Receipt)> {
        self.delegate_task_with_budget(tenant, delegator, assignee, parent, None)
            .await
    }

    /// As [`Store::delegate_task`], with a spend limit for the task. Under a parent task
    /// with a limit, the child's limit may not exceed what the parent has left (and is that
    /// remainder when not given): a sub-agent never spends more than its parent can.
    pub async fn delegate_task_with_budget(
        self,
        tenant: Uuid,
        delegator: Party,
        assignee: Uuid,
        parent: Option<Uuid>,
        spend_limit: Option<i64>,
    ) -> Result<(Uuid, Receipt)> {
        let d = self
            .delegate(
                tenant,
                Delegation {
                    parent,
                    spend_limit,
                    ..Delegation::new(delegator, assignee)
                },
            )
            .await?;
        let receipt = d
            .receipt
            .ok_or_else(|| StoreError::Internal("a new delegation has a receipt".into()))?;
        Ok((d.task_id, receipt))
    }

    /// Delegates a task (see [`Store::delegate_task_with_budget`]) with optional limits,
    /// deadline, initiative and idempotency key. Every task above the parent must be open;
    /// the limits are reserved out of what the delegating agent and the parent task have
    /// left (`budget_exceeded` / `dispatch_limit` otherwise, naming what is left). A retry
    /// with the same key and the same request returns the first task (`replayed`);
    /// the same key with another request is `idempotency_conflict`.
    pub async fn delegate(self, tenant: Uuid, d: Delegation) -> Result<Delegated> {
        for (field, v) in [
            ("spend_limit", d.spend_limit),
            ("dispatch_limit", d.dispatch_limit),
        ] {
            if v.is_some_and(|l| l < 0) {
                return Err(StoreError::Invalid(format!(
                    "{field}: must not be negative"
                )));
            }
        }
        match d.deadline_secs {
            Some(0) => return Err(StoreError::Invalid("deadline_secs: at least 1".into())),
            Some(s) if s > MAX_DEADLINE_SECS => {
                return Err(StoreError::Invalid("deadline_secs: at most 30 days".into()));
            }
            _ => {}
        }
        let digest = canonical_digest(&json!({
            "assignee": d.assignee, "parent": d.parent, "spend_limit": d.spend_limit,
            "dispatch_limit": d.dispatch_limit, "deadline_secs": d.deadline_secs,
            "initiative": d.initiative,
        }));
        let id = Uuid::now_v7();
        let store = self.0.clone();
        let (delegator, key) = (d.delegator, d.idempotency_key.clone());
        let result = self
            .append_with(tenant, move |tx| {
                Box::pin(delegate_in(store, tx, id, d, digest))
            })
            .await;
        match result {
            Ok((receipt, limits)) => Ok(Delegated {
                task_id: id,
                seq: receipt.seq,
                record_hash: hex::encode(receipt.record_hash),
                spend_limit: limits.spend,
                dispatch_limit: limits.dispatches,
                replayed: false,
                receipt: Some(receipt),
            }),
            Err(StoreError::Replay) => {
                let tx = self.tenant_tx(tenant).await?;
                let r = tx
                    .one(
                        "SELECT t.id, t.spend_limit, t.dispatch_limit, r.seq, r.record_hash FROM tasks t
                         JOIN ledger_records r ON r.tenant_id = t.tenant_id AND r.seq = t.ledger_seq
                         WHERE t.tenant_id = $1 AND t.delegator_id = $2 AND t.idempotency_key = $3",
                        vec![tenant.into(), delegator.actor().into(), key.into()],
                    )
                    .await?
                    .ok_or(StoreError::NotFound("task"))?;
                tx.rollback().await?;
                Ok(Delegated {
                    task_id: r.try_get("", "id")?,
                    seq: r.try_get::<i64>("", "seq")? as u64,
                    record_hash: hex::encode(r.try_get::<Vec<u8>>("", "record_hash")?),
                    spend_limit: r.try_get("", "spend_limit")?,
                    dispatch_limit: r.try_get("", "dispatch_limit")?,
                    replayed: true,
                    receipt: None,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Declares an artifact produced by `producer`.
    pub async fn register_artifact(
        self,
        tenant: Uuid,
        producer: Party,
        artifact: NewArtifact,
    ) -> Result<(Uuid, Receipt)> {
        let NewArtifact {
            kind: kind_name,
            digest,
            uri,
            derived_from,
            task,
            initiative,
        } = artifact;
        if kind_name.trim().is_empty() || digest.trim().is_empty() {
            return Err(StoreError::Invalid("kind, digest: required".into()));
        }
        let id = Uuid::now_v7();
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    if digest.is_empty() || kind_name.is_empty() {
                        return Err(StoreError::Invalid("kind and digest are required".into()));
                    }
                    // References are checked here, in the transaction, so a missing one is
                    // named instead of refused by a foreign key as an internal error.
                    for (i, source) in derived_from.iter().enumerate() {
                        if !tx.exists("artifacts", *source).await? {
                            return Err(StoreError::Invalid(format!("derived_from[{i}]: no such artifact")));
                        }
                    }
                    if let Some(t) = task
                        && !tx.exists("tasks", t).await?
                    {
                        return Err(StoreError::NotFound("task"));
                    }
                    if let Some(i) = initiative
                        && !tx.exists("initiatives", i).await?
                    {
                        return Err(StoreError::NotFound("initiative"));
                    }
                    tx.exec(
                        "INSERT INTO artifacts (tenant_id, id, kind, digest, producer_type, producer_id,
                                                producer_principal, task_id, initiative_id, uri)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        vec![
                            tx.tenant_id().into(),
                            id.into(),
                            kind_name.clone().into(),
                            digest.clone().into(),
                            producer.kind().into(),
                            producer.actor().into(),
                            producer.principal().into(),
                            task.into(),
                            initiative.into(),
                            uri.clone().into(),
                        ],
                    )
                    .await?;
                    for source in &derived_from {
                        tx.exec(
                            "INSERT INTO artifact_sources (tenant_id, artifact_id, source_id) VALUES ($1, $2, $3)",
                            vec![tx.tenant_id().into(), id.into(), (*source).into()],
                        )
                        .await?;
                    }
                    let mut e = Entry::new("artifact.registered", producer.ledger_actor()).payload(json!({
                        "artifact_id": id, "kind": kind_name, "digest": digest,
                        "derived_from": derived_from, "task_id": task,
                    }));
                    e.initiative = initiative.map(|i| i.to_string());
                    e.on_behalf_of = Some(format!("principal:{}", producer.principal()));
                    Ok((e, ()))
                })
            })
            .await?;
        Ok((id, receipt))
    }

    /// Asks for a review of an artifact at a gate, bound to its current digest.
    pub async fn request_review(
        self,
        tenant: Uuid,
        requester: Party,
        artifact: Uuid,
        gate: Option<String>,
        separation: Separation,
    ) -> Result<(Uuid, Receipt)> {
        let id = Uuid::now_v7();
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let a = tx
                        .one(
                            "SELECT a.digest, a.initiative_id, i.template FROM artifacts a
                             LEFT JOIN initiatives i ON i.tenant_id = a.tenant_id AND i.id = a.initiative_id
                             WHERE a.tenant_id = $1 AND a.id = $2",
                            vec![tx.tenant_id().into(), artifact.into()],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("artifact"))?;
                    let digest: String = a.try_get("", "digest")?;
                    // A gate of the initiative's template may demand principal separation
                    // (the regulated preset does); the requester cannot ask for less.
                    let template: Option<charter_core::engine::workflow::Template> = a
                        .try_get::<Option<serde_json::Value>>("", "template")?
                        .map(serde_json::from_value)
                        .transpose()
                        .map_err(|e| StoreError::Internal(format!("stored template: {e}")))?;
                    let gate_demands = template.as_ref().zip(gate.as_ref()).is_some_and(|(t, g)| {
                        t.gates.iter().any(|x| &x.name == g && x.principal_separation)
                    });
                    let principal = separation == Separation::Principal || gate_demands;
                    let sep = if principal { "principal" } else { "standard" };
                    tx.exec(
                        "INSERT INTO reviews (tenant_id, id, artifact_id, digest, gate, separation, requested_by)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        vec![tx.tenant_id().into(), id.into(), artifact.into(), digest.clone().into(), gate.clone().into(), sep.into(), requester.actor().into()],
                    )
                    .await?;
                    let initiative = a.try_get::<Option<Uuid>>("", "initiative_id")?;
                    crate::notifications::enqueue(
                        tx,
                        Event::ReviewRequested,
                        Some(requester.principal()),
                        json!({"review_id": id, "artifact_id": artifact, "digest": digest, "gate": gate,
                               "initiative_id": initiative, "separation": sep}),
                    )
                    .await?;
                    let mut e = Entry::new("review.requested", requester.ledger_actor())
                        .payload(json!({"review_id": id, "artifact_id": artifact, "digest": digest, "separation": sep}));
                    e.gate = gate;
                    e.initiative = initiative.map(|i| i.to_string());
                    e.decision = Some("PENDING_APPROVAL".into());
                    Ok((e, ()))
                })
            })
            .await?;
        Ok((id, receipt))
    }

    /// A reviewer approves or rejects. The verdict must name the digest the review is
    /// bound to; self-approval (direct, derived, delegated, or — where the review demands
    /// it — through the same principal) is refused and recorded as a violation.
    pub async fn submit_verdict(
        self,
        tenant: Uuid,
        reviewer: Party,
        review: Uuid,
        digest: String,
        verdict: impl Into<super::verdict::Verdict>,
    ) -> Result<(VerdictOutcome, Receipt)> {
        let verdict: super::verdict::Verdict = verdict.into();
        let approve = verdict.approve;
        let (receipt, outcome) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let r = tx
                        .one(
                            "SELECT r.artifact_id, r.digest, r.separation, r.status, r.gate, a.initiative_id
                             FROM reviews r JOIN artifacts a ON a.tenant_id = r.tenant_id AND a.id = r.artifact_id
                             WHERE r.tenant_id = $1 AND r.id = $2",
                            vec![tx.tenant_id().into(), review.into()],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("review"))?;
                    let artifact: Uuid = r.try_get("", "artifact_id")?;
                    let gate: Option<String> = r.try_get("", "gate")?;
                    let initiative: Option<Uuid> = r.try_get("", "initiative_id")?;
                    if r.try_get::<String>("", "digest")? != digest {
                        return Err(StoreError::Refused(Code::ApprovalMismatch, "digest: the review is bound to another digest".into()));
                    }
                    if r.try_get::<String>("", "status")? != "pending" {
                        return Err(StoreError::Conflict("this review is already decided".into()));
                    }
                    let separation = if r.try_get::<String>("", "separation")? == "principal" {
                        Separation::Principal
                    } else {
                        Separation::Standard
                    };
                    let graph = load_graph(tx, artifact, Some(reviewer.actor())).await?;
                    let check = if approve { graph.check_review(artifact, reviewer, separation) } else { Ok(()) };
                    if let Err(why) = check {
                        return refuse(tx, reviewer, review, (artifact, initiative), gate, why).await;
                    }
                    tx.exec(
                        "INSERT INTO review_verdicts (tenant_id, review_id, reviewer_type, reviewer_id, reviewer_principal, verdict)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        vec![
                            tx.tenant_id().into(),
                            review.into(),
                            reviewer.kind().into(),
                            reviewer.actor().into(),
                            reviewer.principal().into(),
                            (if approve { "approve" } else { "reject" }).into(),
                        ],
                    )
                    .await?;
                    let status = if approve { ReviewStatus::Approved } else { ReviewStatus::Rejected };
                    tx.exec(
                        "UPDATE reviews SET status = $3 WHERE tenant_id = $1 AND id = $2",
                        vec![tx.tenant_id().into(), review.into(), status.as_str().into()],
                    )
                    .await?;
                    let mut payload =
                        json!({"review_id": review, "artifact_id": artifact, "digest": digest});
                    verdict.annotate(&mut payload);
                    let mut e =
                        Entry::new(format!("review.{status}"), reviewer.ledger_actor()).payload(payload);
                    e.on_behalf_of = Some(format!("principal:{}", reviewer.principal()));
                    e.gate = gate;
                    e.initiative = initiative.map(|i| i.to_string());
                    e.decision = Some(if approve { "ALLOWED" } else { "BLOCKED" }.into());
                    Ok((e, VerdictOutcome::Recorded { review_status: status }))
                })
            })
            .await?;
        Ok((outcome, receipt))
    }
}

/// A delegation, in the ledger writer's transaction (under the tenant's head lock, so the
/// budgets read here cannot change before the task is written).
async fn delegate_in(
    store: Store,
    tx: &TenantTx,
    id: Uuid,
    d: Delegation,
    digest: String,
) -> Result<(Entry, Limits)> {
    let Delegation {
        delegator,
        assignee,
        parent,
        spend_limit,
        dispatch_limit,
        deadline_secs,
        mut initiative,
        idempotency_key: key,
    } = d;
    if let Some(k) = &key
        && let Some(first) = tx
            .one(
                "SELECT request_digest FROM tasks WHERE tenant_id = $1 AND delegator_id = $2
                 AND idempotency_key = $3",
                vec![
                    tx.tenant_id().into(),
                    delegator.actor().into(),
                    k.clone().into(),
                ],
            )
            .await?
    {
        return match first.try_get::<Option<String>>("", "request_digest")? {
            Some(x) if x == digest => Err(StoreError::Replay),
            _ => Err(StoreError::Refused(
                Code::IdempotencyConflict,
                format!("the idempotency key `{k}` was already used for a different delegation"),
            )),
        };
    }
    agents::get(tx, assignee).await?;
    if let Some(i) = initiative
        && !tx.exists("initiatives", i).await?
    {
        return Err(StoreError::NotFound("initiative"));
    }
    let mut agent_budget = None;
    if let Party::Agent { id: from, .. } = delegator {
        let from_agent = agents::get(tx, from).await?;
        let version = super::policies::policy_version(tx).await?;
        let may = store
            .engine()
            .policy_engine(tx, version)
            .await?
            .check(
                &from.to_string(),
                &from_agent.name,
                DIRECT,
                "Agent",
                &assignee.to_string(),
            )
            .allowed;
        if !may {
            return Err(StoreError::Refused(
                Code::OutOfScope,
                format!("agent {from} may not direct agent {assignee}"),
            ));
        }
        agent_budget = facts::agent_now(tx, from).await?.map(|a| a.budget);
    }
    let mut parent_budget = None;
    let depth = match parent {
        Some(p) => {
            let (now, chain) = facts::chain_now(tx, p).await?;
            let (first, parent_initiative) =
                chain.first().ok_or(StoreError::NotFound("parent task"))?;
            if let Party::Agent { id: from, .. } = delegator
                && first.assignee != from
            {
                return Err(StoreError::Forbidden(
                    "an agent can only delegate further a task it holds".into(),
                ));
            }
            if chain.iter().any(|(t, _)| !t.is_open(now)) {
                return Err(StoreError::Conflict(
                    "parent_task_id: the task, or a task above it, is no longer open".into(),
                ));
            }
            initiative = initiative.or(*parent_initiative);
            parent_budget = Some(first.budget);
            chain.len() as i32 + 1
        }
        None => 1,
    };
    if depth > MAX_DELEGATION_DEPTH {
        return Err(StoreError::Invalid(format!(
            "delegation chains are at most {MAX_DELEGATION_DEPTH} deep"
        )));
    }
    let asked = Limits {
        spend: spend_limit,
        dispatches: dispatch_limit,
    };
    let limits = budget::delegate(asked, agent_budget.as_ref(), parent_budget.as_ref())
        .map_err(|s| short(s, delegator))?;
    tx.exec(
        "INSERT INTO tasks (tenant_id, id, parent_id, delegator_type, delegator_id, delegator_principal,
                            assignee_agent, depth, spend_limit, dispatch_limit, deadline, idempotency_key,
                            ledger_seq, initiative_id, request_digest)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11), $12, $13,
                 $14, $15)",
        vec![
            tx.tenant_id().into(),
            id.into(),
            parent.into(),
            delegator.kind().into(),
            delegator.actor().into(),
            delegator.principal().into(),
            assignee.into(),
            depth.into(),
            limits.spend.into(),
            limits.dispatches.into(),
            deadline_secs.map(|s| s as f64).into(),
            key.clone().into(),
            (tx.next_seq()? as i64).into(),
            initiative.into(),
            digest.into(),
        ],
    )
    .await?;
    let deadline: Option<chrono::DateTime<chrono::Utc>> = tx
        .one(
            "SELECT deadline FROM tasks WHERE tenant_id = $1 AND id = $2",
            vec![tx.tenant_id().into(), id.into()],
        )
        .await?
        .map(|r| r.try_get("", "deadline"))
        .transpose()?
        .flatten();
    let mut e = Entry::new("task.delegated", delegator.ledger_actor()).payload(json!({
        "task_id": id, "parent_id": parent, "assignee": assignee, "depth": depth,
        "spend_limit": limits.spend, "dispatch_limit": limits.dispatches, "deadline": deadline,
    }));
    e.on_behalf_of = Some(format!("principal:{}", delegator.principal()));
    e.resource = Some(format!("agent:{assignee}"));
    e.initiative = initiative.map(|i| i.to_string());
    Ok((e, limits))
}

/// A delegation asking for more than is left, named precisely.
fn short(s: Short, delegator: Party) -> StoreError {
    let (code, field) = match s.quantity {
        Quantity::Spend => (Code::BudgetExceeded, "spend_limit"),
        Quantity::Dispatches => (Code::DispatchLimit, "dispatch_limit"),
    };
    let whose = match s.giver {
        Giver::ParentTask => "the parent task has left".to_string(),
        Giver::Agent => format!("agent {} has left in this cycle", delegator.actor()),
    };
    StoreError::Refused(
        code,
        format!("{field}: {} exceeds the {} {whose}", s.asked, s.left),
    )
}

/// Commits a refused self-approval as a violation and returns its record.
async fn refuse(
    tx: &TenantTx,
    reviewer: Party,
    review: Uuid,
    (artifact, initiative): (Uuid, Option<Uuid>),
    gate: Option<String>,
    why: SelfApproval,
) -> Result<(Entry, VerdictOutcome)> {
    let chain = match &why {
        SelfApproval::InChain(c) => Some(c),
        _ => None,
    };
    let details = json!({"review_id": review, "artifact_id": artifact});
    let (mut e, violation) =
        self_approval_violation(tx, reviewer, details, &why.to_string(), chain).await?;
    e.gate = gate;
    e.initiative = initiative.map(|i| i.to_string());
    Ok((
        e,
        VerdictOutcome::Refused {
            why: why.to_string(),
            violation,
        },
    ))
}

/// Stores a `self_approval` violation by `who` (with `details`, the reason, and the chain
/// that ties the parties, if that is the reason) and returns its ledger record.
pub(crate) async fn self_approval_violation(
    tx: &TenantTx,
    who: Party,
    mut details: serde_json::Value,
    why: &str,
    chain: Option<&Chain>,
) -> Result<(Entry, Uuid)> {
    let violation = Uuid::now_v7();
    details["why"] = why.into();
    if let Some(c) = chain {
        details["chain"] = json!({"with": c.with, "tasks": c.tasks});
    }
    tx.exec(
        "INSERT INTO violations (tenant_id, id, kind, severity, subject, details)
         VALUES ($1, $2, 'self_approval', 'high', $3, $4)",
        vec![
            tx.tenant_id().into(),
            violation.into(),
            json!({"type": who.kind(), "id": who.actor()}).into(),
            details.clone().into(),
        ],
    )
    .await?;
    crate::notifications::enqueue(
        tx,
        Event::ViolationFound,
        Some(who.principal()),
        json!({"violation_id": violation, "kind": "self_approval", "severity": "high",
               "subject": {"type": who.kind(), "id": who.actor()}}),
    )
    .await?;
    let mut e = Entry::new("violation", who.ledger_actor()).payload(json!({
        "violation_id": violation, "kind": "self_approval", "severity": "high", "details": details,
    }));
    e.on_behalf_of = Some(format!("principal:{}", who.principal()));
    e.decision = Some("BLOCKED".into());
    e.reason = Some("self_approval".into());
    Ok((e, violation))
}
