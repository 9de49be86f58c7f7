//! How an application hears about client events.
//!
//! Three ways, all equivalent:
//! - implement [`ClientListener`] (every method has a no-op default);
//! - pass a closure `FnMut(&Client, ClientEvent)`;
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
//! As in centrifuge-java (`onPublication(Subscription sub, PublicationEvent event)`), every
//! callback receives the handle it belongs to: [`ClientListener`] methods and client closures
//! get the [`Client`], [`SubscriptionListener`] methods and subscription closures the
//! [`Subscription`]. These handles do **not** keep the client alive: dropping your own last
//! `Client` still shuts it down, whatever the listeners did with theirs. A clone of a handed-in
//! `Client` does keep it alive (it is a handle like any other), so a listener that wants to
//! hold on to its client stores a [`WeakClient`](crate::WeakClient) from
//! [`Client::downgrade`] instead.
//!
//! Callbacks run on the client's executor lane, one at a time and in order, never on the
//! caller's thread. They may call the client (`rpc`, `publish`, even `close`): replies do not
//! go through the lane, so such calls complete instead of deadlocking, though they hold up the
//! events queued behind them. A callback that panics is reported through `on_error` and the
//! client carries on.

use crossbeam_channel::{Receiver, Sender};

use crate::client::Client;
use crate::events::{
    ClientEvent, ConnectedEvent, ConnectingEvent, DisconnectedEvent, ErrorEvent, JoinEvent, LeaveEvent,
    MessageEvent, PublicationEvent, ServerSubscribedEvent, ServerSubscribingEvent, ServerUnsubscribedEvent,
    SubscribedEvent, SubscribingEvent, SubscriptionEvent, UnsubscribedEvent,
};
use crate::subscription::Subscription;

/// Receives client events. Each method gets the client it belongs to and defaults to doing
/// nothing.
///
/// ```no_run
/// use centrifuge_blocking::{Client, ClientConfig, ClientListener, ConnectedEvent};
///
/// struct Greeter;
///
/// impl ClientListener for Greeter {
///     fn on_connected(&mut self, client: &Client, event: &ConnectedEvent) {
///         println!("connected as {}", event.client_id());
///         // Calls from a callback work; they do not wait for the callback's own lane.
///         let _ = client.publish("lobby", r#"{"hello":true}"#);
///     }
/// }
///
/// let client = Client::new("ws://127.0.0.1:8000/connection/websocket", ClientConfig::default(), Greeter)?;
/// client.connect()?;
/// # Ok::<(), centrifuge_blocking::Error>(())
/// ```
pub trait ClientListener: Send + 'static {
    /// The client started connecting, or lost its connection and is reconnecting.
    fn on_connecting(&mut self, client: &Client, event: &ConnectingEvent) {
        let _ = (client, event);
    }

    /// The client is connected.
    fn on_connected(&mut self, client: &Client, event: &ConnectedEvent) {
        let _ = (client, event);
    }

    /// The client stopped and will not reconnect by itself.
    fn on_disconnected(&mut self, client: &Client, event: &DisconnectedEvent) {
        let _ = (client, event);
    }

    /// Something failed that the client handles by itself; for logging and diagnostics.
    fn on_error(&mut self, client: &Client, event: &ErrorEvent) {
        let _ = (client, event);
    }

    /// The server sent an asynchronous message.
    fn on_message(&mut self, client: &Client, event: &MessageEvent) {
        let _ = (client, event);
    }

    /// A server-side subscription was added (from the connect result or a subscribe push).
    fn on_subscribed(&mut self, client: &Client, event: &ServerSubscribedEvent) {
        let _ = (client, event);
    }

    /// A server-side subscription is being restored after the connection was lost.
    fn on_subscribing(&mut self, client: &Client, event: &ServerSubscribingEvent) {
        let _ = (client, event);
    }

    /// A server-side subscription ended.
    fn on_unsubscribed(&mut self, client: &Client, event: &ServerUnsubscribedEvent) {
        let _ = (client, event);
    }

    /// A publication in a server-side subscription.
    fn on_publication(&mut self, client: &Client, event: &PublicationEvent) {
        let _ = (client, event);
    }

    /// Someone joined a server-side subscription's channel.
    fn on_join(&mut self, client: &Client, event: &JoinEvent) {
        let _ = (client, event);
    }

    /// Someone left a server-side subscription's channel.
    fn on_leave(&mut self, client: &Client, event: &LeaveEvent) {
        let _ = (client, event);
    }
}

