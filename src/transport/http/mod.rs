//! Just enough HTTP/1.1 for the HTTP-streaming and SSE transports and their emulation
//! requests, over a stream from the dialer: writing a request, reading a response head
//! (`httparse`, bounded), and decoding a body (chunked, by length, or until the connection
//! closes). No HTTP/2 is ever offered, no redirect is followed.
//!
//! Why not an HTTP crate. ureq 3 (blocking, maintained) was the candidate: without its default
//! features it adds five crates to this one's build (ureq, ureq-proto, base64,
//! percent-encoding, utf8-zero; http, httparse, bytes and log are here already). But it dials
//! by itself, with its own DNS, proxy and TLS code: using it would mean two dialers, two proxy
//! implementations and two TLS setups, the HTTP transports no longer bounded step by step by
//! `connect_timeout` nor cancellable by `DialControl` like WebSocket. Plugging our dialer into
//! it goes through its `unversioned` transport API, outside its semver. What it would replace
//! here is small: writing a request and reading a head (the first half of this file) and the
//! chunked decoder (`chunked`, about 150 lines without its tests); cutting messages out of a
//! streamed body (`messages`) is needed either way.

pub(crate) mod chunked;
pub(crate) mod messages;

use std::fmt::Write as _;
use std::io::Read;

use chunked::{ChunkedDecoder, ChunkedError};

use super::DialBudget;
use crate::config::is_valid_header;
use crate::error::TransportError;

/// The longest response head accepted.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// How many headers a response may have (as many as tungstenite's handshake took).
const MAX_HEADERS: usize = 124;

/// A request to write.
pub(crate) struct Request<'a> {
    pub(crate) method: &'static str,
    /// The path and query, as sent on the request line.
    pub(crate) target: &'a str,
    /// The `Host` header: the URL's authority.
    pub(crate) host: &'a str,
    /// The headers the transport itself sets (`Content-Type`, `Accept`, the WebSocket upgrade),
    /// written before the application's.
    pub(crate) transport_headers: &'a [(&'static str, &'a str)],
    /// The application's extra headers (`ClientConfig::header`).
    pub(crate) headers: &'a [(String, String)],
    pub(crate) body: &'a [u8],
}

impl Request<'_> {
    /// The request head and body, ready to write in one go.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, TransportError> {
        let mut head = String::with_capacity(256);
        let _ = write!(head, "{} {} HTTP/1.1\r\nHost: {}\r\n", self.method, self.target, self.host);
        for (name, value) in self.transport_headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        for (name, value) in self.headers {
            // `Client::new` has refused these already; checked again where they are written.
            if !is_valid_header(name, value) {
                return Err(TransportError::new(format!("header {name:?} is not a valid HTTP header")));
            }
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if self.method == "POST" {
            let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body);
        Ok(bytes)
    }
}

/// A response head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: u16,
    /// The reason phrase of the status line ("Forbidden"), possibly empty.
    pub(crate) reason: String,
    /// Every header, its name in lower case, its value trimmed.
    headers: Vec<(String, String)>,
    pub(crate) body: Body,
    /// Bytes that came after the head in the same reads: the start of the body.
    pub(crate) rest: Vec<u8>,
}

impl Head {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The value of the first header named `name` (in lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub(crate) fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// Whether the server asks to close the connection after this response.
    pub(crate) fn asks_to_close(&self) -> bool {
        self.header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }

    /// Whether the body is an HTML page (what captive portals and many proxies answer with).
    pub(crate) fn is_html(&self) -> bool {
        self.content_type()
            .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("text/html"))
    }
}

