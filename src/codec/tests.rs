//! Golden vectors for every command and reply in both formats, batching, and malformed frames.
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

// ---------------------------------------------------------------------------------------------
// Commands.

#[test]
fn connect_command() {
    let command = Command {
        id: 1,
        connect: Some(Box::new(ConnectRequest {
            token: "t0k".into(),
            data: raw(r#"{"a":1}"#),
            subs: map([(
                "news",
                SubscribeRequest { recover: true, epoch: "ep".into(), offset: 5, ..Default::default() },
            )]),
            name: "rust".into(),
            version: "1.0".into(),
            headers: map([("X-A", "b".to_string())]),
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":1,"connect":{"token":"t0k","data":{"a":1},"subs":{"news":{"recover":true,"epoch":"ep","offset":5}},"name":"rust","version":"1.0","headers":{"X-A":"b"}}}"#;
    let protobuf = [
        uint(1, 1),
        message(
            4,
            &[
                ld(1, b"t0k"),
                ld(2, br#"{"a":1}"#),
                entry(3, "news", message(2, &[uint(3, 1), ld(6, b"ep"), uint(7, 5)])),
                ld(4, b"rust"),
                ld(5, b"1.0"),
                entry(6, "X-A", ld(2, b"b")),
            ],
        ),
    ]
    .concat();
    vector(command, json, protobuf);
}

#[test]
fn connect_command_with_the_newer_fields() {
    let command = Command {
        id: 1,
        connect: Some(Box::new(ConnectRequest {
            flag: 1,
            dict: "d1".into(),
            profile: "mobile".into(),
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":1,"connect":{"flag":1,"dict":"d1","profile":"mobile"}}"#;
    let protobuf = [uint(1, 1), message(4, &[uint(7, 1), ld(8, b"d1"), ld(9, b"mobile")])].concat();
    vector(command, json, protobuf);
}

#[test]
fn subscribe_command_with_every_option_and_the_largest_offset() {
    let command = Command {
        id: 2,
        subscribe: Some(Box::new(SubscribeRequest {
            channel: "hist:a".into(),
            token: "st".into(),
            recover: true,
            epoch: "xyz".into(),
            offset: u64::MAX,
            data: raw(r#""d""#),
            positioned: true,
            recoverable: true,
            join_leave: true,
            delta: "fossil".into(),
            tf: Some(FilterNode { key: "k".into(), cmp: "eq".into(), val: "v".into(), ..Default::default() }),
            flag: 2,
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":2,"subscribe":{"channel":"hist:a","token":"st","recover":true,"epoch":"xyz","offset":18446744073709551615,"data":"d","positioned":true,"recoverable":true,"join_leave":true,"delta":"fossil","tf":{"key":"k","cmp":"eq","val":"v"},"flag":2}}"#;
    let protobuf = [
        uint(1, 2),
        message(
            5,
            &[
                ld(1, b"hist:a"),
                ld(2, b"st"),
                uint(3, 1),
                ld(6, b"xyz"),
                uint(7, u64::MAX),
                ld(8, br#""d""#),
                uint(9, 1),
                uint(10, 1),
                uint(11, 1),
                ld(12, b"fossil"),
                message(13, &[ld(2, b"k"), ld(3, b"eq"), ld(4, b"v")]),
                uint(14, 2),
            ],
        ),
    ]
    .concat();
    vector(command, json, protobuf);
}

#[test]
fn subscribe_command_for_map_subscriptions() {
    let command = Command {
        id: 9,
        subscribe: Some(Box::new(SubscribeRequest {
            channel: "m".into(),
            r#type: 1,
            phase: 2,
            cursor: "c".into(),
            limit: 100,
            asc: true,
            ..Default::default()
        })),
        ..Default::default()
    };
    let json =
        r#"{"id":9,"subscribe":{"channel":"m","type":1,"phase":2,"cursor":"c","limit":100,"asc":true}}"#;
    let protobuf = [
        uint(1, 9),
        message(5, &[ld(1, b"m"), uint(15, 1), uint(16, 2), ld(17, b"c"), uint(18, 100), uint(19, 1)]),
    ]
    .concat();
    vector(command, json, protobuf);
}

#[test]
fn unsubscribe_command() {
    let command = Command {
        id: 3,
        unsubscribe: Some(UnsubscribeRequest { channel: "news".into() }),
        ..Default::default()
    };
    vector(
        command,
        r#"{"id":3,"unsubscribe":{"channel":"news"}}"#,
        [uint(1, 3), message(6, &[ld(1, b"news")])].concat(),
    );
}

#[test]
fn publish_command_passes_unicode_payload_through() {
    let payload = r#"{"text":"héllo ✓","n":[1,2.5,null,true]}"#;
    let command = Command {
        id: 4,
        publish: Some(PublishRequest { channel: "chat".into(), data: raw(payload), ..Default::default() }),
        ..Default::default()
    };
    let json = format!(r#"{{"id":4,"publish":{{"channel":"chat","data":{payload}}}}}"#);
    let protobuf = [uint(1, 4), message(7, &[ld(1, b"chat"), ld(2, payload.as_bytes())])].concat();
    vector(command, &json, protobuf);
}

#[test]
fn presence_and_presence_stats_commands() {
    let command =
        Command { id: 5, presence: Some(PresenceRequest { channel: "pres:a".into() }), ..Default::default() };
    vector(
        command,
        r#"{"id":5,"presence":{"channel":"pres:a"}}"#,
        [uint(1, 5), message(8, &[ld(1, b"pres:a")])].concat(),
    );
    let command = Command {
        id: 6,
        presence_stats: Some(PresenceStatsRequest { channel: "pres:a".into() }),
        ..Default::default()
    };
    vector(
        command,
        r#"{"id":6,"presence_stats":{"channel":"pres:a"}}"#,
        [uint(1, 6), message(9, &[ld(1, b"pres:a")])].concat(),
    );
}

#[test]
fn history_command_with_negative_limit_and_since() {
    let command = Command {
        id: 7,
        history: Some(Box::new(HistoryRequest {
            channel: "hist:a".into(),
            limit: -1,
            since: Some(StreamPosition { offset: 10, epoch: "e".into() }),
            reverse: true,
        })),
        ..Default::default()
    };
    let json = r#"{"id":7,"history":{"channel":"hist:a","limit":-1,"since":{"offset":10,"epoch":"e"},"reverse":true}}"#;
    let protobuf = [
        uint(1, 7),
        message(10, &[ld(1, b"hist:a"), int(7, -1), message(8, &[uint(1, 10), ld(2, b"e")]), uint(9, 1)]),
    ]
    .concat();
    // A negative int32 is a ten-byte varint on the wire.
    assert_eq!(int(7, -1).len(), 11);
    vector(command, json, protobuf);
}

#[test]
fn legacy_ping_command() {
    let command = Command { id: 8, ping: Some(PingRequest {}), ..Default::default() };
    vector(command, r#"{"id":8,"ping":{}}"#, [uint(1, 8), ld(11, b"")].concat());
}

#[test]
fn send_command_has_no_id() {
    let command = Command { send: Some(SendRequest { data: raw(r#"{"k":"v"}"#) }), ..Default::default() };
    vector(command, r#"{"send":{"data":{"k":"v"}}}"#, message(12, &[ld(1, br#"{"k":"v"}"#)]));
}

#[test]
fn rpc_command() {
    let command = Command {
        id: 10,
        rpc: Some(RpcRequest { data: raw("[1,2,3]"), method: "echo".into() }),
        ..Default::default()
    };
    vector(
        command,
        r#"{"id":10,"rpc":{"data":[1,2,3],"method":"echo"}}"#,
        [uint(1, 10), message(13, &[ld(1, b"[1,2,3]"), ld(2, b"echo")])].concat(),
    );
}

#[test]
fn refresh_and_sub_refresh_commands() {
    let command =
        Command { id: 11, refresh: Some(RefreshRequest { token: "new".into() }), ..Default::default() };
    vector(
        command,
        r#"{"id":11,"refresh":{"token":"new"}}"#,
        [uint(1, 11), message(14, &[ld(1, b"new")])].concat(),
    );
    let command = Command {
        id: 12,
        sub_refresh: Some(Box::new(SubRefreshRequest {
            channel: "tok:a".into(),
            token: "st2".into(),
            ..Default::default()
        })),
        ..Default::default()
    };
    vector(
        command,
        r#"{"id":12,"sub_refresh":{"channel":"tok:a","token":"st2"}}"#,
        [uint(1, 12), message(15, &[ld(1, b"tok:a"), ld(2, b"st2")])].concat(),
    );
}

#[test]
fn sub_refresh_command_for_shared_poll() {
    let command = Command {
        id: 13,
        sub_refresh: Some(Box::new(SubRefreshRequest {
            channel: "p".into(),
            r#type: 1,
            track: vec![TrackBatch {
                signature: "sig".into(),
                items: vec![KeyedItem { key: "k".into(), version: 3 }],
            }],
            untrack: vec!["old".into()],
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":13,"sub_refresh":{"channel":"p","type":1,"track":[{"signature":"sig","items":[{"key":"k","version":3}]}],"untrack":["old"]}}"#;
    let protobuf = [
        uint(1, 13),
        message(
            15,
            &[
                ld(1, b"p"),
                uint(3, 1),
                message(4, &[ld(1, b"sig"), message(2, &[ld(1, b"k"), uint(2, 3)])]),
                ld(5, b"old"),
            ],
        ),
    ]
    .concat();
    vector(command, json, protobuf);
}

// ---------------------------------------------------------------------------------------------
// Replies.

#[test]
fn error_replies() {
    let reply = Reply {
        id: 2,
        error: Some(Error { code: 103, message: "permission denied".into(), temporary: false }),
        ..Default::default()
    };
    vector(
        reply,
        r#"{"id":2,"error":{"code":103,"message":"permission denied"}}"#,
        [uint(1, 2), message(2, &[uint(1, 103), ld(2, b"permission denied")])].concat(),
    );
    let reply = Reply {
        id: 3,
        error: Some(Error { code: 100, message: "internal server error".into(), temporary: true }),
        ..Default::default()
    };
    vector(
        reply,
        r#"{"id":3,"error":{"code":100,"message":"internal server error","temporary":true}}"#,
        [uint(1, 3), message(2, &[uint(1, 100), ld(2, b"internal server error"), uint(3, 1)])].concat(),
    );
}

#[test]
fn connect_reply() {
    let reply = Reply {
        id: 1,
        connect: Some(Box::new(ConnectResult {
            client: "c1".into(),
            version: "6.9.1".into(),
            expires: true,
            ttl: 60,
            data: raw(r#"{"w":1}"#),
            subs: map([(
                "personal:#42",
                SubscribeResult {
                    recoverable: true,
                    epoch: "ab".into(),
                    offset: 3,
                    positioned: true,
                    ..Default::default()
                },
            )]),
            ping: 25,
            pong: true,
            time: 1_700_000_000_000,
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":1,"connect":{"client":"c1","version":"6.9.1","expires":true,"ttl":60,"data":{"w":1},"subs":{"personal:#42":{"recoverable":true,"epoch":"ab","offset":3,"positioned":true}},"ping":25,"pong":true,"time":1700000000000}}"#;
    let protobuf = [
        uint(1, 1),
        message(
            5,
            &[
                ld(1, b"c1"),
                ld(2, b"6.9.1"),
                uint(3, 1),
                uint(4, 60),
                ld(5, br#"{"w":1}"#),
                entry(6, "personal:#42", message(2, &[uint(3, 1), ld(6, b"ab"), uint(9, 3), uint(10, 1)])),
                uint(7, 25),
                uint(8, 1),
                uint(11, 1_700_000_000_000),
            ],
        ),
    ]
    .concat();
    vector(reply, json, protobuf);
}

#[test]
fn connect_reply_with_the_newer_fields() {
    let reply = Reply {
        id: 1,
        connect: Some(Box::new(ConnectResult {
            session: "s".into(),
            node: "n".into(),
            flag: 1,
            dict: Some(Dictionary { id: "d".into(), data: raw("[]"), data_b64: "AA==".into() }),
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":1,"connect":{"session":"s","node":"n","flag":1,"dict":{"id":"d","data":[],"data_b64":"AA=="}}}"#;
    let protobuf = [
        uint(1, 1),
        message(
            5,
            &[
                ld(9, b"s"),
                ld(10, b"n"),
                uint(12, 1),
                message(13, &[ld(1, b"d"), ld(2, b"[]"), ld(3, b"AA==")]),
            ],
        ),
    ]
    .concat();
    vector(reply, json, protobuf);
}

#[test]
fn subscribe_reply_with_recovered_publications() {
    let reply = Reply {
        id: 2,
        subscribe: Some(Box::new(SubscribeResult {
            expires: true,
            ttl: 30,
            recoverable: true,
            epoch: "ep".into(),
            publications: vec![
                Publication { data: raw(r#"{"n":1}"#), offset: 4, ..Default::default() },
                Publication {
                    data: raw(r#"{"n":2}"#),
                    info: Some(Box::new(ClientInfo {
                        user: "u".into(),
                        client: "c".into(),
                        conn_info: raw(r#"{"ci":1}"#),
                        chan_info: raw(r#"{"ch":2}"#),
                    })),
                    offset: 5,
                    tags: map([("t", "1".to_string())]),
                    ..Default::default()
                },
            ],
            recovered: true,
            offset: 5,
            positioned: true,
            data: raw(r#""sd""#),
            was_recovering: true,
            delta: true,
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":2,"subscribe":{"expires":true,"ttl":30,"recoverable":true,"epoch":"ep","publications":[{"data":{"n":1},"offset":4},{"data":{"n":2},"info":{"user":"u","client":"c","conn_info":{"ci":1},"chan_info":{"ch":2}},"offset":5,"tags":{"t":"1"}}],"recovered":true,"offset":5,"positioned":true,"data":"sd","was_recovering":true,"delta":true}}"#;
    let protobuf = [
        uint(1, 2),
        message(
            6,
            &[
                uint(1, 1),
                uint(2, 30),
                uint(3, 1),
                ld(6, b"ep"),
                message(7, &[ld(4, br#"{"n":1}"#), uint(6, 4)]),
                message(
                    7,
                    &[
                        ld(4, br#"{"n":2}"#),
                        message(5, &[ld(1, b"u"), ld(2, b"c"), ld(3, br#"{"ci":1}"#), ld(4, br#"{"ch":2}"#)]),
                        uint(6, 5),
                        entry(7, "t", ld(2, b"1")),
                    ],
                ),
                uint(8, 1),
                uint(9, 5),
                uint(10, 1),
                ld(11, br#""sd""#),
                uint(12, 1),
                uint(13, 1),
            ],
        ),
    ]
    .concat();
    vector(reply, json, protobuf);
}

#[test]
fn subscribe_reply_with_the_newer_fields() {
    let reply = Reply {
        id: 2,
        subscribe: Some(Box::new(SubscribeResult {
            id: 77,
            r#type: 1,
            phase: 1,
            cursor: "next".into(),
            state: vec![Publication {
                key: "k".into(),
                removed: true,
                score: -3,
                version: 8,
                ..Default::default()
            }],
            publish_debounce: 250,
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"id":2,"subscribe":{"id":77,"type":1,"phase":1,"cursor":"next","state":[{"key":"k","removed":true,"score":-3,"version":8}],"publish_debounce":250}}"#;
    let protobuf = [
        uint(1, 2),
        message(
            6,
            &[
                uint(14, 77),
                uint(15, 1),
                uint(16, 1),
                ld(17, b"next"),
                message(18, &[ld(11, b"k"), uint(12, 1), sint(13, -3), uint(16, 8)]),
                uint(19, 250),
            ],
        ),
    ]
    .concat();
    vector(reply, json, protobuf);
}

#[test]
fn empty_result_replies() {
    vector(
        Reply { id: 3, unsubscribe: Some(UnsubscribeResult {}), ..Default::default() },
        r#"{"id":3,"unsubscribe":{}}"#,
        [uint(1, 3), ld(7, b"")].concat(),
    );
    vector(
        Reply { id: 4, publish: Some(PublishResult {}), ..Default::default() },
        r#"{"id":4,"publish":{}}"#,
        [uint(1, 4), ld(8, b"")].concat(),
    );
    vector(
        Reply { id: 8, ping: Some(PingResult {}), ..Default::default() },
        r#"{"id":8,"ping":{}}"#,
        [uint(1, 8), ld(12, b"")].concat(),
    );
}

#[test]
fn presence_reply() {
    let reply = Reply {
        id: 5,
        presence: Some(Box::new(PresenceResult {
            presence: map([
                ("c1", ClientInfo { user: "u1".into(), client: "c1".into(), ..Default::default() }),
                (
                    "c2",
                    ClientInfo {
                        user: "u2".into(),
                        client: "c2".into(),
                        conn_info: raw(r#"{"name":"x"}"#),
                        ..Default::default()
                    },
                ),
            ]),
        })),
        ..Default::default()
    };
    let json = r#"{"id":5,"presence":{"presence":{"c1":{"user":"u1","client":"c1"},"c2":{"user":"u2","client":"c2","conn_info":{"name":"x"}}}}}"#;
    let protobuf = [
        uint(1, 5),
        message(
            9,
            &[
                entry(1, "c1", message(2, &[ld(1, b"u1"), ld(2, b"c1")])),
                entry(1, "c2", message(2, &[ld(1, b"u2"), ld(2, b"c2"), ld(3, br#"{"name":"x"}"#)])),
            ],
        ),
    ]
    .concat();
    vector(reply, json, protobuf);
}

#[test]
fn presence_stats_reply() {
    let reply = Reply {
        id: 6,
        presence_stats: Some(PresenceStatsResult { num_clients: 2, num_users: 1 }),
        ..Default::default()
    };
    vector(
        reply,
        r#"{"id":6,"presence_stats":{"num_clients":2,"num_users":1}}"#,
        [uint(1, 6), message(10, &[uint(1, 2), uint(2, 1)])].concat(),
    );
}

#[test]
fn history_reply() {
    let reply = Reply {
        id: 7,
        history: Some(Box::new(HistoryResult {
            publications: vec![Publication { data: raw("1"), offset: 9, ..Default::default() }],
            epoch: "e".into(),
            offset: 9,
        })),
        ..Default::default()
    };
    vector(
        reply,
        r#"{"id":7,"history":{"publications":[{"data":1,"offset":9}],"epoch":"e","offset":9}}"#,
        [uint(1, 7), message(11, &[message(1, &[ld(4, b"1"), uint(6, 9)]), ld(2, b"e"), uint(3, 9)])]
            .concat(),
    );
}

#[test]
fn rpc_refresh_and_sub_refresh_replies() {
    vector(
        Reply { id: 10, rpc: Some(RpcResult { data: raw(r#"{"echo":true}"#) }), ..Default::default() },
        r#"{"id":10,"rpc":{"data":{"echo":true}}}"#,
        [uint(1, 10), message(13, &[ld(1, br#"{"echo":true}"#)])].concat(),
    );
    vector(
        Reply {
            id: 11,
            refresh: Some(Box::new(RefreshResult {
                client: "c1".into(),
                version: "6.9.1".into(),
                expires: true,
                ttl: 120,
            })),
            ..Default::default()
        },
        r#"{"id":11,"refresh":{"client":"c1","version":"6.9.1","expires":true,"ttl":120}}"#,
        [uint(1, 11), message(14, &[ld(1, b"c1"), ld(2, b"6.9.1"), uint(3, 1), uint(4, 120)])].concat(),
    );
    vector(
        Reply {
            id: 12,
            sub_refresh: Some(Box::new(SubRefreshResult { expires: true, ttl: 30, items: vec![] })),
            ..Default::default()
        },
        r#"{"id":12,"sub_refresh":{"expires":true,"ttl":30}}"#,
        [uint(1, 12), message(15, &[uint(1, 1), uint(2, 30)])].concat(),
    );
}

// ---------------------------------------------------------------------------------------------
// Pushes.

#[test]
fn publication_push() {
    let push = Push {
        channel: "news".into(),
        r#pub: Some(Publication {
            data: raw(r#"{"text":"hi"}"#),
            offset: 12,
            tags: map([("a", "1".to_string()), ("b", "2".to_string())]),
            time: 1_700_000_000_123,
            ..Default::default()
        }),
        ..Default::default()
    };
    let json = r#"{"push":{"channel":"news","pub":{"data":{"text":"hi"},"offset":12,"tags":{"a":"1","b":"2"},"time":1700000000123}}}"#;
    let protobuf = message(
        4,
        &[
            ld(2, b"news"),
            message(
                4,
                &[
                    ld(4, br#"{"text":"hi"}"#),
                    uint(6, 12),
                    entry(7, "a", ld(2, b"1")),
                    entry(7, "b", ld(2, b"2")),
                    uint(9, 1_700_000_000_123),
                ],
            ),
        ],
    );
    vector(reply_push(push), json, protobuf);
}

#[test]
fn publication_push_with_the_newer_fields() {
    let push = Push {
        id: 77,
        r#pub: Some(Publication {
            data: raw(r#""delta-text""#),
            delta: true,
            channel: "news:1".into(),
            epoch: "e2".into(),
            prev_data: raw("{}"),
            ..Default::default()
        }),
        ..Default::default()
    };
    let json = r#"{"push":{"id":77,"pub":{"data":"delta-text","delta":true,"channel":"news:1","epoch":"e2","prev_data":{}}}}"#;
    let protobuf = message(
        4,
        &[
            uint(1, 77),
            message(
                4,
                &[ld(4, br#""delta-text""#), uint(8, 1), ld(10, b"news:1"), ld(14, b"e2"), ld(15, b"{}")],
            ),
        ],
    );
    vector(reply_push(push), json, protobuf);
}

#[test]
fn join_and_leave_pushes() {
    let info = ClientInfo { user: "u".into(), client: "c".into(), ..Default::default() };
    let join = Push {
        channel: "pres:a".into(),
        join: Some(Box::new(Join { info: Some(info.clone()) })),
        ..Default::default()
    };
    vector(
        reply_push(join),
        r#"{"push":{"channel":"pres:a","join":{"info":{"user":"u","client":"c"}}}}"#,
        message(4, &[ld(2, b"pres:a"), message(5, &[message(1, &[ld(1, b"u"), ld(2, b"c")])])]),
    );
    let leave = Push {
        channel: "pres:a".into(),
        leave: Some(Box::new(Leave { info: Some(info) })),
        ..Default::default()
    };
    vector(
        reply_push(leave),
        r#"{"push":{"channel":"pres:a","leave":{"info":{"user":"u","client":"c"}}}}"#,
        message(4, &[ld(2, b"pres:a"), message(6, &[message(1, &[ld(1, b"u"), ld(2, b"c")])])]),
    );
}

#[test]
fn unsubscribe_push() {
    let push = Push {
        channel: "news".into(),
        unsubscribe: Some(Box::new(Unsubscribe { code: 2000, reason: "server unsubscribe".into() })),
        ..Default::default()
    };
    vector(
        reply_push(push),
        r#"{"push":{"channel":"news","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}}"#,
        message(4, &[ld(2, b"news"), message(7, &[uint(2, 2000), ld(3, b"server unsubscribe")])]),
    );
}

#[test]
fn message_push() {
    let push = Push { message: Some(Box::new(Message { data: raw(r#""hello""#) })), ..Default::default() };
    vector(
        reply_push(push),
        r#"{"push":{"message":{"data":"hello"}}}"#,
        message(4, &[message(8, &[ld(1, br#""hello""#)])]),
    );
}

#[test]
fn subscribe_push() {
    let push = Push {
        channel: "srv".into(),
        subscribe: Some(Box::new(Subscribe {
            recoverable: true,
            epoch: "e".into(),
            offset: 7,
            positioned: true,
            data: raw(r#"{"s":1}"#),
        })),
        ..Default::default()
    };
    vector(
        reply_push(push),
        r#"{"push":{"channel":"srv","subscribe":{"recoverable":true,"epoch":"e","offset":7,"positioned":true,"data":{"s":1}}}}"#,
        message(
            4,
            &[
                ld(2, b"srv"),
                message(9, &[uint(1, 1), ld(4, b"e"), uint(5, 7), uint(6, 1), ld(7, br#"{"s":1}"#)]),
            ],
        ),
    );
}

#[test]
fn connect_disconnect_and_refresh_pushes() {
    let push = Push {
        connect: Some(Box::new(Connect {
            client: "c".into(),
            version: "6".into(),
            data: raw(r#"{"d":1}"#),
            ping: 25,
            pong: true,
            ..Default::default()
        })),
        ..Default::default()
    };
    vector(
        reply_push(push),
        r#"{"push":{"connect":{"client":"c","version":"6","data":{"d":1},"ping":25,"pong":true}}}"#,
        message(
            4,
            &[message(10, &[ld(1, b"c"), ld(2, b"6"), ld(3, br#"{"d":1}"#), uint(7, 25), uint(8, 1)])],
        ),
    );
    let push = Push {
        disconnect: Some(Box::new(Disconnect { code: 3001, reason: "shutdown".into(), reconnect: false })),
        ..Default::default()
    };
    vector(
        reply_push(push),
        r#"{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}"#,
        message(4, &[message(11, &[uint(1, 3001), ld(2, b"shutdown")])]),
    );
    let push = Push { refresh: Some(Box::new(Refresh { expires: true, ttl: 10 })), ..Default::default() };
    vector(
        reply_push(push),
        r#"{"push":{"refresh":{"expires":true,"ttl":10}}}"#,
        message(4, &[message(12, &[uint(1, 1), uint(2, 10)])]),
    );
}

// ---------------------------------------------------------------------------------------------
// Batching, tolerance, defaults.

fn publication(channel: &str, data: &str, offset: u64) -> Reply {
    reply_push(Push {
        channel: channel.into(),
        r#pub: Some(Publication { data: raw(data), offset, ..Default::default() }),
        ..Default::default()
    })
}

#[test]
fn several_commands_share_one_frame_in_order() {
    let commands = vec![
        Command {
            id: 1,
            connect: Some(Box::new(ConnectRequest { name: "rust".into(), ..Default::default() })),
            ..Default::default()
        },
        Command {
            id: 2,
            subscribe: Some(Box::new(SubscribeRequest { channel: "a".into(), ..Default::default() })),
            ..Default::default()
        },
        Command {
            id: 3,
            subscribe: Some(Box::new(SubscribeRequest { channel: "b".into(), ..Default::default() })),
            ..Default::default()
        },
    ];
    let frame = json_codec().encode(&commands).unwrap();
    assert_eq!(
        frame.data.as_ref(),
        br#"{"id":1,"connect":{"name":"rust"}}
{"id":2,"subscribe":{"channel":"a"}}
{"id":3,"subscribe":{"channel":"b"}}"#
    );
    let frame_pb = protobuf_codec().encode(&commands).unwrap();
    let expected = wire::frame(&[
        [uint(1, 1), message(4, &[ld(4, b"rust")])].concat(),
        [uint(1, 2), message(5, &[ld(1, b"a")])].concat(),
        [uint(1, 3), message(5, &[ld(1, b"b")])].concat(),
    ]);
    assert_eq!(frame_pb.data.as_ref(), expected.as_slice());
    for (codec, frame) in [(json_codec(), frame), (protobuf_codec(), frame_pb)] {
        let mut decoded: Vec<Command> = Vec::new();
        codec.decode(&frame, &mut decoded).unwrap();
        assert_eq!(decoded, commands);
    }
}

#[test]
fn replies_pushes_and_pings_share_one_frame_in_order() {
    let replies = vec![
        publication("a", r#"{"n":1}"#, 1),
        Reply { id: 7, publish: Some(PublishResult {}), ..Default::default() },
        Reply::default(),
        publication("a", r#"{"n":2}"#, 2),
    ];
    let json = "{\"push\":{\"channel\":\"a\",\"pub\":{\"data\":{\"n\":1},\"offset\":1}}}\n{\"id\":7,\"publish\":{}}\n{}\n{\"push\":{\"channel\":\"a\",\"pub\":{\"data\":{\"n\":2},\"offset\":2}}}";
    assert_eq!(json_codec().encode(&replies).unwrap().data.as_ref(), json.as_bytes());
    let mut decoded: Vec<Reply> = Vec::new();
    json_codec().decode(&text(json), &mut decoded).unwrap();
    assert_eq!(decoded, replies);

    let frame = protobuf_codec().encode(&replies).unwrap();
    let mut decoded: Vec<Reply> = Vec::new();
    protobuf_codec().decode(&frame, &mut decoded).unwrap();
    assert_eq!(decoded, replies);
    // The ping in the middle is the single zero-length prefix between the two results.
    let expected = wire::frame(&[
        message(4, &[ld(2, b"a"), message(4, &[ld(4, br#"{"n":1}"#), uint(6, 1)])]),
        [uint(1, 7), ld(8, b"")].concat(),
        vec![],
        message(4, &[ld(2, b"a"), message(4, &[ld(4, br#"{"n":2}"#), uint(6, 2)])]),
    ]);
    assert_eq!(frame.data.as_ref(), expected.as_slice());
}

#[test]
fn decoded_payloads_share_the_frame_memory_in_both_formats() {
    let replies = vec![publication("a", r#"{"n":1}"#, 1), publication("a", r#"[2,"two"]"#, 2)];
    for codec in [json_codec(), protobuf_codec()] {
        let frame = codec.encode(&replies).unwrap();
        let mut decoded: Vec<Reply> = Vec::new();
        codec.decode(&frame, &mut decoded).unwrap();
        assert_eq!(decoded, replies);
        let frame_range = frame.data.as_ptr_range();
        for reply in &decoded {
            let data = &reply.push.as_ref().unwrap().r#pub.as_ref().unwrap().data;
            assert!(
                frame_range.contains(&data.as_ptr()),
                "{codec:?}: the payload {data:?} was copied out of the frame"
            );
        }
    }
    // Outside a decode, a payload has no frame to point into and is copied.
    let alone: Reply = serde_json::from_str(r#"{"push":{"channel":"a","pub":{"data":{"n":1}}}}"#).unwrap();
    assert_eq!(alone.push.unwrap().r#pub.unwrap().data.as_ref(), br#"{"n":1}"#);
}

#[test]
fn json_decoding_skips_blank_lines_and_surrounding_whitespace() {
    let mut decoded: Vec<Reply> = Vec::new();
    json_codec().decode(&text("\n {\"id\":1,\"publish\":{}} \r\n\n{}\n"), &mut decoded).unwrap();
    assert_eq!(
        decoded,
        vec![Reply { id: 1, publish: Some(PublishResult {}), ..Default::default() }, Reply::default()]
    );
}

#[test]
fn a_frame_of_line_breaks_holds_no_messages_and_reserves_little() {
    let frame = Frame { kind: FrameKind::Text, data: Bytes::from(vec![b'\n'; 1 << 20]) };
    let mut decoded: Vec<Reply> = Vec::new();
    json_codec().decode(&frame, &mut decoded).unwrap();
    assert!(decoded.is_empty());
    assert!(decoded.capacity() <= 1024, "reserved room for {} messages", decoded.capacity());
}

#[test]
fn a_frame_of_more_pings_than_one_frame_may_decode_is_refused() {
    let limit = DECODED_FLOOR / std::mem::size_of::<Reply>();
    // Each a ping: one zero byte in Protobuf, `{}` and a line break in JSON.
    let frames =
        [(protobuf_codec(), binary(&vec![0u8; limit + 1])), (json_codec(), text(&"{}\n".repeat(limit + 1)))];
    for (codec, frame) in frames {
        let mut decoded: Vec<Reply> = vec![Reply::default()];
        let err = codec.decode(&frame, &mut decoded).unwrap_err();
        assert!(matches!(err, CodecError::TooManyMessages { limit: l } if l == limit), "{codec:?}: {err}");
        assert_eq!(decoded.len(), 1, "what was there before stays, nothing else");
        // One fewer is a frame like any other.
        let frame =
            Frame { kind: frame.kind, data: frame.data.slice(..frame.data.len() * limit / (limit + 1)) };
        decoded.clear();
        codec.decode(&frame, &mut decoded).unwrap();
        assert_eq!(decoded.len(), limit, "{codec:?}");
    }
}

#[test]
fn an_empty_frame_holds_no_messages() {
    let mut decoded: Vec<Reply> = Vec::new();
    json_codec().decode(&text(""), &mut decoded).unwrap();
    protobuf_codec().decode(&binary(b""), &mut decoded).unwrap();
    assert!(decoded.is_empty());
}

#[test]
fn unknown_fields_are_ignored() {
    let mut decoded: Vec<Reply> = Vec::new();
    json_codec()
        .decode(
            &text(
                r#"{"id":1,"future":{"x":[1,{"y":null}]},"connect":{"client":"c","new_thing":5,"more":"s"}}"#,
            ),
            &mut decoded,
        )
        .unwrap();
    let expected = Reply {
        id: 1,
        connect: Some(Box::new(ConnectResult { client: "c".into(), ..Default::default() })),
        ..Default::default()
    };
    assert_eq!(decoded, vec![expected.clone()]);

    // Field 99 (varint) at the top, field 40 (bytes) inside the connect result.
    let with_unknown =
        [uint(1, 1), uint(99, 5), message(5, &[ld(1, b"c"), ld(40, b"zzz"), wire::int(41, -7)])].concat();
    let mut decoded: Vec<Reply> = Vec::new();
    protobuf_codec().decode(&binary(&wire::frame(&[with_unknown])), &mut decoded).unwrap();
    assert_eq!(decoded, vec![expected]);
}

#[test]
fn missing_fields_take_their_defaults() {
    let mut decoded: Vec<Reply> = Vec::new();
    json_codec()
        .decode(&text(r#"{"id":1,"subscribe":{"recoverable":true},"push":{"pub":{}}}"#), &mut decoded)
        .unwrap();
    let reply = &decoded[0];
    let subscribe = reply.subscribe.as_ref().unwrap();
    assert_eq!((subscribe.offset, subscribe.epoch.as_str(), subscribe.recovered), (0, "", false));
    let publication = reply.push.as_ref().unwrap().r#pub.as_ref().unwrap();
    assert!(publication.data.is_empty() && publication.info.is_none() && publication.tags.is_empty());
}

#[test]
fn null_payloads_stay_the_json_null_value() {
    let mut decoded: Vec<Reply> = Vec::new();
    json_codec().decode(&text(r#"{"id":1,"rpc":{"data":null}}"#), &mut decoded).unwrap();
    assert_eq!(decoded[0].rpc.as_ref().unwrap().data.as_ref(), b"null");
}

#[test]
fn json_payloads_are_validated_and_line_breaks_become_spaces_when_encoding() {
    let pretty = "{\n  \"a\": [1,\n 2],\n  \"s\": \"x\\ny\"\n}";
    let command = Command { send: Some(SendRequest { data: raw(pretty) }), ..Default::default() };
    let frame = json_codec().encode(&[command]).unwrap();
    assert_eq!(frame.data.as_ref(), br#"{"send":{"data":{   "a": [1,  2],   "s": "x\ny" }}}"#);

    // Invalid stays invalid: tokens that only a line break separated are not joined, and a raw
    // line break inside a string is not JSON.
    for invalid in
        ["{", "not json", "{\"a\":1} trailing", "\u{1}", "1\n2", "tru\ne", "\"a\nb\"", "[\"\\\"\n\"]"]
    {
        let command = Command { send: Some(SendRequest { data: raw(invalid) }), ..Default::default() };
        let err = json_codec().encode(&[command]).unwrap_err();
        assert!(matches!(err, CodecError::InvalidJsonPayload(_)), "{invalid:?} gave {err:?}");
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }
    // Protobuf carries any bytes.
    let command = Command { send: Some(SendRequest { data: raw("not json") }), ..Default::default() };
    assert!(protobuf_codec().encode(&[command]).is_ok());
}

#[test]
fn protobuf_payload_bytes_are_slices_of_the_frame() {
    let frame = protobuf_codec().encode(&[publication("a", r#"{"n":1}"#, 1)]).unwrap();
    let mut decoded: Vec<Reply> = Vec::new();
    protobuf_codec().decode(&frame, &mut decoded).unwrap();
    let data = &decoded[0].push.as_ref().unwrap().r#pub.as_ref().unwrap().data;
    let frame_range = frame.data.as_ptr() as usize..frame.data.as_ptr() as usize + frame.data.len();
    assert!(frame_range.contains(&(data.as_ptr() as usize)), "payload was copied out of the frame");
}

// ---------------------------------------------------------------------------------------------
// Malformed frames: a typed error, never a panic, nothing appended.

fn decode_error(codec: Codec, frame: Frame) -> CodecError {
    let mut out = vec![Reply { id: 99, ..Default::default() }];
    let err = codec.decode::<Reply>(&frame, &mut out).expect_err(&format!("{:?} is malformed", frame.data));
    assert_eq!(out, vec![Reply { id: 99, ..Default::default() }], "a failed decode appended messages");
    err
}

#[test]
fn bad_json_is_a_json_error_with_its_line() {
    for (frame, line) in [
        ("{\"id\":", 0),
        ("{}\n{\"id\":1,,}", 1),
        ("{}\n\n{\"push\":{\"pub\":{\"data\":}}}", 2),
        ("[1]", 0),
        ("\"x\"", 0),
        ("null", 0),
        ("42", 0),
        ("{\"id\":1}{\"id\":2}", 0),
    ] {
        match decode_error(json_codec(), text(frame)) {
            CodecError::Json { line: got, .. } => assert_eq!(got, line, "{frame:?}"),
            other => panic!("{frame:?} gave {other:?}"),
        }
    }
}

#[test]
fn json_with_wrong_types_is_rejected() {
    for frame in [
        r#"{"id":"1"}"#,
        r#"{"id":-1}"#,
        r#"{"id":4294967296}"#,
        r#"{"id":1.5}"#,
        r#"{"push":{"channel":5}}"#,
        r#"{"id":1,"connect":{"ping":"25"}}"#,
        r#"{"id":1,"error":{"code":-103}}"#,
        r#"{"id":1,"subscribe":{"publications":{}}}"#,
        r#"{"id":1,"connect":{"subs":[]}}"#,
        r#"{"push":{"pub":{"offset":18446744073709551616}}}"#,
        r#"{"push":{"pub":{"tags":{"a":1}}}}"#,
        r#"{"id":1,"connect":{"expires":"true"}}"#,
    ] {
        assert!(matches!(decode_error(json_codec(), text(frame)), CodecError::Json { .. }), "{frame}");
    }
}

#[test]
fn invalid_utf8_in_a_text_frame_is_rejected() {
    for bytes in [
        &b"{\"push\":{\"channel\":\"\xff\"}}"[..],
        b"{\"id\":1,\"rpc\":{\"data\":\"\xc3\x28\"}}",
        b"\xef\xbb\xbf{}",
    ] {
        let frame = Frame { kind: FrameKind::Text, data: Bytes::copy_from_slice(bytes) };
        assert!(matches!(decode_error(json_codec(), frame), CodecError::Json { .. }), "{bytes:?}");
    }
}

#[test]
fn a_frame_of_the_wrong_kind_is_rejected() {
    let err = decode_error(json_codec(), binary(b"{}"));
    assert!(matches!(
        err,
        CodecError::UnexpectedFrameKind { expected: FrameKind::Text, received: FrameKind::Binary }
    ));
    let err = decode_error(protobuf_codec(), text("\u{0}"));
    assert!(matches!(
        err,
        CodecError::UnexpectedFrameKind { expected: FrameKind::Binary, received: FrameKind::Text }
    ));
}

#[test]
fn an_oversized_frame_is_rejected_before_parsing() {
    let small_json = Codec::new(Protocol::Json, 16);
    let err = decode_error(small_json, text(r#"{"id":1,"publish":{}}"#));
    assert!(matches!(err, CodecError::TooLarge { size: 21, limit: 16 }), "{err:?}");
    // Exactly at the limit is fine.
    let mut out: Vec<Reply> = Vec::new();
    Codec::new(Protocol::Json, 21).decode(&text(r#"{"id":1,"publish":{}}"#), &mut out).unwrap();

    let small_protobuf = Codec::new(Protocol::Protobuf, 16);
    let err = decode_error(small_protobuf, binary(&[0u8; 17]));
    assert!(matches!(err, CodecError::TooLarge { size: 17, limit: 16 }), "{err:?}");
}

#[test]
fn a_length_prefix_over_the_limit_is_rejected_before_allocation() {
    let codec = Codec::new(Protocol::Protobuf, 1000);
    // Prefix says 2^62 bytes: refused on the number alone.
    let mut frame = wire::varint(1 << 62);
    frame.push(0);
    let err = decode_error(codec, binary(&frame));
    assert!(matches!(err, CodecError::TooLarge { size, limit: 1000 } if size == 1 << 62), "{err:?}");
    let err = decode_error(codec, binary(&[0xe9, 0x07, 1, 2, 3]));
    assert!(matches!(err, CodecError::TooLarge { size: 1001, limit: 1000 }), "{err:?}");
}

#[test]
fn a_length_prefix_past_the_end_is_rejected() {
    let err = decode_error(protobuf_codec(), binary(&[0x05, 0x08, 0x01]));
    assert!(matches!(err, CodecError::LengthPastEnd { offset: 0, declared: 5, remaining: 2 }), "{err:?}");
    // The second message of the frame is the short one.
    let err = decode_error(protobuf_codec(), binary(&[0x00, 0x02, 0x08]));
    assert!(matches!(err, CodecError::LengthPastEnd { offset: 1, declared: 2, remaining: 1 }), "{err:?}");
}

#[test]
fn a_truncated_or_overlong_varint_prefix_is_rejected() {
    for (frame, offset) in
        [(&[0x80][..], 0), (&[0xff, 0xff][..], 0), (&[0x00, 0x80, 0x80][..], 1), (&[0xff; 11][..], 0)]
    {
        let err = decode_error(protobuf_codec(), binary(frame));
        assert!(
            matches!(err, CodecError::InvalidLengthPrefix { offset: got } if got == offset),
            "{frame:?}: {err:?}"
        );
    }
}

#[test]
fn an_invalid_protobuf_body_is_rejected() {
    for body in [
        vec![0x0a, 0x05],                   // field 1 as bytes (wrong wire type for id) cut short
        vec![0x22, 0x05, 0x01],             // push: embedded message longer than the body
        vec![0x0f],                         // wire type 7 does not exist
        vec![0x08],                         // varint field without its value
        vec![0x08, 0x80, 0x80],             // truncated varint value
        vec![0x22, 0x02, 0x12, 0x01],       // push.channel string cut short
        vec![0x22, 0x03, 0x12, 0x01, 0xff], // push.channel not UTF-8
        vec![0x00],                         // field number 0
    ] {
        let frame = wire::frame(std::slice::from_ref(&body));
        let err = decode_error(protobuf_codec(), binary(&frame));
        assert!(matches!(err, CodecError::Protobuf { offset: 0, .. }), "{body:?}: {err:?}");
    }
}

#[test]
fn a_bad_message_after_good_ones_fails_the_whole_frame() {
    let good = protobuf_codec().encode(&[publication("a", "1", 1)]).unwrap();
    let mut frame = good.data.to_vec();
    frame.extend_from_slice(&[0x03, 0x0f, 0x00, 0x00]);
    let err = decode_error(protobuf_codec(), binary(&frame));
    assert!(matches!(err, CodecError::Protobuf { offset, .. } if offset == good.data.len()), "{err:?}");

    let err = decode_error(json_codec(), text("{\"push\":{\"channel\":\"a\"}}\n{oops"));
    assert!(matches!(err, CodecError::Json { line: 1, .. }), "{err:?}");
}

#[test]
fn errors_explain_themselves() {
    let err = decode_error(Codec::new(Protocol::Protobuf, 4), binary(&[0x09]));
    assert_eq!(err.to_string(), "message of 9 bytes exceeds the limit of 4 bytes");
    let err = decode_error(json_codec(), binary(b"{}"));
    assert_eq!(err.to_string(), "received a Binary frame where the wire format uses Text frames");
    let err = decode_error(json_codec(), text("{"));
    assert!(err.to_string().starts_with("invalid JSON message on line 0:"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}
