//! Client configuration.
//!
//! [`ClientConfig::default()`] holds every default (they match the official SDKs, with name
//! `"rust"`); builder-style setters named like the settings change them. Nothing is checked
//! until [`Client::new`](crate::Client::new), which reports every problem as
//! [`Error::InvalidConfig`](crate::Error::InvalidConfig).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::token::TokenGetter;

mod proxy;

pub(crate) use proxy::check_socks5_credentials;
pub use proxy::{HttpProxy, Proxy, Socks5Proxy};

/// The wire format of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// JSON in text frames. Payloads must be JSON, and travel embedded in the messages (never
    /// base64): byte for byte, except that raw line breaks (`\n`) between tokens in payloads
    /// you send become spaces, since the JSON wire format separates messages with them. A
    /// pretty-printed payload so arrives without its line breaks: equal as JSON, not as bytes.
    /// Line breaks inside JSON strings are escaped (`\n`) and are kept.
    #[default]
    Json,
    /// Protobuf in binary frames (WebSocket subprotocol `centrifuge-protobuf`). Payloads are
    /// arbitrary bytes. Faster to decode.
    Protobuf,
}

/// A certificate to trust in addition to the system's roots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RootCertificate {
    Pem(Vec<u8>),
    Der(Vec<u8>),
}

/// Headers the client writes itself on its requests: a second copy from the application would
/// make the request ambiguous (servers may refuse it) or contradict the transport.
const RESERVED_HEADERS: &[&str] = &[
    "Host",
    "Connection",
    "Upgrade",
    "Content-Length",
    "Transfer-Encoding",
    "Content-Type",
    "Accept",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Accept",
];

/// Whether `name: value` can be written as an HTTP header: the name an RFC 9110 token, the
/// value visible ASCII, spaces and tabs (no line break that would end it early).
pub(crate) fn is_valid_header(name: &str, value: &str) -> bool {
    let valid_name = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    valid_name && value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// How a [`Client`](crate::Client) connects and behaves.
#[derive(Clone)]
pub struct ClientConfig {
    pub(crate) token: String,
    pub(crate) token_getter: Option<Arc<dyn TokenGetter>>,
    pub(crate) data: Vec<u8>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) protocol: Protocol,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) min_reconnect_delay: Duration,
    pub(crate) max_reconnect_delay: Duration,
    pub(crate) max_server_ping_delay: Duration,
    pub(crate) max_message_size: usize,
    pub(crate) executor_lanes: usize,
    pub(crate) event_queue_limit: usize,
    pub(crate) root_certificates: Vec<RootCertificate>,
    pub(crate) danger_accept_invalid_certs: bool,
    pub(crate) proxy: Proxy,
    pub(crate) fallback_transports: Vec<crate::transports::TransportEndpoint>,
    pub(crate) sleep_detection: bool,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            token: String::new(),
            token_getter: None,
            data: Vec::new(),
            headers: Vec::new(),
            name: "rust".to_string(),
            version: String::new(),
            protocol: Protocol::Json,
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            min_reconnect_delay: Duration::from_millis(500),
            max_reconnect_delay: Duration::from_secs(20),
            max_server_ping_delay: Duration::from_secs(10),
            max_message_size: 64 << 20,
            executor_lanes: 1,
            event_queue_limit: 16 << 20,
            root_certificates: Vec::new(),
            danger_accept_invalid_certs: false,
            proxy: Proxy::FromEnvironment,
            fallback_transports: Vec::new(),
            sleep_detection: true,
        }
    }
}

impl ClientConfig {
    /// The connection token (JWT). Empty connects anonymously, or asks the
    /// [`token_getter`](Self::token_getter) when one is set. Defaults to empty.
    pub fn token(mut self, token: impl Into<String>) -> ClientConfig {
        self.token = token.into();
        self
    }

    /// Where fresh connection tokens come from: called before connecting when the token is
    /// empty, when the server's token expires (proactively, at the connection's `ttl`), and
    /// after the server answered 109 "token expired". Defaults to none.
    ///
    /// A closure `Fn() -> Result<String, TokenError>` works. It runs on a thread of the
    /// client's own, so it may block (e.g. an HTTP request to your backend); give it a timeout.
    pub fn token_getter(mut self, getter: impl TokenGetter + 'static) -> ClientConfig {
        self.token_getter = Some(Arc::new(getter));
        self
    }

