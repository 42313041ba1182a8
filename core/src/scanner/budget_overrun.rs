//! `budget_overrun`: an agent reported spending more than it was authorized for, or an
//! agent's spend in a budget cycle is beyond its limit.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::Finding;
use crate::status::Severity;

pub const RULE: &str = "budget_overrun";
pub const VERSION: u32 = 1;

/// An authorization with the spend its outcome reported.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub authorization_id: Uuid,
    pub agent_id: Uuid,
    pub reserved: i64,
    pub reported: i64,
}

/// An agent's spend in one cycle, and its limit.
#[derive(Debug, Clone)]
pub struct CycleSpend {
    pub agent_id: Uuid,
    pub cycle_start: DateTime<Utc>,
    pub spent: i64,
    pub limit: Option<i64>,
}

pub fn check_outcome(o: &Outcome) -> Option<Finding> {
    (o.reported > o.reserved).then(|| Finding {
        rule: RULE,
        version: VERSION,
        severity: Severity::High,
        key: format!("{RULE}:authorization:{}", o.authorization_id),
        subject: json!({"type": "authorization", "id": o.authorization_id, "agent_id": o.agent_id}),
        details: json!({"problem": "the reported spend is beyond what was authorized",
                        "authorized": o.reserved, "reported": o.reported}),
    })
}

pub fn check_cycle(c: &CycleSpend) -> Option<Finding> {
    let limit = c.limit?;
    (c.spent > limit).then(|| Finding {
        rule: RULE,
        version: VERSION,
        severity: Severity::Medium,
        key: format!("{RULE}:cycle:{}:{}", c.agent_id, c.cycle_start.timestamp()),
        subject: json!({"type": "agent", "id": c.agent_id}),
        details: json!({"problem": "the agent's spend this cycle is beyond its limit",
                        "cycle_start": c.cycle_start, "spent": c.spent, "limit": limit}),
    })
}
