//! What a real server will not do on demand, from a scripted fake server: silence, garbage,
//! odd close codes, pushes at will, replies that never come.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use centrifuge_blocking::unversioned::{FrameKind, Message, Push, Reply};
use centrifuge_blocking::{ClientConfig, ClientEvent, ClientState, Error, Protocol, codes};
use support::events::client;
use support::fake_server::{FakeServer, connect_result};

in_both_protocols!(
    a_server_that_stops_pinging_is_left_with_code_2,
    a_malformed_frame_is_a_bad_protocol_disconnect,
    close_code_1009_stops_with_code_3,
    a_message_push_reaches_on_message,
    a_server_that_never_answers_makes_calls_time_out,
    custom_headers_name_and_version_reach_the_server,
    publishes_queued_behind_a_blocked_write_go_out_merged,
);

fn config(protocol: Protocol) -> ClientConfig {
    ClientConfig::default()
        .protocol(protocol)
        .min_reconnect_delay(Duration::from_millis(20))
        .max_reconnect_delay(Duration::from_millis(100))
}

fn a_server_that_stops_pinging_is_left_with_code_2(protocol: Protocol) {
    let server = FakeServer::start(protocol, |index, mut connection| {
        // Announces pings every second, then never sends one.
        connection.accept_connect(connect_result(&format!("silent-{index}"), 1));
        connection.idle_until_gone();
    });
    let (client, events) =
        client(&server.url(), config(protocol).max_server_ping_delay(Duration::from_millis(300)));
    client.connect().unwrap();
    assert_eq!(events.connected(), "silent-0");
    let lost_at = Instant::now();
    assert_eq!(events.connecting(), (codes::ConnectingCode::NoPing.code(), "no ping".into()));
    assert_eq!(events.connected(), "silent-1", "the client reconnects by itself");
    assert!(lost_at.elapsed() < Duration::from_secs(5));
    client.close();
}

fn a_malformed_frame_is_a_bad_protocol_disconnect(protocol: Protocol) {
    let server = FakeServer::start(protocol, move |_, mut connection| {
        connection.accept_connect(connect_result("c", 0));
        let (kind, garbage) = match protocol {
            Protocol::Json => (FrameKind::Text, Bytes::from_static(b"{\"push\":{\"channel\":")),
            Protocol::Protobuf => (FrameKind::Binary, Bytes::from_static(&[0x05, 0x22, 0x01])),
        };
        connection.send_frame(kind, garbage);
        connection.idle_until_gone();
    });
    let (client, events) = client(&server.url(), config(protocol));
    client.connect().unwrap();
    events.connected();
    assert!(matches!(events.error(), Error::Protocol(_)));
    assert_eq!(events.disconnected(), (codes::DisconnectedCode::BadProtocol.code(), "bad protocol".into()));
    assert_eq!(client.state(), ClientState::Disconnected);
    let later = events.within(Duration::from_millis(300));
    assert!(
        !later.iter().any(|event| matches!(event, ClientEvent::Connecting(_))),
        "no reconnect: {later:?}"
    );
    client.close();
}

fn close_code_1009_stops_with_code_3(protocol: Protocol) {
    let server = FakeServer::start(protocol, |_, mut connection| {
        connection.accept_connect(connect_result("c", 0));
        connection.close(1009, "message too big");
    });
    let (client, events) = client(&server.url(), config(protocol));
    client.connect().unwrap();
    events.connected();
    assert_eq!(
        events.disconnected(),
        (codes::DisconnectedCode::MessageSizeLimit.code(), "message size limit exceeded".into())
    );
    assert_eq!(client.state(), ClientState::Disconnected);
    client.close();
}

