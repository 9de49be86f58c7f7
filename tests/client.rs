//! The client against a real Centrifugo, in JSON and in Protobuf.

#[macro_use]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use centrifuge_blocking::{
    ClientConfig, ClientEvent, ClientState, Error, HistoryOptions, Protocol, TokenError, codes,
};
use centrifuge_test_harness::{
    Centrifugo, Claims, HMAC_SECRET, RPC_FAIL_CODE, RPC_FAIL_MESSAGE, RPC_FAIL_METHOD, RPC_SLOW_METHOD,
    config, slow_calls_started, unused_port,
};
use support::events::client;

in_both_protocols!(
    anonymous_connect_and_disconnect,
    jwt_connect,
    an_invalid_token_stops_the_client_with_3500,
    connect_before_the_server_is_up_then_succeeds,
    server_disconnect_4000_reconnects_with_a_new_client_id,
    server_disconnect_4500_is_terminal,
    a_short_lived_token_is_refreshed_without_reconnecting,
    an_expired_token_is_replaced_after_error_109,
    an_unauthorized_getter_stops_the_client,
    rpc_through_the_proxy_backend,
    rpc_ping,
    publish_history_presence_and_presence_stats,
    calls_made_while_connecting_succeed_once_connected,
    calls_while_disconnected_fail_at_once,
    concurrent_rpcs_from_eight_threads_are_all_answered,
    a_call_in_flight_fails_once_when_the_server_disconnects,
    close_returns_promptly_while_reconnecting,
    a_call_made_right_after_connect_waits_for_the_connection,
    an_expired_static_token_without_a_getter_stops_as_unauthorized,
    a_wrong_websocket_path_reports_the_http_status,
);

fn config(protocol: Protocol) -> ClientConfig {
    ClientConfig::default().protocol(protocol).min_reconnect_delay(Duration::from_millis(50))
}

fn user_token(user: &str) -> String {
    Claims::connection(user).sign(HMAC_SECRET)
}

fn channel(protocol: Protocol, namespace: &str, name: &str) -> String {
    format!("{namespace}:{name}-{protocol:?}").to_lowercase()
}

fn anonymous_connect_and_disconnect(protocol: Protocol) {
    let server = Centrifugo::shared();
    let (client, events) = client(&server.ws_url(), config(protocol));
    assert_eq!(client.state(), ClientState::Disconnected);
    client.connect().unwrap();
    assert_eq!(events.connecting(), (codes::ConnectingCode::ConnectCalled.code(), "connect called".into()));
    let client_id = events.connected();
    assert!(!client_id.is_empty());
    assert_eq!(client.state(), ClientState::Connected);
    client.disconnect().unwrap();
    assert_eq!(
        events.disconnected(),
        (codes::DisconnectedCode::DisconnectCalled.code(), "disconnect called".into())
    );
    assert_eq!(client.state(), ClientState::Disconnected);
    // And again.
    client.connect().unwrap();
    assert_ne!(events.connected(), client_id, "a new connection gets a new id");
    client.close();
    assert_eq!(client.state(), ClientState::Closed);
}

fn jwt_connect(protocol: Protocol) {
    let server = Centrifugo::shared();
    let (client, events) = client(&server.ws_url(), config(protocol).token(user_token("jwt-user")));
    client.connect().unwrap();
    events.connected();
    let presence = client.presence(&format!("{}:#jwt-user", config::PERSONAL));
    // The personal channel is a server-side subscription of this user: it is present there.
    let presence = presence.expect("presence of the personal channel");
    assert!(presence.clients().values().any(|info| info.user() == "jwt-user"), "{presence:?}");
    client.close();
}

fn an_invalid_token_stops_the_client_with_3500(protocol: Protocol) {
    let server = Centrifugo::shared();
    let forged = Claims::connection("mallory").sign("wrong-secret");
    let (client, events) = client(&server.ws_url(), config(protocol).token(forged));
    client.connect().unwrap();
    assert_eq!(events.disconnected(), (3500, "invalid token".into()));
    assert_eq!(client.state(), ClientState::Disconnected);
    let later = events.within(Duration::from_millis(500));
    assert!(
        !later.iter().any(|event| matches!(event, ClientEvent::Connecting(_))),
        "no reconnect: {later:?}"
    );
    client.close();
}

fn connect_before_the_server_is_up_then_succeeds(protocol: Protocol) {
    let port = unused_port();
    let url = format!("ws://127.0.0.1:{port}/connection/websocket");
    let (client, events) = client(&url, config(protocol).max_reconnect_delay(Duration::from_millis(300)));
    client.connect().unwrap();
    assert!(matches!(events.error(), Error::Transport(_)), "the first dial is refused");
    assert_eq!(client.state(), ClientState::Connecting);
    let _server = Centrifugo::start_on_port(port);
    events.connected();
    assert_eq!(client.rpc("ping", Vec::new()).unwrap(), Vec::<u8>::new());
    client.close();
}

