//! The codes the SDK itself puts in state events, one enum per event kind.
//!
//! The numbers and reasons are those of every official Centrifugo SDK (centrifuge-js, -go,
//! -java, -dart, -swift, -python), so logs and dashboards read the same whichever client
//! wrote them. An event carries one of these when the client decided, or a number from the
//! server when the server did: a disconnect code (3000 and up), a reply error code (such as
//! 101 or 103), or an unsubscribe code (2000 and up). Compare an event's code with these
//! through [`code`](ConnectingCode::code):
//!
//! ```
//! use centrifuge_blocking::ClientEvent;
//! use centrifuge_blocking::codes::ConnectingCode;
//!
//! fn on_event(event: ClientEvent) {
//!     if let ClientEvent::Connecting(event) = event {
//!         if event.code() != ConnectingCode::ConnectCalled.code() {
//!             println!("reconnecting: {}", event.reason());
//!         }
//!     }
//! }
//! ```

/// Why the client is connecting, when the client decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectingCode {
    /// [`Client::connect`](crate::Client::connect) was called. Code 0.
    ConnectCalled,
    /// The connection broke: a network error, a failed write, or a WebSocket close below 3000
    /// (other than 1009). The client reconnects. Code 1.
    TransportClosed,
    /// The server's pings stopped for longer than its ping interval plus
    /// [`max_server_ping_delay`](crate::ClientConfig::max_server_ping_delay). Code 2.
    NoPing,
    /// A subscribe command got no reply in time; the server may have subscribed, so the whole
    /// client reconnects. Code 3.
    SubscribeTimeout,
    /// An unsubscribe command failed or got no reply in time; the server may still hold the
    /// subscription, so the whole client reconnects. Code 4.
    UnsubscribeError,
}

impl ConnectingCode {
    /// The number, as in the official SDKs.
    pub const fn code(self) -> u32 {
        match self {
            ConnectingCode::ConnectCalled => 0,
            ConnectingCode::TransportClosed => 1,
            ConnectingCode::NoPing => 2,
            ConnectingCode::SubscribeTimeout => 3,
            ConnectingCode::UnsubscribeError => 4,
        }
    }

    /// The reason the event carries with it.
    pub const fn reason(self) -> &'static str {
        match self {
            ConnectingCode::ConnectCalled => "connect called",
            ConnectingCode::TransportClosed => "transport closed",
            ConnectingCode::NoPing => "no ping",
            ConnectingCode::SubscribeTimeout => "subscribe timeout",
            ConnectingCode::UnsubscribeError => "unsubscribe error",
        }
    }
}

/// Why the client stopped, when the client decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectedCode {
    /// [`Client::disconnect`](crate::Client::disconnect) was called. Code 0.
    DisconnectCalled,
    /// The token getter said the user is not authorized (or gave an empty token for a
    /// refresh), or the server asked for a fresh token and there is no getter. Code 1.
    Unauthorized,
    /// The server sent something the client cannot decode, or a reply of the wrong kind.
    /// Code 2.
    BadProtocol,
    /// The server closed the connection with 1009, message too big: it would again, so the
    /// client does not reconnect. Code 3.
    MessageSizeLimit,
    /// [`Client::close`](crate::Client::close) was called. Code 0, like
    /// [`DisconnectCalled`](Self::DisconnectCalled) (the client was asked to stop), with
    /// its own reason, as in centrifuge-java.
    ClientClosed,
}

impl DisconnectedCode {
    /// The number, as in the official SDKs.
    pub const fn code(self) -> u32 {
        match self {
            DisconnectedCode::DisconnectCalled | DisconnectedCode::ClientClosed => 0,
            DisconnectedCode::Unauthorized => 1,
            DisconnectedCode::BadProtocol => 2,
            DisconnectedCode::MessageSizeLimit => 3,
        }
    }

    /// The reason the event carries with it.
    pub const fn reason(self) -> &'static str {
        match self {
            DisconnectedCode::DisconnectCalled => "disconnect called",
            DisconnectedCode::Unauthorized => "unauthorized",
            DisconnectedCode::BadProtocol => "bad protocol",
            DisconnectedCode::MessageSizeLimit => "message size limit exceeded",
            DisconnectedCode::ClientClosed => "client closed",
        }
    }
}

/// Why a subscription is subscribing, when the client decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubscribingCode {
    /// [`Subscription::subscribe`](crate::Subscription::subscribe) was called. Code 0.
    SubscribeCalled,
    /// The connection was lost while subscribed; the subscription resubscribes once the client
    /// has reconnected. Code 1.
    TransportClosed,
    /// The client found its stream broken (a delta that does not apply, publications missing,
    /// a new epoch) and subscribes again from its last good position, so that what was lost is
    /// recovered or reported as not recovered. Code 2500, the code the server uses when it
    /// finds the same.
    InsufficientState,
}

