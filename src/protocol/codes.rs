//! The rules attached to the server's codes: which disconnects reconnect, which errors are
//! retried, which unsubscribes resubscribe.
//!
//! The client's own codes are the public enums of [`crate::codes`]; what the rules decide is
//! expressed with them.

use crate::codes::{ConnectingCode, DisconnectedCode, Reason};

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
/// Codes below 3000 belong to the transport: 1009 stops the client
/// ([`DisconnectedCode::MessageSizeLimit`]: the server's message limit would hit again), all
/// others reconnect ([`ConnectingCode::TransportClosed`]). Server codes follow
/// [`server_code_reconnects`] and are reported as the server sent them.
pub(crate) fn classify_close(close: Option<(u16, &str)>) -> CloseAction {
    let Some((code, reason)) = close else {
        return CloseAction::Reconnect(ConnectingCode::TransportClosed.into());
    };
    if code == WS_MESSAGE_TOO_BIG {
        return CloseAction::Stop(DisconnectedCode::MessageSizeLimit.into());
    }
    if code < 3000 {
        return CloseAction::Reconnect(ConnectingCode::TransportClosed.into());
    }
    let server = Reason::from_server(u32::from(code), reason);
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

/// Whether an error reply to a connect or subscribe command is worth retrying: the server says
/// it is temporary, or the code is below 100 (internal errors and timeouts, which the official
/// SDKs retry too).
pub(crate) fn reply_error_is_temporary(code: u32, temporary: bool) -> bool {
    temporary || code < 100
}

/// The unsubscribe push rule: from 2500 on the server asks the subscription to subscribe again
/// (`subscribing` with the server's code); below, it ends (`unsubscribed`).
pub(crate) fn unsubscribe_resubscribes(code: u32) -> bool {
    code >= 2500
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
            let expected = Reason::from_server(code, "why");
            if reconnects {
                assert_eq!(action, CloseAction::Reconnect(expected), "code {code}");
            } else {
                assert_eq!(action, CloseAction::Stop(expected), "code {code}");
            }
        }
    }

    #[test]
    fn reply_errors_are_retried_when_temporary_or_below_100() {
        for (code, temporary, retried) in
            [(0, false, true), (99, false, true), (100, true, true), (100, false, false), (103, false, false)]
        {
            assert_eq!(reply_error_is_temporary(code, temporary), retried, "{code} {temporary}");
        }
    }

    #[test]
    fn unsubscribes_from_2500_on_resubscribe() {
        for (code, resubscribes) in [(2000, false), (2499, false), (2500, true), (2501, true), (2502, true)] {
            assert_eq!(unsubscribe_resubscribes(code), resubscribes, "{code}");
        }
    }

    #[test]
    fn transport_codes_reconnect_except_message_too_big() {
        for code in [1000, 1001, 1006, 1011, 2999] {
            assert_eq!(
                classify_close(Some((code, "x"))),
                CloseAction::Reconnect(ConnectingCode::TransportClosed.into())
            );
        }
        assert_eq!(classify_close(None), CloseAction::Reconnect(ConnectingCode::TransportClosed.into()));
        assert_eq!(
            classify_close(Some((1009, "too big"))),
            CloseAction::Stop(DisconnectedCode::MessageSizeLimit.into())
        );
    }
}
