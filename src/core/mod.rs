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
//!   connection. A getter failure other than `Unauthorized` is a failed attempt, retried after
//!   the reconnect backoff; a failed refresh of a live connection's token after 10–20 s.
//! - Every transport input carries the generation of its connection and every token result its
//!   attempt number; results of superseded connections or attempts are ignored.
//! - After the machine slept (the runtime finds it by the clocks), a connection that slept
//!   through a whole ping window is taken as dead at once (code 2) rather than checked: the
//!   server stopped waiting for its pongs long ago. A shorter sleep restarts the window.
//! - Which transport an attempt uses is decided here too (`transports`): the first round over
//!   the list at once, the transport that connected kept, the list tried again after it fails
//!   three attempts in a row.
//!
//! Layout: this file holds `Core`, its settings, its deadlines and `tick`. The client's
//! transitions are in `connection` (connecting, losing the connection, stopping),
//! `token_refresh`, `user_calls` (calls and `ready()` waits) and `inbound` (where each message
//! from the server goes); `effects` is the queue they all push onto and `calls` the commands
//! in flight. A client-side subscription is its own state machine in `subscription`;
//! `subscriptions` routes inputs to it and `registry` indexes them. `server_subs` keeps the
//! server-side subscriptions.

mod calls;
mod connection;
mod effects;
mod inbound;
mod registry;
mod server_subs;
mod subscription;
mod subscriptions;
#[cfg(test)]
mod tests;
mod token_refresh;
mod transports;
mod user_calls;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;

use crate::codes::ConnectingCode;
use crate::error::{Error, TimeoutError};
use crate::events::{ClientEvent, ErrorEvent};
use crate::types::ClientState;
use calls::{Calls, Waiting};
use connection::{Link, PingWatch, TokenPurpose};
pub(crate) use effects::Effect;
use effects::Effects;
use registry::Registry;
use server_subs::ServerSub;
use subscription::Fetches;
pub(crate) use subscription::{SubId, SubSettings};
use token_refresh::Refresh;
use transports::Transports;
use user_calls::ReadyWaiter;

/// How long to wait before asking a failing token getter again.
const TOKEN_RETRY_MIN: Duration = Duration::from_secs(10);
const TOKEN_RETRY_MAX: Duration = Duration::from_secs(20);

/// Command ids, shared by the core and the callers that write directly (see
/// `runtime::call`), so that ids never collide.
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
    /// Where command ids come from.
    pub(crate) ids: Arc<CommandIds>,
    /// The connection token until a getter or `set_token` gives another.
    pub(crate) token: String,
    pub(crate) has_token_getter: bool,
    /// Sent with every connect command.
    pub(crate) data: Bytes,
    pub(crate) name: String,
    pub(crate) version: String,
    /// How long a call, a command or the connect handshake may take.
    pub(crate) timeout: Duration,
    pub(crate) min_reconnect_delay: Duration,
    pub(crate) max_reconnect_delay: Duration,
    pub(crate) max_server_ping_delay: Duration,
    /// The connection speaks JSON (delta payloads are then JSON strings).
    pub(crate) json: bool,
    /// The largest payload a delta may produce.
    pub(crate) max_message_size: usize,
    /// How many transports the client has (the endpoint and its fallbacks).
    pub(crate) transports: usize,
}

/// The client state machine. `S` is how the runtime answers a caller (a reply slot).
pub(crate) struct Core<S> {
    /// The client's settings.
    config: CoreConfig,
    /// The randomness of the backoff delays (seeded in tests).
    rng: StdRng,
    /// The client's state, as the handles read it.
    state: ClientState,
    /// The connection token the next connect command carries.
    token: String,
    /// The token must come fresh from the getter before the next connect (after 109 or 3014).
    refresh_required: bool,
    /// Where the current connection attempt stands.
    link: Link,
    /// The generation the next dial gets; inputs from any other connection are stale.
    next_generation: u64,
    /// Failed attempts since `connect()` or the last success: the backoff's exponent.
    reconnect_attempts: u32,
    /// When to start the next connection attempt, while waiting to.
    reconnect_at: Option<Instant>,
    /// The number of the latest connection token request; answers to older ones are ignored.
    token_attempt: u64,
    /// What the connection token request in flight is for, if one is.
    token_purpose: Option<TokenPurpose>,
    /// The server ping watchdog, while connected to a server that pings.
    ping: Option<PingWatch>,
    /// Where the refresh of the connection token stands.
    refresh: Refresh,
    /// Commands in flight (the core's and the user's), by id, with their deadlines.
    calls: Calls<S>,
    /// User calls made while connecting, sent in order once connected.
    waiting: Vec<Waiting<S>>,
    /// `ready()` calls waiting for the connection.
    ready_waiters: Vec<ReadyWaiter<S>>,
    /// The error of the last failed connection attempt since `connect()` or the last success:
    /// what a wait for the connection that times out reports as its cause.
    last_attempt_error: Option<Arc<Error>>,
    /// The client-side subscriptions, each with its own state machine.
    subs: Registry<S>,
    /// The subscriptions' getter requests in flight, by attempt number.
    sub_fetches: Fetches,
    /// The server-side subscriptions, by channel, with their stream positions.
    server_subs: BTreeMap<String, ServerSub>,
    /// Which transport the next connection attempt uses.
    transports: Transports,
    /// The effects pushed since the runtime last took them.
    effects: Effects<S>,
}

impl<S> Core<S> {
    pub(crate) fn new(config: CoreConfig, rng: StdRng) -> Core<S> {
        let transports = Transports::new(config.transports);
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
            subs: Registry::default(),
            sub_fetches: Fetches::default(),
            server_subs: BTreeMap::new(),
            transports,
            effects: Effects::default(),
        }
    }

    /// The effects pushed since the last call, in order.
    pub(crate) fn take_effects(&mut self) -> Vec<Effect<S>> {
        self.effects.take()
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
            self.waiting_deadline(),
            self.subs.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
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
                self.attempt_failed(now);
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
        for (command, purpose) in self.calls.expire(now) {
            self.command_timed_out(command, purpose, now);
        }
        self.tick_subscriptions(now);
        self.expire_waiting_calls(now);
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

    /// Reports an error to the client listener; while connecting, it is also the cause a wait
    /// for the connection that times out names.
    fn emit_error(&mut self, error: Error) {
        if self.state == ClientState::Connecting {
            self.last_attempt_error = Some(Arc::new(error.clone()));
        }
        self.effects.emit(ClientEvent::Error(ErrorEvent::new(error)));
    }

    /// A command sent on a live connection got no reply in time.
    fn reply_timeout(&self) -> Error {
        Error::Timeout(TimeoutError::reply(self.config.timeout))
    }

    /// A wait for the connection ran out after `waited`: with the last attempt's error.
    fn connection_timeout(&self, waited: Duration) -> Error {
        Error::Timeout(TimeoutError::connection(waited, self.last_attempt_error.clone()))
    }
}