fn server_disconnect_4000_reconnects_with_a_new_client_id(protocol: Protocol) {
    let server = Centrifugo::shared();
    let user = format!("reconnect-{protocol:?}");
    let (client, events) = client(&server.ws_url(), config(protocol).token(user_token(&user)));
    client.connect().unwrap();
    let first = events.connected();
    server.api().disconnect(&user, 4000, "come back").unwrap();
    assert_eq!(events.connecting(), (4000, "come back".into()));
    let second = events.connected();
    assert_ne!(first, second);
    client.close();
}

fn server_disconnect_4500_is_terminal(protocol: Protocol) {
    let server = Centrifugo::shared();
    let user = format!("terminal-{protocol:?}");
    let (client, events) = client(&server.ws_url(), config(protocol).token(user_token(&user)));
    client.connect().unwrap();
    events.connected();
    server.api().disconnect(&user, 4500, "go away").unwrap();
    assert_eq!(events.disconnected(), (4500, "go away".into()));
    assert_eq!(client.state(), ClientState::Disconnected);
    assert!(matches!(client.rpc("ping", Vec::new()), Err(Error::Disconnected)));
    let later = events.within(Duration::from_millis(500));
    assert!(!later.iter().any(|event| matches!(event, ClientEvent::Connecting(_))), "stays down: {later:?}");
    client.close();
}

fn a_short_lived_token_is_refreshed_without_reconnecting(protocol: Protocol) {
    let server = Centrifugo::shared();
    let user = format!("refresh-{protocol:?}");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let getter_user = user.clone();
    let getter = move || -> Result<String, TokenError> {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(Claims::connection(&getter_user).expires_in(Duration::from_secs(2)).sign(HMAC_SECRET))
    };
    let (client, events) = client(&server.ws_url(), config(protocol).token_getter(getter));
    client.connect().unwrap();
    let client_id = events.connected();
    // Three ttl periods: each one needs a refresh, or the server would close the connection.
    let seen = events.within(Duration::from_millis(5500));
    assert!(calls.load(Ordering::SeqCst) >= 3, "getter called {} times", calls.load(Ordering::SeqCst));
    assert!(
        seen.iter().all(|event| !matches!(event, ClientEvent::Connecting(_) | ClientEvent::Disconnected(_))),
        "the connection must survive: {seen:?}"
    );
    assert_eq!(client.state(), ClientState::Connected);
    let presence = client.presence(&format!("{}:#{user}", config::PERSONAL)).unwrap();
    assert!(presence.clients().contains_key(&client_id), "still the same connection");
    client.close();
}

fn an_expired_token_is_replaced_after_error_109(protocol: Protocol) {
    let server = Centrifugo::shared();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let getter = move || -> Result<String, TokenError> {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(user_token("fresh-user"))
    };
    let expired = Claims::connection("fresh-user").expired().sign(HMAC_SECRET);
    let (client, events) = client(&server.ws_url(), config(protocol).token(expired).token_getter(getter));
    client.connect().unwrap();
    match events.error() {
        Error::Server(error) => assert_eq!((error.code, error.message.as_str()), (109, "token expired")),
        other => panic!("expected error 109, got {other:?}"),
    }
    events.connected();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the getter ran once, after 109");
    client.close();
}

fn an_unauthorized_getter_stops_the_client(protocol: Protocol) {
    let server = Centrifugo::shared();
    let getter = || -> Result<String, TokenError> { Err(TokenError::Unauthorized) };
    let (client, events) = client(&server.ws_url(), config(protocol).token_getter(getter));
    client.connect().unwrap();
    assert_eq!(events.disconnected(), (codes::DisconnectedCode::Unauthorized.code(), "unauthorized".into()));
    assert_eq!(client.state(), ClientState::Disconnected);
    client.close();
}

fn rpc_through_the_proxy_backend(protocol: Protocol) {
    let server = Centrifugo::shared();
    let (client, events) = client(&server.ws_url(), config(protocol).token(user_token("rpc-user")));
    client.connect().unwrap();
    events.connected();
    let payload = r#"{"question":"6×7","answer":42}"#;
    assert_eq!(client.rpc("echo", payload).unwrap(), payload.as_bytes());
    match client.rpc(RPC_FAIL_METHOD, "{}") {
        Err(Error::Server(error)) => {
            assert_eq!((error.code, error.message.as_str()), (RPC_FAIL_CODE, RPC_FAIL_MESSAGE))
        }
        other => panic!("expected the backend's error, got {other:?}"),
    }
    client.close();
}

