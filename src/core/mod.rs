//! The client's state machine, free of I/O.
//!
//! [`Core`] owns every piece of client state: the connection state, tokens, the calls in
//! flight, timers (as deadlines) and reconnect attempts. The runtime feeds it inputs (user
//! commands, transport events, token results, the passing of time) together with the current
//! `Instant`, and carries out the [`Effect`]s it pushes: dial, send a command, close a
//! connection, fetch a token, emit an event, complete a call. Nothing here blocks, locks or
//! sleeps, so unit tests drive it with simulated time.
//!
//! Decisions where the official SDKs differ (see the reference on SDK behaviour):
//! - A call waits for its reply at most `timeout` from the moment it was made, including any
//!   wait for the connection; it never waits twice.
//! - Calls fail at once while disconnected (`Error::Disconnected`); made while connecting they
//!   wait; in flight when the connection drops they fail at once with `Error::ConnectionLost`.
//! - The ping watchdog is re-armed by any frame from the server, not only pings: a client busy
//!   reading a backlog is not dead.
//! - The token getter is asked before dialing (not after), so a failed getter costs no
//!   connection. A getter failure other than `Unauthorized` is retried after 10–20 s.
//! - Every transport input carries the generation of its connection and every token result its
//!   attempt number; results of superseded connections or attempts are ignored.

mod calls;
mod registry;
mod server_subs;
mod subscriptions;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;

use crate::backoff;
use crate::codes::{ConnectingCode, DisconnectedCode, Reason};
use crate::error::{Error, ServerError, TimeoutError, TransportError};
use crate::events::{
    ClientEvent, ConnectedEvent, ConnectingEvent, DisconnectedEvent, ErrorEvent, MessageEvent,
};
use crate::protocol::call::{EncodedCall, call_result};
use crate::protocol::codes::{self, CloseAction};
use crate::protocol::{Command, ConnectRequest, RefreshRequest, Reply};
use crate::token::TokenError;
use crate::types::ClientState;
use calls::{Calls, Purpose};
use server_subs::ServerSub;
use subscriptions::Fetch;
pub(crate) use subscriptions::{SubId, SubSettings};

/// How long to wait before asking a failing token getter again.
const TOKEN_RETRY_MIN: Duration = Duration::from_secs(10);
const TOKEN_RETRY_MAX: Duration = Duration::from_secs(20);

/// Command ids, shared by the core and the callers that write directly (see
/// `runtime::route`), so that ids never collide.
#[derive(Debug, Default)]
pub(crate) struct CommandIds(AtomicU32);

impl CommandIds {
    /// The next id; never 0 (0 means "no reply expected").
    pub(crate) fn next(&self) -> u32 {
        loop {
            let id = self.0.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            if id != 0 {
                return id;
            }
        }
    }
}

/// The settings the state machine needs.
#[derive(Clone, Debug)]
pub(crate) struct CoreConfig {
    pub(crate) ids: Arc<CommandIds>,
    pub(crate) token: String,
    pub(crate) has_token_getter: bool,
    pub(crate) data: Bytes,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) timeout: Duration,
    pub(crate) min_reconnect_delay: Duration,
    pub(crate) max_reconnect_delay: Duration,
    pub(crate) max_server_ping_delay: Duration,
    /// The connection speaks JSON (delta payloads are then JSON strings).
    pub(crate) json: bool,
    /// The largest payload a delta may produce.
    pub(crate) max_message_size: usize,
}

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
    SubscriptionEvent { sub: SubId, event: crate::events::SubscriptionEvent },
    /// The state of subscription `sub` changed: what its handles read (published before the
    /// events that explain it).
    SubscriptionState { sub: SubId, state: crate::types::SubscriptionState },
    /// Subscription `sub` is gone; its listener can go after the events queued before.
    SubscriptionRemoved { sub: SubId },
}

/// Where the current connection attempt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// No connection and no attempt under way (disconnected, or waiting to retry).
    Idle,
    /// Waiting for the token getter before dialing.
    FetchingToken,
    /// The connection thread is dialing.
    Dialing { generation: u64 },
    /// Connected at the WebSocket level; the connect command is out.
    Handshaking { generation: u64, connect_id: u32, deadline: Instant },
    /// Connected at the protocol level.
    Up { generation: u64 },
}

