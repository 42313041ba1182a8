//! The forensic scanner's rules: pure functions over what the store read, each in its own
//! file with a `VERSION` (bumped when what it finds changes, and recorded with each
//! finding). The engine blocks what it sees; these find what slipped past it — rows
//! written by hand or by an older version, a ledger edited behind Charter's back, work
//! left open past its deadline, secrets that escaped redaction.
//!
//! A finding carries a stable `key` (rule and subject): the same problem found again is
//! the same violation, seen again, never a second one.

pub mod budget_overrun;
pub mod credential_exposure;
pub mod gate_gap;
pub mod ledger_integrity;
pub mod self_approval;
pub mod stale_job;

use serde_json::Value;

use crate::status::Severity;

/// One problem a rule found.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The rule's name (`ledger_integrity`, …); also the violation's kind.
    pub rule: &'static str,
    /// The rule's version when it found this.
    pub version: u32,
    pub severity: Severity,
    /// Stable per rule and subject: the same problem found twice has the same key.
    pub key: String,
    /// What it concerns (e.g. `{"type": "ledger_record", "seq": 12}`).
    pub subject: Value,
    /// What is wrong, for people, with the seqs or ids concerned.
    pub details: Value,
}

/// Every rule's name and version, for the scan's record.
pub const RULES: &[(&str, u32)] = &[
    (ledger_integrity::RULE, ledger_integrity::VERSION),
    (self_approval::RULE, self_approval::VERSION),
    (gate_gap::RULE, gate_gap::VERSION),
    (budget_overrun::RULE, budget_overrun::VERSION),
    (stale_job::RULE, stale_job::VERSION),
    (credential_exposure::RULE, credential_exposure::VERSION),
];

#[cfg(test)]
mod tests;
