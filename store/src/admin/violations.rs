//! Violations as people handle them: listed with filters (newest first, keyset pages),
//! acknowledged, resolved — each step a ledger record.

use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use serde_json::{Value, json};
use uuid::Uuid;

use super::entry;
use crate::engine::require_roles;
use crate::error::state;
use crate::{Result, StoreError};
use charter_core::status::{Severity, ViolationStatus};
use charter_core::tenant::{Acting, Role};

/// Who may acknowledge and resolve violations.
pub const HANDLERS: &[Role] = &[Role::Owner, Role::Admin, Role::ComplianceOfficer];

#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub id: Uuid,
    pub kind: String,
    pub severity: Severity,
    pub subject: Value,
    pub details: Value,
    pub status: ViolationStatus,
    pub created_at: DateTime<Utc>,
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ViolationFilter {
    pub status: Option<ViolationStatus>,
    pub severity: Option<Severity>,
    pub kind: Option<String>,
    /// Only violations older than this one (the previous page's last id).
    pub before: Option<Uuid>,
    pub limit: u32,
}

const COLUMNS: &str = "id, kind, severity, subject, details, status, created_at, acknowledged_by,
    acknowledged_at, resolved_by, resolved_at, resolution";

fn from_row(r: &QueryResult) -> Result<Violation> {
    Ok(Violation {
        id: r.try_get("", "id")?,
        kind: r.try_get("", "kind")?,
        severity: state(r, "severity")?,
        subject: r.try_get("", "subject")?,
        details: r.try_get("", "details")?,
        status: state(r, "status")?,
        created_at: r.try_get("", "created_at")?,
        acknowledged_by: r.try_get("", "acknowledged_by")?,
        acknowledged_at: r.try_get("", "acknowledged_at")?,
        resolved_by: r.try_get("", "resolved_by")?,
        resolved_at: r.try_get("", "resolved_at")?,
        resolution: r.try_get("", "resolution")?,
    })
}

impl crate::handles::Admin<'_> {
    /// A page of violations, newest first; the `bool` says whether more follow.
    pub async fn list_violations(
        self,
        tenant: Uuid,
        f: ViolationFilter,
    ) -> Result<(Vec<Violation>, bool)> {
        let limit = i64::from(f.limit.clamp(1, 200));
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                &format!(
                    "SELECT {COLUMNS} FROM violations
                     WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)
                       AND ($3::text IS NULL OR severity = $3) AND ($4::text IS NULL OR kind = $4)
                       AND ($5::uuid IS NULL OR (created_at, id) <
                            (SELECT created_at, id FROM violations WHERE tenant_id = $1 AND id = $5))
                     ORDER BY created_at DESC, id DESC LIMIT $6"
                ),
                vec![
                    tenant.into(),
                    f.status.map(ViolationStatus::as_str).into(),
                    f.severity.map(Severity::as_str).into(),
                    f.kind.into(),
                    f.before.into(),
                    (limit + 1).into(),
                ],
            )
            .await?;
        tx.rollback().await?;
        let mut out: Vec<Violation> = rows.iter().map(from_row).collect::<Result<_>>()?;
        let more = out.len() as i64 > limit;
        out.truncate(limit as usize);
        Ok((out, more))
    }

    pub async fn violation(self, tenant: Uuid, id: Uuid) -> Result<Violation> {
        let tx = self.tenant_tx(tenant).await?;
        let row = tx
            .one(
                &format!("SELECT {COLUMNS} FROM violations WHERE tenant_id = $1 AND id = $2"),
                vec![tenant.into(), id.into()],
            )
            .await?
            .ok_or(StoreError::NotFound("violation"))?;
        tx.rollback().await?;
        from_row(&row)
    }

    /// `open → acknowledged`.
    pub async fn acknowledge_violation(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        id: Uuid,
    ) -> Result<Violation> {
        self.move_violation(tenant, by, id, None).await
    }

    /// `open | acknowledged → resolved`, with what was done about it.
    pub async fn resolve_violation(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        id: Uuid,
        resolution: String,
    ) -> Result<Violation> {
        let n = resolution.trim().chars().count();
        if n == 0 || n > 2000 {
            return Err(StoreError::Invalid(
                "resolution: 1 to 2000 characters".into(),
            ));
        }
        self.move_violation(tenant, by, id, Some(resolution)).await
    }

    async fn move_violation(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        id: Uuid,
        resolution: Option<String>,
    ) -> Result<Violation> {
        let by: Acting = by.into();
        let (_, v) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, HANDLERS).await?;
                    let row = tx
                        .one(
                            "SELECT status, kind, severity FROM violations WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                            vec![tx.tenant_id().into(), id.into()],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("violation"))?;
                    let from: ViolationStatus = state(&row, "status")?;
                    let (to, sql) = match &resolution {
                        None => (ViolationStatus::Acknowledged,
                                 "UPDATE violations SET status = 'acknowledged', acknowledged_by = $3,
                                      acknowledged_at = now() WHERE tenant_id = $1 AND id = $2"),
                        Some(_) => (ViolationStatus::Resolved,
                                    "UPDATE violations SET status = 'resolved', resolved_by = $3,
                                         resolved_at = now(), resolution = $4 WHERE tenant_id = $1 AND id = $2"),
                    };
                    let allowed = matches!(
                        (from, to),
                        (ViolationStatus::Open, _) | (ViolationStatus::Acknowledged, ViolationStatus::Resolved)
                    );
                    if !allowed {
                        return Err(StoreError::Conflict(format!("this violation is {from}; it cannot become {to}")));
                    }
                    let mut values = vec![tx.tenant_id().into(), id.into(), by.principal.into()];
                    if let Some(r) = &resolution {
                        values.push(r.clone().into());
                    }
                    tx.exec(sql, values).await?;
                    let v = tx
                        .one(
                            &format!("SELECT {COLUMNS} FROM violations WHERE tenant_id = $1 AND id = $2"),
                            vec![tx.tenant_id().into(), id.into()],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("violation"))?;
                    let e = entry(
                        &format!("violation.{to}"),
                        &by,
                        Some(format!("violation:{id}")),
                        json!({"violation_id": id, "kind": row.try_get::<String>("", "kind")?,
                               "severity": row.try_get::<String>("", "severity")?,
                               "from": from, "to": to, "resolution": resolution}),
                    );
                    Ok((e, from_row(&v)?))
                })
            })
            .await?;
        Ok(v)
    }
}
