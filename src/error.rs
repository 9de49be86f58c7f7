//! The one error type of the crate.

use std::fmt;
use std::sync::Arc;

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
    /// No reply arrived within the configured timeout (or the connection did not come up in
    /// time for the call). The server may still have carried the command out: publish is not
    /// idempotent, so do not blindly retry it.
    Timeout,
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
    /// The operation would wait for the very callback thread it was called from.
    CalledFromCallback,
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
            Error::Timeout => f.write_str("timed out waiting for the server"),
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
            Error::CalledFromCallback => f.write_str(
                "this call would wait for the callback it was made from; make it from another thread",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Server(error) => Some(error),
            Error::Transport(error) => Some(error),
            _ => None,
        }
    }
}

impl From<ServerError> for Error {
    fn from(error: ServerError) -> Error {
        Error::Server(error)
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
}
