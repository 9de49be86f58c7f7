//! The raw wire model and codec, **outside semver**.
//!
//! Enabled by the `unversioned` feature. It exists for the project's own integration tests,
//! benchmarks and examples, and for tools that need to speak raw Centrifugo protocol. Anything
//! here may change in any release; applications should use the client API.

pub use crate::codec::{Codec, CodecError, Frame, FrameKind, Protocol, WireMessage};
pub use crate::protocol::*;
