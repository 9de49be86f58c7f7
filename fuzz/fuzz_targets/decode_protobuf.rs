//! Any bytes as a Protobuf binary frame: decoding returns messages or an error, never panics,
//! and whatever decodes round-trips through the encoder.
#![no_main]

use centrifuge_blocking::unversioned::{Codec, Command, Frame, FrameKind, Protocol, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let codec = Codec::new(Protocol::Protobuf, 1 << 20);
    let frame = Frame { kind: FrameKind::Binary, data: data.to_vec().into() };
    let mut replies: Vec<Reply> = Vec::new();
    if codec.decode(&frame, &mut replies).is_ok() {
        let encoded = codec.encode(&replies).expect("decoded replies encode");
        let mut again: Vec<Reply> = Vec::new();
        codec.decode(&encoded, &mut again).expect("encoded replies decode");
        assert_eq!(again, replies);
    }
    let mut commands: Vec<Command> = Vec::new();
    let _ = codec.decode(&frame, &mut commands);
});