    /// Data sent with every connect command (for a connect proxy). JSON on JSON clients.
    /// Defaults to none.
    pub fn data(mut self, data: impl Into<Vec<u8>>) -> ClientConfig {
        self.data = data.into();
        self
    }

    /// Adds an HTTP header to the WebSocket upgrade request (and to the HTTP-streaming, SSE
    /// and emulation requests). Defaults to none.
    ///
    /// The headers the client writes itself cannot be set here: `Host`, `Connection`,
    /// `Upgrade`, `Content-Length`, `Transfer-Encoding`, `Content-Type`, `Accept` and the
    /// `Sec-WebSocket-*` ones; [`Client::new`](crate::Client::new) refuses them with
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig), as it does a name that is not an
    /// HTTP token or a value with control characters.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ClientConfig {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The client name the server shows in its analytics, at most 16 characters.
    /// Defaults to `"rust"`.
    pub fn name(mut self, name: impl Into<String>) -> ClientConfig {
        self.name = name.into();
        self
    }

    /// The application version, at most 64 characters. Defaults to empty.
    pub fn version(mut self, version: impl Into<String>) -> ClientConfig {
        self.version = version.into();
        self
    }

    /// The wire format. Defaults to [`Protocol::Json`].
    pub fn protocol(mut self, protocol: Protocol) -> ClientConfig {
        self.protocol = protocol;
        self
    }

    /// How long a call waits for its reply, and for the connection when it is made while
    /// connecting. Also bounds the connect command. Defaults to 5 s.
    pub fn timeout(mut self, timeout: Duration) -> ClientConfig {
        self.timeout = timeout;
        self
    }

    /// How long dialing (TCP, proxy, TLS and the WebSocket handshake) may take.
    /// Defaults to 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.connect_timeout = timeout;
        self
    }

    /// The shortest wait before reconnecting. Defaults to 500 ms.
    pub fn min_reconnect_delay(mut self, delay: Duration) -> ClientConfig {
        self.min_reconnect_delay = delay;
        self
    }

    /// The longest wait before reconnecting. Defaults to 20 s.
    pub fn max_reconnect_delay(mut self, delay: Duration) -> ClientConfig {
        self.max_reconnect_delay = delay;
        self
    }

    /// How late a server ping may be (beyond the interval the server announced) before the
    /// client considers the connection dead and reconnects (code 2, "no ping").
    /// Defaults to 10 s.
    pub fn max_server_ping_delay(mut self, delay: Duration) -> ClientConfig {
        self.max_server_ping_delay = delay;
        self
    }

    /// The largest WebSocket message the client accepts, in bytes; a larger one is a protocol
    /// violation. At least 1 KiB. Defaults to 64 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> ClientConfig {
        self.max_message_size = bytes;
        self
    }

    /// How many threads run listener callbacks (1 to 64). Events of one subscription always
    /// run in order on one lane, client events on the first. Defaults to 1.
    pub fn executor_lanes(mut self, lanes: usize) -> ClientConfig {
        self.executor_lanes = lanes;
        self
    }

    /// How many bytes of received data may wait for listener callbacks before the client stops
    /// reading from the server. Counted as they sit in memory, not as they came over the wire:
    /// payloads, plus 512 bytes per event and the size of every decoded message still waiting
    /// for the client's core thread. Defaults to 16 MiB.
    ///
    /// A listener that falls behind (it blocks, or is slower than the stream) so holds the
    /// server back instead of growing memory: the socket's buffers fill, and the server, whose
    /// own queue for this connection then grows, eventually closes the connection (Centrifugo:
    /// 3008 "slow", once its `client.queue_max_size` is reached). The client then reconnects,
    /// and recoverable subscriptions recover what they missed. Calls wait while reading is
    /// paused, except those made from inside a callback: the limit is lifted while one waits,
    /// so it cannot deadlock on its own lane. Memory stays near this limit plus one message of
    /// [`max_message_size`](Self::max_message_size).
    pub fn event_queue_limit(mut self, bytes: usize) -> ClientConfig {
        self.event_queue_limit = bytes;
        self
    }

    /// Whether the client notices the machine's sleep (a laptop's closed lid): while connected,
    /// its core thread compares the wall clock with the monotonic clock every 5 s, and after a
    /// sleep through the server's ping window reconnects at once instead of waiting out the
    /// window (see the README's Networks section). Costs those wake-ups; a service that never
    /// sleeps, with many clients, can turn it off. Defaults to on.
    pub fn sleep_detection(mut self, detect: bool) -> ClientConfig {
        self.sleep_detection = detect;
        self
    }

    /// Trusts a PEM-encoded certificate (for `wss://`), in addition to the system's roots.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> ClientConfig {
        self.root_certificates.push(RootCertificate::Pem(pem.into()));
        self
    }

    /// Trusts a DER-encoded certificate (for `wss://`), in addition to the system's roots.
    pub fn add_root_certificate_der(mut self, der: impl Into<Vec<u8>>) -> ClientConfig {
        self.root_certificates.push(RootCertificate::Der(der.into()));
        self
    }

    /// **Development only.** Accepts any TLS certificate and host name, which makes `wss://`
    /// no safer than `ws://` against an attacker on the path. Use
    /// [`add_root_certificate_pem`](Self::add_root_certificate_pem) for self-signed servers
    /// instead. Defaults to `false`.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> ClientConfig {
        self.danger_accept_invalid_certs = accept;
        self
    }

    /// The transports to try after the endpoint given to `Client::new`, in order, when it cannot
    /// connect (e.g. `wss://…` first, then HTTP-streaming, then SSE where a proxy blocks
    /// WebSocket upgrades). Defaults to none. How the client moves along the list: see
    /// [`Client`](crate::Client#transports).
    pub fn fallback_transports(
        mut self,
        transports: impl IntoIterator<Item = impl Into<crate::transports::TransportEndpoint>>,
    ) -> ClientConfig {
        self.fallback_transports = transports.into_iter().map(Into::into).collect();
        self
    }

    /// How to reach the server: [`Proxy::None`] for a direct connection, an [`HttpProxy`] or a
    /// [`Socks5Proxy`] (each converts into a [`Proxy`]), or [`Proxy::FromEnvironment`] for the
    /// proxy that `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` name at each connection
    /// attempt, as curl reads them (the rules are on [`Proxy`]). The same for every transport.
    /// Defaults to [`Proxy::FromEnvironment`], which is a direct connection when none of those
    /// variables is set.
    pub fn proxy(mut self, proxy: impl Into<Proxy>) -> ClientConfig {
        self.proxy = proxy.into();
        self
    }

    /// Checks every setting; `Client::new` calls it.
    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |why: String| Err(Error::InvalidConfig(why));
        if self.timeout.is_zero() {
            return invalid("timeout must be greater than zero".into());
        }
        if self.connect_timeout.is_zero() {
            return invalid("connect_timeout must be greater than zero".into());
        }
        if self.min_reconnect_delay > self.max_reconnect_delay {
            return invalid(format!(
                "min_reconnect_delay ({:?}) is greater than max_reconnect_delay ({:?})",
                self.min_reconnect_delay, self.max_reconnect_delay
            ));
        }
        if self.name.chars().count() > 16 {
            return invalid(format!(
                "name {:?} is longer than the 16 characters the server accepts",
                self.name
            ));
        }
        if self.version.chars().count() > 64 {
            return invalid("version is longer than the 64 characters the server accepts".into());
        }
        if self.max_message_size < 1024 {
            return invalid(format!(
                "max_message_size of {} bytes is below the 1 KiB minimum",
                self.max_message_size
            ));
        }
        if !(1..=64).contains(&self.executor_lanes) {
            return invalid(format!("executor_lanes must be between 1 and 64, not {}", self.executor_lanes));
        }
        if self.protocol == Protocol::Json
            && !self.data.is_empty()
            && serde_json::from_slice::<&serde_json::value::RawValue>(&self.data).is_err()
        {
            return invalid("connect data must be JSON when the protocol is JSON".into());
        }
        for (name, value) in &self.headers {
            if !is_valid_header(name, value) {
                return invalid(format!("header {name:?} is not a valid HTTP header"));
            }
            if let Some(reserved) =
                RESERVED_HEADERS.iter().find(|reserved| reserved.eq_ignore_ascii_case(name))
            {
                return invalid(format!(
                    "header {name:?} is set by the client itself ({reserved} comes from the endpoint \
                     URL, the protocol or the transport); remove it"
                ));
            }
        }
        if let Err(why) = self.proxy.validate() {
            return invalid(why);
        }
        Ok(())
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are secrets: never print them.
        f.debug_struct("ClientConfig")
            .field("token", &if self.token.is_empty() { "" } else { "<redacted>" })
            .field("token_getter", &self.token_getter.as_ref().map(|_| "<getter>"))
            .field("data_len", &self.data.len())
            .field("headers", &self.headers.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .field("name", &self.name)
            .field("version", &self.version)
            .field("protocol", &self.protocol)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("min_reconnect_delay", &self.min_reconnect_delay)
            .field("max_reconnect_delay", &self.max_reconnect_delay)
            .field("max_server_ping_delay", &self.max_server_ping_delay)
            .field("max_message_size", &self.max_message_size)
            .field("executor_lanes", &self.executor_lanes)
            .field("event_queue_limit", &self.event_queue_limit)
            .field("sleep_detection", &self.sleep_detection)
            .field("root_certificates", &self.root_certificates.len())
            .field("danger_accept_invalid_certs", &self.danger_accept_invalid_certs)
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// What a history call asks for.
///
/// **The default asks for no publications**: `limit` 0 is the protocol's "stream position
/// only" (the result's offset and epoch, with an empty list). Ask for publications with
/// [`limit`](Self::limit), or use [`HistoryOptions::latest`] for the newest ones.
///
/// ```
/// use centrifuge_blocking::HistoryOptions;
///
/// let position_only = HistoryOptions::default();
/// let oldest_ten = HistoryOptions::default().limit(10);
/// let newest_ten = HistoryOptions::latest(10); // newest first
/// let everything = HistoryOptions::default().limit(-1);
/// # let _ = (position_only, oldest_ten, newest_ten, everything);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryOptions {
    pub(crate) limit: i32,
    pub(crate) since: Option<crate::types::StreamPosition>,
    pub(crate) reverse: bool,
}

