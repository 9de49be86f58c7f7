//! Noticing that the machine slept (a laptop's lid closed): the wall clock moves on during a
//! suspend, the monotonic clock the client's timers run on does not (Linux's `CLOCK_MONOTONIC`,
//! macOS's uptime clock). A wake-up that finds the wall clock further ahead than the monotonic
//! one, by more than [`SLEEP_GAP`], reports the difference as the time slept.
//!
//! The core thread compares the clocks at every wake-up, and while connected wakes at least
//! every [`SLEEP_CHECK`] for it, so a sleep is noticed within that time after the machine
//! wakes instead of after the ping watchdog's window (up to 35 s). That costs one wake-up per
//! [`SLEEP_CHECK`] of a connected client (measured in BENCHMARKS.md's idle figures), and
//! `ClientConfig::sleep_detection(false)` turns it off.
//!
//! Limits: on Windows the monotonic clock counts suspended time, so a sleep is not seen
//! there (the ping watchdog still notices the dead connection). A wall clock set forward by
//! more than [`SLEEP_GAP`] looks like a sleep: the client then reconnects if the "sleep" was
//! longer than the ping window, which is harmless.

use std::time::{Duration, Instant, SystemTime};

/// How often a connected client's core thread looks at the clocks when nothing else wakes it.
pub(super) const SLEEP_CHECK: Duration = Duration::from_secs(5);

/// How far the wall clock must run ahead of the monotonic one to count as a sleep.
pub(super) const SLEEP_GAP: Duration = Duration::from_secs(3);

/// The clocks at the last look; see the module docs.
#[derive(Clone, Copy, Debug)]
pub(super) struct SleepWatch {
    wall: SystemTime,
    monotonic: Instant,
}

impl SleepWatch {
    pub(super) fn new(wall: SystemTime, monotonic: Instant) -> SleepWatch {
        SleepWatch { wall, monotonic }
    }

    /// Looks at the clocks; returns how long the machine slept since the last look, if it did.
    pub(super) fn look(&mut self, wall: SystemTime, monotonic: Instant) -> Option<Duration> {
        // A wall clock set back gives no elapsed wall time: never a sleep.
        let wall_elapsed = wall.duration_since(self.wall).unwrap_or_default();
        let monotonic_elapsed = monotonic.saturating_duration_since(self.monotonic);
        *self = SleepWatch { wall, monotonic };
        let slept = wall_elapsed.saturating_sub(monotonic_elapsed);
        (slept >= SLEEP_GAP).then_some(slept)
    }

    /// When the next look is due while connected.
    pub(super) fn next_look(&self) -> Instant {
        self.monotonic + SLEEP_CHECK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_ahead_of_the_monotonic_one_is_a_sleep() {
        let (wall, monotonic) = (SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000), Instant::now());
        let mut watch = SleepWatch::new(wall, monotonic);
        // Awake: both clocks move together (a little drift is no sleep).
        let (wall, monotonic) = (wall + Duration::from_millis(3_100), monotonic + Duration::from_secs(3));
        assert_eq!(watch.look(wall, monotonic), None);
        // The lid closed for ten minutes: the monotonic clock saw only the 3 s tick.
        let (wall, monotonic) = (wall + Duration::from_secs(603), monotonic + Duration::from_secs(3));
        assert_eq!(watch.look(wall, monotonic), Some(Duration::from_secs(600)));
        assert_eq!(watch.next_look(), monotonic + SLEEP_CHECK);
        // And awake again.
        assert_eq!(watch.look(wall + Duration::from_secs(1), monotonic + Duration::from_secs(1)), None);
    }

    #[test]
    fn a_short_gap_or_a_clock_set_back_is_no_sleep() {
        let (wall, monotonic) = (SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000), Instant::now());
        let mut watch = SleepWatch::new(wall, monotonic);
        let (wall, monotonic) = (wall + Duration::from_millis(5_900), monotonic + Duration::from_secs(3));
        assert_eq!(watch.look(wall, monotonic), None, "2.9 s is under the gap");
        let (wall, monotonic) = (wall - Duration::from_secs(3600), monotonic + Duration::from_secs(3));
        assert_eq!(watch.look(wall, monotonic), None, "set back an hour");
        assert_eq!(watch.look(wall + Duration::from_secs(3), monotonic + Duration::from_secs(3)), None);
    }
}
