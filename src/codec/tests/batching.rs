//! Batching, tolerance and defaults: several messages per frame, blank lines, empty frames, shared payload memory.

use super::*;

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
