//! Hostile input from a scripted server: every case asserts its documented outcome, and no
//! thread of the process panics along the way.
//!
//! Outcomes, by kind of input:
//! - undecodable frames (bad JSON, wrong types, bad UTF-8, wrong frame kind, bad varints,
//!   lengths past the frame or over the limit, frames over the limit, frames of more messages
//!   than one frame may decode into, a reply of the wrong kind to connect or subscribe): an
//!   `error` event and `disconnected` with code 2, no reconnect;
//! - replies that answer nothing (unknown ids, duplicates): ignored, the connection stays;
//! - a reply of the wrong kind to a call: that call fails with `Error::Protocol`;
//! - pushes for channels the client is not subscribed to: ignored;
//! - broken streams (an offset going backwards: dropped; a gap, a new epoch, a delta before
//!   any base, a delta whose output is over the limit): an `error` event and a resubscribe;
//! - a server that never completes the handshake, answers garbage or a 101 that does not
//!   answer the client's key: a transport error and the client keeps retrying; frames sent in
//!   the same write as the handshake answer are read;
//! - close frames: the reconnect rule for their code, the reason passed through.

#[macro_use]
mod support;

use std::net::TcpListener;
use std::sync::{RwLock, RwLockReadGuard};
use std::time::Duration;

use bytes::Bytes;
use centrifuge_blocking::unversioned::{
    Command, Disconnect, FrameKind, Publication as WirePublication, Push, Reply, RpcResult, SubscribeResult,
};
use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, ClientState, Error, Protocol, SubscriptionConfig, SubscriptionEvent,
    codes,
};
use support::events::{Events, SubEvents, client, rss_kib, subscription};
use support::fake_server::{FakeConnection, FakeServer, connect_result};
use support::panics;
use tungstenite::Message;
use tungstenite::protocol::frame::Frame as WsFrame;
use tungstenite::protocol::frame::coding::{Data, OpCode};

/// Taken for writing by the test that measures the process's memory, for reading by every
/// other test: they run side by side, but never while memory is measured.
static MEMORY: RwLock<()> = RwLock::new(());

fn shared_turn() -> RwLockReadGuard<'static, ()> {
    MEMORY.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn config(protocol: Protocol) -> ClientConfig {
    ClientConfig::default()
        .protocol(protocol)
        .timeout(Duration::from_millis(800))
        .connect_timeout(Duration::from_millis(500))
        .min_reconnect_delay(Duration::from_millis(20))
        .max_reconnect_delay(Duration::from_millis(100))
        .max_message_size(4096)
}

/// Runs `after_connect` on the first connection right after answering connect; later
/// connections are answered and then left idle.
fn server(
    protocol: Protocol,
    after_connect: impl Fn(&mut FakeConnection) + Send + Sync + 'static,
) -> FakeServer {
    FakeServer::start(protocol, move |index, mut connection| {
        connection.accept_connect(connect_result(&format!("c{index}"), 0));
        if index == 0 {
            after_connect(&mut connection);
        }
        connection.serve_echo();
    })
}

fn connect(server: &FakeServer, config: ClientConfig) -> (Client, Events) {
    panics::watch();
    let (client, events) = client(&server.url(), config);
    client.connect().unwrap();
    assert_eq!(events.connected(), "c0");
    (client, events)
}

/// Fails unless `error` is `Error::Protocol` saying `expected`: each case has its own.
fn assert_protocol_error(error: &Error, expected: &str) {
    assert!(
        matches!(error, Error::Protocol(why) if why.contains(expected)),
        "expected Error::Protocol saying {expected:?}, got {error:?}"
    );
}

/// The case's outcome for undecodable input: an error event saying `expected`, then
/// disconnected 2, no retry.
fn expect_bad_protocol(
    protocol: Protocol,
    expected: &str,
    after_connect: impl Fn(&mut FakeConnection) + Send + Sync + 'static,
) {
    expect_bad_protocol_with(protocol, config(protocol), expected, after_connect);
}

fn expect_bad_protocol_with(
    protocol: Protocol,
    config: ClientConfig,
    expected: &str,
    after_connect: impl Fn(&mut FakeConnection) + Send + Sync + 'static,
) {
    let server = server(protocol, after_connect);
    let (client, events) = connect(&server, config);
    assert_protocol_error(&events.error(), expected);
    assert_eq!(events.disconnected(), (codes::DisconnectedCode::BadProtocol.code(), "bad protocol".into()));
    assert_eq!(client.state(), ClientState::Disconnected);
    client.close();
    panics::assert_none();
}

