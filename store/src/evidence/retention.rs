//! Retention (Articles 19 and 26(6): at least six months) and legal holds. The worker's
//! retention job removes record bodies past retention through `charter_ledger_prune`, the
//! one database function allowed to touch a ledger record (and only its body); each
//! change here and each pruning is itself a ledger record.

use charter_core::tenant::Acting;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::admin::{ADMINS, entry};
use crate::engine::require_roles;
use crate::{Result, StoreError, TenantTx};

/// Six months, the least Articles 19(1) and 26(6) allow.
pub const FLOOR_DAYS: i32 = 183;
/// Ten years, kept when a tenant sets nothing.
pub const DEFAULT_DAYS: i32 = 3653;
pub const MAX_DAYS: i32 = 36525;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub id: Uuid,
    pub system: Option<Uuid>,
    pub reason: String,
    pub placed_by: Uuid,
    pub placed_at: DateTime<Utc>,
    pub released_by: Option<Uuid>,
    pub released_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub retention_days: i32,
    pub holds: Vec<LegalHold>,
}

/// What one pruning removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub records: i64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
}

async fn days(tx: &TenantTx) -> Result<i32> {
    Ok(tx
        .one(
            "SELECT retention_days FROM ledger_retention WHERE tenant_id = $1",
            vec![tx.tenant_id().into()],
        )
        .await?
        .map(|r| r.try_get::<i32>("", "retention_days"))
        .transpose()?
        .unwrap_or(DEFAULT_DAYS))
}

async fn holds(tx: &TenantTx) -> Result<Vec<LegalHold>> {
    tx.all(
        "SELECT id, system_id, reason, placed_by, placed_at, released_by, released_at
         FROM legal_holds WHERE tenant_id = $1 ORDER BY placed_at DESC, id",
        vec![tx.tenant_id().into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(LegalHold {
            id: r.try_get("", "id")?,
            system: r.try_get("", "system_id")?,
            reason: r.try_get("", "reason")?,
            placed_by: r.try_get("", "placed_by")?,
            placed_at: r.try_get("", "placed_at")?,
            released_by: r.try_get("", "released_by")?,
            released_at: r.try_get("", "released_at")?,
        })
    })
    .collect()
}

async fn hold(tx: &TenantTx, id: Uuid) -> Result<LegalHold> {
    holds(tx)
        .await?
        .into_iter()
        .find(|h| h.id == id)
        .ok_or(StoreError::NotFound("legal hold"))
}

fn hold_resource(system: Option<Uuid>) -> Option<String> {
    system.map(|s| format!("ai_system:{s}"))
}

/// Marker: pruning found nothing, so no record is appended.
const NOTHING: &str = "nothing to prune";

