//! Properties: encode→decode is the identity for arbitrary command batches, and decoding never
//! panics, whatever the bytes.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

use super::*;
use crate::protocol::*;

/// Arbitrary JSON text, compact (as a JSON connection requires of payloads).
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|value| value.to_string()),
        any::<i64>().prop_map(|value| value.to_string()),
        any::<u64>().prop_map(|value| value.to_string()),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |value| value.is_finite())
            .prop_map(|value| { serde_json::to_string(&value).expect("a finite float serializes") }),
        any::<String>().prop_map(|value| serde_json::to_string(&value).expect("a string serializes")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(","))),
            btree_map(any::<String>(), inner, 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .iter()
                    .map(|(key, value)| {
                        format!("{}:{value}", serde_json::to_string(key).expect("a key serializes"))
                    })
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

fn payload(format: Protocol) -> BoxedStrategy<Bytes> {
    match format {
        Protocol::Json => prop_oneof![Just(Bytes::new()), json_text().prop_map(Bytes::from)].boxed(),
        Protocol::Protobuf => vec(any::<u8>(), 0..48).prop_map(Bytes::from).boxed(),
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), any::<String>()]
}

fn strings() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map(text(), text(), 0..3)
}

fn filter_node() -> impl Strategy<Value = FilterNode> {
    let leaf = (text(), text(), text(), text(), vec(text(), 0..3))
        .prop_map(|(op, key, cmp, val, vals)| FilterNode { op, key, cmp, val, vals, nodes: vec![] });
    leaf.prop_recursive(2, 8, 3, |inner| {
        (text(), vec(inner, 0..3)).prop_map(|(op, nodes)| FilterNode { op, nodes, ..Default::default() })
    })
}

