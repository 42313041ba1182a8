//! What the REST admin API changes and reads beyond the engine: people, agents and their
//! keys, tenant API tokens, violations, the humans' approvals inbox, breakers, the ledger's
//! entries with proofs. Every change is a ledger record naming the acting principal,
//! written in the transaction that makes the change; each checks the principal's roles
//! itself too, so a bug in a caller cannot grant what the roles do not.
//!
//! - [`users`] — invitations, roles, status, removal (owners are protected).
//! - [`agents`] — agents' lifecycle and their API keys.
//! - [`violations`] — listing, acknowledging, resolving.
//! - [`inbox`] — what waits for a human: reviews (separation of duties applied), action
//!   approvals, scope-change requests; and the breakers.
//! - [`ledger`] — entries with inclusion proofs, checkpoints, consistency proofs.

pub mod agents;
pub mod inbox;
pub mod ledger;
pub mod users;
pub mod violations;

use charter_core::ledger::Entry;
use charter_core::tenant::{Acting, Role};
use serde_json::Value;

/// Roles that administer a tenant (people, agents, keys, tokens).
pub const ADMINS: &[Role] = &[Role::Owner, Role::Admin];

/// A ledger entry of an admin change by `by`, about `resource`.
pub(crate) fn entry(kind: &str, by: &Acting, resource: Option<String>, payload: Value) -> Entry {
    let mut e = Entry::new(kind, by.actor()).payload(payload);
    e.on_behalf_of = by
        .token
        .as_ref()
        .map(|_| format!("principal:{}", by.principal));
    e.resource = resource;
    e
}
