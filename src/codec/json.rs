//! The JSON wire format: compact objects joined by `\n` in one text frame.
//!
//! The generated types carry serde attributes pointing here (see `build.rs`): [`omit`] drops
//! zero values like the server's encoder does, and [`raw`] embeds `bytes` payloads as raw JSON.
//!
//! Every message must be a JSON object. Nested messages are read by serde's derived code, which
//! also accepts an array of a struct's fields in declaration order; no server sends that, and
//! the values in such an array are still type-checked, so it is left as a harmless leniency.

use bytes::Bytes;

use super::{CodecError, DecodeMessage, EncodeMessage};

/// Whether a field holds its zero value and is left out of the JSON object.
pub(crate) fn omit<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

pub(super) fn encode<M: EncodeMessage>(messages: &[M]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(64 * messages.len());
    for (index, message) in messages.iter().enumerate() {
        if index > 0 {
            out.push(b'\n');
        }
        serde_json::to_writer(&mut out, message)
            .map_err(|err| CodecError::InvalidJsonPayload(err.to_string()))?;
    }
    Ok(out)
}

/// How many messages' room decoding a frame reserves at most up front.
const RESERVE_LIMIT: usize = 1024;

pub(super) fn decode<M: DecodeMessage>(
    frame: &Bytes,
    max_messages: usize,
    out: &mut Vec<M>,
) -> Result<(), CodecError> {
    let _payloads_from = raw::FrameScope::enter(frame);
    // Growing the vector one message at a time moves every decoded message several times.
    // Bounded: a frame of nothing but line breaks must not reserve room for millions.
    let lines = memchr::memchr_iter(b'\n', frame).count() + 1;
    out.reserve(lines.min(RESERVE_LIMIT));
    let mut decoded = 0;
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', frame).chain(std::iter::once(frame.len()));
    for (line, end) in ends.enumerate() {
        let text = frame[start..end].trim_ascii();
        start = end + 1;
        if text.is_empty() {
            continue;
        }
        // serde also reads a struct from an array of its fields; a protocol message is an object.
        if text[0] != b'{' {
            let source = serde::de::Error::custom("a protocol message must be a JSON object");
            return Err(CodecError::Json { line, source });
        }
        if decoded == max_messages {
            return Err(CodecError::TooManyMessages { limit: max_messages });
        }
        let message = serde_json::from_slice(text).map_err(|source| CodecError::Json { line, source })?;
        out.push(message);
        decoded += 1;
    }
    Ok(())
}

/// Serde adapter for `bytes` fields: the payload is a JSON value embedded as is.
pub(crate) mod raw {
    use std::cell::RefCell;

    use bytes::Bytes;
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    /// Embeds a JSON payload, parsing it once: that parse is the payload's validation. A raw
    /// line break would split the frame (messages are one per line), so line breaks between
    /// tokens become spaces first; a raw line break inside a string is not JSON and is refused.
    pub(crate) fn serialize<S: Serializer>(payload: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
        let spaced;
        let text: &[u8] = if memchr::memchr(b'\n', payload).is_none() {
            payload
        } else {
            spaced = line_breaks_to_spaces(payload).map_err(S::Error::custom)?;
            &spaced
        };
        let value: &RawValue = serde_json::from_slice(text).map_err(S::Error::custom)?;
        value.serialize(serializer)
    }

    /// `payload` with every raw line break between tokens replaced by a space: both are JSON
    /// whitespace there. Inside a string a raw line break is invalid but a space is not, so a
    /// line break found inside a string is refused here rather than turned into valid JSON.
    /// Quotes and backslashes are the same bytes before and after, so the strings found here
    /// are the ones the parser finds: the result is valid JSON exactly when the payload was.
    fn line_breaks_to_spaces(payload: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = payload.to_vec();
        let mut in_string = false;
        let mut escaped = false;
        for (position, byte) in out.iter_mut().enumerate() {
            match *byte {
                _ if escaped => escaped = false,
                b'\\' if in_string => escaped = true,
                b'"' => in_string = !in_string,
                b'\n' if in_string => {
                    return Err(format!("a raw line break inside a string at byte {position} is not JSON"));
                }
                b'\n' => *byte = b' ',
                _ => {}
            }
        }
        Ok(out)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        let value = <&'de RawValue>::deserialize(deserializer)
            .map_err(|err| D::Error::custom(format_args!("payload must be an embedded JSON value: {err}")))?;
        let payload = value.get().as_bytes();
        Ok(FRAME.with_borrow(|frame| match frame {
            Some(frame) if contains(frame, payload) => frame.slice_ref(payload),
            _ => Bytes::copy_from_slice(payload),
        }))
    }

    thread_local! {
        /// The frame being decoded on this thread, if any.
        static FRAME: RefCell<Option<Bytes>> = const { RefCell::new(None) };
    }

    /// While alive, payloads read on this thread that lie inside `frame` share its memory
    /// instead of being copied, the way Protobuf payloads do (serde cannot pass the frame down
    /// to a field's deserializer any other way).
    pub(super) struct FrameScope;

    impl FrameScope {
        pub(super) fn enter(frame: &Bytes) -> FrameScope {
            FRAME.set(Some(frame.clone()));
            FrameScope
        }
    }

    impl Drop for FrameScope {
        fn drop(&mut self) {
            FRAME.set(None);
        }
    }

    /// Whether `part` lies within `whole` (by address: `Bytes::slice_ref` requires it).
    fn contains(whole: &[u8], part: &[u8]) -> bool {
        let whole_start = whole.as_ptr() as usize;
        let part_start = part.as_ptr() as usize;
        part_start >= whole_start && part_start + part.len() <= whole_start + whole.len()
    }
}
