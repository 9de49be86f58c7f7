//! The wire model of the Centrifugo client protocol v2.
//!
//! The types are generated from `proto/client.proto` at build time by `build.rs` (with
//! `protox`, so no system `protoc` is needed): prost derives for the Protobuf format and serde
//! derives, shaped by `codec::json`, for the JSON format. Field documentation lives in the
//! schema.

/// The generated types, from `OUT_DIR`.
// Generated code: the schema documents the fields, and prost's output follows prost's style.
// Not every message is used by the client (e.g. `EmulationRequest` is for HTTP transports).
#[allow(missing_docs, dead_code, clippy::all)]
#[rustfmt::skip]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/centrifugal.centrifuge.protocol.rs"));
}

pub use generated::*;

pub(crate) mod call;
pub(crate) mod codes;

pub(crate) use call::carries_a_result;
