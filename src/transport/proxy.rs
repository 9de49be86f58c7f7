//! HTTP `CONNECT` tunnels.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::DialBudget;
use crate::config::HttpProxy;
use crate::error::TransportError;

/// The proxy response head may not exceed this many bytes.
const MAX_RESPONSE_HEAD: usize = 8 * 1024;

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

/// Asks the proxy on `tcp` for a tunnel to `host:port` and checks that it agreed.
pub(crate) fn tunnel(
    mut tcp: &TcpStream,
    proxy: &HttpProxy,
    host: &str,
    port: u16,
    budget: &DialBudget,
) -> Result<(), TransportError> {
    const STEP: &str = "waiting for the proxy's answer to CONNECT";
    let target = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((user, password)) = &proxy.credentials {
        request.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            base64(format!("{user}:{password}").as_bytes())
        ));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .map_err(|err| budget.io_failure("sending CONNECT to the proxy", "cannot write to the proxy", err))?;

    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    // Byte by byte: whatever follows the head belongs to the tunnelled connection.
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_RESPONSE_HEAD {
            return Err(TransportError::new("proxy response head is too long"));
        }
        match tcp.read(&mut byte) {
            Ok(0) => return Err(TransportError::new("proxy closed the connection during CONNECT")),
            Ok(_) => head.push(byte[0]),
            Err(err) => return Err(budget.io_failure(STEP, "cannot read the proxy's answer", err)),
        }
    }
    let status_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let status_line = String::from_utf8_lossy(status_line);
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/1.") => code,
        _ => {
            return Err(TransportError::new(format!(
                "proxy answered with a malformed status line {status_line:?}"
            )));
        }
    };
    if status != "200" {
        return Err(TransportError::new(format!("proxy refused the tunnel: {status_line}")));
    }
    Ok(())
}

/// Standard base64 with padding, for the basic auth header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let bytes = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for (index, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if index <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("user:pa55", "dXNlcjpwYTU1"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input}");
        }
    }

    #[test]
    fn proxy_addresses_split_into_host_and_port() {
        assert_eq!(split_address("proxy.local:3128").unwrap(), ("proxy.local".to_string(), 3128));
        assert_eq!(split_address("[::1]:8080").unwrap(), ("::1".to_string(), 8080));
        assert!(split_address("nohost").is_err());
        assert!(split_address("host:port").is_err());
    }
}
