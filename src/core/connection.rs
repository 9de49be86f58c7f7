//! The connection's life: connecting (token, dial, connect command), losing the connection
//! and reconnecting with backoff, stopping.

use std::time::{Duration, Instant};

use super::calls::Purpose;
use super::token_refresh::Refresh;
use super::{Core, Effect};
use crate::backoff;
use crate::codes::{ConnectingCode, DisconnectedCode, Reason};
use crate::error::{Error, ServerError, TransportError};
use crate::events::{ClientEvent, ConnectedEvent, ConnectingEvent, DisconnectedEvent};
use crate::protocol::codes::{self, CloseAction};
use crate::protocol::{Command, ConnectRequest, Reply};
use crate::token::TokenError;
use crate::types::ClientState;

/// How long a sleep a connection to a server that does not ping is trusted to survive (the
/// server's default ping interval, 25 s, plus the default allowed delay, 10 s).
const SLEEP_WITHOUT_PINGS: Duration = Duration::from_secs(35);

/// Where the current connection attempt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Link {
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
    /// The connection the link is about, if any: inputs from any other are stale.
    pub(super) fn generation(self) -> Option<u64> {
        match self {
            Link::Dialing { generation } | Link::Handshaking { generation, .. } | Link::Up { generation } => {
                Some(generation)
            }
            Link::Idle | Link::FetchingToken => None,
        }
    }

    /// The connection commands can be written to: up, or handshaking (commands written after
    /// the connect command are handled after it).
    pub(super) fn writable(self) -> Option<u64> {
        match self {
            Link::Handshaking { generation, .. } | Link::Up { generation } => Some(generation),
            _ => None,
        }
    }

    /// The connection that is up at the protocol level, which user calls may use.
    pub(super) fn up(self) -> Option<u64> {
        match self {
            Link::Up { generation } => Some(generation),
            _ => None,
        }
    }
}

/// What the connection token getter is being asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenPurpose {
    /// A token to connect with.
    Connect,
    /// A fresh token for the live connection (see [`Refresh`]).
    Refresh,
}

/// The server ping watchdog.
#[derive(Clone, Copy, Debug)]
pub(super) struct PingWatch {
    /// The server's ping interval plus the delay allowed on top.
    window: Duration,
    /// When the connection counts as dead unless a frame arrives.
    pub(super) deadline: Instant,
    /// The server wants each ping answered.
    pub(super) pong: bool,
}

impl PingWatch {
    /// A frame arrived: the connection is alive for another window.
    pub(super) fn rearm(&mut self, now: Instant) {
        self.deadline = now + self.window;
    }
}

impl<S> Core<S> {
    pub(crate) fn connect(&mut self) {
        if self.state != ClientState::Disconnected {
            return;
        }
        self.set_state(ClientState::Connecting);
        self.reconnect_attempts = 0;
        self.last_attempt_error = None;
        self.effects
            .emit(ClientEvent::Connecting(ConnectingEvent::new(ConnectingCode::ConnectCalled.into())));
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
        self.effects.send(generation, command);
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
        self.attempt_failed(now);
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
        let before_connected = self.link.up().is_none();
        if let Some(error) = error {
            self.emit_error(Error::Transport(error));
        }
        let code = close.as_ref().map(|(code, _)| *code);
        let action = codes::classify_close(close.as_ref().map(|(code, reason)| (*code, reason.as_str())));
        self.apply_close(action, now);
        if before_connected {
            // The server's own close codes prove the transport reaches it; the others are a
            // failed attempt, which moves along the transports (see `transports`).
            if code.is_some_and(|code| code >= 3000) {
                self.transports.answered();
            } else if self.state == ClientState::Connecting && self.transports.failed() {
                self.reconnect_at = Some(now);
            }
        }
    }

    /// Connection `generation` sent a frame that does not decode: a protocol violation.
    pub(crate) fn protocol_error(&mut self, generation: u64, what: String) {
        if self.link.generation() != Some(generation) {
            return;
        }
        self.emit_error(Error::Protocol(what));
        self.stop(DisconnectedCode::BadProtocol, Error::Disconnected);
    }

    /// The connection token getter answered for `attempt`.
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

    // ---- connecting ----------------------------------------------------------------------

