//! The ways to reach Centrifugo: WebSocket, HTTP-streaming and SSE endpoints.

use std::fmt;

/// A transport the client can connect with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// WebSocket (`ws://` or `wss://`; Centrifugo's `/connection/websocket`).
    WebSocket,
    /// HTTP-streaming (`http://` or `https://`; Centrifugo's `/connection/http_stream`, with
    /// `http_stream.enabled`): replies stream back in the response of one POST, commands go as
    /// POSTs to the emulation endpoint. JSON and Protobuf.
    HttpStream,
    /// Server-sent events (`http://` or `https://`; Centrifugo's `/connection/sse`, with
    /// `sse.enabled`): replies stream back as events of one GET, commands go as POSTs to the
    /// emulation endpoint. JSON only. As centrifuge-js does, the connect command (with the
    /// token) travels in the GET's query (`cf_connect`): over plain `http://`, or through
    /// anything that logs URLs, it can be seen; prefer HTTP-streaming, whose connect command is
    /// a POST body.
    Sse,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::WebSocket => "WebSocket",
            TransportKind::HttpStream => "HTTP-streaming",
            TransportKind::Sse => "SSE",
        })
    }
}

/// One way to reach Centrifugo: a transport and its URL.
///
/// `Client::new` takes one (a `&str` converts by its scheme: `ws://`/`wss://` is WebSocket,
/// `http://`/`https://` HTTP-streaming), and
/// [`ClientConfig::fallback_transports`](crate::ClientConfig::fallback_transports) the ones to
/// try after it.
///
/// ```
/// use centrifuge_blocking::{ClientConfig, TransportEndpoint};
///
/// let config = ClientConfig::default().fallback_transports([
///     TransportEndpoint::http_stream("https://example.org/connection/http_stream"),
///     TransportEndpoint::sse("https://example.org/connection/sse"),
/// ]);
/// # let _ = config;
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TransportEndpoint {
    pub(crate) kind: TransportKind,
    pub(crate) url: String,
    pub(crate) emulation: Option<String>,
}

impl TransportEndpoint {
    /// A WebSocket endpoint (`ws://…` or `wss://…`).
    pub fn websocket(url: impl Into<String>) -> TransportEndpoint {
        TransportEndpoint { kind: TransportKind::WebSocket, url: url.into(), emulation: None }
    }

    /// An HTTP-streaming endpoint (`http://…` or `https://…`).
    pub fn http_stream(url: impl Into<String>) -> TransportEndpoint {
        TransportEndpoint { kind: TransportKind::HttpStream, url: url.into(), emulation: None }
    }

    /// An SSE endpoint (`http://…` or `https://…`); JSON only.
    pub fn sse(url: impl Into<String>) -> TransportEndpoint {
        TransportEndpoint { kind: TransportKind::Sse, url: url.into(), emulation: None }
    }

    /// Where an HTTP-streaming or SSE connection sends its commands. Defaults to `/emulation`
    /// on the same scheme, host and port as the endpoint (Centrifugo's default).
    pub fn emulation(mut self, url: impl Into<String>) -> TransportEndpoint {
        self.emulation = Some(url.into());
        self
    }

    /// The transport.
    pub fn kind(&self) -> TransportKind {
        self.kind
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A URL by its scheme: `http://` and `https://` are HTTP-streaming, anything else WebSocket
/// (checked when the client is built).
impl From<&str> for TransportEndpoint {
    fn from(url: &str) -> TransportEndpoint {
        let lower = url.trim_start().to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            TransportEndpoint::http_stream(url)
        } else {
            TransportEndpoint::websocket(url)
        }
    }
}

impl From<String> for TransportEndpoint {
    fn from(url: String) -> TransportEndpoint {
        TransportEndpoint::from(url.as_str())
    }
}

impl From<&String> for TransportEndpoint {
    fn from(url: &String) -> TransportEndpoint {
        TransportEndpoint::from(url.as_str())
    }
}

impl fmt::Debug for TransportEndpoint {
    /// Without the query, which may carry a token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |url: &str| url.split(['?', '#']).next().unwrap_or_default().to_string();
        f.debug_struct("TransportEndpoint")
            .field("kind", &self.kind)
            .field("url", &shown(&self.url))
            .field("emulation", &self.emulation.as_deref().map(shown))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_picks_its_transport_by_scheme() {
        assert_eq!(TransportEndpoint::from("ws://h/connection/websocket").kind(), TransportKind::WebSocket);
        assert_eq!(TransportEndpoint::from("WSS://h/").kind(), TransportKind::WebSocket);
        assert_eq!(
            TransportEndpoint::from("https://h/connection/http_stream").kind(),
            TransportKind::HttpStream
        );
        assert_eq!(TransportEndpoint::from(String::from("http://h/")).kind(), TransportKind::HttpStream);
    }

    #[test]
    fn debug_leaves_the_query_out() {
        let endpoint =
            TransportEndpoint::sse("https://h/connection/sse?token=secret").emulation("https://h/emu?k=v");
        let shown = format!("{endpoint:?}");
        assert!(!shown.contains("secret") && !shown.contains("k=v"), "{shown}");
        assert!(shown.contains("https://h/connection/sse"), "{shown}");
    }
}
