//! `gate_gap`: an initiative stands at a stage without a pass on record for every gate
//! that applied on the way there, or a guarded action was ALLOWED in an initiative before
//! (or without) the gate that guards it was passed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::Finding;
use crate::engine::workflow::Template;
use crate::status::Severity;

pub const RULE: &str = "gate_gap";
pub const VERSION: u32 = 1;

/// An initiative with the gates passed (and when).
#[derive(Debug, Clone)]
pub struct Initiative {
    pub id: Uuid,
    pub template: Template,
    pub risk: u8,
    pub stage: String,
    pub passed: HashMap<String, DateTime<Utc>>,
}

/// An ALLOWED decision in an initiative, with the gates bound to its action.
#[derive(Debug, Clone)]
pub struct GuardedDecision {
    pub seq: u64,
    pub initiative: Uuid,
    pub action: String,
    pub recorded_at: DateTime<Utc>,
    pub gates: Vec<String>,
}

fn finding(key: String, subject: serde_json::Value, details: serde_json::Value) -> Finding {
    Finding {
        rule: RULE,
        version: VERSION,
        severity: Severity::High,
        key,
        subject,
        details,
    }
}

/// Gates that applied before the initiative's current stage and have no pass on record.
pub fn check_initiative(i: &Initiative) -> Vec<Finding> {
    let Some(at) = i.template.stages.iter().position(|s| *s == i.stage) else {
        return vec![finding(
            format!("{RULE}:{}:stage", i.id),
            json!({"type": "initiative", "id": i.id}),
            json!({"problem": format!("the initiative stands at stage `{}`, which its template does not have", i.stage)}),
        )];
    };
    // The stages entered after the first: each was entered past its gates.
    let reached: &[String] = if at == 0 {
        &[]
    } else {
        &i.template.stages[1..=at]
    };
    i.template
        .gates
        .iter()
        .filter(|g| reached.contains(&g.before_stage) && g.applies(i.risk))
        .filter(|g| !i.passed.contains_key(&g.name))
        .map(|g| {
            finding(
                format!("{RULE}:{}:{}", i.id, g.name),
                json!({"type": "initiative", "id": i.id}),
                json!({"problem": format!("the initiative is at stage `{}` but gate `{}` (before `{}`) has no pass on record", i.stage, g.name, g.before_stage),
                       "gate": g.name}),
            )
        })
        .collect()
}

/// A guarded action allowed before its gate was passed in the initiative.
pub fn check_decision(
    d: &GuardedDecision,
    passed: &HashMap<String, DateTime<Utc>>,
) -> Vec<Finding> {
    d.gates
        .iter()
        .filter(|g| passed.get(*g).is_none_or(|at| *at > d.recorded_at))
        .map(|g| {
            finding(
                format!("{RULE}:decision:{}:{g}", d.seq),
                json!({"type": "ledger_record", "seq": d.seq, "initiative_id": d.initiative}),
                json!({"problem": format!("`{}` was ALLOWED in the initiative before gate `{g}`, which guards it, was passed", d.action),
                       "gate": g}),
            )
        })
        .collect()
}
