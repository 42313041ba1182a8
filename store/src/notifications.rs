//! The notifications outbox: an event is written in the same transaction as what caused
//! it (a violation, a tripped breaker, a review request, …), so it is delivered exactly
//! when that change committed, and never lost. The worker's `webhooks` job fans each out to
//! the tenant's subscribed endpoints (`crate::webhooks`).

use charter_core::webhook::Event;
use serde_json::Value;
use uuid::Uuid;

use crate::{Result, TenantTx};

/// Queues `event` with its `data` (the webhook message's `data`); `principal` is the
/// person responsible, where there is one.
pub(crate) async fn enqueue(
    tx: &TenantTx,
    event: Event,
    principal: Option<Uuid>,
    data: Value,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    tx.exec(
        "INSERT INTO notifications (tenant_id, id, principal_id, kind, payload)
         VALUES ($1, $2, $3, $4, $5)",
        vec![
            tx.tenant_id().into(),
            id.into(),
            principal.into(),
            event.as_str().into(),
            data.into(),
        ],
    )
    .await?;
    Ok(id)
}
