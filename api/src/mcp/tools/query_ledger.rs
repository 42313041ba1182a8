use charter_store::engine::views::LedgerFilter;

use crate::wire::views::LedgerPage;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct QueryLedger {
    /// Only records of this kind (e.g. `decision`, `review.approved`, `task.delegated`).
    #[serde(default)]
    pub kind: Option<String>,
    /// Only records by this actor (an agent or principal id).
    #[serde(default)]
    pub actor_id: Option<String>,
    /// Only records about this action (e.g. `deploy`).
    #[serde(default)]
    pub action: Option<String>,
    /// Only records about this initiative.
    #[serde(default)]
    pub initiative_id: Option<Uuid>,
    /// Only decisions with this outcome (`ALLOWED`, `BLOCKED`, `PENDING_APPROVAL`).
    #[serde(default)]
    pub decision: Option<String>,
    /// The previous page's `next_before_seq`, for the next (older) page.
    #[serde(default)]
    pub before_seq: Option<i64>,
    /// Records per page (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[tool_router(router = query_ledger_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Who authorized what, when, on whose behalf: this tenant's ledger records, newest
    /// first, filtered, a page at a time.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn query_ledger(
        &self,
        caller: Caller,
        Parameters(p): Parameters<QueryLedger>,
    ) -> Result<Json<LedgerPage>, Refusal> {
        let filter = LedgerFilter {
            kind: p.kind,
            actor_id: p.actor_id,
            action: p.action,
            initiative: p.initiative_id.map(|i| i.to_string()),
            decision: p.decision,
            system: None,
            before_seq: p.before_seq,
            limit: p.limit.unwrap_or(50),
            ..LedgerFilter::default()
        };
        Ok(Json(
            self.store()
                .engine()
                .query_ledger(caller.tenant_id, filter)
                .await?
                .into(),
        ))
    }
}
