//! Action approvals: which actions need one, the pending requests `authorize` opens, and
//! the human decision that grants a bounded number of uses for a bounded time, bound to
//! the exact arguments' digest.

use charter_core::ledger::{Actor, Entry};
use charter_core::tenant::Role;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::require_roles;
use crate::ledger::Receipt;
use crate::{Result, Store, StoreError, TenantTx};

/// Where an action stands with respect to approval.
pub(crate) enum ApprovalState {
    /// An approval for these exact arguments is valid now (to be consumed if allowed).
    Valid(Uuid),
    /// Waiting for a human (an existing request, or one opened now).
    Pending(Uuid),
}

/// For an action that needs approval: the valid approval, or the pending request (opened
/// here when there is none for these exact arguments).
pub(crate) async fn state(
    tx: &TenantTx,
    agent: Uuid,
    action: &str,
    resource_type: &str,
    resource_id: &str,
    digest: &str,
    now: DateTime<Utc>,
) -> Result<ApprovalState> {
    let rows = tx
        .all(
            "SELECT id, status, uses_left, expires_at FROM action_approvals
             WHERE tenant_id = $1 AND agent_id = $2 AND action = $3 AND resource_type = $4
               AND resource_id = $5 AND args_digest = $6 AND status <> 'rejected'
             ORDER BY requested_at DESC",
            vec![
                tx.tenant_id().into(),
                agent.into(),
                action.into(),
                resource_type.into(),
                resource_id.into(),
                digest.into(),
            ],
        )
        .await?;
    let mut pending = None;
    for r in &rows {
        let id: Uuid = r.try_get("", "id")?;
        match r.try_get::<String>("", "status")?.as_str() {
            "approved" => {
                let uses: Option<i32> = r.try_get("", "uses_left")?;
                let expires: Option<DateTime<Utc>> = r.try_get("", "expires_at")?;
                if uses.is_none_or(|u| u > 0) && expires.is_none_or(|e| e > now) {
                    return Ok(ApprovalState::Valid(id));
                }
            }
            _ => pending = pending.or(Some(id)),
        }
    }
    if let Some(id) = pending {
        return Ok(ApprovalState::Pending(id));
    }
    let id = Uuid::now_v7();
    tx.exec(
        "INSERT INTO action_approvals (tenant_id, id, agent_id, action, resource_type, resource_id, args_digest)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![
            tx.tenant_id().into(),
            id.into(),
            agent.into(),
            action.into(),
            resource_type.into(),
            resource_id.into(),
            digest.into(),
        ],
    )
    .await?;
    Ok(ApprovalState::Pending(id))
}

/// Uses one use of an approval (an ALLOWED decision was made with it).
pub(crate) async fn consume(tx: &TenantTx, approval: Uuid) -> Result<()> {
    tx.exec(
        "UPDATE action_approvals SET uses_left = uses_left - 1
         WHERE tenant_id = $1 AND id = $2 AND uses_left IS NOT NULL",
        vec![tx.tenant_id().into(), approval.into()],
    )
    .await?;
    Ok(())
}

const APPROVERS: &[Role] = &[Role::Owner, Role::Admin, Role::Approver];

impl Store {
    /// From now on `action` on `resource_type` needs an approval; an approval grants
    /// `max_uses` uses (unlimited if `None`) for `ttl_secs` (forever if `None`).
    pub async fn require_approval(
        &self,
        tenant: Uuid,
        principal: Uuid,
        action: String,
        resource_type: String,
        max_uses: Option<i32>,
        ttl_secs: Option<i32>,
    ) -> Result<Receipt> {
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, principal, super::SCOPE_AUTHORITY).await?;
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
                    let e = Entry::new("approval_rule.set", Actor::principal(principal)).payload(json!({
                        "action": action, "resource_type": resource_type,
                        "max_uses": max_uses, "ttl_secs": ttl_secs,
                    }));
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }

    /// A human approves or rejects a pending action approval.
    pub async fn decide_action_approval(
        &self,
        tenant: Uuid,
        approval: Uuid,
        principal: Uuid,
        approve: bool,
    ) -> Result<Receipt> {
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, principal, APPROVERS).await?;
                    let r = tx
                        .one(
                            "SELECT a.status, a.agent_id, a.action, a.resource_type, a.resource_id, a.args_digest,
                                    r.max_uses, r.ttl_secs
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
                            principal.into(),
                            max_uses.into(),
                            ttl.map(f64::from).into(),
                        ],
                    )
                    .await?;
                    let agent: Uuid = r.try_get("", "agent_id")?;
                    let mut e = Entry::new(format!("action_approval.{status}"), Actor::principal(principal))
                        .payload(json!({
                            "approval_id": approval, "agent_id": agent,
                            "args_digest": r.try_get::<String>("", "args_digest")?,
                            "max_uses": max_uses, "ttl_secs": ttl,
                        }));
                    e.action = Some(r.try_get("", "action")?);
                    e.resource = Some(format!(
                        "{}:{}",
                        r.try_get::<String>("", "resource_type")?,
                        r.try_get::<String>("", "resource_id")?
                    ));
                    e.decision = Some(if approve { "ALLOWED" } else { "BLOCKED" }.into());
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }
}
