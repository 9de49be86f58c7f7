//! Dialing: DNS, TCP, an optional HTTP `CONNECT` proxy, TLS and the WebSocket handshake.
//!
//! [`dial`] yields a connected [`Socket`] or a [`TransportError`] saying which step failed.
//! The whole dial is bounded by `connect_timeout`; once TCP is up, [`DialControl::cancel`]
//! aborts it at once from another thread (the TCP connect itself cannot be interrupted and is
//! bounded by the timeout). It knows nothing of Centrifugo commands.

mod endpoint;
mod proxy;
mod stream;
mod ws_frame;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;

use crate::config::{ClientConfig, Protocol, RootCertificate};
use crate::error::{Error, TransportError, humantime};
pub(crate) use endpoint::Endpoint;
use stream::BudgetedTcp;
pub(crate) use stream::Stream;
pub(crate) use ws_frame::{Opcode, encode_client_frame, new_mask};

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

/// Everything needed to dial, prepared once per client.
pub(crate) struct TransportConfig {
    endpoint: Endpoint,
    protocol: Protocol,
    headers: Vec<(String, String)>,
    connect_timeout: Duration,
    write_timeout: Duration,
    max_message_size: usize,
    tls: Option<native_tls::TlsConnector>,
    proxy: Option<crate::config::HttpProxy>,
}

impl TransportConfig {
    /// Checks the endpoint and the TLS settings.
    pub(crate) fn new(endpoint: &str, config: &ClientConfig) -> Result<TransportConfig, Error> {
        let endpoint = Endpoint::parse(endpoint)?;
        let tls = if endpoint.secure { Some(tls_connector(config)?) } else { None };
        Ok(TransportConfig {
            endpoint,
            protocol: config.protocol,
            headers: config.headers.clone(),
            connect_timeout: config.connect_timeout,
            write_timeout: config.timeout,
            max_message_size: config.max_message_size,
            tls,
            proxy: config.proxy.clone(),
        })
    }

    /// Where the client dials, for logs: `host:port`, never the path or query (which may
    /// carry secrets).
    pub(crate) fn target(&self) -> String {
        format!("{}:{}", self.endpoint.host, self.endpoint.port)
    }
}

fn tls_connector(config: &ClientConfig) -> Result<native_tls::TlsConnector, Error> {
    let mut builder = native_tls::TlsConnector::builder();
    for certificate in &config.root_certificates {
        let parsed = match certificate {
            RootCertificate::Pem(pem) => native_tls::Certificate::from_pem(pem),
            RootCertificate::Der(der) => native_tls::Certificate::from_der(der),
        };
        let parsed =
            parsed.map_err(|err| Error::InvalidConfig(format!("root certificate does not parse: {err}")))?;
        builder.add_root_certificate(parsed);
    }
    if config.danger_accept_invalid_certs {
        log::warn!("TLS certificate verification is off (danger_accept_invalid_certs): development only");
        builder.danger_accept_invalid_certs(true).danger_accept_invalid_hostnames(true);
    }
    builder.build().map_err(|err| Error::InvalidConfig(format!("cannot set up TLS: {err}")))
}

/// Lets another thread abort a dial, and later close the connection.
#[derive(Debug, Default)]
pub(crate) struct DialControl {
    cancelled: AtomicBool,
    tcp: Mutex<Option<TcpStream>>,
}

impl DialControl {
    /// Aborts the dial, or shuts the connection down if it is up.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(tcp) = self.tcp.lock().as_ref() {
            let _ = tcp.shutdown(std::net::Shutdown::Both);
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn register(&self, tcp: &TcpStream) -> Result<(), TransportError> {
        let clone =
            tcp.try_clone().map_err(|err| TransportError::with_source("cannot clone the socket", err))?;
        *self.tcp.lock() = Some(clone);
        // A cancel that raced with the registration has not seen the socket: honour it here.
        if self.is_cancelled() {
            let _ = tcp.shutdown(std::net::Shutdown::Both);
            return Err(TransportError::new("connection attempt cancelled"));
        }
        Ok(())
    }
}

