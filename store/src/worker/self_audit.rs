//! The daily self-audit: one signed summary per tenant of what needs a person's eyes —
//! how far the ledger is verified and against which checkpoint, open violations by
//! severity, tripped breakers, approvals and tasks past half their time, signing keys due
//! for rotation, trial days left — with the items flagged for review. Stored whole; its
//! SHA-256 (over the canonical JSON) is in the `self_audit.completed` record.

use charter_core::ledger::jcs;
use charter_core::ledger::record::hash_bytes;
use charter_core::ledger::{Actor, Entry};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx};

/// A signing key older than this is flagged for rotation.
const KEY_ROTATION_DAYS: i64 = 335;

#[derive(Debug, Clone, PartialEq)]
pub struct SelfAudit {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub report: Value,
    pub sha256: String,
    /// Where its `self_audit.completed` record is.
    pub seq: Option<i64>,
}

async fn count(tx: &TenantTx, sql: &str) -> Result<i64> {
    Ok(tx
        .one(sql, vec![tx.tenant_id().into()])
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// What the report says, read in one transaction.
async fn report(tx: &TenantTx, now: DateTime<Utc>) -> Result<Value> {
    let scan = tx
        .one(
            "SELECT s.next_seq, s.full_scanned_at,
                    (SELECT max(c.tree_size) FROM ledger_checkpoints c
                     WHERE c.tenant_id = s.tenant_id AND c.tree_size <= s.next_seq) AS checkpoint
             FROM scan_state s WHERE s.tenant_id = $1",
            vec![tx.tenant_id().into()],
        )
        .await?;
    let (verified_to, full_at, checkpoint): (Option<i64>, Option<DateTime<Utc>>, Option<i64>) =
        match &scan {
            Some(r) => (
                Some(r.try_get("", "next_seq")?),
                r.try_get("", "full_scanned_at")?,
                r.try_get("", "checkpoint")?,
            ),
            None => (None, None, None),
        };
    let integrity = count(tx, "SELECT count(*) AS n FROM violations WHERE tenant_id = $1 AND kind = 'ledger_integrity' AND status <> 'resolved'").await?;
    let by_severity: Value = tx
        .one(
            "SELECT COALESCE(jsonb_object_agg(severity, n), '{}') AS v FROM
               (SELECT severity, count(*) AS n FROM violations WHERE tenant_id = $1 AND status = 'open' GROUP BY severity) s",
            vec![tx.tenant_id().into()],
        )
        .await?
        .map(|r| r.try_get("", "v"))
        .transpose()?
        .unwrap_or_else(|| json!({}));
    let tripped = count(
        tx,
        "SELECT count(*) AS n FROM breakers WHERE tenant_id = $1 AND state = 'open'",
    )
    .await?;
    let approvals_late = count(
        tx,
        "SELECT count(*) AS n FROM action_approvals WHERE tenant_id = $1 AND status = 'pending'
        AND expires_at IS NOT NULL AND now() > requested_at + (expires_at - requested_at) / 2",
    )
    .await?;
    let tasks_late = count(
        tx,
        "SELECT count(*) AS n FROM tasks WHERE tenant_id = $1 AND status = 'open'
        AND deadline IS NOT NULL AND now() > created_at + (deadline - created_at) / 2",
    )
    .await?;
    let old_keys = count(
        tx,
        &format!(
            "SELECT count(*) AS n FROM tenant_signing_keys WHERE tenant_id = $1
        AND valid_until IS NULL AND valid_from < now() - interval '{KEY_ROTATION_DAYS} days'"
        ),
    )
    .await?;
    let trial_ends: Option<DateTime<Utc>> = tx
        .one(
            "SELECT trial_ends_at FROM tenants WHERE id = $1 AND subscription_status = 'trialing'",
            vec![tx.tenant_id().into()],
        )
        .await?
        .map(|r| r.try_get("", "trial_ends_at"))
        .transpose()?
        .flatten();
    let trial_days_left = trial_ends.map(|t| (t - now).num_days().max(0));

    let mut flagged: Vec<String> = Vec::new();
    if verified_to.is_none() {
        flagged.push("the ledger has not been scanned yet".into());
    }
    if integrity > 0 {
        flagged.push(format!(
            "{integrity} ledger integrity problems are not resolved"
        ));
    }
    for sev in ["critical", "high"] {
        if let Some(n) = by_severity.get(sev).and_then(Value::as_i64) {
            flagged.push(format!("{n} open {sev} violations"));
        }
    }
    if tripped > 0 {
        flagged.push(format!("{tripped} agents' breakers are open"));
    }
    if approvals_late + tasks_late > 0 {
        flagged.push(format!(
            "{approvals_late} approvals and {tasks_late} tasks are past half their time"
        ));
    }
    if old_keys > 0 {
        flagged.push("the tenant's signing key is due for rotation".into());
    }
    if trial_days_left.is_some_and(|d| d <= 3) {
        flagged.push("the trial ends within 3 days".into());
    }
    Ok(json!({
        "generated_at": now,
        "ledger": {"verified_to_seq": verified_to, "checkpoint_tree_size": checkpoint,
                   "last_full_pass": full_at, "integrity_problems": integrity},
        "open_violations": by_severity,
        "tripped_breakers": tripped,
        "approvals_past_half_time": approvals_late,
        "tasks_past_half_time": tasks_late,
        "signing_keys_due_for_rotation": old_keys,
        "trial_days_left": trial_days_left,
        "flagged": flagged,
    }))
}

fn from_row(r: &sea_orm::QueryResult) -> Result<SelfAudit> {
    Ok(SelfAudit {
        id: r.try_get("", "id")?,
        created_at: r.try_get("", "created_at")?,
        report: r.try_get("", "report")?,
        sha256: r.try_get("", "sha256")?,
        seq: r.try_get("", "seq")?,
    })
}

impl crate::handles::Worker<'_> {
    /// Every tenant with a log, and when its last self-audit was.
    pub async fn self_audit_tenants(self) -> Result<Vec<(Uuid, Option<DateTime<Utc>>)>> {
        let rows = self
            .platform_all(
                "SELECT tenant_id, last_at FROM charter_self_audit_tenants()",
                vec![],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "last_at")?)))
            .collect()
    }

    /// Audits `tenant` now: stores the report and signs its digest into the ledger.
    pub async fn self_audit(self, tenant: Uuid) -> Result<SelfAudit> {
        let (receipt, mut audit) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let now = Utc::now();
                    let report = report(tx, now).await?;
                    let sha256 = hex::encode(hash_bytes(&jcs::to_vec(&report)));
                    let id = Uuid::now_v7();
                    tx.exec(
                        "INSERT INTO self_audits (tenant_id, id, created_at, report, sha256)
                         VALUES ($1, $2, $3, $4, $5)",
                        vec![
                            tx.tenant_id().into(),
                            id.into(),
                            now.into(),
                            report.clone().into(),
                            sha256.clone().into(),
                        ],
                    )
                    .await?;
                    crate::notifications::enqueue(
                        tx,
                        charter_core::webhook::Event::SelfAuditCompleted,
                        None,
                        json!({"audit_id": id, "sha256": sha256, "flagged": report["flagged"]}),
                    )
                    .await?;
                    let e = Entry::new("self_audit.completed", Actor::system()).payload(json!({
                        "audit_id": id, "sha256": sha256, "flagged": report["flagged"],
                    }));
                    Ok((
                        e,
                        SelfAudit {
                            id,
                            created_at: now,
                            report,
                            sha256,
                            seq: None,
                        },
                    ))
                })
            })
            .await?;
        let tx = self.tenant_tx(tenant).await?;
        tx.exec(
            "UPDATE self_audits SET seq = $3 WHERE tenant_id = $1 AND id = $2",
            vec![tenant.into(), audit.id.into(), (receipt.seq as i64).into()],
        )
        .await?;
        tx.commit().await?;
        audit.seq = Some(receipt.seq as i64);
        Ok(audit)
    }
}

