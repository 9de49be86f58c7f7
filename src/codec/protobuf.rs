//! The Protobuf wire format: varint length-delimited messages in one binary frame.

use bytes::{Buf, Bytes};
use prost::encoding::{decode_varint, encoded_len_varint};

use super::{CodecError, DecodeMessage, EncodeMessage};

pub(super) fn encode<M: EncodeMessage>(messages: &[M]) -> Vec<u8> {
    let size = messages
        .iter()
        .map(|message| {
            let len = message.encoded_len();
            encoded_len_varint(len as u64) + len
        })
        .sum();
    let mut out = Vec::with_capacity(size);
    for message in messages {
        // Writing into a Vec reserved above cannot run out of room.
        let _ = message.encode_length_delimited(&mut out);
    }
    out
}

/// Decodes from a `Bytes` so that `bytes` fields become slices of the frame, not copies.
pub(super) fn decode<M: DecodeMessage>(
    frame: &Bytes,
    max_message_size: usize,
    max_messages: usize,
    out: &mut Vec<M>,
) -> Result<(), CodecError> {
    let mut decoded = 0;
    let mut rest = frame.clone();
    while rest.has_remaining() {
        if decoded == max_messages {
            return Err(CodecError::TooManyMessages { limit: max_messages });
        }
        let offset = frame.len() - rest.remaining();
        let declared = decode_varint(&mut rest).map_err(|_| CodecError::InvalidLengthPrefix { offset })?;
        let remaining = rest.remaining();
        if declared > max_message_size as u64 {
            return Err(CodecError::TooLarge { size: saturating_usize(declared), limit: max_message_size });
        }
        if declared > remaining as u64 {
            return Err(CodecError::LengthPastEnd { offset, declared, remaining });
        }
        let body = rest.split_to(declared as usize);
        let message = M::decode(body).map_err(|source| CodecError::Protobuf { offset, source })?;
        out.push(message);
        decoded += 1;
    }
    Ok(())
}

fn saturating_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}