fn text(data: &'static [u8]) -> Message {
    Message::Frame(WsFrame::message(Bytes::from_static(data), OpCode::Data(Data::Text), true))
}

fn binary(data: &'static [u8]) -> Message {
    Message::Binary(Bytes::from_static(data))
}

#[test]
fn invalid_json() {
    let _turn = shared_turn();
    expect_bad_protocol(Protocol::Json, "invalid JSON message on line 0: EOF while parsing", |c| {
        c.send_message(text(b"{\"push\":"))
    });
}

#[test]
fn json_with_wrong_types() {
    let _turn = shared_turn();
    expect_bad_protocol(Protocol::Json, "invalid type: integer `42`, expected a string", |c| {
        c.send_message(text(br#"{"push":{"channel":42}}"#))
    });
}

#[test]
fn invalid_utf8_in_a_text_frame() {
    let _turn = shared_turn();
    expect_bad_protocol(Protocol::Json, "UTF-8 encoding error", |c| {
        c.send_message(text(b"{\"push\":{\"channel\":\"\xff\xfe\"}}"))
    });
}

#[test]
fn a_binary_frame_on_a_json_connection() {
    let _turn = shared_turn();
    expect_bad_protocol(
        Protocol::Json,
        "received a Binary frame where the wire format uses Text frames",
        |c| c.send_message(binary(b"\x00")),
    );
}

#[test]
fn a_text_frame_on_a_protobuf_connection() {
    let _turn = shared_turn();
    expect_bad_protocol(
        Protocol::Protobuf,
        "received a Text frame where the wire format uses Binary frames",
        |c| c.send_message(text(b"{}")),
    );
}

#[test]
fn a_truncated_varint() {
    let _turn = shared_turn();
    expect_bad_protocol(Protocol::Protobuf, "invalid varint length prefix at byte 0", |c| {
        c.send_message(binary(b"\x80\x80"))
    });
}

#[test]
fn a_length_prefix_past_the_frame() {
    let _turn = shared_turn();
    expect_bad_protocol(
        Protocol::Protobuf,
        "length prefix at byte 0 announces 16 bytes but only 2 follow",
        |c| c.send_message(binary(b"\x10\x08\x01")),
    );
}

#[test]
fn a_length_prefix_over_the_limit() {
    let _turn = shared_turn();
    // Announces 2^20 bytes against a 4 KiB limit.
    expect_bad_protocol(
        Protocol::Protobuf,
        "message of 1048576 bytes exceeds the limit of 4096 bytes",
        |c| c.send_message(binary(b"\x80\x80\x40\x00")),
    );
}

#[test]
fn a_frame_over_the_size_limit() {
    let _turn = shared_turn();
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        expect_bad_protocol(protocol, "the server sent a message over max_message_size", move |c| {
            let push = Push {
                channel: "x".repeat(8192),
                r#pub: Some(WirePublication { data: Bytes::from_static(b"1"), ..Default::default() }),
                ..Default::default()
            };
            c.reply(&[Reply { push: Some(push), ..Default::default() }]);
        });
    }
}

#[test]
fn a_frame_of_a_million_pings_is_refused_before_it_takes_gigabytes() {
    let _turn = shared_turn();
    // A zero byte is a whole Protobuf message (a ping); decoded, each takes hundreds of bytes.
    let config = config(Protocol::Protobuf).max_message_size(1 << 20);
    let expected = "decoded, they would take more memory than one frame may";
    expect_bad_protocol_with(Protocol::Protobuf, config, expected, |c| {
        c.send_message(Message::Binary(Bytes::from(vec![0u8; 1 << 20])))
    });
}

#[test]
fn a_reply_of_the_wrong_kind_to_connect() {
    let _turn = shared_turn();
    panics::watch();
    let server = FakeServer::start(Protocol::Json, |_, mut connection| {
        let connect = connection.read_commands().remove(0);
        connection.reply(&[Reply { id: connect.id, rpc: Some(RpcResult::default()), ..Default::default() }]);
        connection.idle_until_gone();
    });
    let (client, events) = client(&server.url(), config(Protocol::Json));
    client.connect().unwrap();
    assert_protocol_error(&events.error(), "the connect command got a reply of another kind");
    assert_eq!(events.disconnected().0, codes::DisconnectedCode::BadProtocol.code());
    client.close();
    panics::assert_none();
}

/// Answers the first subscribe with `answer(id)` and everything else as usual.
fn subscribe_server(
    protocol: Protocol,
    answer: impl Fn(&Command) -> Vec<Reply> + Send + Sync + 'static,
) -> FakeServer {
    FakeServer::start(protocol, move |index, mut connection| {
        connection.accept_connect(connect_result(&format!("c{index}"), 0));
        let mut first = index == 0;
        loop {
            let commands = connection.read_commands();
            if commands.is_empty() {
                return;
            }
            for command in commands.iter().filter(|command| command.id > 0) {
                let replies = if first && command.subscribe.is_some() {
                    first = false;
                    answer(command)
                } else if command.subscribe.is_some() {
                    vec![Reply {
                        id: command.id,
                        subscribe: Some(Box::new(positioned(10))),
                        ..Default::default()
                    }]
                } else {
                    vec![Reply {
                        id: command.id,
                        unsubscribe: Some(Default::default()),
                        ..Default::default()
                    }]
                };
                connection.reply(&replies);
            }
        }
    })
}

fn positioned(offset: u64) -> SubscribeResult {
    SubscribeResult { positioned: true, recoverable: true, epoch: "e1".into(), offset, ..Default::default() }
}

fn publication(offset: u64, epoch: &str, data: &'static [u8], delta: bool) -> Reply {
    let publication = WirePublication {
        data: Bytes::from_static(data),
        offset,
        epoch: epoch.into(),
        delta,
        ..Default::default()
    };
    Reply {
        push: Some(Push { channel: "s".into(), r#pub: Some(publication), ..Default::default() }),
        ..Default::default()
    }
}

fn subscribed(protocol: Protocol, server: &FakeServer, config: SubscriptionConfig) -> (Client, SubEvents) {
    panics::watch();
    let (client, events) = client(&server.url(), self::config(protocol));
    client.connect().unwrap();
    events.connected();
    let (sub, sub_events) = subscription(&client, "s", config);
    sub.subscribe().unwrap();
    sub_events.subscribed();
    (client, sub_events)
}

#[test]
fn a_reply_of_the_wrong_kind_to_subscribe() {
    let _turn = shared_turn();
    let server = subscribe_server(Protocol::Json, |command| {
        vec![Reply { id: command.id, rpc: Some(RpcResult::default()), ..Default::default() }]
    });
    panics::watch();
    let (client, events) = client(&server.url(), config(Protocol::Json));
    client.connect().unwrap();
    events.connected();
    let (sub, _) = subscription(&client, "s", SubscriptionConfig::default());
    sub.subscribe().unwrap();
    assert_protocol_error(&events.error(), "a subscribe command got a reply of another kind");
    assert_eq!(events.disconnected().0, codes::DisconnectedCode::BadProtocol.code());
    client.close();
    panics::assert_none();
}

#[test]
fn replies_with_unknown_ids_are_ignored() {
    let _turn = shared_turn();
    let server = server(Protocol::Json, |c| {
        c.reply(&[Reply { id: 4242, rpc: Some(RpcResult::default()), ..Default::default() }]);
        c.reply(&[Reply {
            id: 4243,
            error: Some(centrifuge_blocking::unversioned::Error { code: 100, ..Default::default() }),
            ..Default::default()
        }]);
    });
    let (client, events) = connect(&server, config(Protocol::Json));
    assert_eq!(client.rpc("echo", "1").unwrap(), b"1", "the connection is fine");
    assert!(
        events.within(Duration::from_millis(200)).iter().all(|e| !matches!(e, ClientEvent::Disconnected(_)))
    );
    client.close();
    panics::assert_none();
}

#[test]
fn a_duplicate_reply_answers_the_call_once() {
    let _turn = shared_turn();
    panics::watch();
    let server = FakeServer::start(Protocol::Protobuf, |_, mut connection| {
        connection.accept_connect(connect_result("c0", 0));
        let rpc = connection.read_commands().remove(0);
        let answer = Reply {
            id: rpc.id,
            rpc: Some(RpcResult { data: Bytes::from_static(b"first") }),
            ..Default::default()
        };
        let again = Reply {
            id: rpc.id,
            rpc: Some(RpcResult { data: Bytes::from_static(b"second") }),
            ..Default::default()
        };
        connection.reply(&[answer, again]);
        connection.serve_echo();
    });
    let (client, _events) = connect(&server, config(Protocol::Protobuf));
    assert_eq!(client.rpc("m", vec![]).unwrap(), b"first");
    assert_eq!(client.rpc("echo", vec![7]).unwrap(), vec![7], "the stray second reply answered nothing");
    client.close();
    panics::assert_none();
}

#[test]
fn a_reply_of_the_wrong_kind_to_a_call_fails_that_call() {
    let _turn = shared_turn();
    panics::watch();
    let server = FakeServer::start(Protocol::Json, |_, mut connection| {
        connection.accept_connect(connect_result("c0", 0));
        let rpc = connection.read_commands().remove(0);
        connection.reply(&[Reply {
            id: rpc.id,
            presence_stats: Some(Default::default()),
            ..Default::default()
        }]);
        connection.serve_echo();
    });
    let (client, _events) = connect(&server, config(Protocol::Json));
    let outcome = client.rpc("m", "{}").expect_err("a reply of the wrong kind");
    assert_protocol_error(&outcome, "the server answered a rpc command with a reply of another kind");
    assert_eq!(client.state(), ClientState::Connected);
    client.close();
    panics::assert_none();
}

#[test]
fn pushes_for_unknown_channels_are_ignored() {
    let _turn = shared_turn();
    let server = server(Protocol::Json, |c| {
        c.reply(&[publication(1, "", b"{}", false)]);
        let join = Push { channel: "nobody".into(), join: Some(Box::default()), ..Default::default() };
        let unsubscribe =
            Push { channel: "nobody".into(), unsubscribe: Some(Default::default()), ..Default::default() };
        c.reply(&[
            Reply { push: Some(join), ..Default::default() },
            Reply { push: Some(unsubscribe), ..Default::default() },
        ]);
    });
    let (client, events) = connect(&server, config(Protocol::Json));
    assert!(client.rpc("echo", "2").is_ok());
    let seen = events.within(Duration::from_millis(200));
    assert!(seen.is_empty(), "nothing is delivered: {seen:?}");
    client.close();
    panics::assert_none();
}

#[test]
fn an_offset_going_backwards_is_dropped() {
    let _turn = shared_turn();
    let server = subscribe_server(Protocol::Json, |command| {
        vec![
            Reply { id: command.id, subscribe: Some(Box::new(positioned(10))), ..Default::default() },
            publication(11, "", b"11", false),
            publication(9, "", b"9", false),
            publication(12, "", b"12", false),
        ]
    });
    let (client, events) = subscribed(Protocol::Json, &server, SubscriptionConfig::default());
    assert_eq!(events.publication().data(), b"11");
    assert!(matches!(events.error(), Error::Protocol(why) if why.contains("does not follow")));
    assert_eq!(events.publication().data(), b"12", "the stream goes on; 9 was not delivered");
    client.close();
    panics::assert_none();
}

fn expect_restart(
    expected: &str,
    reply: impl Fn(&Command) -> Vec<Reply> + Send + Sync + 'static,
    config: SubscriptionConfig,
) {
    let server = subscribe_server(Protocol::Json, reply);
    let (client, events) = subscribed(Protocol::Json, &server, config);
    assert_protocol_error(&events.error(), expected);
    assert_eq!(
        events.subscribing(),
        (codes::SubscribingCode::InsufficientState.code(), "insufficient state".into())
    );
    events.subscribed();
    let seen = events.within(Duration::from_millis(200));
    assert!(
        !seen.iter().any(|e| matches!(e, SubscriptionEvent::Publication(_))),
        "nothing wrong delivered: {seen:?}"
    );
    client.close();
    panics::assert_none();
}

#[test]
fn a_gap_in_the_offsets_restarts_the_subscription() {
    let _turn = shared_turn();
    expect_restart(
        "publications 11..12 are missing from the stream",
        |command| {
            vec![
                Reply { id: command.id, subscribe: Some(Box::new(positioned(10))), ..Default::default() },
                publication(13, "", b"13", false),
            ]
        },
        SubscriptionConfig::default(),
    );
}

#[test]
fn an_epoch_change_mid_stream_restarts_the_subscription() {
    let _turn = shared_turn();
    expect_restart(
        r#"the stream's epoch changed from "e1" to "e2""#,
        |command| {
            vec![
                Reply { id: command.id, subscribe: Some(Box::new(positioned(10))), ..Default::default() },
                publication(11, "e2", b"11", false),
            ]
        },
        SubscriptionConfig::default(),
    );
}

#[test]
fn a_delta_before_any_base_restarts_the_subscription() {
    let _turn = shared_turn();
    expect_restart(
        "a delta arrived before any full payload",
        |command| {
            let result = SubscribeResult { delta: true, ..positioned(10) };
            vec![
                Reply { id: command.id, subscribe: Some(Box::new(result)), ..Default::default() },
                publication(11, "", br#""1\n1:x0;""#, true),
            ]
        },
        SubscriptionConfig::default().delta(true),
    );
}

#[test]
fn a_delta_whose_output_exceeds_the_limit_restarts_the_subscription() {
    let _turn = shared_turn();
    expect_restart(
        "fossil delta output of 16777216 bytes exceeds the limit of 4096",
        |command| {
            let result = SubscribeResult { delta: true, ..positioned(10) };
            vec![
                Reply { id: command.id, subscribe: Some(Box::new(result)), ..Default::default() },
                publication(11, "", br#""{}""#, false),
                // Declares 64^4 = 16 MiB against the 4 KiB limit.
                publication(12, "", br#""10000\n2@0,0;""#, true),
            ]
        },
        SubscriptionConfig::default().delta(true),
    );
}

/// Pings per frame, and frames per phase: a warm-up that pays the one-off costs (buffers,
/// allocator arenas of new threads), then the measured stream.
const PINGS_PER_FRAME: usize = 1000;
const WARM_UP_FRAMES: usize = 20;
const MEASURED_FRAMES: usize = 100;

/// The server sends a frame of pings whenever the previous one is answered: an endless
/// stream that the client keeps up with. (Sent all at once, the frames wait decoded in the
/// client until it gets to them; that backlog, not a leak, is what RSS would show.)
#[test]
fn an_endless_stream_of_pings_is_answered_and_memory_stays_flat() {
    // It measures the process's memory: no other test of this binary runs meanwhile.
    let _alone = MEMORY.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (answered, pongs) = crossbeam_channel::unbounded();
    let (go_on, go) = crossbeam_channel::bounded::<()>(1);
    let server = FakeServer::start(Protocol::Protobuf, move |_, mut connection| {
        connection.accept_connect(connect_result("c0", 25));
        let pings = vec![Reply::default(); PINGS_PER_FRAME];
        for frames in [WARM_UP_FRAMES, MEASURED_FRAMES] {
            let mut count = 0;
            for frame in 1..=frames {
                connection.reply(&pings);
                while count < frame * PINGS_PER_FRAME {
                    let commands = connection.read_commands();
                    if commands.is_empty() {
                        let _ = answered.send(count);
                        return;
                    }
                    count += commands.iter().filter(|c| **c == Command::default()).count();
                }
            }
            let _ = answered.send(count);
            if go.recv_timeout(Duration::from_secs(30)).is_err() {
                return;
            }
        }
        connection.serve_echo();
    });
    let (client, _events) = connect(&server, config(Protocol::Protobuf));
    let warm_up = WARM_UP_FRAMES * PINGS_PER_FRAME;
    assert_eq!(pongs.recv_timeout(Duration::from_secs(30)).unwrap(), warm_up, "every ping got its pong");
    let before = rss_kib();
    go_on.send(()).unwrap();
    let measured = MEASURED_FRAMES * PINGS_PER_FRAME;
    assert_eq!(pongs.recv_timeout(Duration::from_secs(60)).unwrap(), measured, "every ping got its pong");
    let grown = rss_kib().saturating_sub(before);
    go_on.send(()).unwrap();
    assert!(client.rpc("echo", vec![1]).is_ok());
    // A leak of 21 bytes per ping would be 2 MiB here; without one it grows by kilobytes.
    assert!(grown < 2 * 1024, "RSS grew by {grown} KiB over {measured} pings after the warm-up");
    client.close();
    panics::assert_none();
}

/// A listener for a raw TCP server on a free port, and the WebSocket URL that reaches it.
fn raw_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/connection/websocket", listener.local_addr().unwrap());
    (listener, url)
}

/// A client of `url` reports a transport error naming `needle` and keeps trying.
fn fails_and_keeps_trying(url: &str, needle: &str) {
    let (client, events) = client(url, config(Protocol::Json));
    client.connect().unwrap();
    match events.error() {
        Error::Transport(error) => assert!(error.to_string().contains(needle), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(client.state(), ClientState::Connecting, "it keeps trying");
    client.close();
}

#[test]
fn a_server_that_never_completes_the_handshake_is_a_transport_error() {
    let _turn = shared_turn();
    panics::watch();
    let (listener, url) = raw_listener();
    // Accepts and reads, never answers.
    let accepted = std::thread::spawn(move || listener.accept().map(|(stream, _)| stream));
    fails_and_keeps_trying(&url, "handshake");
    drop(accepted.join());
    panics::assert_none();
}

#[test]
fn a_server_that_answers_garbage_instead_of_http_is_a_transport_error() {
    let _turn = shared_turn();
    panics::watch();
    let (listener, url) = raw_listener();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().take(3).flatten() {
            use std::io::Write;
            let _ = stream.write_all(b"\x00\xffSSH-2.0-nonsense\r\n\r\n");
        }
    });
    let (client, events) = client(&url, config(Protocol::Json));
    client.connect().unwrap();
    assert!(matches!(events.error(), Error::Transport(_)));
    assert_eq!(client.state(), ClientState::Connecting);
    client.close();
    panics::assert_none();
}

/// Accepts connections on `listener`, reads each request head and writes what `answer` makes of
/// the request's `Sec-WebSocket-Key`, in one write; then holds the connection until the client
/// closes it.
fn raw_upgrade_server(listener: TcpListener, answer: fn(&str) -> Vec<u8>) {
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in listener.incoming().take(3).flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|read| read == 1) {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let key = head
                .lines()
                .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap_or_default()
                .to_string();
            let _ = stream.write_all(&answer(&key));
            let _ = stream.read_to_end(&mut Vec::new());
        }
    });
}

fn switching_protocols(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// Frames the server writes together with its handshake answer arrive in the same read as the
/// answer's head; the client decodes them as the connection's first frames.
#[test]
fn frames_sent_along_with_the_handshake_answer_are_read() {
    let _turn = shared_turn();
    panics::watch();
    let (listener, url) = raw_listener();
    raw_upgrade_server(listener, |key| {
        let mut bytes = switching_protocols(&tungstenite::handshake::derive_accept_key(key.as_bytes()));
        let push = br#"{"push":{"disconnect":{"code":3507,"reason":"sent with the upgrade"}}}"#;
        // An unmasked final text frame, as a server sends it.
        bytes.extend_from_slice(&[0x81, push.len() as u8]);
        bytes.extend_from_slice(push);
        bytes
    });
    let (client, events) = client(&url, config(Protocol::Json));
    client.connect().unwrap();
    assert_eq!(events.disconnected(), (3507, "sent with the upgrade".to_string()));
    client.close();
    panics::assert_none();
}

/// A 101 that does not answer the client's key is not a WebSocket server speaking to it.
#[test]
fn an_upgrade_with_the_wrong_accept_key_is_a_transport_error() {
    let _turn = shared_turn();
    panics::watch();
    let (listener, url) = raw_listener();
    raw_upgrade_server(listener, |_| switching_protocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    fails_and_keeps_trying(&url, "Sec-WebSocket-Accept does not answer");
    panics::assert_none();
}

fn expect_close(code: u16, reason: &'static str, expected_state: ClientState, expected: (u32, String)) {
    let server = server(Protocol::Json, move |c| c.close(code, reason));
    let (client, events) = connect(&server, config(Protocol::Json));
    let reported =
        if expected_state == ClientState::Disconnected { events.disconnected() } else { events.connecting() };
    assert_eq!(reported, expected, "close code {code}");
    if expected_state == ClientState::Connecting {
        assert_eq!(events.connected(), "c1", "reconnects after {code}");
    }
    client.close();
    panics::assert_none();
}

#[test]
fn close_1000_reconnects_as_transport_closed() {
    let _turn = shared_turn();
    expect_close(
        1000,
        "bye",
        ClientState::Connecting,
        (codes::ConnectingCode::TransportClosed.code(), "transport closed".into()),
    );
}

#[test]
fn close_4999_is_terminal() {
    let _turn = shared_turn();
    expect_close(4999, "app says stop", ClientState::Disconnected, (4999, "app says stop".into()));
}

#[test]
fn close_5000_is_invalid_on_the_wire_and_reconnects_as_transport_closed() {
    let _turn = shared_turn();
    // RFC 6455 allows close codes up to 4999; tungstenite rejects the frame as malformed, which
    // ends the connection like any transport failure.
    expect_close(
        5000,
        "odd",
        ClientState::Connecting,
        (codes::ConnectingCode::TransportClosed.code(), "transport closed".into()),
    );
}

#[test]
fn a_close_reason_of_the_maximum_length_passes_through() {
    let _turn = shared_turn();
    const LONG: &str = "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890";
    expect_close(4001, LONG, ClientState::Connecting, (4001, LONG.into()));
}

#[test]
fn a_close_frame_without_a_code_reconnects() {
    let _turn = shared_turn();
    let server = server(Protocol::Json, |c| c.send_message(Message::Close(None)));
    let (client, events) = connect(&server, config(Protocol::Json));
    assert_eq!(
        events.connecting(),
        (codes::ConnectingCode::TransportClosed.code(), "transport closed".into())
    );
    assert_eq!(events.connected(), "c1");
    client.close();
    panics::assert_none();
}

#[test]
fn a_dropped_tcp_connection_reconnects() {
    let _turn = shared_turn();
    panics::watch();
    let server = FakeServer::start(Protocol::Protobuf, |index, mut connection| {
        connection.accept_connect(connect_result(&format!("c{index}"), 0));
        if index == 0 {
            connection.drop_abruptly();
        } else {
            connection.serve_echo();
        }
    });
    let (client, events) = connect(&server, config(Protocol::Protobuf));
    assert_eq!(events.connecting().0, codes::ConnectingCode::TransportClosed.code());
    assert_eq!(events.connected(), "c1");
    client.close();
    panics::assert_none();
}

#[test]
fn a_disconnect_push_follows_the_reconnect_rule() {
    let _turn = shared_turn();
    let server = server(Protocol::Json, |c| {
        let push = Push {
            disconnect: Some(Box::new(Disconnect {
                code: 3501,
                reason: "bad request".into(),
                reconnect: false,
            })),
            ..Default::default()
        };
        c.reply(&[Reply { push: Some(push), ..Default::default() }]);
    });
    let (client, events) = connect(&server, config(Protocol::Json));
    assert_eq!(events.disconnected(), (3501, "bad request".into()));
    client.close();
    panics::assert_none();
}

#[test]
fn subscribe_error_105_unsubscribes_with_it() {
    let _turn = shared_turn();
    let server = subscribe_server(Protocol::Json, |command| {
        let error = centrifuge_blocking::unversioned::Error {
            code: 105,
            message: "already subscribed".into(),
            temporary: false,
        };
        vec![Reply { id: command.id, error: Some(error), ..Default::default() }]
    });
    panics::watch();
    let (client, events) = client(&server.url(), config(Protocol::Json));
    client.connect().unwrap();
    events.connected();
    let (sub, sub_events) = subscription(&client, "s", SubscriptionConfig::default());
    sub.subscribe().unwrap();
    assert_eq!(sub_events.unsubscribed(), (105, "already subscribed".into()));
    assert_eq!(client.state(), ClientState::Connected);
    client.close();
    panics::assert_none();
}

#[test]
fn an_empty_binary_frame_is_no_message() {
    let _turn = shared_turn();
    let server = server(Protocol::Protobuf, |c| c.send_frame(FrameKind::Binary, Bytes::new()));
    let (client, events) = connect(&server, config(Protocol::Protobuf));
    assert!(client.rpc("echo", vec![3]).is_ok());
    assert!(events.within(Duration::from_millis(200)).is_empty());
    client.close();
    panics::assert_none();
}

#[test]
fn a_publication_before_the_subscribe_reply_is_ignored() {
    let _turn = shared_turn();
    let server = subscribe_server(Protocol::Json, |command| {
        vec![
            publication(11, "", b"\"early\"", false),
            Reply { id: command.id, subscribe: Some(Box::new(positioned(10))), ..Default::default() },
            publication(11, "", b"11", false),
        ]
    });
    let (client, events) = subscribed(Protocol::Json, &server, SubscriptionConfig::default());
    assert_eq!(events.publication().data(), b"11");
    client.close();
    panics::assert_none();
}
