//! How an application hears about client events.
//!
//! Three ways, all equivalent:
//! - implement [`ClientListener`] (every method has a no-op default);
//! - pass a closure `FnMut(ClientEvent)`;
//! - use [`channel`] and read [`ClientEvent`]s from a
//!   [`crossbeam_channel::Receiver`]. The channel crate is
//!   re-exported as [`centrifuge_blocking::crossbeam_channel`](crate::crossbeam_channel), so a
//!   receiver can be stored in your own types and several can be waited on at once:
//!
//! ```no_run
//! use centrifuge_blocking::crossbeam_channel::{Receiver, select};
//! use centrifuge_blocking::{Client, ClientConfig, ClientEvent, SubscriptionConfig, SubscriptionEvent, listener};
//!
//! struct App {
//!     client_events: Receiver<ClientEvent>,
//!     news: Receiver<SubscriptionEvent>,
//! }
//!
//! let (client_listener, client_events) = listener::channel();
//! let client = Client::new("ws://127.0.0.1:8000/connection/websocket", ClientConfig::default(), client_listener)?;
//! let (news_listener, news) = listener::subscription_channel();
//! client.new_subscription("news", SubscriptionConfig::default(), news_listener)?.subscribe()?;
//! client.connect()?;
//! let app = App { client_events, news };
//! loop {
//!     select! {
//!         recv(app.client_events) -> event => println!("client: {:?}", event),
//!         recv(app.news) -> event => match event {
//!             Ok(SubscriptionEvent::Publication(publication)) => println!("news: {:?}", publication.data()),
//!             Ok(_) => {}
//!             Err(_) => break,
//!         },
//!     }
//! }
//! # Ok::<(), centrifuge_blocking::Error>(())
//! ```
//!
//! Callbacks run on the client's executor lane, one at a time and in order, never on the
//! caller's thread. They may call the client (`rpc`, `publish`, even `close`): replies do not
//! go through the lane, so such calls complete instead of deadlocking, though they hold up the
//! events queued behind them. A callback that panics is reported through `on_error` and the
//! client carries on.

use crossbeam_channel::{Receiver, Sender};

use crate::events::{
    ClientEvent, ConnectedEvent, ConnectingEvent, DisconnectedEvent, ErrorEvent, JoinEvent, LeaveEvent,
    MessageEvent, PublicationEvent, ServerSubscribedEvent, ServerSubscribingEvent, ServerUnsubscribedEvent,
    SubscribedEvent, SubscribingEvent, SubscriptionEvent, UnsubscribedEvent,
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

    /// A server-side subscription was added (from the connect result or a subscribe push).
    fn on_subscribed(&mut self, event: &ServerSubscribedEvent) {
        let _ = event;
    }

    /// A server-side subscription is being restored after the connection was lost.
    fn on_subscribing(&mut self, event: &ServerSubscribingEvent) {
        let _ = event;
    }

    /// A server-side subscription ended.
    fn on_unsubscribed(&mut self, event: &ServerUnsubscribedEvent) {
        let _ = event;
    }

    /// A publication in a server-side subscription.
    fn on_publication(&mut self, event: &PublicationEvent) {
        let _ = event;
    }

    /// Someone joined a server-side subscription's channel.
    fn on_join(&mut self, event: &JoinEvent) {
        let _ = event;
    }

    /// Someone left a server-side subscription's channel.
    fn on_leave(&mut self, event: &LeaveEvent) {
        let _ = event;
    }
}

/// Receives the events of one subscription. Each method defaults to doing nothing.
///
/// Callbacks run on one of the client's executor lanes (always the same for a subscription),
/// one at a time and in order.
pub trait SubscriptionListener: Send + 'static {
    /// The subscription started subscribing, or is resubscribing.
    fn on_subscribing(&mut self, event: &SubscribingEvent) {
        let _ = event;
    }

    /// The subscription is subscribed; recovered publications follow.
    fn on_subscribed(&mut self, event: &SubscribedEvent) {
        let _ = event;
    }

    /// The subscription is unsubscribed.
    fn on_unsubscribed(&mut self, event: &UnsubscribedEvent) {
        let _ = event;
    }

    /// A publication arrived, in order.
    fn on_publication(&mut self, event: &PublicationEvent) {
        let _ = event;
    }

    /// Someone joined the channel.
    fn on_join(&mut self, event: &JoinEvent) {
        let _ = event;
    }

    /// Someone left the channel.
    fn on_leave(&mut self, event: &LeaveEvent) {
        let _ = event;
    }

    /// Something failed that the subscription handles by itself.
    fn on_error(&mut self, event: &ErrorEvent) {
        let _ = event;
    }
}

