//! The transports the client speaks, for the tests that must hold over each of them (proxies
//! first of all: every transport dials through the same proxy code, and the tests prove it).

use centrifuge_blocking::ClientConfig;
use centrifuge_test_harness::Centrifugo;

/// One way of reaching the server.
pub struct Transport {
    /// For messages: `websocket`, …
    pub name: &'static str,
    /// The endpoint of `server` for this transport, with `host` as its host (`127.0.0.1`, or
    /// `localhost` for a test of name resolution).
    pub url: fn(server: &Centrifugo, host: &str) -> String,
    /// A configuration that uses this transport (and only it).
    pub config: fn(ClientConfig) -> ClientConfig,
}

/// Every transport the client speaks. When one lands (HTTP-streaming, SSE), add its line here:
/// the tests that loop over this list then cover it too.
pub const ALL: &[Transport] = &[Transport {
    name: "websocket",
    url: |server, host| server.ws_url().replacen("127.0.0.1", host, 1),
    config: |config| config,
}];
