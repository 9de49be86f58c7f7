//! A subscription's way in and out: subscribe and unsubscribe, the subscribe command and its
//! reply, resubscribing with backoff, the connection's loss, the end, and the calls that wait
//! for it to be subscribed.

use std::sync::Arc;
use std::time::Duration;

use super::getters::Fetch;
use super::{Phase, Sub, SubContext, SubRefresh};
use crate::backoff;
use crate::codes::{Reason, SubscribingCode, UnsubscribedCode};
use crate::core::calls::{Purpose, Waiting};
use crate::core::effects::Effects;
use crate::error::{Error, ServerError};
use crate::events::{SubscribedEvent, SubscribingEvent, SubscriptionEvent, UnsubscribedEvent};
use crate::protocol::call::EncodedCall;
use crate::protocol::codes;
use crate::protocol::{Command, Reply, SubscribeRequest, SubscribeResult};
use crate::types::{ClientState, SubscriptionState};

/// Subscribe flag: answer 112 instead of `recovered: false` (with a state getter).
const REJECT_UNRECOVERED: i64 = 2;

impl<S> Sub<S> {
    /// `subscribe()`: subscribing from now on, and at once if a connection can carry it.
    pub(in crate::core) fn subscribe(&mut self, cx: &mut SubContext<'_, S>) {
        if self.state != SubscriptionState::Unsubscribed || cx.client == ClientState::Closed {
            return;
        }
        self.attempts = 0;
        self.set_state(SubscriptionState::Subscribing, cx.out);
        let event = SubscribingEvent::new(SubscribingCode::SubscribeCalled.into());
        self.emit(SubscriptionEvent::Subscribing(event), cx.out);
        self.start_subscribe(cx);
    }

    /// `unsubscribe()`: tells the server if it may hold the subscription, and ends it.
    pub(in crate::core) fn unsubscribe(&mut self, cx: &mut SubContext<'_, S>) {
        if self.state == SubscriptionState::Unsubscribed {
            return;
        }
        let on_server =
            self.state == SubscriptionState::Subscribed || matches!(self.phase, Phase::InFlight(_));
        if let Phase::InFlight(command) = self.phase {
            cx.calls.take(command);
        }
        if on_server {
            self.send_unsubscribe(cx);
        }
        self.end(UnsubscribedCode::UnsubscribeCalled.into(), Error::Unsubscribed, cx.out);
    }

    /// A call on the subscription's channel: written once subscribed, failed when unsubscribed.
    pub(in crate::core) fn call(&mut self, call: EncodedCall, slot: S, cx: &mut SubContext<'_, S>) {
        let waiting = Waiting { call, slot, deadline: cx.command_deadline() };
        match self.state {
            SubscriptionState::Subscribed => cx.calls.send_user_call(cx.out, cx.up, waiting),
            SubscriptionState::Subscribing if cx.client != ClientState::Closed => self.waiting.push(waiting),
            _ => cx.out.complete(waiting.slot, Err(Error::Unsubscribed)),
        }
    }

    /// Sends the subscribe command, or first asks a getter for what it needs; nothing when no
    /// connection can carry it or an attempt is already under way.
    pub(in crate::core) fn start_subscribe(&mut self, cx: &mut SubContext<'_, S>) {
        let Some(generation) = cx.writable else { return };
        if self.state != SubscriptionState::Subscribing || self.phase != Phase::Idle {
            return;
        }
        self.resubscribe_at = None;
        if self.settings.has_state_getter && !self.recover {
            self.fetch(Fetch::Position, cx);
        } else if self.token.is_empty() && self.settings.has_token_getter {
            self.fetch(Fetch::SubscribeToken, cx);
        } else {
            self.send_subscribe(generation, cx);
        }
    }

    /// Queues the subscribe command (the runtime batches it with whatever else goes out now).
    pub(super) fn send_subscribe(&mut self, generation: u64, cx: &mut SubContext<'_, S>) {
        let id = cx.config.ids.next();
        let settings = &self.settings;
        let request = SubscribeRequest {
            channel: settings.channel.to_string(),
            token: self.token.clone(),
            recover: self.recover,
            epoch: if self.recover { self.epoch.clone() } else { String::new() },
            offset: if self.recover { self.offset } else { 0 },
            data: settings.data.clone(),
            positioned: settings.positioned,
            // A state getter implies recovery: the state is followed from its position.
            recoverable: settings.recoverable || settings.has_state_getter,
            join_leave: settings.join_leave,
            delta: if settings.delta { "fossil".to_string() } else { String::new() },
            tf: settings.tags_filter.as_deref().cloned(),
            flag: if settings.has_state_getter { REJECT_UNRECOVERED } else { 0 },
            ..Default::default()
        };
        self.phase = Phase::InFlight(id);
        cx.out.send(generation, Command { id, subscribe: Some(Box::new(request)), ..Default::default() });
        cx.calls.insert(id, Purpose::Subscribe(self.id), cx.command_deadline());
    }

    /// The reply to subscribe command `command`; a reply to an earlier one is ignored.
    pub(in crate::core) fn subscribe_reply(
        &mut self,
        command: u32,
        reply: Reply,
        cx: &mut SubContext<'_, S>,
    ) {
        if self.phase != Phase::InFlight(command) {
            return;
        }
        self.phase = Phase::Idle;
        if let Some(error) = reply.error {
            let error = ServerError { code: error.code, message: error.message, temporary: error.temporary };
            self.subscribe_error(error, cx);
            return;
        }
        self.subscribed(*reply.subscribe.unwrap_or_default(), cx);
    }

