//! The codec's tests: golden vectors for every command, reply and push in both formats,
//! batching, and malformed frames, one file each; the shared helpers are here.
//!
//! The JSON vectors are literal text. The Protobuf vectors are built with the tiny reference
//! encoder below (tag, varint and length rules straight from the Protobuf wire format, field
//! numbers written by hand from the schema), independent of prost; two vectors are written out
//! as literal bytes to pin the reference encoder itself.

use std::collections::BTreeMap;
use std::fmt::Debug;

use bytes::Bytes;

use super::*;
use crate::protocol::*;

mod wire {
    //! A minimal, independent Protobuf encoder for building expected bytes.

    pub fn varint(mut value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let low = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(low);
                return out;
            }
            out.push(low | 0x80);
        }
    }

    fn key(field: u32, wire_type: u8) -> Vec<u8> {
        varint((u64::from(field) << 3) | u64::from(wire_type))
    }

    /// A varint field (uint32, uint64, bool, and int32/int64 sign-extended to 64 bits).
    pub fn uint(field: u32, value: u64) -> Vec<u8> {
        [key(field, 0), varint(value)].concat()
    }

    /// An int32/int64 field: negative values are sign-extended to ten bytes.
    pub fn int(field: u32, value: i64) -> Vec<u8> {
        uint(field, value as u64)
    }

    /// A sint64 field (zigzag).
    pub fn sint(field: u32, value: i64) -> Vec<u8> {
        uint(field, ((value << 1) ^ (value >> 63)) as u64)
    }

    /// A length-delimited field: string, bytes or an embedded message.
    pub fn bytes(field: u32, value: &[u8]) -> Vec<u8> {
        [key(field, 2), varint(value.len() as u64), value.to_vec()].concat()
    }

    /// An embedded message made of already encoded fields.
    pub fn message(field: u32, fields: &[Vec<u8>]) -> Vec<u8> {
        bytes(field, &fields.concat())
    }

    /// One entry of a map field: key is field 1, value field 2.
    pub fn entry(field: u32, key: &str, value: Vec<u8>) -> Vec<u8> {
        message(field, &[bytes(1, key.as_bytes()), value])
    }

    /// A frame of length-delimited messages.
    pub fn frame(messages: &[Vec<u8>]) -> Vec<u8> {
        messages.iter().flat_map(|message| [varint(message.len() as u64), message.clone()].concat()).collect()
    }
}

use wire::{bytes as ld, entry, int, message, sint, uint};

fn json_codec() -> Codec {
    Codec::new(Protocol::Json, Codec::DEFAULT_MAX_MESSAGE_SIZE)
}

fn protobuf_codec() -> Codec {
    Codec::new(Protocol::Protobuf, Codec::DEFAULT_MAX_MESSAGE_SIZE)
}

fn text(data: &str) -> Frame {
    Frame { kind: FrameKind::Text, data: Bytes::copy_from_slice(data.as_bytes()) }
}

fn binary(data: &[u8]) -> Frame {
    Frame { kind: FrameKind::Binary, data: Bytes::copy_from_slice(data) }
}

fn raw(json: &str) -> Bytes {
    Bytes::copy_from_slice(json.as_bytes())
}

/// Checks one vector both ways in both formats.
fn vector<M: WireMessage + Debug + PartialEq + Clone>(value: M, json: &str, protobuf: Vec<u8>) {
    let encoded = json_codec().encode(std::slice::from_ref(&value)).expect("JSON encodes");
    assert_eq!(encoded.kind, FrameKind::Text);
    assert_eq!(std::str::from_utf8(&encoded.data).expect("UTF-8"), json, "JSON encoding");
    let mut decoded: Vec<M> = Vec::new();
    json_codec().decode(&text(json), &mut decoded).expect("JSON decodes");
    assert_eq!(decoded, vec![value.clone()], "JSON decoding");

    let expected = wire::frame(&[protobuf]);
    let encoded = protobuf_codec().encode(std::slice::from_ref(&value)).expect("Protobuf encodes");
    assert_eq!(encoded.kind, FrameKind::Binary);
    assert_eq!(encoded.data.as_ref(), expected.as_slice(), "Protobuf encoding");
    let mut decoded: Vec<M> = Vec::new();
    protobuf_codec().decode(&binary(&expected), &mut decoded).expect("Protobuf decodes");
    assert_eq!(decoded, vec![value], "Protobuf decoding");
}

fn map<V>(entries: impl IntoIterator<Item = (&'static str, V)>) -> BTreeMap<String, V> {
    entries.into_iter().map(|(key, value)| (key.to_string(), value)).collect()
}

fn reply_push(push: Push) -> Reply {
    Reply { push: Some(push), ..Default::default() }
}

// ---------------------------------------------------------------------------------------------
// Two literal anchors for the reference encoder.

#[test]
fn the_empty_message_is_one_zero_byte_and_an_empty_object() {
    assert_eq!(wire::frame(&[vec![]]), vec![0x00]);
    vector(Command::default(), "{}", vec![]);
    vector(Reply::default(), "{}", vec![]);
}

#[test]
fn a_publish_command_matches_literal_bytes() {
    let command = Command {
        id: 4,
        publish: Some(PublishRequest { channel: "ch".into(), data: raw("{}"), ..Default::default() }),
        ..Default::default()
    };
    // id=4: 08 04; publish (field 7, len 8): 3a 08; channel: 0a 02 'c' 'h'; data: 12 02 '{' '}'
    let literal = [0x08, 0x04, 0x3a, 0x08, 0x0a, 0x02, b'c', b'h', 0x12, 0x02, b'{', b'}'];
    assert_eq!(literal.to_vec(), [uint(1, 4), message(7, &[ld(1, b"ch"), ld(2, b"{}")])].concat());
    vector(command, r#"{"id":4,"publish":{"channel":"ch","data":{}}}"#, literal.to_vec());
}

/// A reply carrying one publication push.
fn publication(channel: &str, data: &str, offset: u64) -> Reply {
    reply_push(Push {
        channel: channel.into(),
        r#pub: Some(Publication { data: raw(data), offset, ..Default::default() }),
        ..Default::default()
    })
}

mod batching;
mod commands;
mod malformed;
mod pushes;
mod replies;
