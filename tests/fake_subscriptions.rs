//! Subscription behaviour the real server will not show on demand, from a scripted fake server:
//! unsubscribe pushes 2500 and 2502, a subscribe that is never answered, a corrupted delta,
//! and the batching of subscribes with the connect command.

#[macro_use]
mod support;

use std::time::Duration;

use bytes::Bytes;
use centrifuge_blocking::unversioned::{
    Command, Publication as WirePublication, Push, Reply, SubscribeResult, Unsubscribe,
};
use centrifuge_blocking::{ClientConfig, Error, Protocol, SubscriptionConfig, codes};
use crossbeam_channel::{Sender, unbounded};
use support::events::{client, subscription};
use support::fake_server::{FakeConnection, FakeServer, connect_result};

in_both_protocols!(
    unsubscribe_push_2500_resubscribes_from_the_kept_position,
    unsubscribe_push_2502_invalidates_the_position_before_resubscribing,
    a_subscribe_that_is_never_answered_reconnects_with_code_3,
    a_corrupted_delta_is_reported_and_resubscribed_never_delivered,
    a_hundred_subscriptions_go_out_in_the_connect_frame_again_after_a_reconnect,
);

const EVENT_WAIT: Duration = Duration::from_secs(10);

fn config(protocol: Protocol) -> ClientConfig {
    ClientConfig::default()
        .protocol(protocol)
        .timeout(Duration::from_millis(800))
        .min_reconnect_delay(Duration::from_millis(20))
        .max_reconnect_delay(Duration::from_millis(100))
}

fn recoverable(offset: u64) -> SubscribeResult {
    SubscribeResult { recoverable: true, positioned: true, epoch: "e1".into(), offset, ..Default::default() }
}

/// Answers every subscribe command of `commands` with `result`; reports each to `seen`.
fn answer_subscribes(
    connection: &mut FakeConnection,
    commands: &[Command],
    result: &SubscribeResult,
    seen: &Sender<Command>,
) {
    let replies: Vec<Reply> = commands
        .iter()
        .filter(|command| command.subscribe.is_some())
        .map(|command| {
            let _ = seen.send(command.clone());
            Reply { id: command.id, subscribe: Some(Box::new(result.clone())), ..Default::default() }
        })
        .collect();
    if !replies.is_empty() {
        connection.reply(&replies);
    }
}

fn push(channel: &str, push: Push) -> Reply {
    Reply { push: Some(Push { channel: channel.into(), ..push }), ..Default::default() }
}

fn unsubscribe_push(protocol: Protocol, code: u32) -> (Command, Command) {
    let (seen, subscribes) = unbounded();
    let server = FakeServer::start(protocol, move |_, mut connection| {
        connection.accept_connect(connect_result("c", 0));
        let commands = connection.read_commands();
        answer_subscribes(&mut connection, &commands, &recoverable(7), &seen);
        connection.reply(&[push(
            "news",
            Push {
                unsubscribe: Some(Box::new(Unsubscribe { code, reason: "resubscribe please".into() })),
                ..Default::default()
            },
        )]);
        loop {
            let commands = connection.read_commands();
            if commands.is_empty() {
                return;
            }
            answer_subscribes(&mut connection, &commands, &recoverable(7), &seen);
        }
    });
    let (client, client_events) = client(&server.url(), config(protocol));
    client.connect().unwrap();
    client_events.connected();
    let (sub, events) = subscription(&client, "news", SubscriptionConfig::default().recoverable(true));
    sub.subscribe().unwrap();
    events.subscribed();
    assert_eq!(events.subscribing(), (code, "resubscribe please".into()));
    let again = events.subscribed();
    assert!(again.was_recovering() || again.recoverable());
    let first = subscribes.recv_timeout(EVENT_WAIT).unwrap();
    let second = subscribes.recv_timeout(EVENT_WAIT).unwrap();
    client.close();
    (first, second)
}

