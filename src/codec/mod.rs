//! Frames ⇄ protocol messages, for both wire formats.
//!
//! One WebSocket message carries one or more protocol messages (batching):
//!
//! - **JSON**: a text frame of compact JSON objects joined by `\n`. `bytes` payloads are embedded
//!   raw JSON and pass through byte for byte. A ping or pong is `{}`.
//! - **Protobuf**: a binary frame of messages, each prefixed with its length as an unsigned
//!   varint. A ping or pong is a zero-length message, the single byte `0x00`.
//!
//! The codec is symmetric: it encodes and decodes `Command`s (what a client sends) and `Reply`s
//! (what a server sends) alike, so the same code serves the client and the project's scripted
//! test servers. Without the `unversioned` feature only the client's directions are compiled
//! (see [`EncodeMessage`]).
//!
//! Decoding is total. A malformed frame returns a [`CodecError`] and never panics; the frame
//! size limit is checked before anything is parsed, and a Protobuf length prefix is checked
//! against the limit and the frame before any message is decoded. A frame decodes all or
//! nothing: on error, no message of it is appended.
//!
//! Decisions:
//! - An empty frame (no bytes) decodes to no messages; it is not an error, and it is not a ping.
//! - In JSON, surrounding whitespace and empty lines are skipped, as the server's own decoder
//!   does; in Protobuf every byte must belong to a message.
//! - A JSON payload given for encoding must be valid JSON (the server would otherwise close the
//!   connection); raw `\n` bytes between its tokens become spaces, since they would split the
//!   message, and one inside a string is refused (it is not JSON).

pub(crate) mod json;
mod protobuf;

use std::fmt;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::config::Protocol;
use crate::protocol::{Command, Reply};

/// How much memory the messages decoded from one frame may take at least, whatever the
/// frame size limit. A decoded message takes hundreds of bytes however few it had on the
/// wire (a ping is one byte of Protobuf), so without a bound a 64 MiB frame of pings would
/// decode into gigabytes before any backpressure could act. The bound is
/// `max(max_message_size, this)`; 64 MiB holds about 150,000 decoded replies, far more than
/// a server puts in one frame.
const DECODED_FLOOR: usize = 64 << 20;

/// The frame kind that carries a wire format.
pub fn frame_kind(protocol: Protocol) -> FrameKind {
    match protocol {
        Protocol::Json => FrameKind::Text,
        Protocol::Protobuf => FrameKind::Binary,
    }
}

/// Whether a WebSocket data frame is text or binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A text frame (JSON format).
    Text,
    /// A binary frame (Protobuf format).
    Binary,
}

/// The payload of one WebSocket data message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Text or binary.
    pub kind: FrameKind,
    /// The message bytes. For text frames they are UTF-8.
    pub data: Bytes,
}

/// A protocol message the codec can encode: a [`Command`] (and, with the `unversioned` feature,
/// a [`Reply`]).
pub trait EncodeMessage: prost::Message + Serialize {}

/// A protocol message the codec can decode: a [`Reply`] (and, with the `unversioned` feature,
/// a [`Command`]).
pub trait DecodeMessage: prost::Message + Default + DeserializeOwned {}

/// A protocol message the codec can carry both ways: [`Command`] or [`Reply`], with the
/// `unversioned` feature.
#[cfg(feature = "unversioned")]
pub trait WireMessage: EncodeMessage + DecodeMessage {}

#[cfg(feature = "unversioned")]
impl<M: EncodeMessage + DecodeMessage> WireMessage for M {}

impl EncodeMessage for Command {}
impl DecodeMessage for Reply {}
// The client only writes commands and reads replies, so without `unversioned` the wire model
// derives serde's `Serialize` only on the command side and `Deserialize` only on the reply side
// (build.rs), which keeps half of that generated code out of every user's build. The
// project's scripted servers and tools speak the other direction too.
#[cfg(feature = "unversioned")]
impl EncodeMessage for Reply {}
#[cfg(feature = "unversioned")]
impl DecodeMessage for Command {}

/// Encodes and decodes frames of one wire format.
#[derive(Clone, Copy, Debug)]
pub struct Codec {
    protocol: Protocol,
    max_message_size: usize,
}

impl Codec {
    /// The default limit on a received frame, in bytes: 64 MiB.
    #[cfg_attr(not(feature = "unversioned"), allow(dead_code))] // for tests and tools
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;

    /// A codec for `protocol` that rejects received frames larger than `max_message_size` bytes.
    pub fn new(protocol: Protocol, max_message_size: usize) -> Codec {
        Codec { protocol, max_message_size }
    }

