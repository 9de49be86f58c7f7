//! The public client handle.
//!
//! Who keeps a client alive. Every handle shares the client's parts ([`ClientParts`]: the
//! runtime port and the subscription registry); handles made by the user also share an
//! [`Owner`], whose drop (with the last of them) tells the runtime to shut down. The handles
//! passed to listener callbacks hold the owner only weakly, so a listener that uses its handle
//! never keeps its own client running; cloning such a handle takes a share of the owner again
//! (while it lives), which makes the clone an ordinary handle.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::config::{ClientConfig, HistoryOptions, SubscriptionConfig};
use crate::error::{Error, Result};
use crate::events::ClientEvent;
use crate::listener::{ClientListener, SubscriptionListener, dispatch};
use crate::protocol::call::{
    Request, history_result, presence_result, presence_stats_result, publish_result, rpc_result,
};
use crate::runtime::{self, EventSink, RuntimePort};
use crate::subscription::{Subscription, SubscriptionSink};
use crate::transports::TransportEndpoint;
use crate::types::{ClientState, HistoryResult, PresenceResult, PresenceStats};

/// A Centrifugo client: one WebSocket connection, kept alive by its own threads.
///
/// `Client` is a cheap handle: clone it and use it from any thread. Methods that talk to the
/// server block the calling thread until the reply arrives or `timeout` passes; many threads may
/// call at once, and their commands share the one connection.
///
/// # Lifecycle
///
/// [`connect`](Self::connect) starts connecting and returns at once; the client then stays
/// connected, reconnecting with backoff whenever the connection drops, until
/// [`disconnect`](Self::disconnect) or a terminal server decision. [`close`](Self::close) stops
/// it for good and joins its threads. Dropping the last handle starts the same shutdown without
/// waiting for it. The `&Client` a listener callback gets does not count: it does not keep the
/// client alive (store a [`WeakClient`] from [`downgrade`](Self::downgrade) to keep a way back
/// to it); a clone of it does, like any other handle.
///
/// # Call errors
///
/// Every call that waits for the server (`rpc`, `publish`, `history`, `presence`,
/// `presence_stats`; `send` waits only for the write) fails with:
/// - [`Error::Server`]: the server answered with an error;
/// - [`Error::Timeout`]: no answer within `timeout` (including the wait for a connection; if
///   the connection did not come up, the [`TimeoutError`](crate::TimeoutError) carries the
///   last connection error);
/// - [`Error::Disconnected`]: at once, when the client is disconnected;
/// - [`Error::ConnectionLost`]: at once, when the connection drops with the call in flight;
/// - [`Error::Closed`]: after `close`;
/// - [`Error::InvalidInput`]: a payload that is not JSON on a JSON client.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use centrifuge_blocking::{Client, ClientConfig, listener::NoopListener};
///
/// let client = Client::new("ws://127.0.0.1:8000/connection/websocket", ClientConfig::default(), NoopListener)?;
/// client.connect()?;
/// client.ready(Duration::from_secs(5))?;
/// let answer = client.rpc("echo", br#"{"hello":"world"}"#)?;
/// println!("{}", String::from_utf8_lossy(&answer));
/// client.close();
/// # Ok::<(), centrifuge_blocking::Error>(())
/// ```
pub struct Client {
    parts: Arc<ClientParts>,
    hold: Hold,
}

/// What every handle of one client shares.
struct ClientParts {
    port: Arc<RuntimePort>,
    /// The client-side subscriptions by channel, as handles without a listener's sink. They
    /// point back to nothing of the client but the port, so there is no reference cycle.
    subscriptions: Mutex<BTreeMap<Arc<str>, Subscription>>,
}

/// Shared by the handles the user holds; dropping the last one shuts the client down.
struct Owner {
    port: Arc<RuntimePort>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        // The last handle is gone: ask the threads to stop, wait for nothing.
        self.port.signal_close();
    }
}

/// How a handle holds the [`Owner`].
enum Hold {
    /// A user's handle: it keeps the client alive.
    Owning(Arc<Owner>),
    /// A listener callback's handle: it does not.
    Borrowed(Weak<Owner>),
}

/// A handle to a client that does not keep it alive; see [`Client::downgrade`].
#[derive(Clone)]
pub struct WeakClient {
    parts: Weak<ClientParts>,
    owner: Weak<Owner>,
}

impl WeakClient {
    /// The client, while some owning handle keeps it alive.
    pub fn upgrade(&self) -> Option<Client> {
        let owner = self.owner.upgrade()?;
        let parts = self.parts.upgrade()?;
        Some(Client { parts, hold: Hold::Owning(owner) })
    }
}

impl std::fmt::Debug for WeakClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakClient").field("alive", &(self.owner.strong_count() > 0)).finish()
    }
}

