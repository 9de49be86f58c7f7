//! The core's side of the client-side subscriptions: each input for one goes to it (found
//! once, in the registry), with what its transition needs of the client; and what the
//! connection does to all of them. The transitions themselves are the subscription's: see
//! [`super::subscription`].

use std::time::Instant;

use super::Core;
use super::effects::Effect;
use super::registry::Registry;
use super::subscription::{Sub, SubContext, SubId, SubSettings};
use crate::codes::{ConnectingCode, UnsubscribedCode};
use crate::error::{Error, TimeoutError};
use crate::protocol::call::EncodedCall;
use crate::protocol::{Push, Reply};
use crate::token::TokenError;
use crate::types::{ClientState, StreamPosition};

impl<S> Core<S> {
    // ---- user commands -------------------------------------------------------------------

    pub(crate) fn add_subscription(&mut self, id: SubId, settings: SubSettings) {
        self.subs.insert(Sub::new(id, settings));
    }

    /// Unsubscribes (if needed) and forgets the subscription.
    pub(crate) fn remove_subscription(&mut self, id: SubId, now: Instant) {
        self.unsubscribe(id, now);
        if self.subs.remove(id) {
            self.effects.push(Effect::SubscriptionRemoved { sub: id });
        }
    }

    pub(crate) fn subscribe(&mut self, id: SubId, now: Instant) {
        self.with_sub(id, now, |sub, cx| sub.subscribe(cx));
    }

    pub(crate) fn unsubscribe(&mut self, id: SubId, now: Instant) {
        self.with_sub(id, now, |sub, cx| sub.unsubscribe(cx));
    }

    /// A call on a subscription's channel: sent once the subscription is subscribed.
    pub(crate) fn sub_call(&mut self, id: SubId, call: EncodedCall, slot: S, now: Instant) {
        let (subs, mut cx) = self.lend(now);
        match subs.get_mut(id) {
            Some(sub) => sub.call(call, slot, &mut cx),
            None => cx.out.complete(slot, Err(Error::Unsubscribed)),
        }
    }

    // ---- getter answers and replies ------------------------------------------------------

    /// A subscription token getter answered.
    pub(crate) fn sub_token_fetched(
        &mut self,
        attempt: u64,
        result: Result<String, TokenError>,
        now: Instant,
    ) {
        let Some(id) = self.sub_fetches.finish(attempt) else { return };
        self.with_sub(id, now, |sub, cx| sub.token_fetched(attempt, result, cx));
    }

    /// A state getter answered.
    pub(crate) fn state_fetched(
        &mut self,
        attempt: u64,
        result: Result<StreamPosition, String>,
        now: Instant,
    ) {
        let Some(id) = self.sub_fetches.finish(attempt) else { return };
        self.with_sub(id, now, |sub, cx| sub.position_fetched(attempt, result, cx));
    }

    /// The reply to subscribe command `command` of subscription `id`.
    pub(super) fn subscribe_reply(&mut self, id: SubId, command: u32, reply: Reply, now: Instant) {
        self.with_sub(id, now, |sub, cx| sub.subscribe_reply(command, reply, cx));
    }

    /// The reply to the token refresh command of subscription `id`.
    pub(super) fn sub_refresh_reply(&mut self, id: SubId, reply: Reply, now: Instant) {
        self.with_sub(id, now, |sub, cx| sub.refresh_reply(reply, cx));
    }

    /// The token refresh command of subscription `id` got no reply in time.
    pub(super) fn sub_refresh_timed_out(&mut self, id: SubId, command: u32, now: Instant) {
        self.with_sub(id, now, |sub, cx| sub.refresh_timed_out(command, cx));
    }

    /// A subscribe or unsubscribe command failed for good: reconnect the client.
    pub(super) fn subscription_command_failed(&mut self, reason: ConnectingCode, now: Instant) {
        self.lose_connection(reason, now);
    }

    /// Routes a push to the client-side subscription of its channel, taking what it uses;
    /// `false` when there is none (the push is for a server-side subscription).
    pub(super) fn sub_push(&mut self, push: &mut Push, now: Instant) -> bool {
        let Some(id) = self.subs.by_channel(&push.channel) else { return false };
        let (subs, mut cx) = self.lend(now);
        if let Some(unsubscribe) = push.unsubscribe.take() {
            if let Some(sub) = subs.get_mut(id) {
                sub.unsubscribe_push(unsubscribe.code, unsubscribe.reason, &mut cx);
            }
        } else if let Some(sub) = subs.get_mut_keeping_timers(id) {
            sub.stream_push(push, &mut cx);
        }
        true
    }

    // ---- the connection's effect on subscriptions ----------------------------------------

    /// The connection is up (the connect command is out): subscribe everything that waits.
    pub(super) fn resubscribe_all(&mut self, now: Instant) {
        let (subs, mut cx) = self.lend(now);
        for sub in subs.values_mut() {
            sub.start_subscribe(&mut cx);
        }
    }

    /// The connection is gone: subscribed subscriptions become subscribing (code 1) and will
    /// resubscribe after the reconnect.
    pub(super) fn suspend_all(&mut self) {
        for sub in self.subs.values_mut() {
            sub.suspend(&mut self.effects);
        }
    }

    /// The client closed: every subscription ends with code 2.
    pub(super) fn close_all(&mut self) {
        for sub in self.subs.values_mut() {
            sub.end(UnsubscribedCode::ClientClosed.into(), Error::Closed, &mut self.effects);
        }
    }

    /// Disconnect 3014: every subscription forgets its token, position and delta base.
    pub(super) fn invalidate_all(&mut self) {
        for sub in self.subs.values_mut() {
            sub.invalidate();
        }
    }

    /// Acts on the subscriptions' deadlines.
    pub(super) fn tick_subscriptions(&mut self, now: Instant) {
        if self.subs.next_deadline().is_none_or(|deadline| deadline > now) {
            return;
        }
        // A call waiting for its subscription that runs out says what it waited for.
        let expired_wait = if self.state == ClientState::Connected {
            Error::Timeout(TimeoutError::subscription(self.config.timeout))
        } else {
            self.connection_timeout(self.config.timeout)
        };
        let (subs, mut cx) = self.lend(now);
        for sub in subs.values_mut() {
            sub.tick(&expired_wait, &mut cx);
        }
    }

    // ---- helpers -------------------------------------------------------------------------

    /// Hands subscription `id` (if it still exists) and what its transitions use of the
    /// client to `transition`.
    fn with_sub(
        &mut self,
        id: SubId,
        now: Instant,
        transition: impl FnOnce(&mut Sub<S>, &mut SubContext<'_, S>),
    ) {
        let (subs, mut cx) = self.lend(now);
        if let Some(sub) = subs.get_mut(id) {
            transition(sub, &mut cx);
        }
    }

    /// Lends what a subscription's transition uses of the client, beside the registry to find
    /// the subscription in.
    fn lend(&mut self, now: Instant) -> (&mut Registry<S>, SubContext<'_, S>) {
        let (client, writable, up) = (self.state, self.link.writable(), self.link.up());
        let Core { subs, effects, calls, sub_fetches, rng, config, .. } = self;
        let cx =
            SubContext { now, out: effects, calls, fetches: sub_fetches, rng, config, client, writable, up };
        (subs, cx)
    }
}
