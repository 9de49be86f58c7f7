//! The physical floor: no SDK, a bare tungstenite socket (contract: tests/peers/README.md).
//!
//! `ingest` sends `connect` and `subscribe` by hand, then only reads frames and counts the
//! publication pushes in them (JSON: one per line; Protobuf: one per length-delimited message;
//! empty messages are pings), decoding nothing. `roundtrip` sends one command at a time and
//! reads frames until the reply carrying its id has come, decoded with the crate's codec.
//! `pipelined` keeps `workers` publishes in flight from one thread, the way no SDK can beat:
//! each frame of replies is answered by one frame with as many new publishes. It measures what
//! the server and the loopback allow for one connection.

#[allow(dead_code)]
#[path = "../../../../support/raw.rs"]
mod raw;

use std::time::Instant;

use centrifuge_blocking::unversioned::{Command, Protocol, PublishRequest, RpcRequest, SubscribeRequest};
use centrifuge_peer_bench::driver::{self, Args, fail};
use raw::RawConnection;
use serde_json::json;
use tungstenite::Message;

const WARM_UP: usize = 200;

fn main() {
    let args = Args::from_env();
    match args.scenario.as_str() {
        "ingest" => ingest(&args),
        "roundtrip" => roundtrip(&args),
        "pipelined" => pipelined(&args),
        other => fail(&format!("unsupported scenario {other}")),
    }
}

fn ingest(args: &Args) {
    let count = args.number("count");
    let protocol = args.protocol();
    let cpu_start = driver::cpu_time();
    let (mut connection, _) = RawConnection::connect(args.text("url"), protocol, "");
    let reply = connection.request(Command {
        subscribe: Some(Box::new(SubscribeRequest {
            channel: args.text("channel").into(),
            ..Default::default()
        })),
        ..Default::default()
    });
    if reply.error.is_some() {
        fail(&format!("subscribe failed: {:?}", reply.error));
    }
    driver::ready();
    let (mut socket, already_read) = connection.into_socket();
    let mut seen = already_read as u64;
    let mut started = (seen > 0).then(Instant::now);
    while seen < count {
        let message = socket.read().unwrap_or_else(|err| fail(&format!("read failed: {err}")));
        let pushes = match (&message, protocol) {
            (Message::Text(text), Protocol::Json) => {
                text.split('\n').filter(|line| *line != "{}").count() as u64
            }
            (Message::Binary(data), Protocol::Protobuf) => delimited_messages(data),
            _ => 0,
        };
        if pushes > 0 && started.is_none() {
            started = Some(Instant::now());
        }
        seen += pushes;
    }
    let wall = started.map_or(0.0, |started| started.elapsed().as_secs_f64());
    let cpu = driver::cpu_time() - cpu_start;
    driver::result(
        json!({ "count": count, "wall_s": wall, "cpu_s": cpu.as_secs_f64(), "rss_kib": driver::rss_kib() }),
    );
}

/// Non-empty varint-length-delimited messages in `data`.
fn delimited_messages(data: &[u8]) -> u64 {
    let (mut at, mut count) = (0, 0);
    while at < data.len() {
        let (mut length, mut shift) = (0usize, 0);
        while let Some(&byte) = data.get(at) {
            at += 1;
            length |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        if length > 0 {
            count += 1;
        }
        at += length;
    }
    count
}

fn roundtrip(args: &Args) {
    let count = args.number("count") as usize;
    let (mut connection, _) = RawConnection::connect(args.text("url"), args.protocol(), "");
    let channel = args.text("channel").to_string();
    let command = || match args.text("op") {
        "rpc" => Command {
            rpc: Some(RpcRequest { method: "ping".into(), data: b"{}"[..].into() }),
            ..Default::default()
        },
        "publish" => Command {
            publish: Some(PublishRequest {
                channel: channel.clone(),
                data: b"{}"[..].into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        other => fail(&format!("op={other}: expected rpc or publish")),
    };
    for _ in 0..WARM_UP {
        connection.request(command());
    }
    driver::timed_round_trips(count, || match connection.request(command()).error {
        Some(error) => Err(format!("{error:?}")),
        None => Ok(()),
    });
}

fn pipelined(args: &Args) {
    let count = args.number("count");
    let window = args.number("workers").max(1);
    let (mut connection, _) = RawConnection::connect(args.text("url"), args.protocol(), "");
    let channel = args.text("channel").to_string();
    let mut issued = 0u64;
    let publishes = |how_many: u64, issued: &mut u64| -> Vec<Command> {
        (0..how_many)
            .map(|_| {
                let data = format!(r#"{{"n":{issued}}}"#).into_bytes();
                *issued += 1;
                Command {
                    publish: Some(PublishRequest {
                        channel: channel.clone(),
                        data: data.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            })
            .collect()
    };
    let (cpu_start, wakeups_start) = (driver::cpu_time(), driver::wakeups());
    let started = Instant::now();
    connection.send_numbered(publishes(window.min(count), &mut issued));
    let mut done = 0u64;
    while done < count {
        let replies = connection.take_replies();
        if let Some(failed) = replies.iter().find(|reply| reply.error.is_some()) {
            fail(&format!("publish failed: {:?}", failed.error));
        }
        done += replies.len() as u64;
        let more = (replies.len() as u64).min(count - issued);
        if more > 0 {
            connection.send_numbered(publishes(more, &mut issued));
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = driver::cpu_time() - cpu_start;
    driver::result(json!({
        "count": count, "wall_s": wall, "cpu_s": cpu.as_secs_f64(), "msgs_per_s": count as f64 / wall,
        "wakeups": driver::wakeups() - wakeups_start,
    }));
}
