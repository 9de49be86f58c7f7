//! Dev-only: the side-by-side benchmark of `centrifuge-blocking` against the peer SDKs.
//!
//! - [`driver`]: what every Rust driver shares: arguments, self-measurement, the result line
//!   (the contract is in `tests/peers/README.md`);
//! - [`blaster`]: a minimal server that streams pre-encoded publications as fast as the socket
//!   takes them;
//! - the binaries: `peer-bench` (the runner), `driver-ours` and `driver-raw`.
//!
//! Linux only: the drivers measure memory and threads through `/proc`, and the report names the
//! machine from it. Elsewhere the crate does not build, rather than report zeros.

#[cfg(not(target_os = "linux"))]
compile_error!("the peer benchmark measures through Linux's /proc: it builds and runs on Linux only");

pub mod blaster;
pub mod driver;
pub mod runner;
