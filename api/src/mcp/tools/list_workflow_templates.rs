use charter_core::engine::workflow::Template;

use crate::wire;
use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::mcp::params::Parameters;
use crate::mcp::refusal::Refusal;
use crate::mcp::{Caller, CharterMcp};

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListTemplates {
    /// A risk score (0–100): each template then lists the gates that apply at that risk
    /// (mandatory gates always apply).
    #[serde(default)]
    pub risk: Option<u8>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Templates {
    /// The presets (startup, enterprise, regulated, release-qa) and the tenant's own.
    pub templates: Vec<TemplateInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TemplateInfo {
    /// Whether this is one of Charter's presets (else the tenant defined it).
    pub preset: bool,
    /// The template: its stages in order and the gates between them.
    pub template: wire::workflow::Template,
    /// The gates that apply at the requested risk score, when one was given.
    pub recommended_gates: Option<Vec<String>>,
}

#[tool_router(router = list_workflow_templates_router, vis = "pub(crate)")]
impl CharterMcp {
    /// Workflow templates available to this tenant — the presets and the tenant's own —
    /// with their stages and gates; given a risk score, the gates that apply.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn list_workflow_templates(
        &self,
        caller: Caller,
        Parameters(p): Parameters<ListTemplates>,
    ) -> Result<Json<Templates>, Refusal> {
        let (presets, own) = self
            .store()
            .engine()
            .workflow_templates(caller.tenant_id)
            .await?;
        let info = |preset: bool, t: Template| TemplateInfo {
            preset,
            recommended_gates: p
                .risk
                .map(|r| t.gates_for(r).into_iter().map(|g| g.name.clone()).collect()),
            template: t.into(),
        };
        let templates = presets
            .into_iter()
            .map(|t| info(true, t))
            .chain(own.into_iter().map(|t| info(false, t)))
            .collect();
        Ok(Json(Templates { templates }))
    }
}
