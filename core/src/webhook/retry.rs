//! When a failed delivery is tried again: the Standard Webhooks schedule (5 s, 5 min,
//! 30 min, 2 h, 5 h, 10 h, 10 h after each failure), each delay spread by ±10 % so that
//! many deliveries failing together do not return together. Eight attempts span more than
//! 24 hours even at the shortest jitter; after the eighth the delivery is dead-lettered.

use std::time::Duration;

const SCHEDULE_SECS: [u64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// Attempts before a delivery is dead-lettered.
pub const MAX_ATTEMPTS: u32 = SCHEDULE_SECS.len() as u32 + 1;

/// The wait after the `attempt`-th failure (1-based), or `None` when it was the last.
/// `jitter` is a uniform random number in [0, 1).
pub fn delay_after(attempt: u32, jitter: f64) -> Option<Duration> {
    let base = *SCHEDULE_SECS.get(attempt.checked_sub(1)? as usize)?;
    let factor = 0.9 + 0.2 * jitter.clamp(0.0, 1.0);
    Some(Duration::from_secs_f64(base as f64 * factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_span_more_than_a_day_then_stop() {
        let shortest: Duration = (1..MAX_ATTEMPTS)
            .map(|n| delay_after(n, 0.0).unwrap())
            .sum();
        assert!(shortest > Duration::from_secs(24 * 3600), "{shortest:?}");
        assert_eq!(delay_after(MAX_ATTEMPTS, 0.5), None);
        assert_eq!(delay_after(0, 0.5), None);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let lo = delay_after(2, 0.0).unwrap().as_secs_f64();
        let hi = delay_after(2, 0.999_999).unwrap().as_secs_f64();
        assert!((270.0..=270.001).contains(&lo), "{lo}");
        assert!((329.9..=330.0).contains(&hi), "{hi}");
    }
}
