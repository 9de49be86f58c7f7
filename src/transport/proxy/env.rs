//! The proxy the environment names, by curl's rules (documented on [`Proxy`](crate::Proxy)).
//!
//! A pure function of the variables, handed in as a lookup, so that the rules are tested as a
//! table without touching the process's environment. The dialer calls it at every attempt with
//! the real environment.
//!
//! A variable that names a proxy this client cannot use (another scheme, a malformed URL) is an
//! error, not a reason to connect directly: the user asked for a proxy. Its messages name the
//! variable and what is wrong, never the value (it may hold a password).

use std::net::{IpAddr, Ipv6Addr};

use super::{Credentials, Kind, ResolvedProxy};
use crate::config::check_socks5_credentials;
use crate::error::TransportError;

/// The proxy for a server at `host:port` (`secure` for `wss://` and `https://`), as the
/// variables that `vars` reads name it; `None` for a direct connection.
pub(crate) fn proxy_for(
    secure: bool,
    host: &str,
    port: u16,
    vars: &impl Fn(&str) -> Option<String>,
) -> Result<Option<ResolvedProxy>, TransportError> {
    let read = |name: &'static str| vars(name).filter(|value| !value.trim().is_empty()).map(|v| (name, v));
    // A CGI script gets a request's `Proxy:` header as HTTP_PROXY ("httpoxy").
    let cgi = vars("REQUEST_METHOD").is_some();
    let by_scheme: &[&'static str] = match (secure, cgi) {
        (true, _) => &["HTTPS_PROXY", "https_proxy"],
        (false, false) => &["HTTP_PROXY", "http_proxy"],
        (false, true) => &["http_proxy"],
    };
    let Some((variable, value)) =
        by_scheme.iter().chain(&["ALL_PROXY", "all_proxy"]).find_map(|&name| read(name))
    else {
        return Ok(None);
    };
    if let Some((_, list)) = read("NO_PROXY").or_else(|| read("no_proxy")) {
        if bypasses(&list, host, port) {
            return Ok(None);
        }
    }
    parse(variable, value.trim()).map(Some)
}

/// Parses `scheme://[user[:password]@]host[:port][/…]` from `variable`.
fn parse(variable: &'static str, value: &str) -> Result<ResolvedProxy, TransportError> {
    let invalid = |why: &str| {
        TransportError::new(format!(
            "the proxy in {variable} cannot be used: {why}; the client does not connect around it"
        ))
    };
    let (scheme, rest) = match value.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("http".to_string(), value),
    };
    let kind = match scheme.as_str() {
        "http" => Kind::Http,
        "socks5" => Kind::Socks5 { resolve_at_proxy: false },
        "socks5h" => Kind::Socks5 { resolve_at_proxy: true },
        other => {
            let named = if !other.is_empty()
                && other.len() <= 16
                && other.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            {
                format!("{other}://")
            } else {
                "its scheme".to_string()
            };
            return Err(invalid(&format!("{named} is not supported (use http://, socks5:// or socks5h://)")));
        }
    };
    // The last '@' ends the user info: a password may hold a raw '@', '/' or '#'.
    let (user_info, rest) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = split_authority(authority).map_err(&invalid)?;
    let port = match port {
        None | Some("") => match kind {
            Kind::Http => 80,
            Kind::Socks5 { .. } => 1080,
        },
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(invalid("the port is not a number from 1 to 65535")),
        },
    };
    let credentials = match user_info {
        None => None,
        Some(info) => {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            let decode = |text| {
                percent_decode(text)
                    .ok_or_else(|| invalid("the user name or password is not percent-encoded UTF-8"))
            };
            let (user, password) = (decode(user)?, decode(password)?);
            if user.is_empty() && password.is_empty() {
                None
            } else {
                if let Kind::Socks5 { .. } = kind {
                    check_socks5_credentials(&user, &password).map_err(|why| invalid(&why))?;
                }
                Some(Credentials { user, password })
            }
        }
    };
    Ok(ResolvedProxy { kind, host: host.to_string(), port, credentials, variable: Some(variable) })
}

