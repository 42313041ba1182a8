//! Error codes: one table. Each refusal Charter gives has one stable snake_case code — the
//! REST error body's `code` and the MCP tool result's `reason` are the same word — and one
//! HTTP status. Clients branch on the code; the message is for people. `docs/api.md` lists
//! the table.

use crate::engine::decision::Reason;

/// Defines the codes with their words and HTTP statuses.
macro_rules! codes {
    ($($(#[$m:meta])* $variant:ident => ($word:literal, $status:literal)),+ $(,)?) => {
        /// A refusal's code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($(#[$m])* $variant),+ }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            /// The word clients see (REST `code`, MCP `reason`).
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $word),+ }
            }

            /// The HTTP status the REST API answers with.
            pub fn http_status(self) -> u16 {
                match self { $(Code::$variant => $status),+ }
            }
        }
    };
}

codes! {
    /// The request does not fit: a field is missing, malformed or out of range.
    Invalid => ("invalid", 422),
    /// No such resource (in this tenant).
    NotFound => ("not_found", 404),
    /// The resource is not in a state that allows this (already decided, exists).
    Conflict => ("conflict", 409),
    /// The caller lacks the role or authority.
    Forbidden => ("forbidden", 403),
    /// No valid credentials.
    Unauthorized => ("unauthorized", 401),
    /// Too many requests; retry after the time given.
    RateLimited => ("rate_limited", 429),
    /// A dependency is down; nothing was done; retry shortly.
    Unavailable => ("unavailable", 503),
    /// A fault of Charter's (reported with the request id).
    Internal => ("internal", 500),
    /// Sign-up: the tenant slug is taken.
    SlugTaken => ("slug_taken", 409),
    /// A refresh token was used twice: its family of sessions is revoked.
    RefreshReuse => ("refresh_reuse", 403),
    /// The account is invited, disabled or removed.
    AccountInactive => ("account_inactive", 403),
    /// A reviewer or approver is a producer, or in one delegation chain with one.
    SelfApproval => ("self_approval", 403),
    /// A verdict or approval names another digest than the one it is bound to.
    ApprovalMismatch => ("approval_mismatch", 422),
    /// A gate's requirements are not met.
    GateNotPassed => ("gate_not_passed", 422),
    /// The agent's scope (or a delegator's up the chain) does not allow it.
    OutOfScope => ("out_of_scope", 403),
    /// The agent is suspended.
    AgentSuspended => ("agent_suspended", 403),
    /// No budget left for it (a delegation asking more than the delegator has left).
    BudgetExceeded => ("budget_exceeded", 403),
    /// No dispatches left for it.
    DispatchLimit => ("dispatch_limit", 403),
    /// An idempotency key reused for a different request.
    IdempotencyConflict => ("idempotency_conflict", 409),
    /// The trial or subscription has ended: agents may not act (reading still works).
    SubscriptionInactive => ("subscription_inactive", 402),
    /// The plan's decisions for this month are used up.
    PlanQuotaExceeded => ("plan_quota_exceeded", 402),
    /// The plan allows no more of this (agents); a larger plan does.
    PlanLimit => ("plan_limit", 402),
    /// Billing is off (no Stripe settings): every tenant is unlimited.
    BillingOff => ("billing_off", 409),
}

impl Code {
    pub fn parse(word: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == word)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Reason> for Code {
    /// A decision reason given as an error (an agent refused outright, not a decision).
    fn from(r: Reason) -> Code {
        match r {
            Reason::AgentSuspended => Code::AgentSuspended,
            Reason::OutOfScope => Code::OutOfScope,
            Reason::GateNotPassed => Code::GateNotPassed,
            Reason::ApprovalMismatch => Code::ApprovalMismatch,
            Reason::SelfApproval => Code::SelfApproval,
            Reason::BudgetExceeded => Code::BudgetExceeded,
            Reason::DispatchLimit => Code::DispatchLimit,
            Reason::InvalidRequest => Code::Invalid,
            Reason::Unavailable => Code::Unavailable,
            Reason::SubscriptionInactive => Code::SubscriptionInactive,
            Reason::PlanQuotaExceeded => Code::PlanQuotaExceeded,
            Reason::BreakerOpen | Reason::ApprovalRequired => Code::Forbidden,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_words_with_error_statuses() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert!(
                c.as_str()
                    .chars()
                    .all(|x| x.is_ascii_lowercase() || x == '_')
            );
            assert!((400..600).contains(&c.http_status()));
            assert_eq!(Code::parse(c.as_str()), Some(*c));
        }
    }
}