    /// Encodes `messages` as one frame, in order.
    ///
    /// # Errors
    ///
    /// [`CodecError::InvalidJsonPayload`] when a payload is not valid JSON on a JSON codec.
    pub fn encode<M: EncodeMessage>(&self, messages: &[M]) -> Result<Frame, CodecError> {
        let data = match self.protocol {
            Protocol::Json => json::encode(messages)?,
            Protocol::Protobuf => protobuf::encode(messages),
        };
        Ok(Frame { kind: frame_kind(self.protocol), data: Bytes::from(data) })
    }

    /// A frame of this codec's kind around already encoded messages.
    pub(crate) fn frame(&self, data: Bytes) -> Frame {
        Frame { kind: frame_kind(self.protocol), data }
    }

    /// Decodes every message of `frame`, appending them to `out` in frame order.
    ///
    /// The messages of one frame may take, decoded, as much memory as the larger of the size
    /// limit and 64 MiB; a frame holding more fails with [`CodecError::TooManyMessages`].
    ///
    /// # Errors
    ///
    /// Any [`CodecError`] but `InvalidJsonPayload`; `out` is then left as it was.
    pub fn decode<M: DecodeMessage>(&self, frame: &Frame, out: &mut Vec<M>) -> Result<(), CodecError> {
        let expected = frame_kind(self.protocol);
        if frame.kind != expected {
            return Err(CodecError::UnexpectedFrameKind { expected, received: frame.kind });
        }
        if frame.data.len() > self.max_message_size {
            return Err(CodecError::TooLarge { size: frame.data.len(), limit: self.max_message_size });
        }
        let before = out.len();
        let max_messages = self.max_message_size.max(DECODED_FLOOR) / std::mem::size_of::<M>().max(1);
        let result = match self.protocol {
            Protocol::Json => json::decode(&frame.data, max_messages, out),
            Protocol::Protobuf => protobuf::decode(&frame.data, self.max_message_size, max_messages, out),
        };
        if result.is_err() {
            out.truncate(before);
        }
        result
    }
}

/// Why a frame could not be encoded or decoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum CodecError {
    /// A text frame on a Protobuf connection or a binary frame on a JSON connection.
    UnexpectedFrameKind {
        /// The kind the connection's format uses.
        expected: FrameKind,
        /// The kind that arrived.
        received: FrameKind,
    },
    /// A frame, or a message announced inside one, exceeds the size limit.
    TooLarge {
        /// The size of the frame or the declared size of the message.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A frame holds more messages than may be decoded from one frame: decoded, they would
    /// take more memory than the limit allows (see [`Codec::decode`]).
    TooManyMessages {
        /// How many messages one frame may hold.
        limit: usize,
    },
    /// A line of a JSON frame is not a valid protocol message.
    Json {
        /// The zero-based line within the frame.
        line: usize,
        /// What the JSON parser reported.
        source: serde_json::Error,
    },
    /// A Protobuf length prefix is not a valid varint (truncated or over 64 bits).
    InvalidLengthPrefix {
        /// Byte offset of the prefix within the frame.
        offset: usize,
    },
    /// A Protobuf length prefix announces more bytes than the frame has left.
    LengthPastEnd {
        /// Byte offset of the prefix within the frame.
        offset: usize,
        /// The announced message length.
        declared: u64,
        /// The bytes left in the frame after the prefix.
        remaining: usize,
    },
    /// A length-delimited Protobuf message does not decode.
    Protobuf {
        /// Byte offset of the message within the frame.
        offset: usize,
        /// What the Protobuf decoder reported.
        source: prost::DecodeError,
    },
    /// A payload handed to a JSON codec for encoding is not valid JSON.
    InvalidJsonPayload(String),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::UnexpectedFrameKind { expected, received } => {
                write!(f, "received a {received:?} frame where the wire format uses {expected:?} frames")
            }
            CodecError::TooLarge { size, limit } => {
                write!(f, "message of {size} bytes exceeds the limit of {limit} bytes")
            }
            CodecError::TooManyMessages { limit } => write!(
                f,
                "frame holds more than {limit} messages; decoded, they would take more memory than one frame may"
            ),
            CodecError::Json { line, source } => write!(f, "invalid JSON message on line {line}: {source}"),
            CodecError::InvalidLengthPrefix { offset } => {
                write!(f, "invalid varint length prefix at byte {offset}")
            }
            CodecError::LengthPastEnd { offset, declared, remaining } => write!(
                f,
                "length prefix at byte {offset} announces {declared} bytes but only {remaining} follow"
            ),
            CodecError::Protobuf { offset, source } => {
                write!(f, "invalid Protobuf message at byte {offset}: {source}")
            }
            CodecError::InvalidJsonPayload(why) => {
                write!(f, "payload is not valid JSON ({why}); JSON connections carry JSON payloads only")
            }
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodecError::Json { source, .. } => Some(source),
            CodecError::Protobuf { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
