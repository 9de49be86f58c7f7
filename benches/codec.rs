//! Decoding publication pushes: the client's hottest path.
//!
//! `cargo bench --bench codec` reports publications per second (criterion's "elem/s") on one
//! thread, for 100 B and 4 KiB payloads, JSON and Protobuf, one publication per frame and 64 per
//! frame (how Centrifugo batches under load). Results are recorded in BENCHMARKS.md.

use std::hint::black_box;

use bytes::Bytes;
use centrifuge_blocking::unversioned::{Codec, Frame, Protocol, Publication, Push, Reply};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BATCH: usize = 64;

/// A JSON object payload of exactly `size` bytes, like an application message.
fn payload(size: usize, seq: usize) -> Bytes {
    let head = format!(r#"{{"seq":{seq},"text":""#);
    let tail = r#""}"#;
    let filler = "x".repeat(size - head.len() - tail.len());
    Bytes::from(format!("{head}{filler}{tail}"))
}

fn frame(format: Protocol, payload_size: usize, count: usize) -> Frame {
    let pushes: Vec<Reply> = (0..count)
        .map(|seq| Reply {
            push: Some(Push {
                channel: "bench:stream".into(),
                r#pub: Some(Publication {
                    data: payload(payload_size, seq),
                    offset: 1_000_000 + seq as u64,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    Codec::new(format, Codec::DEFAULT_MAX_MESSAGE_SIZE).encode(&pushes).expect("bench pushes encode")
}

fn decode_publications(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_publications");
    for format in [Protocol::Json, Protocol::Protobuf] {
        let codec = Codec::new(format, Codec::DEFAULT_MAX_MESSAGE_SIZE);
        for payload_size in [100, 4096] {
            for per_frame in [1, BATCH] {
                let frame = frame(format, payload_size, per_frame);
                let name = format!("{format:?}/{payload_size}B/{per_frame}_per_frame").to_lowercase();
                group.throughput(Throughput::Elements(per_frame as u64));
                let mut replies: Vec<Reply> = Vec::with_capacity(BATCH);
                group.bench_function(name, |b| {
                    b.iter(|| {
                        replies.clear();
                        codec.decode(black_box(&frame), &mut replies).expect("bench frames decode");
                        black_box(&replies);
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, decode_publications);
criterion_main!(benches);
