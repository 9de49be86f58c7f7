//! One client-side subscription's state machine.
//!
//! Each subscription goes `unsubscribed → subscribing → subscribed`. A [`Sub`] holds all of
//! its state: its token, its stream position (offset, epoch, whether to recover), the delta
//! base, the resubscribe backoff, the token refresh and the calls that wait for it to be
//! subscribed. Its transitions are its own methods: the core finds the subscription once and
//! hands the input to it, with what the transition needs of the client, explicitly: the
//! effect sink alone when that is all (suspend, end), or a [`SubContext`] (the sink, the
//! clock, the commands and getter requests in flight, the backoff's randomness, the client's
//! settings, state and connection).
//!
//! Decisions:
//! - Subscribes go out in the same frame as the connect command (the server handles a frame's
//!   commands in order), except for subscriptions that must first ask a token or state getter.
//! - The position is taken from every subscribe result of a positioned or recoverable
//!   subscription, then advanced by every publication with an offset. `unsubscribe()` keeps
//!   it, so a later `subscribe()` recovers; state invalidation (2502, 3014) resets it to the
//!   sentinel epoch `"_"` so the server reports `recovered: false`.
//! - The delta base is reset on every subscribe result: the server starts each subscription
//!   with a full payload. A delta that does not apply is reported as an `error` event and the
//!   subscription resubscribes from its last good position (an unsubscribe and a subscribe in
//!   one frame), so the publication comes again, in full; nothing wrong is ever delivered.
//! - A subscribe timeout reconnects the whole client (code 3), as the server may have
//!   subscribed; a failed or timed-out unsubscribe reconnects it too (code 4). The core does
//!   that: it concerns the client, not the subscription.
//!
//! Where a subscription is known besides its `Sub`, and why:
//! - the core's registry (`core/registry.rs`) owns the `Sub`, by id (creation order, the order
//!   subscribes go out in) and by channel (a push names only its channel);
//! - the commands in flight (`core/calls.rs`) hold its subscribe and token refresh commands,
//!   by command id, because a reply carries only that id; the `Sub` keeps the id of its
//!   subscribe command to recognise the current one and to drop it when unsubscribing.
//!   Unsubscribe commands do not name their subscription: their outcome concerns the client;
//! - the getter requests in flight ([`Fetches`]) map an attempt number to the subscription,
//!   because the getter's answer carries only that number; the `Sub` keeps the number to
//!   recognise the current request;
//! - the runtime keeps, by id, what belongs to it (the state its handles read, its listener's
//!   lane, its getters), until [`Effect::SubscriptionRemoved`].

mod getters;
mod stream;
mod subscribing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;

use super::CoreConfig;
use super::calls::{Calls, Purpose, Waiting};
use super::effects::{Effect, Effects};
use crate::error::Error;
use crate::events::{ErrorEvent, SubscriptionEvent};
use crate::protocol::{Command, FilterNode, UnsubscribeRequest};
use crate::types::{ClientState, StreamPosition, SubscriptionState};
pub(super) use getters::Fetches;

/// Identifies a subscription for as long as it exists (assigned by the handles).
pub(crate) type SubId = u64;

/// The epoch sent after state invalidation: no stream has it, so recovery reports failure.
const INVALIDATED_EPOCH: &str = "_";

/// What the state machine needs to know about a subscription's configuration.
#[derive(Clone, Debug)]
pub(crate) struct SubSettings {
    /// The channel; shared with every event of the subscription.
    pub(crate) channel: Arc<str>,
    /// The token until the getter gives another (empty: ask the getter, if any).
    pub(crate) token: String,
    pub(crate) has_token_getter: bool,
    pub(crate) has_state_getter: bool,
    /// Sent with every subscribe command.
    pub(crate) data: Bytes,
    pub(crate) min_resubscribe_delay: Duration,
    pub(crate) max_resubscribe_delay: Duration,
    pub(crate) positioned: bool,
    pub(crate) recoverable: bool,
    pub(crate) join_leave: bool,
    /// Ask for fossil deltas.
    pub(crate) delta: bool,
    /// Where to recover from on the first subscribe. Boxed, like the filter: both are rare,
    /// and a client may hold tens of thousands of subscriptions.
    pub(crate) since: Option<Box<StreamPosition>>,
    pub(crate) tags_filter: Option<Box<FilterNode>>,
}

/// Where a subscription's current attempt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing under way (unsubscribed, subscribed, or waiting for the connection or backoff).
    Idle,
    /// Waiting for the token getter (attempt number).
    FetchingToken(u64),
    /// Waiting for the state getter (attempt number).
    FetchingState(u64),
    /// The subscribe command with this id is out.
    InFlight(u32),
}

/// The proactive refresh of an expiring subscription token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SubRefresh {
    /// The token does not expire, or the subscription is not subscribed.
    Idle,
    /// Refresh at this moment.
    Due(Instant),
    /// Waiting for the token getter (attempt number).
    Fetching(u64),
    /// The refresh command with this id is out.
    InFlight(u32),
}

