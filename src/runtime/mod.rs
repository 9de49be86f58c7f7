//! The client's threads: the only module that spawns any.
//!
//! - **core** (`centrifuge-core`): owns the [`Core`] state machine. It waits on one channel of
//!   [`Input`]s (user commands, transport events, getter results) with the next timer deadline
//!   as timeout, feeds the state machine, and carries out its effects.
//! - **connection** (`centrifuge-conn-<generation>`, one per connection attempt): dials, then
//!   reads frames, decodes them and forwards them, tagged with its generation. See
//!   [`connection`] for how writes reach the socket while this thread waits for input.
//! - **executor lanes** (`centrifuge-exec-<n>`): run listener callbacks in order, through the
//!   [`EventSink`]s the handles bind their listeners with.
//! - **getters** (`centrifuge-getters`, only once a getter is needed): calls the token and
//!   state getters, which may block.
//!
//! The handles (`Client`, `Subscription`) reach all of this through one [`RuntimePort`], built
//! by [`start`] from the endpoint and the `ClientConfig`; they never see the core, its inputs or
//! its settings. A call travels the [`call`] path. Received data waiting for listeners is
//! bounded: see [`backlog`].
//!
//! Shutdown. [`RuntimePort::close`] sends `Close`; the core thread answers every call, emits the
//! last events, closes connections, tells the lanes to stop after the events queued so far,
//! waits for its connection and getter threads (bounded: a thread stuck in the operating
//! system's TCP connect, or in a getter, cannot be interrupted; after
//! `max(connect_timeout, timeout)` plus a second it is left to finish on its own), then joins
//! the lanes and exits. `close` joins the core thread. Called from a listener callback, `close`
//! only starts the shutdown (a lane cannot wait for itself): the core joins that lane once the
//! callback has returned, and the core thread, the last to finish, is joined by a later
//! `close` or ends on its own. Dropping the last owning `Client` sends `Close` without waiting.

mod backlog;
pub(crate) mod call;
mod connection;
mod core_loop;
mod delivery;
mod executor;
mod getters;
mod port;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::codec::Codec;
use crate::config::{ClientConfig, Protocol, SubscriptionConfig};
use crate::core::{CommandIds, Core, CoreConfig, SubId, SubSettings};
use crate::error::{Error, TransportError};
use crate::events::{ClientEvent, SubscriptionEvent};
use crate::protocol::Reply;
use crate::protocol::call::EncodedCall;
use crate::token::{StateGetter, SubscriptionTokenGetter, TokenError};
use crate::transport::TransportConfig;
use crate::transports::TransportEndpoint;
use backlog::Backlog;
pub(crate) use executor::{EventSink, on_lane_thread};
pub(crate) use port::{RuntimePort, SubscriptionCell};

/// How a caller is answered: a one-shot channel.
pub(crate) type Slot = oneshot::Sender<Result<Reply, Error>>;

/// Everything the core thread reacts to.
pub(crate) enum Input {
    /// `Client::connect`: start connecting unless connecting or connected.
    Connect,
    /// `Client::disconnect`: stop, and stay disconnected.
    Disconnect,
    /// `Client::close` or the last owning handle dropped: stop for good and shut down.
    Close,
    /// `Client::set_token`: the token for the next connect.
    SetToken(String),
    /// A user call that could not go out directly (see [`call`]): send, queue or fail it.
    Call { call: EncodedCall, slot: Slot },
    /// `Client::ready`: answer once connected, or with an error at `deadline` (which is
    /// `timeout` after the call, for the error's message).
    Ready { slot: Slot, deadline: Instant, timeout: Duration },
    /// Something happened on connection `generation`.
    Transport { generation: u64, event: TransportEvent },
    /// The connection token getter answered the request numbered `attempt`.
    Token { attempt: u64, result: Result<String, TokenError> },
    /// The getter thread has exited (the last thing it sends).
    GettersEnded,
    /// `Client::new_subscription`: a new subscription, its getters and its listener.
    AddSubscription(Box<NewSubscription>),
    /// `Subscription::subscribe`.
    Subscribe(SubId),
    /// `Subscription::unsubscribe`.
    Unsubscribe(SubId),
    /// `Client::remove_subscription`: unsubscribe and forget.
    RemoveSubscription(SubId),
    /// A call on a subscription that is not subscribed (yet): send once subscribed, or fail.
    SubscriptionCall { sub: SubId, call: EncodedCall, slot: Slot },
    /// A subscription token getter answered the request numbered `attempt`.
    SubscriptionToken { attempt: u64, result: Result<String, TokenError> },
    /// A subscription state getter answered the request numbered `attempt`.
    SubscriptionPosition { attempt: u64, result: Result<crate::types::StreamPosition, String> },
}

