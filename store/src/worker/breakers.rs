//! Breakers whose cool-down has passed are turned half-open by the worker, with a signed
//! `breaker.half_opened` record, so lists and the dashboard show the state that holds
//! (the engine would otherwise turn them only at the agent's next request).

use charter_core::engine::breaker::State;
use charter_core::ledger::{Actor, Entry};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::engine::{breaker, save_breaker};
use crate::{Result, StoreError};

impl crate::handles::Worker<'_> {
    /// Turns every cooled open breaker half-open; returns how many.
    pub async fn half_open_cooled_breakers(self) -> Result<usize> {
        let rows = self
            .platform_all(
                "SELECT tenant_id, agent_id FROM charter_breakers_cooled()",
                vec![],
            )
            .await?;
        let mut turned = 0;
        for r in rows {
            let (tenant, agent): (Uuid, Uuid) =
                (r.try_get("", "tenant_id")?, r.try_get("", "agent_id")?);
            let done = self
                .append_with(tenant, move |tx| {
                    Box::pin(async move {
                        let mut b = breaker(tx, agent).await?;
                        let (_, t) = b.breaker.admit(Utc::now());
                        // Already turned (by the agent's own request, or another worker).
                        let Some(t) = t.filter(|t| t.to == State::HalfOpen) else {
                            return Err(StoreError::Conflict(
                                "the breaker is not open and cooled".into(),
                            ));
                        };
                        save_breaker(tx, agent, &b.breaker).await?;
                        let e = Entry::new("breaker.half_opened", Actor::system()).payload(json!({
                            "agent_id": agent, "from": t.from.as_str(), "to": t.to.as_str(),
                            "consecutive_failures": b.breaker.consecutive_failures,
                        }));
                        Ok((e, ()))
                    })
                })
                .await;
            match done {
                Ok(_) => turned += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(e) => {
                    tracing::error!(%tenant, %agent, error = %e, "half-opening a breaker failed")
                }
            }
        }
        Ok(turned)
    }
}
