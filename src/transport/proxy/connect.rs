//! HTTP `CONNECT` tunnels (RFC 9110 §9.3.6), with basic auth.
//!
//! The request names the server by host and port (the proxy resolves the name); the answer's
//! head is read byte by byte, so that nothing of the tunnelled connection is consumed, and any
//! 2xx status opens the tunnel.

use std::net::TcpStream;

use super::{ResolvedProxy, host_port, read_exact, write_all};
use crate::error::TransportError;
use crate::transport::DialBudget;

/// The proxy response head may not exceed this many bytes.
const MAX_RESPONSE_HEAD: usize = 8 * 1024;

/// Asks the proxy on `tcp` for a tunnel to `host:port` and checks that it agreed.
pub(crate) fn tunnel(
    tcp: &TcpStream,
    proxy: &ResolvedProxy,
    host: &str,
    port: u16,
    budget: &DialBudget,
) -> Result<(), TransportError> {
    let target = host_port(host, port);
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(credentials) = &proxy.credentials {
        let pair = format!("{}:{}", credentials.user, credentials.password);
        request.push_str(&format!("Proxy-Authorization: Basic {}\r\n", base64(pair.as_bytes())));
    }
    request.push_str("\r\n");
    write_all(tcp, request.as_bytes(), proxy, &format!("sending CONNECT to the {proxy}"), budget)?;

    let step = format!("waiting for the {proxy} to answer CONNECT");
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    // Byte by byte: whatever follows the head belongs to the tunnelled connection.
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_RESPONSE_HEAD {
            return Err(TransportError::new(format!("the {proxy} answered CONNECT with a head over 8 KiB")));
        }
        read_exact(tcp, &mut byte, proxy, &step, budget)?;
        head.push(byte[0]);
    }
    let status_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let status_line = String::from_utf8_lossy(status_line);
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/1.") => code,
        _ => {
            return Err(TransportError::new(format!(
                "the {proxy} answered CONNECT with a malformed status line {status_line:?}"
            )));
        }
    };
    if !(status.len() == 3 && status.starts_with('2')) {
        let hint = match (status, &proxy.credentials) {
            ("407", Some(_)) => " (it wants other credentials)",
            ("407", None) => " (it wants credentials)",
            _ => "",
        };
        return Err(TransportError::new(format!(
            "the {proxy} refused the tunnel to {target}: {status_line}{hint}"
        )));
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
}
