//! Decisions and the machine-readable reasons behind them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why an action was blocked or held. The code (`as_str`) is stable: agents and customers'
/// automation branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    SubscriptionInactive,
    PlanQuotaExceeded,
    AgentSuspended,
    BreakerOpen,
    OutOfScope,
    GateNotPassed,
    ApprovalRequired,
    ApprovalMismatch,
    SelfApproval,
    BudgetExceeded,
    DispatchLimit,
    InvalidRequest,
    Unavailable,
}

impl Reason {
    pub const ALL: [Reason; 13] = [
        Reason::SubscriptionInactive,
        Reason::PlanQuotaExceeded,
        Reason::AgentSuspended,
        Reason::BreakerOpen,
        Reason::OutOfScope,
        Reason::GateNotPassed,
        Reason::ApprovalRequired,
        Reason::ApprovalMismatch,
        Reason::SelfApproval,
        Reason::BudgetExceeded,
        Reason::DispatchLimit,
        Reason::InvalidRequest,
        Reason::Unavailable,
    ];

    /// The reason with this code.
    pub fn parse(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SubscriptionInactive => "subscription_inactive",
            Reason::PlanQuotaExceeded => "plan_quota_exceeded",
            Reason::AgentSuspended => "agent_suspended",
            Reason::BreakerOpen => "breaker_open",
            Reason::OutOfScope => "out_of_scope",
            Reason::GateNotPassed => "gate_not_passed",
            Reason::ApprovalRequired => "approval_required",
            Reason::ApprovalMismatch => "approval_mismatch",
            Reason::SelfApproval => "self_approval",
            Reason::BudgetExceeded => "budget_exceeded",
            Reason::DispatchLimit => "dispatch_limit",
            Reason::InvalidRequest => "invalid_request",
            Reason::Unavailable => "unavailable",
        }
    }

    /// A sentence for people; the code is for machines.
    pub fn sentence(self) -> &'static str {
        match self {
            Reason::SubscriptionInactive => {
                "The tenant's trial or subscription has ended: actions are blocked until it is renewed."
            }
            Reason::PlanQuotaExceeded => {
                "The plan's decisions for this month are used up: actions are blocked until the next month or a larger plan."
            }
            Reason::AgentSuspended => "This agent is suspended.",
            Reason::BreakerOpen => {
                "This agent's circuit breaker is open after repeated failures; a principal must reset it or wait for the cool-down."
            }
            Reason::OutOfScope => {
                "The agent's authority scope does not permit this action on this resource."
            }
            Reason::GateNotPassed => {
                "A gate that guards this action has not been passed in this initiative."
            }
            Reason::ApprovalRequired => "This action needs an approval first.",
            Reason::ApprovalMismatch => {
                "The approval does not cover these exact arguments, or it has been used up or has expired."
            }
            Reason::SelfApproval => "Nobody may approve what they produced, derived or delegated.",
            Reason::BudgetExceeded => {
                "The spend budget for this cycle has no room for this action."
            }
            Reason::DispatchLimit => "The dispatch limit for this cycle is reached.",
            Reason::InvalidRequest => "The request is malformed.",
            Reason::Unavailable => {
                "Charter cannot decide safely right now; nothing was allowed. Retry shortly."
            }
        }
    }
}

/// The answer to an authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// The action may proceed.
    Allowed,
    /// The action must not proceed.
    Blocked {
        /// Why, as a stable machine-readable code.
        reason: Reason,
    },
    /// The action needs an approval first; ask again once it is decided.
    PendingApproval {
        /// The approval request to wait for (`await_decision`).
        review_id: String,
    },
}

impl Decision {
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Allowed => "ALLOWED",
            Decision::Blocked { .. } => "BLOCKED",
            Decision::PendingApproval { .. } => "PENDING_APPROVAL",
        }
    }

    pub fn reason(&self) -> Option<Reason> {
        match self {
            Decision::Blocked { reason } => Some(*reason),
            Decision::PendingApproval { .. } => Some(Reason::ApprovalRequired),
            Decision::Allowed => None,
        }
    }

    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed)
    }
}

/// The digest of a value's RFC 8785 canonical form: `sha256:` and hex, so key order and
/// number spelling do not matter. For binding an idempotency key to its request; what
/// goes into the ledger about arguments is [`arguments_digest`].
pub fn canonical_digest(value: &serde_json::Value) -> String {
    let bytes = crate::ledger::jcs::to_vec(value);
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}

/// The digest an action approval is bound to and a decision's record carries: `hmac-sha256:`
/// and the hex HMAC-SHA256 of the arguments' RFC 8785 canonical form under the tenant's
/// digest key ([`crate::keys::digest_key`]). Keyed, so that whoever reads the ledger cannot
/// test guesses of a redacted low-entropy secret against it.
pub fn arguments_digest(key: &[u8; 32], arguments: &serde_json::Value) -> String {
    use hmac::{KeyInit, Mac};
    let bytes = crate::ledger::jcs::to_vec(arguments);
    let mut mac = match hmac::Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC takes keys of any length; 32 bytes always fit.
        Err(_) => return String::new(),
    };
    mac.update(&bytes);
    format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_have_stable_snake_case_codes() {
        for r in [
            Reason::BreakerOpen,
            Reason::OutOfScope,
            Reason::BudgetExceeded,
            Reason::SubscriptionInactive,
        ] {
            let json = serde_json::to_value(r).unwrap();
            assert_eq!(json, r.as_str());
            assert!(!r.sentence().is_empty());
        }
        let d = Decision::Blocked {
            reason: Reason::DispatchLimit,
        };
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({"decision": "BLOCKED", "reason": "dispatch_limit"})
        );
        assert_eq!(d.label(), "BLOCKED");
        assert!(Decision::Allowed.is_allowed());
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
        assert_eq!(Reason::parse("nope"), None);
    }

    #[test]
    fn argument_digests_ignore_spelling_but_not_content_and_need_the_key() {
        let key = [7u8; 32];
        let a = arguments_digest(&key, &serde_json::json!({"b": 1.0, "a": "x"}));
        let b = arguments_digest(
            &key,
            &serde_json::from_str("{\"a\":\"x\",\"b\":1}").unwrap(),
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            arguments_digest(&key, &serde_json::json!({"a": "y", "b": 1}))
        );
        assert!(a.starts_with("hmac-sha256:") && a.len() == 12 + 64);
        // Without the tenant's key, the plain hash of the arguments says nothing.
        let plain = canonical_digest(&serde_json::json!({"a": "x", "b": 1}));
        assert_ne!(&a[12..], &plain[7..]);
        assert_ne!(
            a,
            arguments_digest(&[8u8; 32], &serde_json::json!({"a": "x", "b": 1}))
        );
        // RFC 4231 test case 2, to pin the construction to plain HMAC-SHA256.
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
