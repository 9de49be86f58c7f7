//! Which of the client's transports the next connection attempt uses.
//!
//! The rule, with `fallback_transports` set (a single transport is simply always used):
//!
//! 1. **First round.** The transports are tried in order, the next one at once (no backoff)
//!    whenever an attempt fails before connecting: a dial error (DNS, TCP, proxy, TLS, a refused
//!    or answered-with-a-page upgrade), the connection ending with a code below 3000, the
//!    connect reply not coming in time. Once the round is back where it started, the list is
//!    tried again and again in the same order, with the usual backoff.
//! 2. **Sticking.** A transport that gets any connect reply (the server answered through it,
//!    even with an error) or is closed by the server with a code of 3000 or more is kept: later
//!    reconnects use it, as centrifuge-js does.
//! 3. **Going back to the list.** Unlike centrifuge-js, which never leaves a transport that
//!    once worked, the client goes back to the list when the kept transport fails
//!    [`GIVE_UP_AFTER`] attempts in a row without connecting: a new first round begins with
//!    the next transport, each one tried at once, until the round is back at the one given up. A network that starts blocking WebSocket
//!    upgrades (a new proxy, a hotel's Wi-Fi) would otherwise keep the client on a transport
//!    that can no longer work.

/// How many attempts in a row the kept transport may fail before the list is tried again.
pub(super) const GIVE_UP_AFTER: u32 = 3;

/// The transport rotation; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Transports {
    /// How many transports the client has (at least one).
    count: usize,
    /// The one the next attempt uses.
    current: usize,
    /// `current` has connected since the list was last started: it is kept.
    kept: bool,
    /// Where the current round over the list started.
    round_start: usize,
    /// The round over the list is over (back where it started): failures back off as usual.
    tried_all: bool,
    /// Attempts of the kept transport that failed in a row.
    failures: u32,
}

impl Transports {
    pub(super) fn new(count: usize) -> Transports {
        Transports {
            count: count.max(1),
            current: 0,
            kept: false,
            round_start: 0,
            tried_all: false,
            failures: 0,
        }
    }

    /// The transport the next attempt uses.
    pub(super) fn current(&self) -> usize {
        self.current
    }

    /// The attempt got an answer from the server: keep its transport.
    pub(super) fn answered(&mut self) {
        self.kept = true;
        self.failures = 0;
    }

    /// The attempt failed before connecting. Returns whether the next attempt goes at once
    /// (the first round over the list), rather than after the usual backoff.
    pub(super) fn failed(&mut self) -> bool {
        if self.count == 1 {
            return false;
        }
        if self.kept {
            self.failures += 1;
            if self.failures < GIVE_UP_AFTER {
                return false;
            }
            // Back to the list: a new first round, from the next transport round to this one.
            self.kept = false;
            self.failures = 0;
            self.tried_all = false;
            self.round_start = self.current;
        }
        self.current = (self.current + 1) % self.count;
        if self.current == self.round_start {
            self.tried_all = true;
        }
        !self.tried_all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_transport_is_always_used_with_backoff() {
        let mut transports = Transports::new(1);
        assert!(!transports.failed());
        assert_eq!(transports.current(), 0);
    }

    #[test]
    fn the_first_round_tries_each_transport_at_once_then_backs_off() {
        let mut transports = Transports::new(3);
        assert_eq!(transports.current(), 0);
        assert!(transports.failed(), "second transport at once");
        assert_eq!(transports.current(), 1);
        assert!(transports.failed(), "third transport at once");
        assert_eq!(transports.current(), 2);
        assert!(!transports.failed(), "the round is over: back to the first, with backoff");
        assert_eq!(transports.current(), 0);
        assert!(!transports.failed());
        assert_eq!(transports.current(), 1, "later rounds still move along the list");
    }

    #[test]
    fn a_transport_that_was_answered_is_kept_until_it_fails_three_times_in_a_row() {
        let mut transports = Transports::new(3);
        transports.failed();
        transports.answered();
        assert_eq!(transports.current(), 1);
        assert!(!transports.failed());
        assert!(!transports.failed());
        assert_eq!(transports.current(), 1, "kept through two failures");
        assert!(transports.failed(), "the third goes back to the list, at once");
        assert_eq!(transports.current(), 2);
        assert!(transports.failed(), "the new round goes on, at once");
        assert_eq!(transports.current(), 0);
        assert!(!transports.failed(), "back at the one given up: the round is over");
        assert_eq!(transports.current(), 1);
    }

    #[test]
    fn an_answer_resets_the_count_of_failures() {
        let mut transports = Transports::new(2);
        transports.answered();
        transports.failed();
        transports.failed();
        transports.answered();
        transports.failed();
        transports.failed();
        assert_eq!(transports.current(), 0, "never three failures in a row");
    }
}
