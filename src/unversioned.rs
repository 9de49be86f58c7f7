//! The raw wire model and codec, **outside semver**.
//!
//! Enabled by the `unversioned` feature. It exists for the project's own integration tests,
//! benchmarks and examples, and for tools that need to speak raw Centrifugo protocol. Anything
//! here may change in any release; applications should use the client API.

pub use crate::codec::{
    Codec, CodecError, DecodeMessage, EncodeMessage, Frame, FrameKind, Protocol, WireMessage,
};
pub use crate::protocol::*;

/// Applies a fossil delta to `base`, producing at most `max_output` bytes.
pub fn fossil_apply(base: &[u8], delta: &[u8], max_output: usize) -> Result<Vec<u8>, String> {
    crate::delta::apply(base, delta, max_output).map_err(|err| err.to_string())
}

/// How a streamed HTTP body frames its messages, for [`decode_http_stream`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFraming {
    /// HTTP-streaming with JSON: one message per line.
    JsonLines,
    /// HTTP-streaming with Protobuf: varint length-prefixed messages.
    Varints,
    /// SSE: `data:` lines of events.
    ServerSentEvents,
}

/// Decodes a chunked HTTP-streaming or SSE body fed in pieces of `piece` bytes, as the client
/// does: returns the message batches it cuts out (each at most `max_message_size` bytes of a
/// pending message), or the first error. For fuzzing and tests.
pub fn decode_http_stream(
    body: &[u8],
    piece: usize,
    framing: StreamFraming,
    max_message_size: usize,
) -> Result<Vec<Vec<u8>>, String> {
    use crate::transport::http::chunked::ChunkedDecoder;
    use crate::transport::http::messages::{Framing, MessageCutter};
    let framing = match framing {
        StreamFraming::JsonLines => Framing::JsonLines,
        StreamFraming::Varints => Framing::Varints,
        StreamFraming::ServerSentEvents => Framing::ServerSentEvents,
    };
    let mut chunked = ChunkedDecoder::default();
    let mut cutter = MessageCutter::new(framing, max_message_size);
    let mut batches = Vec::new();
    let mut decoded = Vec::new();
    for part in body.chunks(piece.max(1)) {
        decoded.clear();
        let used = chunked.feed(part, &mut decoded).map_err(|err| err.to_string())?;
        if let Some(batch) = cutter.push(&decoded).map_err(|err| err.to_string())? {
            batches.push(batch.to_vec());
        }
        if used < part.len() || chunked.is_done() {
            break;
        }
    }
    Ok(batches)
}
