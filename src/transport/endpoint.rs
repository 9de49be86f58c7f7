//! Endpoint URLs, parsed once when the client is built.
//!
//! One parser: the `http::Uri` that tungstenite's handshake itself takes. The handshake is built
//! from the parsed [`Uri`], never from the text again, so whatever [`Endpoint::parse`] accepts
//! is exactly what is dialed, and a malformed URL is an [`Error::InvalidConfig`] from
//! `Client::new` instead of a transport error retried forever.
//!
//! On top of the URI grammar it refuses what would only fail later, or mean something else than
//! the user thinks: a scheme other than the transport's (`ws`/`wss` for WebSocket, `http`/`https`
//! for HTTP-streaming, SSE and emulation), user info (`user:pw@`; send credentials as a
//! token or a header), a fragment (`#…`, which a WebSocket URL cannot have), an empty host, a
//! port that is not a number from 1 to 65535, an IPv6 literal that does not parse (zone
//! identifiers included: the standard library cannot dial them by name), and a `%` in the path
//! or query that is not followed by two hex digits.

use std::net::Ipv6Addr;

use tungstenite::http::Uri;

use crate::error::Error;
use crate::transports::TransportKind;

/// A checked URL of one of the client's endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// What the WebSocket handshake requests.
    pub(crate) uri: Uri,
    pub(crate) secure: bool,
    /// The host to resolve and to name in TLS, without the brackets of an IPv6 literal.
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Endpoint {
    /// Parses `ws://host[:port][/path][?query]` or `wss://…` for WebSocket, `http://…` or
    /// `https://…` for the others; IPv6 hosts go in brackets.
    pub(crate) fn parse(url: &str, kind: TransportKind) -> Result<Endpoint, Error> {
        // The URL may carry a token in its query: name it by its start only.
        let invalid = |why: String| Error::InvalidConfig(format!("endpoint {}: {why}", shown(url)));
        if let Some((position, character)) =
            url.char_indices().find(|(_, c)| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(format!(
                "{} at byte {position}; percent-encode it (a space is %20) or remove it",
                describe(character)
            )));
        }
        let uri: Uri = url.parse().map_err(|err| invalid(format!("not a valid URL ({err})")))?;
        let (plain, secure) = match kind {
            TransportKind::WebSocket => ("ws", "wss"),
            _ => ("http", "https"),
        };
        let secure = match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case(plain) => false,
            Some(scheme) if scheme.eq_ignore_ascii_case(secure) => true,
            _ => return Err(invalid(format!("the {kind} URL must start with {plain}:// or {secure}://"))),
        };
        let authority = uri.authority().map(|authority| authority.as_str()).unwrap_or_default();
        if authority.contains('@') {
            return Err(invalid(
                "user info (user:password@) is not supported; use a token or a header".into(),
            ));
        }
        if url.contains('#') {
            return Err(invalid("the URL cannot have a fragment (#…)".into()));
        }
        let (host, port_text) = split_authority(authority).map_err(&invalid)?;
        let port = match port_text {
            None => {
                if secure {
                    443
                } else {
                    80
                }
            }
            Some(text) => match text.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => return Err(invalid(format!("the port {text:?} is not a number from 1 to 65535"))),
            },
        };
        if let Some(path) = uri.path_and_query() {
            check_percent_encoding(path.as_str()).map_err(&invalid)?;
        }
        Ok(Endpoint { uri, secure, host, port })
    }

    /// `/emulation` on this endpoint's scheme, host and port: where Centrifugo takes the
    /// commands of HTTP-streaming and SSE connections by default.
    pub(crate) fn emulation(&self) -> Endpoint {
        let mut parts = self.uri.clone().into_parts();
        parts.path_and_query = Some(tungstenite::http::uri::PathAndQuery::from_static("/emulation"));
        let uri = Uri::from_parts(parts).unwrap_or_else(|_| self.uri.clone());
        Endpoint { uri, secure: self.secure, host: self.host.clone(), port: self.port }
    }

    /// The `Host` header: the authority as written (host, and the port if given).
    pub(crate) fn authority(&self) -> &str {
        self.uri.authority().map_or(self.host.as_str(), |authority| authority.as_str())
    }

    /// The request target: path and query.
    pub(crate) fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map_or("/", |path| path.as_str())
    }
}