fn unsubscribe_push_2500_resubscribes_from_the_kept_position(protocol: Protocol) {
    let (first, second) = unsubscribe_push(protocol, 2500);
    assert!(!first.subscribe.unwrap().recover, "nothing to recover from at first");
    let second = second.subscribe.unwrap();
    assert!(second.recover);
    assert_eq!((second.offset, second.epoch.as_str()), (7, "e1"), "recovers from the kept position");
}

fn unsubscribe_push_2502_invalidates_the_position_before_resubscribing(protocol: Protocol) {
    let (_, second) = unsubscribe_push(protocol, 2502);
    let second = second.subscribe.unwrap();
    assert!(second.recover);
    assert_eq!((second.offset, second.epoch.as_str()), (0, "_"), "the sentinel epoch makes recovery fail");
}

fn a_subscribe_that_is_never_answered_reconnects_with_code_3(protocol: Protocol) {
    let server = FakeServer::start(protocol, |index, mut connection| {
        connection.accept_connect(connect_result(&format!("c{index}"), 0));
        // Reads the subscribe and never answers it.
        connection.idle_until_gone();
    });
    let (client, client_events) = client(&server.url(), config(protocol));
    client.connect().unwrap();
    assert_eq!(client_events.connected(), "c0");
    let (sub, _events) = subscription(&client, "silent", SubscriptionConfig::default());
    sub.subscribe().unwrap();
    assert_eq!(
        client_events.connecting(),
        (codes::ConnectingCode::SubscribeTimeout.code(), "subscribe timeout".into())
    );
    assert_eq!(client_events.connected(), "c1");
    client.close();
}