impl Link {
    fn generation(self) -> Option<u64> {
        match self {
            Link::Dialing { generation } | Link::Handshaking { generation, .. } | Link::Up { generation } => {
                Some(generation)
            }
            Link::Idle | Link::FetchingToken => None,
        }
    }
}

/// The proactive refresh of an expiring connection token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refresh {
    Idle,
    Due(Instant),
    Fetching,
    InFlight,
}

/// What the token getter is being asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenPurpose {
    Connect,
    Refresh,
}

/// A call made while connecting, sent once connected.
#[derive(Debug)]
struct Waiting<S> {
    call: EncodedCall,
    slot: S,
    deadline: Instant,
}

/// A `ready()` waiting for the connection.
#[derive(Debug)]
struct ReadyWaiter<S> {
    slot: S,
    deadline: Instant,
    /// How long the caller asked to wait, for the timeout's message.
    waited: Duration,
}

/// The server ping watchdog.
#[derive(Clone, Copy, Debug)]
struct PingWatch {
    window: Duration,
    deadline: Instant,
    pong: bool,
}

/// The client state machine. `S` is how the runtime answers a caller (a reply slot).
pub(crate) struct Core<S> {
    config: CoreConfig,
    rng: StdRng,
    state: ClientState,
    token: String,
    refresh_required: bool,
    link: Link,
    next_generation: u64,
    reconnect_attempts: u32,
    reconnect_at: Option<Instant>,
    token_attempt: u64,
    token_purpose: Option<TokenPurpose>,
    ping: Option<PingWatch>,
    refresh: Refresh,
    calls: Calls<S>,
    waiting: Vec<Waiting<S>>,
    ready_waiters: Vec<ReadyWaiter<S>>,
    /// The error of the last failed connection attempt since `connect()` or the last success:
    /// what a wait for the connection that times out reports as its cause.
    last_attempt_error: Option<Arc<Error>>,
    subs: registry::Registry<S>,
    sub_fetches: HashMap<u64, (SubId, Fetch)>,
    fetch_attempt: u64,
    server_subs: BTreeMap<String, ServerSub>,
    effects: Vec<Effect<S>>,
}

impl<S> Core<S> {
    pub(crate) fn new(config: CoreConfig, rng: StdRng) -> Core<S> {
        Core {
            token: config.token.clone(),
            config,
            rng,
            state: ClientState::Disconnected,
            refresh_required: false,
            link: Link::Idle,
            next_generation: 1,
            reconnect_attempts: 0,
            reconnect_at: None,
            token_attempt: 0,
            token_purpose: None,
            ping: None,
            refresh: Refresh::Idle,
            calls: Calls::default(),
            waiting: Vec::new(),
            ready_waiters: Vec::new(),
            last_attempt_error: None,
            subs: registry::Registry::default(),
            sub_fetches: HashMap::new(),
            fetch_attempt: 0,
            server_subs: BTreeMap::new(),
            effects: Vec::new(),
        }
    }

    /// The effects pushed since the last call, in order.
    pub(crate) fn take_effects(&mut self) -> Vec<Effect<S>> {
        std::mem::take(&mut self.effects)
    }

    pub(crate) fn state(&self) -> ClientState {
        self.state
    }

