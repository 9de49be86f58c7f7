//! Client-side subscriptions in the state machine.
//!
//! Each subscription goes `unsubscribed → subscribing → subscribed`. The core keeps its token,
//! its stream position (offset, epoch, whether to recover), the delta base, the resubscribe
//! backoff, the token refresh timer and the calls that wait for it to be subscribed.
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
//!   subscribed; a failed or timed-out unsubscribe reconnects it too (code 4).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::calls::Purpose;
use super::calls::Waiting;
use super::{Core, TOKEN_RETRY_MAX, TOKEN_RETRY_MIN};
use crate::backoff;
use crate::codes::{Reason, SubscribingCode, UnsubscribedCode};
use crate::delta;
use crate::error::{Error, ServerError, TimeoutError};
use crate::events::{
    ErrorEvent, JoinEvent, LeaveEvent, PublicationEvent, SubscribedEvent, SubscribingEvent,
    SubscriptionEvent, UnsubscribedEvent,
};
use crate::protocol::call::EncodedCall;
use crate::protocol::codes;
use crate::protocol::{
    Command, FilterNode, Publication as WirePublication, Push, Reply, SubRefreshRequest, SubscribeRequest,
    SubscribeResult, UnsubscribeRequest,
};
use crate::token::TokenError;
use crate::types::{ClientInfo, ClientState, Publication, StreamPosition, SubscriptionState};

/// Identifies a subscription for as long as it exists (assigned by the handles).
pub(crate) type SubId = u64;

/// The epoch sent after state invalidation: no stream has it, so recovery reports failure.
const INVALIDATED_EPOCH: &str = "_";

/// Subscribe flag: answer 112 instead of `recovered: false` (with a state getter).
const REJECT_UNRECOVERED: i64 = 2;

/// What the state machine needs to know about a subscription's configuration.
#[derive(Clone, Debug)]
pub(crate) struct SubSettings {
    pub(crate) channel: Arc<str>,
    pub(crate) token: String,
    pub(crate) has_token_getter: bool,
    pub(crate) has_state_getter: bool,
    pub(crate) data: Bytes,
    pub(crate) min_resubscribe_delay: Duration,
    pub(crate) max_resubscribe_delay: Duration,
    pub(crate) positioned: bool,
    pub(crate) recoverable: bool,
    pub(crate) join_leave: bool,
    pub(crate) delta: bool,
    /// Boxed, like the filter: both are rare, and a client may hold tens of thousands of
    /// subscriptions.
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
    Idle,
    Due(Instant),
    Fetching(u64),
    InFlight,
}

/// One client-side subscription.
pub(super) struct Sub<S> {
    settings: SubSettings,
    state: SubscriptionState,
    token: String,
    recover: bool,
    offset: u64,
    epoch: String,
    delta_negotiated: bool,
    delta_base: Option<Bytes>,
    /// The server tracks this subscription's position: offsets must follow one another.
    positioned: bool,
    attempts: u32,
    resubscribe_at: Option<Instant>,
    phase: Phase,
    refresh: SubRefresh,
    waiting: Vec<Waiting<S>>,
}