fn a_message_push_reaches_on_message(protocol: Protocol) {
    let server = FakeServer::start(protocol, |_, mut connection| {
        connection.accept_connect(connect_result("c", 0));
        let push = Push {
            message: Some(Box::new(Message { data: Bytes::from_static(br#"{"note":"from the server"}"#) })),
            ..Default::default()
        };
        connection.reply(&[Reply { push: Some(push), ..Default::default() }]);
        connection.idle_until_gone();
    });
    let (client, events) = client(&server.url(), config(protocol));
    client.connect().unwrap();
    events.connected();
    let data = events.until("message event", |event| match event {
        ClientEvent::Message(message) => Some(message.data().to_vec()),
        _ => None,
    });
    assert_eq!(data, br#"{"note":"from the server"}"#);
    client.close();
}

fn a_server_that_never_answers_makes_calls_time_out(protocol: Protocol) {
    let server = FakeServer::start(protocol, |_, mut connection| {
        connection.accept_connect(connect_result("c", 0));
        // Reads every command, answers none.
        connection.idle_until_gone();
    });
    let timeout = Duration::from_millis(300);
    let (client, events) = client(&server.url(), config(protocol).timeout(timeout));
    client.connect().unwrap();
    events.connected();
    let started = Instant::now();
    match client.rpc("anything", "{}") {
        Err(Error::Timeout(timeout)) => {
            assert!(!timeout.while_not_connected(), "it was connected");
            assert_eq!(timeout.to_string(), "no reply from the server within 300 ms");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    let took = started.elapsed();
    assert!(took >= timeout && took < timeout + Duration::from_secs(1), "took {took:?}");
    // Concurrent calls time out too, each once.
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || client.publish("ch", "{}"))
        })
        .collect();
    for caller in callers {
        assert!(matches!(caller.join().unwrap(), Err(Error::Timeout(_))));
    }
    assert_eq!(client.state(), ClientState::Connected, "a slow server is not a dead one");
    client.close();
}

fn custom_headers_name_and_version_reach_the_server(protocol: Protocol) {
    let (seen, received) = crossbeam_channel::unbounded();
    let server = FakeServer::start(protocol, move |_, mut connection| {
        let header = connection.header("x-app-tenant").map(str::to_string);
        let subprotocol = connection.header("sec-websocket-protocol").map(str::to_string);
        let connect = connection.read_commands().remove(0).connect.expect("a connect command");
        seen.send((header, subprotocol, connect.name, connect.version, connect.data.to_vec())).unwrap();
    });
    let config = config(protocol)
        .header("X-App-Tenant", "acme")
        .name("my-app")
        .version("2.1.0")
        .data(r#"{"hello":1}"#);
    let (client, _events) = client(&server.url(), config);
    client.connect().unwrap();
    let (header, subprotocol, name, version, data) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(header.as_deref(), Some("acme"));
    let expected_subprotocol = (protocol == Protocol::Protobuf).then_some("centrifuge-protobuf");
    assert_eq!(subprotocol.as_deref(), expected_subprotocol);
    assert_eq!((name.as_str(), version.as_str()), ("my-app", "2.1.0"));
    assert_eq!(data, br#"{"hello":1}"#);
    client.close();
}

/// Seven publishes made while an eight-megabyte one is stuck in the socket do not wait for the
/// socket one by one: they go out after it, merged, every one intact and answered once.
fn publishes_queued_behind_a_blocked_write_go_out_merged(protocol: Protocol) {
    const QUEUED: usize = 7;
    let (writer_blocked, blocked) = crossbeam_channel::bounded(1);
    let (read_now, go_read) = crossbeam_channel::bounded::<()>(1);
    let (frames_seen, frames) = crossbeam_channel::unbounded();
    let server = FakeServer::start(protocol, move |_, mut connection| {
        connection.accept_connect(connect_result("c", 0));
        // Far more than the socket buffers hold while nobody reads: the client's write blocks.
        let _ = writer_blocked.send(connection.wait_until_unread(16 * 1024, Duration::from_secs(20)));
        let _ = go_read.recv_timeout(Duration::from_secs(20));
        let mut publishes = 0;
        while publishes < QUEUED + 1 {
            let commands = connection.read_commands();
            if commands.is_empty() {
                return;
            }
            publishes += commands.iter().filter(|command| command.publish.is_some()).count();
            let published: Vec<Vec<u8>> =
                commands.iter().filter_map(|command| Some(command.publish.as_ref()?.data.to_vec())).collect();
            let replies: Vec<Reply> = commands
                .iter()
                .map(|command| Reply {
                    id: command.id,
                    publish: Some(Default::default()),
                    ..Default::default()
                })
                .collect();
            // Recorded before the replies release the callers.
            let _ = frames_seen.send(published);
            connection.reply(&replies);
        }
        connection.idle_until_gone();
    });
    let (client, events) = client(&server.url(), config(protocol).timeout(Duration::from_secs(30)));
    client.connect().unwrap();
    events.connected();
    let big = format!("\"{}\"", "x".repeat(8 << 20));
    let big_publish = {
        let (client, big) = (client.clone(), big.clone());
        std::thread::spawn(move || client.publish("big", big))
    };
    assert_eq!(blocked.recv_timeout(Duration::from_secs(30)), Ok(true), "the big write is under way");
    let (started, publishing) = crossbeam_channel::unbounded();
    let small_publishes: Vec<_> = (0..QUEUED)
        .map(|n| {
            let (client, started) = (client.clone(), started.clone());
            std::thread::spawn(move || {
                started.send(()).unwrap();
                client.publish("small", format!(r#"{{"n":{n}}}"#))
            })
        })
        .collect();
    for _ in 0..QUEUED {
        publishing.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    read_now.send(()).unwrap();
    assert!(big_publish.join().unwrap().is_ok());
    for publish in small_publishes {
        assert!(publish.join().unwrap().is_ok(), "every queued publish is answered");
    }
    let frames: Vec<Vec<Vec<u8>>> = frames.try_iter().collect();
    assert_eq!(frames[0], vec![big.into_bytes()], "the big publish arrives whole, alone");
    let mut small: Vec<Vec<u8>> = frames[1..].iter().flatten().cloned().collect();
    small.sort();
    let expected: Vec<Vec<u8>> = (0..QUEUED).map(|n| format!(r#"{{"n":{n}}}"#).into_bytes()).collect();
    assert_eq!(small, expected, "each small publish arrives once, intact");
    assert!(
        frames.len() - 1 < QUEUED,
        "publishes queued behind the blocked write share frames: {} frames for {QUEUED}",
        frames.len() - 1
    );
    client.close();
}

/// The fake server's own check: an assertion failing inside a script fails the test (when the
/// server is dropped) instead of being printed on a detached thread and lost.
#[test]
#[should_panic(expected = "a scripted connection failed")]
fn a_script_that_fails_fails_the_test() {
    let server = FakeServer::start(Protocol::Json, |index, mut connection| {
        connection.accept_connect(connect_result(&format!("c{index}"), 0));
        let commands = connection.read_commands();
        assert!(commands.is_empty(), "the script expected nothing and got {commands:?}");
    });
    let (client, events) = client(&server.url(), config(Protocol::Json));
    client.connect().unwrap();
    events.connected();
    // The script reads this call, fails its assertion and ends the connection.
    assert!(client.rpc("m", "{}").is_err());
    client.close();
    drop(server);
}
