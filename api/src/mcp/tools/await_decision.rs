use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use crate::wire::views::DecisionState;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

/// The longest one call waits; call again to keep waiting.
const MAX_WAIT_SECS: u64 = 30;

/// Waits one agent may have in progress on one node at a time (each polls PostgreSQL).
pub const MAX_WAITS_PER_AGENT: usize = 8;

static WAITING: LazyLock<Mutex<HashMap<Uuid, usize>>> = LazyLock::new(Mutex::default);

/// One wait in progress, counted against its agent until dropped.
struct Waiting(Uuid);

impl Waiting {
    fn start(agent: Uuid) -> Option<Waiting> {
        let mut m = WAITING.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(agent).or_default();
        if *n >= MAX_WAITS_PER_AGENT {
            return None;
        }
        *n += 1;
        Some(Waiting(agent))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut m = WAITING.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.0);
            }
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AwaitDecision {
    /// The review (`request_review`) or the approval (`review_id` of a PENDING_APPROVAL
    /// answer from `authorize_action`) to wait for.
    pub review_id: Uuid,
    /// How long to wait at most, in seconds (default 20, at most 30).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

#[tool_router(router = await_decision_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Wait, for a bounded time, until a pending review or approval is decided. Returns
    /// its state either way; while `decided` is false, call again.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn await_decision(
        &self,
        caller: Caller,
        Parameters(p): Parameters<AwaitDecision>,
    ) -> Result<Json<DecisionState>, Refusal> {
        let _waiting = Waiting::start(caller.agent_id).ok_or_else(|| {
            Refusal::new(
                "rate_limited",
                format!("this agent already has {MAX_WAITS_PER_AGENT} waits in progress; wait for one to end"),
            )
        })?;
        let wait = Duration::from_secs(p.timeout_secs.unwrap_or(20).min(MAX_WAIT_SECS));
        let until = tokio::time::Instant::now() + wait;
        loop {
            let state = self
                .store()
                .engine()
                .decision_state(caller.tenant_id, p.review_id)
                .await?;
            if state.decided || tokio::time::Instant::now() >= until {
                return Ok(Json(state.into()));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
