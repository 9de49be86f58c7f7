//! The public client handle.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::config::{ClientConfig, HistoryOptions, Protocol, SubscriptionConfig};
use crate::core::{CommandIds, Core, CoreConfig, Request, SubSettings};
use crate::error::{Error, Result};
use crate::listener::{ClientListener, SubscriptionListener};
use crate::protocol::{Reply, result_of};
use crate::runtime::{Input, NewSubscription, Parts, Runtime};
use crate::subscription::{Subscription, SubscriptionShared};
use crate::transport::TransportConfig;
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
/// waiting for it; a listener that holds a clone of its own client keeps the handle alive, so
/// call `close` explicitly.
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
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Runtime,
    timeout: Duration,
    protocol: Protocol,
    /// The client-side subscriptions by channel. Holds the subscriptions' shared parts, which
    /// point nowhere back, so there is no reference cycle.
    subscriptions: Mutex<BTreeMap<Arc<str>, Arc<SubscriptionShared>>>,
    next_subscription: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("state", &self.state()).finish_non_exhaustive()
    }
}

impl Client {
    /// Creates a client for `endpoint` (`ws://` or `wss://`, e.g.
    /// `ws://127.0.0.1:8000/connection/websocket`). Nothing connects until
    /// [`connect`](Self::connect).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a malformed endpoint or configuration, saying what is wrong.
    pub fn new(endpoint: &str, config: ClientConfig, listener: impl ClientListener) -> Result<Client> {
        config.validate()?;
        let transport = TransportConfig::new(endpoint, &config)?;
        let ids = Arc::new(CommandIds::default());
        let core = Core::new(
            CoreConfig {
                ids: Arc::clone(&ids),
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
            },
            StdRng::from_rng(&mut rand::rng()),
        );
        let runtime = Runtime::start(Parts {
            core,
            transport,
            listener: Box::new(listener),
            token_getter: config.token_getter.clone(),
            ids,
            lanes: config.executor_lanes,
            event_queue_limit: config.event_queue_limit,
            shutdown_bound: config.connect_timeout.max(config.timeout) + Duration::from_secs(1),
        })?;
        Ok(Client {
            inner: Arc::new(Inner {
                runtime,
                timeout: config.timeout,
                protocol: config.protocol,
                subscriptions: Mutex::new(BTreeMap::new()),
                next_subscription: AtomicU64::new(1),
            }),
        })
    }

