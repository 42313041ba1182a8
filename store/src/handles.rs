//! The store's named parts. `Store` holds the connections; what callers do goes through one
//! of these handles, each a borrowed view of the store with the operations of one area:
//!
//! - [`Engine`] (`store.engine()`) — decisions, outcomes, delegation, artifacts and
//!   reviews, workflows, scopes and policies, breakers, approvals, what agents read;
//! - [`Ledger`] (`store.ledger()`) — appends, entries with proofs, checkpoints, exports,
//!   receipts, public keys;
//! - [`Admin`] (`store.admin()`) — tenants, people, agents and their keys, API tokens,
//!   violations, the humans' inbox;
//! - [`Sessions`] (`store.sessions()`) — who is calling: slugs, agent keys, API tokens,
//!   passwords, login sessions, MCP sessions;
//! - [`Worker`] (`store.worker()`) — job runs, the forensic scanner's passes and findings;
//! - [`Billing`] (`store.billing()`) — plans, subscription state, Stripe checkout and
//!   webhooks, trials;
//! - [`crate::limits::Limits`] (`store.limits()`) — rate limits and attempt counters.
//!
//! Each handle dereferences to the [`Store`], so an operation reaches the store's
//! transactions, cache and ledger writer as before.

use std::ops::Deref;

use crate::Store;

macro_rules! handle {
    ($(#[$m:meta])* $name:ident, $accessor:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(pub(crate) &'a Store);

        impl Deref for $name<'_> {
            type Target = Store;
            fn deref(&self) -> &Store {
                self.0
            }
        }

        impl Store {
            pub fn $accessor(&self) -> $name<'_> {
                $name(self)
            }
        }
    };
}

handle!(
    /// Decisions and the work agents do (see the module's list).
    Engine,
    engine
);
handle!(
    /// The signed ledger.
    Ledger,
    ledger
);
handle!(
    /// What tenant administrators change and read.
    Admin,
    admin
);
handle!(
    /// Who is calling, and their sessions.
    Sessions,
    sessions
);
handle!(
    /// What the worker's jobs read and write: job runs, scanner passes, findings.
    Worker,
    worker
);
handle!(
    /// Plans, subscriptions, Stripe.
    Billing,
    billing
);
