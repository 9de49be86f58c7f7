//! The raw wire model and codec, **outside semver**.
//!
//! Enabled by the `unversioned` feature. It exists for the project's own integration tests,
//! benchmarks and examples, and for tools that need to speak raw Centrifugo protocol. Anything
//! here may change in any release; applications should use the client API.

pub use crate::codec::{Codec, CodecError, Frame, FrameKind, Protocol, WireMessage};
pub use crate::protocol::*;

/// Applies a fossil delta to `base`, producing at most `max_output` bytes.
pub fn fossil_apply(base: &[u8], delta: &[u8], max_output: usize) -> Result<Vec<u8>, String> {
    crate::delta::apply(base, delta, max_output).map_err(|err| err.to_string())
}
