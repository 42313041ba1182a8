//! Webhook notifications, the pure part: the events a tenant can subscribe to, the
//! message body, Standard Webhooks signatures, the retry schedule and the rules for where
//! Charter may send requests (no loopback, private or link-local targets in production).
//!
//! Storage (endpoints, the outbox's deliveries, attempts) is in `charter-store`; sending
//! is the worker's `webhooks` job.

pub mod retry;
pub mod signature;
pub mod target;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// What happened, as the `type` of a webhook message. An endpoint subscribes to some of
/// these; `webhook.test` is sent only by the test action, to that one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// The scanner or the engine recorded a violation.
    ViolationFound,
    /// An agent's circuit breaker opened.
    BreakerTripped,
    /// An artifact awaits review at a gate.
    ReviewRequested,
    /// An action awaits a person's approval.
    ActionApprovalRequested,
    /// The daily self-audit was signed.
    SelfAuditCompleted,
    /// The trial ends within three days.
    TrialEnding,
    /// The trial has ended: agents' actions are blocked until a plan is chosen.
    TrialEnded,
    /// Sent by `POST /api/v1/webhooks/{id}/test`.
    Test,
}

impl Event {
    /// The events an endpoint may subscribe to.
    pub const SUBSCRIBABLE: &'static [Event] = &[
        Event::ViolationFound,
        Event::BreakerTripped,
        Event::ReviewRequested,
        Event::ActionApprovalRequested,
        Event::SelfAuditCompleted,
        Event::TrialEnding,
        Event::TrialEnded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::ViolationFound => "violation.found",
            Event::BreakerTripped => "breaker.tripped",
            Event::ReviewRequested => "review.requested",
            Event::ActionApprovalRequested => "action_approval.requested",
            Event::SelfAuditCompleted => "self_audit.completed",
            Event::TrialEnding => "trial.ending",
            Event::TrialEnded => "trial.ended",
            Event::Test => "webhook.test",
        }
    }

    /// A subscribable event by name (`webhook.test` is not one).
    pub fn parse(s: &str) -> Option<Event> {
        Event::SUBSCRIBABLE
            .iter()
            .copied()
            .find(|e| e.as_str() == s)
    }

    /// Every subscribable name, comma-separated, for error messages.
    pub fn names() -> String {
        Event::SUBSCRIBABLE
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message body, as the Standard Webhooks specification shapes it: the event's
/// `type`, when it happened and its `data`.
pub fn message(event: &str, at: DateTime<Utc>, data: &Value) -> String {
    json!({
        "type": event,
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// The `webhook-id` header of a delivery: the same on every attempt, so a receiver can
/// drop a repeat.
pub fn message_id(delivery: uuid::Uuid) -> String {
    format!("msg_{}", delivery.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_back_and_test_is_not_subscribable() {
        for e in Event::SUBSCRIBABLE {
            assert_eq!(Event::parse(e.as_str()), Some(*e));
        }
        assert_eq!(Event::parse("webhook.test"), None);
        assert_eq!(Event::parse("violation_found"), None);
        assert!(Event::names().contains("trial.ending"));
    }

    #[test]
    fn the_message_has_type_timestamp_and_data() {
        let at = DateTime::parse_from_rfc3339("2026-12-04T01:02:03Z")
            .unwrap()
            .with_timezone(&Utc);
        let m: Value =
            serde_json::from_str(&message("breaker.tripped", at, &json!({"a": 1}))).unwrap();
        assert_eq!(
            m,
            json!({"type": "breaker.tripped", "timestamp": "2026-12-04T01:02:03.000Z", "data": {"a": 1}})
        );
    }
}