fn subscribe_request(format: Protocol) -> impl Strategy<Value = SubscribeRequest> {
    (
        (text(), text(), any::<bool>(), text(), any::<u64>(), payload(format), any::<bool>(), any::<bool>()),
        (any::<bool>(), text(), option::of(filter_node()), any::<i64>(), any::<i32>(), any::<i32>()),
        (text(), any::<i32>(), any::<bool>()),
    )
        .prop_map(
            |(
                (channel, token, recover, epoch, offset, data, positioned, recoverable),
                (join_leave, delta, tf, flag, r#type, phase),
                (cursor, limit, asc),
            )| SubscribeRequest {
                channel,
                token,
                recover,
                epoch,
                offset,
                data,
                positioned,
                recoverable,
                join_leave,
                delta,
                tf,
                flag,
                r#type,
                phase,
                cursor,
                limit,
                asc,
            },
        )
}

fn connect_request(format: Protocol) -> impl Strategy<Value = ConnectRequest> {
    (
        text(),
        payload(format),
        btree_map(text(), subscribe_request(format), 0..3),
        text(),
        text(),
        strings(),
        any::<i64>(),
        text(),
        text(),
    )
        .prop_map(|(token, data, subs, name, version, headers, flag, dict, profile)| ConnectRequest {
            token,
            data,
            subs,
            name,
            version,
            headers,
            flag,
            dict,
            profile,
        })
}

fn publish_request(format: Protocol) -> impl Strategy<Value = PublishRequest> {
    (text(), payload(format), any::<i32>(), text(), any::<bool>()).prop_map(
        |(channel, data, r#type, key, removed)| PublishRequest { channel, data, r#type, key, removed },
    )
}

fn history_request() -> impl Strategy<Value = HistoryRequest> {
    (text(), any::<i32>(), option::of((any::<u64>(), text())), any::<bool>()).prop_map(
        |(channel, limit, since, reverse)| HistoryRequest {
            channel,
            limit,
            since: since.map(|(offset, epoch)| StreamPosition { offset, epoch }),
            reverse,
        },
    )
}

fn sub_refresh_request() -> impl Strategy<Value = SubRefreshRequest> {
    let item = (text(), any::<u64>()).prop_map(|(key, version)| KeyedItem { key, version });
    let batch = (text(), vec(item, 0..3)).prop_map(|(signature, items)| TrackBatch { signature, items });
    (text(), text(), any::<i32>(), vec(batch, 0..2), vec(text(), 0..3)).prop_map(
        |(channel, token, r#type, track, untrack)| SubRefreshRequest {
            channel,
            token,
            r#type,
            track,
            untrack,
        },
    )
}

fn command(format: Protocol) -> impl Strategy<Value = Command> {
    (
        (
            any::<u32>(),
            option::of(connect_request(format)),
            option::of(subscribe_request(format)),
            option::of(text().prop_map(|channel| UnsubscribeRequest { channel })),
            option::of(publish_request(format)),
            option::of(text().prop_map(|channel| PresenceRequest { channel })),
            option::of(text().prop_map(|channel| PresenceStatsRequest { channel })),
        ),
        (
            option::of(history_request()),
            option::of(Just(PingRequest {})),
            option::of(payload(format).prop_map(|data| SendRequest { data })),
            option::of((payload(format), text()).prop_map(|(data, method)| RpcRequest { data, method })),
            option::of(text().prop_map(|token| RefreshRequest { token })),
            option::of(sub_refresh_request()),
        ),
    )
        .prop_map(
            |(
                (id, connect, subscribe, unsubscribe, publish, presence, presence_stats),
                (history, ping, send, rpc, refresh, sub_refresh),
            )| Command {
                id,
                connect: connect.map(Box::new),
                subscribe: subscribe.map(Box::new),
                unsubscribe,
                publish,
                presence,
                presence_stats,
                history: history.map(Box::new),
                ping,
                send,
                rpc,
                refresh,
                sub_refresh: sub_refresh.map(Box::new),
            },
        )
}

fn publication_push(format: Protocol) -> impl Strategy<Value = Reply> {
    (text(), payload(format), any::<u64>(), strings(), any::<bool>(), any::<i64>(), any::<i64>(), text())
        .prop_map(|(channel, data, offset, tags, delta, time, score, epoch)| Reply {
            push: Some(Push {
                channel,
                r#pub: Some(Publication {
                    data,
                    offset,
                    tags,
                    delta,
                    time,
                    score,
                    epoch,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
}

fn round_trip<M: WireMessage + PartialEq + std::fmt::Debug>(format: Protocol, batch: &[M]) -> Vec<M> {
    let codec = Codec::new(format, Codec::DEFAULT_MAX_MESSAGE_SIZE);
    let frame = codec.encode(batch).expect("an arbitrary batch encodes");
    let mut decoded = Vec::new();
    codec.decode(&frame, &mut decoded).expect("an encoded batch decodes");
    decoded
}

/// Decodes `data` as both kinds of frame, as replies and as commands. What decodes must
/// respect the limits and account for its bytes: no frame over the size limit, and, for
/// Protobuf, the messages with their length prefixes re-encode to no more than the frame
/// (a message never comes out of nothing, nor twice).
fn decode_both_kinds(format: Protocol, data: &[u8]) -> Result<(), TestCaseError> {
    const LIMIT: usize = 4096;
    let codec = Codec::new(format, LIMIT);
    for kind in [FrameKind::Text, FrameKind::Binary] {
        let frame = Frame { kind, data: Bytes::copy_from_slice(data) };
        check_decoded::<Reply>(format, &codec, &frame, LIMIT)?;
        check_decoded::<Command>(format, &codec, &frame, LIMIT)?;
    }
    Ok(())
}

fn check_decoded<M: WireMessage>(
    format: Protocol,
    codec: &Codec,
    frame: &Frame,
    limit: usize,
) -> Result<(), TestCaseError> {
    let mut out: Vec<M> = Vec::new();
    if codec.decode(frame, &mut out).is_ok() {
        let size = frame.data.len();
        prop_assert!(size <= limit, "a frame of {size} bytes decoded over the limit of {limit}");
        prop_assert!(out.len() <= size, "{} messages from {size} bytes", out.len());
        if format == Protocol::Protobuf {
            let accounted: usize = out.iter().map(|message| message.encoded_len() + 1).sum();
            prop_assert!(
                accounted <= size,
                "{} messages re-encode to {accounted} bytes, from {size}",
                out.len()
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn json_command_batches_round_trip(batch in vec(command(Protocol::Json), 1..4)) {
        prop_assert_eq!(round_trip(Protocol::Json, &batch), batch);
    }

    #[test]
    fn protobuf_command_batches_round_trip(batch in vec(command(Protocol::Protobuf), 1..4)) {
        prop_assert_eq!(round_trip(Protocol::Protobuf, &batch), batch);
    }

    #[test]
    fn publication_pushes_round_trip(
        json in vec(publication_push(Protocol::Json), 1..4),
        protobuf in vec(publication_push(Protocol::Protobuf), 1..4),
    ) {
        prop_assert_eq!(round_trip(Protocol::Json, &json), json);
        prop_assert_eq!(round_trip(Protocol::Protobuf, &protobuf), protobuf);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(data in vec(any::<u8>(), 0..512)) {
        decode_both_kinds(Protocol::Json, &data)?;
        decode_both_kinds(Protocol::Protobuf, &data)?;
    }

    #[test]
    fn decoding_arbitrary_text_never_panics(data in "[{}\\[\\]\":,0-9a-z\\\\ \n-]{0,200}") {
        decode_both_kinds(Protocol::Json, data.as_bytes())?;
    }

    #[test]
    fn decoding_damaged_frames_never_panics(
        batch in vec(command(Protocol::Protobuf), 1..3),
        damage in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        for format in [Protocol::Json, Protocol::Protobuf] {
            let codec = Codec::new(format, Codec::DEFAULT_MAX_MESSAGE_SIZE);
            let Ok(frame) = codec.encode(&batch) else { continue };
            // Undamaged first: a frame that decodes whole, so the checks have messages to count.
            decode_both_kinds(format, &frame.data)?;
            let mut data = frame.data.to_vec();
            for (at, byte) in &damage {
                let at = at.index(data.len());
                data[at] = *byte;
            }
            data.truncate(cut.index(data.len() + 1));
            decode_both_kinds(format, &data)?;
        }
    }
}
