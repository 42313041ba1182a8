//! Workflow templates, gates and promotion.
//!
//! A template is an ordered list of stages with a gate before each stage after the first.
//! A gate requires approvals (a number, by given roles — human principals and/or reviewer
//! agents), may accept only humans, may require evidence kinds, and may demand principal
//! separation. A risk score (0–100) chooses which gates apply: a gate applies when the
//! score reaches its `min_risk`; mandatory gates apply whatever the score. An initiative
//! moves to the next stage only past a gate whose requirements are met.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::provenance::Separation;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl Gate {
    pub fn separation(&self) -> Separation {
        if self.principal_separation {
            Separation::Principal
        } else {
            Separation::Standard
        }
    }

    pub fn applies(&self, risk: u8) -> bool {
        self.mandatory || risk >= self.min_risk
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The template's name (a preset's or the tenant's own).
    pub name: String,
    /// Stages, in order (e.g. intent → design → … → release).
    pub stages: Vec<String>,
    /// Gates between stages.
    pub gates: Vec<Gate>,
}

/// Evidence kinds Charter knows; templates may name others.
pub const EVIDENCE_KINDS: &[&str] = &[
    "unit_test",
    "coverage",
    "lint",
    "security_scan",
    "benchmark",
    "migration_plan",
    "design_review",
    "changelog",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("template `{0}`: {1}")]
    Invalid(String, String),
    #[error("gate `{gate}` is not satisfied: {missing}")]
    NotSatisfied { gate: String, missing: String },
    #[error("the initiative is at the last stage")]
    AtEnd,
}

/// One approval on record at a gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub by_human: bool,
    pub roles: Vec<String>,
}

impl Template {
    pub fn validate(&self) -> Result<(), WorkflowError> {
        let bad = |m: String| Err(WorkflowError::Invalid(self.name.clone(), m));
        if self.stages.len() < 2 {
            return bad("at least two stages".into());
        }
        let stages: HashSet<&str> = self.stages.iter().map(String::as_str).collect();
        if stages.len() != self.stages.len() {
            return bad("stage names must be unique".into());
        }
        let mut names = HashSet::new();
        for g in &self.gates {
            if !names.insert(g.name.as_str()) {
                return bad(format!("gate `{}` appears twice", g.name));
            }
            if !stages.contains(g.before_stage.as_str()) || g.before_stage == self.stages[0] {
                return bad(format!(
                    "gate `{}` must open a stage after the first",
                    g.name
                ));
            }
            if g.approvals == 0 && g.evidence.is_empty() {
                return bad(format!("gate `{}` requires nothing", g.name));
            }
            if g.min_risk > 100 {
                return bad(format!("gate `{}`: min_risk is 0 to 100", g.name));
            }
        }
        Ok(())
    }

    /// The gates that apply at this risk score, in stage order.
    pub fn gates_for(&self, risk: u8) -> Vec<&Gate> {
        let mut gates: Vec<&Gate> = self.gates.iter().filter(|g| g.applies(risk)).collect();
        gates.sort_by_key(|g| self.stages.iter().position(|s| *s == g.before_stage));
        gates
    }

    /// The gates standing before the stage after `current`.
    pub fn next_gates(
        &self,
        current: &str,
        risk: u8,
    ) -> Result<(String, Vec<&Gate>), WorkflowError> {
        let i = self
            .stages
            .iter()
            .position(|s| s == current)
            .ok_or_else(|| {
                WorkflowError::Invalid(self.name.clone(), format!("no stage `{current}`"))
            })?;
        let next = self.stages.get(i + 1).ok_or(WorkflowError::AtEnd)?;
        let gates = self
            .gates_for(risk)
            .into_iter()
            .filter(|g| g.before_stage == *next)
            .collect();
        Ok((next.clone(), gates))
    }
}