    /// Dials, or first asks the token getter when there is no usable token.
    pub(super) fn start_attempt(&mut self) {
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

    pub(super) fn fetch_token(&mut self, purpose: TokenPurpose) {
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
            // As a failed attempt to connect, after the usual backoff (centrifuge-java and -go
            // do the same); a failed refresh of a live connection waits 10–20 s instead.
            Err(TokenError::Failed(why)) => {
                self.emit_error(Error::Token(why));
                self.link = Link::Idle;
                self.schedule_reconnect(now);
            }
        }
    }

    fn dial(&mut self) {
        let generation = self.next_generation;
        self.next_generation += 1;
        self.link = Link::Dialing { generation };
        self.effects.push(Effect::Dial { generation, transport: self.transports.current() });
    }

    /// An attempt failed before connecting: the next one goes at once on the next transport
    /// during a first round over the list, after the usual backoff otherwise.
    pub(super) fn attempt_failed(&mut self, now: Instant) {
        if self.transports.failed() {
            self.reconnect_at = Some(now);
        } else {
            self.schedule_reconnect(now);
        }
    }

    pub(super) fn schedule_reconnect(&mut self, now: Instant) {
        let delay = backoff::full_jitter(
            self.reconnect_attempts,
            self.config.min_reconnect_delay,
            self.config.max_reconnect_delay,
            &mut self.rng,
        );
        self.reconnect_attempts = self.reconnect_attempts.saturating_add(1);
        self.reconnect_at = Some(now + delay);
    }

    /// The reply to the connect command of connection `generation`.
    pub(super) fn connect_reply(&mut self, generation: u64, reply: Reply, now: Instant) {
        // Any answer, an error included, proves that this transport reaches the server.
        self.transports.answered();
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
        self.effects.emit(ClientEvent::Connected(ConnectedEvent::new(
            result.client,
            result.version,
            result.data,
        )));
        self.server_subs_connected(result.subs);
        // Subscriptions added during the handshake.
        self.resubscribe_all(now);
        self.connected_calls();
    }

    /// The machine slept for `slept` (wall time that the monotonic clock did not see, found by
    /// the runtime). A connection that slept through a whole ping window is dead on the
    /// server's side (it expected pongs): the client reconnects at once with code 2 "no ping",
    /// instead of waiting out the watchdog's window. A shorter sleep only restarts the window.
    /// Token refreshes due meanwhile (the tokens expire in wall time) are due now.
    pub(crate) fn resumed(&mut self, slept: Duration, now: Instant) {
        log::debug!("the machine slept for {slept:?}");
        let earlier = |at: Instant| at.checked_sub(slept).map_or(now, |at| at.max(now));
        if let Refresh::Due(at) = self.refresh {
            self.refresh = Refresh::Due(earlier(at));
        }
        for sub in self.subs.values_mut() {
            sub.resumed(slept, now);
        }
        if self.link.up().is_none() {
            return;
        }
        let window = self.ping.map_or(SLEEP_WITHOUT_PINGS, |ping| ping.window);
        if slept >= window {
            self.lose_connection(ConnectingCode::NoPing, now);
        } else if let Some(ping) = &mut self.ping {
            ping.rearm(now);
        }
    }

    // ---- losing the connection -----------------------------------------------------------

    /// Acts on the end of the connection as the server's close code says.
    pub(super) fn apply_close(&mut self, action: CloseAction, now: Instant) {
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
    pub(super) fn lose_connection(&mut self, reason: impl Into<Reason>, now: Instant) {
        let was_connected = self.state == ClientState::Connected;
        self.drop_link();
        if was_connected {
            self.set_state(ClientState::Connecting);
            self.effects.emit(ClientEvent::Connecting(ConnectingEvent::new(reason.into())));
            self.server_subs_suspended();
        }
        self.schedule_reconnect(now);
    }

    /// The client stops: state `disconnected`, every call answered.
    pub(super) fn stop(&mut self, reason: impl Into<Reason>, waiting_error: Error) {
        self.drop_link();
        self.reconnect_at = None;
        self.token_purpose = None;
        self.fail_waiting_calls(&waiting_error);
        // Server-side subscriptions end first: `disconnected` is the last event of a stop, as
        // of a close.
        self.server_subs_ended();
        let previous = self.state;
        self.set_state(ClientState::Disconnected);
        if previous != ClientState::Disconnected {
            self.effects.emit(ClientEvent::Disconnected(DisconnectedEvent::new(reason.into())));
        }
    }

    /// Closes the current connection and forgets everything tied to it.
    pub(super) fn drop_link(&mut self) {
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
                self.effects.complete(slot, Err(Error::ConnectionLost));
            }
        }
        self.suspend_all();
    }
}
