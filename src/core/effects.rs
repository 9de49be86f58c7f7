//! What the state machine asks the runtime to do, and the queue its transitions push onto.

use std::sync::Arc;

use crate::error::Error;
use crate::events::{ClientEvent, SubscriptionEvent};
use crate::protocol::call::EncodedCall;
use crate::protocol::{Command, Reply};
use crate::types::{ClientState, SubscriptionState};

use super::SubId;

/// What the runtime must do.
#[derive(Debug)]
// Effects live only between `take_effects` and their execution; boxing the large ones would
// cost an allocation per call for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Effect<S> {
    /// Open connection `generation` and report `opened`, `dial_failed`, frames and `closed`.
    Dial { generation: u64 },
    /// Write the core's own `command` on connection `generation`. Consecutive ones share one
    /// frame. Boxed: effects queue up by the thousand in a busy round (ten thousand
    /// subscribes), and every one of them is as large as the largest variant.
    SendCommand { generation: u64, command: Box<Command> },
    /// Write a user's call, encoded by its caller, on connection `generation`.
    WriteCall { generation: u64, call: EncodedCall },
    /// Connection `generation` is up at the protocol level: calls may use it directly.
    ConnectionUp { generation: u64 },
    /// Close connection `generation` (or abandon its dial); calls in flight on it are lost.
    CloseConnection { generation: u64 },
    /// Call the connection token getter and report the result with this attempt number.
    FetchToken { attempt: u64 },
    /// Hand an event to the client listener.
    ClientEvent(ClientEvent),
    /// Answer a caller.
    Complete { slot: S, result: Box<Result<Reply, Error>> },
    /// The client state changed (published before the events that explain it).
    ClientState(ClientState),
    /// Call the token getter of subscription `sub` and report with this attempt number.
    FetchSubscriptionToken { attempt: u64, sub: SubId, channel: Arc<str> },
    /// Call the state getter of subscription `sub` (the position to follow its stream from)
    /// and report with this attempt number.
    FetchSubscriptionPosition { attempt: u64, sub: SubId, channel: Arc<str> },
    /// Hand an event to the listener of subscription `sub`.
    SubscriptionEvent { sub: SubId, event: SubscriptionEvent },
    /// The state of subscription `sub` changed: what its handles read (published before the
    /// events that explain it).
    SubscriptionState { sub: SubId, state: SubscriptionState },
    /// Subscription `sub` is gone; its listener can go after the events queued before.
    SubscriptionRemoved { sub: SubId },
}

/// The effects pushed since the runtime last took them, in the order they must be carried
/// out. Every transition, the client's and a subscription's, writes here.
#[derive(Debug)]
pub(super) struct Effects<S> {
    queue: Vec<Effect<S>>,
}

impl<S> Default for Effects<S> {
    fn default() -> Effects<S> {
        Effects { queue: Vec::new() }
    }
}

impl<S> Effects<S> {
    pub(super) fn push(&mut self, effect: Effect<S>) {
        self.queue.push(effect);
    }

    /// Everything pushed so far, in order; the queue starts empty again.
    pub(super) fn take(&mut self) -> Vec<Effect<S>> {
        std::mem::take(&mut self.queue)
    }

    /// Writes the core's own `command` on connection `generation`.
    pub(super) fn send(&mut self, generation: u64, command: Command) {
        self.push(Effect::SendCommand { generation, command: Box::new(command) });
    }

    /// Answers a caller.
    pub(super) fn complete(&mut self, slot: S, result: Result<Reply, Error>) {
        self.push(Effect::Complete { slot, result: Box::new(result) });
    }

    /// Hands an event to the client listener.
    pub(super) fn emit(&mut self, event: ClientEvent) {
        self.push(Effect::ClientEvent(event));
    }

    /// Hands an event to the listener of subscription `sub`.
    pub(super) fn emit_to(&mut self, sub: SubId, event: SubscriptionEvent) {
        self.push(Effect::SubscriptionEvent { sub, event });
    }
}
