//! Connecting, losing the connection, reconnecting, pings, disconnect and close.

use super::sim::*;

#[test]
fn connect_emits_connecting_zero_dials_and_sends_connect_once_open() {
    let mut sim = Sim::new(config("jwt", false));
    sim.core.connect();
    let effects = sim.core.take_effects();
    assert!(matches!(effects[0], Effect::ClientState(ClientState::Connecting)));
    assert_eq!(connecting(&effects), vec![said(ConnectingCode::ConnectCalled)]);
    let generation = dialed(&effects).unwrap();

    sim.core.opened(generation, sim.now);
    let commands = sent(&sim.core.take_effects(), generation);
    assert_eq!(commands.len(), 1);
    let connect = commands[0].connect.as_ref().unwrap();
    assert_eq!(
        (connect.token.as_str(), connect.name.as_str(), connect.version.as_str()),
        ("jwt", "rust", "9.9")
    );
    assert_eq!(connect.data.as_ref(), b"{\"d\":1}");
    assert!(commands[0].id > 0);

    // A second connect() changes nothing.
    sim.core.connect();
    assert!(sim.core.take_effects().is_empty());
}

#[test]
fn a_connect_reply_connects_and_reports_client_id_version_and_data() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.start();
    let id = sim.open(generation);
    let result = ConnectResult {
        client: "abc".into(),
        version: "6.9.1".into(),
        data: Bytes::from_static(b"{\"w\":1}"),
        ..Default::default()
    };
    let effects = sim.reply(generation, Reply { id, connect: Some(Box::new(result)), ..Default::default() });
    let connected: Vec<_> = events(&effects)
        .into_iter()
        .filter_map(|event| match event {
            ClientEvent::Connected(event) => {
                Some((event.client_id().to_string(), event.version().to_string(), event.data().to_vec()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(connected, vec![("abc".into(), "6.9.1".into(), b"{\"w\":1}".to_vec())]);
    // The state changes before the event that announces it.
    let state_at =
        effects.iter().position(|e| matches!(e, Effect::ClientState(ClientState::Connected))).unwrap();
    let event_at =
        effects.iter().position(|e| matches!(e, Effect::ClientEvent(ClientEvent::Connected(_)))).unwrap();
    assert!(state_at < event_at);
}

#[test]
fn calls_in_flight_fail_once_with_connection_lost_and_the_client_reconnects() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    let (a, _) = sim.call(rpc());
    let (b, effects) = sim.call(rpc());
    let ids: Vec<u32> = sent(&effects, generation).iter().map(|c| c.id).collect();
    sim.core.closed(generation, None, None, sim.now);
    let effects = sim.core.take_effects();
    let mut failed: Vec<u32> = completions(&effects)
        .into_iter()
        .map(|(slot, result)| {
            assert!(matches!(result, Err(Error::ConnectionLost)));
            slot
        })
        .collect();
    failed.sort();
    assert_eq!(failed, vec![a, b]);
    assert_eq!(connecting(&effects), vec![said(ConnectingCode::TransportClosed)]);
    assert_eq!(sim.core.state(), ClientState::Connecting);
    // Late replies from the dead connection change nothing.
    sim.core.frame(generation, vec![Reply { id: ids[0], ..Default::default() }], sim.now);
    assert!(sim.core.take_effects().is_empty());
    // The reconnect happens after a backoff delay.
    let (waited, effects) = sim.run_to_next_deadline();
    assert!((MIN_DELAY..=Duration::from_secs(1)).contains(&waited), "{waited:?}");
    assert_eq!(dialed(&effects), Some(generation + 1));
}

#[test]
fn server_close_codes_follow_the_reconnect_rule() {
    type Case = (Option<(u16, &'static str)>, ClientState, (u32, String));
    let server = |code: u32, reason: &str| (code, reason.to_string());
    let cases: [Case; 7] = [
        (Some((4000, "custom reconnect")), ClientState::Connecting, server(4000, "custom reconnect")),
        (Some((3001, "shutdown")), ClientState::Connecting, server(3001, "shutdown")),
        (Some((1000, "")), ClientState::Connecting, said(ConnectingCode::TransportClosed)),
        (None, ClientState::Connecting, said(ConnectingCode::TransportClosed)),
        (Some((4500, "custom stop")), ClientState::Disconnected, server(4500, "custom stop")),
        (Some((3500, "invalid token")), ClientState::Disconnected, server(3500, "invalid token")),
        (
            Some((1009, "message too big")),
            ClientState::Disconnected,
            said(DisconnectedCode::MessageSizeLimit),
        ),
    ];
    for (close, state, (code, reason)) in cases {
        let mut sim = Sim::new(config("", false));
        let generation = sim.connected(ping_result(0, false));
        sim.core.closed(generation, close.map(|(c, r)| (c, r.to_string())), None, sim.now);
        let effects = sim.core.take_effects();
        assert_eq!(sim.core.state(), state, "{close:?}");
        let reported =
            if state == ClientState::Connecting { connecting(&effects) } else { disconnected(&effects) };
        assert_eq!(reported, vec![(code, reason)], "{close:?}");
        assert_eq!(closes(&effects), vec![generation]);
        let reconnects = sim.core.next_deadline().is_some();
        assert_eq!(reconnects, state == ClientState::Connecting, "{close:?}");
    }
}

#[test]
fn reconnect_delays_grow_with_full_jitter_and_reset_after_success() {
    let mut sim = Sim::new(config("", false));
    let mut generation = sim.start();
    for attempt in 0..8u32 {
        sim.core.dial_failed(generation, TransportError::new("refused"), sim.now);
        let effects = sim.core.take_effects();
        assert!(matches!(errors(&effects)[..], [Error::Transport(_)]));
        assert!(connecting(&effects).is_empty(), "no repeated connecting events while connecting");
        let (waited, effects) = sim.run_to_next_deadline();
        let cap = (500u64 << attempt).min(20_000);
        assert!(
            waited >= MIN_DELAY && waited <= Duration::from_millis(500 + cap).min(MAX_DELAY),
            "attempt {attempt}: {waited:?}"
        );
        generation = dialed(&effects).unwrap();
    }
    let id = sim.open(generation);
    sim.reply(generation, Reply { id, connect: Some(Box::new(ping_result(0, false))), ..Default::default() });
    sim.core.closed(generation, None, None, sim.now);
    sim.core.take_effects();
    let (waited, _) = sim.run_to_next_deadline();
    assert!(waited <= Duration::from_secs(1), "the attempt counter was reset: {waited:?}");
}

#[test]
fn stale_generations_are_ignored() {
    let mut sim = Sim::new(config("", false));
    let first = sim.connected(ping_result(0, false));
    sim.core.closed(first, None, None, sim.now);
    sim.core.take_effects();
    let (_, effects) = sim.run_to_next_deadline();
    let second = dialed(&effects).unwrap();
    assert_ne!(first, second);
    // Everything from the first connection is ignored now.
    sim.core.closed(first, Some((3500, "invalid token".into())), None, sim.now);
    sim.core.protocol_error(first, "garbage".into());
    sim.core.frame(
        first,
        vec![Reply {
            push: Some(Push { message: Some(Box::default()), ..Default::default() }),
            ..Default::default()
        }],
        sim.now,
    );
    sim.core.dial_failed(first, TransportError::new("late"), sim.now);
    assert!(sim.core.take_effects().is_empty());
    assert_eq!(sim.core.state(), ClientState::Connecting);
    // A connection that opens after it was abandoned is closed right away.
    sim.core.disconnect();
    sim.core.take_effects();
    sim.core.opened(second, sim.now);
    assert_eq!(closes(&sim.core.take_effects()), vec![second]);
}

#[test]
fn a_protocol_error_stops_the_client_as_bad_protocol() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    sim.core.protocol_error(generation, "invalid JSON".into());
    let effects = sim.core.take_effects();
    assert!(matches!(&errors(&effects)[..], [Error::Protocol(what)] if what == "invalid JSON"));
    assert_eq!(disconnected(&effects), vec![said(DisconnectedCode::BadProtocol)]);
    assert_eq!(closes(&effects), vec![generation]);
    assert_eq!(sim.core.next_deadline(), None, "no reconnect");
}

#[test]
fn connect_errors_are_terminal_unless_temporary_or_token_expired() {
    let mut sim = Sim::new(config("t", false));
    let generation = sim.start();
    let id = sim.open(generation);
    let effects = sim.reply(generation, server_error(id, 101, "unauthorized", false));
    assert_eq!(disconnected(&effects), vec![(101, "unauthorized".to_string())]);
    assert_eq!(sim.core.state(), ClientState::Disconnected);

    let mut sim = Sim::new(config("t", false));
    let generation = sim.start();
    let id = sim.open(generation);
    let effects = sim.reply(generation, server_error(id, 100, "internal server error", true));
    assert!(matches!(&errors(&effects)[..], [Error::Server(e)] if e.code == 100));
    assert_eq!(closes(&effects), vec![generation]);
    assert_eq!(sim.core.state(), ClientState::Connecting);
    let (_, effects) = sim.run_to_next_deadline();
    assert!(dialed(&effects).is_some(), "a temporary error is retried");
}

#[test]
fn a_connect_reply_that_never_comes_times_out_and_reconnects() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.start();
    sim.open(generation);
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, TIMEOUT);
    match &errors(&effects)[..] {
        [Error::Timeout(timeout)] => assert!(timeout.to_string().contains("connect command"), "{timeout}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(closes(&effects), vec![generation]);
    let (_, effects) = sim.run_to_next_deadline();
    assert!(dialed(&effects).is_some());
}

#[test]
fn the_ping_watchdog_fires_after_interval_plus_max_delay_without_frames() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(25, true));
    assert_eq!(sim.core.next_deadline(), Some(sim.now + Duration::from_secs(35)));
    // A ping re-arms the watchdog and is answered with an empty command.
    sim.now += Duration::from_secs(30);
    let effects = sim.reply(generation, Reply::default());
    assert_eq!(sent(&effects, generation), vec![Command::default()]);
    assert_eq!(sim.core.next_deadline(), Some(sim.now + Duration::from_secs(35)));
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, Duration::from_secs(35));
    assert_eq!(connecting(&effects), vec![said(ConnectingCode::NoPing)]);
    assert_eq!(closes(&effects), vec![generation]);
}

#[test]
fn pings_are_not_answered_unless_the_server_asked_for_pongs() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(25, false));
    assert!(sent(&sim.reply(generation, Reply::default()), generation).is_empty());
}

