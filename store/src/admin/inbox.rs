//! What waits for people, and the state they watch: reviews a person may decide
//! (separation of duties applied, as for agents), action approvals and scope-change
//! requests pending, breakers, initiatives and artifacts.

use charter_core::engine::breaker::{DEFAULT_COOLDOWN_SECS, DEFAULT_THRESHOLD, State};
use charter_core::engine::provenance::Party;
use charter_core::status::{AgentStatus, ReviewStatus};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::Result;
use crate::engine::approvals::chain_with;
use crate::engine::views::{ReviewInfo, decidable_reviews};
use crate::error::state;

#[derive(Debug, Clone, PartialEq)]
pub struct PendingApproval {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub args_digest: String,
    pub status: ReviewStatus,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScopeChangeRequest {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub requested_scope: Value,
    pub reason: String,
    pub status: ReviewStatus,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BreakerInfo {
    pub agent_id: Uuid,
    pub agent_name: String,
    pub agent_status: AgentStatus,
    pub state: State,
    pub consecutive_failures: i32,
    pub threshold: i32,
    pub cooldown_secs: i32,
    pub opened_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InitiativeSummary {
    pub id: Uuid,
    pub name: String,
    pub template: String,
    pub risk: i16,
    pub stage: String,
    pub created_at: DateTime<Utc>,
}

impl crate::handles::Admin<'_> {
    /// Pending reviews this person may decide.
    pub async fn reviews_for_principal(
        self,
        tenant: Uuid,
        principal: Uuid,
    ) -> Result<Vec<ReviewInfo>> {
        let tx = self.tenant_tx(tenant).await?;
        let out = decidable_reviews(&tx, Party::Principal { id: principal }).await?;
        tx.rollback().await?;
        Ok(out)
    }

    /// Action approvals waiting for a decision this person may make, oldest first: not
    /// those of agents they are in one delegation chain with (separation of duties).
    pub async fn pending_action_approvals(
        self,
        tenant: Uuid,
        principal: Uuid,
    ) -> Result<Vec<PendingApproval>> {
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                "SELECT id, agent_id, action, resource_type, resource_id, args_digest, status,
                        requested_at, initiative_id
                 FROM action_approvals WHERE tenant_id = $1 AND status = 'pending'
                 ORDER BY requested_at LIMIT 200",
                vec![tenant.into()],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let agent_id: Uuid = r.try_get("", "agent_id")?;
            let initiative: Option<Uuid> = r.try_get("", "initiative_id")?;
            if chain_with(&tx, principal, agent_id, initiative)
                .await?
                .is_some()
            {
                continue;
            }
            out.push(PendingApproval {
                id: r.try_get("", "id")?,
                agent_id,
                action: r.try_get("", "action")?,
                resource_type: r.try_get("", "resource_type")?,
                resource_id: r.try_get("", "resource_id")?,
                args_digest: r.try_get("", "args_digest")?,
                status: state(r, "status")?,
                requested_at: r.try_get("", "requested_at")?,
            });
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// Scope-change requests waiting for a decision, oldest first.
    pub async fn pending_scope_changes(self, tenant: Uuid) -> Result<Vec<ScopeChangeRequest>> {
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                "SELECT id, agent_id, requested_scope, reason, status, requested_at
                 FROM scope_change_requests WHERE tenant_id = $1 AND status = 'pending'
                 ORDER BY requested_at LIMIT 200",
                vec![tenant.into()],
            )
            .await?;
        tx.rollback().await?;
        rows.iter()
            .map(|r| {
                Ok(ScopeChangeRequest {
                    id: r.try_get("", "id")?,
                    agent_id: r.try_get("", "agent_id")?,
                    requested_scope: r.try_get("", "requested_scope")?,
                    reason: r.try_get("", "reason")?,
                    status: state(r, "status")?,
                    requested_at: r.try_get("", "requested_at")?,
                })
            })
            .collect()
    }

    /// Every agent's breaker (defaults for agents that never had one).
    pub async fn breakers(self, tenant: Uuid) -> Result<Vec<BreakerInfo>> {
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                "SELECT a.id, a.name, a.status, COALESCE(b.state, 'closed') AS state,
                        COALESCE(b.consecutive_failures, 0) AS consecutive_failures,
                        COALESCE(b.threshold, $2) AS threshold, COALESCE(b.cooldown_secs, $3) AS cooldown_secs,
                        b.opened_at
                 FROM agents a LEFT JOIN breakers b ON b.tenant_id = a.tenant_id AND b.agent_id = a.id
                 WHERE a.tenant_id = $1 ORDER BY a.name",
                vec![
                    tenant.into(),
                    (DEFAULT_THRESHOLD as i32).into(),
                    (DEFAULT_COOLDOWN_SECS as i32).into(),
                ],
            )
            .await?;
        tx.rollback().await?;
        rows.iter()
            .map(|r| {
                Ok(BreakerInfo {
                    agent_id: r.try_get("", "id")?,
                    agent_name: r.try_get("", "name")?,
                    agent_status: state(r, "status")?,
                    state: state(r, "state")?,
                    consecutive_failures: r.try_get("", "consecutive_failures")?,
                    threshold: r.try_get("", "threshold")?,
                    cooldown_secs: r.try_get("", "cooldown_secs")?,
                    opened_at: r.try_get("", "opened_at")?,
                })
            })
            .collect()
    }

    /// Initiatives, newest first (at most 200).
    pub async fn initiatives(self, tenant: Uuid) -> Result<Vec<InitiativeSummary>> {
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                "SELECT id, name, template->>'name' AS template, risk, stage, created_at
                 FROM initiatives WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 200",
                vec![tenant.into()],
            )
            .await?;
        tx.rollback().await?;
        rows.iter()
            .map(|r| {
                Ok(InitiativeSummary {
                    id: r.try_get("", "id")?,
                    name: r.try_get("", "name")?,
                    template: r.try_get("", "template")?,
                    risk: r.try_get("", "risk")?,
                    stage: r.try_get("", "stage")?,
                    created_at: r.try_get("", "created_at")?,
                })
            })
            .collect()
    }
}

