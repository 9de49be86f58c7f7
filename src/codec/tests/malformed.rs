//! Malformed frames: a typed error, never a panic, nothing appended.

use super::*;

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
