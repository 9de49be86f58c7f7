//! Event codes and the rules attached to server codes.
//!
//! The numbers are the same in every official SDK: client-side codes 0–4 for `connecting`,
//! 0–3 for `disconnected`; server disconnect codes 3000–4999 with their reconnect rule.

/// A code and the reason that goes with it, as events carry them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reason {
    pub(crate) code: u32,
    pub(crate) reason: String,
}

impl Reason {
    pub(crate) fn new(code: u32, reason: impl Into<String>) -> Reason {
        Reason { code, reason: reason.into() }
    }
}

/// Why the client is (re)connecting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Connecting {
    ConnectCalled,
    TransportClosed,
    NoPing,
    SubscribeTimeout,
    UnsubscribeError,
}

impl Connecting {
    pub(crate) fn reason(self) -> Reason {
        match self {
            Connecting::ConnectCalled => Reason::new(0, "connect called"),
            Connecting::TransportClosed => Reason::new(1, "transport closed"),
            Connecting::NoPing => Reason::new(2, "no ping"),
            Connecting::SubscribeTimeout => Reason::new(3, "subscribe timeout"),
            Connecting::UnsubscribeError => Reason::new(4, "unsubscribe error"),
        }
    }
}

/// Why the client stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disconnected {
    DisconnectCalled,
    Unauthorized,
    BadProtocol,
    MessageSizeLimit,
    ClientClosed,
}

impl Disconnected {
    pub(crate) fn reason(self) -> Reason {
        match self {
            Disconnected::DisconnectCalled => Reason::new(0, "disconnect called"),
            Disconnected::Unauthorized => Reason::new(1, "unauthorized"),
            Disconnected::BadProtocol => Reason::new(2, "bad protocol"),
            Disconnected::MessageSizeLimit => Reason::new(3, "message size limit exceeded"),
            // Same code as disconnect(): the client was asked to stop.
            Disconnected::ClientClosed => Reason::new(0, "client closed"),
        }
    }
}

/// The server code that asks the client to forget its token and subscription state.
pub(crate) const STATE_INVALIDATED: u32 = 3014;

/// The unsubscribe code that asks a subscription to forget its token and position.
pub(crate) const SUB_STATE_INVALIDATED: u32 = 2502;

/// The WebSocket close code for "message too big".
const WS_MESSAGE_TOO_BIG: u16 = 1009;

/// What a closed connection means for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CloseAction {
    /// Reconnect with backoff; `connecting` carries this reason.
    Reconnect(Reason),
    /// Stop; `disconnected` carries this reason.
    Stop(Reason),
}

/// Applies the reconnect rule to a WebSocket close (`None`: the socket ended without a close
/// frame).
///
/// Codes below 3000 belong to the transport: 1009 stops the client (code 3, the server's
/// message limit would hit again), all others reconnect as "transport closed" (code 1).
/// Server codes reconnect below 3500, in 4000–4499 and from 5000; 3500–3999 and 4500–4999 stop.
pub(crate) fn classify_close(close: Option<(u16, &str)>) -> CloseAction {
    let Some((code, reason)) = close else {
        return CloseAction::Reconnect(Connecting::TransportClosed.reason());
    };
    if code == WS_MESSAGE_TOO_BIG {
        return CloseAction::Stop(Disconnected::MessageSizeLimit.reason());
    }
    if code < 3000 {
        return CloseAction::Reconnect(Connecting::TransportClosed.reason());
    }
    let server = Reason::new(u32::from(code), reason);
    if server_code_reconnects(u32::from(code)) {
        CloseAction::Reconnect(server)
    } else {
        CloseAction::Stop(server)
    }
}

/// The reconnect rule for server disconnect codes: 3500–3999 (Centrifugo's) and 4500–4999
/// (the application's) are terminal, everything else reconnects.
pub(crate) fn server_code_reconnects(code: u32) -> bool {
    !(3500..4000).contains(&code) && !(4500..5000).contains(&code)
}

/// Server error codes (in replies) with a special meaning for the client.
pub(crate) mod errors {
    /// The token has expired: get a fresh one and retry.
    pub(crate) const TOKEN_EXPIRED: u32 = 109;
    /// The stream position cannot be recovered (with the reject-unrecovered flag).
    pub(crate) const UNRECOVERABLE_POSITION: u32 = 112;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_codes_follow_the_reconnect_rule() {
        let table = [
            (3000, true),
            (3001, true),
            (3005, true),
            (3014, true),
            (3499, true),
            (3500, false),
            (3501, false),
            (3999, false),
            (4000, true),
            (4499, true),
            (4500, false),
            (4999, false),
            (5000, true),
            (6000, true),
        ];
        for (code, reconnects) in table {
            assert_eq!(server_code_reconnects(code), reconnects, "code {code}");
            let action = classify_close(Some((code as u16, "why")));
            let expected = Reason::new(code, "why");
            if reconnects {
                assert_eq!(action, CloseAction::Reconnect(expected), "code {code}");
            } else {
                assert_eq!(action, CloseAction::Stop(expected), "code {code}");
            }
        }
    }

    #[test]
    fn transport_codes_reconnect_except_message_too_big() {
        for code in [1000, 1001, 1006, 1011, 2999] {
            assert_eq!(
                classify_close(Some((code, "x"))),
                CloseAction::Reconnect(Reason::new(1, "transport closed"))
            );
        }
        assert_eq!(classify_close(None), CloseAction::Reconnect(Reason::new(1, "transport closed")));
        assert_eq!(
            classify_close(Some((1009, "too big"))),
            CloseAction::Stop(Reason::new(3, "message size limit exceeded"))
        );
    }
}
