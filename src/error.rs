//! The one error type of the crate.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Everything that can go wrong in this crate.
///
/// Calls return it, and the `error` events of the listeners carry it. Match on the variant to
/// decide what to do; every variant says whether retrying can help.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error. Retrying helps only when
    /// [`ServerError::temporary`] is set (or the code says so, e.g. 111 too many requests).
    Server(ServerError),
    /// No reply arrived within the configured timeout, or the connection did not come up in
    /// time for the call or for [`ready`](crate::Client::ready). In the second case the
    /// [`TimeoutError`] carries the last connection error the client saw (a refused TLS
    /// certificate, a proxy's 407, a failing token getter…). The server may still have carried
    /// a timed-out command out: publish is not idempotent, so do not blindly retry it.
    Timeout(TimeoutError),
    /// The client is disconnected: [`connect`](crate::Client::connect) was never called,
    /// [`disconnect`](crate::Client::disconnect) was, or the server refused the connection for
    /// good. Calls fail at once in this state; connect first.
    Disconnected,
    /// The connection was lost while the call was in flight. The client reconnects by itself
    /// (unless the loss was terminal); whether the server carried the command out is unknown.
    ConnectionLost,
    /// The client was closed; it cannot be used any more. Create a new one.
    Closed,
    /// A subscription already exists for this channel; use the existing one.
    DuplicateSubscription(String),
    /// The subscription is unsubscribed; subscribe first.
    Unsubscribed,
    /// Connecting failed below the protocol: DNS, TCP, proxy, TLS or the WebSocket handshake, or
    /// the socket broke. The client retries by itself with backoff.
    Transport(TransportError),
    /// The server sent something this client cannot decode. The connection is closed as a
    /// protocol violation.
    Protocol(String),
    /// A value handed to the SDK is unusable, e.g. a payload that is not JSON on a JSON client.
    /// Fix the input; retrying will not help.
    InvalidInput(String),
    /// The configuration is invalid (reported by [`Client::new`](crate::Client::new)), or a
    /// feature needs something that was not configured (e.g. a token getter to refresh an
    /// expired token).
    InvalidConfig(String),
    /// The token getter failed. `Unauthorized` outcomes are not reported this way: they stop
    /// the client with a `disconnected` event (code 1).
    Token(String),
    /// A subscription's state getter failed; the subscription retries with backoff.
    StateGetter(String),
    /// A listener callback panicked; the panic was caught and the client keeps working.
    CallbackPanicked(String),
}

/// An error reply from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    /// The error code: 100–399 are Centrifugo's (e.g. 103 permission denied), 400–1999 are the
    /// application's (e.g. from an RPC proxy).
    pub code: u32,
    /// The server's message.
    pub message: String,
    /// Set when the server says that retrying later may succeed.
    pub temporary: bool,
}

/// What ran out of time, after how long, and what the client knew about why.
///
/// ```
/// # fn check(error: centrifuge_blocking::Error) {
/// if let centrifuge_blocking::Error::Timeout(timeout) = &error {
///     if let Some(cause) = timeout.last_connection_error() {
///         eprintln!("not connected after {:?}: {cause}", timeout.waited());
///     }
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TimeoutError {
    waited: Duration,
    what: Waited,
}

/// What a [`TimeoutError`] waited for.
#[derive(Clone, Debug)]
enum Waited {
    /// The server's reply to a command sent on a live connection.
    Reply,
    /// The reply to the connect command of a connection that was open.
    ConnectReply,
    /// A connection, which had not come up; with the last error of the attempts meanwhile.
    Connection(Option<Arc<Error>>),
    /// A subscription to become subscribed, on a live connection.
    Subscription,
}

impl TimeoutError {
    /// No reply to a command within `waited`.
    pub(crate) fn reply(waited: Duration) -> TimeoutError {
        TimeoutError { waited, what: Waited::Reply }
    }

    /// No reply to the connect command within `waited`.
    pub(crate) fn connect_reply(waited: Duration) -> TimeoutError {
        TimeoutError { waited, what: Waited::ConnectReply }
    }

    /// A call on a subscription waited `waited` for it to become subscribed, while connected.
    pub(crate) fn subscription(waited: Duration) -> TimeoutError {
        TimeoutError { waited, what: Waited::Subscription }
    }

    /// Not connected after `waited`; `last_error` is what the last failed attempt reported.
    pub(crate) fn connection(waited: Duration, last_error: Option<Arc<Error>>) -> TimeoutError {
        TimeoutError { waited, what: Waited::Connection(last_error) }
    }

    /// How long the call or wait lasted before it gave up.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Whether the time ran out while the client was not connected (then the command was never
    /// sent, and [`last_connection_error`](Self::last_connection_error) may say why).
    pub fn while_not_connected(&self) -> bool {
        matches!(self.what, Waited::Connection(_))
    }