/// What a subscription's transition may use of the client, lent by the core for one input.
pub(in crate::core) struct SubContext<'a, S> {
    /// The moment of the input, for deadlines.
    pub(in crate::core) now: Instant,
    /// Where the transition's effects go.
    pub(in crate::core) out: &'a mut Effects<S>,
    /// Commands in flight: subscribe, unsubscribe and refresh commands go in, dropped ones out.
    pub(in crate::core) calls: &'a mut Calls<S>,
    /// Getter requests in flight for subscriptions.
    pub(in crate::core) fetches: &'a mut Fetches,
    /// The randomness of the backoff delays.
    pub(in crate::core) rng: &'a mut StdRng,
    /// The client's settings: command ids, timeout, payload format, message size limit.
    pub(in crate::core) config: &'a CoreConfig,
    /// The client's state.
    pub(in crate::core) client: ClientState,
    /// The connection commands can be written to, if any (up, or handshaking).
    pub(in crate::core) writable: Option<u64>,
    /// The connection up at the protocol level, which user calls may use, if any.
    pub(in crate::core) up: Option<u64>,
}

impl<S> SubContext<'_, S> {
    /// When a command sent now times out.
    fn command_deadline(&self) -> Instant {
        self.now + self.config.timeout
    }
}

/// One client-side subscription.
pub(in crate::core) struct Sub<S> {
    /// Who it is, in its effects.
    id: SubId,
    /// Its configuration.
    settings: SubSettings,
    /// Its state, as its handles read it.
    state: SubscriptionState,
    /// The token the next subscribe command carries (empty: ask the getter, if any).
    token: String,
    /// Subscribe from `offset` and `epoch`, recovering what was missed.
    recover: bool,
    /// The offset of the last publication delivered, or of the last subscribe result.
    offset: u64,
    /// The epoch of the stream `offset` belongs to.
    epoch: String,
    /// The server sends fossil deltas on this subscription.
    delta_negotiated: bool,
    /// The last full payload, which the next delta applies to.
    delta_base: Option<Bytes>,
    /// The server tracks this subscription's position: offsets must follow one another.
    positioned: bool,
    /// Failed attempts since `subscribe()` or the last success: the backoff's exponent.
    attempts: u32,
    /// When to subscribe again, while waiting to.
    resubscribe_at: Option<Instant>,
    /// Where the current attempt stands.
    phase: Phase,
    /// Where the refresh of its token stands.
    refresh: SubRefresh,
    /// Calls on its channel made while subscribing, sent in order once subscribed.
    waiting: Vec<Waiting<S>>,
}

impl<S> Sub<S> {
    pub(in crate::core) fn new(id: SubId, settings: SubSettings) -> Sub<S> {
        let (recover, offset, epoch) = match &settings.since {
            Some(position) => (true, position.offset, position.epoch.clone()),
            None => (false, 0, String::new()),
        };
        Sub {
            id,
            token: settings.token.clone(),
            settings,
            state: SubscriptionState::Unsubscribed,
            recover,
            offset,
            epoch,
            delta_negotiated: false,
            delta_base: None,
            positioned: false,
            attempts: 0,
            resubscribe_at: None,
            phase: Phase::Idle,
            refresh: SubRefresh::Idle,
            waiting: Vec::new(),
        }
    }

    pub(in crate::core) fn id(&self) -> SubId {
        self.id
    }

    pub(in crate::core) fn channel(&self) -> &Arc<str> {
        &self.settings.channel
    }

    /// The earliest moment at which [`Sub::tick`] has something to do.
    pub(in crate::core) fn next_deadline(&self) -> Option<Instant> {
        let refresh = match self.refresh {
            SubRefresh::Due(at) => Some(at),
            _ => None,
        };
        [self.resubscribe_at, refresh, self.waiting.iter().map(|waiting| waiting.deadline).min()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The machine slept for `slept`: a token refresh due meanwhile (in wall time) is due now.
    pub(in crate::core) fn resumed(&mut self, slept: Duration, now: Instant) {
        if let SubRefresh::Due(at) = self.refresh {
            self.refresh = SubRefresh::Due(at.checked_sub(slept).map_or(now, |at| at.max(now)));
        }
    }

    /// Forgets token, position and delta base (unsubscribe push 2502, disconnect 3014).
    pub(in crate::core) fn invalidate(&mut self) {
        self.token.clear();
        self.delta_base = None;
        if self.recover {
            self.offset = 0;
            self.epoch = INVALIDATED_EPOCH.to_string();
        }
    }

    // ---- helpers -------------------------------------------------------------------------

    fn set_state(&mut self, state: SubscriptionState, out: &mut Effects<S>) {
        if self.state != state {
            self.state = state;
            out.push(Effect::SubscriptionState { sub: self.id, state });
        }
    }

    fn emit(&self, event: SubscriptionEvent, out: &mut Effects<S>) {
        out.emit_to(self.id, event);
    }

    fn emit_error(&self, error: Error, out: &mut Effects<S>) {
        self.emit(SubscriptionEvent::Error(ErrorEvent::new(error)), out);
    }

    /// Tells the server to drop the subscription, when a connection can carry the command.
    fn send_unsubscribe(&self, cx: &mut SubContext<'_, S>) {
        let Some(generation) = cx.writable else { return };
        let id = cx.config.ids.next();
        let request = UnsubscribeRequest { channel: self.settings.channel.to_string() };
        cx.out.send(generation, Command { id, unsubscribe: Some(request), ..Default::default() });
        cx.calls.insert(id, Purpose::Unsubscribe, cx.command_deadline());
    }
}
