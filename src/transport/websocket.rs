//! The WebSocket transport's handshake, over a stream from the dialer; tungstenite takes over
//! the socket after it, for frames only.
//!
//! The handshake is ours, not tungstenite's: its `handshake` feature brings the `http` crate,
//! `data-encoding` and `sha1` with the `digest` family into every user's build (~5 s of compile
//! work, ~3 s of a clean build's wall time on two cores), for what is here one request written
//! and one response head checked with the HTTP/1.1 code the HTTP-streaming transport already
//! has, plus the accept key (`ws_key`). It writes the request from the parsed [`Endpoint`]
//! (so the URL is parsed once, by one parser), the application's headers and cookies after the
//! upgrade headers, and asks for the `centrifuge-protobuf` subprotocol when the client speaks
//! Protobuf. No extension is offered, so none can be accepted.

use std::io::Write;
use std::net::TcpStream;

use tungstenite::protocol::{Role, WebSocketConfig};

use super::dialer::{DialBudget, Target, open_stream};
use super::http::{self, Head, Request};
use super::{DialControl, Endpoint, Stream, TransportConfig, ws_key};
use crate::config::Protocol;
use crate::error::TransportError;

/// How many bytes the WebSocket reads at most per system call. tungstenite zero-fills its whole
/// read buffer before every read (128 KiB by default): that was half the memory of an idle
/// client and a visible share of the CPU of small reads. Bursts take a few more reads instead.
const READ_BUFFER_SIZE: usize = 16 * 1024;

/// The subprotocol Centrifugo speaks Protobuf on.
const PROTOBUF_SUBPROTOCOL: &str = "centrifuge-protobuf";

/// A connected WebSocket.
pub(crate) type Socket = tungstenite::WebSocket<Stream>;

/// A dialed connection: the WebSocket, and a handle on its TCP socket for waiting on input
/// and switching between blocking and non-blocking reads.
pub(crate) struct Dialed {
    pub(crate) socket: Socket,
    pub(crate) tcp: TcpStream,
}

/// Dials the WebSocket `endpoint` and completes the handshake.
pub(crate) fn dial(
    config: &TransportConfig,
    endpoint: &Endpoint,
    control: &DialControl,
) -> Result<Dialed, TransportError> {
    let budget = DialBudget::start(config.connect_timeout);
    let target = Target::of(endpoint);
    let opened = open_stream(config, &target, control, &budget)?;
    let tcp = opened.tcp;
    let mut socket = websocket_handshake(config, endpoint, opened.stream, &budget)?;
    // From now on reads take only what the reader has seen arrive (see `stream`).
    socket.get_mut().allow_reads(0);
    if control.is_cancelled() {
        return Err(TransportError::new("connection attempt cancelled"));
    }
    // From now on the reader blocks until data arrives; writes stay bounded.
    tcp.set_read_timeout(None)
        .map_err(|err| TransportError::with_source("cannot clear the read timeout", err))?;
    tcp.set_write_timeout(Some(config.write_timeout))
        .map_err(|err| TransportError::with_source("cannot set the write timeout", err))?;
    Ok(Dialed { socket, tcp })
}

/// The opening handshake (RFC 6455 §4.1), written and checked here over the crate's own
/// HTTP/1.1 code (see the module doc for why not tungstenite's).
fn websocket_handshake(
    config: &TransportConfig,
    endpoint: &Endpoint,
    mut stream: Stream,
    budget: &DialBudget,
) -> Result<Socket, TransportError> {
    const STEP: &str = "in the WebSocket handshake";
    let key = ws_key::new_key();
    let mut transport_headers = vec![
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", key.as_str()),
    ];
    if config.protocol == Protocol::Protobuf {
        transport_headers.push(("Sec-WebSocket-Protocol", PROTOBUF_SUBPROTOCOL));
    }
    let request = Request {
        method: "GET",
        target: endpoint.path_and_query(),
        host: endpoint.authority(),
        transport_headers: &transport_headers,
        headers: &config.headers,
        body: b"",
    };
    stream
        .write_all(&request.encode()?)
        .and_then(|()| stream.flush())
        .map_err(|err| budget.io_failure(STEP, "cannot send the WebSocket handshake", err))?;
    let head = http::read_head(&mut stream, Some(budget), STEP)?;
    check_upgrade(&head, &key, config.protocol)?;
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size));
    // Frames the server sent right behind its answer arrived in the same reads.
    Ok(Socket::from_partially_read(stream, head.rest, Role::Client, Some(ws_config)))
}

