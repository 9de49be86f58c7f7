//! Proxies on the way to the server: which one a connection attempt goes through, and the
//! handshakes that open a tunnel through it.
//!
//! [`resolve`] turns the configured [`Proxy`] into the proxy of one attempt, or none; for
//! [`Proxy::FromEnvironment`] it reads the variables anew at every attempt. The dialer connects
//! to that proxy, runs its handshake on the TCP stream, and from then on the stream carries the
//! server's traffic (TLS included: the proxy sees only encrypted bytes for `wss://`).
//!
//! - [`env`]: the proxy the environment names, by curl's rules; a pure function of the
//!   variables, tested as a table;
//! - [`connect`]: HTTP `CONNECT` tunnels, with basic auth;
//! - [`socks5`]: SOCKS5 `CONNECT` (RFC 1928), with user name and password (RFC 1929).
//!
//! Both handshakes read exactly the proxy's answer and not a byte beyond (what follows belongs
//! to the tunnelled connection), each read and write bounded by what is left of the dial's
//! budget. Their messages name the proxy (`host:port`, and the variable it came from) and the
//! step; never a user name or a password.

pub(crate) mod connect;
pub(crate) mod env;
pub(crate) mod socks5;

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use super::DialBudget;
use super::dialer::Target;
use crate::config::Proxy;
use crate::error::TransportError;

/// What kind of proxy, and how it is asked for a tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// HTTP `CONNECT`.
    Http,
    /// SOCKS5; with `resolve_at_proxy` the server's name goes to the proxy (`socks5h`).
    Socks5 { resolve_at_proxy: bool },
}

/// A user name and a password for a proxy; `Debug` hides both.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The proxy of one connection attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResolvedProxy {
    pub(crate) kind: Kind,
    /// Without the brackets of an IPv6 literal.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) credentials: Option<Credentials>,
    /// The environment variable that named it; `None` when it was configured.
    pub(crate) variable: Option<&'static str>,
}

/// `SOCKS5 proxy 127.0.0.1:1080 (from ALL_PROXY)`: how messages name a proxy.
impl fmt::Display for ResolvedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Http => "HTTP",
            Kind::Socks5 { .. } => "SOCKS5",
        };
        write!(f, "{kind} proxy {}", host_port(&self.host, self.port))?;
        if let Some(variable) = self.variable {
            write!(f, " (from {variable})")?;
        }
        Ok(())
    }
}

/// `host:port`, with an IPv6 host in brackets.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// The proxy for one connection attempt to `target`; `vars` reads an environment variable.
pub(crate) fn resolve(
    proxy: &Proxy,
    target: &Target,
    vars: &impl Fn(&str) -> Option<String>,
) -> Result<Option<ResolvedProxy>, TransportError> {
    let configured = |kind, address: &str, credentials: &Option<(String, String)>| {
        let (host, port) = split_address(address)?;
        let credentials = credentials
            .as_ref()
            .map(|(user, password)| Credentials { user: user.clone(), password: password.clone() });
        Ok(Some(ResolvedProxy { kind, host, port, credentials, variable: None }))
    };
    match proxy {
        Proxy::None => Ok(None),
        Proxy::FromEnvironment => env::proxy_for(target.secure, &target.host, target.port, vars),
        Proxy::Http(http) => configured(Kind::Http, &http.address, &http.credentials),
        Proxy::Socks5(socks) => configured(
            Kind::Socks5 { resolve_at_proxy: socks.resolve_at_proxy },
            &socks.address,
            &socks.credentials,
        ),
    }
}

/// Splits a checked `host:port` proxy address.
pub(crate) fn split_address(address: &str) -> Result<(String, u16), TransportError> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| TransportError::new(format!("proxy address {address:?} is not host:port")))?;
    let port = port
        .parse()
        .map_err(|_| TransportError::new(format!("proxy port in {address:?} is not a number")))?;
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), port))
}

/// Writes `bytes` to the proxy within what is left of `budget`; `step` names what for.
fn write_all(
    mut tcp: &TcpStream,
    bytes: &[u8],
    proxy: &ResolvedProxy,
    step: &str,
    budget: &DialBudget,
) -> Result<(), TransportError> {
    tcp.set_write_timeout(Some(budget.remaining(step)?))
        .map_err(|err| TransportError::with_source("cannot set a write timeout", err))?;
    tcp.write_all(bytes).map_err(|err| budget.io_failure(step, &format!("cannot write to the {proxy}"), err))
}

/// Fills `buf` from the proxy, reading no byte beyond it, within what is left of `budget`.
fn read_exact(
    mut tcp: &TcpStream,
    buf: &mut [u8],
    proxy: &ResolvedProxy,
    step: &str,
    budget: &DialBudget,
) -> Result<(), TransportError> {
    let mut filled = 0;
    while filled < buf.len() {
        tcp.set_read_timeout(Some(budget.remaining(step)?))
            .map_err(|err| TransportError::with_source("cannot set a read timeout", err))?;
        match tcp.read(&mut buf[filled..]) {
            Ok(0) => return Err(TransportError::new(format!("connection closed while {step}"))),
            Ok(read) => filled += read,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => {
                return Err(budget.io_failure(step, &format!("cannot read from the {proxy}"), err));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HttpProxy, Socks5Proxy};

    fn target(host: &str) -> Target {
        Target { host: host.into(), port: 8000, secure: false }
    }

    #[test]
    fn proxy_addresses_split_into_host_and_port() {
        assert_eq!(split_address("proxy.local:3128").unwrap(), ("proxy.local".to_string(), 3128));
        assert_eq!(split_address("[::1]:8080").unwrap(), ("::1".to_string(), 8080));
        assert!(split_address("nohost").is_err());
        assert!(split_address("host:port").is_err());
    }

    #[test]
    fn a_configured_proxy_ignores_the_environment_and_none_goes_direct() {
        let env = |name: &str| (name == "HTTP_PROXY").then(|| "http://env-proxy:3128".to_string());
        let http = Proxy::from(HttpProxy::new("[::1]:3128").basic_auth("user", "pw"));
        let resolved = resolve(&http, &target("server"), &env).unwrap().unwrap();
        assert_eq!((resolved.kind, resolved.host.as_str(), resolved.port), (Kind::Http, "::1", 3128));
        assert_eq!(resolved.credentials.as_ref().unwrap().password, "pw");
        assert_eq!(resolved.to_string(), "HTTP proxy [::1]:3128");
        assert!(!format!("{resolved:?}").contains("pw"));

        let socks = Proxy::from(Socks5Proxy::new("socks:1080").resolve_at_proxy(true));
        let resolved = resolve(&socks, &target("server"), &env).unwrap().unwrap();
        assert_eq!(resolved.kind, Kind::Socks5 { resolve_at_proxy: true });
        assert_eq!(resolved.to_string(), "SOCKS5 proxy socks:1080");

        assert_eq!(resolve(&Proxy::None, &target("server"), &env).unwrap(), None);
        let from_env = resolve(&Proxy::FromEnvironment, &target("server"), &env).unwrap().unwrap();
        assert_eq!(from_env.to_string(), "HTTP proxy env-proxy:3128 (from HTTP_PROXY)");
    }
}
