use crate::wire::views::ProvenanceView;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ArtifactRef {
    /// The artifact.
    pub artifact_id: Uuid,
}

#[tool_router(router = get_provenance_router, vis = "pub(crate)")]
impl CharterMcp {
    /// The lineage of an artifact: it and everything it derives from with their
    /// producers, the delegation chains they were produced under, and its reviews.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn get_provenance(
        &self,
        caller: Caller,
        Parameters(p): Parameters<ArtifactRef>,
    ) -> Result<Json<ProvenanceView>, Refusal> {
        Ok(Json(
            self.store()
                .engine()
                .provenance(caller.tenant_id, p.artifact_id)
                .await?
                .into(),
        ))
    }
}