/// Reads a response head from `stream`, within the dial budget when there is one. `step`
/// names the request in errors (e.g. "waiting for the HTTP-streaming response").
pub(crate) fn read_head(
    stream: &mut impl Read,
    budget: Option<&DialBudget>,
    step: &str,
) -> Result<Head, TransportError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut scratch = [0u8; 4096];
    loop {
        if let Some(budget) = budget {
            // A server that trickles its head must not stretch the dial past its budget.
            budget.remaining(step)?;
        }
        let read = stream.read(&mut scratch).map_err(|err| match budget {
            Some(budget) => budget.io_failure(step, &format!("{step}: read failed"), err),
            None => TransportError::with_source(format!("{step}: read failed"), err),
        })?;
        if read == 0 {
            return Err(TransportError::new(format!(
                "{step}: the server closed the connection without a response"
            )));
        }
        buffer.extend_from_slice(&scratch[..read]);
        if let Some(head) = parse_head(&buffer, step)? {
            return Ok(head);
        }
        if buffer.len() > MAX_HEAD {
            return Err(TransportError::new(format!(
                "{step}: the response head is longer than {MAX_HEAD} bytes"
            )));
        }
    }
}

/// Parses a complete head at the start of `buffer`; `None` while it is incomplete.
pub(crate) fn parse_head(buffer: &[u8], step: &str) -> Result<Option<Head>, TransportError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(TransportError::new(format!(
                "{step}: the response has more than {MAX_HEADERS} headers"
            )));
        }
        Err(err) => return Err(TransportError::new(format!("{step}: not an HTTP response ({err})"))),
    };
    let status = response.code.unwrap_or(0);
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .map(|header| {
            let value = String::from_utf8_lossy(header.value).trim().to_string();
            (header.name.to_ascii_lowercase(), value)
        })
        .collect();
    let header = |name: &str| find_header(&headers, name);
    let chunked =
        header("transfer-encoding").is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        Body::Chunked(ChunkedDecoder::default())
    } else if let Some(length) = header("content-length") {
        let length = length
            .parse()
            .map_err(|_| TransportError::new(format!("{step}: invalid Content-Length {length:?}")))?;
        Body::Length(length)
    } else if status == 204 || status == 304 || status == 101 {
        // 101: what follows the head belongs to the protocol switched to, not to a body.
        Body::Length(0)
    } else {
        Body::UntilClose
    };
    let reason = response.reason.unwrap_or_default().trim().to_string();
    Ok(Some(Head { status, reason, headers, body, rest: buffer[length..].to_vec() }))
}

/// The value of the first of `headers` named `name` (names in lower case).
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(header, _)| header == name).map(|(_, value)| value.as_str())
}

/// How a response body ends.
#[derive(Debug)]
pub(crate) enum Body {
    Chunked(ChunkedDecoder),
    /// This many bytes are left.
    Length(u64),
    /// The body ends when the connection does.
    UntilClose,
}