    /// Starts connecting; returns at once. Does nothing when already connecting or connected.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn connect(&self) -> Result<()> {
        self.inner.runtime.handles().send(Input::Connect)
    }

    /// Disconnects and stops reconnecting; returns at once. Calls in flight fail with
    /// [`Error::ConnectionLost`]. [`connect`](Self::connect) may follow.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn disconnect(&self) -> Result<()> {
        self.inner.runtime.handles().send(Input::Disconnect)
    }

    /// Disconnects for good and joins every thread the client started. Idempotent; safe from
    /// many threads at once. From inside a listener callback it only starts the shutdown (a
    /// thread cannot join itself) and the threads end when the callback returns. A thread busy
    /// in the operating system's TCP connect or in a token getter is waited for at most
    /// `max(connect_timeout, timeout)` plus a second, then left to end on its own.
    pub fn close(&self) {
        self.inner.runtime.close();
    }

    /// Replaces the connection token used from the next connect on (e.g. `""` after a logout).
    pub fn set_token(&self, token: impl Into<String>) {
        let _ = self.inner.runtime.handles().send(Input::SetToken(token.into()));
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        self.inner.runtime.handles().shared().state()
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
        self.inner.runtime.handles().ready(timeout)
    }

    /// Calls the server-side RPC `method` with `data`; returns the answer's data.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors): [`Error::Server`] carries the code the server or
    /// its RPC proxy chose (e.g. 104 method not found).
    pub fn rpc(&self, method: &str, data: impl Into<Vec<u8>>) -> Result<Vec<u8>> {
        let data = self.payload(data)?;
        let reply = self.call(Request::Rpc { method: method.to_string(), data })?;
        Ok(result_of(reply, "rpc", |reply| reply.rpc.take())?
            .map(|result| Vec::from(result.data))
            .unwrap_or_default())
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
        let data = self.payload(data)?;
        self.call(Request::Send { data }).map(|_| ())
    }

    /// Publishes `data` into `channel` (the client need not be subscribed, if the server
    /// allows it).
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors); e.g. `Server` 103 permission denied. A timed-out publish may still
    /// have happened: do not blindly retry.
    pub fn publish(&self, channel: &str, data: impl Into<Vec<u8>>) -> Result<()> {
        let data = self.payload(data)?;
        let reply = self.call(Request::Publish { channel: channel.to_string(), data })?;
        result_of(reply, "publish", |reply| reply.publish.take()).map(|_| ())
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
        let reply = self.call(Request::History { channel: channel.to_string(), options })?;
        Ok(result_of(reply, "history", |reply| reply.history.take())?
            .map(|history| HistoryResult::from(*history))
            .unwrap_or_default())
    }

    /// The clients subscribed to `channel`.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors); e.g. `Server` 108 when presence is off for the channel.
    pub fn presence(&self, channel: &str) -> Result<PresenceResult> {
        let reply = self.call(Request::Presence { channel: channel.to_string() })?;
        Ok(result_of(reply, "presence", |reply| reply.presence.take())?
            .map(|presence| PresenceResult::from(*presence))
            .unwrap_or_default())
    }

    /// How many clients and users are subscribed to `channel`.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors).
    pub fn presence_stats(&self, channel: &str) -> Result<PresenceStats> {
        let reply = self.call(Request::PresenceStats { channel: channel.to_string() })?;
        Ok(result_of(reply, "presence_stats", |reply| reply.presence_stats.take())?
            .map(PresenceStats::from)
            .unwrap_or_default())
    }

    /// Creates a subscription to `channel`; call [`Subscription::subscribe`] to start it (before
    /// or after `connect`). Events go to `listener` (a [`SubscriptionListener`], a closure over
    /// `SubscriptionEvent`, or [`listener::subscription_channel`](crate::listener::subscription_channel)).
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
        config.validate(self.inner.protocol)?;
        if channel.is_empty() {
            return Err(Error::InvalidConfig("the channel name is empty".into()));
        }
        let mut registry = self.inner.subscriptions.lock();
        if registry.contains_key(channel) {
            return Err(Error::DuplicateSubscription(channel.to_string()));
        }
        let id = self.inner.next_subscription.fetch_add(1, Ordering::Relaxed);
        let channel: Arc<str> = Arc::from(channel);
        let shared = Arc::new(SubscriptionShared::new(id, Arc::clone(&channel)));
        let settings = SubSettings {
            channel: Arc::clone(&channel),
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
        };
        self.inner.runtime.handles().send(Input::AddSubscription(Box::new(NewSubscription {
            id,
            settings,
            token_getter: config.token_getter.clone(),
            state_getter: config.state_getter.clone(),
            listener: Box::new(listener),
            shared: Arc::clone(&shared),
        })))?;
        registry.insert(channel, Arc::clone(&shared));
        Ok(Subscription::new(shared, self.inner.runtime.handles(), self.inner.timeout, self.inner.protocol))
    }

    /// The subscription to `channel`, if the client has one.
    pub fn subscription(&self, channel: &str) -> Option<Subscription> {
        let shared = self.inner.subscriptions.lock().get(channel).cloned()?;
        Some(Subscription::new(shared, self.inner.runtime.handles(), self.inner.timeout, self.inner.protocol))
    }

    /// Every subscription of the client, by channel name.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        let registry = self.inner.subscriptions.lock();
        registry
            .values()
            .map(|shared| {
                Subscription::new(
                    Arc::clone(shared),
                    self.inner.runtime.handles(),
                    self.inner.timeout,
                    self.inner.protocol,
                )
            })
            .collect()
    }

    /// Unsubscribes `subscription` and forgets it; a new subscription to the channel may be
    /// created afterwards. The subscription's listener gets its last events, then is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn remove_subscription(&self, subscription: &Subscription) -> Result<()> {
        let mut registry = self.inner.subscriptions.lock();
        let ours =
            registry.get(subscription.channel()).is_some_and(|shared| shared.id() == subscription.id());
        if ours {
            registry.remove(subscription.channel());
            self.inner.runtime.handles().send(Input::RemoveSubscription(subscription.id()))?;
        }
        Ok(())
    }

    /// The one request path: every call goes through here.
    fn call(&self, request: Request) -> Result<Reply> {
        self.inner.runtime.handles().call(request, self.inner.timeout)
    }

    fn payload(&self, data: impl Into<Vec<u8>>) -> Result<Bytes> {
        payload(self.inner.protocol, data)
    }
}

/// Checks a payload against the wire format: JSON clients can only carry JSON.
pub(crate) fn payload(protocol: Protocol, data: impl Into<Vec<u8>>) -> Result<Bytes> {
    let data = data.into();
    if protocol == Protocol::Json && !data.is_empty() {
        if let Err(err) = serde_json::from_slice::<&serde_json::value::RawValue>(&data) {
            return Err(Error::InvalidInput(format!(
                "payload is not valid JSON ({err}); a JSON client carries JSON payloads only, use Protocol::Protobuf for binary data"
            )));
        }
    }
    Ok(Bytes::from(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Client>();
    }
}
