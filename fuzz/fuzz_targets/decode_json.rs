//! Any bytes as a JSON text frame: decoding returns messages or an error, never panics, and
//! whatever decodes encodes again.
#![no_main]

use centrifuge_blocking::unversioned::{Codec, Command, Frame, FrameKind, Protocol, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let codec = Codec::new(Protocol::Json, 1 << 20);
    let frame = Frame { kind: FrameKind::Text, data: data.to_vec().into() };
    let mut replies: Vec<Reply> = Vec::new();
    if codec.decode(&frame, &mut replies).is_ok() && !replies.is_empty() {
        let _ = codec.encode(&replies);
    }
    let mut commands: Vec<Command> = Vec::new();
    let _ = codec.decode(&frame, &mut commands);
});
