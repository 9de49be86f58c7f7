//! The client's threads: the only module that spawns any.
//!
//! - **core** (`centrifuge-core`): owns the [`Core`] state machine. It waits on one channel of
//!   [`Input`]s (user commands, transport events, token results) with the next timer deadline
//!   as timeout, feeds the state machine, and carries out its effects.
//! - **connection** (`centrifuge-conn-<generation>`, one per connection attempt): dials, then
//!   reads frames, decodes them and forwards them, tagged with its generation. See
//!   [`connection`] for how writes reach the socket while this thread waits for input.
//! - **executor lanes** (`centrifuge-exec-<n>`): run listener callbacks in order.
//! - **token** (`centrifuge-token`, only with a token getter): calls the getter, which may block.
//!
//! Received data waiting for listeners is bounded: see [`backlog`].
//!
//! Shutdown. [`Runtime::close`] sends `Close`; the core thread answers every call, emits the
//! last events, closes connections, tells the lanes to stop after the events queued so far,
//! waits for its connection and token threads (bounded: a thread stuck in the operating
//! system's TCP connect, or in a token getter, cannot be interrupted; after
//! `max(connect_timeout, timeout)` plus a second it is left to finish on its own), and exits.
//! `close` then joins the core thread and the lanes. Called from a listener callback, `close`
//! only starts the shutdown: it cannot join the lane it runs on; the threads end as soon as the
//! callback returns. Dropping the last `Client` sends `Close` without waiting for anything.

mod backlog;
mod connection;
mod core_loop;
mod executor;
mod oneshot;
mod route;
mod token;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::Mutex;

use crate::codec::Codec;
use crate::core::{CommandIds, Core, Request, SubId, SubSettings};
use crate::error::{Error, TimeoutError, TransportError};
use crate::listener::ClientListener;
use crate::protocol::Reply;
use crate::subscription::SubscriptionShared;
use crate::token::{TokenError, TokenGetter};
use crate::transport::TransportConfig;
use crate::types::ClientState;
use backlog::Backlog;
pub(crate) use connection::Connection;
pub(crate) use executor::on_lane_thread;
use route::CallRoute;

/// How much longer than `timeout` a caller waits for the core thread before concluding that it
/// is stuck. The core answers every call by its deadline; this only guards against a bug.
const CALLER_GRACE: Duration = Duration::from_secs(2);

/// How a caller is answered: a one-shot channel.
pub(crate) type Slot = oneshot::Sender<Result<Reply, Error>>;

/// Everything the core thread reacts to.
pub(crate) enum Input {
    Connect,
    Disconnect,
    Close,
    SetToken(String),
    Call { request: Request, slot: Slot },
    Ready { slot: Slot, deadline: Instant, timeout: Duration },
    Transport { generation: u64, event: TransportEvent },
    Token { attempt: u64, result: Result<String, TokenError> },
    TokenWorkerEnded,
    AddSubscription(Box<NewSubscription>),
    Subscribe(SubId),
    Unsubscribe(SubId),
    RemoveSubscription(SubId),
    SubCall { sub: SubId, request: Request, slot: Slot },
    SubToken { attempt: u64, result: Result<String, TokenError> },
    SubState { attempt: u64, result: Result<crate::types::StreamPosition, String> },
}

/// Everything the core thread needs to know about a new subscription.
pub(crate) struct NewSubscription {
    pub(crate) id: SubId,
    pub(crate) settings: SubSettings,
    pub(crate) token_getter: Option<Arc<dyn crate::token::SubscriptionTokenGetter>>,
    pub(crate) state_getter: Option<Arc<dyn crate::token::StateGetter>>,
    pub(crate) listener: Box<dyn crate::listener::SubscriptionListener>,
    /// What the handles share; the core thread keeps its state current.
    pub(crate) shared: Arc<SubscriptionShared>,
}

/// What a connection thread reports.
pub(crate) enum TransportEvent {
    Opened(Arc<Connection>),
    DialFailed(TransportError),
    /// Replies and pushes of one read, and the bytes they count for in the backlog.
    Frame(Vec<Reply>, usize),
    ProtocolError(String),
    Closed {
        close: Option<(u16, String)>,
        error: Option<TransportError>,
    },
    /// The thread is about to exit; always its last message.
    Ended,
}