    /// The earliest moment at which [`Core::tick`] has something to do.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let link = match self.link {
            Link::Handshaking { deadline, .. } => Some(deadline),
            _ => None,
        };
        let refresh = match self.refresh {
            Refresh::Due(at) => Some(at),
            _ => None,
        };
        [
            self.reconnect_at,
            link,
            self.ping.map(|ping| ping.deadline),
            refresh,
            self.calls.next_deadline(),
            self.waiting.iter().map(|waiting| waiting.deadline).min(),
            self.ready_waiters.iter().map(|waiter| waiter.deadline).min(),
            self.subs.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- user commands -------------------------------------------------------------------

    pub(crate) fn connect(&mut self) {
        if self.state != ClientState::Disconnected {
            return;
        }
        self.set_state(ClientState::Connecting);
        self.reconnect_attempts = 0;
        self.last_attempt_error = None;
        self.emit(ClientEvent::Connecting(ConnectingEvent::new(ConnectingCode::ConnectCalled.into())));
        self.start_attempt();
    }

    pub(crate) fn disconnect(&mut self) {
        if matches!(self.state, ClientState::Disconnected | ClientState::Closed) {
            return;
        }
        self.stop(DisconnectedCode::DisconnectCalled, Error::Disconnected);
    }

    /// Stops for good; every call still waiting fails with `Error::Closed`.
    pub(crate) fn close(&mut self) {
        if self.state == ClientState::Closed {
            return;
        }
        self.close_all();
        self.server_subs_ended();
        if self.state != ClientState::Disconnected {
            self.stop(DisconnectedCode::ClientClosed, Error::Closed);
        }
        self.set_state(ClientState::Closed);
    }

    pub(crate) fn set_token(&mut self, token: String) {
        self.token = token;
    }

    /// A user call; answered through `slot` exactly once.
    pub(crate) fn call(&mut self, call: EncodedCall, slot: S, now: Instant) {
        let deadline = now + self.config.timeout;
        match self.state {
            ClientState::Closed => self.complete(slot, Err(Error::Closed)),
            ClientState::Disconnected => self.complete(slot, Err(Error::Disconnected)),
            ClientState::Connecting => self.waiting.push(Waiting { call, slot, deadline }),
            ClientState::Connected => self.send_call(call, slot, deadline),
        }
    }

    /// Answers `slot` once connected, or with an error when that cannot happen by `deadline`.
    /// `waited` is the whole wait the caller asked for, for the timeout's message.
    pub(crate) fn wait_ready(&mut self, slot: S, deadline: Instant, waited: Duration) {
        match self.state {
            ClientState::Connected => self.complete(slot, Ok(Reply::default())),
            ClientState::Connecting => self.ready_waiters.push(ReadyWaiter { slot, deadline, waited }),
            ClientState::Disconnected => self.complete(slot, Err(Error::Disconnected)),
            ClientState::Closed => self.complete(slot, Err(Error::Closed)),
        }
    }

    // ---- transport and token inputs ------------------------------------------------------

    /// Connection `generation` completed its WebSocket handshake.
    pub(crate) fn opened(&mut self, generation: u64, now: Instant) {
        if self.link != (Link::Dialing { generation }) {
            self.effects.push(Effect::CloseConnection { generation });
            return;
        }
        let connect_id = self.next_id();
        let command = Command {
            id: connect_id,
            connect: Some(Box::new(ConnectRequest {
                token: self.token.clone(),
                data: self.config.data.clone(),
                name: self.config.name.clone(),
                version: self.config.version.clone(),
                subs: self.server_subs_to_recover(),
                ..Default::default()
            })),
            ..Default::default()
        };
        self.effects.push(Effect::SendCommand { generation, command: Box::new(command) });
        self.link = Link::Handshaking { generation, connect_id, deadline: now + self.config.timeout };
        // Subscribes share the connect command's frame; the server handles them in order.
        self.resubscribe_all(now);
    }

    /// Dialing connection `generation` failed.
    pub(crate) fn dial_failed(&mut self, generation: u64, error: TransportError, now: Instant) {
        if self.link != (Link::Dialing { generation }) {
            return;
        }
        self.link = Link::Idle;
        self.emit_error(Error::Transport(error));
        self.schedule_reconnect(now);
    }

    /// Connection `generation` ended: with the server's close frame, or without one.
    pub(crate) fn closed(
        &mut self,
        generation: u64,
        close: Option<(u16, String)>,
        error: Option<TransportError>,
        now: Instant,
    ) {
        if self.link.generation() != Some(generation) {
            return;
        }
        if let Some(error) = error {
            self.emit_error(Error::Transport(error));
        }
        let action = codes::classify_close(close.as_ref().map(|(code, reason)| (*code, reason.as_str())));
        self.apply_close(action, now);
    }

    /// Connection `generation` sent a frame that does not decode: a protocol violation.
    pub(crate) fn protocol_error(&mut self, generation: u64, what: String) {
        if self.link.generation() != Some(generation) {
            return;
        }
        self.emit_error(Error::Protocol(what));
        self.stop(DisconnectedCode::BadProtocol, Error::Disconnected);
    }

    /// The messages of one frame from connection `generation`, in order.
    pub(crate) fn frame(&mut self, generation: u64, replies: Vec<Reply>, now: Instant) {
        if self.link.generation() != Some(generation) {
            return;
        }
        if let Some(ping) = &mut self.ping {
            ping.deadline = now + ping.window;
        }
        for reply in replies {
            // An earlier message of the frame may have ended the connection.
            if self.link.generation() != Some(generation) {
                return;
            }
            self.reply(generation, reply, now);
        }
    }

    /// The token getter answered for `attempt`.
    pub(crate) fn token_fetched(&mut self, attempt: u64, result: Result<String, TokenError>, now: Instant) {
        if attempt != self.token_attempt {
            return;
        }
        match self.token_purpose.take() {
            Some(TokenPurpose::Connect) if self.link == Link::FetchingToken => {
                self.connect_token(result, now)
            }
            Some(TokenPurpose::Refresh) if self.refresh == Refresh::Fetching => {
                self.refresh_token(result, now)
            }
            _ => {}
        }
    }

    /// Acts on every deadline that has passed by `now`.
    pub(crate) fn tick(&mut self, now: Instant) {
        if self.reconnect_at.is_some_and(|at| at <= now) {
            self.reconnect_at = None;
            if self.state == ClientState::Connecting {
                self.start_attempt();
            }
        }
        if let Link::Handshaking { deadline, .. } = self.link {
            if deadline <= now {
                self.emit_error(Error::Timeout(TimeoutError::connect_reply(self.config.timeout)));
                self.drop_link();
                self.schedule_reconnect(now);
            }
        }
        if self.ping.is_some_and(|ping| ping.deadline <= now) {
            self.lose_connection(ConnectingCode::NoPing, now);
        }
        if let Refresh::Due(at) = self.refresh {
            if at <= now {
                self.start_refresh();
            }
        }
        for purpose in self.calls.expire(now) {
            match purpose {
                Purpose::User(slot) => self.complete(slot, Err(self.reply_timeout())),
                Purpose::Refresh => {
                    self.emit_error(self.reply_timeout());
                    self.retry_refresh_later(now);
                }
                Purpose::Subscribe(_) => {
                    self.subscription_command_failed(ConnectingCode::SubscribeTimeout, now)
                }
                Purpose::Unsubscribe(_) => {
                    self.subscription_command_failed(ConnectingCode::UnsubscribeError, now)
                }
                Purpose::SubRefresh(sub) => {
                    self.sub_error(sub, self.reply_timeout());
                    self.retry_sub_refresh(sub, now);
                }
            }
        }
        self.tick_subscriptions(now);
        let (expired, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.waiting).into_iter().partition(|waiting| waiting.deadline <= now);
        self.waiting = waiting;
        for waiting in expired {
            let error = self.connection_timeout(self.config.timeout);
            self.complete(waiting.slot, Err(error));
        }
        let (expired, ready): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.ready_waiters).into_iter().partition(|waiter| waiter.deadline <= now);
        self.ready_waiters = ready;
        for waiter in expired {
            let error = self.connection_timeout(waiter.waited);
            self.complete(waiter.slot, Err(error));
        }
    }

    // ---- connecting ----------------------------------------------------------------------

    fn start_attempt(&mut self) {
        let needs_token = self.refresh_required || (self.token.is_empty() && self.config.has_token_getter);
        if !needs_token {
            self.dial();
            return;
        }
        if !self.config.has_token_getter {
            self.emit_error(Error::InvalidConfig(
                "the server wants a fresh connection token but no token getter is configured".into(),
            ));
            self.stop(DisconnectedCode::Unauthorized, Error::Disconnected);
            return;
        }
        self.link = Link::FetchingToken;
        self.fetch_token(TokenPurpose::Connect);
    }

    fn fetch_token(&mut self, purpose: TokenPurpose) {
        self.token_attempt += 1;
        self.token_purpose = Some(purpose);
        self.effects.push(Effect::FetchToken { attempt: self.token_attempt });
    }

    fn connect_token(&mut self, result: Result<String, TokenError>, now: Instant) {
        match result {
            Ok(token) => {
                self.token = token;
                self.refresh_required = false;
                self.dial();
            }
            Err(TokenError::Unauthorized) => self.stop(DisconnectedCode::Unauthorized, Error::Disconnected),
            Err(TokenError::Failed(why)) => {
                self.emit_error(Error::Token(why));
                self.link = Link::Idle;
                self.reconnect_at =
                    Some(now + backoff::uniform(TOKEN_RETRY_MIN, TOKEN_RETRY_MAX, &mut self.rng));
            }
        }
    }

    fn dial(&mut self) {
        let generation = self.next_generation;
        self.next_generation += 1;
        self.link = Link::Dialing { generation };
        self.effects.push(Effect::Dial { generation });
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        let delay = backoff::full_jitter(
            self.reconnect_attempts,
            self.config.min_reconnect_delay,
            self.config.max_reconnect_delay,
            &mut self.rng,
        );
        self.reconnect_attempts = self.reconnect_attempts.saturating_add(1);
        self.reconnect_at = Some(now + delay);
    }

    fn connect_reply(&mut self, generation: u64, reply: Reply, now: Instant) {
        if let Some(error) = reply.error {
            let error = ServerError { code: error.code, message: error.message, temporary: error.temporary };
            if error.code == codes::errors::TOKEN_EXPIRED
                || codes::reply_error_is_temporary(error.code, error.temporary)
            {
                self.refresh_required |= error.code == codes::errors::TOKEN_EXPIRED;
                self.emit_error(Error::Server(error));
                self.drop_link();
                self.schedule_reconnect(now);
            } else {
                self.stop(Reason::from_server(error.code, error.message), Error::Disconnected);
            }
            return;
        }
        let result = reply.connect.unwrap_or_default();
        self.link = Link::Up { generation };
        self.effects.push(Effect::ConnectionUp { generation });
        self.reconnect_attempts = 0;
        self.last_attempt_error = None;
        if result.ping > 0 {
            let window = Duration::from_secs(u64::from(result.ping)) + self.config.max_server_ping_delay;
            self.ping = Some(PingWatch { window, deadline: now + window, pong: result.pong });
        }
        if result.expires {
            self.refresh = Refresh::Due(now + Duration::from_secs(u64::from(result.ttl)));
        }
        self.set_state(ClientState::Connected);
        self.emit(ClientEvent::Connected(ConnectedEvent::new(result.client, result.version, result.data)));
        self.server_subs_connected(result.subs);
        // Subscriptions added during the handshake.
        self.resubscribe_all(now);
        for waiting in std::mem::take(&mut self.waiting) {
            self.send_call(waiting.call, waiting.slot, waiting.deadline);
        }
        for waiter in std::mem::take(&mut self.ready_waiters) {
            self.complete(waiter.slot, Ok(Reply::default()));
        }
    }

    // ---- connected -----------------------------------------------------------------------

    fn reply(&mut self, generation: u64, reply: Reply, now: Instant) {
        if reply.id > 0 {
            if let Link::Handshaking { connect_id, .. } = self.link {
                if reply.id == connect_id {
                    if reply.error.is_none()
                        && reply.connect.is_none()
                        && crate::protocol::carries_a_result(&reply)
                    {
                        self.protocol_error(
                            generation,
                            "the connect command got a reply of another kind".into(),
                        );
                        return;
                    }
                    self.connect_reply(generation, reply, now);
                    return;
                }
            }
            match self.calls.take(reply.id) {
                Some(Purpose::User(slot)) => self.complete(slot, call_result(reply)),
                Some(Purpose::Refresh) => self.refresh_reply(reply, now),
                Some(Purpose::Subscribe(_))
                    if reply.error.is_none()
                        && reply.subscribe.is_none()
                        && crate::protocol::carries_a_result(&reply) =>
                {
                    self.protocol_error(generation, "a subscribe command got a reply of another kind".into());
                }
                Some(Purpose::Subscribe(sub)) => self.subscribe_reply(sub, reply.id, reply, now),
                Some(Purpose::Unsubscribe(_)) => {
                    if reply.error.is_some() {
                        self.subscription_command_failed(ConnectingCode::UnsubscribeError, now);
                    }
                }
                Some(Purpose::SubRefresh(sub)) => self.sub_refresh_reply(sub, reply, now),
                // A reply that arrives after its call timed out.
                None => log::debug!("reply to unknown command id {}", reply.id),
            }
        } else if let Some(mut push) = reply.push {
            if let Some(message) = push.message.take() {
                self.emit(ClientEvent::Message(MessageEvent::new(message.data)));
            } else if let Some(disconnect) = push.disconnect.take() {
                // Only non-WebSocket transports deliver disconnects as pushes; same rule.
                let code = u16::try_from(disconnect.code).unwrap_or(u16::MAX);
                let action = codes::classify_close(Some((code, disconnect.reason.as_str())));
                self.apply_close(action, now);
            } else if !self.sub_push(&mut push, now) {
                self.server_push(push);
            }
        } else if self.ping.is_some_and(|ping| ping.pong) {
            self.effects.push(Effect::SendCommand { generation, command: Box::default() });
        }
    }

    fn send_call(&mut self, call: EncodedCall, slot: S, deadline: Instant) {
        let Link::Up { generation } = self.link else {
            // Only called while connected; keep the caller's answer exactly-once regardless.
            self.complete(slot, Err(Error::Disconnected));
            return;
        };
        let id = call.id;
        self.effects.push(Effect::WriteCall { generation, call });
        if id == 0 {
            // Nothing to wait for: written is done.
            self.complete(slot, Ok(Reply::default()));
        } else {
            self.calls.insert(id, Purpose::User(slot), deadline);
        }
    }

    /// The connection commands can be written to: up, or handshaking (commands written after
    /// the connect command are handled after it).
    fn writable_generation(&self) -> Option<u64> {
        match self.link {
            Link::Handshaking { generation, .. } | Link::Up { generation } => Some(generation),
            _ => None,
        }
    }

    fn start_refresh(&mut self) {
        if !self.config.has_token_getter || self.state != ClientState::Connected {
            // Nothing to refresh with: the server expires the connection (3005), the client
            // reconnects, gets 109, and reports the missing getter then.
            self.refresh = Refresh::Idle;
            return;
        }
        self.refresh = Refresh::Fetching;
        self.fetch_token(TokenPurpose::Refresh);
    }

    fn refresh_token(&mut self, result: Result<String, TokenError>, now: Instant) {
        let token = match result {
            Ok(token) if !token.is_empty() => token,
            Ok(_) | Err(TokenError::Unauthorized) => {
                self.stop(DisconnectedCode::Unauthorized, Error::Disconnected);
                return;
            }
            Err(TokenError::Failed(why)) => {
                self.emit_error(Error::Token(why));
                self.retry_refresh_later(now);
                return;
            }
        };
        let Link::Up { generation } = self.link else {
            self.refresh = Refresh::Idle;
            return;
        };
        self.token = token.clone();
        let id = self.next_id();
        let command = Command { id, refresh: Some(RefreshRequest { token }), ..Default::default() };
        self.effects.push(Effect::SendCommand { generation, command: Box::new(command) });
        self.calls.insert(id, Purpose::Refresh, now + self.config.timeout);
        self.refresh = Refresh::InFlight;
    }

    fn refresh_reply(&mut self, reply: Reply, now: Instant) {
        if let Some(error) = reply.error {
            let temporary = error.temporary;
            let reason = Reason::from_server(error.code, error.message.clone());
            self.emit_error(Error::Server(ServerError {
                code: error.code,
                message: error.message,
                temporary,
            }));
            if temporary {
                self.retry_refresh_later(now);
            } else {
                self.stop(reason, Error::Disconnected);
            }
            return;
        }
        let result = reply.refresh.unwrap_or_default();
        self.refresh = if result.expires {
            Refresh::Due(now + Duration::from_secs(u64::from(result.ttl)))
        } else {
            Refresh::Idle
        };
    }

    fn retry_refresh_later(&mut self, now: Instant) {
        self.refresh = Refresh::Due(now + backoff::uniform(TOKEN_RETRY_MIN, TOKEN_RETRY_MAX, &mut self.rng));
    }

    // ---- losing the connection -----------------------------------------------------------

    fn apply_close(&mut self, action: CloseAction, now: Instant) {
        match action {
            CloseAction::Reconnect(reason) => {
                if reason.code == codes::STATE_INVALIDATED {
                    // The server asks to forget the token: a fresh one is fetched before the
                    // next connect (or the client stops when there is no getter).
                    self.token.clear();
                    self.refresh_required = true;
                    self.invalidate_all();
                }
                self.lose_connection(reason, now);
            }
            CloseAction::Stop(reason) => self.stop(reason, Error::Disconnected),
        }
    }

    /// The connection is gone but the client reconnects.
    fn lose_connection(&mut self, reason: impl Into<Reason>, now: Instant) {
        let reason = reason.into();
        let was_connected = self.state == ClientState::Connected;
        self.drop_link();
        if was_connected {
            self.set_state(ClientState::Connecting);
            self.emit(ClientEvent::Connecting(ConnectingEvent::new(reason)));
            self.server_subs_suspended();
        }
        self.schedule_reconnect(now);
    }

    /// The client stops: state `disconnected`, every call answered.
    fn stop(&mut self, reason: impl Into<Reason>, waiting_error: Error) {
        let reason = reason.into();
        self.drop_link();
        self.reconnect_at = None;
        self.token_purpose = None;
        let waiting = std::mem::take(&mut self.waiting);
        for call in waiting {
            self.complete(call.slot, Err(waiting_error.clone()));
        }
        let ready = std::mem::take(&mut self.ready_waiters);
        for waiter in ready {
            self.complete(waiter.slot, Err(waiting_error.clone()));
        }
        let previous = self.state;
        self.set_state(ClientState::Disconnected);
        if previous != ClientState::Disconnected {
            self.emit(ClientEvent::Disconnected(DisconnectedEvent::new(reason)));
        }
        self.server_subs_ended();
    }

    /// Closes the current connection and forgets everything tied to it.
    fn drop_link(&mut self) {
        if let Some(generation) = self.link.generation() {
            self.effects.push(Effect::CloseConnection { generation });
        }
        self.link = Link::Idle;
        self.ping = None;
        self.refresh = Refresh::Idle;
        if self.token_purpose == Some(TokenPurpose::Refresh) {
            self.token_purpose = None;
        }
        for purpose in self.calls.drain() {
            if let Purpose::User(slot) = purpose {
                self.complete(slot, Err(Error::ConnectionLost));
            }
        }
        self.suspend_all();
    }

    // ---- helpers -------------------------------------------------------------------------

    fn next_id(&mut self) -> u32 {
        self.config.ids.next()
    }

    fn set_state(&mut self, state: ClientState) {
        if self.state != state {
            self.state = state;
            self.effects.push(Effect::ClientState(state));
        }
    }

    fn emit(&mut self, event: ClientEvent) {
        self.effects.push(Effect::ClientEvent(event));
    }

    fn emit_error(&mut self, error: Error) {
        if self.state == ClientState::Connecting {
            self.last_attempt_error = Some(Arc::new(error.clone()));
        }
        self.emit(ClientEvent::Error(ErrorEvent::new(error)));
    }

    /// A command sent on a live connection got no reply in time.
    fn reply_timeout(&self) -> Error {
        Error::Timeout(TimeoutError::reply(self.config.timeout))
    }

    /// A wait for the connection ran out after `waited`: with the last attempt's error.
    fn connection_timeout(&self, waited: Duration) -> Error {
        Error::Timeout(TimeoutError::connection(waited, self.last_attempt_error.clone()))
    }

    fn complete(&mut self, slot: S, result: Result<Reply, Error>) {
        self.effects.push(Effect::Complete { slot, result: Box::new(result) });
    }
}
