//! The one dialer: DNS, TCP, the proxy step and TLS, bounded by `connect_timeout`, yielding a
//! connected byte stream for whichever transport speaks over it.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::stream::BudgetedTcp;
use super::{DialControl, Stream, TransportConfig, proxy};
use crate::error::{TransportError, humantime};

/// Where a transport connects: the server's host and port, over TLS or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) secure: bool,
}

impl Target {
    /// Where `endpoint` connects.
    pub(crate) fn of(endpoint: &super::Endpoint) -> Target {
        Target { host: endpoint.host.clone(), port: endpoint.port, secure: endpoint.secure }
    }
}

/// A connected stream, and a handle on its TCP socket for waiting on input, timeouts and
/// shutdown from other threads.
pub(crate) struct Connected {
    pub(crate) stream: Stream,
    pub(crate) tcp: TcpStream,
}

/// DNS, TCP, the proxy step and TLS to `target`, within `budget`.
pub(crate) fn open_stream(
    config: &TransportConfig,
    target: &Target,
    control: &DialControl,
    budget: &DialBudget,
) -> Result<Connected, TransportError> {
    let (host, port) = match &config.proxy {
        Some(proxy) => proxy::split_address(&proxy.address)?,
        None => (target.host.clone(), target.port),
    };
    let tcp = connect_tcp(&host, port, budget)?;
    control.register(&tcp)?;
    tcp.set_nodelay(true).map_err(|err| TransportError::with_source("cannot set TCP_NODELAY", err))?;
    set_timeouts(&tcp, Some(budget.remaining("before the first byte was sent")?))?;
    if let Some(proxy) = &config.proxy {
        proxy::tunnel(&tcp, proxy, &target.host, target.port, budget)?;
    }
    let inner = tcp.try_clone().map_err(|err| TransportError::with_source("cannot clone the socket", err))?;
    let stream = match (&config.tls, target.secure) {
        (Some(connector), true) => Stream::Tls(Box::new(
            connector.connect(&target.host, BudgetedTcp::new(inner)).map_err(|err| match err {
                native_tls::HandshakeError::WouldBlock(_) => {
                    budget.timed_out(&format!("in the TLS handshake with {}", target.host))
                }
                native_tls::HandshakeError::Failure(err) => {
                    TransportError::new(format!("TLS handshake with {} failed: {err}", target.host))
                }
            })?,
        )),
        (None, true) => return Err(TransportError::new("TLS is not set up for this client")),
        (_, false) => Stream::Plain(BudgetedTcp::new(inner)),
    };
    Ok(Connected { stream, tcp })
}

/// The `connect_timeout` of one dial, shared by its steps, so that a step that runs out of it
/// says so, after how long and where, instead of surfacing the socket's `WouldBlock`.
pub(crate) struct DialBudget {
    deadline: Instant,
    total: Duration,
}

impl DialBudget {
    pub(crate) fn start(total: Duration) -> DialBudget {
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
pub(crate) fn is_timeout(err: &std::io::Error) -> bool {
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

pub(super) fn set_timeouts(tcp: &TcpStream, timeout: Option<Duration>) -> Result<(), TransportError> {
    tcp.set_read_timeout(timeout)
        .map_err(|err| TransportError::with_source("cannot set a read timeout", err))?;
    tcp.set_write_timeout(timeout)
        .map_err(|err| TransportError::with_source("cannot set a write timeout", err))
}