/// Everything the core thread needs to know about a new subscription.
pub(crate) struct NewSubscription {
    pub(crate) settings: SubSettings,
    pub(crate) token_getter: Option<Arc<dyn SubscriptionTokenGetter>>,
    pub(crate) state_getter: Option<Arc<dyn StateGetter>>,
    pub(crate) sink: Box<dyn EventSink<SubscriptionEvent>>,
    /// What the handles read; the core thread keeps its state current.
    pub(crate) cell: Arc<SubscriptionCell>,
}

/// What a connection thread reports.
pub(crate) enum TransportEvent {
    /// The WebSocket is up; calls may be written to it.
    Opened(Arc<dyn call::Link>),
    /// The dial failed at some step (DNS, TCP, proxy, TLS, handshake).
    DialFailed(TransportError),
    /// Replies and pushes of one read, and the bytes they count for in the backlog.
    Replies(Vec<Reply>, usize),
    /// The server sent something that does not decode.
    ProtocolError(String),
    /// The connection ended: with the server's close frame, an I/O error, or neither.
    Closed { close: Option<(u16, String)>, error: Option<TransportError> },
    /// The thread is about to exit; always its last message.
    Ended,
}

/// Starts a client for `endpoint` (then `config`'s fallback transports) with `config`: checks both, builds the state machine and the
/// transport settings, spawns the core thread and the lanes, and returns the port the handles
/// use. `bind` makes the client listener's sink, given the port (the handles a listener gets
/// are built on it), and may return something more for the caller.
pub(crate) fn start<T>(
    endpoint: TransportEndpoint,
    config: &ClientConfig,
    bind: impl FnOnce(&Arc<RuntimePort>) -> (Box<dyn EventSink<ClientEvent>>, T),
) -> Result<(Arc<RuntimePort>, T), Error> {
    config.validate()?;
    let endpoints: Vec<TransportEndpoint> =
        std::iter::once(endpoint).chain(config.fallback_transports.iter().cloned()).collect();
    let transport = TransportConfig::new(&endpoints, config)?;
    let ids = Arc::new(CommandIds::default());
    let core = Core::new(core_config(config, Arc::clone(&ids)), StdRng::from_rng(&mut rand::rng()));
    let (inputs, receiver) = crossbeam_channel::unbounded();
    let backlog = Arc::new(Backlog::new(config.event_queue_limit));
    let codec = Codec::new(config.protocol, config.max_message_size);
    let route = Arc::new(call::CallRoute::default());
    let port = Arc::new(RuntimePort::new(port::PortParts {
        inputs: inputs.clone(),
        path: call::CallPath::new(Arc::clone(&route), ids, codec),
        backlog: Arc::clone(&backlog),
        timeout: config.timeout,
        protocol: config.protocol,
    }));
    let (sink, extra) = bind(&port);
    let (lanes, lane_threads) = executor::spawn(config.executor_lanes, sink, &backlog)?;
    let core_loop = core_loop::CoreLoop::new(core_loop::CoreLoopParts {
        core,
        inputs: receiver,
        to_self: inputs,
        state: Arc::clone(port.state_cell()),
        route,
        transport: Arc::new(transport),
        codec,
        lanes,
        lane_threads,
        backlog,
        token_getter: config.token_getter.clone(),
        shutdown_bound: config.connect_timeout.max(config.timeout) + Duration::from_secs(1),
    });
    let core_thread = spawn("centrifuge-core".into(), move || core_loop.run())?;
    port.started(core_thread);
    Ok((port, extra))
}

/// The state machine's settings, from the client's configuration.
fn core_config(config: &ClientConfig, ids: Arc<CommandIds>) -> CoreConfig {
    CoreConfig {
        ids,
        token: config.token.clone(),
        has_token_getter: config.token_getter.is_some(),
        data: Bytes::from(config.data.clone()),
        name: config.name.clone(),
        version: config.version.clone(),
        timeout: config.timeout,
        min_reconnect_delay: config.min_reconnect_delay,
        max_reconnect_delay: config.max_reconnect_delay,
        max_server_ping_delay: config.max_server_ping_delay,
        json: config.protocol == Protocol::Json,
        max_message_size: config.max_message_size,
    }
}

/// A subscription's settings in the state machine, from its configuration.
fn sub_settings(channel: Arc<str>, config: &SubscriptionConfig) -> SubSettings {
    SubSettings {
        channel,
        token: config.token.clone(),
        has_token_getter: config.token_getter.is_some(),
        has_state_getter: config.state_getter.is_some(),
        data: Bytes::from(config.data.clone()),
        min_resubscribe_delay: config.min_resubscribe_delay,
        max_resubscribe_delay: config.max_resubscribe_delay,
        positioned: config.positioned,
        recoverable: config.recoverable,
        join_leave: config.join_leave,
        delta: config.delta,
        since: config.since.clone().map(Box::new),
        tags_filter: config.tags_filter.clone().map(|filter| Box::new(filter.0)),
    }
}

/// Spawns a named thread.
fn spawn(name: String, body: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, Error> {
    std::thread::Builder::new().name(name.clone()).spawn(body).map_err(|err| {
        Error::Transport(TransportError::with_source(format!("cannot spawn thread {name}"), err))
    })
}