impl Clone for Client {
    /// Another handle to the same client. A clone keeps the client alive, even when made from
    /// the handle a listener callback got (as long as the client is still alive then).
    fn clone(&self) -> Client {
        let hold = match &self.hold {
            Hold::Owning(owner) => Hold::Owning(Arc::clone(owner)),
            Hold::Borrowed(owner) => match owner.upgrade() {
                Some(owner) => Hold::Owning(owner),
                None => Hold::Borrowed(Weak::clone(owner)),
            },
        };
        Client { parts: Arc::clone(&self.parts), hold }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("state", &self.state()).finish_non_exhaustive()
    }
}

/// The client listener with the handle its callbacks get.
struct ClientSink<L> {
    listener: L,
    client: Client,
}

impl<L: ClientListener> EventSink<ClientEvent> for ClientSink<L> {
    fn deliver(&mut self, event: &ClientEvent) {
        dispatch(&mut self.listener, &self.client, event);
    }
}

impl Client {
    /// Creates a client for `endpoint`: a WebSocket URL (`ws://` or `wss://`, e.g.
    /// `ws://127.0.0.1:8000/connection/websocket`), an HTTP-streaming URL (`http://` or
    /// `https://`), or any [`TransportEndpoint`]. Nothing connects until
    /// [`connect`](Self::connect). Events go to `listener`: a [`ClientListener`], a closure
    /// `|client: &Client, event: ClientEvent|`, or
    /// [`listener::channel`](crate::listener::channel).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a malformed endpoint or configuration, saying what is wrong.
    pub fn new(
        endpoint: impl Into<TransportEndpoint>,
        config: ClientConfig,
        listener: impl ClientListener,
    ) -> Result<Client> {
        let (_, client) = runtime::start(endpoint.into(), &config, |port| {
            let parts =
                Arc::new(ClientParts { port: Arc::clone(port), subscriptions: Mutex::new(BTreeMap::new()) });
            let owner = Arc::new(Owner { port: Arc::clone(port) });
            let borrowed = Client { parts: Arc::clone(&parts), hold: Hold::Borrowed(Arc::downgrade(&owner)) };
            let sink: Box<dyn EventSink<ClientEvent>> = Box::new(ClientSink { listener, client: borrowed });
            (sink, Client { parts, hold: Hold::Owning(owner) })
        })?;
        Ok(client)
    }

    /// A handle that does not keep the client alive, for a listener (or anything else) that
    /// must be able to reach the client without keeping it running.
    pub fn downgrade(&self) -> WeakClient {
        let owner = match &self.hold {
            Hold::Owning(owner) => Arc::downgrade(owner),
            Hold::Borrowed(owner) => Weak::clone(owner),
        };
        WeakClient { parts: Arc::downgrade(&self.parts), owner }
    }

