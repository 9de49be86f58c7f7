//! Dev-only test harness for centrifuge-blocking: a real Centrifugo for every test run.
//!
//! - [`Centrifugo`] starts a real Centrifugo v6 on a free 127.0.0.1 port with the project's
//!   configuration ([`config`]) and stops it when dropped. [`Centrifugo::shared`] hands the
//!   tests of one process a common server that stops when the last of them lets go.
//! - The binary comes from `CENTRIFUGO_BIN`, else a v6 `centrifugo` on `PATH`, else it is built
//!   once from the Go module proxy (`go install ...@v6.9.1`) and cached under `target/`
//!   ([`binary`]).
//! - No Centrifugo outlives the test process: each one runs under a small shell guardian that
//!   kills it when the test process's end of a pipe closes, which happens however the process
//!   ends (normal exit, panic, `SIGKILL`).
//! - [`Claims`] mints HS256 connection and subscription tokens, [`ServerApi`] drives the server
//!   HTTP API, and [`RpcBackend`] is the RPC proxy backend the configuration points at.

mod api;
mod backend;
pub mod binary;
mod centrifugo;
pub mod config;
mod jwt;
mod tls;

pub use api::{ApiError, ServerApi};
pub use backend::{
    RPC_FAIL_CODE, RPC_FAIL_MESSAGE, RPC_FAIL_METHOD, RPC_SLOW_DELAY, RPC_SLOW_METHOD, RpcBackend,
    slow_calls_started,
};
pub use centrifugo::{Centrifugo, unused_port};
pub use jwt::Claims;
pub use tls::TestCertificates;

/// The HMAC secret the test server verifies tokens with.
pub const HMAC_SECRET: &str = "centrifuge-blocking-test-secret";

/// The key for the server HTTP API.
pub const API_KEY: &str = "centrifuge-blocking-test-api-key";

/// The Centrifugo version the harness builds when no binary is given.
pub const CENTRIFUGO_VERSION: &str = "6.9.1";
