//! The task lifecycle: `open → completed | failed | expired`. The assignee closes its task
//! with a result; the worker expires open tasks past their deadline. Each transition is a
//! ledger record in the transaction that makes it.

use charter_core::ledger::{Actor, Entry};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ledger::Receipt;
use crate::{Result, StoreError};

impl crate::handles::Engine<'_> {
    /// Gives an open task a deadline (its delegator's choice, set right after delegation).
    pub async fn set_task_deadline(
        self,
        tenant: Uuid,
        task: Uuid,
        deadline: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let tx = self.tenant_tx(tenant).await?;
        let n = tx
            .exec(
                "UPDATE tasks SET deadline = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'open'",
                vec![tenant.into(), task.into(), deadline.into()],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound("open task"));
        }
        tx.commit().await
    }

    /// The assignee ends its task: `completed` or `failed`, with its result.
    pub async fn complete_task(
        self,
        tenant: Uuid,
        agent: Uuid,
        task: Uuid,
        success: bool,
        result: Value,
    ) -> Result<Receipt> {
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let r = tx
                        .one(
                            "SELECT assignee_agent, status FROM tasks WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                            vec![tx.tenant_id().into(), task.into()],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("task"))?;
                    if r.try_get::<Uuid>("", "assignee_agent")? != agent {
                        return Err(StoreError::Forbidden("only the assignee can close a task".into()));
                    }
                    if r.try_get::<String>("", "status")? != "open" {
                        return Err(StoreError::Conflict("the task is not open".into()));
                    }
                    let status = if success { "completed" } else { "failed" };
                    tx.exec(
                        "UPDATE tasks SET status = $3, ended_at = now(), result = $4 WHERE tenant_id = $1 AND id = $2",
                        vec![tx.tenant_id().into(), task.into(), status.into(), result.clone().into()],
                    )
                    .await?;
                    let e = Entry::new(format!("task.{status}"), Actor::agent(agent))
                        .payload(json!({"task_id": task, "result": result}));
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }

    /// The worker's job: expire every open task past its deadline, recorded per tenant.
    /// Returns how many tasks expired.
    pub async fn expire_overdue_tasks(self) -> Result<usize> {
        let tenants = self
            .platform_all(
                "SELECT tenant_id FROM charter_tenants_with_overdue_tasks()",
                vec![],
            )
            .await?;
        let mut expired = 0;
        for row in tenants {
            let tenant: Uuid = row.try_get("", "tenant_id")?;
            let done = self
                .append_with(tenant, move |tx| {
                    Box::pin(async move {
                        let ids: Vec<Uuid> = tx
                            .all(
                                "UPDATE tasks SET status = 'expired', ended_at = now()
                                 WHERE tenant_id = $1 AND status = 'open' AND deadline < now()
                                 RETURNING id",
                                vec![tx.tenant_id().into()],
                            )
                            .await?
                            .iter()
                            .map(|r| r.try_get("", "id"))
                            .collect::<std::result::Result<_, _>>()?;
                        let n = ids.len();
                        let e = Entry::new("task.expired", Actor::system())
                            .payload(json!({"task_ids": ids}));
                        Ok((e, n))
                    })
                })
                .await;
            // One tenant's failure (its key cannot be opened, say) does not stop the others.
            match done {
                Ok((_, n)) => expired += n,
                Err(e) => tracing::error!(%tenant, error = %e, "expiring tasks failed"),
            }
        }
        Ok(expired)
    }
}
