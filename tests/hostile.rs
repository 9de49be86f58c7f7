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
//! - a server that never completes the handshake or answers garbage: a transport error and
//!   the client keeps retrying;
//! - close frames: the reconnect rule for their code, the reason passed through.

#[macro_use]
mod support;

use std::net::TcpListener;
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

/// The case's outcome for undecodable input: an error event, then disconnected 2, no retry.
fn expect_bad_protocol(
    protocol: Protocol,
    after_connect: impl Fn(&mut FakeConnection) + Send + Sync + 'static,
) {
    expect_bad_protocol_with(protocol, config(protocol), after_connect);
}

fn expect_bad_protocol_with(
    protocol: Protocol,
    config: ClientConfig,
    after_connect: impl Fn(&mut FakeConnection) + Send + Sync + 'static,
) {
    let server = server(protocol, after_connect);
    let (client, events) = connect(&server, config);
    assert!(matches!(events.error(), Error::Protocol(_)));
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
    expect_bad_protocol(Protocol::Json, |c| c.send_message(text(b"{\"push\":")));
}

#[test]
fn json_with_wrong_types() {
    expect_bad_protocol(Protocol::Json, |c| c.send_message(text(br#"{"push":{"channel":42}}"#)));
}

#[test]
fn invalid_utf8_in_a_text_frame() {
    expect_bad_protocol(Protocol::Json, |c| c.send_message(text(b"{\"push\":{\"channel\":\"\xff\xfe\"}}")));
}

#[test]
fn a_binary_frame_on_a_json_connection() {
    expect_bad_protocol(Protocol::Json, |c| c.send_message(binary(b"\x00")));
}

#[test]
fn a_text_frame_on_a_protobuf_connection() {
    expect_bad_protocol(Protocol::Protobuf, |c| c.send_message(text(b"{}")));
}

#[test]
fn a_truncated_varint() {
    expect_bad_protocol(Protocol::Protobuf, |c| c.send_message(binary(b"\x80\x80")));
}

#[test]
fn a_length_prefix_past_the_frame() {
    expect_bad_protocol(Protocol::Protobuf, |c| c.send_message(binary(b"\x10\x08\x01")));
}

#[test]
fn a_length_prefix_over_the_limit() {
    // Announces 2^20 bytes against a 4 KiB limit.
    expect_bad_protocol(Protocol::Protobuf, |c| c.send_message(binary(b"\x80\x80\x40\x00")));
}

#[test]
fn a_frame_over_the_size_limit() {
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        expect_bad_protocol(protocol, move |c| {
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
    // A zero byte is a whole Protobuf message (a ping); decoded, each takes hundreds of bytes.
    let config = config(Protocol::Protobuf).max_message_size(1 << 20);
    expect_bad_protocol_with(Protocol::Protobuf, config, |c| {
        c.send_message(Message::Binary(Bytes::from(vec![0u8; 1 << 20])))
    });
}

#[test]
fn a_reply_of_the_wrong_kind_to_connect() {
    panics::watch();
    let server = FakeServer::start(Protocol::Json, |_, mut connection| {
        let connect = connection.read_commands().remove(0);
        connection.reply(&[Reply { id: connect.id, rpc: Some(RpcResult::default()), ..Default::default() }]);
        connection.idle_until_gone();
    });
    let (client, events) = client(&server.url(), config(Protocol::Json));
    client.connect().unwrap();
    assert!(matches!(events.error(), Error::Protocol(_)));
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
    let server = subscribe_server(Protocol::Json, |command| {
        vec![Reply { id: command.id, rpc: Some(RpcResult::default()), ..Default::default() }]
    });
    panics::watch();
    let (client, events) = client(&server.url(), config(Protocol::Json));
    client.connect().unwrap();
    events.connected();
    let (sub, _) = subscription(&client, "s", SubscriptionConfig::default());
    sub.subscribe().unwrap();
    assert!(matches!(events.error(), Error::Protocol(_)));
    assert_eq!(events.disconnected().0, codes::DisconnectedCode::BadProtocol.code());
    client.close();
    panics::assert_none();
}

#[test]
fn replies_with_unknown_ids_are_ignored() {
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
    assert!(matches!(client.rpc("m", "{}"), Err(Error::Protocol(_))));
    assert_eq!(client.state(), ClientState::Connected);
    client.close();
    panics::assert_none();
}

#[test]
fn pushes_for_unknown_channels_are_ignored() {
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
    reply: impl Fn(&Command) -> Vec<Reply> + Send + Sync + 'static,
    config: SubscriptionConfig,
) {
    let server = subscribe_server(Protocol::Json, reply);
    let (client, events) = subscribed(Protocol::Json, &server, config);
    assert!(matches!(events.error(), Error::Protocol(_)));
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
    expect_restart(
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
    expect_restart(
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
    expect_restart(
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
    expect_restart(
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

#[test]
fn an_endless_stream_of_pings_is_answered_and_memory_stays_flat() {
    let (pongs, received) = crossbeam_channel::unbounded();
    let server = FakeServer::start(Protocol::Protobuf, move |_, mut connection| {
        connection.accept_connect(connect_result("c0", 25));
        let pings = vec![Reply::default(); 1000];
        for _ in 0..20 {
            connection.reply(&pings);
        }
        let mut answered = 0;
        while answered < 20_000 {
            let commands = connection.read_commands();
            if commands.is_empty() {
                break;
            }
            answered += commands.iter().filter(|c| **c == Command::default()).count();
        }
        let _ = pongs.send(answered);
        connection.serve_echo();
    });
    let before = rss_kib();
    let (client, _events) = connect(&server, config(Protocol::Protobuf));
    assert_eq!(received.recv_timeout(Duration::from_secs(30)).unwrap(), 20_000, "every ping got its pong");
    assert!(client.rpc("echo", vec![1]).is_ok());
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
    client.close();
    panics::assert_none();
}

#[test]
fn a_server_that_never_completes_the_handshake_is_a_transport_error() {
    panics::watch();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/connection/websocket", listener.local_addr().unwrap());
    // Accepts and reads, never answers.
    let accepted = std::thread::spawn(move || listener.accept().map(|(stream, _)| stream));
    let (client, events) = client(&url, config(Protocol::Json));
    client.connect().unwrap();
    match events.error() {
        Error::Transport(error) => assert!(error.to_string().contains("handshake"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(client.state(), ClientState::Connecting, "it keeps trying");
    client.close();
    drop(accepted.join());
    panics::assert_none();
}

#[test]
fn a_server_that_answers_garbage_instead_of_http_is_a_transport_error() {
    panics::watch();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/connection/websocket", listener.local_addr().unwrap());
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
    expect_close(
        1000,
        "bye",
        ClientState::Connecting,
        (codes::ConnectingCode::TransportClosed.code(), "transport closed".into()),
    );
}

#[test]
fn close_4999_is_terminal() {
    expect_close(4999, "app says stop", ClientState::Disconnected, (4999, "app says stop".into()));
}

#[test]
fn close_5000_is_invalid_on_the_wire_and_reconnects_as_transport_closed() {
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
    const LONG: &str = "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890";
    expect_close(4001, LONG, ClientState::Connecting, (4001, LONG.into()));
}

#[test]
fn a_close_frame_without_a_code_reconnects() {
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
    let server = server(Protocol::Protobuf, |c| c.send_frame(FrameKind::Binary, Bytes::new()));
    let (client, events) = connect(&server, config(Protocol::Protobuf));
    assert!(client.rpc("echo", vec![3]).is_ok());
    assert!(events.within(Duration::from_millis(200)).is_empty());
    client.close();
    panics::assert_none();
}

#[test]
fn a_publication_before_the_subscribe_reply_is_ignored() {
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
