//! Action approvals: which actions need one, and the human decision that grants a bounded
//! number of uses for a bounded time, bound to the exact arguments' digest. (`authorize`
//! opens the pending requests and uses up approvals: see `charter_core::engine::decide`.)

use charter_core::ledger::Entry;
use charter_core::tenant::{Acting, Role};
use serde_json::json;
use uuid::Uuid;

use super::graph::chains_of;
use super::require_roles;
use super::reviews::self_approval_violation;
use crate::ledger::Receipt;
use crate::{Result, StoreError, TenantTx};
use charter_core::code::Code;
use charter_core::engine::provenance::{Chain, Graph, Party};

const APPROVERS: &[Role] = &[Role::Owner, Role::Admin, Role::Approver];

impl crate::handles::Engine<'_> {
    /// From now on `action` on `resource_type` needs an approval; an approval grants
    /// `max_uses` uses (unlimited if `None`) for `ttl_secs` (forever if `None`).
    pub async fn require_approval(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        action: String,
        resource_type: String,
        max_uses: Option<i32>,
        ttl_secs: Option<i32>,
    ) -> Result<Receipt> {
        let by: Acting = by.into();
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, super::SCOPE_AUTHORITY).await?;
                    tx.exec(
                        "INSERT INTO action_approval_rules (tenant_id, action, resource_type, max_uses, ttl_secs)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (tenant_id, action, resource_type)
                         DO UPDATE SET max_uses = EXCLUDED.max_uses, ttl_secs = EXCLUDED.ttl_secs",
                        vec![
                            tx.tenant_id().into(),
                            action.clone().into(),
                            resource_type.clone().into(),
                            max_uses.into(),
                            ttl_secs.into(),
                        ],
                    )
                    .await?;
                    let e = Entry::new("approval_rule.set", by.actor()).payload(json!({
                        "action": action, "resource_type": resource_type,
                        "max_uses": max_uses, "ttl_secs": ttl_secs,
                    }));
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }

    /// A human approves or rejects a pending action approval. Separation of duties holds
    /// here as for reviews: a person in one delegation chain with the agent that asked (who
    /// directed it, directly or through others) may not approve; the refusal is recorded as
    /// a `self_approval` violation and answered as one.
    pub async fn decide_action_approval(
        self,
        tenant: Uuid,
        approval: Uuid,
        by: impl Into<Acting>,
        verdict: impl Into<super::verdict::Verdict>,
    ) -> Result<Receipt> {
        let by: Acting = by.into();
        let verdict: super::verdict::Verdict = verdict.into();
        let approve = verdict.approve;
        let (receipt, refused) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, APPROVERS).await?;
                    let r = tx
                        .one(
                            "SELECT a.status, a.agent_id, a.action, a.resource_type, a.resource_id, a.args_digest,
                                    a.initiative_id, r.max_uses, r.ttl_secs
                             FROM action_approvals a
                             LEFT JOIN action_approval_rules r ON r.tenant_id = a.tenant_id
                                 AND r.action = a.action AND r.resource_type = a.resource_type
                             WHERE a.tenant_id = $1 AND a.id = $2",
                            vec![tx.tenant_id().into(), approval.into()],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("action approval"))?;
                    if r.try_get::<String>("", "status")? != "pending" {
                        return Err(StoreError::Conflict("this approval is already decided".into()));
                    }
                    let agent: Uuid = r.try_get("", "agent_id")?;
                    let action: String = r.try_get("", "action")?;
                    let resource = format!(
                        "{}:{}",
                        r.try_get::<String>("", "resource_type")?,
                        r.try_get::<String>("", "resource_id")?
                    );
                    if approve
                        && let Some(chain) = chain_with(tx, by.principal, agent, r.try_get("", "initiative_id")?).await?
                    {
                        let why = format!("the approver and agent {chain} are in one delegation chain");
                        let details = json!({"approval_id": approval, "agent_id": agent});
                        let who = Party::Principal { id: by.principal };
                        let (mut e, violation) =
                            self_approval_violation(tx, who, details, &why, Some(&chain)).await?;
                        e.action = Some(action);
                        e.resource = Some(resource);
                        return Ok((e, Some(format!("{why} (recorded as violation {violation})"))));
                    }
                    let status = if approve { "approved" } else { "rejected" };
                    let max_uses: Option<i32> = r.try_get("", "max_uses")?;
                    let ttl: Option<i32> = r.try_get("", "ttl_secs")?;
                    tx.exec(
                        "UPDATE action_approvals SET status = $3, decided_by = $4, decided_at = now(),
                             uses_left = $5, expires_at = now() + make_interval(secs => $6)
                         WHERE tenant_id = $1 AND id = $2",
                        vec![
                            tx.tenant_id().into(),
                            approval.into(),
                            status.into(),
                            by.principal.into(),
                            max_uses.into(),
                            ttl.map(f64::from).into(),
                        ],
                    )
                    .await?;
                    let mut payload = json!({
                        "approval_id": approval, "agent_id": agent,
                        "args_digest": r.try_get::<String>("", "args_digest")?,
                        "max_uses": max_uses, "ttl_secs": ttl,
                    });
                    verdict.annotate(&mut payload);
                    let mut e =
                        Entry::new(format!("action_approval.{status}"), by.actor()).payload(payload);
                    e.action = Some(action);
                    e.resource = Some(resource);
                    e.decision = Some(if approve { "ALLOWED" } else { "BLOCKED" }.into());
                    Ok((e, None))
                })
            })
            .await?;
        match refused {
            None => Ok(receipt),
            Some(why) => Err(StoreError::Refused(
                Code::SelfApproval,
                format!("{why}, ledger seq {}", receipt.seq),
            )),
        }
    }
}

/// The delegation chain that ties `principal` to `agent`, if one counts (open tasks, and
/// closed ones of `initiative`).
pub(crate) async fn chain_with(
    tx: &TenantTx,
    principal: Uuid,
    agent: Uuid,
    initiative: Option<Uuid>,
) -> Result<Option<Chain>> {
    let mut graph = Graph {
        initiative,
        ..Graph::default()
    };
    for t in chains_of(tx, principal, initiative).await? {
        graph.tasks.insert(t.id, t);
    }
    Ok(graph.chain_between(principal, &[agent], &Default::default()))
}