fn a_corrupted_delta_is_reported_and_resubscribed_never_delivered(protocol: Protocol) {
    let full = r#"{"doc":"version one of the document"}"#;
    let encode = move |bytes: &[u8]| -> Bytes {
        match protocol {
            // On a delta subscription every JSON payload travels as a JSON string.
            Protocol::Json => {
                Bytes::from(serde_json::to_string(std::str::from_utf8(bytes).unwrap()).unwrap())
            }
            _ => Bytes::copy_from_slice(bytes),
        }
    };
    let (seen, commands_seen) = unbounded::<Command>();
    let server = FakeServer::start(protocol, move |_, mut connection| {
        connection.accept_connect(connect_result("c", 0));
        let commands = connection.read_commands();
        let delta_result = SubscribeResult { delta: true, ..recoverable(1) };
        answer_subscribes(&mut connection, &commands, &delta_result, &seen);
        let publication = |data: Bytes, delta: bool, offset: u64| {
            push(
                "doc",
                Push {
                    r#pub: Some(WirePublication { data, delta, offset, ..Default::default() }),
                    ..Default::default()
                },
            )
        };
        connection.reply(&[publication(encode(full.as_bytes()), false, 2)]);
        // A delta that copies the whole 37-byte base ("a" is 37 in fossil's digits) but carries
        // the wrong checksum.
        connection.reply(&[publication(encode(b"a\na@0,0;"), true, 3)]);
        // The client now unsubscribes and subscribes again; the resubscribe recovers offset 3.
        loop {
            let commands = connection.read_commands();
            if commands.is_empty() {
                return;
            }
            for command in &commands {
                let _ = seen.send(command.clone());
            }
            let replies: Vec<Reply> = commands
                .iter()
                .filter(|command| command.id > 0)
                .map(|command| match &command.subscribe {
                    Some(_) => Reply {
                        id: command.id,
                        subscribe: Some(Box::new(SubscribeResult {
                            delta: true,
                            was_recovering: true,
                            recovered: true,
                            publications: vec![WirePublication {
                                data: encode(br#"{"doc":"version two"}"#),
                                offset: 3,
                                ..Default::default()
                            }],
                            ..recoverable(2)
                        })),
                        ..Default::default()
                    },
                    None => {
                        Reply { id: command.id, unsubscribe: Some(Default::default()), ..Default::default() }
                    }
                })
                .collect();
            connection.reply(&replies);
        }
    });
    let (client, client_events) = client(&server.url(), config(protocol));
    client.connect().unwrap();
    client_events.connected();
    let (sub, events) = subscription(&client, "doc", SubscriptionConfig::default().delta(true));
    sub.subscribe().unwrap();
    events.subscribed();
    assert_eq!(events.publication().data(), full.as_bytes());
    let error = events.error();
    assert!(matches!(&error, Error::Protocol(why) if why.contains("checksum")), "{error:?}");
    assert_eq!(events.subscribing().0, 2500);
    let again = events.subscribed();
    assert!(again.recovered());
    assert_eq!(
        events.publication().data(),
        br#"{"doc":"version two"}"#,
        "the lost publication comes again, in full"
    );
    let first = commands_seen.recv_timeout(EVENT_WAIT).unwrap();
    assert_eq!(first.subscribe.unwrap().delta, "fossil");
    let unsubscribe = commands_seen.recv_timeout(EVENT_WAIT).unwrap();
    assert!(
        unsubscribe.unsubscribe.is_some(),
        "the server-side subscription is dropped first: {unsubscribe:?}"
    );
    let resubscribe = commands_seen.recv_timeout(EVENT_WAIT).unwrap().subscribe.unwrap();
    assert!(
        resubscribe.recover && resubscribe.offset == 2,
        "recovers from the last good offset: {resubscribe:?}"
    );
    client.close();
}

fn a_hundred_subscriptions_go_out_in_the_connect_frame_again_after_a_reconnect(protocol: Protocol) {
    let (frames, first_frames) = unbounded::<Vec<Command>>();
    let server = FakeServer::start(protocol, move |index, mut connection| {
        let commands = connection.read_commands();
        let _ = frames.send(commands.clone());
        let connect = &commands[0];
        let mut replies = vec![Reply {
            id: connect.id,
            connect: Some(Box::new(connect_result(&format!("c{index}"), 0))),
            ..Default::default()
        }];
        replies.extend(commands.iter().filter(|c| c.subscribe.is_some()).map(|command| Reply {
            id: command.id,
            subscribe: Some(Box::new(recoverable(5))),
            ..Default::default()
        }));
        connection.reply(&replies);
        if index == 0 {
            connection.close(3001, "shutdown");
        } else {
            connection.idle_until_gone();
        }
    });
    let (client, client_events) = client(&server.url(), config(protocol).timeout(Duration::from_secs(5)));
    let subs: Vec<_> = (0..100)
        .map(|n| {
            let (sub, events) = subscription(&client, &format!("bulk:{n}"), SubscriptionConfig::default());
            sub.subscribe().unwrap();
            (sub, events)
        })
        .collect();
    client.connect().unwrap();
    let frames =
        [first_frames.recv_timeout(EVENT_WAIT).unwrap(), first_frames.recv_timeout(EVENT_WAIT).unwrap()];
    for (attempt, frame) in frames.iter().enumerate() {
        assert!(frame[0].connect.is_some(), "connect comes first");
        let subscribes: Vec<_> = frame[1..].iter().filter_map(|c| c.subscribe.as_ref()).collect();
        assert_eq!(subscribes.len(), 100, "all 100 subscribes share the connect command's frame");
        assert_eq!(frame.len(), 101);
        for subscribe in subscribes {
            // The second time they recover from the position of the first subscribe result.
            let expected = if attempt == 0 { (false, 0, "") } else { (true, 5, "e1") };
            assert_eq!(
                (subscribe.recover, subscribe.offset, subscribe.epoch.as_str()),
                expected,
                "{subscribe:?}"
            );
        }
    }
    client_events.until("connecting after the server's shutdown", |event| match event {
        centrifuge_blocking::ClientEvent::Connecting(event) if event.code() == 3001 => Some(()),
        _ => None,
    });
    client_events.connected();
    for (_, events) in &subs {
        assert_eq!(events.subscribing().0, codes::SubscribingCode::SubscribeCalled.code());
        events.subscribed();
        assert_eq!(events.subscribing().0, codes::SubscribingCode::TransportClosed.code());
        events.subscribed();
    }
    assert!(subs.iter().all(|(sub, _)| sub.state() == centrifuge_blocking::SubscriptionState::Subscribed));
    client.close();
}
