//! Billing, pure: what a subscription allows at an instant, plans and their limits, Stripe's
//! webhook signature, and what a Stripe event does to a tenant's subscription.
//!
//! - [`plans`] — plans as configuration (Stripe price, agents, decisions per month, meter).
//! - [`signature`] — `Stripe-Signature`: HMAC-SHA256 over `timestamp.body`, a tolerance.
//! - [`stripe_event`] — the events Charter handles and the state each one leads to.
//!
//! The stored state is what Stripe and the operators last said; [`Subscription`] derives
//! what is enforced at a given moment, so a trial ends at its exact time and a payment
//! failure blocks actions only once the grace period is over.

pub mod plans;
pub mod signature;
pub mod stripe_event;

use chrono::{DateTime, Duration, Utc};

use crate::status::SubscriptionStatus;

/// Days of a trial from sign-up.
pub const TRIAL_DAYS: i64 = 14;
/// Days a tenant keeps acting after a payment first fails, unless configured otherwise.
pub const DEFAULT_GRACE_DAYS: u32 = 7;

/// A tenant's subscription as stored, with the grace period a failed payment gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    pub status: SubscriptionStatus,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub past_due_since: Option<DateTime<Utc>>,
    pub grace: Duration,
}

impl Subscription {
    /// What every tenant has when billing is off.
    pub fn unlimited() -> Subscription {
        Subscription {
            status: SubscriptionStatus::Unlimited,
            trial_ends_at: None,
            past_due_since: None,
            grace: Duration::zero(),
        }
    }

    /// The state at `now`: a trial whose end has come is `trial_expired`, whether or not
    /// the worker has recorded it yet (a trial without an end date never expires).
    pub fn status_at(&self, now: DateTime<Utc>) -> SubscriptionStatus {
        match (self.status, self.trial_ends_at) {
            (SubscriptionStatus::Trialing, Some(end)) if end <= now => {
                SubscriptionStatus::TrialExpired
            }
            (s, _) => s,
        }
    }

    /// Whether agents may act at `now`. Reading, exporting and verifying never depend on
    /// it.
    pub fn allows_actions_at(&self, now: DateTime<Utc>) -> bool {
        match self.status_at(now) {
            SubscriptionStatus::Trialing
            | SubscriptionStatus::Active
            | SubscriptionStatus::Unlimited => true,
            // Without the time of the failure the grace cannot be counted: fail closed.
            SubscriptionStatus::PastDue => {
                self.past_due_since.is_some_and(|s| now < s + self.grace)
            }
            SubscriptionStatus::Canceled | SubscriptionStatus::TrialExpired => false,
        }
    }

    /// Whole days of trial left at `now` (rounded up; 0 once ended), when trialing.
    pub fn trial_days_left(&self, now: DateTime<Utc>) -> Option<i64> {
        if self.status != SubscriptionStatus::Trialing {
            return None;
        }
        let end = self.trial_ends_at?;
        let secs = (end - now).num_seconds().max(0);
        Some((secs + 86_399) / 86_400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn sub(status: SubscriptionStatus) -> Subscription {
        Subscription {
            status,
            trial_ends_at: Some(at(0)),
            past_due_since: Some(at(0)),
            grace: Duration::days(7),
        }
    }

    #[test]
    fn a_trial_ends_at_its_exact_time() {
        let s = sub(SubscriptionStatus::Trialing);
        assert_eq!(s.status_at(at(-1)), SubscriptionStatus::Trialing);
        assert!(s.allows_actions_at(at(-1)));
        assert_eq!(s.status_at(at(0)), SubscriptionStatus::TrialExpired);
        assert!(!s.allows_actions_at(at(0)));
        assert_eq!(s.trial_days_left(at(-1)), Some(1));
        assert_eq!(s.trial_days_left(at(-86_400 * 14)), Some(14));
        assert_eq!(s.trial_days_left(at(5)), Some(0));
    }

    #[test]
    fn past_due_acts_until_the_grace_period_ends() {
        let s = sub(SubscriptionStatus::PastDue);
        assert!(s.allows_actions_at(at(7 * 86_400 - 1)));
        assert!(!s.allows_actions_at(at(7 * 86_400)));
    }

    #[test]
    fn only_live_states_act() {
        for (status, acts) in [
            (SubscriptionStatus::Active, true),
            (SubscriptionStatus::Unlimited, true),
            (SubscriptionStatus::Canceled, false),
            (SubscriptionStatus::TrialExpired, false),
        ] {
            assert_eq!(sub(status).allows_actions_at(at(1)), acts, "{status}");
        }
        assert!(Subscription::unlimited().allows_actions_at(at(1)));
    }
}