impl HistoryOptions {
    /// The newest `count` publications, **newest first** (`limit(count).reverse(true)`).
    pub fn latest(count: u32) -> HistoryOptions {
        HistoryOptions::default().limit(i32::try_from(count).unwrap_or(i32::MAX)).reverse(true)
    }

    /// At most `limit` publications; 0 asks only for the stream position, -1 for everything
    /// the server allows. Defaults to 0, so set it to get any publications.
    pub fn limit(mut self, limit: i32) -> HistoryOptions {
        self.limit = limit;
        self
    }

    /// Only publications after this position. Defaults to the start of the stream.
    pub fn since(mut self, position: crate::types::StreamPosition) -> HistoryOptions {
        self.since = Some(position);
        self
    }

    /// Newest first. Defaults to oldest first.
    pub fn reverse(mut self, reverse: bool) -> HistoryOptions {
        self.reverse = reverse;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(config: ClientConfig, needle: &str) {
        match config.validate() {
            Err(Error::InvalidConfig(why)) => assert!(why.contains(needle), "{why:?} lacks {needle:?}"),
            other => panic!("expected InvalidConfig containing {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_official_sdks() {
        let config = ClientConfig::default();
        assert_eq!(config.name, "rust");
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.min_reconnect_delay, Duration::from_millis(500));
        assert_eq!(config.max_reconnect_delay, Duration::from_secs(20));
        assert_eq!(config.max_server_ping_delay, Duration::from_secs(10));
        assert_eq!(config.protocol, Protocol::Json);
        assert_eq!(config.executor_lanes, 1);
        assert_eq!(config.proxy, Proxy::FromEnvironment);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn bad_settings_are_reported_with_what_is_wrong() {
        rejected(ClientConfig::default().timeout(Duration::ZERO), "timeout");
        rejected(ClientConfig::default().connect_timeout(Duration::ZERO), "connect_timeout");
        rejected(ClientConfig::default().min_reconnect_delay(Duration::from_secs(30)), "min_reconnect_delay");
        rejected(ClientConfig::default().name("a-very-long-client-name"), "16 characters");
        rejected(ClientConfig::default().version("v".repeat(65)), "64 characters");
        rejected(ClientConfig::default().max_message_size(10), "1 KiB");
        rejected(ClientConfig::default().executor_lanes(0), "executor_lanes");
        rejected(ClientConfig::default().executor_lanes(65), "executor_lanes");
        rejected(ClientConfig::default().data("not json"), "JSON");
        rejected(ClientConfig::default().header("bad name", "x"), "header");
        rejected(ClientConfig::default().header("X-Ok", "line\nbreak"), "header");
        rejected(ClientConfig::default().header("X(1)", "x"), "not a valid HTTP header");
        for reserved in ["host", "Sec-WebSocket-Protocol", "CONNECTION", "Content-Length"] {
            rejected(ClientConfig::default().header(reserved, "x"), "is set by the client itself");
        }
        assert!(ClientConfig::default().header("X-App_Tenant.v2", "a b\tc").validate().is_ok());
        rejected(ClientConfig::default().proxy(HttpProxy::new("no-port")), "host:port");
        rejected(ClientConfig::default().proxy(Socks5Proxy::new("[::1]")), "host:port");
        rejected(ClientConfig::default().proxy(Socks5Proxy::new("p:1080").credentials("", "x")), "user name");
        // Binary connect data is fine on Protobuf.
        assert!(ClientConfig::default().protocol(Protocol::Protobuf).data(vec![0xff, 0]).validate().is_ok());
    }

    #[test]
    fn debug_output_hides_secrets() {
        for proxy in [
            Proxy::from(HttpProxy::new("proxy:3128").basic_auth("user", "proxy-password")),
            Proxy::from(Socks5Proxy::new("proxy:1080").credentials("user", "proxy-password")),
        ] {
            let config = ClientConfig::default().token("secret-token-value").proxy(proxy);
            let printed = format!("{config:?}");
            assert!(!printed.contains("secret-token-value"), "{printed}");
            assert!(!printed.contains("proxy-password"), "{printed}");
            assert!(printed.contains("<redacted>"));
        }
    }
}

/// How a [`Subscription`](crate::Subscription) subscribes and behaves.
#[derive(Clone)]
pub struct SubscriptionConfig {
    pub(crate) token: String,
    pub(crate) token_getter: Option<Arc<dyn crate::token::SubscriptionTokenGetter>>,
    pub(crate) state_getter: Option<Arc<dyn crate::token::StateGetter>>,
    pub(crate) data: Vec<u8>,
    pub(crate) min_resubscribe_delay: Duration,
    pub(crate) max_resubscribe_delay: Duration,
    pub(crate) positioned: bool,
    pub(crate) recoverable: bool,
    pub(crate) join_leave: bool,
    pub(crate) delta: bool,
    pub(crate) since: Option<crate::types::StreamPosition>,
    pub(crate) tags_filter: Option<TagsFilter>,
}

impl Default for SubscriptionConfig {
    fn default() -> SubscriptionConfig {
        SubscriptionConfig {
            token: String::new(),
            token_getter: None,
            state_getter: None,
            data: Vec::new(),
            min_resubscribe_delay: Duration::from_millis(500),
            max_resubscribe_delay: Duration::from_secs(20),
            positioned: false,
            recoverable: false,
            join_leave: false,
            delta: false,
            since: None,
            tags_filter: None,
        }
    }
}

impl SubscriptionConfig {
    /// The subscription token (JWT), for channels that need one. Defaults to empty.
    pub fn token(mut self, token: impl Into<String>) -> SubscriptionConfig {
        self.token = token.into();
        self
    }

    /// Where fresh subscription tokens come from (see
    /// [`SubscriptionTokenGetter`](crate::SubscriptionTokenGetter)). Defaults to none.
    pub fn token_getter(
        mut self,
        getter: impl crate::token::SubscriptionTokenGetter + 'static,
    ) -> SubscriptionConfig {
        self.token_getter = Some(Arc::new(getter));
        self
    }

    /// Loads the application's state before following the stream (see
    /// [`StateGetter`](crate::StateGetter)); implies recovery. Defaults to none.
    pub fn state_getter(mut self, getter: impl crate::token::StateGetter + 'static) -> SubscriptionConfig {
        self.state_getter = Some(Arc::new(getter));
        self
    }

    /// Data sent with every subscribe command (for a subscribe proxy). JSON on JSON clients.
    /// Defaults to none.
    pub fn data(mut self, data: impl Into<Vec<u8>>) -> SubscriptionConfig {
        self.data = data.into();
        self
    }

    /// The shortest wait before resubscribing after a temporary error. Defaults to 500 ms.
    pub fn min_resubscribe_delay(mut self, delay: Duration) -> SubscriptionConfig {
        self.min_resubscribe_delay = delay;
        self
    }

    /// The longest wait before resubscribing after a temporary error. Defaults to 20 s.
    pub fn max_resubscribe_delay(mut self, delay: Duration) -> SubscriptionConfig {
        self.max_resubscribe_delay = delay;
        self
    }

    /// Asks the server to track the subscription's position in the stream (when the channel
    /// allows it). Defaults to `false`.
    pub fn positioned(mut self, positioned: bool) -> SubscriptionConfig {
        self.positioned = positioned;
        self
    }

    /// Asks the server to recover missed publications after interruptions (when the channel
    /// allows it). Defaults to `false`.
    pub fn recoverable(mut self, recoverable: bool) -> SubscriptionConfig {
        self.recoverable = recoverable;
        self
    }

    /// Asks for join and leave events (when the channel allows it). Defaults to `false`.
    pub fn join_leave(mut self, join_leave: bool) -> SubscriptionConfig {
        self.join_leave = join_leave;
        self
    }

    /// Asks for fossil delta compression (when the channel allows it; the server confirms).
    /// Cannot be combined with a tags filter. Defaults to `false`.
    pub fn delta(mut self, delta: bool) -> SubscriptionConfig {
        self.delta = delta;
        self
    }

    /// Resumes from a position saved earlier (e.g. by a previous process): the first subscribe
    /// already recovers what was published since. Defaults to none.
    pub fn since(mut self, position: crate::types::StreamPosition) -> SubscriptionConfig {
        self.since = Some(position);
        self
    }

    /// Lets the server deliver only publications whose tags match. Defaults to none.
    pub fn tags_filter(mut self, filter: TagsFilter) -> SubscriptionConfig {
        self.tags_filter = Some(filter);
        self
    }

    pub(crate) fn validate(&self, protocol: Protocol) -> Result<()> {
        let invalid = |why: &str| Err(Error::InvalidConfig(why.to_string()));
        if self.min_resubscribe_delay > self.max_resubscribe_delay {
            return invalid("min_resubscribe_delay is greater than max_resubscribe_delay");
        }
        if self.delta && self.tags_filter.is_some() {
            return invalid("delta compression cannot be combined with a tags filter");
        }
        if protocol == Protocol::Json
            && !self.data.is_empty()
            && serde_json::from_slice::<&serde_json::value::RawValue>(&self.data).is_err()
        {
            return invalid("subscription data must be JSON when the protocol is JSON");
        }
        Ok(())
    }
}

impl fmt::Debug for SubscriptionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionConfig")
            .field("token", &if self.token.is_empty() { "" } else { "<redacted>" })
            .field("token_getter", &self.token_getter.as_ref().map(|_| "<getter>"))
            .field("state_getter", &self.state_getter.as_ref().map(|_| "<getter>"))
            .field("data_len", &self.data.len())
            .field("min_resubscribe_delay", &self.min_resubscribe_delay)
            .field("max_resubscribe_delay", &self.max_resubscribe_delay)
            .field("positioned", &self.positioned)
            .field("recoverable", &self.recoverable)
            .field("join_leave", &self.join_leave)
            .field("delta", &self.delta)
            .field("since", &self.since)
            .field("tags_filter", &self.tags_filter)
            .finish()
    }
}

/// A server-side filter on publication tags: only matching publications are delivered.
///
/// ```
/// use centrifuge_blocking::TagsFilter;
/// let filter = TagsFilter::and([TagsFilter::eq("ticker", "BTC"), TagsFilter::gt("price", "100")]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TagsFilter(pub(crate) crate::protocol::FilterNode);

impl TagsFilter {
    fn compare(key: &str, cmp: &str, val: &str) -> TagsFilter {
        TagsFilter(crate::protocol::FilterNode {
            key: key.into(),
            cmp: cmp.into(),
            val: val.into(),
            ..Default::default()
        })
    }

