//! # centrifuge-blocking
//!
//! A client SDK for [Centrifugo](https://centrifugal.dev) (client protocol v2: Centrifugo v4, v5
//! and v6) for programs without an async runtime: desktop apps, command-line tools, synchronous
//! services and scripts. It speaks JSON and Protobuf over WebSocket on plain threads.
//!
//! This release holds the foundation: the wire model generated from `proto/client.proto` and the
//! codec for both wire formats. The blocking `Client` follows. Until then the codec is reachable
//! through the `unversioned` feature (see the `unversioned` module), which is outside semver and
//! meant for tools and tests that speak raw protocol.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, clippy::all)]

// Without the `unversioned` feature nothing in the crate calls the codec yet: the client that
// uses it is the next step. Remove this allow when `Client` lands.
#[cfg_attr(not(feature = "unversioned"), allow(dead_code))]
mod codec;
#[cfg_attr(not(feature = "unversioned"), allow(dead_code))]
mod protocol;

#[cfg(feature = "unversioned")]
pub mod unversioned;
