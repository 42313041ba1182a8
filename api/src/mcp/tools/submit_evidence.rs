use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SubmitEvidence {
    /// The initiative the evidence is for.
    pub initiative_id: Uuid,
    /// The gate of that initiative the evidence is for.
    pub gate: String,
    /// The evidence kind (e.g. `unit_test`, `coverage`, `lint`, `security_scan`,
    /// `benchmark`, `migration_plan`).
    pub kind: String,
    /// Where the evidence is (report, CI run, …).
    #[serde(default)]
    pub uri: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EvidenceSubmitted {
    /// Where it is recorded in the ledger.
    pub seq: u64,
    /// The record's hash (hex).
    pub record_hash: String,
}

#[tool_router(router = submit_evidence_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Attach evidence (a test run, coverage, a scan, a benchmark, …) to a gate of an
    /// initiative; gates that require that kind count it.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn submit_evidence(
        &self,
        caller: Caller,
        Parameters(p): Parameters<SubmitEvidence>,
    ) -> Result<Json<EvidenceSubmitted>, Refusal> {
        let me = self
            .store()
            .engine()
            .agent_as_party(caller.tenant_id, caller.agent_id)
            .await?;
        let r = self
            .store()
            .engine()
            .submit_evidence(caller.tenant_id, me, p.initiative_id, p.gate, p.kind, p.uri)
            .await?;
        Ok(Json(EvidenceSubmitted {
            seq: r.seq,
            record_hash: hex::encode(r.record_hash),
        }))
    }
}