impl crate::handles::Admin<'_> {
    /// The tenant's retention and its legal holds (released ones too).
    pub async fn retention(self, tenant: Uuid) -> Result<Retention> {
        self.read(tenant, |tx| {
            Box::pin(async move {
                Ok(Retention {
                    retention_days: days(tx).await?,
                    holds: holds(tx).await?,
                })
            })
        })
        .await
    }

    /// Sets how long record bodies are kept (owner or admin); never below six months.
    pub async fn set_retention(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        days_: i32,
    ) -> Result<i32> {
        let by: Acting = by.into();
        if !(FLOOR_DAYS..=MAX_DAYS).contains(&days_) {
            return Err(StoreError::Invalid(format!(
                "retention_days: from {FLOOR_DAYS} (six months: Articles 19(1) and 26(6) of the \
                 AI Act) to {MAX_DAYS} days"
            )));
        }
        let (_, d) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    let before = days(tx).await?;
                    tx.exec(
                        "INSERT INTO ledger_retention (tenant_id, retention_days, updated_by)
                         VALUES ($1, $2, $3)
                         ON CONFLICT (tenant_id) DO UPDATE SET retention_days = $2,
                             updated_by = $3, updated_at = now()",
                        vec![tx.tenant_id().into(), days_.into(), by.principal.into()],
                    )
                    .await?;
                    let e = entry(
                        "retention.changed",
                        &by,
                        None,
                        json!({"retention_days": {"from": before, "to": days_}}),
                    );
                    Ok((e, days_))
                })
            })
            .await?;
        Ok(d)
    }

    /// Places a legal hold on a system's records, or (`system` None) on all the tenant's.
    pub async fn place_legal_hold(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        system: Option<Uuid>,
        reason: String,
    ) -> Result<LegalHold> {
        let by: Acting = by.into();
        let reason = reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(StoreError::Invalid("reason: 1 to 2,000 characters".into()));
        }
        let id = Uuid::now_v7();
        let (_, hold) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    if let Some(s) = system
                        && !tx.exists("ai_systems", s).await?
                    {
                        return Err(StoreError::Invalid(
                            "system_id: no such AI system in this tenant".into(),
                        ));
                    }
                    tx.exec(
                        "INSERT INTO legal_holds (tenant_id, id, system_id, reason, placed_by)
                         VALUES ($1, $2, $3, $4, $5)",
                        vec![
                            tx.tenant_id().into(),
                            id.into(),
                            system.into(),
                            reason.clone().into(),
                            by.principal.into(),
                        ],
                    )
                    .await?;
                    let hold = hold(tx, id).await?;
                    let e = entry(
                        "legal_hold.placed",
                        &by,
                        hold_resource(system),
                        json!({"hold_id": id, "system_id": system, "reason": reason}),
                    );
                    Ok((e, hold))
                })
            })
            .await?;
        Ok(hold)
    }

    /// Releases an active hold (owner or admin).
    pub async fn release_legal_hold(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        id: Uuid,
    ) -> Result<LegalHold> {
        let by: Acting = by.into();
        let (_, hold) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    let n = tx
                        .exec(
                            "UPDATE legal_holds SET released_by = $3, released_at = now()
                             WHERE tenant_id = $1 AND id = $2 AND released_at IS NULL",
                            vec![tx.tenant_id().into(), id.into(), by.principal.into()],
                        )
                        .await?;
                    let hold = hold(tx, id).await?;
                    if n == 0 {
                        return Err(StoreError::Conflict("the hold is already released".into()));
                    }
                    let e = entry(
                        "legal_hold.released",
                        &by,
                        hold_resource(hold.system),
                        json!({"hold_id": id, "system_id": hold.system}),
                    );
                    Ok((e, hold))
                })
            })
            .await?;
        Ok(hold)
    }
}

impl crate::handles::Worker<'_> {
    /// Removes record bodies past retention for every tenant that has some; each pruning
    /// is recorded (`ledger.pruned`) in the same transaction. Returns the records pruned.
    pub async fn prune_ledgers(self) -> Result<i64> {
        let due = self
            .platform_all("SELECT tenant_id FROM charter_retention_due()", vec![])
            .await?;
        let mut total = 0;
        for row in due {
            let tenant: Uuid = row.try_get("", "tenant_id")?;
            match self.prune(tenant).await {
                Ok(p) => total += p.records,
                Err(e) => tracing::error!(%tenant, error = %e, "pruning failed"),
            }
        }
        Ok(total)
    }

    /// Prunes one tenant now (what the job does for each).
    pub async fn prune(self, tenant: Uuid) -> Result<Pruned> {
        let result = self
            .append_with(tenant, |tx| {
                Box::pin(async move {
                    let r = tx
                        .one("SELECT * FROM charter_ledger_prune()", vec![])
                        .await?
                        .ok_or_else(|| StoreError::Internal("pruning returned nothing".into()))?;
                    let p = Pruned {
                        records: r.try_get("", "pruned")?,
                        first_seq: r.try_get("", "first_seq")?,
                        last_seq: r.try_get("", "last_seq")?,
                    };
                    if p.records == 0 {
                        // Rolls the (empty) work back: no record of nothing.
                        return Err(StoreError::Internal(NOTHING.into()));
                    }
                    let cutoff: Option<DateTime<Utc>> = r.try_get("", "cutoff")?;
                    let days: Option<i32> = r.try_get("", "retention_days")?;
                    let mut e = charter_core::ledger::Entry::new(
                        "ledger.pruned",
                        charter_core::ledger::Actor::system(),
                    )
                    .payload(json!({
                        "records": p.records, "first_seq": p.first_seq, "last_seq": p.last_seq,
                        "recorded_before": cutoff.map(charter_core::ledger::record::format_time),
                        "retention_days": days,
                    }));
                    e.reason = Some("retention".into());
                    Ok((e, p))
                })
            })
            .await;
        match result {
            Ok((_, p)) => Ok(p),
            Err(StoreError::Internal(m)) if m == NOTHING => Ok(Pruned {
                records: 0,
                first_seq: None,
                last_seq: None,
            }),
            Err(e) => Err(e),
        }
    }
}
