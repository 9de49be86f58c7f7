//! How an application hears about client events.
//!
//! Three ways, all equivalent:
//! - implement [`ClientListener`] (every method has a no-op default);
//! - pass a closure `FnMut(ClientEvent)`;
//! - use [`channel`] and read [`ClientEvent`]s from a `crossbeam_channel::Receiver`.
//!
//! Callbacks run on the client's executor lane, one at a time and in order, never on the
//! caller's thread. They may call the client (`rpc`, `publish`, even `close`): replies do not
//! go through the lane, so such calls complete instead of deadlocking, though they hold up the
//! events queued behind them. A callback that panics is reported through `on_error` and the
//! client carries on.

use crossbeam_channel::{Receiver, Sender};

use crate::events::{
    ClientEvent, ConnectedEvent, ConnectingEvent, DisconnectedEvent, ErrorEvent, MessageEvent,
};

/// Receives client events. Each method defaults to doing nothing.
pub trait ClientListener: Send + 'static {
    /// The client started connecting, or lost its connection and is reconnecting.
    fn on_connecting(&mut self, event: &ConnectingEvent) {
        let _ = event;
    }

    /// The client is connected.
    fn on_connected(&mut self, event: &ConnectedEvent) {
        let _ = event;
    }

    /// The client stopped and will not reconnect by itself.
    fn on_disconnected(&mut self, event: &DisconnectedEvent) {
        let _ = event;
    }

    /// Something failed that the client handles by itself; for logging and diagnostics.
    fn on_error(&mut self, event: &ErrorEvent) {
        let _ = event;
    }

    /// The server sent an asynchronous message.
    fn on_message(&mut self, event: &MessageEvent) {
        let _ = event;
    }
}

/// A closure receives every event as a [`ClientEvent`].
impl<F> ClientListener for F
where
    F: FnMut(ClientEvent) + Send + 'static,
{
    fn on_connecting(&mut self, event: &ConnectingEvent) {
        self(ClientEvent::Connecting(event.clone()))
    }

    fn on_connected(&mut self, event: &ConnectedEvent) {
        self(ClientEvent::Connected(event.clone()))
    }

    fn on_disconnected(&mut self, event: &DisconnectedEvent) {
        self(ClientEvent::Disconnected(event.clone()))
    }

    fn on_error(&mut self, event: &ErrorEvent) {
        self(ClientEvent::Error(event.clone()))
    }

    fn on_message(&mut self, event: &MessageEvent) {
        self(ClientEvent::Message(event.clone()))
    }
}

/// A listener that ignores every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopListener;

impl ClientListener for NoopListener {}

/// A listener that forwards every event into a channel; see [`channel`].
#[derive(Clone, Debug)]
pub struct ChannelListener {
    sender: Sender<ClientEvent>,
}

impl ClientListener for ChannelListener {
    fn on_connecting(&mut self, event: &ConnectingEvent) {
        self.forward(ClientEvent::Connecting(event.clone()));
    }

    fn on_connected(&mut self, event: &ConnectedEvent) {
        self.forward(ClientEvent::Connected(event.clone()));
    }

    fn on_disconnected(&mut self, event: &DisconnectedEvent) {
        self.forward(ClientEvent::Disconnected(event.clone()));
    }

    fn on_error(&mut self, event: &ErrorEvent) {
        self.forward(ClientEvent::Error(event.clone()));
    }

    fn on_message(&mut self, event: &MessageEvent) {
        self.forward(ClientEvent::Message(event.clone()));
    }
}

impl ChannelListener {
    fn forward(&self, event: ClientEvent) {
        // A dropped receiver means nobody listens any more; that is not the client's problem.
        let _ = self.sender.send(event);
    }
}

/// A listener and the receiving end of its (unbounded) event channel:
///
/// ```no_run
/// # use centrifuge_blocking::{Client, ClientConfig, ClientEvent, listener};
/// let (listener, events) = listener::channel();
/// let client = Client::new("ws://127.0.0.1:8000/connection/websocket", ClientConfig::default(), listener)?;
/// client.connect()?;
/// for event in events.iter() {
///     if let ClientEvent::Connected(connected) = event {
///         println!("connected as {}", connected.client_id());
///         break;
///     }
/// }
/// # Ok::<(), centrifuge_blocking::Error>(())
/// ```
pub fn channel() -> (ChannelListener, Receiver<ClientEvent>) {
    let (sender, receiver) = crossbeam_channel::unbounded();
    (ChannelListener { sender }, receiver)
}

/// Calls the listener method that matches `event`.
pub(crate) fn dispatch(listener: &mut dyn ClientListener, event: &ClientEvent) {
    match event {
        ClientEvent::Connecting(event) => listener.on_connecting(event),
        ClientEvent::Connected(event) => listener.on_connected(event),
        ClientEvent::Disconnected(event) => listener.on_disconnected(event),
        ClientEvent::Error(event) => listener.on_error(event),
        ClientEvent::Message(event) => listener.on_message(event),
    }
}
