//! The transports the client speaks, for the tests that must hold over each of them (proxies
//! first of all: every transport dials through the same proxy code, and the tests prove it).

use centrifuge_blocking::{Client, ClientConfig, Protocol, TransportEndpoint};
use centrifuge_test_harness::Centrifugo;

use super::events::{self, Events};

/// One way of reaching the server.
pub struct Transport {
    /// For messages: `websocket`, …
    pub name: &'static str,
    /// The wire formats it carries.
    pub protocols: &'static [Protocol],
    /// The endpoint of `server` for this transport, with `host` as its host (`127.0.0.1`, or
    /// `localhost` for a test of name resolution).
    pub url: fn(server: &Centrifugo, host: &str) -> String,
    /// A client for such an endpoint over this transport, and its events.
    pub client: fn(url: &str, config: ClientConfig) -> (Client, Events),
}

/// Every transport the client speaks: the tests that loop over this list cover each.
pub const ALL: &[Transport] = &[
    Transport {
        name: "websocket",
        protocols: &[Protocol::Json, Protocol::Protobuf],
        url: |server, host| server.ws_url().replacen("127.0.0.1", host, 1),
        client: events::client,
    },
    Transport {
        name: "http-stream",
        protocols: &[Protocol::Json, Protocol::Protobuf],
        url: |server, host| server.http_stream_url().replacen("127.0.0.1", host, 1),
        client: |url, config| events::client_on(TransportEndpoint::http_stream(url), config),
    },
    Transport {
        name: "sse",
        protocols: &[Protocol::Json],
        url: |server, host| server.sse_url().replacen("127.0.0.1", host, 1),
        client: |url, config| events::client_on(TransportEndpoint::sse(url), config),
    },
];

/// How many clients a loop over every transport and each of its wire formats makes.
pub fn clients_per_round() -> usize {
    ALL.iter().map(|transport| transport.protocols.len()).sum()
}
