//! Scope changes an agent asks for. The request is recorded and changes nothing; only a
//! principal with authority (owner or admin) can approve it, which applies the scope in
//! the same transaction as the record of the approval.

use charter_core::ledger::{Actor, Entry};
use charter_core::policy::Scope;
use charter_core::tenant::Acting;
use serde_json::json;
use uuid::Uuid;

use super::{SCOPE_AUTHORITY, apply_scope, require_roles};
use crate::ledger::Receipt;
use crate::{Result, StoreError, agents};

impl crate::handles::Engine<'_> {
    /// An agent asks for `scope`. Returns the request id and the record's receipt.
    pub async fn request_scope_change(
        self,
        tenant: Uuid,
        agent: Uuid,
        scope: Scope,
        reason: String,
    ) -> Result<(Uuid, Receipt)> {
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid("reason: must not be empty".into()));
        }
        let id = Uuid::now_v7();
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let a = agents::get(tx, agent).await?;
                    let row = super::policies::policy_row(tx).await?;
                    scope
                        .validate(&row.catalog)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    let value = serde_json::to_value(&scope)
                        .map_err(|e| StoreError::Internal(e.to_string()))?;
                    tx.exec(
                        "INSERT INTO scope_change_requests (tenant_id, id, agent_id, requested_scope, reason)
                         VALUES ($1, $2, $3, $4, $5)",
                        vec![tx.tenant_id().into(), id.into(), agent.into(), value.clone().into(), reason.clone().into()],
                    )
                    .await?;
                    let mut e = Entry::new("scope_change.requested", Actor::agent(agent)).payload(
                        json!({"request_id": id, "requested_scope": value, "reason": reason}),
                    );
                    e.on_behalf_of = Some(format!("principal:{}", a.responsible_principal_id));
                    e.resource = Some(format!("agent:{agent}"));
                    e.decision = Some("PENDING_APPROVAL".into());
                    Ok((e, ()))
                })
            })
            .await?;
        Ok((id, receipt))
    }

    /// A principal approves or rejects a pending request. Approval needs the owner or
    /// admin role; it applies the requested scope in the same transaction.
    pub async fn decide_scope_change(
        self,
        tenant: Uuid,
        request: Uuid,
        by: impl Into<Acting>,
        verdict: impl Into<super::verdict::Verdict>,
    ) -> Result<Receipt> {
        let by: Acting = by.into();
        let verdict: super::verdict::Verdict = verdict.into();
        let approve = verdict.approve;
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, SCOPE_AUTHORITY).await?;
                    let row = tx
                        .one(
                            "SELECT agent_id, requested_scope, status FROM scope_change_requests
                             WHERE tenant_id = $1 AND id = $2",
                            vec![tx.tenant_id().into(), request.into()],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("scope change request"))?;
                    if row.try_get::<String>("", "status")? != "pending" {
                        return Err(StoreError::Conflict("this request is already decided".into()));
                    }
                    let agent: Uuid = row.try_get("", "agent_id")?;
                    let value: serde_json::Value = row.try_get("", "requested_scope")?;
                    if approve {
                        let scope: Scope = serde_json::from_value(value.clone())
                            .map_err(|e| StoreError::Internal(format!("stored scope: {e}")))?;
                        apply_scope(tx, agent, &scope, by.principal).await?;
                    }
                    let status = if approve { "approved" } else { "rejected" };
                    tx.exec(
                        "UPDATE scope_change_requests SET status = $3, decided_by = $4, decided_at = now()
                         WHERE tenant_id = $1 AND id = $2",
                        vec![tx.tenant_id().into(), request.into(), status.into(), by.principal.into()],
                    )
                    .await?;
                    let mut payload = json!({"request_id": request, "agent_id": agent, "scope": value});
                    verdict.annotate(&mut payload);
                    let mut e =
                        Entry::new(format!("scope_change.{status}"), by.actor()).payload(payload);
                    e.resource = Some(format!("agent:{agent}"));
                    e.decision = Some(if approve { "ALLOWED" } else { "BLOCKED" }.into());
                    Ok((e, ()))
                })
            })
            .await?;
        if approve {
            self.announce_policy_change(tenant).await;
        }
        Ok(receipt)
    }
}