    /// The error of the last failed connection attempt before the time ran out, when the client
    /// was not connected and had seen one (e.g. a transport error saying that the certificate
    /// did not verify).
    pub fn last_connection_error(&self) -> Option<&Error> {
        match &self.what {
            Waited::Connection(last_error) => last_error.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waited = humantime(self.waited);
        match &self.what {
            Waited::Reply => write!(f, "no reply from the server within {waited}"),
            Waited::ConnectReply => write!(f, "no reply to the connect command within {waited}"),
            Waited::Connection(Some(last_error)) => {
                write!(f, "not connected after {waited}; last attempt: {last_error}")
            }
            Waited::Connection(None) => {
                write!(f, "not connected after {waited}; no attempt had failed yet")
            }
            Waited::Subscription => write!(f, "the subscription was not subscribed after {waited}"),
        }
    }
}

impl std::error::Error for TimeoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.last_connection_error().map(|error| error as &(dyn std::error::Error + 'static))
    }
}

/// `5 s`, `1.5 s` or `250 ms`: how durations read in messages.
pub(crate) fn humantime(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{} s", duration.as_secs_f64())
    }
}

/// A failure below the Centrifugo protocol. The wrapped text is for people, not for matching.
#[derive(Clone, Debug)]
pub struct TransportError {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    pub(crate) fn new(message: impl Into<String>) -> TransportError {
        TransportError { message: message.into(), source: None }
    }

    pub(crate) fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> TransportError {
        TransportError { message: message.into(), source: Some(Arc::new(source)) }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server error {}: {}", self.code, self.message)?;
        if self.temporary {
            f.write_str(" (temporary)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Server(error) => error.fmt(f),
            Error::Timeout(timeout) => write!(f, "timed out: {timeout}"),
            Error::Disconnected => f.write_str("client is disconnected; call connect() first"),
            Error::ConnectionLost => f.write_str("connection lost before the reply arrived"),
            Error::Closed => f.write_str("client is closed"),
            Error::DuplicateSubscription(channel) => {
                write!(f, "a subscription to {channel:?} already exists")
            }
            Error::Unsubscribed => f.write_str("subscription is unsubscribed; call subscribe() first"),
            Error::Transport(error) => write!(f, "transport error: {error}"),
            Error::Protocol(what) => write!(f, "protocol violation by the server: {what}"),
            Error::InvalidInput(what) => write!(f, "invalid input: {what}"),
            Error::InvalidConfig(what) => write!(f, "invalid configuration: {what}"),
            Error::Token(what) => write!(f, "token getter failed: {what}"),
            Error::StateGetter(what) => write!(f, "state getter failed: {what}"),
            Error::CallbackPanicked(what) => write!(f, "a listener callback panicked: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Server(error) => Some(error),
            Error::Transport(error) => Some(error),
            Error::Timeout(timeout) => Some(timeout),
            _ => None,
        }
    }
}

impl From<ServerError> for Error {
    fn from(error: ServerError) -> Error {
        Error::Server(error)
    }
}

impl From<TimeoutError> for Error {
    fn from(error: TimeoutError) -> Error {
        Error::Timeout(error)
    }
}

impl From<TransportError> for Error {
    fn from(error: TransportError) -> Error {
        Error::Transport(error)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_stays_small() {
        assert!(std::mem::size_of::<Error>() <= 56, "Error is {} bytes", std::mem::size_of::<Error>());
    }

    #[test]
    fn errors_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }

    #[test]
    fn server_errors_read_well() {
        let error = Error::Server(ServerError {
            code: 100,
            message: "internal server error".into(),
            temporary: true,
        });
        assert_eq!(error.to_string(), "server error 100: internal server error (temporary)");
    }

    #[test]
    fn a_timeout_says_what_it_waited_for_and_why() {
        let reply = Error::Timeout(TimeoutError::reply(Duration::from_secs(5)));
        assert_eq!(reply.to_string(), "timed out: no reply from the server within 5 s");

        let cause = Error::Transport(TransportError::new(
            "TLS handshake with localhost failed: certificate verify failed",
        ));
        let connection =
            Error::Timeout(TimeoutError::connection(Duration::from_millis(1500), Some(Arc::new(cause))));
        assert_eq!(
            connection.to_string(),
            "timed out: not connected after 1.5 s; last attempt: transport error: TLS handshake with localhost failed: certificate verify failed"
        );
        let Error::Timeout(timeout) = &connection else { unreachable!() };
        assert!(timeout.while_not_connected());
        assert!(matches!(timeout.last_connection_error(), Some(Error::Transport(_))));
        let source = std::error::Error::source(timeout).expect("the cause is the source");
        assert!(source.to_string().contains("certificate verify failed"));

        let early = TimeoutError::connection(Duration::from_millis(250), None);
        assert_eq!(early.to_string(), "not connected after 250 ms; no attempt had failed yet");
        assert!(early.last_connection_error().is_none());
    }
}