/// State shared between the handles and the core thread.
#[derive(Debug)]
pub(crate) struct Shared {
    state: AtomicU8,
}

impl Shared {
    pub(crate) fn state(&self) -> ClientState {
        ClientState::from_u8(self.state.load(Ordering::Acquire))
    }

    fn set_state(&self, state: ClientState) {
        self.state.store(state.to_u8(), Ordering::Release);
    }
}

/// The threads `close` joins.
struct Threads {
    core: JoinHandle<()>,
    lanes: Vec<JoinHandle<()>>,
}

/// The running client: the ways in, and the threads to join. Dropping it (with the last
/// `Client`) starts the shutdown.
pub(crate) struct Runtime {
    handles: Arc<Handles>,
    threads: Mutex<Option<Threads>>,
}

/// The ways into a running client, shared by the client and subscription handles
/// (subscriptions hold it weakly, so they never keep a client alive).
pub(crate) struct Handles {
    inputs: Sender<Input>,
    shared: Arc<Shared>,
    route: Arc<CallRoute>,
    ids: Arc<CommandIds>,
    codec: Codec,
    backlog: Arc<Backlog>,
}

/// What the runtime needs to start.
pub(crate) struct Parts {
    pub(crate) core: Core<Slot>,
    pub(crate) transport: TransportConfig,
    pub(crate) listener: Box<dyn ClientListener>,
    pub(crate) token_getter: Option<Arc<dyn TokenGetter>>,
    pub(crate) ids: Arc<CommandIds>,
    pub(crate) lanes: usize,
    pub(crate) shutdown_bound: Duration,
    /// See [`backlog`].
    pub(crate) event_queue_limit: usize,
}

