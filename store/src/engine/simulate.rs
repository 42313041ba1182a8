//! "Would this be allowed, and why?" — the engine's own checks on a request, with nothing
//! kept: the decision is made in a transaction that is rolled back.

use charter_core::engine::decision::Decision;
use uuid::Uuid;

use super::{ActionRequest, decide};
use crate::{Result, StoreError};

/// A simulated decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulation {
    pub decision: Decision,
    /// A sentence for people when the action would not simply be allowed.
    pub message: Option<String>,
}

impl crate::handles::Engine<'_> {
    pub async fn simulate(
        self,
        tenant: Uuid,
        agent: Uuid,
        req: ActionRequest,
    ) -> Result<Simulation> {
        req.check()?;
        let tx = self.tenant_tx(tenant).await?;
        let decided = decide::dry_run(self.0, &tx, agent, req).await;
        tx.rollback().await?;
        let decision = match decided {
            Err(StoreError::Replay) => {
                return Err(StoreError::Invalid(
                    "idempotency_key: already used by this agent; a simulation needs a fresh key or none".into(),
                ));
            }
            other => other?,
        };
        Ok(Simulation {
            message: decision.reason().map(|r| r.sentence().to_string()),
            decision,
        })
    }
}
