//! The states things are in, as types. Each is stored as the snake_case word `as_str`
//! gives (the database's CHECK constraints list the same words) and parsed back with
//! `parse`; a stored word that does not parse is a corrupt row, never a default.

/// Defines a state enum with its stored words.
macro_rules! states {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($word => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownState;
            fn from_str(s: &str) -> Result<$name, UnknownState> {
                $name::parse(s).ok_or_else(|| UnknownState {
                    kind: stringify!($name),
                    word: s.to_string(),
                })
            }
        }
    };
}

/// A stored state word that is not one of its type's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{word}` is not a valid {kind}")]
pub struct UnknownState {
    pub kind: &'static str,
    pub word: String,
}

states!(
    /// An agent: `tripped` while its breaker is open (a reset or a success after the
    /// cool-down makes it active again), `suspended` by a person.
    AgentStatus {
        Active => "active",
        Suspended => "suspended",
        Tripped => "tripped",
    }
);

states!(
    /// A person's account.
    PrincipalStatus {
        Active => "active",
        Invited => "invited",
        Disabled => "disabled",
    }
);

states!(
    /// A delegated task: `open → completed | failed | expired`.
    TaskStatus {
        Open => "open",
        Completed => "completed",
        Failed => "failed",
        Expired => "expired",
    }
);

states!(
    /// A review, an action approval or a scope-change request.
    ReviewStatus {
        Pending => "pending",
        Approved => "approved",
        Rejected => "rejected",
    }
);

states!(
    /// A violation: `open → acknowledged → resolved`.
    ViolationStatus {
        Open => "open",
        Acknowledged => "acknowledged",
        Resolved => "resolved",
    }
);

states!(
    /// How serious a violation is.
    Severity {
        Critical => "critical",
        High => "high",
        Medium => "medium",
        Low => "low",
    }
);

states!(
    /// A tenant's subscription, as billing keeps it (see `crate::billing`): `trialing`
    /// (14 days from sign-up) `→ trial_expired` at its end, or `→ active` once paid;
    /// `active ⇄ past_due` as payments fail and succeed; `canceled` when the subscription
    /// ends; `unlimited` when billing is off or for self-hosted plans.
    SubscriptionStatus {
        Trialing => "trialing",
        Active => "active",
        PastDue => "past_due",
        Canceled => "canceled",
        TrialExpired => "trial_expired",
        Unlimited => "unlimited",
    }
);

states!(
    /// A webhook delivery: `pending` (waiting for its next attempt) `→ delivered` (a 2xx
    /// answer) `| dead` (every attempt failed, or its endpoint was deleted).
    DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Dead => "dead",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(*s));
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::parse(s.as_str()), Some(*s));
        }
        let err = "paused".parse::<AgentStatus>().unwrap_err();
        assert_eq!(err.to_string(), "`paused` is not a valid AgentStatus");
    }
}