impl Runtime {
    /// Spawns the core thread and the executor lanes.
    pub(crate) fn start(parts: Parts) -> Result<Runtime, Error> {
        let (inputs, receiver) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared { state: AtomicU8::new(ClientState::Disconnected.to_u8()) });
        let backlog = Arc::new(Backlog::new(parts.event_queue_limit));
        let (lanes, lane_threads) = executor::spawn(parts.lanes, parts.listener, &backlog)?;
        let codec = Codec::new(parts.transport.protocol(), parts.transport.max_message_size());
        let route = Arc::new(CallRoute::default());
        let core_loop = core_loop::CoreLoop::new(core_loop::CoreLoopParts {
            core: parts.core,
            inputs: receiver,
            to_self: inputs.clone(),
            shared: Arc::clone(&shared),
            route: Arc::clone(&route),
            transport: Arc::new(parts.transport),
            codec,
            lanes,
            backlog: Arc::clone(&backlog),
            token_getter: parts.token_getter,
            shutdown_bound: parts.shutdown_bound,
        });
        let core = spawn("centrifuge-core".into(), move || core_loop.run())?;
        Ok(Runtime {
            handles: Arc::new(Handles { inputs, shared, route, ids: parts.ids, codec, backlog }),
            threads: Mutex::new(Some(Threads { core, lanes: lane_threads })),
        })
    }

    pub(crate) fn handles(&self) -> &Arc<Handles> {
        &self.handles
    }

    /// Shuts the client down and joins its threads (see the module docs).
    pub(crate) fn close(&self) {
        let _ = self.handles.inputs.send(Input::Close);
        if on_lane_thread() {
            return;
        }
        // Concurrent closers wait here until the first has joined everything.
        let mut threads = self.threads.lock();
        if let Some(threads) = threads.take() {
            let _ = threads.core.join();
            for lane in threads.lanes {
                let _ = lane.join();
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // The last handle is gone: ask the threads to stop, wait for nothing.
        let _ = self.handles.inputs.send(Input::Close);
    }
}

impl Handles {
    /// Makes a call and waits for its answer, at most `timeout`: directly on the connection
    /// when it is up (see [`route`]), through the core otherwise.
    pub(crate) fn call(&self, request: Request, timeout: Duration) -> Result<Reply, Error> {
        let _lifted = self.lift_backlog_limit_for_callbacks();
        // No early state check here: the core decides, after the inputs sent before this call
        // (a `connect()` just made must count).
        let deadline = Instant::now() + timeout;
        let (slot, answer) = oneshot::oneshot();
        if !request.expects_reply() {
            if let Some(connection) = self.route.connection() {
                self.write(&connection, request.into_command(0))?;
                return Ok(Reply::default());
            }
        } else {
            let id = self.ids.next();
            if let Some((connection, alone)) = self.route.register(id, slot.clone()) {
                if let Err(err) = self.write(&connection, request.into_command(id)) {
                    // Unless the core already failed the call along with its connection.
                    if self.route.take(id).is_some() {
                        return Err(err);
                    }
                }
                if alone {
                    connection.read_for_caller(&self.route, deadline, || answer.is_answered());
                }
                return match answer.recv_deadline(deadline) {
                    Ok(result) => result,
                    Err(_) if self.route.take(id).is_some() => Err(TimeoutError::reply(timeout).into()),
                    // Taken by the reader or the core: the answer is on its way.
                    Err(_) => answer.recv().unwrap_or(Err(Error::ConnectionLost)),
                };
            }
        }
        self.send(Input::Call { request, slot })?;
        match answer.recv_deadline(deadline + CALLER_GRACE) {
            Ok(result) => result,
            Err(oneshot::Missing::Timeout) => Err(TimeoutError::reply(timeout).into()),
            // The core thread dropped the slot unanswered: it has shut down.
            Err(oneshot::Missing::Disconnected) => Err(Error::Closed),
        }
    }

    /// Waits until the client is connected, at most until `deadline`.
    pub(crate) fn ready(&self, timeout: Duration) -> Result<(), Error> {
        let _lifted = self.lift_backlog_limit_for_callbacks();
        let deadline = Instant::now() + timeout;
        let (slot, answer) = oneshot::oneshot();
        self.send(Input::Ready { slot, deadline, timeout })?;
        match answer.recv_deadline(deadline + CALLER_GRACE) {
            Ok(result) => result.map(|_| ()),
            Err(oneshot::Missing::Timeout) => Err(TimeoutError::connection(timeout, None).into()),
            Err(oneshot::Missing::Disconnected) => Err(Error::Closed),
        }
    }

    /// Encodes and writes one command on the caller's thread.
    fn write(&self, connection: &Connection, command: crate::protocol::Command) -> Result<(), Error> {
        let frame = self
            .codec
            .encode(std::slice::from_ref(&command))
            .map_err(|err| Error::InvalidInput(err.to_string()))?;
        connection.send(frame).map_err(|err| {
            // The reader notices the shutdown and the core reconnects.
            connection.close();
            log::debug!("direct write failed: {err}");
            Error::ConnectionLost
        })
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// A call on a subscription's channel made while it is subscribing: the core sends it
    /// once subscribed, or fails it.
    pub(crate) fn sub_call(&self, sub: SubId, request: Request, timeout: Duration) -> Result<Reply, Error> {
        let _lifted = self.lift_backlog_limit_for_callbacks();
        let (slot, answer) = oneshot::oneshot();
        self.send(Input::SubCall { sub, request, slot })?;
        match answer.recv_deadline(Instant::now() + timeout + CALLER_GRACE) {
            Ok(result) => result,
            Err(oneshot::Missing::Timeout) => Err(TimeoutError::subscription(timeout).into()),
            Err(oneshot::Missing::Disconnected) => Err(Error::Closed),
        }
    }

    /// A callback that waits for the server must not wait behind the data its own lane has yet
    /// to handle (see [`backlog`]).
    fn lift_backlog_limit_for_callbacks(&self) -> Option<backlog::CallbackWaiting<'_>> {
        on_lane_thread().then(|| self.backlog.callback_waits())
    }

    /// Hands `input` to the core thread; fails once the client is closed.
    pub(crate) fn send(&self, input: Input) -> Result<(), Error> {
        self.inputs.send(input).map_err(|_| Error::Closed)
    }
}

/// Spawns a named thread.
fn spawn(name: String, body: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, Error> {
    std::thread::Builder::new().name(name.clone()).spawn(body).map_err(|err| {
        Error::Transport(TransportError::with_source(format!("cannot spawn thread {name}"), err))
    })
}
