//! Budget cycles: spend and dispatch limits per fixed window.

use chrono::{DateTime, TimeZone, Utc};

/// The start of the cycle containing `now`, for cycles of `length_secs` counted from the
/// Unix epoch (so every node computes the same window).
pub fn cycle_start(now: DateTime<Utc>, length_secs: i64) -> DateTime<Utc> {
    let len = length_secs.max(1);
    let t = now.timestamp();
    let start = t - t.rem_euclid(len);
    Utc.timestamp_opt(start, 0).single().unwrap_or(now)
}

/// Limits of one subject (an agent or the tenant) per cycle; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// In the tenant's smallest currency unit (e.g. cents).
    pub spend: Option<i64>,
    pub dispatches: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_aligned_windows() {
        let now = Utc.timestamp_opt(1_800_000_123, 0).unwrap();
        // 1_800_000_000 is a multiple of 3600.
        assert_eq!(cycle_start(now, 3600).timestamp(), 1_800_000_000);
        assert_eq!(
            cycle_start(now, 7).timestamp(),
            1_800_000_123 - 1_800_000_123 % 7
        );
        assert_eq!(cycle_start(now, 1).timestamp(), 1_800_000_123);
        let next = Utc
            .timestamp_opt(cycle_start(now, 3600).timestamp() + 3600, 0)
            .unwrap();
        assert_eq!(cycle_start(next, 3600), next);
    }
}