impl crate::handles::Admin<'_> {
    /// The tenant's self-audits, newest first (at most `limit`).
    pub async fn self_audits(self, tenant: Uuid, limit: u32) -> Result<Vec<SelfAudit>> {
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                "SELECT id, created_at, report, sha256, seq FROM self_audits WHERE tenant_id = $1
                 ORDER BY created_at DESC LIMIT $2",
                vec![tenant.into(), i64::from(limit.clamp(1, 200)).into()],
            )
            .await?;
        tx.rollback().await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn self_audit(self, tenant: Uuid, id: Uuid) -> Result<SelfAudit> {
        let tx = self.tenant_tx(tenant).await?;
        let row = tx
            .one(
                "SELECT id, created_at, report, sha256, seq FROM self_audits WHERE tenant_id = $1 AND id = $2",
                vec![tenant.into(), id.into()],
            )
            .await?
            .ok_or(StoreError::NotFound("self-audit"))?;
        tx.rollback().await?;
        from_row(&row)
    }
}

/// The self-audit's figures, read now (the dashboard's overview): the same reading as the
/// daily report, not stored or recorded.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Health {
    pub ledger: LedgerHealth,
    /// Open violations by severity.
    pub open_violations: std::collections::BTreeMap<String, i64>,
    pub tripped_breakers: i64,
    pub approvals_past_half_time: i64,
    pub tasks_past_half_time: i64,
    pub signing_keys_due_for_rotation: i64,
    pub flagged: Vec<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct LedgerHealth {
    /// The scanner has verified records `0..verified_to_seq`.
    pub verified_to_seq: Option<i64>,
    /// The largest signed checkpoint inside what is verified.
    pub checkpoint_tree_size: Option<i64>,
    pub last_full_pass: Option<DateTime<Utc>>,
    pub integrity_problems: i64,
}

impl crate::handles::Admin<'_> {
    pub async fn health(self, tenant: Uuid) -> Result<Health> {
        let report = self
            .read(tenant, |tx| Box::pin(report(tx, Utc::now())))
            .await?;
        serde_json::from_value(report).map_err(|e| StoreError::Internal(format!("health: {e}")))
    }
}