    /// Starts connecting; returns at once. Does nothing when already connecting or connected.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn connect(&self) -> Result<()> {
        self.port().connect()
    }

    /// Disconnects and stops reconnecting; returns at once. Calls in flight fail with
    /// [`Error::ConnectionLost`]. [`connect`](Self::connect) may follow.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn disconnect(&self) -> Result<()> {
        self.port().disconnect()
    }

    /// Disconnects for good and joins every thread the client started. Idempotent; safe from
    /// many threads at once. From inside a listener callback it only starts the shutdown (a
    /// thread cannot join itself): the client's core thread joins that callback's lane once the
    /// callback returns. A thread busy in the operating system's TCP connect or in a token
    /// getter is waited for at most `max(connect_timeout, timeout)` plus a second, then left to
    /// end on its own.
    pub fn close(&self) {
        self.port().close();
    }

    /// Replaces the connection token used from the next connect on (e.g. `""` after a logout).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn set_token(&self, token: impl Into<String>) -> Result<()> {
        self.port().set_token(token.into())
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        self.port().state()
    }

    /// Blocks until the client is connected, at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when not connected in time: its
    /// [`TimeoutError::last_connection_error`](crate::TimeoutError::last_connection_error)
    /// (also in its `Display`) says why the attempts failed so far, e.g. a certificate that did
    /// not verify, a proxy that wants credentials, a refused TCP connection or a failing token
    /// getter; [`Error::Disconnected`] when the client is, or becomes, disconnected;
    /// [`Error::Closed`].
    pub fn ready(&self, timeout: Duration) -> Result<()> {
        self.port().ready(timeout)
    }

    /// Calls the server-side RPC `method` with `data`; returns the answer's data.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors): [`Error::Server`] carries the code the server or
    /// its RPC proxy chose (e.g. 104 method not found).
    pub fn rpc(&self, method: &str, data: impl Into<Vec<u8>>) -> Result<Vec<u8>> {
        rpc_result(self.port().call(Request::Rpc { method: method.to_string(), data: payload(data) })?)
    }

    /// Sends an asynchronous message to the server (no reply); returns once it is written.
    ///
    /// The server must handle asynchronous client messages: a server built on the Centrifuge
    /// Go library with an `OnMessage` handler does. Centrifugo itself (v6) has no handler for
    /// them and closes the connection with code 3508 ("not available"), a terminal disconnect:
    /// the client ends in `disconnected` with that code and does not reconnect. With Centrifugo,
    /// use [`rpc`](Self::rpc) (through its RPC proxy) or [`publish`](Self::publish) instead.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors), except that there is no server answer to wait for.
    pub fn send(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        self.port().call(Request::Send { data: payload(data) }).map(|_| ())
    }

    /// Publishes `data` into `channel` (the client need not be subscribed, if the server
    /// allows it).
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors); e.g. `Server` 103 permission denied. A timed-out publish may still
    /// have happened: do not blindly retry.
    pub fn publish(&self, channel: &str, data: impl Into<Vec<u8>>) -> Result<()> {
        publish_result(
            self.port().call(Request::Publish { channel: channel.to_string(), data: payload(data) })?,
        )
    }

    /// Reads the history of `channel`.
    ///
    /// `HistoryOptions::default()` asks for **no publications**, only the stream position
    /// (offset and epoch): pass `HistoryOptions::default().limit(n)` for the oldest `n`, or
    /// [`HistoryOptions::latest(n)`](HistoryOptions::latest) for the newest `n`, newest first.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors); e.g. `Server` 108 when the channel keeps no history.
    pub fn history(&self, channel: &str, options: HistoryOptions) -> Result<HistoryResult> {
        history_result(self.port().call(Request::History { channel: channel.to_string(), options })?)
    }

    /// The clients subscribed to `channel`.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors); e.g. `Server` 108 when presence is off for the channel.
    pub fn presence(&self, channel: &str) -> Result<PresenceResult> {
        presence_result(self.port().call(Request::Presence { channel: channel.to_string() })?)
    }

    /// How many clients and users are subscribed to `channel`.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors).
    pub fn presence_stats(&self, channel: &str) -> Result<PresenceStats> {
        presence_stats_result(self.port().call(Request::PresenceStats { channel: channel.to_string() })?)
    }

    /// Creates a subscription to `channel`; call [`Subscription::subscribe`] to start it (before
    /// or after `connect`). Events go to `listener`: a [`SubscriptionListener`], a closure
    /// `|subscription: &Subscription, event: SubscriptionEvent|`, or
    /// [`listener::subscription_channel`](crate::listener::subscription_channel).
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateSubscription`] when the client already has a subscription to
    /// `channel` (use [`subscription`](Self::subscription) to get it);
    /// [`Error::InvalidConfig`]; [`Error::Closed`].
    pub fn new_subscription(
        &self,
        channel: &str,
        config: SubscriptionConfig,
        listener: impl SubscriptionListener,
    ) -> Result<Subscription> {
        config.validate(self.port().protocol())?;
        if channel.is_empty() {
            return Err(Error::InvalidConfig("the channel name is empty".into()));
        }
        let mut registry = self.parts.subscriptions.lock();
        if registry.contains_key(channel) {
            return Err(Error::DuplicateSubscription(channel.to_string()));
        }
        let channel: Arc<str> = Arc::from(channel);
        let subscription = self.port().add_subscription(Arc::clone(&channel), &config, |cell| {
            let subscription = Subscription::new(Arc::clone(cell), Arc::clone(self.port()));
            let sink = SubscriptionSink::new(listener, subscription.clone());
            (Box::new(sink) as Box<dyn EventSink<_>>, subscription)
        })?;
        registry.insert(channel, subscription.clone());
        Ok(subscription)
    }

    /// The subscription to `channel`, if the client has one.
    pub fn subscription(&self, channel: &str) -> Option<Subscription> {
        self.parts.subscriptions.lock().get(channel).cloned()
    }

    /// Every subscription of the client, by channel name.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.parts.subscriptions.lock().values().cloned().collect()
    }

    /// Unsubscribes `subscription` and forgets it; a new subscription to the channel may be
    /// created afterwards. The subscription's listener gets its last events, then is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn remove_subscription(&self, subscription: &Subscription) -> Result<()> {
        let mut registry = self.parts.subscriptions.lock();
        let ours = registry.get(subscription.channel()).is_some_and(|known| known.same_as(subscription));
        if ours {
            registry.remove(subscription.channel());
            subscription.remove_from(self.port())?;
        }
        Ok(())
    }

    fn port(&self) -> &Arc<RuntimePort> {
        &self.parts.port
    }
}

/// A payload as the wire model holds it; the encoding of its call checks it (see
/// `protocol::call`).
pub(crate) fn payload(data: impl Into<Vec<u8>>) -> Bytes {
    Bytes::from(data.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Client>();
        check::<WeakClient>();
        check::<crate::Subscription>();
    }
}
