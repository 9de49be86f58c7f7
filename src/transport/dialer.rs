//! The one dialer: DNS, TCP, the proxy step and TLS, bounded by `connect_timeout`, yielding a
//! connected byte stream for whichever transport speaks over it.

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::proxy::socks5::{self, Destination};
use super::proxy::{self, Kind, ResolvedProxy};
use super::stream::BudgetedTcp;
use super::{DialControl, Stream, TransportConfig};
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
///
/// The proxy is decided here, at every attempt: with `Proxy::FromEnvironment` the variables
/// are read anew each time.
pub(crate) fn open_stream(
    config: &TransportConfig,
    target: &Target,
    control: &DialControl,
    budget: &DialBudget,
) -> Result<Connected, TransportError> {
    let proxy = proxy::resolve(&config.proxy, target, &|name: &str| std::env::var(name).ok())?;
    let tcp = match &proxy {
        None => {
            let tcp = connect_tcp(&target.host, target.port, None, budget)?;
            prepare(&tcp, control, budget)?;
            tcp
        }
        Some(proxy) => {
            log::debug!("dialing {} through the {proxy}", proxy::host_port(&target.host, target.port));
            let tcp = through_proxy(proxy, target, control, budget)?;
            // The rest of the dial gets what is left of the budget.
            set_timeouts(&tcp, Some(budget.remaining(&format!("once the {proxy} had connected"))?))?;
            tcp
        }
    };
    let inner = tcp.try_clone().map_err(|err| TransportError::with_source("cannot clone the socket", err))?;
    let stream = match (&config.tls, target.secure) {
        (Some(tls), true) => tls.connect(&target.host, BudgetedTcp::new(inner), budget)?,
        (None, true) => return Err(TransportError::new("TLS is not set up for this client")),
        (_, false) => Stream::Plain(BudgetedTcp::new(inner)),
    };
    Ok(Connected { stream, tcp })
}

/// Lets `control` cancel the dial, and bounds the first steps by the budget.
fn prepare(tcp: &TcpStream, control: &DialControl, budget: &DialBudget) -> Result<(), TransportError> {
    control.register(tcp)?;
    tcp.set_nodelay(true).map_err(|err| TransportError::with_source("cannot set TCP_NODELAY", err))?;
    set_timeouts(tcp, Some(budget.remaining("before the first byte was sent")?))
}

/// A TCP stream through `proxy` to `target`.
fn through_proxy(
    proxy: &ResolvedProxy,
    target: &Target,
    control: &DialControl,
    budget: &DialBudget,
) -> Result<TcpStream, TransportError> {
    let open = || -> Result<TcpStream, TransportError> {
        let tcp = connect_tcp(&proxy.host, proxy.port, Some(proxy), budget)?;
        prepare(&tcp, control, budget)?;
        Ok(tcp)
    };
    match proxy.kind {
        Kind::Http => {
            let tcp = open()?;
            proxy::connect::tunnel(&tcp, proxy, &target.host, target.port, budget)?;
            Ok(tcp)
        }
        Kind::Socks5 { resolve_at_proxy } => {
            let destinations = match target.host.parse::<IpAddr>() {
                Ok(ip) => vec![Destination::Ip(ip)],
                Err(_) if resolve_at_proxy => vec![Destination::Name(target.host.clone())],
                Err(_) => resolve(&target.host, target.port, None, budget)?
                    .iter()
                    .map(|address| Destination::Ip(address.ip()))
                    .collect(),
            };
            socks5::connect_to_any(&destinations, target.port, proxy, budget, open)
        }
    }
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

/// The addresses of `host` (of `proxy`, when it is one), within the budget.
fn resolve(
    host: &str,
    port: u16,
    proxy: Option<&ResolvedProxy>,
    budget: &DialBudget,
) -> Result<Vec<SocketAddr>, TransportError> {
    let name = match proxy {
        Some(proxy) => format!("the {proxy}"),
        None => host.to_string(),
    };
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|err| TransportError::with_source(format!("cannot resolve {name}"), err))?
        .collect();
    // The system resolver cannot be interrupted; it can only be found to have taken too long.
    budget.remaining(&format!("resolving {name}"))?;
    if addresses.is_empty() {
        return Err(TransportError::new(format!("{name} resolves to no address")));
    }
    Ok(addresses)
}

/// A TCP connection to `host:port` (which is `proxy`, when it is one), trying each address.
fn connect_tcp(
    host: &str,
    port: u16,
    proxy: Option<&ResolvedProxy>,
    budget: &DialBudget,
) -> Result<TcpStream, TransportError> {
    let addresses = resolve(host, port, proxy, budget)?;
    let name = match proxy {
        Some(proxy) => format!("the {proxy}"),
        None => format!("{host}:{port}"),
    };
    let mut last_error = None;
    for address in &addresses {
        let step = format!("connecting to {address}");
        match TcpStream::connect_timeout(address, budget.remaining(&step)?) {
            Ok(tcp) => return Ok(tcp),
            Err(err) if is_timeout(&err) => last_error = Some(budget.timed_out(&step)),
            Err(err) => {
                last_error = Some(TransportError::with_source(format!("cannot connect to {name}"), err))
            }
        }
    }
    Err(last_error.unwrap_or_else(|| TransportError::new(format!("{name} resolves to no address"))))
}

pub(super) fn set_timeouts(tcp: &TcpStream, timeout: Option<Duration>) -> Result<(), TransportError> {
    tcp.set_read_timeout(timeout)
        .map_err(|err| TransportError::with_source("cannot set a read timeout", err))?;
    tcp.set_write_timeout(timeout)
        .map_err(|err| TransportError::with_source("cannot set a write timeout", err))
}