#[test]
fn no_watchdog_when_the_server_does_not_ping() {
    let mut sim = Sim::new(config("", false));
    sim.connected(ping_result(0, false));
    assert_eq!(sim.core.next_deadline(), None, "an idle client without pings has no timer at all");
}

#[test]
fn disconnect_fails_calls_and_connect_works_again() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(25, true));
    let (in_flight, _) = sim.call(rpc());
    sim.core.disconnect();
    let effects = sim.core.take_effects();
    assert_eq!(disconnected(&effects), vec![said(DisconnectedCode::DisconnectCalled)]);
    assert!(matches!(completions(&effects)[..], [(s, Err(Error::ConnectionLost))] if s == in_flight));
    assert_eq!(closes(&effects), vec![generation]);
    assert_eq!(sim.core.next_deadline(), None, "no reconnect, no watchdog");
    let next = sim.start();
    assert!(next > generation);
}

#[test]
fn disconnect_while_connecting_fails_waiting_calls_as_disconnected() {
    let mut sim = Sim::new(config("", false));
    sim.start();
    let (waiting, _) = sim.call(rpc());
    sim.core.disconnect();
    let effects = sim.core.take_effects();
    assert!(matches!(completions(&effects)[..], [(s, Err(Error::Disconnected))] if s == waiting));
    assert_eq!(disconnected(&effects), vec![said(DisconnectedCode::DisconnectCalled)]);
}

#[test]
fn close_reports_client_closed_and_fails_everything_with_closed() {
    let mut sim = Sim::new(config("", false));
    sim.start();
    let (waiting, _) = sim.call(rpc());
    sim.core.close();
    let effects = sim.core.take_effects();
    assert_eq!(disconnected(&effects), vec![said(DisconnectedCode::ClientClosed)]);
    assert!(matches!(completions(&effects)[..], [(s, Err(Error::Closed))] if s == waiting));
    assert!(matches!(effects.last(), Some(Effect::ClientState(ClientState::Closed))));
    sim.core.close();
    assert!(sim.core.take_effects().is_empty(), "close is idempotent");
    sim.core.connect();
    assert!(sim.core.take_effects().is_empty(), "a closed client stays closed");
}

#[test]
fn a_message_push_becomes_a_message_event() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    let push = Push {
        message: Some(Box::new(Message { data: Bytes::from_static(b"\"hi\"") })),
        ..Default::default()
    };
    let effects = sim.reply(generation, Reply { push: Some(push), ..Default::default() });
    match &events(&effects)[..] {
        [ClientEvent::Message(message)] => assert_eq!(message.data(), b"\"hi\""),
        other => panic!("{other:?}"),
    }
}