    fn list(key: &str, cmp: &str, values: impl IntoIterator<Item = impl Into<String>>) -> TagsFilter {
        TagsFilter(crate::protocol::FilterNode {
            key: key.into(),
            cmp: cmp.into(),
            vals: values.into_iter().map(Into::into).collect(),
            ..Default::default()
        })
    }

    fn combine(op: &str, filters: impl IntoIterator<Item = TagsFilter>) -> TagsFilter {
        TagsFilter(crate::protocol::FilterNode {
            op: op.into(),
            nodes: filters.into_iter().map(|filter| filter.0).collect(),
            ..Default::default()
        })
    }

    /// Tag `key` equals `value`.
    pub fn eq(key: &str, value: &str) -> TagsFilter {
        TagsFilter::compare(key, "eq", value)
    }

    /// Tag `key` differs from `value`.
    pub fn neq(key: &str, value: &str) -> TagsFilter {
        TagsFilter::compare(key, "neq", value)
    }

    /// Tag `key` is one of `values`.
    pub fn any_of(key: &str, values: impl IntoIterator<Item = impl Into<String>>) -> TagsFilter {
        TagsFilter::list(key, "in", values)
    }

    /// Tag `key` is none of `values`.
    pub fn none_of(key: &str, values: impl IntoIterator<Item = impl Into<String>>) -> TagsFilter {
        TagsFilter::list(key, "nin", values)
    }