/// Receives the events of one subscription. Each method gets the subscription it belongs to
/// and defaults to doing nothing.
///
/// Callbacks run on one of the client's executor lanes (always the same for a subscription),
/// one at a time and in order.
pub trait SubscriptionListener: Send + 'static {
    /// The subscription started subscribing, or is resubscribing.
    fn on_subscribing(&mut self, subscription: &Subscription, event: &SubscribingEvent) {
        let _ = (subscription, event);
    }

    /// The subscription is subscribed; recovered publications follow.
    fn on_subscribed(&mut self, subscription: &Subscription, event: &SubscribedEvent) {
        let _ = (subscription, event);
    }

    /// The subscription is unsubscribed.
    fn on_unsubscribed(&mut self, subscription: &Subscription, event: &UnsubscribedEvent) {
        let _ = (subscription, event);
    }

    /// A publication in the channel (recovered ones included, in order).
    fn on_publication(&mut self, subscription: &Subscription, event: &PublicationEvent) {
        let _ = (subscription, event);
    }

    /// Someone subscribed to the channel (with join/leave enabled).
    fn on_join(&mut self, subscription: &Subscription, event: &JoinEvent) {
        let _ = (subscription, event);
    }

    /// Someone unsubscribed from the channel (with join/leave enabled).
    fn on_leave(&mut self, subscription: &Subscription, event: &LeaveEvent) {
        let _ = (subscription, event);
    }

    /// Something failed that the subscription handles by itself (e.g. a resubscribe error).
    fn on_error(&mut self, subscription: &Subscription, event: &ErrorEvent) {
        let _ = (subscription, event);
    }
}

/// A closure receives every subscription event, with its subscription, as a
/// [`SubscriptionEvent`]: `|subscription: &Subscription, event: SubscriptionEvent| …`.
impl<F> SubscriptionListener for F
where
    F: FnMut(&Subscription, SubscriptionEvent) + Send + 'static,
{
    fn on_subscribing(&mut self, subscription: &Subscription, event: &SubscribingEvent) {
        self(subscription, SubscriptionEvent::Subscribing(event.clone()))
    }

    fn on_subscribed(&mut self, subscription: &Subscription, event: &SubscribedEvent) {
        self(subscription, SubscriptionEvent::Subscribed(event.clone()))
    }

    fn on_unsubscribed(&mut self, subscription: &Subscription, event: &UnsubscribedEvent) {
        self(subscription, SubscriptionEvent::Unsubscribed(event.clone()))
    }

    fn on_publication(&mut self, subscription: &Subscription, event: &PublicationEvent) {
        self(subscription, SubscriptionEvent::Publication(event.clone()))
    }

    fn on_join(&mut self, subscription: &Subscription, event: &JoinEvent) {
        self(subscription, SubscriptionEvent::Join(event.clone()))
    }

    fn on_leave(&mut self, subscription: &Subscription, event: &LeaveEvent) {
        self(subscription, SubscriptionEvent::Leave(event.clone()))
    }

    fn on_error(&mut self, subscription: &Subscription, event: &ErrorEvent) {
        self(subscription, SubscriptionEvent::Error(event.clone()))
    }
}

/// A subscription listener and the receiving end of its (unbounded) event channel.
pub fn subscription_channel() -> (impl SubscriptionListener + Clone, Receiver<SubscriptionEvent>) {
    let (sender, receiver) = crossbeam_channel::unbounded();
    (move |_: &Subscription, event: SubscriptionEvent| forward(&sender, event), receiver)
}

impl SubscriptionListener for NoopListener {}

