//! The per-agent circuit breaker.
//!
//! Closed: failures are counted; the `threshold`-th consecutive failure opens it. Open:
//! every action is blocked (`breaker_open`) until a principal resets it, or until the
//! cool-down has passed, when it becomes half-open. Half-open: actions are allowed; the
//! next success closes the breaker, the next failure opens it again.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub const DEFAULT_THRESHOLD: u32 = 3;
pub const DEFAULT_COOLDOWN_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub const ALL: &'static [State] = &[State::Closed, State::Open, State::HalfOpen];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        match s {
            "closed" => Some(State::Closed),
            "open" => Some(State::Open),
            "half_open" => Some(State::HalfOpen),
            _ => None,
        }
    }
}

impl std::str::FromStr for State {
    type Err = crate::status::UnknownState;
    fn from_str(s: &str) -> Result<State, Self::Err> {
        State::parse(s).ok_or_else(|| crate::status::UnknownState {
            kind: "breaker state",
            word: s.to_string(),
        })
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    pub state: State,
    pub consecutive_failures: u32,
    pub threshold: u32,
    pub cooldown: Duration,
    pub opened_at: Option<DateTime<Utc>>,
}

/// A state change worth recording (and notifying the responsible principal about).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            state: State::Closed,
            consecutive_failures: 0,
            threshold: threshold.max(1),
            cooldown,
            opened_at: None,
        }
    }

    fn go(&mut self, to: State) -> Option<Transition> {
        let from = self.state;
        self.state = to;
        (from != to).then_some(Transition { from, to })
    }

    /// Whether an action may proceed now; an open breaker past its cool-down turns
    /// half-open here (the returned transition is to be recorded).
    pub fn admit(&mut self, now: DateTime<Utc>) -> (bool, Option<Transition>) {
        match self.state {
            State::Closed | State::HalfOpen => (true, None),
            State::Open => {
                let cooled = self.opened_at.is_some_and(|t| now >= t + self.cooldown);
                if cooled {
                    (true, self.go(State::HalfOpen))
                } else {
                    (false, None)
                }
            }
        }
    }

    pub fn record_success(&mut self) -> Option<Transition> {
        self.consecutive_failures = 0;
        match self.state {
            State::HalfOpen => {
                self.opened_at = None;
                self.go(State::Closed)
            }
            _ => None,
        }
    }

    pub fn record_failure(&mut self, now: DateTime<Utc>) -> Option<Transition> {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let trip = match self.state {
            State::HalfOpen => true,
            State::Closed => self.consecutive_failures >= self.threshold,
            State::Open => false,
        };
        if trip {
            self.opened_at = Some(now);
            self.go(State::Open)
        } else {
            None
        }
    }

    /// A principal's reset: closed, counters cleared.
    pub fn reset(&mut self) -> Option<Transition> {
        self.consecutive_failures = 0;
        self.opened_at = None;
        self.go(State::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn trips_on_the_threshold_failure_and_blocks() {
        let mut b = Breaker::new(3, Duration::seconds(60));
        assert_eq!(b.record_failure(t(0)), None);
        assert_eq!(b.record_failure(t(1)), None);
        assert_eq!(
            b.record_failure(t(2)),
            Some(Transition {
                from: State::Closed,
                to: State::Open
            })
        );
        assert_eq!(b.admit(t(3)), (false, None));
        assert_eq!(b.admit(t(61)), (false, None));
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut b = Breaker::new(3, Duration::seconds(60));
        b.record_failure(t(0));
        b.record_failure(t(1));
        b.record_success();
        assert_eq!(b.record_failure(t(2)), None);
        assert_eq!(b.state, State::Closed);
    }

    #[test]
    fn half_open_after_cooldown_then_success_closes_failure_reopens() {
        let mut b = Breaker::new(1, Duration::seconds(60));
        b.record_failure(t(0));
        assert_eq!(
            b.admit(t(62)),
            (
                true,
                Some(Transition {
                    from: State::Open,
                    to: State::HalfOpen
                })
            )
        );
        assert_eq!(
            b.record_success(),
            Some(Transition {
                from: State::HalfOpen,
                to: State::Closed
            })
        );
        b.record_failure(t(70));
        assert_eq!(b.admit(t(140)).1.map(|x| x.to), Some(State::HalfOpen));
        assert_eq!(
            b.record_failure(t(141)),
            Some(Transition {
                from: State::HalfOpen,
                to: State::Open
            })
        );
        assert_eq!(b.admit(t(142)), (false, None));
        assert_eq!(
            b.reset(),
            Some(Transition {
                from: State::Open,
                to: State::Closed
            })
        );
        assert_eq!(b.admit(t(143)), (true, None));
    }
}