impl SubscribingCode {
    /// The number, as in the official SDKs (and the server, for 2500).
    pub const fn code(self) -> u32 {
        match self {
            SubscribingCode::SubscribeCalled => 0,
            SubscribingCode::TransportClosed => 1,
            SubscribingCode::InsufficientState => 2500,
        }
    }

    /// The reason the event carries with it.
    pub const fn reason(self) -> &'static str {
        match self {
            SubscribingCode::SubscribeCalled => "subscribe called",
            SubscribingCode::TransportClosed => "transport closed",
            SubscribingCode::InsufficientState => "insufficient state",
        }
    }
}

/// Why a subscription is unsubscribed, when the client decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnsubscribedCode {
    /// [`Subscription::unsubscribe`](crate::Subscription::unsubscribe) was called (or
    /// [`Client::remove_subscription`](crate::Client::remove_subscription)). Code 0.
    UnsubscribeCalled,
    /// The subscription token getter said the user may not subscribe, or gave an empty token.
    /// Code 1.
    Unauthorized,
    /// The client was closed. Code 2.
    ClientClosed,
}

impl UnsubscribedCode {
    /// The number, as in the official SDKs.
    pub const fn code(self) -> u32 {
        match self {
            UnsubscribedCode::UnsubscribeCalled => 0,
            UnsubscribedCode::Unauthorized => 1,
            UnsubscribedCode::ClientClosed => 2,
        }
    }

    /// The reason the event carries with it.
    pub const fn reason(self) -> &'static str {
        match self {
            UnsubscribedCode::UnsubscribeCalled => "unsubscribe called",
            UnsubscribedCode::Unauthorized => "unauthorized",
            UnsubscribedCode::ClientClosed => "client closed",
        }
    }
}

/// A code and the reason that goes with it, as state events carry them: one of the client's
/// codes above, or the server's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reason {
    pub(crate) code: u32,
    pub(crate) reason: String,
}

impl Reason {
    /// A code and reason the server sent (a disconnect, an error reply, an unsubscribe push).
    pub(crate) fn from_server(code: u32, reason: impl Into<String>) -> Reason {
        Reason { code, reason: reason.into() }
    }
}

macro_rules! reason_from {
    ($($codes:ty),*) => {$(
        impl From<$codes> for Reason {
            fn from(code: $codes) -> Reason {
                Reason { code: code.code(), reason: code.reason().to_string() }
            }
        }
    )*};
}

reason_from!(ConnectingCode, DisconnectedCode, SubscribingCode, UnsubscribedCode);

#[cfg(test)]
mod tests {
    use super::*;

    /// The official SDKs' table (centrifuge-js `codes.ts`, centrifuge-go `codes.go`,
    /// centrifuge-java `Client.java`): these numbers and reasons must never change.
    #[test]
    fn the_codes_are_the_official_sdks() {
        let connecting = [
            (ConnectingCode::ConnectCalled, 0, "connect called"),
            (ConnectingCode::TransportClosed, 1, "transport closed"),
            (ConnectingCode::NoPing, 2, "no ping"),
            (ConnectingCode::SubscribeTimeout, 3, "subscribe timeout"),
            (ConnectingCode::UnsubscribeError, 4, "unsubscribe error"),
        ];
        for (code, number, reason) in connecting {
            assert_eq!((code.code(), code.reason()), (number, reason), "{code:?}");
        }
        let disconnected = [
            (DisconnectedCode::DisconnectCalled, 0, "disconnect called"),
            (DisconnectedCode::Unauthorized, 1, "unauthorized"),
            (DisconnectedCode::BadProtocol, 2, "bad protocol"),
            (DisconnectedCode::MessageSizeLimit, 3, "message size limit exceeded"),
            (DisconnectedCode::ClientClosed, 0, "client closed"),
        ];
        for (code, number, reason) in disconnected {
            assert_eq!((code.code(), code.reason()), (number, reason), "{code:?}");
        }
        let subscribing = [
            (SubscribingCode::SubscribeCalled, 0, "subscribe called"),
            (SubscribingCode::TransportClosed, 1, "transport closed"),
            (SubscribingCode::InsufficientState, 2500, "insufficient state"),
        ];
        for (code, number, reason) in subscribing {
            assert_eq!((code.code(), code.reason()), (number, reason), "{code:?}");
        }
        let unsubscribed = [
            (UnsubscribedCode::UnsubscribeCalled, 0, "unsubscribe called"),
            (UnsubscribedCode::Unauthorized, 1, "unauthorized"),
            (UnsubscribedCode::ClientClosed, 2, "client closed"),
        ];
        for (code, number, reason) in unsubscribed {
            assert_eq!((code.code(), code.reason()), (number, reason), "{code:?}");
        }
    }

    #[test]
    fn a_reason_carries_its_codes_number_and_words() {
        let reason = Reason::from(SubscribingCode::InsufficientState);
        assert_eq!((reason.code, reason.reason.as_str()), (2500, "insufficient state"));
    }
}
