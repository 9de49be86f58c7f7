//! The public client handle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::config::{ClientConfig, HistoryOptions, Protocol};
use crate::core::{CommandIds, Core, CoreConfig, Request};
use crate::error::{Error, Result};
use crate::listener::ClientListener;
use crate::protocol::Reply;
use crate::runtime::{Input, Parts, Runtime};
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
/// - [`Error::Timeout`]: no answer within `timeout` (including the wait for a connection);
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
            shutdown_bound: config.connect_timeout.max(config.timeout) + Duration::from_secs(1),
        })?;
        Ok(Client { inner: Arc::new(Inner { runtime, timeout: config.timeout, protocol: config.protocol }) })
    }

    /// Starts connecting; returns at once. Does nothing when already connecting or connected.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn connect(&self) -> Result<()> {
        self.inner.runtime.send(Input::Connect)
    }

    /// Disconnects and stops reconnecting; returns at once. Calls in flight fail with
    /// [`Error::ConnectionLost`]. [`connect`](Self::connect) may follow.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn disconnect(&self) -> Result<()> {
        self.inner.runtime.send(Input::Disconnect)
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
        let _ = self.inner.runtime.send(Input::SetToken(token.into()));
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        self.inner.runtime.shared().state()
    }

    /// Blocks until the client is connected, at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`]; [`Error::Disconnected`] when the client is, or becomes,
    /// disconnected; [`Error::Closed`].
    pub fn ready(&self, timeout: Duration) -> Result<()> {
        self.inner.runtime.ready(Instant::now() + timeout)
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
        Ok(reply.rpc.map(|result| Vec::from(result.data)).unwrap_or_default())
    }

    /// Sends an asynchronous message to the server (no reply); returns once it is written.
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
        self.call(Request::Publish { channel: channel.to_string(), data }).map(|_| ())
    }

    /// Reads the history of `channel`.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors); e.g. `Server` 108 when the channel keeps no history.
    pub fn history(&self, channel: &str, options: HistoryOptions) -> Result<HistoryResult> {
        let reply = self.call(Request::History { channel: channel.to_string(), options })?;
        Ok(reply.history.map(|history| HistoryResult::from(*history)).unwrap_or_default())
    }

    /// The clients subscribed to `channel`.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors); e.g. `Server` 108 when presence is off for the channel.
    pub fn presence(&self, channel: &str) -> Result<PresenceResult> {
        let reply = self.call(Request::Presence { channel: channel.to_string() })?;
        Ok(reply.presence.map(|presence| PresenceResult::from(*presence)).unwrap_or_default())
    }

    /// How many clients and users are subscribed to `channel`.
    ///
    /// # Errors
    ///
    /// See [call errors](Client#call-errors).
    pub fn presence_stats(&self, channel: &str) -> Result<PresenceStats> {
        let reply = self.call(Request::PresenceStats { channel: channel.to_string() })?;
        Ok(reply.presence_stats.map(PresenceStats::from).unwrap_or_default())
    }

    /// The one request path: every call goes through here.
    fn call(&self, request: Request) -> Result<Reply> {
        self.inner.runtime.call(request, self.inner.timeout)
    }

    /// Checks a payload against the wire format: JSON clients can only carry JSON.
    fn payload(&self, data: impl Into<Vec<u8>>) -> Result<Bytes> {
        let data = data.into();
        if self.inner.protocol == Protocol::Json && !data.is_empty() {
            if let Err(err) = serde_json::from_slice::<&serde_json::value::RawValue>(&data) {
                return Err(Error::InvalidInput(format!(
                    "payload is not valid JSON ({err}); a JSON client carries JSON payloads only, use Protocol::Protobuf for binary data"
                )));
            }
        }
        Ok(Bytes::from(data))
    }
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
