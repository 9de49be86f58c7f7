//! Full-jitter exponential backoff, as the official SDKs compute it.
//!
//! `cap = min(max, min · 2^attempt)` with the attempt capped at 31, then a uniform jitter in
//! `[0, cap]` on top of `min`, clamped to `max`. With 500 ms–20 s: attempt 0 waits 0.5–1 s,
//! attempt 1 0.5–1.5 s, attempt 2 0.5–2.5 s, … and from attempt 6 on 0.5–20 s.

use std::time::Duration;

use rand::{Rng, RngExt};

/// The delay before retry number `attempt` (0 for the first retry).
pub(crate) fn full_jitter(attempt: u32, min: Duration, max: Duration, rng: &mut impl Rng) -> Duration {
    let min_ms = millis(min);
    let max_ms = millis(max).max(min_ms);
    let cap = min_ms.saturating_mul(1u64 << attempt.min(31)).min(max_ms);
    let jitter = rng.random_range(0..=cap);
    Duration::from_millis(min_ms.saturating_add(jitter).min(max_ms))
}

/// A uniform delay in `[low, high]`, used for token refresh retries (10–20 s).
pub(crate) fn uniform(low: Duration, high: Duration, rng: &mut impl Rng) -> Duration {
    let low_ms = millis(low);
    let high_ms = millis(high).max(low_ms);
    Duration::from_millis(rng.random_range(low_ms..=high_ms))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const MIN: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(20);

    #[test]
    fn every_attempt_stays_within_its_bounds() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..40u32 {
            let cap = (500u64 << attempt.min(31).min(20)).min(20_000);
            for _ in 0..200 {
                let delay = full_jitter(attempt, MIN, MAX, &mut rng);
                assert!(delay >= MIN, "attempt {attempt}: {delay:?}");
                assert!(delay <= MAX, "attempt {attempt}: {delay:?}");
                assert!(
                    delay <= Duration::from_millis(500 + cap),
                    "attempt {attempt}: {delay:?} over {cap} ms"
                );
            }
        }
    }

    #[test]
    fn the_first_attempts_grow_and_spread() {
        let mut rng = StdRng::seed_from_u64(1);
        let samples: Vec<Duration> = (0..2000).map(|_| full_jitter(0, MIN, MAX, &mut rng)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_millis(1000)));
        assert!(samples.iter().any(|d| *d < Duration::from_millis(600)), "jitter reaches the low end");
        assert!(samples.iter().any(|d| *d > Duration::from_millis(900)), "jitter reaches the high end");
        let late: Vec<Duration> = (0..2000).map(|_| full_jitter(10, MIN, MAX, &mut rng)).collect();
        assert!(late.iter().any(|d| *d > Duration::from_secs(15)), "late attempts use the whole range");
    }

    #[test]
    fn huge_attempts_and_extreme_settings_do_not_overflow() {
        let mut rng = StdRng::seed_from_u64(3);
        let delay =
            full_jitter(u32::MAX, Duration::from_millis(1), Duration::from_secs(u64::MAX / 1000), &mut rng);
        assert!(delay >= Duration::from_millis(1));
        assert_eq!(full_jitter(5, Duration::ZERO, Duration::ZERO, &mut rng), Duration::ZERO);
        // A maximum below the minimum acts as the minimum.
        assert_eq!(full_jitter(5, MAX, MIN, &mut rng), MAX);
    }

    #[test]
    fn uniform_delays_cover_their_range() {
        let mut rng = StdRng::seed_from_u64(9);
        let low = Duration::from_secs(10);
        let high = Duration::from_secs(20);
        let samples: Vec<Duration> = (0..1000).map(|_| uniform(low, high, &mut rng)).collect();
        assert!(samples.iter().all(|d| (low..=high).contains(d)));
        assert!(samples.iter().any(|d| *d < Duration::from_secs(11)));
        assert!(samples.iter().any(|d| *d > Duration::from_secs(19)));
    }
}