/// Calls the subscription listener method that matches `event`.
pub(crate) fn dispatch_subscription(
    listener: &mut dyn SubscriptionListener,
    subscription: &Subscription,
    event: &SubscriptionEvent,
) {
    match event {
        SubscriptionEvent::Subscribing(event) => listener.on_subscribing(subscription, event),
        SubscriptionEvent::Subscribed(event) => listener.on_subscribed(subscription, event),
        SubscriptionEvent::Unsubscribed(event) => listener.on_unsubscribed(subscription, event),
        SubscriptionEvent::Publication(event) => listener.on_publication(subscription, event),
        SubscriptionEvent::Join(event) => listener.on_join(subscription, event),
        SubscriptionEvent::Leave(event) => listener.on_leave(subscription, event),
        SubscriptionEvent::Error(event) => listener.on_error(subscription, event),
    }
}

/// A closure receives every event, with its client, as a [`ClientEvent`]:
/// `|client: &Client, event: ClientEvent| …`.
impl<F> ClientListener for F
where
    F: FnMut(&Client, ClientEvent) + Send + 'static,
{
    fn on_connecting(&mut self, client: &Client, event: &ConnectingEvent) {
        self(client, ClientEvent::Connecting(event.clone()))
    }

    fn on_connected(&mut self, client: &Client, event: &ConnectedEvent) {
        self(client, ClientEvent::Connected(event.clone()))
    }

    fn on_disconnected(&mut self, client: &Client, event: &DisconnectedEvent) {
        self(client, ClientEvent::Disconnected(event.clone()))
    }

    fn on_error(&mut self, client: &Client, event: &ErrorEvent) {
        self(client, ClientEvent::Error(event.clone()))
    }

    fn on_message(&mut self, client: &Client, event: &MessageEvent) {
        self(client, ClientEvent::Message(event.clone()))
    }

    fn on_subscribed(&mut self, client: &Client, event: &ServerSubscribedEvent) {
        self(client, ClientEvent::Subscribed(event.clone()))
    }

    fn on_subscribing(&mut self, client: &Client, event: &ServerSubscribingEvent) {
        self(client, ClientEvent::Subscribing(event.clone()))
    }

    fn on_unsubscribed(&mut self, client: &Client, event: &ServerUnsubscribedEvent) {
        self(client, ClientEvent::Unsubscribed(event.clone()))
    }

    fn on_publication(&mut self, client: &Client, event: &PublicationEvent) {
        self(client, ClientEvent::Publication(event.clone()))
    }

    fn on_join(&mut self, client: &Client, event: &JoinEvent) {
        self(client, ClientEvent::Join(event.clone()))
    }

    fn on_leave(&mut self, client: &Client, event: &LeaveEvent) {
        self(client, ClientEvent::Leave(event.clone()))
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
    (move |_: &Client, event: ClientEvent| forward(&sender, event), receiver)
}

/// Sends an event on, ignoring a receiver that went away (then nobody listens any more, which
/// is not the client's problem).
fn forward<E>(sender: &Sender<E>, event: E) {
    let _ = sender.send(event);
}

/// Calls the listener method that matches `event`.
pub(crate) fn dispatch(listener: &mut dyn ClientListener, client: &Client, event: &ClientEvent) {
    match event {
        ClientEvent::Connecting(event) => listener.on_connecting(client, event),
        ClientEvent::Connected(event) => listener.on_connected(client, event),
        ClientEvent::Disconnected(event) => listener.on_disconnected(client, event),
        ClientEvent::Error(event) => listener.on_error(client, event),
        ClientEvent::Message(event) => listener.on_message(client, event),
        ClientEvent::Subscribed(event) => listener.on_subscribed(client, event),
        ClientEvent::Subscribing(event) => listener.on_subscribing(client, event),
        ClientEvent::Unsubscribed(event) => listener.on_unsubscribed(client, event),
        ClientEvent::Publication(event) => listener.on_publication(client, event),
        ClientEvent::Join(event) => listener.on_join(client, event),
        ClientEvent::Leave(event) => listener.on_leave(client, event),
    }
}
