//! Endpoint URLs, parsed once when the client is built.
//!
//! One parser, this one: the handshake and the HTTP requests are written from the parts it
//! keeps (host, port, authority, path and query), never from the text again, so whatever
//! [`Endpoint::parse`] accepts is exactly what is dialed, and a malformed URL is an
//! [`Error::InvalidConfig`] from `Client::new` instead of a transport error retried forever.
//!
//! The grammar is the part of RFC 3986 an endpoint uses: `scheme://authority[path][?query]`.
//! It refuses what would only fail later, or mean something else than the user thinks: a
//! scheme other than the transport's (`ws`/`wss` for WebSocket, `http`/`https` for
//! HTTP-streaming, SSE and emulation), user info (`user:pw@`; send credentials as a token or a
//! header), a fragment (`#…`, which a WebSocket URL cannot have), an empty host, a host with
//! characters a host name cannot have (international names go in punycode, `xn--…`), an IPv6
//! address outside brackets, a port that is not a number from 1 to 65535, an IPv6 literal that
//! does not parse (zone identifiers included: the standard library cannot dial them by name),
//! and a `%` in the path or query that is not followed by two hex digits. Whitespace and control
//! characters are refused anywhere. In the path and query, characters RFC 3986 does not allow
//! there (non-ASCII, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`) are percent-encoded, as
//! browsers do, so that strict servers and proxies take the request; the rest is sent as
//! written.

use std::net::Ipv6Addr;

use crate::error::Error;
use crate::transports::TransportKind;

/// A checked URL of one of the client's endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) secure: bool,
    /// The host to resolve and to name in TLS, without the brackets of an IPv6 literal.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The authority as written (host, and the port if given): the `Host` header.
    authority: String,
    /// The request target: the path (`/` when the URL has none) and the query.
    path_and_query: String,
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
        if url.is_empty() {
            return Err(invalid("the URL is empty".into()));
        }
        let (plain, secure) = match kind {
            TransportKind::WebSocket => ("ws", "wss"),
            _ => ("http", "https"),
        };
        let (scheme, after_scheme) = url.split_once("://").unwrap_or(("", url));
        let secure = if scheme.eq_ignore_ascii_case(plain) {
            false
        } else if scheme.eq_ignore_ascii_case(secure) {
            true
        } else {
            return Err(invalid(format!("the {kind} URL must start with {plain}:// or {secure}://")));
        };
        let authority_end = after_scheme.find(['/', '?', '#']).unwrap_or(after_scheme.len());
        let (authority, path_and_query) = after_scheme.split_at(authority_end);
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
                Ok(port) if port > 0 && text.bytes().all(|byte| byte.is_ascii_digit()) => port,
                _ => return Err(invalid(format!("the port {text:?} is not a number from 1 to 65535"))),
            },
        };
        check_percent_encoding(path_and_query).map_err(&invalid)?;
        let path_and_query = match percent_encode_unsafe(path_and_query) {
            path if path.is_empty() => "/".to_string(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path,
        };
        Ok(Endpoint { secure, host, port, authority: authority.to_string(), path_and_query })
    }

    /// `/emulation` on this endpoint's scheme, host and port: where Centrifugo takes the
    /// commands of HTTP-streaming and SSE connections by default.
    pub(crate) fn emulation(&self) -> Endpoint {
        Endpoint { path_and_query: "/emulation".into(), ..self.clone() }
    }

    /// The `Host` header: the authority as written (host, and the port if given).
    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    /// The request target: path and query.
    pub(crate) fn path_and_query(&self) -> &str {
        &self.path_and_query
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
    if !authority.starts_with('[') {
        if host.contains(':') {
            return Err("an IPv6 address must be written in brackets, as in ws://[::1]:8000/".into());
        }
        if let Some(character) = host.chars().find(|&c| !is_host_character(c)) {
            return Err(format!(
                "the host cannot contain {character:?}; write an international name in punycode (xn--…)"
            ));
        }
    }
    Ok((host.to_string(), port))
}

/// What a registered host name may hold (RFC 3986 `reg-name` without percent-encoding, which
/// no resolver understands).
fn is_host_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || "-._~!$&'()*+,;=".contains(character)
}

/// `text` with every byte RFC 3986 allows in neither a path nor a query written as `%XX`.
fn percent_encode_unsafe(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii() && !b"\"<>\\^`{|}".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
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
    fn the_requests_carry_the_authority_and_target_as_written() {
        for (url, authority, target) in [
            (
                "ws://[::1]:9000/connection/websocket?cf_protocol=protobuf",
                "[::1]:9000",
                "/connection/websocket?cf_protocol=protobuf",
            ),
            ("ws://Example.org", "Example.org", "/"),
            ("ws://example.org?token=t", "example.org", "/?token=t"),
            ("ws://example.org:8000/", "example.org:8000", "/"),
            ("ws://host/caf\u{e9}/\"quoted\"?q={}", "host", "/caf%C3%A9/%22quoted%22?q=%7B%7D"),
            ("ws://host/a%20b/<x>?q=a|b&r=^`\\", "host", "/a%20b/%3Cx%3E?q=a%7Cb&r=%5E%60%5C"),
        ] {
            let endpoint = Endpoint::parse(url, TransportKind::WebSocket).unwrap();
            assert_eq!((endpoint.authority(), endpoint.path_and_query()), (authority, target), "{url}");
        }
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
            ("", "the URL is empty"),
            // Host.
            ("ws://", "host is missing"),
            ("ws:///x", "host is missing"),
            ("ws://:80/x", "host is missing"),
            ("ws://h%41st/x", "cannot contain '%'"),
            // Port.
            ("ws://host:99999", "port \"99999\""),
            ("ws://host:abc/", "port \"abc\""),
            ("ws://host:/x", "port \"\""),
            ("ws://host:0/x", "port \"0\""),
            ("ws://host:-1/x", "port \"-1\""),
            ("ws://host:+80/x", "port \"+80\""),
            // IPv6.
            ("ws://[::1", "unclosed '['"),
            ("ws://::1:8000/x", "must be written in brackets"),
            ("ws://[zz::1]/x", "[zz::1] is not an IPv6 address"),
            ("ws://[127.0.0.1]/x", "is not an IPv6 address"),
            ("ws://[fe80::1%25eth0]:80/x", "zone identifiers"),
            ("ws://[::1]x/", "unexpected text after the IPv6 address"),
            // Host names.
            ("ws://caf\u{e9}.example/x", "punycode"),
            ("ws://ho\\st/x", "cannot contain '\\\\'"),
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
