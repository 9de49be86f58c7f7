//! The runtime's port: the one way the public handles reach a running client.
//!
//! Each method says what the user asked for; the port turns it into inputs for the core thread
//! or into a call on the [call path](super::call). The handles never build inputs themselves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::Mutex;

use super::backlog::{Backlog, CallbackWaiting};
use super::call::{CALLER_GRACE, CallPath, wait};
use super::{EventSink, Input, NewSubscription, on_lane_thread, sub_settings};
use crate::config::{Protocol, SubscriptionConfig};
use crate::core::SubId;
use crate::error::{Error, TimeoutError};
use crate::events::SubscriptionEvent;
use crate::protocol::Reply;
use crate::protocol::call::Request;
use crate::types::{ClientState, SubscriptionState};

/// The client's state, written by the core thread, read by the handles.
#[derive(Debug)]
pub(crate) struct StateCell(AtomicU8);

impl StateCell {
    pub(crate) fn get(&self) -> ClientState {
        ClientState::from_u8(self.0.load(Ordering::Acquire))
    }

    pub(crate) fn set(&self, state: ClientState) {
        self.0.store(state.to_u8(), Ordering::Release);
    }
}

/// A subscription's identity and state, shared by its handles and the core thread (which
/// alone writes the state).
#[derive(Debug)]
pub(crate) struct SubscriptionCell {
    id: SubId,
    channel: Arc<str>,
    state: AtomicU8,
}

impl SubscriptionCell {
    pub(crate) fn id(&self) -> SubId {
        self.id
    }

    pub(crate) fn channel(&self) -> &Arc<str> {
        &self.channel
    }

    pub(crate) fn state(&self) -> SubscriptionState {
        SubscriptionState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Called by the core thread only.
    pub(crate) fn set_state(&self, state: SubscriptionState) {
        self.state.store(state.to_u8(), Ordering::Release);
    }
}

/// What [`RuntimePort::new`] takes.
pub(super) struct PortParts {
    pub(super) inputs: Sender<Input>,
    pub(super) path: CallPath,
    pub(super) backlog: Arc<Backlog>,
    pub(super) timeout: Duration,
    pub(super) protocol: Protocol,
}

/// The ways into a running client, shared by the client and subscription handles.
pub(crate) struct RuntimePort {
    inputs: Sender<Input>,
    state: Arc<StateCell>,
    path: CallPath,
    backlog: Arc<Backlog>,
    timeout: Duration,
    protocol: Protocol,
    next_subscription: AtomicU64,
    /// The core thread, until `close` joins it (it joins every other thread of the client).
    core_thread: Mutex<Option<JoinHandle<()>>>,
}

impl RuntimePort {
    pub(super) fn new(parts: PortParts) -> RuntimePort {
        RuntimePort {
            inputs: parts.inputs,
            state: Arc::new(StateCell(AtomicU8::new(ClientState::Disconnected.to_u8()))),
            path: parts.path,
            backlog: parts.backlog,
            timeout: parts.timeout,
            protocol: parts.protocol,
            next_subscription: AtomicU64::new(1),
            core_thread: Mutex::new(None),
        }
    }

    pub(super) fn state_cell(&self) -> &Arc<StateCell> {
        &self.state
    }

    pub(super) fn started(&self, core_thread: JoinHandle<()>) {
        *self.core_thread.lock() = Some(core_thread);
    }

    /// The client's wire format.
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The client's current state.
    pub(crate) fn state(&self) -> ClientState {
        self.state.get()
    }

    /// Starts connecting.
    pub(crate) fn connect(&self) -> Result<(), Error> {
        self.send(Input::Connect)
    }

    /// Disconnects and stays so.
    pub(crate) fn disconnect(&self) -> Result<(), Error> {
        self.send(Input::Disconnect)
    }

    /// Replaces the token used from the next connect on.
    pub(crate) fn set_token(&self, token: String) -> Result<(), Error> {
        self.send(Input::SetToken(token))
    }

    /// Asks the client to shut down, without waiting.
    pub(crate) fn signal_close(&self) {
        let _ = self.inputs.send(Input::Close);
    }

