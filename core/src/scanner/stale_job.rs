//! `stale_job`: work left open past its time — delegated tasks open past their deadline
//! (task expiry should have closed them), action approvals pending past their expiry, and
//! reviews pending for longer than [`REVIEW_STALE_DAYS`].

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::Finding;
use crate::status::Severity;

pub const RULE: &str = "stale_job";
pub const VERSION: u32 = 1;

/// A pending review older than this many days is reported.
pub const REVIEW_STALE_DAYS: i64 = 7;
/// Task expiry runs every 30 s; a task still open this long past its deadline was missed.
const GRACE: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Task,
    ActionApproval,
    Review,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::ActionApproval => "action_approval",
            Kind::Review => "review",
        }
    }
}

/// Something open, and when it was due (for a review: when it was requested).
#[derive(Debug, Clone)]
pub struct Open {
    pub kind: Kind,
    pub id: Uuid,
    pub due: DateTime<Utc>,
}

pub fn check(o: &Open, now: DateTime<Utc>) -> Option<Finding> {
    let late = match o.kind {
        Kind::Task => now > o.due + GRACE,
        Kind::ActionApproval => now > o.due,
        Kind::Review => now > o.due + Duration::days(REVIEW_STALE_DAYS),
    };
    late.then(|| Finding {
        rule: RULE,
        version: VERSION,
        severity: match o.kind {
            Kind::Review => Severity::Low,
            Kind::Task | Kind::ActionApproval => Severity::Medium,
        },
        key: format!("{RULE}:{}:{}", o.kind.as_str(), o.id),
        subject: json!({"type": o.kind.as_str(), "id": o.id}),
        details: json!({"problem": match o.kind {
            Kind::Task => "the task is still open past its deadline",
            Kind::ActionApproval => "the action approval is still pending past its expiry",
            Kind::Review => "the review has been pending for more than a week",
        }, "due": o.due}),
    })
}