impl Body {
    /// Decodes `input` into body bytes appended to `out`; returns how many input bytes belong
    /// to the body.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkedError> {
        match self {
            Body::Chunked(decoder) => decoder.feed(input, out),
            Body::Length(left) => {
                let take = input.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                out.extend_from_slice(&input[..take]);
                *left -= take as u64;
                Ok(take)
            }
            Body::UntilClose => {
                out.extend_from_slice(input);
                Ok(input.len())
            }
        }
    }

    /// Whether the body is complete (never, for a body that ends with the connection).
    pub(crate) fn is_done(&self) -> bool {
        match self {
            Body::Chunked(decoder) => decoder.is_done(),
            Body::Length(left) => *left == 0,
            Body::UntilClose => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_request_has_its_head_and_body() {
        let headers = vec![("X-App".to_string(), "1".to_string())];
        let request = Request {
            method: "POST",
            target: "/connection/http_stream?x=1",
            host: "example.org:8000",
            transport_headers: &[("Content-Type", "application/json"), ("Accept", "application/json")],
            headers: &headers,
            body: b"{\"id\":1}",
        };
        assert_eq!(
            String::from_utf8(request.encode().unwrap()).unwrap(),
            "POST /connection/http_stream?x=1 HTTP/1.1\r\nHost: example.org:8000\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nX-App: 1\r\nContent-Length: 8\r\n\r\n{\"id\":1}"
        );
    }

    #[test]
    fn headers_that_would_break_the_request_are_refused() {
        for (name, value) in [("X-A", "1\r\nEvil: 2"), ("Bad Name", "1"), ("", "1"), ("X:Y", "1")] {
            let headers = vec![(name.to_string(), value.to_string())];
            let request = Request {
                method: "GET",
                target: "/",
                host: "h",
                transport_headers: &[],
                headers: &headers,
                body: b"",
            };
            assert!(request.encode().is_err(), "{name:?}: {value:?}");
        }
    }

    #[test]
    fn heads_parse_with_their_body_framing_and_what_follows() {
        let head = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n", "test")
            .unwrap()
            .unwrap();
        assert!(matches!(head.body, Body::Chunked(_)) && head.is_success() && !head.is_html());
        assert_eq!(head.rest, b"5\r\n");
        let head = parse_head(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 3\r\n\r\n",
            "t",
        )
        .unwrap()
        .unwrap();
        assert!(head.is_html() && matches!(head.body, Body::Length(3)));
        let head = parse_head(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", "t").unwrap().unwrap();
        assert!(head.asks_to_close() && head.body.is_done());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-", "t").unwrap().is_none(), "incomplete");
        let error = parse_head(b"<html>\r\n\r\n", "t").unwrap_err();
        assert!(error.to_string().contains("not an HTTP response"), "{error}");
        let error = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "t").unwrap_err();
        assert!(error.to_string().contains("Content-Length"), "{error}");
    }

    #[test]
    fn an_endless_head_is_refused() {
        let mut endless = std::io::repeat(b'a');
        let mut prefixed = std::io::Read::chain(&b"HTTP/1.1 200 OK\r\nX: "[..], &mut endless);
        let error = read_head(&mut prefixed, None, "test").unwrap_err();
        assert!(error.to_string().contains("longer than"), "{error}");
    }

    #[test]
    fn bodies_end_by_length_or_chunks() {
        let mut body = Body::Length(3);
        let mut out = Vec::new();
        assert_eq!(body.feed(b"abcdef", &mut out).unwrap(), 3);
        assert!(body.is_done());
        assert_eq!(out, b"abc");
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::chunked::ChunkedDecoder;
    use super::messages::{Framing, MessageCutter};

    proptest! {
        /// Any bytes, split anywhere: the chunked decoder never panics and never puts out more
        /// than it was given.
        #[test]
        fn chunked_decoding_never_panics_and_only_shrinks(body in prop::collection::vec(any::<u8>(), 0..2048), piece in 1usize..64) {
            let mut decoder = ChunkedDecoder::default();
            let mut out = Vec::new();
            let mut fed = 0;
            for part in body.chunks(piece) {
                fed += part.len();
                match decoder.feed(part, &mut out) {
                    Ok(took) => prop_assert!(took <= part.len()),
                    Err(_) => break,
                }
            }
            // Chunk data is a part of what was fed: de-chunking only removes bytes.
            prop_assert!(out.len() <= fed);
        }

        /// Any bytes in any framing: the cutter never panics, hands out no more than it got, and
        /// keeps no more than the limit pending.
        #[test]
        fn cutting_messages_never_panics_and_stays_bounded(body in prop::collection::vec(any::<u8>(), 0..2048), framing in 0u8..3, piece in 1usize..64) {
            let framing = [Framing::JsonLines, Framing::Varints, Framing::ServerSentEvents][usize::from(framing)];
            let limit = 256;
            let mut cutter = MessageCutter::new(framing, limit);
            let mut out = 0;
            for part in body.chunks(piece) {
                match cutter.push(part) {
                    Ok(batch) => out += batch.map_or(0, |batch| batch.len()),
                    Err(_) => break,
                }
                prop_assert!(cutter.pending() <= limit, "{} pending", cutter.pending());
            }
            prop_assert!(out <= body.len());
        }
    }
}