/// Whether a gate's requirements are met by these approvals and this evidence.
pub fn satisfied(
    gate: &Gate,
    approvals: &[Approval],
    evidence: &[String],
) -> Result<(), WorkflowError> {
    let counted = approvals
        .iter()
        .filter(|a| !gate.human_only || a.by_human)
        .filter(|a| {
            gate.approver_roles.is_empty()
                || a.roles.iter().any(|r| gate.approver_roles.contains(r))
        })
        .count() as u32;
    let mut missing = Vec::new();
    if counted < gate.approvals {
        missing.push(format!(
            "{} of {} approvals{}",
            counted,
            gate.approvals,
            if gate.human_only { " by humans" } else { "" }
        ));
    }
    for kind in &gate.evidence {
        if !evidence.contains(kind) {
            missing.push(format!("evidence `{kind}`"));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(WorkflowError::NotSatisfied {
            gate: gate.name.clone(),
            missing: missing.join(", "),
        })
    }
}

const STAGES: [&str; 6] = [
    "intent",
    "design",
    "implementation",
    "verification",
    "hardening",
    "release",
];

fn gate(name: &str, before: &str, approvals: u32, evidence: &[&str]) -> Gate {
    Gate {
        name: name.into(),
        before_stage: before.into(),
        approvals,
        approver_roles: Vec::new(),
        human_only: false,
        evidence: evidence.iter().map(|s| s.to_string()).collect(),
        mandatory: false,
        min_risk: 0,
        principal_separation: false,
    }
}

/// The four presets: startup, enterprise, regulated, release-QA.
pub fn presets() -> Vec<Template> {
    let stages: Vec<String> = STAGES.iter().map(|s| s.to_string()).collect();
    let startup = Template {
        name: "startup".into(),
        stages: stages.clone(),
        gates: vec![
            Gate {
                min_risk: 50,
                ..gate("design", "design", 1, &[])
            },
            Gate {
                mandatory: true,
                ..gate("release", "release", 1, &["unit_test"])
            },
        ],
    };
    let enterprise = Template {
        name: "enterprise".into(),
        stages: stages.clone(),
        gates: vec![
            Gate {
                min_risk: 30,
                ..gate("design", "design", 1, &["design_review"])
            },
            gate(
                "verification",
                "verification",
                1,
                &["unit_test", "coverage", "lint"],
            ),
            Gate {
                min_risk: 60,
                ..gate("hardening", "hardening", 1, &["security_scan"])
            },
            Gate {
                mandatory: true,
                human_only: true,
                ..gate("release", "release", 2, &["unit_test", "security_scan"])
            },
        ],
    };
    let regulated = Template {
        name: "regulated".into(),
        stages: stages.clone(),
        gates: [
            "design",
            "implementation",
            "verification",
            "hardening",
            "release",
        ]
        .iter()
        .map(|s| Gate {
            mandatory: true,
            principal_separation: true,
            human_only: *s == "release",
            ..gate(
                s,
                s,
                if *s == "release" { 2 } else { 1 },
                match *s {
                    "design" => &["design_review"][..],
                    "verification" => &["unit_test", "coverage", "lint"][..],
                    "hardening" => &["security_scan", "migration_plan"][..],
                    "release" => &["unit_test", "security_scan", "changelog"][..],
                    _ => &[][..],
                },
            )
        })
        .collect(),
    };
    let release_qa = Template {
        name: "release-qa".into(),
        stages: vec!["candidate".into(), "qa".into(), "release".into()],
        gates: vec![
            gate("qa", "qa", 1, &["unit_test", "benchmark"]),
            Gate {
                mandatory: true,
                ..gate("release", "release", 1, &["security_scan"])
            },
        ],
    };
    vec![startup, enterprise, regulated, release_qa]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preset(name: &str) -> Template {
        presets().into_iter().find(|t| t.name == name).unwrap()
    }

    #[test]
    fn presets_are_valid() {
        for t in presets() {
            t.validate().unwrap();
        }
        assert!(
            preset("regulated")
                .gates
                .iter()
                .all(|g| g.mandatory && g.principal_separation)
        );
    }

    #[test]
    fn low_risk_skips_optional_gates_but_never_mandatory_ones() {
        let t = preset("enterprise");
        let low: Vec<&str> = t.gates_for(0).iter().map(|g| g.name.as_str()).collect();
        assert_eq!(low, ["verification", "release"]);
        let high: Vec<&str> = t.gates_for(90).iter().map(|g| g.name.as_str()).collect();
        assert_eq!(high, ["design", "verification", "hardening", "release"]);
        let startup = preset("startup");
        let (next, gates) = startup.next_gates("hardening", 0).unwrap();
        assert_eq!(next, "release");
        assert_eq!(
            gates.len(),
            1,
            "the mandatory release gate applies at risk 0"
        );
        assert_eq!(startup.next_gates("release", 0), Err(WorkflowError::AtEnd));
    }

    #[test]
    fn promotion_needs_every_requirement() {
        let t = preset("enterprise");
        let release = t.gates.iter().find(|g| g.name == "release").unwrap();
        let human = Approval {
            by_human: true,
            roles: vec!["approver".into()],
        };
        let agent = Approval {
            by_human: false,
            roles: vec!["reviewer_agent".into()],
        };
        let ev = vec!["unit_test".to_string()];
        let err = satisfied(release, &[human.clone(), agent.clone()], &ev).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gate `release` is not satisfied: 1 of 2 approvals by humans, evidence `security_scan`"
        );
        let ev = vec!["unit_test".to_string(), "security_scan".to_string()];
        satisfied(release, &[human.clone(), human], &ev).unwrap();
    }

    #[test]
    fn bad_templates_are_refused() {
        let mut t = preset("startup");
        t.gates[0].before_stage = "intent".into();
        assert!(t.validate().is_err());
        let mut t = preset("startup");
        t.gates.push(t.gates[0].clone());
        assert!(t.validate().is_err());
    }
}
