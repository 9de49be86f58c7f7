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

pub(crate) mod codes;

/// Whether a reply carries any result at all.
pub(crate) fn carries_a_result(reply: &Reply) -> bool {
    reply.connect.is_some()
        || reply.subscribe.is_some()
        || reply.unsubscribe.is_some()
        || reply.publish.is_some()
        || reply.presence.is_some()
        || reply.presence_stats.is_some()
        || reply.history.is_some()
        || reply.ping.is_some()
        || reply.rpc.is_some()
        || reply.refresh.is_some()
        || reply.sub_refresh.is_some()
}

/// Takes the result a reply carries for a command of kind `what`. A reply without any result
/// gives `None` (servers may leave empty results out); a reply with a result of another kind is
/// a protocol violation.
pub(crate) fn result_of<T>(
    mut reply: Reply,
    what: &str,
    take: impl FnOnce(&mut Reply) -> Option<T>,
) -> Result<Option<T>, crate::error::Error> {
    let result = take(&mut reply);
    if result.is_none() && carries_a_result(&reply) {
        return Err(crate::error::Error::Protocol(format!(
            "the server answered a {what} command with a reply of another kind"
        )));
    }
    Ok(result)
}