    fn subscribe_error(&mut self, error: ServerError, cx: &mut SubContext<'_, S>) {
        if error.code == codes::errors::TOKEN_EXPIRED {
            self.token.clear();
            self.emit_error(Error::Server(error), cx.out);
            self.schedule_resubscribe(cx);
        } else if error.code == codes::errors::UNRECOVERABLE_POSITION && self.settings.has_state_getter {
            // The server cannot continue from the state's position: reload the state.
            self.recover = false;
            self.offset = 0;
            self.epoch.clear();
            self.emit_error(Error::Server(error), cx.out);
            self.start_subscribe(cx);
        } else if codes::reply_error_is_temporary(error.code, error.temporary) {
            self.emit_error(Error::Server(error), cx.out);
            self.schedule_resubscribe(cx);
        } else {
            let reason = Reason::from_server(error.code, error.message.clone());
            self.emit_error(Error::Server(error), cx.out);
            self.end(reason, Error::Unsubscribed, cx.out);
        }
    }

    fn subscribed(&mut self, result: SubscribeResult, cx: &mut SubContext<'_, S>) {
        self.attempts = 0;
        self.recover |= result.recoverable;
        if result.positioned || result.recoverable {
            self.offset = result.offset;
            self.epoch = result.epoch.clone();
        }
        self.delta_negotiated = result.delta;
        self.delta_base = None;
        self.positioned = result.positioned || result.recoverable;
        self.refresh = if result.expires {
            SubRefresh::Due(cx.now + Duration::from_secs(u64::from(result.ttl)))
        } else {
            SubRefresh::Idle
        };
        let event = SubscribedEvent::from_result(Arc::clone(&self.settings.channel), &result);
        self.set_state(SubscriptionState::Subscribed, cx.out);
        self.emit(SubscriptionEvent::Subscribed(event), cx.out);
        for publication in result.publications {
            if !self.publication(publication, cx) {
                return;
            }
        }
        for call in std::mem::take(&mut self.waiting) {
            cx.calls.send_user_call(cx.out, cx.up, call);
        }
    }

    /// Subscribes again after a backoff delay.
    pub(super) fn schedule_resubscribe(&mut self, cx: &mut SubContext<'_, S>) {
        let delay = backoff::full_jitter(
            self.attempts,
            self.settings.min_resubscribe_delay,
            self.settings.max_resubscribe_delay,
            cx.rng,
        );
        self.attempts = self.attempts.saturating_add(1);
        self.resubscribe_at = Some(cx.now + delay);
    }

    /// The token getter refused: unsubscribed with code 1.
    pub(super) fn unauthorized(&mut self, cx: &mut SubContext<'_, S>) {
        if self.state == SubscriptionState::Subscribed {
            self.send_unsubscribe(cx);
        }
        self.end(UnsubscribedCode::Unauthorized.into(), Error::Unsubscribed, cx.out);
    }

    /// Moves to `unsubscribed`: timers and fetches stop, waiting calls fail with
    /// `waiting_error`.
    pub(in crate::core) fn end(&mut self, reason: Reason, waiting_error: Error, out: &mut Effects<S>) {
        if self.state == SubscriptionState::Unsubscribed {
            return;
        }
        self.phase = Phase::Idle;
        self.refresh = SubRefresh::Idle;
        self.resubscribe_at = None;
        let waiting = std::mem::take(&mut self.waiting);
        self.set_state(SubscriptionState::Unsubscribed, out);
        self.emit(SubscriptionEvent::Unsubscribed(UnsubscribedEvent::new(reason)), out);
        for call in waiting {
            out.complete(call.slot, Err(waiting_error.clone()));
        }
    }

    /// The connection is gone: a subscribed subscription becomes subscribing (code 1) and
    /// resubscribes after the reconnect; whatever was under way is forgotten.
    pub(in crate::core) fn suspend(&mut self, out: &mut Effects<S>) {
        self.phase = Phase::Idle;
        self.refresh = SubRefresh::Idle;
        self.resubscribe_at = None;
        if self.state == SubscriptionState::Subscribed {
            self.set_state(SubscriptionState::Subscribing, out);
            let event = SubscribingEvent::new(SubscribingCode::TransportClosed.into());
            self.emit(SubscriptionEvent::Subscribing(event), out);
        }
    }

    /// Acts on the subscription's deadlines; a waiting call that runs out fails with
    /// `expired_wait`.
    pub(in crate::core) fn tick(&mut self, expired_wait: &Error, cx: &mut SubContext<'_, S>) {
        if self.resubscribe_at.is_some_and(|at| at <= cx.now) {
            self.resubscribe_at = None;
            self.start_subscribe(cx);
        }
        if matches!(self.refresh, SubRefresh::Due(at) if at <= cx.now) {
            if self.settings.has_token_getter && self.state == SubscriptionState::Subscribed {
                self.fetch(Fetch::RefreshToken, cx);
            } else {
                self.refresh = SubRefresh::Idle;
            }
        }
        let now = cx.now;
        let (expired, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.waiting).into_iter().partition(|call| call.deadline <= now);
        self.waiting = waiting;
        for call in expired {
            cx.out.complete(call.slot, Err(expired_wait.clone()));
        }
    }
}
