use charter_store::engine::reviews::NewArtifact;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RegisterArtifact {
    /// What it is (e.g. `code`, `design`, `report`).
    pub kind: String,
    /// Its content digest (e.g. `sha256:…`); reviews and approvals bind to it.
    pub digest: String,
    /// Where it can be fetched.
    #[serde(default)]
    pub uri: String,
    /// Artifacts it was derived from (their producers cannot approve it either).
    #[serde(default)]
    pub derived_from: Vec<Uuid>,
    /// The delegated task it was produced under.
    #[serde(default)]
    pub task_id: Option<Uuid>,
    /// The initiative it belongs to.
    #[serde(default)]
    pub initiative_id: Option<Uuid>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ArtifactRegistered {
    /// The new artifact.
    pub artifact_id: Uuid,
    /// Where it is recorded (seq and record hash).
    pub seq: u64,
    /// The record's hash (hex).
    pub record_hash: String,
}

#[tool_router(router = register_artifact_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Declare an artifact you produced: kind, digest, URI, what it derives from, and the
    /// task and initiative it belongs to. Provenance decides who may approve it later.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn register_artifact(
        &self,
        caller: Caller,
        Parameters(p): Parameters<RegisterArtifact>,
    ) -> Result<Json<ArtifactRegistered>, Refusal> {
        let me = self
            .store()
            .engine()
            .agent_as_party(caller.tenant_id, caller.agent_id)
            .await?;
        let artifact = NewArtifact {
            kind: p.kind,
            digest: p.digest,
            uri: p.uri,
            derived_from: p.derived_from,
            task: p.task_id,
            initiative: p.initiative_id,
        };
        let (artifact_id, r) = self
            .store()
            .engine()
            .register_artifact(caller.tenant_id, me, artifact)
            .await?;
        Ok(Json(ArtifactRegistered {
            artifact_id,
            seq: r.seq,
            record_hash: hex::encode(r.record_hash),
        }))
    }
}