/// Whether `head` accepts the upgrade requested with `key`: status 101, `Upgrade: websocket`,
/// `Connection: Upgrade`, the right `Sec-WebSocket-Accept`, no extension, and the subprotocol
/// exactly as requested (none for JSON).
fn check_upgrade(head: &Head, key: &str, protocol: Protocol) -> Result<(), TransportError> {
    if head.status != 101 {
        let hint = if (300..400).contains(&head.status) || head.is_html() {
            ": a captive portal or a proxy may be in the way"
        } else {
            ""
        };
        let status = match head.reason.as_str() {
            "" => head.status.to_string(),
            reason => format!("{} {reason}", head.status),
        };
        return Err(TransportError::new(format!("WebSocket handshake refused with HTTP {status}{hint}")));
    }
    let upgrade = head.header("upgrade").is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    // `Connection` is a list of tokens ("keep-alive, Upgrade").
    let connection_upgrade = head
        .header("connection")
        .is_some_and(|value| value.split(',').any(|token| token.trim().eq_ignore_ascii_case("upgrade")));
    if !upgrade || !connection_upgrade {
        return Err(TransportError::new(
            "WebSocket handshake failed: the server answered 101 without upgrading to websocket",
        ));
    }
    if head.header("sec-websocket-accept") != Some(ws_key::accept_for(key).as_str()) {
        return Err(TransportError::new(
            "WebSocket handshake failed: the server's Sec-WebSocket-Accept does not answer the key sent",
        ));
    }
    if let Some(extensions) = head.header("sec-websocket-extensions").filter(|value| !value.is_empty()) {
        return Err(TransportError::new(format!(
            "WebSocket handshake failed: the server enabled the extension {extensions:?}, none was offered"
        )));
    }
    let expected = (protocol == Protocol::Protobuf).then_some(PROTOBUF_SUBPROTOCOL);
    let answered = head.header("sec-websocket-protocol");
    if answered != expected {
        return Err(TransportError::new(match expected {
            Some(wanted) => format!(
                "WebSocket handshake failed: the server did not take the {wanted} subprotocol \
                 (answered {answered:?}); is Protobuf enabled on this endpoint?"
            ),
            None => format!(
                "WebSocket handshake failed: the server chose the subprotocol {answered:?}, none was asked for"
            ),
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> Head {
        http::parse_head(raw.as_bytes(), "test").unwrap().unwrap()
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn switching(extra: &str) -> String {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n"
        )
    }

    #[test]
    fn a_proper_upgrade_is_accepted_and_keeps_what_followed_it() {
        let mut raw = switching("");
        raw.push_str("\u{81}\u{2}{}");
        let head = parsed(&raw);
        assert!(check_upgrade(&head, KEY, Protocol::Json).is_ok());
        assert_eq!(head.rest, "\u{81}\u{2}{}".as_bytes());
        let protobuf = switching("Sec-WebSocket-Protocol: centrifuge-protobuf\r\n");
        assert!(check_upgrade(&parsed(&protobuf), KEY, Protocol::Protobuf).is_ok());
        let lenient = "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n\
                       sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert!(check_upgrade(&parsed(lenient), KEY, Protocol::Json).is_ok());
    }

    #[test]
    fn a_wrong_upgrade_says_what_is_wrong() {
        let portal = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n";
        let wrong_accept = switching("").replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "AAAA");
        let no_upgrade = switching("").replace("Upgrade: websocket\r\n", "");
        let unasked = switching("Sec-WebSocket-Protocol: centrifuge-protobuf\r\n");
        let deflate = switching("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        let two_protocols = switching("").replace("Upgrade: websocket", "Upgrade: h2c, websocket");
        for (raw, protocol, needle) in [
            (
                "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
                Protocol::Json,
                "refused with HTTP 403 Forbidden",
            ),
            ("HTTP/1.1 426 \r\nContent-Length: 0\r\n\r\n", Protocol::Json, "refused with HTTP 426"),
            (portal, Protocol::Json, "refused with HTTP 200 OK: a captive portal"),
            (
                "HTTP/1.1 302 Found\r\nLocation: /login\r\n\r\n",
                Protocol::Json,
                "HTTP 302 Found: a captive portal",
            ),
            (&wrong_accept, Protocol::Json, "Sec-WebSocket-Accept does not answer"),
            (&no_upgrade, Protocol::Json, "without upgrading"),
            (&two_protocols, Protocol::Json, "without upgrading"),
            (&deflate, Protocol::Json, "enabled the extension \"permessage-deflate\", none was offered"),
            (
                &switching(""),
                Protocol::Protobuf,
                "did not take the centrifuge-protobuf subprotocol (answered None)",
            ),
            (&unasked, Protocol::Json, "chose the subprotocol Some(\"centrifuge-protobuf\")"),
        ] {
            let error = check_upgrade(&parsed(raw), KEY, protocol).unwrap_err().to_string();
            assert!(error.contains(needle), "{needle}: {error}");
        }
    }
}