    /// Shuts the client down and joins its core thread, which joins all the others (see the
    /// module docs of `runtime`). From a listener callback only signals.
    pub(crate) fn close(&self) {
        self.signal_close();
        if on_lane_thread() {
            return;
        }
        // Concurrent closers wait here until the first has joined everything.
        let mut core_thread = self.core_thread.lock();
        if let Some(thread) = core_thread.take() {
            let _ = thread.join();
        }
    }

    /// Waits until connected, at most `timeout`.
    pub(crate) fn ready(&self, timeout: Duration) -> Result<(), Error> {
        let _lifted = self.lift_backlog_limit_for_callbacks();
        let deadline = Instant::now() + timeout;
        let (slot, answer) = oneshot::channel();
        self.send(Input::Ready { slot, deadline, timeout })?;
        match answer.recv_deadline(deadline + CALLER_GRACE) {
            Ok(result) => result.map(|_| ()),
            Err(oneshot::RecvTimeoutError::Timeout) => Err(TimeoutError::connection(timeout, None).into()),
            Err(oneshot::RecvTimeoutError::Disconnected) => Err(Error::Closed),
        }
    }

    /// Makes a client-level call and waits for its reply, at most the client's `timeout`.
    pub(crate) fn call(&self, request: Request) -> Result<Reply, Error> {
        let _lifted = self.lift_backlog_limit_for_callbacks();
        // No early state check: the core decides, after the inputs sent before this call
        // (a `connect()` just made must count).
        self.path.call(request, self.timeout, |call, slot| self.send(Input::Call { call, slot }))
    }

    /// Makes a call on a subscription's channel: like any call once it is subscribed;
    /// otherwise through the core, which sees a `subscribe()` made just before, waits while
    /// subscribing and fails at once while unsubscribed.
    pub(crate) fn subscription_call(&self, sub: &SubscriptionCell, request: Request) -> Result<Reply, Error> {
        if sub.state() == SubscriptionState::Subscribed {
            return self.call(request);
        }
        let _lifted = self.lift_backlog_limit_for_callbacks();
        let deadline = Instant::now() + self.timeout;
        let id = sub.id();
        let (call, slot, answer) = self.path.prepare(request)?;
        self.send(Input::SubscriptionCall { sub: id, call, slot })?;
        wait(answer, deadline + CALLER_GRACE, self.timeout)
    }

    /// Adds a subscription to `channel`. `bind` makes its listener's sink given the new
    /// subscription's cell (the handles a listener gets are built on it).
    pub(crate) fn add_subscription<T>(
        &self,
        channel: Arc<str>,
        config: &SubscriptionConfig,
        bind: impl FnOnce(&Arc<SubscriptionCell>) -> (Box<dyn EventSink<SubscriptionEvent>>, T),
    ) -> Result<T, Error> {
        let id = self.next_subscription.fetch_add(1, Ordering::Relaxed);
        let cell = Arc::new(SubscriptionCell {
            id,
            channel: Arc::clone(&channel),
            state: AtomicU8::new(SubscriptionState::Unsubscribed.to_u8()),
        });
        let (sink, extra) = bind(&cell);
        self.send(Input::AddSubscription(Box::new(NewSubscription {
            settings: sub_settings(channel, config),
            token_getter: config.token_getter.clone(),
            state_getter: config.state_getter.clone(),
            sink,
            cell,
        })))?;
        Ok(extra)
    }

    /// Starts subscribing.
    pub(crate) fn subscribe(&self, sub: &SubscriptionCell) -> Result<(), Error> {
        self.send(Input::Subscribe(sub.id()))
    }

    /// Unsubscribes.
    pub(crate) fn unsubscribe(&self, sub: &SubscriptionCell) -> Result<(), Error> {
        self.send(Input::Unsubscribe(sub.id()))
    }

    /// Unsubscribes and forgets the subscription.
    pub(crate) fn remove_subscription(&self, sub: &SubscriptionCell) -> Result<(), Error> {
        self.send(Input::RemoveSubscription(sub.id()))
    }

    /// A callback that waits for the server must not wait behind the data its own lane has yet
    /// to handle (see [`super::backlog`]).
    fn lift_backlog_limit_for_callbacks(&self) -> Option<CallbackWaiting<'_>> {
        on_lane_thread().then(|| self.backlog.callback_waits())
    }

    /// Hands `input` to the core thread; fails once the client is closed.
    fn send(&self, input: Input) -> Result<(), Error> {
        self.inputs.send(input).map_err(|_| Error::Closed)
    }
}