/// Splits `host[:port]` or `[v6][:port]`; the host is checked, the port only split off.
fn split_authority(authority: &str) -> Result<(String, Option<&str>), String> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (literal, after) = bracketed.split_once(']').ok_or("unclosed '[' in the host")?;
        if literal.contains('%') {
            return Err("IPv6 zone identifiers (%…) are not supported".into());
        }
        literal.parse::<Ipv6Addr>().map_err(|_| format!("[{literal}] is not an IPv6 address"))?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err("unexpected text after the IPv6 address".into()),
        };
        (literal, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    Ok((host.to_string(), port))
}

/// Every `%` must start an escape of two hex digits, or the server refuses the request.
fn check_percent_encoding(path_and_query: &str) -> Result<(), String> {
    let bytes = path_and_query.as_bytes();
    for (position, _) in path_and_query.match_indices('%') {
        let escape = bytes.get(position + 1..position + 3);
        if !escape.is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit)) {
            return Err(format!(
                "'%' at byte {position} of the path and query is not followed by two hex digits; write a literal '%' as %25"
            ));
        }
    }
    Ok(())
}

fn describe(character: char) -> String {
    match character {
        ' ' => "a space".into(),
        '\n' => "a line break".into(),
        '\r' => "a carriage return".into(),
        '\t' => "a tab".into(),
        other => format!("the control character {:?}", other),
    }
}

