//! The events a client reports to its listener.
//!
//! State events carry a numeric code and a reason. Codes below 3000 come from the SDK and mean
//! the same in every official Centrifugo SDK (see [`codes`]); codes from 3000 on are the
//! server's disconnect codes, and server error codes (e.g. 101, 103) appear when the server
//! refused the connection.

use bytes::Bytes;

use crate::error::Error;
use crate::protocol::codes::Reason;

/// Codes carried by the state events.
pub mod codes {
    /// `connecting`: [`connect`](crate::Client::connect) was called.
    pub const CONNECT_CALLED: u32 = 0;
    /// `connecting`: the connection broke (network, or a WebSocket close below 3000).
    pub const TRANSPORT_CLOSED: u32 = 1;
    /// `connecting`: the server's pings stopped.
    pub const NO_PING: u32 = 2;
    /// `connecting`: a subscribe command timed out.
    pub const SUBSCRIBE_TIMEOUT: u32 = 3;
    /// `connecting`: an unsubscribe command failed.
    pub const UNSUBSCRIBE_ERROR: u32 = 4;

    /// `disconnected`: [`disconnect`](crate::Client::disconnect) or
    /// [`close`](crate::Client::close) was called.
    pub const DISCONNECT_CALLED: u32 = 0;
    /// `disconnected`: the token getter said the user is not authorized.
    pub const UNAUTHORIZED: u32 = 1;
    /// `disconnected`: the server sent something the client cannot decode.
    pub const BAD_PROTOCOL: u32 = 2;
    /// `disconnected`: the server closed with 1009, message too big.
    pub const MESSAGE_SIZE_LIMIT: u32 = 3;
}

/// The client is connecting: at first, or again after the connection was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectingEvent {
    code: u32,
    reason: String,
}

impl ConnectingEvent {
    pub(crate) fn new(reason: Reason) -> ConnectingEvent {
        ConnectingEvent { code: reason.code, reason: reason.reason }
    }

    /// Why: a [`codes`] value below 3000, or the server's disconnect code.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// Why, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// The client is connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectedEvent {
    client_id: String,
    version: String,
    data: Bytes,
}

impl ConnectedEvent {
    pub(crate) fn new(client_id: String, version: String, data: Bytes) -> ConnectedEvent {
        ConnectedEvent { client_id, version, data }
    }

    /// The id the server gave this connection.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The server's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Data the server attached to the connection (e.g. from a connect proxy); may be empty.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// The client stopped and will not reconnect by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisconnectedEvent {
    code: u32,
    reason: String,
}

impl DisconnectedEvent {
    pub(crate) fn new(reason: Reason) -> DisconnectedEvent {
        DisconnectedEvent { code: reason.code, reason: reason.reason }
    }

    /// Why: a [`codes`] value below 3000, a server disconnect code, or a server error code.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// Why, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Something went wrong that the client handles by itself (it retries or reports a state
/// change too); reported for visibility.
#[derive(Clone, Debug)]
pub struct ErrorEvent {
    error: Error,
}

impl ErrorEvent {
    pub(crate) fn new(error: Error) -> ErrorEvent {
        ErrorEvent { error }
    }

    /// What went wrong.
    pub fn error(&self) -> &Error {
        &self.error
    }
}

/// An asynchronous message the server sent to this connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageEvent {
    data: Bytes,
}

impl MessageEvent {
    pub(crate) fn new(data: Bytes) -> MessageEvent {
        MessageEvent { data }
    }

    /// The payload.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Any client event, for the closure and channel listeners.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// See [`ConnectingEvent`].
    Connecting(ConnectingEvent),
    /// See [`ConnectedEvent`].
    Connected(ConnectedEvent),
    /// See [`DisconnectedEvent`].
    Disconnected(DisconnectedEvent),
    /// See [`ErrorEvent`].
    Error(ErrorEvent),
    /// See [`MessageEvent`].
    Message(MessageEvent),
}