    /// Tag `key` is present.
    pub fn exists(key: &str) -> TagsFilter {
        TagsFilter::compare(key, "ex", "")
    }

    /// Tag `key` is absent.
    pub fn missing(key: &str) -> TagsFilter {
        TagsFilter::compare(key, "nex", "")
    }

    /// Tag `key` starts with `prefix`.
    pub fn starts_with(key: &str, prefix: &str) -> TagsFilter {
        TagsFilter::compare(key, "sw", prefix)
    }

    /// Tag `key` ends with `suffix`.
    pub fn ends_with(key: &str, suffix: &str) -> TagsFilter {
        TagsFilter::compare(key, "ew", suffix)
    }

    /// Tag `key` contains `part`.
    pub fn contains(key: &str, part: &str) -> TagsFilter {
        TagsFilter::compare(key, "ct", part)
    }

    /// Tag `key`, as a number, is less than `value`.
    pub fn lt(key: &str, value: &str) -> TagsFilter {
        TagsFilter::compare(key, "lt", value)
    }

    /// Tag `key`, as a number, is at most `value`.
    pub fn lte(key: &str, value: &str) -> TagsFilter {
        TagsFilter::compare(key, "lte", value)
    }

    /// Tag `key`, as a number, is greater than `value`.
    pub fn gt(key: &str, value: &str) -> TagsFilter {
        TagsFilter::compare(key, "gt", value)
    }

    /// Tag `key`, as a number, is at least `value`.
    pub fn gte(key: &str, value: &str) -> TagsFilter {
        TagsFilter::compare(key, "gte", value)
    }

    /// Every filter matches.
    pub fn and(filters: impl IntoIterator<Item = TagsFilter>) -> TagsFilter {
        TagsFilter::combine("and", filters)
    }

    /// At least one filter matches.
    pub fn or(filters: impl IntoIterator<Item = TagsFilter>) -> TagsFilter {
        TagsFilter::combine("or", filters)
    }

    /// The filter does not match.
    pub fn negate(filter: TagsFilter) -> TagsFilter {
        TagsFilter::combine("not", [filter])
    }
}