impl<S> Sub<S> {
    fn new(settings: SubSettings) -> Sub<S> {
        let (recover, offset, epoch) = match &settings.since {
            Some(position) => (true, position.offset, position.epoch.clone()),
            None => (false, 0, String::new()),
        };
        Sub {
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

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let refresh = match self.refresh {
            SubRefresh::Due(at) => Some(at),
            _ => None,
        };
        [self.resubscribe_at, refresh, self.waiting.iter().map(|waiting| waiting.deadline).min()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Forgets token, position and delta base (unsubscribe push 2502, disconnect 3014).
    fn invalidate(&mut self) {
        self.token.clear();
        self.delta_base = None;
        if self.recover {
            self.offset = 0;
            self.epoch = INVALIDATED_EPOCH.to_string();
        }
    }
}

/// What a getter result is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fetch {
    SubscribeToken,
    RefreshToken,
    State,
}

impl<S> Core<S> {
    // ---- the registry --------------------------------------------------------------------

    pub(crate) fn add_subscription(&mut self, id: SubId, settings: SubSettings) {
        let channel = settings.channel.clone();
        self.subs.insert(id, channel, Sub::new(settings));
    }

    /// Unsubscribes (if needed) and forgets the subscription.
    pub(crate) fn remove_subscription(&mut self, id: SubId, now: Instant) {
        self.unsubscribe(id, now);
        let channel = self.subs.get(id).map(|sub| sub.settings.channel.clone()).unwrap_or_default();
        if self.subs.remove(id, &channel) {
            self.effects.push(super::Effect::SubscriptionRemoved { sub: id });
        }
    }

    // ---- user commands -------------------------------------------------------------------

    pub(crate) fn subscribe(&mut self, id: SubId, now: Instant) {
        let Some(sub) = self.subs.get_mut(id) else { return };
        if sub.state != SubscriptionState::Unsubscribed || self.state == ClientState::Closed {
            return;
        }
        sub.attempts = 0;
        self.set_sub_state(id, SubscriptionState::Subscribing);
        self.sub_event(
            id,
            SubscriptionEvent::Subscribing(SubscribingEvent::new(SubscribingCode::SubscribeCalled.into())),
        );
        if self.link.writable().is_some() {
            self.start_subscribe(id, now);
        }
    }

    pub(crate) fn unsubscribe(&mut self, id: SubId, now: Instant) {
        let Some(sub) = self.subs.get_mut(id) else { return };
        if sub.state == SubscriptionState::Unsubscribed {
            return;
        }
        let on_server = sub.state == SubscriptionState::Subscribed || matches!(sub.phase, Phase::InFlight(_));
        if let Phase::InFlight(command) = sub.phase {
            self.calls.take(command);
        }
        if on_server {
            if let Some(generation) = self.link.writable() {
                let channel = self.subs.get(id).map(|sub| sub.settings.channel.clone()).unwrap_or_default();
                self.send_unsubscribe(generation, id, &channel, now);
            }
        }
        self.end_subscription(id, UnsubscribedCode::UnsubscribeCalled.into(), Error::Unsubscribed);
    }

    /// A call on a subscription's channel: sent once the subscription is subscribed.
    pub(crate) fn sub_call(&mut self, id: SubId, call: EncodedCall, slot: S, now: Instant) {
        let deadline = now + self.config.timeout;
        match self.subs.get_mut(id).map(|sub| sub.state) {
            Some(SubscriptionState::Subscribed) => {
                self.calls.send_user_call(&mut self.effects, self.link.up(), Waiting { call, slot, deadline })
            }
            Some(SubscriptionState::Subscribing) if self.state != ClientState::Closed => {
                if let Some(sub) = self.subs.get_mut(id) {
                    sub.waiting.push(Waiting { call, slot, deadline });
                }
            }
            _ => self.effects.complete(slot, Err(Error::Unsubscribed)),
        }
    }

    // ---- subscribing ---------------------------------------------------------------------

    /// Sends the subscribe command, or first asks a getter for what it needs.
    pub(super) fn start_subscribe(&mut self, id: SubId, now: Instant) {
        let Some(generation) = self.link.writable() else { return };
        let Some(sub) = self.subs.get_mut(id) else { return };
        if sub.state != SubscriptionState::Subscribing || sub.phase != Phase::Idle {
            return;
        }
        sub.resubscribe_at = None;
        if sub.settings.has_state_getter && !sub.recover {
            self.fetch_for(id, Fetch::State);
        } else if sub.token.is_empty() && sub.settings.has_token_getter {
            self.fetch_for(id, Fetch::SubscribeToken);
        } else {
            self.send_subscribe(generation, id, now);
        }
    }

    /// Queues the subscribe command (the runtime batches it with whatever else goes out now).
    pub(super) fn send_subscribe(&mut self, generation: u64, id: SubId, now: Instant) {
        let command_id = self.next_id();
        let Some(sub) = self.subs.get_mut(id) else { return };
        let settings = &sub.settings;
        let request = SubscribeRequest {
            channel: settings.channel.to_string(),
            token: sub.token.clone(),
            recover: sub.recover,
            epoch: if sub.recover { sub.epoch.clone() } else { String::new() },
            offset: if sub.recover { sub.offset } else { 0 },
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
        sub.phase = Phase::InFlight(command_id);
        let command = Command { id: command_id, subscribe: Some(Box::new(request)), ..Default::default() };
        self.effects.send(generation, command);
        self.calls.insert(command_id, Purpose::Subscribe(id), now + self.config.timeout);
    }

    fn send_unsubscribe(&mut self, generation: u64, id: SubId, channel: &str, now: Instant) {
        let command_id = self.next_id();
        let command = Command {
            id: command_id,
            unsubscribe: Some(UnsubscribeRequest { channel: channel.to_string() }),
            ..Default::default()
        };
        self.effects.send(generation, command);
        self.calls.insert(command_id, Purpose::Unsubscribe(id), now + self.config.timeout);
    }

    fn fetch_for(&mut self, id: SubId, fetch: Fetch) {
        self.fetch_attempt += 1;
        let attempt = self.fetch_attempt;
        let Some(sub) = self.subs.get_mut(id) else { return };
        let channel = sub.settings.channel.clone();
        match fetch {
            Fetch::SubscribeToken => sub.phase = Phase::FetchingToken(attempt),
            Fetch::State => sub.phase = Phase::FetchingState(attempt),
            Fetch::RefreshToken => sub.refresh = SubRefresh::Fetching(attempt),
        }
        self.sub_fetches.insert(attempt, (id, fetch));
        let effect = match fetch {
            Fetch::State => super::Effect::FetchSubscriptionPosition { attempt, sub: id, channel },
            _ => super::Effect::FetchSubscriptionToken { attempt, sub: id, channel },
        };
        self.effects.push(effect);
    }

    /// A subscription token getter answered.
    pub(crate) fn sub_token_fetched(
        &mut self,
        attempt: u64,
        result: Result<String, TokenError>,
        now: Instant,
    ) {
        let Some((id, fetch)) = self.sub_fetches.remove(&attempt) else { return };
        let Some(sub) = self.subs.get_mut(id) else { return };
        let current = match fetch {
            Fetch::SubscribeToken => sub.phase == Phase::FetchingToken(attempt),
            Fetch::RefreshToken => sub.refresh == SubRefresh::Fetching(attempt),
            Fetch::State => false,
        };
        if !current {
            return;
        }
        match (fetch, result) {
            (Fetch::State, _) => {}
            (_, Ok(token)) if token.is_empty() => self.sub_unauthorized(id, now),
            (_, Err(TokenError::Unauthorized)) => self.sub_unauthorized(id, now),
            (Fetch::SubscribeToken, Ok(token)) => {
                sub.token = token;
                sub.phase = Phase::Idle;
                self.start_subscribe(id, now);
            }
            (Fetch::RefreshToken, Ok(token)) => self.send_sub_refresh(id, token, now),
            (Fetch::SubscribeToken, Err(TokenError::Failed(why))) => {
                sub.phase = Phase::Idle;
                self.sub_error(id, Error::Token(why));
                self.schedule_resubscribe(id, now);
            }
            (_, Err(TokenError::Failed(why))) => {
                self.sub_error(id, Error::Token(why));
                self.retry_sub_refresh(id, now);
            }
        }
    }

    /// A state getter answered.
    pub(crate) fn state_fetched(
        &mut self,
        attempt: u64,
        result: Result<StreamPosition, String>,
        now: Instant,
    ) {
        let Some((id, Fetch::State)) = self.sub_fetches.remove(&attempt) else { return };
        let Some(sub) = self.subs.get_mut(id) else { return };
        if sub.phase != Phase::FetchingState(attempt) {
            return;
        }
        sub.phase = Phase::Idle;
        match result {
            Ok(position) => {
                sub.recover = true;
                sub.offset = position.offset;
                sub.epoch = position.epoch;
                self.start_subscribe(id, now);
            }
            Err(why) => {
                self.sub_error(id, Error::StateGetter(why));
                self.schedule_resubscribe(id, now);
            }
        }
    }

    /// The reply to a subscribe command.
    pub(super) fn subscribe_reply(&mut self, id: SubId, command_id: u32, reply: Reply, now: Instant) {
        let Some(sub) = self.subs.get_mut(id) else { return };
        if sub.phase != Phase::InFlight(command_id) {
            return;
        }
        sub.phase = Phase::Idle;
        if let Some(error) = reply.error {
            let error = ServerError { code: error.code, message: error.message, temporary: error.temporary };
            self.subscribe_error(id, error, now);
            return;
        }
        self.subscribed(id, *reply.subscribe.unwrap_or_default(), now);
    }

    fn subscribe_error(&mut self, id: SubId, error: ServerError, now: Instant) {
        let Some(sub) = self.subs.get_mut(id) else { return };
        if error.code == codes::errors::TOKEN_EXPIRED {
            sub.token.clear();
            self.sub_error(id, Error::Server(error));
            self.schedule_resubscribe(id, now);
        } else if error.code == codes::errors::UNRECOVERABLE_POSITION && sub.settings.has_state_getter {
            // The server cannot continue from the state's position: reload the state.
            sub.recover = false;
            sub.offset = 0;
            sub.epoch.clear();
            self.sub_error(id, Error::Server(error));
            self.start_subscribe(id, now);
        } else if codes::reply_error_is_temporary(error.code, error.temporary) {
            self.sub_error(id, Error::Server(error));
            self.schedule_resubscribe(id, now);
        } else {
            let reason = Reason::from_server(error.code, error.message.clone());
            self.sub_error(id, Error::Server(error));
            self.end_subscription(id, reason, Error::Unsubscribed);
        }
    }

    fn subscribed(&mut self, id: SubId, result: SubscribeResult, now: Instant) {
        let json = self.config.json;
        let Some(sub) = self.subs.get_mut(id) else { return };
        sub.attempts = 0;
        sub.recover |= result.recoverable;
        if result.positioned || result.recoverable {
            sub.offset = result.offset;
            sub.epoch = result.epoch.clone();
        }
        sub.delta_negotiated = result.delta;
        sub.delta_base = None;
        sub.positioned = result.positioned || result.recoverable;
        sub.refresh = if result.expires {
            SubRefresh::Due(now + Duration::from_secs(u64::from(result.ttl)))
        } else {
            SubRefresh::Idle
        };
        let channel = Arc::clone(&sub.settings.channel);
        let event = SubscribedEvent::from_result(Arc::clone(&channel), &result);
        self.set_sub_state(id, SubscriptionState::Subscribed);
        self.sub_event(id, SubscriptionEvent::Subscribed(event));
        for publication in result.publications {
            if !self.publication(id, publication, Arc::clone(&channel), json, now) {
                return;
            }
        }
        let waiting = self.subs.get_mut(id).map(|sub| std::mem::take(&mut sub.waiting)).unwrap_or_default();
        for call in waiting {
            self.calls.send_user_call(&mut self.effects, self.link.up(), call);
        }
    }

    fn schedule_resubscribe(&mut self, id: SubId, now: Instant) {
        let rng = &mut self.rng;
        let Some(sub) = self.subs.get_mut(id) else { return };
        let delay = backoff::full_jitter(
            sub.attempts,
            sub.settings.min_resubscribe_delay,
            sub.settings.max_resubscribe_delay,
            rng,
        );
        sub.attempts = sub.attempts.saturating_add(1);
        sub.resubscribe_at = Some(now + delay);
    }

    fn sub_unauthorized(&mut self, id: SubId, now: Instant) {
        let subscribed = self.subs.get(id).is_some_and(|sub| sub.state == SubscriptionState::Subscribed);
        if subscribed {
            if let Some(generation) = self.link.writable() {
                let channel = self.subs.get(id).map(|sub| sub.settings.channel.clone()).unwrap_or_default();
                self.send_unsubscribe(generation, id, &channel, now);
            }
        }
        self.end_subscription(id, UnsubscribedCode::Unauthorized.into(), Error::Unsubscribed);
    }

    /// Moves a subscription to `unsubscribed`: timers and fetches stop, waiting calls fail.
    fn end_subscription(&mut self, id: SubId, reason: Reason, waiting_error: Error) {
        let Some(sub) = self.subs.get_mut(id) else { return };
        if sub.state == SubscriptionState::Unsubscribed {
            return;
        }
        sub.phase = Phase::Idle;
        sub.refresh = SubRefresh::Idle;
        sub.resubscribe_at = None;
        let waiting = std::mem::take(&mut sub.waiting);
        self.set_sub_state(id, SubscriptionState::Unsubscribed);
        self.sub_event(id, SubscriptionEvent::Unsubscribed(UnsubscribedEvent::new(reason)));
        for call in waiting {
            self.effects.complete(call.slot, Err(waiting_error.clone()));
        }
    }

    // ---- token refresh -------------------------------------------------------------------

    fn send_sub_refresh(&mut self, id: SubId, token: String, now: Instant) {
        let Some(generation) = self.link.writable() else { return };
        let command_id = self.next_id();
        let Some(sub) = self.subs.get_mut(id) else { return };
        sub.token = token.clone();
        sub.refresh = SubRefresh::InFlight;
        let request =
            SubRefreshRequest { channel: sub.settings.channel.to_string(), token, ..Default::default() };
        let command = Command { id: command_id, sub_refresh: Some(Box::new(request)), ..Default::default() };
        self.effects.send(generation, command);
        self.calls.insert(command_id, Purpose::SubscriptionRefresh(id), now + self.config.timeout);
    }

    pub(super) fn sub_refresh_reply(&mut self, id: SubId, reply: Reply, now: Instant) {
        let Some(sub) = self.subs.get_mut(id) else { return };
        if sub.refresh != SubRefresh::InFlight {
            return;
        }
        if let Some(error) = reply.error {
            let temporary = error.temporary;
            let reason = Reason::from_server(error.code, error.message.clone());
            self.sub_error(
                id,
                Error::Server(ServerError { code: error.code, message: error.message, temporary }),
            );
            if temporary {
                self.retry_sub_refresh(id, now);
            } else {
                if let Some(generation) = self.link.writable() {
                    let channel =
                        self.subs.get(id).map(|sub| sub.settings.channel.clone()).unwrap_or_default();
                    self.send_unsubscribe(generation, id, &channel, now);
                }
                self.end_subscription(id, reason, Error::Unsubscribed);
            }
            return;
        }
        let result = reply.sub_refresh.unwrap_or_default();
        sub.refresh = if result.expires {
            SubRefresh::Due(now + Duration::from_secs(u64::from(result.ttl)))
        } else {
            SubRefresh::Idle
        };
    }

    pub(super) fn retry_sub_refresh(&mut self, id: SubId, now: Instant) {
        let delay = backoff::uniform(TOKEN_RETRY_MIN, TOKEN_RETRY_MAX, &mut self.rng);
        if let Some(sub) = self.subs.get_mut(id) {
            sub.refresh = SubRefresh::Due(now + delay);
        }
    }

    // ---- pushes --------------------------------------------------------------------------

    /// Routes a push to the client-side subscription of its channel, taking what it uses;
    /// `false` when there is none (the push is for a server-side subscription).
    pub(super) fn sub_push(&mut self, push: &mut Push, now: Instant) -> bool {
        let Some(id) = self.sub_by_channel(&push.channel) else { return false };
        let json = self.config.json;
        let Some((state, channel)) =
            self.subs.get(id).map(|sub| (sub.state, Arc::clone(&sub.settings.channel)))
        else {
            return true;
        };
        if let Some(unsubscribe) = push.unsubscribe.take() {
            self.unsubscribe_push(id, unsubscribe.code, unsubscribe.reason, now);
            return true;
        }
        if state != SubscriptionState::Subscribed {
            return true;
        }
        if let Some(publication) = push.r#pub.take() {
            self.publication(id, publication, channel, json, now);
        } else if let Some(join) = push.join.take() {
            let info = Box::new(ClientInfo::from(join.info.unwrap_or_default()));
            self.sub_event(id, SubscriptionEvent::Join(JoinEvent { channel, info }));
        } else if let Some(leave) = push.leave.take() {
            let info = Box::new(ClientInfo::from(leave.info.unwrap_or_default()));
            self.sub_event(id, SubscriptionEvent::Leave(LeaveEvent { channel, info }));
        }
        true
    }

    fn sub_by_channel(&self, channel: &str) -> Option<SubId> {
        self.subs.by_channel(channel)
    }

    fn unsubscribe_push(&mut self, id: SubId, code: u32, reason: String, now: Instant) {
        if !codes::unsubscribe_resubscribes(code) {
            self.end_subscription(id, Reason::from_server(code, reason), Error::Unsubscribed);
            return;
        }
        let Some(sub) = self.subs.get_mut(id) else { return };
        if code == codes::SUB_STATE_INVALIDATED {
            sub.invalidate();
        }
        if let Phase::InFlight(command) = sub.phase {
            self.calls.take(command);
        }
        if let Some(sub) = self.subs.get_mut(id) {
            sub.phase = Phase::Idle;
            sub.refresh = SubRefresh::Idle;
        }
        self.set_sub_state(id, SubscriptionState::Subscribing);
        self.sub_event(
            id,
            SubscriptionEvent::Subscribing(SubscribingEvent::new(Reason::from_server(code, reason))),
        );
        self.start_subscribe(id, now);
    }

    /// Delivers one publication (recovered or live); `false` when the subscription had to
    /// start over (a bad delta, a gap in the stream, a new epoch).
    fn publication(
        &mut self,
        id: SubId,
        publication: WirePublication,
        channel: Arc<str>,
        json: bool,
        now: Instant,
    ) -> bool {
        let max_output = self.config.max_message_size;
        let Some(sub) = self.subs.get_mut_keeping_timers(id) else { return false };
        match continuity(sub, &publication) {
            Continuity::Next => {}
            Continuity::Duplicate => {
                let why = format!(
                    "publication offset {} does not follow {}; dropped",
                    publication.offset, sub.offset
                );
                self.sub_error(id, Error::Protocol(why));
                return true;
            }
            Continuity::Broken(why) => {
                self.restart_stream(id, why, now);
                return false;
            }
        }
        let data = if sub.delta_negotiated {
            match delta_payload(&publication, sub.delta_base.as_ref(), json, max_output) {
                Ok(data) => {
                    sub.delta_base = Some(data.clone());
                    data
                }
                Err(why) => {
                    self.restart_stream(id, why, now);
                    return false;
                }
            }
        } else {
            publication.data.clone()
        };
        if publication.offset > 0 {
            sub.offset = publication.offset;
        }
        let publication = Publication::with_data(publication, data);
        self.sub_event(id, SubscriptionEvent::Publication(PublicationEvent { channel, publication }));
        true
    }

    /// The stream cannot continue as it is (a bad delta, a gap, a new epoch): report it and
    /// subscribe again from the last good position, so that what was lost is recovered (or
    /// reported as not recovered). Nothing wrong is ever delivered.
    fn restart_stream(&mut self, id: SubId, why: String, now: Instant) {
        self.sub_error(id, Error::Protocol(why));
        let Some(sub) = self.subs.get_mut(id) else { return };
        sub.delta_base = None;
        sub.phase = Phase::Idle;
        let channel = sub.settings.channel.clone();
        self.set_sub_state(id, SubscriptionState::Subscribing);
        self.sub_event(
            id,
            SubscriptionEvent::Subscribing(SubscribingEvent::new(SubscribingCode::InsufficientState.into())),
        );
        if let Some(generation) = self.link.writable() {
            self.send_unsubscribe(generation, id, &channel, now);
            self.send_subscribe(generation, id, now);
        }
    }

    // ---- the connection's effect on subscriptions ----------------------------------------

    /// The connection is up (the connect command is out): subscribe everything that waits.
    pub(super) fn resubscribe_all(&mut self, now: Instant) {
        let ids: Vec<SubId> = self.subs_in_order();
        for id in ids {
            self.start_subscribe(id, now);
        }
    }

    /// The connection is gone: subscribed subscriptions become subscribing (code 1) and will
    /// resubscribe after the reconnect.
    pub(super) fn suspend_all(&mut self) {
        for id in self.subs_in_order() {
            let Some(sub) = self.subs.get_mut(id) else { continue };
            sub.phase = Phase::Idle;
            sub.refresh = SubRefresh::Idle;
            sub.resubscribe_at = None;
            if sub.state == SubscriptionState::Subscribed {
                self.set_sub_state(id, SubscriptionState::Subscribing);
                self.sub_event(
                    id,
                    SubscriptionEvent::Subscribing(SubscribingEvent::new(
                        SubscribingCode::TransportClosed.into(),
                    )),
                );
            }
        }
    }

    /// The client closed: every subscription ends with code 2.
    pub(super) fn close_all(&mut self) {
        for id in self.subs_in_order() {
            self.end_subscription(id, UnsubscribedCode::ClientClosed.into(), Error::Closed);
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
        for id in self.subs_in_order() {
            let Some(sub) = self.subs.get_mut(id) else { continue };
            if sub.resubscribe_at.is_some_and(|at| at <= now) {
                sub.resubscribe_at = None;
                self.start_subscribe(id, now);
            }
            let Some(sub) = self.subs.get_mut(id) else { continue };
            if matches!(sub.refresh, SubRefresh::Due(at) if at <= now) {
                if sub.settings.has_token_getter && sub.state == SubscriptionState::Subscribed {
                    self.fetch_for(id, Fetch::RefreshToken);
                } else {
                    sub.refresh = SubRefresh::Idle;
                }
            }
            let Some(sub) = self.subs.get_mut(id) else { continue };
            let (expired, waiting): (Vec<_>, Vec<_>) =
                std::mem::take(&mut sub.waiting).into_iter().partition(|call| call.deadline <= now);
            sub.waiting = waiting;
            for call in expired {
                let error = if self.state == ClientState::Connected {
                    Error::Timeout(TimeoutError::subscription(self.config.timeout))
                } else {
                    self.connection_timeout(self.config.timeout)
                };
                self.effects.complete(call.slot, Err(error));
            }
        }
    }

    /// A subscribe or unsubscribe command failed for good: reconnect the client.
    pub(super) fn subscription_command_failed(&mut self, reason: crate::codes::ConnectingCode, now: Instant) {
        self.lose_connection(reason, now);
    }

    // ---- helpers -------------------------------------------------------------------------

    fn subs_in_order(&self) -> Vec<SubId> {
        self.subs.ids()
    }

    fn set_sub_state(&mut self, id: SubId, state: SubscriptionState) {
        if let Some(sub) = self.subs.get_mut(id) {
            if sub.state != state {
                sub.state = state;
                self.effects.push(super::Effect::SubscriptionState { sub: id, state });
            }
        }
    }

    fn sub_event(&mut self, id: SubId, event: SubscriptionEvent) {
        self.effects.emit_to(id, event);
    }

    pub(super) fn sub_error(&mut self, id: SubId, error: Error) {
        self.sub_event(id, SubscriptionEvent::Error(ErrorEvent::new(error)));
    }
}

/// Where a publication stands in its subscription's stream.
enum Continuity {
    /// Deliver it.
    Next,
    /// Already delivered (its offset is not after the last one): drop it.
    Duplicate,
    /// Publications were lost or the stream was reset: start over.
    Broken(String),
}

/// Checks a positioned stream: offsets follow one another (a tags filter may skip some) and
/// the epoch stays. Streams without a position are not checked.
fn continuity<S>(sub: &Sub<S>, publication: &WirePublication) -> Continuity {
    if !sub.positioned || publication.offset == 0 {
        return Continuity::Next;
    }
    if !publication.epoch.is_empty() && !sub.epoch.is_empty() && publication.epoch != sub.epoch {
        return Continuity::Broken(format!(
            "the stream's epoch changed from {:?} to {:?}",
            sub.epoch, publication.epoch
        ));
    }
    if publication.offset <= sub.offset {
        return Continuity::Duplicate;
    }
    if publication.offset > sub.offset + 1 && sub.settings.tags_filter.is_none() {
        return Continuity::Broken(format!(
            "publications {}..{} are missing from the stream",
            sub.offset + 1,
            publication.offset - 1
        ));
    }
    Continuity::Next
}

/// The payload of a publication on a delta-negotiated subscription. In JSON every such payload
/// (full or delta) is a JSON string holding the bytes.
fn delta_payload(
    publication: &WirePublication,
    base: Option<&Bytes>,
    json: bool,
    max_output: usize,
) -> Result<Bytes, String> {
    let raw = if json {
        let text: String = serde_json::from_slice(&publication.data)
            .map_err(|err| format!("delta subscription payload is not a JSON string: {err}"))?;
        Bytes::from(text.into_bytes())
    } else {
        publication.data.clone()
    };
    if !publication.delta {
        return Ok(raw);
    }
    let base = base.ok_or_else(|| "a delta arrived before any full payload".to_string())?;
    delta::apply(base, &raw, max_output).map(Bytes::from).map_err(|err| err.to_string())
}
