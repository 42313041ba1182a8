//! Workflow templates and their gates, as tenants write them and agents read them.

use charter_core::engine::workflow;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// The gate's name (e.g. `release`).
    pub name: String,
    /// The stage this gate opens.
    pub before_stage: String,
    /// How many approving reviews it needs.
    pub approvals: u32,
    /// Roles an approver must hold (principal roles, or `reviewer_agent`); empty: any.
    #[serde(default)]
    pub approver_roles: Vec<String>,
    /// Only human principals may approve.
    #[serde(default)]
    pub human_only: bool,
    /// Evidence kinds required (e.g. `unit_test`, `security_scan`).
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Never skipped, whatever the risk score.
    #[serde(default)]
    pub mandatory: bool,
    /// Applies from this risk score up (ignored when mandatory).
    #[serde(default)]
    pub min_risk: u8,
    /// The approver must act for a different principal than the producer did.
    #[serde(default)]
    pub principal_separation: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The template's name (a preset's or the tenant's own).
    pub name: String,
    /// Stages, in order (e.g. intent → design → … → release).
    pub stages: Vec<String>,
    /// Gates between stages.
    pub gates: Vec<Gate>,
}

impl From<workflow::Template> for Template {
    fn from(t: workflow::Template) -> Self {
        Template {
            name: t.name,
            stages: t.stages,
            gates: t
                .gates
                .into_iter()
                .map(|g| Gate {
                    name: g.name,
                    before_stage: g.before_stage,
                    approvals: g.approvals,
                    approver_roles: g.approver_roles,
                    human_only: g.human_only,
                    evidence: g.evidence,
                    mandatory: g.mandatory,
                    min_risk: g.min_risk,
                    principal_separation: g.principal_separation,
                })
                .collect(),
        }
    }
}

impl From<Template> for workflow::Template {
    fn from(t: Template) -> Self {
        workflow::Template {
            name: t.name,
            stages: t.stages,
            gates: t
                .gates
                .into_iter()
                .map(|g| workflow::Gate {
                    name: g.name,
                    before_stage: g.before_stage,
                    approvals: g.approvals,
                    approver_roles: g.approver_roles,
                    human_only: g.human_only,
                    evidence: g.evidence,
                    mandatory: g.mandatory,
                    min_risk: g.min_risk,
                    principal_separation: g.principal_separation,
                })
                .collect(),
        }
    }
}