/// The decision that asked for an action approval: where it is in the ledger and the exact
/// (redacted) arguments it carried, for the approver to see what they approve.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    pub seq: i64,
    pub arguments: serde_json::Value,
    pub on_behalf_of: Option<String>,
}

impl crate::handles::Admin<'_> {
    /// The `PENDING_APPROVAL` decision behind `approval` (the agent's latest one for the
    /// same action, resource and argument digest), if its record body is still kept.
    pub async fn approval_request(
        self,
        tenant: Uuid,
        approval: &PendingApproval,
    ) -> Result<Option<ApprovalRequest>> {
        let tx = self.tenant_tx(tenant).await?;
        let row = tx
            .one(
                "SELECT seq, on_behalf_of, record::jsonb -> 'payload' -> 'arguments' AS arguments
                 FROM ledger_records
                 WHERE tenant_id = $1 AND actor_id = $2 AND kind = 'decision'
                   AND decision = 'PENDING_APPROVAL' AND action = $3 AND resource = $4
                   AND record IS NOT NULL
                   AND record::jsonb -> 'payload' ->> 'args_digest' = $5
                   AND recorded_at <= $6
                 ORDER BY seq DESC LIMIT 1",
                vec![
                    tenant.into(),
                    approval.agent_id.to_string().into(),
                    approval.action.clone().into(),
                    format!("{}:{}", approval.resource_type, approval.resource_id).into(),
                    approval.args_digest.clone().into(),
                    (approval.requested_at + chrono::Duration::seconds(5)).into(),
                ],
            )
            .await?;
        tx.rollback().await?;
        row.map(|r| {
            Ok(ApprovalRequest {
                seq: r.try_get("", "seq")?,
                arguments: r
                    .try_get::<Option<serde_json::Value>>("", "arguments")?
                    .unwrap_or(serde_json::Value::Null),
                on_behalf_of: r.try_get("", "on_behalf_of")?,
            })
        })
        .transpose()
    }
}
