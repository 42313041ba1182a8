//! At each budget cycle's end the worker records what every agent spent and dispatched in
//! it (`budget.cycle_closed`), so the ledger itself shows the spend per cycle.

use charter_core::ledger::{Actor, Entry};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Result, StoreError};

impl crate::handles::Worker<'_> {
    /// Closes every ended cycle of the last week not closed yet; returns how many.
    pub async fn close_budget_cycles(self) -> Result<usize> {
        let rows = self
            .platform_all(
                "SELECT tenant_id, cycle_start, cycle_secs FROM charter_cycles_due()",
                vec![],
            )
            .await?;
        let mut closed = 0;
        for r in rows {
            let tenant: Uuid = r.try_get("", "tenant_id")?;
            let start: DateTime<Utc> = r.try_get("", "cycle_start")?;
            let secs: i32 = r.try_get("", "cycle_secs")?;
            let done = self
                .append_with(tenant, move |tx| {
                    Box::pin(async move {
                        let fresh = tx
                            .exec(
                                "INSERT INTO budget_cycles_closed (tenant_id, cycle_start) VALUES ($1, $2)
                                 ON CONFLICT DO NOTHING",
                                vec![tx.tenant_id().into(), start.into()],
                            )
                            .await?;
                        if fresh == 0 {
                            return Err(StoreError::Conflict("the cycle is closed".into()));
                        }
                        let usage: Value = tx
                            .one(
                                "SELECT COALESCE(jsonb_agg(jsonb_build_object('agent_id', a.id, 'agent', a.name,
                                         'spend', u.spend, 'dispatches', u.dispatches) ORDER BY a.name), '[]') AS v
                                 FROM budget_usage u JOIN agents a ON a.tenant_id = u.tenant_id AND a.id::text = u.subject
                                 WHERE u.tenant_id = $1 AND u.cycle_start = $2",
                                vec![tx.tenant_id().into(), start.into()],
                            )
                            .await?
                            .map(|r| r.try_get("", "v"))
                            .transpose()?
                            .unwrap_or_else(|| json!([]));
                        let e = Entry::new("budget.cycle_closed", Actor::system()).payload(json!({
                            "cycle_start": start, "cycle_secs": secs, "agents": usage,
                        }));
                        Ok((e, ()))
                    })
                })
                .await;
            match done {
                Ok(_) => closed += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(e) => tracing::error!(%tenant, error = %e, "closing a budget cycle failed"),
            }
        }
        Ok(closed)
    }
}
