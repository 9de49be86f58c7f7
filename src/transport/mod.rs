//! Reaching the server: one dialer (DNS, TCP, proxy, TLS) for every transport, and the
//! transports' own handshakes on top of it.
//!
//! [`dial`] yields a connected WebSocket [`Socket`] or a [`TransportError`] saying which step
//! failed. The whole dial is bounded by `connect_timeout`; once TCP is up,
//! [`DialControl::cancel`] aborts it at once from another thread (the TCP connect itself cannot
//! be interrupted and is bounded by the timeout). It knows nothing of Centrifugo commands.
//!
//! - [`dialer`]: DNS, TCP, the proxy step, TLS → a connected byte [`Stream`];
//! - [`websocket`]: the WebSocket handshake over such a stream ([`ws_key`]: its keys);
//! - [`proxy`]: which proxy an attempt goes through (configured, or from the environment at
//!   each attempt), HTTP `CONNECT` and SOCKS5;
//! - [`endpoint`]: the URL, parsed once.

mod dialer;
mod endpoint;
pub(crate) mod http;
mod proxy;
mod stream;
mod tls;
mod websocket;
mod ws_frame;
mod ws_key;

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::config::{ClientConfig, Protocol};
use crate::error::{Error, TransportError};
use crate::transports::{TransportEndpoint, TransportKind};
pub(crate) use dialer::{Connected, DialBudget, Target, open_stream};
pub(crate) use endpoint::Endpoint;
pub(crate) use stream::Stream;
pub(crate) use websocket::{Socket, dial};
pub(crate) use ws_frame::{Opcode, encode_client_frame, new_mask};

/// One transport of the client's list, with its URLs checked.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) kind: TransportKind,
    pub(crate) endpoint: Endpoint,
    /// Where HTTP-streaming and SSE connections send their commands.
    pub(crate) emulation: Endpoint,
}

/// Everything needed to dial, prepared once per client.
pub(crate) struct TransportConfig {
    /// The transports to try, in order (the endpoint, then the fallbacks).
    routes: Vec<Route>,
    protocol: Protocol,
    headers: Vec<(String, String)>,
    connect_timeout: Duration,
    write_timeout: Duration,
    max_message_size: usize,
    tls: Option<tls::TlsSetup>,
    proxy: crate::config::Proxy,
}

impl TransportConfig {
    /// Checks the endpoints and the TLS settings.
    pub(crate) fn new(
        endpoints: &[TransportEndpoint],
        config: &ClientConfig,
    ) -> Result<TransportConfig, Error> {
        let mut routes = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            if endpoint.kind == TransportKind::Sse && config.protocol == Protocol::Protobuf {
                return Err(Error::InvalidConfig(
                    "SSE carries JSON only: use Protocol::Json, or HTTP-streaming for Protobuf".into(),
                ));
            }
            let parsed = Endpoint::parse(&endpoint.url, endpoint.kind)?;
            let emulation = match &endpoint.emulation {
                Some(url) if endpoint.kind != TransportKind::WebSocket => {
                    Endpoint::parse(url, TransportKind::HttpStream)?
                }
                Some(_) => {
                    return Err(Error::InvalidConfig(
                        "only HTTP-streaming and SSE endpoints have an emulation endpoint".into(),
                    ));
                }
                None => parsed.emulation(),
            };
            routes.push(Route { kind: endpoint.kind, endpoint: parsed, emulation });
        }
        if routes.is_empty() {
            return Err(Error::InvalidConfig("no endpoint to connect to".into()));
        }
        let secure = routes.iter().any(|route| route.endpoint.secure || route.emulation.secure);
        let tls = if secure { Some(tls::TlsSetup::new(config)?) } else { None };
        Ok(TransportConfig {
            routes,
            protocol: config.protocol,
            headers: config.headers.clone(),
            connect_timeout: config.connect_timeout,
            write_timeout: config.timeout,
            max_message_size: config.max_message_size,
            tls,
            proxy: config.proxy.clone(),
        })
    }

    /// The transport at `index` (wrapping, so any index names one).
    pub(crate) fn route(&self, index: usize) -> &Route {
        &self.routes[index % self.routes.len()]
    }

    /// Where the client dials with transport `index`, for logs: the transport and `host:port`,
    /// never the path or query (which may carry secrets).
    pub(crate) fn target(&self, index: usize) -> String {
        let route = self.route(index);
        format!("{} {}:{}", route.kind, route.endpoint.host, route.endpoint.port)
    }

    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    pub(crate) fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// How long a write (or an emulation request) may take.
    pub(crate) fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    pub(crate) fn max_message_size(&self) -> usize {
        self.max_message_size
    }
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

    pub(super) fn register(&self, tcp: &TcpStream) -> Result<(), TransportError> {
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
