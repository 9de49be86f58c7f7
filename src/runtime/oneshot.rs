//! A one-shot answer slot: one value, handed from the thread that has it to the thread that
//! waits for it.
//!
//! A general channel waits by spinning and yielding before it sleeps, which pays off on an idle
//! many-core machine and costs dearly on a busy small one: eight callers waiting for replies
//! on two cores spent more time yielding to each other than the replies took. A caller here
//! sleeps at once on a condition variable and is woken by the single `send`.
//!
//! The sending side may be cloned (a call is registered in two places); when every sender is
//! gone without sending, the receiver learns that no answer will come.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

enum State<T> {
    /// No answer yet; how many senders could still give one.
    Waiting {
        senders: usize,
    },
    Answered(T),
    /// Answered and taken, or given up by every sender.
    Done,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
}

/// Gives the answer.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Waits for the answer.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// Why no answer was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// The deadline passed first.
    Timeout,
    /// Every sender is gone without answering, or the answer was already taken.
    Disconnected,
}

/// A new slot.
pub(crate) fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let shared =
        Arc::new(Shared { state: Mutex::new(State::Waiting { senders: 1 }), changed: Condvar::new() });
    (Sender { shared: Arc::clone(&shared) }, Receiver { shared })
}

impl<T> Sender<T> {
    /// Answers; gives the value back when an answer was already given.
    pub(crate) fn send(&self, value: T) -> Result<(), T> {
        let mut state = self.shared.state.lock();
        if !matches!(*state, State::Waiting { .. }) {
            return Err(value);
        }
        *state = State::Answered(value);
        drop(state);
        self.shared.changed.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        if let State::Waiting { senders } = &mut *self.shared.state.lock() {
            *senders += 1;
        }
        Sender { shared: Arc::clone(&self.shared) }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        if let State::Waiting { senders } = &mut *state {
            *senders -= 1;
            if *senders == 0 {
                *state = State::Done;
                drop(state);
                self.shared.changed.notify_one();
            }
        }
    }
}

impl<T> Receiver<T> {
    /// Whether the answer is here.
    pub(crate) fn is_answered(&self) -> bool {
        matches!(*self.shared.state.lock(), State::Answered(_))
    }

    /// Waits for the answer until `deadline`.
    pub(crate) fn recv_deadline(&self, deadline: Instant) -> Result<T, Missing> {
        self.wait(Some(deadline))
    }

    /// Waits for the answer as long as a sender may still give it.
    pub(crate) fn recv(&self) -> Result<T, Missing> {
        self.wait(None)
    }

    fn wait(&self, deadline: Option<Instant>) -> Result<T, Missing> {
        let mut state = self.shared.state.lock();
        loop {
            match std::mem::replace(&mut *state, State::Done) {
                State::Answered(value) => return Ok(value),
                State::Done => return Err(Missing::Disconnected),
                waiting @ State::Waiting { .. } => {
                    *state = waiting;
                    let Some(deadline) = deadline else {
                        self.shared.changed.wait(&mut state);
                        continue;
                    };
                    if self.shared.changed.wait_until(&mut state, deadline).timed_out()
                        && matches!(*state, State::Waiting { .. })
                    {
                        return Err(Missing::Timeout);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_answer_reaches_a_waiting_thread() {
        let (sender, receiver) = oneshot();
        let answering = std::thread::spawn(move || sender.send(7));
        assert_eq!(receiver.recv_deadline(Instant::now() + Duration::from_secs(10)), Ok(7));
        assert_eq!(answering.join().unwrap(), Ok(()));
    }

    #[test]
    fn only_the_first_answer_counts() {
        let (sender, receiver) = oneshot();
        let other = sender.clone();
        assert_eq!(sender.send(1), Ok(()));
        assert_eq!(other.send(2), Err(2));
        assert!(receiver.is_answered());
        assert_eq!(receiver.recv(), Ok(1));
        assert!(!receiver.is_answered());
        assert_eq!(receiver.recv(), Err(Missing::Disconnected), "taken once");
    }

    #[test]
    fn no_answer_by_the_deadline_is_a_timeout() {
        let (sender, receiver) = oneshot::<u8>();
        let started = Instant::now();
        let missing = receiver.recv_deadline(started + Duration::from_millis(30));
        assert_eq!(missing, Err(Missing::Timeout));
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert_eq!(sender.send(3), Ok(()), "a late answer is kept");
        assert_eq!(receiver.recv_deadline(Instant::now()), Ok(3));
    }

    #[test]
    fn senders_gone_without_answering_wake_the_receiver() {
        let (sender, receiver) = oneshot::<u8>();
        let clone = sender.clone();
        drop(sender);
        assert!(!receiver.is_answered());
        let dropping = std::thread::spawn(move || drop(clone));
        assert_eq!(receiver.recv(), Err(Missing::Disconnected));
        dropping.join().unwrap();
    }
}