/// Dials the endpoint and completes the WebSocket handshake.
pub(crate) fn dial(config: &TransportConfig, control: &DialControl) -> Result<Dialed, TransportError> {
    let budget = DialBudget::start(config.connect_timeout);
    let endpoint = &config.endpoint;
    let (host, port) = match &config.proxy {
        Some(proxy) => proxy::split_address(&proxy.address)?,
        None => (endpoint.host.clone(), endpoint.port),
    };
    let tcp = connect_tcp(&host, port, &budget)?;
    control.register(&tcp)?;
    tcp.set_nodelay(true).map_err(|err| TransportError::with_source("cannot set TCP_NODELAY", err))?;
    set_timeouts(&tcp, Some(budget.remaining("before the first byte was sent")?))?;
    if let Some(proxy) = &config.proxy {
        proxy::tunnel(&tcp, proxy, &endpoint.host, endpoint.port, &budget)?;
    }
    let inner = tcp.try_clone().map_err(|err| TransportError::with_source("cannot clone the socket", err))?;
    let stream = match &config.tls {
        Some(connector) => Stream::Tls(Box::new(
            connector.connect(&endpoint.host, BudgetedTcp::new(inner)).map_err(|err| match err {
                native_tls::HandshakeError::WouldBlock(_) => {
                    budget.timed_out(&format!("in the TLS handshake with {}", endpoint.host))
                }
                native_tls::HandshakeError::Failure(err) => {
                    TransportError::new(format!("TLS handshake with {} failed: {err}", endpoint.host))
                }
            })?,
        )),
        None => Stream::Plain(BudgetedTcp::new(inner)),
    };
    let mut socket = websocket_handshake(config, stream, &budget)?;
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

/// The `connect_timeout` of one dial, shared by its steps, so that a step that runs out of it
/// says so, after how long and where, instead of surfacing the socket's `WouldBlock`.
pub(crate) struct DialBudget {
    deadline: Instant,
    total: Duration,
}

impl DialBudget {
    fn start(total: Duration) -> DialBudget {
        DialBudget { deadline: Instant::now() + total, total }
    }

    /// What is left for `step`, or the timeout error naming it.
    pub(crate) fn remaining(&self, step: &str) -> Result<Duration, TransportError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() { Err(self.timed_out(step)) } else { Ok(left) }
    }

    /// The error of a dial that ran out of time in `step` (e.g. "in the WebSocket handshake").
    pub(crate) fn timed_out(&self, step: &str) -> TransportError {
        TransportError::new(format!("connect timed out after {} {step}", humantime(self.total)))
    }

    /// An I/O error of `step`: the timeout when the socket's deadline passed, otherwise
    /// `what` with the error as its source.
    pub(crate) fn io_failure(&self, step: &str, what: &str, err: std::io::Error) -> TransportError {
        if is_timeout(&err) { self.timed_out(step) } else { TransportError::with_source(what, err) }
    }
}

/// How a blocking socket reports that its read or write timeout passed (`WouldBlock` on Unix,
/// `TimedOut` on Windows).
fn is_timeout(err: &std::io::Error) -> bool {
    matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

fn connect_tcp(host: &str, port: u16, budget: &DialBudget) -> Result<TcpStream, TransportError> {
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|err| TransportError::with_source(format!("cannot resolve {host}"), err))?
        .collect();
    // The system resolver cannot be interrupted; it can only be found to have taken too long.
    budget.remaining(&format!("resolving {host}"))?;
    let mut last_error = None;
    for address in &addresses {
        let step = format!("connecting to {address}");
        match TcpStream::connect_timeout(address, budget.remaining(&step)?) {
            Ok(tcp) => return Ok(tcp),
            Err(err) if is_timeout(&err) => last_error = Some(budget.timed_out(&step)),
            Err(err) => {
                last_error =
                    Some(TransportError::with_source(format!("cannot connect to {host}:{port}"), err))
            }
        }
    }
    Err(last_error.unwrap_or_else(|| TransportError::new(format!("{host} resolves to no address"))))
}

fn websocket_handshake(
    config: &TransportConfig,
    stream: Stream,
    budget: &DialBudget,
) -> Result<Socket, TransportError> {
    const STEP: &str = "in the WebSocket handshake";
    let mut request = config
        .endpoint
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

fn set_timeouts(tcp: &TcpStream, timeout: Option<Duration>) -> Result<(), TransportError> {
    tcp.set_read_timeout(timeout)
        .map_err(|err| TransportError::with_source("cannot set a read timeout", err))?;
    tcp.set_write_timeout(timeout)
        .map_err(|err| TransportError::with_source("cannot set a write timeout", err))
}