/// The URL for messages: without its query and user info, which may carry secrets.
fn shown(url: &str) -> String {
    let (before_query, hidden_query) = match url.split_once('?') {
        Some((before, _)) => (before, true),
        None => (url, false),
    };
    let mut shown = before_query.to_string();
    let authority_start = shown.find("://").map_or(0, |at| at + 3);
    let authority_end = shown[authority_start..].find('/').map_or(shown.len(), |at| authority_start + at);
    if let Some(at) = shown[authority_start..authority_end].rfind('@') {
        shown.replace_range(authority_start..authority_start + at, "***");
    }
    match hidden_query {
        true => format!("{shown:?} (query not shown)"),
        false => format!("{shown:?}"),
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
            ("WSS://Example.org/ws", true, "Example.org", 443),
            ("ws://[::1]:9000/ws?x=1", false, "::1", 9000),
            ("wss://[2001:db8::1]/ws", true, "2001:db8::1", 443),
            ("ws://[::ffff:127.0.0.1]:80/", false, "::ffff:127.0.0.1", 80),
            ("ws://127.0.0.1:1/?cf_protocol=protobuf", false, "127.0.0.1", 1),
            ("ws://host/with%20space?q=a%2Fb", false, "host", 80),
            ("ws://host:65535", false, "host", 65535),
        ];
        for (url, secure, host, port) in cases {
            let endpoint = Endpoint::parse(url, TransportKind::WebSocket).unwrap();
            assert_eq!(
                (endpoint.secure, endpoint.host.as_str(), endpoint.port),
                (secure, host, port),
                "{url}"
            );
        }
    }

    #[test]
    fn the_handshake_requests_the_parsed_uri() {
        let endpoint = Endpoint::parse(
            "ws://[::1]:9000/connection/websocket?cf_protocol=protobuf",
            TransportKind::WebSocket,
        )
        .unwrap();
        assert_eq!(
            endpoint.uri.path_and_query().unwrap().as_str(),
            "/connection/websocket?cf_protocol=protobuf"
        );
        assert_eq!(endpoint.uri.host(), Some("[::1]"));
    }

    #[test]
    fn bad_endpoints_say_what_is_wrong() {
        for (url, needle) in [
            // From the issue: each of these used to pass `Client::new` and retry forever.
            ("ws://127.0.0.1:8000/connection/web socket", "a space at byte 34"),
            ("ws://127.0.0. 1:8000/connection/websocket", "a space at byte 13"),
            ("ws://127.0.0.1:8000/connection/websocket\n", "a line break at byte 40"),
            ("ws://127.0.0.1:8000/conn\u{7}ection", "control character '\\u{7}' at byte 24"),
            ("\tws://host/", "a tab at byte 0"),
            // Scheme.
            ("http://localhost:8000", "ws://"),
            ("localhost:8000", "ws://"),
            ("/connection/websocket", "ws://"),
            ("", "not a valid URL"),
            // Host.
            ("ws://", "not a valid URL"),
            ("ws:///x", "not a valid URL"),
            ("ws://:80/x", "host is missing"),
            ("ws://h%41st/x", "not a valid URL"),
            // Port.
            ("ws://host:99999", "port \"99999\""),
            ("ws://host:abc/", "port \"abc\""),
            ("ws://host:/x", "port \"\""),
            ("ws://host:0/x", "port \"0\""),
            ("ws://host:-1/x", "port \"-1\""),
            // IPv6.
            ("ws://[::1", "not a valid URL"),
            ("ws://::1:8000/x", "not a valid URL"),
            ("ws://[zz::1]/x", "[zz::1] is not an IPv6 address"),
            ("ws://[127.0.0.1]/x", "is not an IPv6 address"),
            ("ws://[fe80::1%25eth0]:80/x", "zone identifiers"),
            ("ws://[::1]x/", "unexpected text after the IPv6 address"),
            // User info.
            ("ws://user:pw@host", "user info"),
            ("ws://@host/x", "user info"),
            // Percent-encoding.
            ("ws://host/%zz", "'%' at byte 1"),
            ("ws://host/a%4", "'%' at byte 2"),
            ("ws://host/x?q=%", "'%' at byte 5"),
            // Fragment.
            ("ws://host/x#part", "fragment"),
            ("http://host/connection/websocket", "must start with ws:// or wss://"),
        ] {
            match Endpoint::parse(url, TransportKind::WebSocket) {
                Err(Error::InvalidConfig(why)) => assert!(why.contains(needle), "{url:?}: {why}"),
                other => panic!("{url:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn http_endpoints_take_http_schemes_and_derive_their_emulation_endpoint() {
        let endpoint =
            Endpoint::parse("https://[::1]:8443/connection/http_stream?a=1", TransportKind::HttpStream)
                .unwrap();
        assert!(endpoint.secure);
        assert_eq!(
            (endpoint.authority(), endpoint.path_and_query()),
            ("[::1]:8443", "/connection/http_stream?a=1")
        );
        let emulation = endpoint.emulation();
        assert_eq!((emulation.authority(), emulation.path_and_query()), ("[::1]:8443", "/emulation"));
        assert_eq!(emulation.uri.to_string(), "https://[::1]:8443/emulation");
        match Endpoint::parse("ws://h/connection/sse", TransportKind::Sse) {
            Err(Error::InvalidConfig(why)) => {
                assert!(why.contains("the SSE URL must start with http://"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_endpoint_never_shows_its_query() {
        let Err(Error::InvalidConfig(why)) =
            Endpoint::parse("ws://host:0/?token=secret", TransportKind::WebSocket)
        else {
            panic!("port 0 must be refused");
        };
        assert!(!why.contains("secret"), "{why}");
        assert!(why.contains("ws://host:0/"), "{why}");
    }

    #[test]
    fn a_refused_endpoint_never_shows_its_user_info() {
        let Err(Error::InvalidConfig(why)) =
            Endpoint::parse("wss://me:pa55@host:443/x?token=t", TransportKind::WebSocket)
        else {
            panic!("user info must be refused");
        };
        assert!(!why.contains("pa55") && !why.contains("me:"), "{why}");
        assert!(why.contains("\"wss://***@host:443/x\" (query not shown)"), "{why}");
    }
}