fn rpc_ping(protocol: Protocol) {
    let server = Centrifugo::shared();
    let (client, events) = client(&server.ws_url(), config(protocol));
    client.connect().unwrap();
    events.connected();
    assert!(client.rpc("ping", Vec::new()).unwrap().is_empty());
    client.close();
}

fn publish_history_presence_and_presence_stats(protocol: Protocol) {
    let server = Centrifugo::shared();
    // One user per protocol: the two variants run at once, and presence counts users.
    let user = format!("calls-user-{protocol:?}");
    let (client, events) = client(&server.ws_url(), config(protocol).token(user_token(&user)));
    client.connect().unwrap();
    events.connected();

    let stream = channel(protocol, config::HISTORY, "client-calls");
    for n in 1..=3 {
        client.publish(&stream, format!(r#"{{"n": {n}}}"#)).unwrap();
    }
    let history = client.history(&stream, HistoryOptions::default().limit(-1)).unwrap();
    let data: Vec<&[u8]> = history.publications().iter().map(|p| p.data()).collect();
    assert_eq!(data, vec![&br#"{"n": 1}"#[..], br#"{"n": 2}"#, br#"{"n": 3}"#]);
    assert_eq!(history.position().offset, 3);
    let since = history.publications()[0].offset();
    let newer = client
        .history(
            &stream,
            HistoryOptions::default()
                .limit(10)
                .since(centrifuge_blocking::StreamPosition::new(since, history.position().epoch.clone())),
        )
        .unwrap();
    assert_eq!(newer.publications().len(), 2);
    let newest = client.history(&stream, HistoryOptions::default().limit(1).reverse(true)).unwrap();
    assert_eq!(newest.publications()[0].data(), br#"{"n": 3}"#);
    let position_only = client.history(&stream, HistoryOptions::default()).unwrap();
    assert!(position_only.publications().is_empty(), "the default asks for the position only");
    assert_eq!(position_only.position().offset, 3);
    let latest = client.history(&stream, HistoryOptions::latest(2)).unwrap();
    let data: Vec<&[u8]> = latest.publications().iter().map(|p| p.data()).collect();
    assert_eq!(data, vec![&br#"{"n": 3}"#[..], br#"{"n": 2}"#], "the newest two, newest first");

    // Presence: the personal channel has this user (server-side subscription).
    let personal = format!("{}:#{user}", config::PERSONAL);
    let presence = client.presence(&personal).unwrap();
    assert_eq!(presence.clients().len(), 1);
    let stats = client.presence_stats(&personal).unwrap();
    assert_eq!((stats.num_clients, stats.num_users), (1, 1));

    // Errors come back typed.
    match client.history("nosuchns:x", HistoryOptions::default()) {
        Err(Error::Server(error)) => assert_eq!(error.code, 102),
        other => panic!("{other:?}"),
    }
    if protocol == Protocol::Json {
        assert!(matches!(client.publish(&stream, "not json"), Err(Error::InvalidInput(_))));
    }
    client.close();
}

fn calls_made_while_connecting_succeed_once_connected(protocol: Protocol) {
    let port = unused_port();
    let url = format!("ws://127.0.0.1:{port}/connection/websocket");
    let (client, events) = client(
        &url,
        config(protocol).timeout(Duration::from_secs(10)).max_reconnect_delay(Duration::from_millis(200)),
    );
    client.connect().unwrap();
    let caller = {
        let client = client.clone();
        std::thread::spawn(move || client.rpc("ping", Vec::new()))
    };
    assert!(matches!(events.error(), Error::Transport(_)), "the server is not up yet");
    let _server = Centrifugo::start_on_port(port);
    assert_eq!(caller.join().unwrap().unwrap(), Vec::<u8>::new());
    client.close();
}

fn calls_while_disconnected_fail_at_once(protocol: Protocol) {
    let server = Centrifugo::shared();
    let (client, _events) = client(&server.ws_url(), config(protocol));
    let started = std::time::Instant::now();
    assert!(matches!(client.rpc("ping", Vec::new()), Err(Error::Disconnected)));
    assert!(matches!(client.publish("a", "1"), Err(Error::Disconnected)));
    assert!(matches!(client.history("a", HistoryOptions::default()), Err(Error::Disconnected)));
    assert!(matches!(client.ready(Duration::from_secs(5)), Err(Error::Disconnected)));
    assert!(started.elapsed() < Duration::from_secs(1), "no waiting: {:?}", started.elapsed());
    client.close();
    assert!(matches!(client.rpc("ping", Vec::new()), Err(Error::Closed)));
    assert!(matches!(client.connect(), Err(Error::Closed)));
}

fn concurrent_rpcs_from_eight_threads_are_all_answered(protocol: Protocol) {
    let server = Centrifugo::shared();
    let (client, events) = client(&server.ws_url(), config(protocol).token(user_token("busy")));
    client.connect().unwrap();
    events.connected();
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let client = client.clone();
            std::thread::spawn(move || {
                (0..13)
                    .map(|n| {
                        let payload = format!(r#"{{"thread":{thread},"n":{n}}}"#);
                        let answer = client.rpc("echo", payload.clone()).expect("every RPC is answered");
                        assert_eq!(answer, payload.as_bytes(), "each caller gets its own answer");
                    })
                    .count()
            })
        })
        .collect();
    let answered: usize = threads.into_iter().map(|thread| thread.join().unwrap()).sum();
    assert_eq!(answered, 104);
    client.close();
}

fn a_call_in_flight_fails_once_when_the_server_disconnects(protocol: Protocol) {
    let server = Centrifugo::shared();
    let user = format!("in-flight-{protocol:?}");
    let (client, events) = client(&server.ws_url(), config(protocol).token(user_token(&user)));
    client.connect().unwrap();
    events.connected();
    let started_before = slow_calls_started();
    let caller = {
        let client = client.clone();
        std::thread::spawn(move || client.rpc(RPC_SLOW_METHOD, "{}"))
    };
    // Wait (bounded) until the call has reached the backend, so it is surely in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while slow_calls_started() == started_before {
        assert!(std::time::Instant::now() < deadline, "the slow call never reached the backend");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.api().disconnect(&user, 4000, "come back").unwrap();
    assert!(matches!(caller.join().unwrap(), Err(Error::ConnectionLost)));
    // The close code survives whoever read it (the waiting caller reads for itself).
    assert_eq!(events.connecting(), (4000, "come back".into()));
    events.connected();
    assert!(client.rpc("ping", Vec::new()).is_ok());
    client.close();
}

fn close_returns_promptly_while_reconnecting(protocol: Protocol) {
    // Nothing listens: the client cycles through refused dials and backoff waits.
    let url = format!("ws://127.0.0.1:{}/connection/websocket", unused_port());
    let config = ClientConfig::default()
        .protocol(protocol)
        .min_reconnect_delay(Duration::from_secs(10))
        .max_reconnect_delay(Duration::from_secs(20));
    let (client, events) = client(&url, config);
    client.connect().unwrap();
    assert!(matches!(events.error(), Error::Transport(_)));
    let started = std::time::Instant::now();
    client.close();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "close took {:?} in a 10 s backoff",
        started.elapsed()
    );
    assert_eq!(client.state(), ClientState::Closed);
}

fn a_call_made_right_after_connect_waits_for_the_connection(protocol: Protocol) {
    let server = Centrifugo::shared();
    let (client, _events) = client(&server.ws_url(), config(protocol));
    client.connect().unwrap();
    // No wait in between: the call must see the connect() made just before it.
    assert!(client.rpc("ping", Vec::new()).is_ok());
    client.close();
}

fn an_expired_static_token_without_a_getter_stops_as_unauthorized(protocol: Protocol) {
    let server = Centrifugo::shared();
    let expired = Claims::connection("expired-static").expired().sign(HMAC_SECRET);
    let (client, events) = client(&server.ws_url(), config(protocol).token(expired));
    client.connect().unwrap();
    match events.error() {
        Error::Server(error) => assert_eq!((error.code, error.message.as_str()), (109, "token expired")),
        other => panic!("expected error 109, got {other:?}"),
    }
    // Nothing can make a fresh token: the client says why and stops.
    assert!(matches!(events.error(), Error::InvalidConfig(_)));
    assert_eq!(events.disconnected(), (codes::DisconnectedCode::Unauthorized.code(), "unauthorized".into()));
    assert_eq!(client.state(), ClientState::Disconnected);
    let later = events.within(Duration::from_millis(1000));
    assert!(
        !later.iter().any(|event| matches!(event, ClientEvent::Connecting(_) | ClientEvent::Error(_))),
        "no reconnect loop: {later:?}"
    );
    client.close();
}

fn a_wrong_websocket_path_reports_the_http_status(protocol: Protocol) {
    let server = Centrifugo::shared();
    let url = format!("ws://127.0.0.1:{}/connection/nope", server.port());
    let (client, events) = client(&url, config(protocol).max_reconnect_delay(Duration::from_millis(300)));
    client.connect().unwrap();
    match events.error() {
        Error::Transport(error) => {
            assert!(error.to_string().contains("404"), "the status is in the text: {error}")
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert_eq!(client.state(), ClientState::Connecting, "a refused handshake is retried");
    assert!(matches!(events.error(), Error::Transport(_)), "the retry is refused the same way");
    client.close();
}
