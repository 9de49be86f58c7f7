//! The WebSocket endpoint URL.

use crate::error::Error;

/// A checked `ws://` or `wss://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) secure: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Endpoint {
    /// Parses `ws://host[:port]/path` or `wss://...`; IPv6 hosts go in brackets.
    pub(crate) fn parse(url: &str) -> Result<Endpoint, Error> {
        let invalid = |why: &str| Error::InvalidConfig(format!("endpoint {url:?}: {why}"));
        let (secure, rest) = if let Some(rest) = url.strip_prefix("ws://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("wss://") {
            (true, rest)
        } else {
            return Err(invalid("must start with ws:// or wss://"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(invalid("user info in the URL is not supported; use a header or a token"));
        }
        let default_port = if secure { 443 } else { 80 };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) =
                bracketed.split_once(']').ok_or_else(|| invalid("unclosed '[' in the host"))?;
            let port = match after.strip_prefix(':') {
                Some(port) => {
                    port.parse().map_err(|_| invalid("the port is not a number from 0 to 65535"))?
                }
                None if after.is_empty() => default_port,
                None => return Err(invalid("unexpected text after the host")),
            };
            (host.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (
                    host.to_string(),
                    port.parse().map_err(|_| invalid("the port is not a number from 0 to 65535"))?,
                ),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(invalid("the host is missing"));
        }
        Ok(Endpoint { url: url.to_string(), secure, host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_into_host_port_and_security() {
        let cases = [
            ("ws://localhost:8000/connection/websocket", false, "localhost", 8000),
            ("wss://example.org/connection/websocket", true, "example.org", 443),
            ("ws://example.org", false, "example.org", 80),
            ("ws://[::1]:9000/ws?x=1", false, "::1", 9000),
            ("wss://[2001:db8::1]/ws", true, "2001:db8::1", 443),
            ("ws://127.0.0.1:1/?cf_protocol=protobuf", false, "127.0.0.1", 1),
        ];
        for (url, secure, host, port) in cases {
            let endpoint = Endpoint::parse(url).unwrap();
            assert_eq!(
                (endpoint.secure, endpoint.host.as_str(), endpoint.port),
                (secure, host, port),
                "{url}"
            );
        }
    }

    #[test]
    fn bad_endpoints_say_what_is_wrong() {
        for (url, needle) in [
            ("http://localhost:8000", "ws://"),
            ("localhost:8000", "ws://"),
            ("ws://", "host is missing"),
            ("ws://:80/x", "host is missing"),
            ("ws://host:99999", "port"),
            ("ws://host:abc", "port"),
            ("ws://[::1", "unclosed"),
            ("ws://user:pw@host", "user info"),
        ] {
            match Endpoint::parse(url) {
                Err(Error::InvalidConfig(why)) => assert!(why.contains(needle), "{url}: {why}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
