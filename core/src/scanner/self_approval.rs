//! `self_approval`: an approving verdict on record whose reviewer produced the artifact,
//! produced something it derives from, delegated the work, is in one delegation chain with
//! a producer, or — where the review demands principal separation — acts for a producer's
//! principal. The engine refuses these; the scanner finds them when a row got in another
//! way (an older version, a hand-written row, a restore).

use serde_json::json;
use uuid::Uuid;

use super::Finding;
use crate::engine::provenance::{Graph, Party, Separation};
use crate::status::Severity;

pub const RULE: &str = "self_approval";
pub const VERSION: u32 = 1;

/// An approving verdict as stored, with the provenance graph its review needs.
#[derive(Debug, Clone)]
pub struct Approval {
    pub review_id: Uuid,
    pub artifact_id: Uuid,
    pub gate: Option<String>,
    pub reviewer: Party,
    pub separation: Separation,
    pub graph: Graph,
}

pub fn check(a: &Approval) -> Option<Finding> {
    let why = a
        .graph
        .check_review(a.artifact_id, a.reviewer, a.separation)
        .err()?;
    Some(Finding {
        rule: RULE,
        version: VERSION,
        severity: Severity::Critical,
        key: format!("{RULE}:{}:{}", a.review_id, a.reviewer.actor()),
        subject: json!({"type": "review", "id": a.review_id, "artifact_id": a.artifact_id,
                        "reviewer": {"type": a.reviewer.kind(), "id": a.reviewer.actor()}}),
        details: json!({"problem": format!("an approval on record breaks separation of duties: {why}"),
                        "gate": a.gate}),
    })
}
