//! The WebSocket transport's handshake, over a stream from the dialer.

use std::net::TcpStream;

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;

use super::dialer::{DialBudget, Target, open_stream};
use super::{DialControl, Endpoint, Stream, TransportConfig};
use crate::config::Protocol;
use crate::error::TransportError;

/// How many bytes the WebSocket reads at most per system call. tungstenite zero-fills its whole
/// read buffer before every read (128 KiB by default): that was half the memory of an idle
/// client and a visible share of the CPU of small reads. Bursts take a few more reads instead.
const READ_BUFFER_SIZE: usize = 16 * 1024;

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

fn websocket_handshake(
    config: &TransportConfig,
    endpoint: &Endpoint,
    stream: Stream,
    budget: &DialBudget,
) -> Result<Socket, TransportError> {
    const STEP: &str = "in the WebSocket handshake";
    let mut request = endpoint
        .uri
        .clone()
        .into_client_request()
        .map_err(|err| TransportError::with_source("invalid WebSocket request", err))?;
    for (name, value) in &config.headers {
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|err| TransportError::with_source(format!("invalid header name {name:?}"), err))?;
        let value = HeaderValue::from_str(value)
            .map_err(|err| TransportError::with_source("invalid header value", err))?;
        request.headers_mut().append(name, value);
    }
    if config.protocol == Protocol::Protobuf {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("centrifuge-protobuf"));
    }
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size));
    match tungstenite::client::client_with_config(request, stream, Some(ws_config)) {
        Ok((socket, _response)) => Ok(socket),
        Err(HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            Err(TransportError::new(format!("WebSocket handshake refused with HTTP {}", response.status())))
        }
        Err(HandshakeError::Failure(tungstenite::Error::Io(err))) => {
            Err(budget.io_failure(STEP, "WebSocket handshake failed", err))
        }
        Err(HandshakeError::Failure(err)) => {
            Err(TransportError::with_source("WebSocket handshake failed", err))
        }
        Err(HandshakeError::Interrupted(_)) => Err(budget.timed_out(STEP)),
    }
}
