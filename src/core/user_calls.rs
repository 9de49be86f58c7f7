//! The user's calls and `ready()` waits on the client: written at once when connected, kept
//! while connecting, failed at once when disconnected or closed, and timed out at their
//! deadline.

use std::time::{Duration, Instant};

use super::Core;
use super::calls::Waiting;
use crate::error::Error;
use crate::protocol::Reply;
use crate::protocol::call::EncodedCall;
use crate::types::ClientState;

/// A `ready()` waiting for the connection.
#[derive(Debug)]
pub(super) struct ReadyWaiter<S> {
    /// How the caller is answered.
    slot: S,
    /// When the caller stops waiting.
    pub(super) deadline: Instant,
    /// How long the caller asked to wait, for the timeout's message.
    waited: Duration,
}

impl<S> Core<S> {
    /// A user call; answered through `slot` exactly once.
    pub(crate) fn call(&mut self, call: EncodedCall, slot: S, now: Instant) {
        let deadline = now + self.config.timeout;
        match self.state {
            ClientState::Closed => self.effects.complete(slot, Err(Error::Closed)),
            ClientState::Disconnected => self.effects.complete(slot, Err(Error::Disconnected)),
            ClientState::Connecting => self.waiting.push(Waiting { call, slot, deadline }),
            ClientState::Connected => {
                self.calls.send_user_call(&mut self.effects, self.link.up(), Waiting { call, slot, deadline })
            }
        }
    }

    /// Answers `slot` once connected, or with an error when that cannot happen by `deadline`.
    /// `waited` is the whole wait the caller asked for, for the timeout's message.
    pub(crate) fn wait_ready(&mut self, slot: S, deadline: Instant, waited: Duration) {
        match self.state {
            ClientState::Connected => self.effects.complete(slot, Ok(Reply::default())),
            ClientState::Connecting => self.ready_waiters.push(ReadyWaiter { slot, deadline, waited }),
            ClientState::Disconnected => self.effects.complete(slot, Err(Error::Disconnected)),
            ClientState::Closed => self.effects.complete(slot, Err(Error::Closed)),
        }
    }

    /// Connected: the calls made while connecting go out, in order, and `ready()` returns.
    pub(super) fn connected_calls(&mut self) {
        let up = self.link.up();
        for waiting in std::mem::take(&mut self.waiting) {
            self.calls.send_user_call(&mut self.effects, up, waiting);
        }
        for waiter in std::mem::take(&mut self.ready_waiters) {
            self.effects.complete(waiter.slot, Ok(Reply::default()));
        }
    }

    /// The client stopped: every call and `ready()` still waiting fails with `error`.
    pub(super) fn fail_waiting_calls(&mut self, error: &Error) {
        for call in std::mem::take(&mut self.waiting) {
            self.effects.complete(call.slot, Err(error.clone()));
        }
        for waiter in std::mem::take(&mut self.ready_waiters) {
            self.effects.complete(waiter.slot, Err(error.clone()));
        }
    }

    /// The earliest deadline of a call or `ready()` waiting for the connection.
    pub(super) fn waiting_deadline(&self) -> Option<Instant> {
        let calls = self.waiting.iter().map(|waiting| waiting.deadline);
        calls.chain(self.ready_waiters.iter().map(|waiter| waiter.deadline)).min()
    }

    /// Fails the calls and `ready()`s whose wait for the connection ran out by `now`.
    pub(super) fn expire_waiting_calls(&mut self, now: Instant) {
        let (expired, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.waiting).into_iter().partition(|waiting| waiting.deadline <= now);
        self.waiting = waiting;
        for waiting in expired {
            let error = self.connection_timeout(self.config.timeout);
            self.effects.complete(waiting.slot, Err(error));
        }
        let (expired, ready): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.ready_waiters).into_iter().partition(|waiter| waiter.deadline <= now);
        self.ready_waiters = ready;
        for waiter in expired {
            let error = self.connection_timeout(waiter.waited);
            self.effects.complete(waiter.slot, Err(error));
        }
    }
}