/// A closure receives every subscription event as a [`SubscriptionEvent`].
impl<F> SubscriptionListener for F
where
    F: FnMut(SubscriptionEvent) + Send + 'static,
{
    fn on_subscribing(&mut self, event: &SubscribingEvent) {
        self(SubscriptionEvent::Subscribing(event.clone()))
    }

    fn on_subscribed(&mut self, event: &SubscribedEvent) {
        self(SubscriptionEvent::Subscribed(event.clone()))
    }

    fn on_unsubscribed(&mut self, event: &UnsubscribedEvent) {
        self(SubscriptionEvent::Unsubscribed(event.clone()))
    }

    fn on_publication(&mut self, event: &PublicationEvent) {
        self(SubscriptionEvent::Publication(event.clone()))
    }

    fn on_join(&mut self, event: &JoinEvent) {
        self(SubscriptionEvent::Join(event.clone()))
    }

    fn on_leave(&mut self, event: &LeaveEvent) {
        self(SubscriptionEvent::Leave(event.clone()))
    }

    fn on_error(&mut self, event: &ErrorEvent) {
        self(SubscriptionEvent::Error(event.clone()))
    }
}

/// A subscription listener and the receiving end of its (unbounded) event channel.
pub fn subscription_channel() -> (impl SubscriptionListener + Clone, Receiver<SubscriptionEvent>) {
    let (sender, receiver) = crossbeam_channel::unbounded();
    (forward_to(sender), receiver)
}

impl SubscriptionListener for NoopListener {}

/// Calls the subscription listener method that matches `event`.
pub(crate) fn dispatch_subscription(listener: &mut dyn SubscriptionListener, event: &SubscriptionEvent) {
    match event {
        SubscriptionEvent::Subscribing(event) => listener.on_subscribing(event),
        SubscriptionEvent::Subscribed(event) => listener.on_subscribed(event),
        SubscriptionEvent::Unsubscribed(event) => listener.on_unsubscribed(event),
        SubscriptionEvent::Publication(event) => listener.on_publication(event),
        SubscriptionEvent::Join(event) => listener.on_join(event),
        SubscriptionEvent::Leave(event) => listener.on_leave(event),
        SubscriptionEvent::Error(event) => listener.on_error(event),
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

    fn on_subscribed(&mut self, event: &ServerSubscribedEvent) {
        self(ClientEvent::Subscribed(event.clone()))
    }

    fn on_subscribing(&mut self, event: &ServerSubscribingEvent) {
        self(ClientEvent::Subscribing(event.clone()))
    }

    fn on_unsubscribed(&mut self, event: &ServerUnsubscribedEvent) {
        self(ClientEvent::Unsubscribed(event.clone()))
    }

    fn on_publication(&mut self, event: &PublicationEvent) {
        self(ClientEvent::Publication(event.clone()))
    }

    fn on_join(&mut self, event: &JoinEvent) {
        self(ClientEvent::Join(event.clone()))
    }

    fn on_leave(&mut self, event: &LeaveEvent) {
        self(ClientEvent::Leave(event.clone()))
    }
}

/// A listener that ignores every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopListener;

impl ClientListener for NoopListener {}

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
pub fn channel() -> (impl ClientListener + Clone, Receiver<ClientEvent>) {
    let (sender, receiver) = crossbeam_channel::unbounded();
    (forward_to(sender), receiver)
}

/// A closure that sends every event into `sender`, ignoring a receiver that went away (then
/// nobody listens any more, which is not the client's problem).
fn forward_to<E>(sender: Sender<E>) -> impl FnMut(E) + Send + Clone + 'static
where
    E: Send + 'static,
{
    move |event| {
        let _ = sender.send(event);
    }
}

/// Calls the listener method that matches `event`.
pub(crate) fn dispatch(listener: &mut dyn ClientListener, event: &ClientEvent) {
    match event {
        ClientEvent::Connecting(event) => listener.on_connecting(event),
        ClientEvent::Connected(event) => listener.on_connected(event),
        ClientEvent::Disconnected(event) => listener.on_disconnected(event),
        ClientEvent::Error(event) => listener.on_error(event),
        ClientEvent::Message(event) => listener.on_message(event),
        ClientEvent::Subscribed(event) => listener.on_subscribed(event),
        ClientEvent::Subscribing(event) => listener.on_subscribing(event),
        ClientEvent::Unsubscribed(event) => listener.on_unsubscribed(event),
        ClientEvent::Publication(event) => listener.on_publication(event),
        ClientEvent::Join(event) => listener.on_join(event),
        ClientEvent::Leave(event) => listener.on_leave(event),
    }
}