/// `host[:port]` or `[ipv6][:port]`, the host without brackets.
fn split_authority(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (ip, after) = inner.split_once(']').ok_or("a '[' is not closed")?;
        if ip.parse::<Ipv6Addr>().is_err() {
            return Err("the brackets do not hold an IPv6 address");
        }
        match after {
            "" => (ip, None),
            _ => (ip, Some(after.strip_prefix(':').ok_or("something other than a port follows ']'")?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing");
    }
    if !authority.starts_with('[') && host.contains(':') {
        return Err("an IPv6 host goes in brackets");
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control() || "[]%\\".contains(c)) {
        return Err("the host contains a character a host name cannot have");
    }
    Ok((host, port))
}

/// `%XX` sequences to bytes; `None` for a stray `%` or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether the `NO_PROXY` `list` sends a server at `host:port` around the proxy.
fn bypasses(list: &str, host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    list.split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .any(|entry| entry_matches(&entry, &host, ip, port))
}

/// One `NO_PROXY` entry (trimmed, lower case) against the server.
fn entry_matches(entry: &str, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    let Some((pattern, entry_port)) = split_entry(entry) else {
        return false;
    };
    if entry_port.is_some_and(|entry_port| entry_port != port) {
        return false;
    }
    if pattern == "*" {
        return true;
    }
    if pattern.contains('/') {
        return ip.is_some_and(|ip| in_block(ip, pattern));
    }
    if let Ok(entry_ip) = pattern.parse::<IpAddr>() {
        return ip == Some(entry_ip);
    }
    let domain = pattern.strip_prefix("*.").or_else(|| pattern.strip_prefix('.')).unwrap_or(pattern);
    let domain = domain.trim_end_matches('.');
    !domain.is_empty()
        && ip.is_none()
        && (host == domain || host.strip_suffix(domain).is_some_and(|sub| sub.ends_with('.')))
}

/// An entry's pattern and port (`None`: any port); `None` for an entry that cannot match.
fn split_entry(entry: &str) -> Option<(&str, Option<u16>)> {
    if let Some(inner) = entry.strip_prefix('[') {
        let (pattern, after) = inner.split_once(']')?;
        return match after {
            "" => Some((pattern, None)),
            _ => Some((pattern, Some(after.strip_prefix(':')?.parse().ok()?))),
        };
    }
    // A bare IPv6 address or block holds colons that are not a port's.
    if entry.contains('/') || entry.parse::<IpAddr>().is_ok() {
        return Some((entry, None));
    }
    match entry.rsplit_once(':') {
        Some((pattern, port)) => Some((pattern, Some(port.parse().ok()?))),
        None => Some((entry, None)),
    }
}

/// Whether `ip` lies in the CIDR `block` (`10.0.0.0/8`, `fd00::/8`).
fn in_block(ip: IpAddr, block: &str) -> bool {
    let Some((network, length)) = block.split_once('/') else {
        return false;
    };
    let (Ok(network), Ok(length)) = (network.parse::<IpAddr>(), length.parse::<u32>()) else {
        return false;
    };
    let prefix = |bits: u128, width: u32| if length == 0 { 0 } else { bits >> (width - length) };
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) if length <= 32 => {
            prefix(u32::from(ip).into(), 32) == prefix(u32::from(network).into(), 32)
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) if length <= 128 => {
            prefix(u128::from(ip), 128) == prefix(u128::from(network), 128)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a lookup gave, in one line: `http://user:password@host:port from VARIABLE`, `direct`,
    /// or `error: …`.
    fn lookup(vars: &[(&str, &str)], secure: bool, host: &str, port: u16) -> String {
        let env = |name: &str| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string());
        match proxy_for(secure, host, port, &env) {
            Ok(None) => "direct".into(),
            Ok(Some(proxy)) => {
                let scheme = match proxy.kind {
                    Kind::Http => "http",
                    Kind::Socks5 { resolve_at_proxy: false } => "socks5",
                    Kind::Socks5 { resolve_at_proxy: true } => "socks5h",
                };
                let credentials = proxy
                    .credentials
                    .as_ref()
                    .map(|c| format!("{}:{}@", c.user, c.password))
                    .unwrap_or_default();
                let address = super::super::host_port(&proxy.host, proxy.port);
                format!("{scheme}://{credentials}{address} from {}", proxy.variable.unwrap())
            }
            Err(error) => format!("error: {error}"),
        }
    }

    /// Variables set, the server's scheme (`WSS` or `WS`), its host, and what the lookup gives.
    type Row = (&'static [(&'static str, &'static str)], bool, &'static str, &'static str);

    const WS: bool = false;
    const WSS: bool = true;

    #[test]
    fn environment_proxies_follow_curls_rules() {
        #[rustfmt::skip]
        let table: &[Row] = &[
            // Nothing set, or set empty: direct.
            (&[], WSS, "example.com", "direct"),
            (&[("HTTPS_PROXY", ""), ("ALL_PROXY", " ")], WSS, "example.com", "direct"),
            // Which variable: by the server's scheme, then ALL_PROXY; upper case first.
            (&[("HTTPS_PROXY", "http://s:1")], WSS, "example.com", "http://s:1 from HTTPS_PROXY"),
            (&[("HTTPS_PROXY", "http://s:1")], WS, "example.com", "direct"),
            (&[("HTTP_PROXY", "http://p:1")], WS, "example.com", "http://p:1 from HTTP_PROXY"),
            (&[("HTTP_PROXY", "http://p:1")], WSS, "example.com", "direct"),
            (&[("https_proxy", "http://s:2")], WSS, "example.com", "http://s:2 from https_proxy"),
            (&[("HTTPS_PROXY", "http://S:1"), ("https_proxy", "http://s:2")], WSS, "example.com",
                "http://S:1 from HTTPS_PROXY"),
            (&[("HTTPS_PROXY", ""), ("https_proxy", "http://s:2")], WSS, "example.com",
                "http://s:2 from https_proxy"),
            (&[("ALL_PROXY", "socks5://a:1")], WS, "example.com", "socks5://a:1 from ALL_PROXY"),
            (&[("all_proxy", "socks5://a:1")], WSS, "example.com", "socks5://a:1 from all_proxy"),
            (&[("HTTP_PROXY", "http://p:1"), ("ALL_PROXY", "socks5://a:1")], WS, "example.com",
                "http://p:1 from HTTP_PROXY"),
            (&[("HTTP_PROXY", "http://p:1"), ("ALL_PROXY", "socks5://a:1")], WSS, "example.com",
                "socks5://a:1 from ALL_PROXY"),
            // CGI ("httpoxy"): HTTP_PROXY may come from a request header; http_proxy cannot.
            (&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")], WS, "example.com", "direct"),
            (&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1"), ("http_proxy", "http://p:1")],
                WS, "example.com", "http://p:1 from http_proxy"),
            (&[("REQUEST_METHOD", "GET"), ("HTTPS_PROXY", "http://s:1")], WSS, "example.com",
                "http://s:1 from HTTPS_PROXY"),
            // Schemes, default ports, no scheme, paths, IPv6 hosts, case.
            (&[("ALL_PROXY", "http://p")], WS, "example.com", "http://p:80 from ALL_PROXY"),
            (&[("ALL_PROXY", "p.example:3128")], WS, "example.com", "http://p.example:3128 from ALL_PROXY"),
            (&[("ALL_PROXY", "p")], WS, "example.com", "http://p:80 from ALL_PROXY"),
            (&[("ALL_PROXY", "socks5://s")], WS, "example.com", "socks5://s:1080 from ALL_PROXY"),
            (&[("ALL_PROXY", "SOCKS5H://s:9050/")], WS, "example.com", "socks5h://s:9050 from ALL_PROXY"),
            (&[("ALL_PROXY", "http://p:3128/some/path?q#f")], WS, "example.com", "http://p:3128 from ALL_PROXY"),
            (&[("ALL_PROXY", " http://p:3128 ")], WS, "example.com", "http://p:3128 from ALL_PROXY"),
            (&[("ALL_PROXY", "http://[::1]:3128")], WS, "example.com", "http://[::1]:3128 from ALL_PROXY"),
            (&[("ALL_PROXY", "socks5h://[fd00::1]")], WS, "example.com", "socks5h://[fd00::1]:1080 from ALL_PROXY"),
            // Credentials, percent-decoded; a raw '@' or '/' in the password still splits right.
            (&[("ALL_PROXY", "http://user:pass@p:1")], WS, "example.com", "http://user:pass@p:1 from ALL_PROXY"),
            (&[("ALL_PROXY", "socks5://us%65r:p%40ss%3Aw%2Fd@s:1")], WS, "example.com",
                "socks5://user:p@ss:w/d@s:1 from ALL_PROXY"),
            (&[("ALL_PROXY", "http://user:p@ss/w@p:1")], WS, "example.com", "http://user:p@ss/w@p:1 from ALL_PROXY"),
            (&[("ALL_PROXY", "http://user@p:1")], WS, "example.com", "http://user:@p:1 from ALL_PROXY"),
            (&[("ALL_PROXY", "http://@p:1")], WS, "example.com", "http://p:1 from ALL_PROXY"),
            // Unusable values: an error naming the variable, never a direct connection.
            (&[("HTTPS_PROXY", "https://p:443")], WSS, "example.com",
                "error: the proxy in HTTPS_PROXY cannot be used: https:// is not supported (use http://, \
                 socks5:// or socks5h://); the client does not connect around it"),
            (&[("ALL_PROXY", "socks4://s:1080")], WS, "example.com", "error: the proxy in ALL_PROXY \
                cannot be used: socks4:// is not supported (use http://, socks5:// or socks5h://); the \
                client does not connect around it"),
            (&[("ALL_PROXY", "http://p:0")], WS, "example.com", "error: the proxy in ALL_PROXY cannot be \
                used: the port is not a number from 1 to 65535; the client does not connect around it"),
            (&[("ALL_PROXY", "http://p:http")], WS, "example.com", "error: the proxy in ALL_PROXY cannot \
                be used: the port is not a number from 1 to 65535; the client does not connect around it"),
            (&[("ALL_PROXY", "http://:3128")], WS, "example.com", "error: the proxy in ALL_PROXY cannot be \
                used: the host is missing; the client does not connect around it"),
            (&[("ALL_PROXY", "http://::1:3128")], WS, "example.com", "error: the proxy in ALL_PROXY cannot \
                be used: an IPv6 host goes in brackets; the client does not connect around it"),
            (&[("ALL_PROXY", "http://[::1:3128")], WS, "example.com", "error: the proxy in ALL_PROXY cannot \
                be used: a '[' is not closed; the client does not connect around it"),
            (&[("ALL_PROXY", "socks5://:pw@s")], WS, "example.com", "error: the proxy in ALL_PROXY cannot \
                be used: SOCKS5 proxy user name must be 1 to 255 bytes long, not 0; the client does not \
                connect around it"),
            (&[("ALL_PROXY", "http://user:50%@p:1")], WS, "example.com", "error: the proxy in ALL_PROXY \
                cannot be used: the user name or password is not percent-encoded UTF-8; the client does \
                not connect around it"),
            // NO_PROXY: bypassed servers go direct, even when the proxy variable is unusable.
            (&[("ALL_PROXY", "socks4://s"), ("NO_PROXY", "example.com")], WS, "example.com", "direct"),
            (&[("ALL_PROXY", "http://p:1"), ("NO_PROXY", "*")], WS, "example.com", "direct"),
            (&[("ALL_PROXY", "http://p:1"), ("no_proxy", "example.com")], WS, "example.com", "direct"),
            (&[("ALL_PROXY", "http://p:1"), ("NO_PROXY", "other.org"), ("no_proxy", "example.com")], WS,
                "example.com", "http://p:1 from ALL_PROXY"),
            (&[("ALL_PROXY", "http://p:1"), ("NO_PROXY", ""), ("no_proxy", "example.com")], WS,
                "example.com", "direct"),
            (&[("ALL_PROXY", "http://p:1"), ("NO_PROXY", "other.org")], WS, "example.com",
                "http://p:1 from ALL_PROXY"),
        ];
        for (vars, secure, host, expected) in table {
            assert_eq!(lookup(vars, *secure, host, 443), *expected, "{vars:?} secure={secure} {host}");
        }
    }

    #[test]
    fn no_proxy_entries_match_as_curl_reads_them() {
        #[rustfmt::skip]
        let table: &[(&str, &str, u16, bool)] = &[
            // `*` alone matches everything; elsewhere it is no wildcard.
            ("*", "example.com", 443, true),
            ("*", "10.0.0.1", 443, true),
            (" foo.org , * ", "example.com", 443, true),
            ("*example.com", "example.com", 443, false),
            // Domains: themselves and subdomains, leading dot (or `*.`) optional, any case.
            ("example.com", "example.com", 443, true),
            ("example.com", "ws.example.com", 443, true),
            ("example.com", "a.b.example.com", 443, true),
            (".example.com", "example.com", 443, true),
            (".example.com", "ws.example.com", 443, true),
            ("*.example.com", "ws.example.com", 443, true),
            ("EXAMPLE.com", "Ws.Example.COM", 443, true),
            ("example.com.", "example.com", 443, true),
            ("example.com", "example.com.", 443, true),
            ("example.com", "badexample.com", 443, false),
            ("example.com", "example.com.evil.org", 443, false),
            ("ws.example.com", "example.com", 443, false),
            ("localhost", "localhost", 443, true),
            ("localhost", "127.0.0.1", 443, false),
            ("", "example.com", 443, false),
            (" , ,", "example.com", 443, false),
            // Ports: an entry with one matches that port only.
            ("example.com:8000", "example.com", 8000, true),
            ("example.com:8000", "example.com", 443, false),
            ("example.com:http", "example.com", 80, false),
            ("*:8000", "anything.org", 8000, true),
            ("*:8000", "anything.org", 8001, false),
            // IP addresses and blocks match IP-literal servers only.
            ("127.0.0.1", "127.0.0.1", 443, true),
            ("127.0.0.1", "127.0.0.2", 443, false),
            ("127.0.0.1", "localhost", 443, false),
            ("127.0.0.1:8000", "127.0.0.1", 8000, true),
            ("127.0.0.1:8000", "127.0.0.1", 8001, false),
            ("10.0.0.0/8", "10.20.30.40", 443, true),
            ("10.0.0.0/8", "11.0.0.1", 443, false),
            ("192.168.1.0/24", "192.168.1.255", 443, true),
            ("192.168.1.0/24", "192.168.2.1", 443, false),
            ("0.0.0.0/0", "8.8.8.8", 443, true),
            ("0.0.0.0/0", "::1", 443, false),
            ("10.0.0.0/33", "10.0.0.1", 443, false),
            ("10.0.0.0/8", "ten.example", 443, false),
            ("::1", "::1", 443, true),
            ("[::1]", "::1", 443, true),
            ("[::1]:8000", "::1", 8000, true),
            ("[::1]:8000", "::1", 8001, false),
            ("::1", "::2", 443, false),
            ("fd00::/8", "fd12:3456::1", 443, true),
            ("fd00::/8", "fe80::1", 443, false),
            ("::/0", "2001:db8::1", 443, true),
            ("::/0", "10.0.0.1", 443, false),
            // Several entries: any one matching is enough.
            ("foo.org,10.0.0.0/8,example.com", "example.com", 443, true),
            ("foo.org,10.0.0.0/8,example.com", "10.1.1.1", 443, true),
            ("foo.org,10.0.0.0/8,example.com", "bar.org", 443, false),
        ];
        for (list, host, port, expected) in table {
            assert_eq!(bypasses(list, host, *port), *expected, "NO_PROXY={list:?} server {host}:{port}");
        }
    }

    #[test]
    fn errors_name_the_variable_and_never_the_credentials() {
        for value in [
            "socks4://alice:hunter2@s:1080",
            "https://alice:hunter2@p:443",
            "http://alice:hunter2@p:0",
            "http://alice:hunter2@:3128",
            "http://alice:hunter2@[::1",
            "http://alice:hunter2%zz@p:1",
            "alice:hunter2/x:y@p:z",
            "socks5://alice:hunter2@s:1080/".replace("hunter2", &"hunter2".repeat(40)).leak(),
            "weird\u{1}scheme-with-hunter2://alice@p",
        ] {
            let text = lookup(&[("HTTPS_PROXY", value)], WSS, "example.com", 443);
            assert!(text.starts_with("error: the proxy in HTTPS_PROXY cannot be used"), "{value}: {text}");
            assert!(!text.contains("hunter2") && !text.contains("alice"), "{value}: {text}");
        }
    }
}
