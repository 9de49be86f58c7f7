//! Any bytes as a chunked HTTP-streaming or SSE body, fed in pieces: decoding cuts out message
//! batches or stops with an error, never panics, and never holds more than the limit of an
//! incomplete message. The first two bytes choose the framing and the piece size.
#![no_main]

use centrifuge_blocking::unversioned::{StreamFraming, decode_http_stream};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let [selector, piece, body @ ..] = data else { return };
    let framing = match selector % 3 {
        0 => StreamFraming::JsonLines,
        1 => StreamFraming::Varints,
        _ => StreamFraming::ServerSentEvents,
    };
    if let Ok(batches) = decode_http_stream(body, usize::from(*piece) + 1, framing, LIMIT) {
        let out: usize = batches.iter().map(Vec::len).sum();
        // De-chunking only removes bytes; SSE also drops its field names and line ends.
        assert!(out <= body.len(), "{out} bytes out of {} in", body.len());
    }
});
