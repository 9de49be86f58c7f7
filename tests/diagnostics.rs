//! What a user sees when something is off: malformed endpoints refused by `Client::new`,
//! waits that time out naming why the client is not connected, dial steps that run out of
//! `connect_timeout` naming themselves, and a message over the server's size limit reported by
//! its close code, not by the I/O error that follows it.

#[macro_use]
mod support;

use std::time::Duration;

use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, Error, HttpProxy, Protocol, TokenError, listener::NoopListener,
};
use centrifuge_test_harness::{Centrifugo, unused_port};
use support::events::client;
use support::fault_proxy::{FaultProxy, Faults};
use support::proxy::ConnectProxy;

/// Reconnects quickly, so that a wait sees several failed attempts.
fn retrying() -> ClientConfig {
    ClientConfig::default()
        .min_reconnect_delay(Duration::from_millis(50))
        .max_reconnect_delay(Duration::from_millis(200))
}

/// `ready` fails with a timeout; returns its text and the cause it names.
fn ready_timeout(client: &Client, wait: Duration) -> (String, Error) {
    match client.ready(wait) {
        Err(Error::Timeout(timeout)) => {
            assert!(timeout.while_not_connected());
            assert_eq!(timeout.waited(), wait);
            let cause = timeout.last_connection_error().cloned().unwrap_or_else(|| {
                panic!("the timeout names no cause: {timeout}");
            });
            (timeout.to_string(), cause)
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn malformed_endpoints_are_refused_by_client_new() {
    for (url, needle) in [
        ("ws://127.0.0.1:8000/connection/web socket", "a space"),
        ("ws://127.0.0. 1:8000/connection/websocket", "a space"),
        ("ws://127.0.0.1:8000/connection/websocket\n", "a line break"),
        ("ws://127.0.0.1:8000/conn\u{7}ection", "control character"),
        ("ws://:8000/connection/websocket", "host is missing"),
        ("ws://127.0.0.1:80000/connection/websocket", "port"),
        ("ws://127.0.0.1:http/connection/websocket", "port"),
        ("ws://127.0.0.1:8000/connection/%G1", "two hex digits"),
        ("ws://::1:8000/connection/websocket", "IPv6 address must be written in brackets"),
        ("ws://[::1:8000/connection/websocket", "unclosed '['"),
        ("ws://[::g]:8000/connection/websocket", "not an IPv6 address"),
        ("ws://user:secret@127.0.0.1:8000/connection/websocket", "user info"),
        ("ftp://127.0.0.1:8000/connection/websocket", "must start with ws:// or wss://"),
    ] {
        match Client::new(url, ClientConfig::default(), NoopListener) {
            Err(Error::InvalidConfig(why)) => {
                assert!(why.contains(needle), "{url:?}: {why:?} lacks {needle:?}");
                assert!(!why.contains("secret"), "{url:?}: the message shows the password: {why}");
            }
            Err(other) => panic!("{url:?}: expected InvalidConfig, got {other:?}"),
            Ok(_) => panic!("{url:?} was accepted"),
        }
    }
}

#[test]
fn well_formed_endpoints_of_every_shape_are_accepted() {
    for url in [
        "ws://127.0.0.1:8000/connection/websocket",
        "wss://example.org/connection/websocket?cf_protocol=protobuf",
        "ws://[::1]:8000/connection/websocket",
        "ws://localhost/connection/%7Ews",
    ] {
        let client = Client::new(url, ClientConfig::default(), NoopListener)
            .unwrap_or_else(|err| panic!("{url:?} refused: {err}"));
        client.close();
    }
}

#[test]
fn ready_names_a_refused_connection() {
    let url = format!("ws://127.0.0.1:{}/connection/websocket", unused_port());
    let (client, _events) = client(&url, retrying());
    client.connect().unwrap();
    let (text, cause) = ready_timeout(&client, Duration::from_millis(700));
    assert!(matches!(cause, Error::Transport(_)), "{cause:?}");
    assert!(
        text.contains(
            "not connected after 700 ms; last attempt: transport error: cannot connect to 127.0.0.1"
        ),
        "{text}"
    );
    client.close();
}

#[test]
fn ready_names_a_certificate_that_does_not_verify() {
    let server = Centrifugo::start_tls();
    let (client, _events) = client(&server.ws_url(), retrying());
    client.connect().unwrap();
    let (text, cause) = ready_timeout(&client, Duration::from_secs(2));
    assert!(matches!(cause, Error::Transport(_)), "{cause:?}");
    assert!(text.contains("TLS handshake with 127.0.0.1 failed") && text.contains("certificate"), "{text}");
    client.close();
}

#[test]
fn ready_names_a_proxy_that_wants_other_credentials() {
    let server = Centrifugo::shared();
    // "user:secret" in base64.
    let proxy = ConnectProxy::start(Some("dXNlcjpzZWNyZXQ="));
    let config = retrying().proxy(HttpProxy::new(proxy.address()).basic_auth("user", "wrong"));
    let (client, _events) = client(&server.ws_url(), config);
    client.connect().unwrap();
    let (text, _) = ready_timeout(&client, Duration::from_secs(1));
    let refusal =
        format!("the HTTP proxy {} refused the tunnel to 127.0.0.1:{}", proxy.address(), server.port());
    assert!(text.contains(&refusal) && text.contains("407"), "{text}");
    assert!(!text.contains("wrong"), "the password shows: {text}");
    client.close();
}

#[test]
fn ready_names_a_failing_token_getter() {
    let server = Centrifugo::shared();
    let getter =
        || -> Result<String, TokenError> { Err(TokenError::Failed("the auth service is down".into())) };
    let (client, _events) = client(&server.ws_url(), retrying().token_getter(getter));
    client.connect().unwrap();
    let (text, cause) = ready_timeout(&client, Duration::from_secs(1));
    assert!(matches!(cause, Error::Token(_)), "{cause:?}");
    assert!(text.contains("token getter failed: the auth service is down"), "{text}");
    client.close();
}

#[test]
fn a_call_that_waits_for_a_connection_in_vain_names_the_cause() {
    let url = format!("ws://127.0.0.1:{}/connection/websocket", unused_port());
    let (client, _events) = client(&url, retrying().timeout(Duration::from_millis(600)));
    client.connect().unwrap();
    match client.rpc("echo", "{}") {
        Err(Error::Timeout(timeout)) => {
            assert!(timeout.while_not_connected());
            assert!(matches!(timeout.last_connection_error(), Some(Error::Transport(_))), "{timeout}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    client.close();
}

/// A dial that runs out of `connect_timeout` at `step` says so, and when.
fn dial_times_out_naming(url: &str, config: ClientConfig, step: &str) {
    let (client, events) = client(url, config.connect_timeout(Duration::from_millis(300)));
    client.connect().unwrap();
    match events.error() {
        Error::Transport(error) => {
            assert_eq!(error.to_string(), format!("connect timed out after 300 ms {step}"));
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    client.close();
}

#[test]
fn a_dial_that_runs_out_of_time_names_the_step() {
    let server = Centrifugo::shared();
    let silent = FaultProxy::start(([127, 0, 0, 1], server.port()).into());
    silent.set(Faults { blackhole: true, ..Faults::default() });
    let port = silent.port();
    dial_times_out_naming(
        &format!("ws://127.0.0.1:{port}/connection/websocket"),
        retrying(),
        "in the WebSocket handshake",
    );
    dial_times_out_naming(
        &format!("wss://127.0.0.1:{port}/connection/websocket"),
        retrying(),
        "in the TLS handshake with 127.0.0.1",
    );
    dial_times_out_naming(
        &server.ws_url(),
        retrying().proxy(HttpProxy::new(format!("127.0.0.1:{port}"))),
        &format!("waiting for the HTTP proxy 127.0.0.1:{port} to answer CONNECT"),
    );
}

#[test]
fn a_message_over_the_servers_limit_is_reported_by_its_close_code_first() {
    // The harness's Centrifugo takes messages up to 1 MiB.
    let server = Centrifugo::shared();
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        let (client, events) = client(&server.ws_url(), ClientConfig::default().protocol(protocol));
        client.connect().unwrap();
        events.connected();
        let big = format!(r#"{{"text":"{}"}}"#, "a".repeat(2 << 20));
        assert!(matches!(client.publish("news", big), Err(Error::ConnectionLost)));
        let (code, reason) = events.until("disconnected event", |event| match event {
            ClientEvent::Disconnected(disconnected) => {
                Some((disconnected.code(), disconnected.reason().to_string()))
            }
            ClientEvent::Error(error) => {
                panic!("{protocol:?}: an error came before the disconnect: {error:?}")
            }
            _ => None,
        });
        let size_limit = centrifuge_blocking::codes::DisconnectedCode::MessageSizeLimit;
        assert_eq!((code, reason.as_str()), (size_limit.code(), "message size limit exceeded"));
        client.close();
    }
}

#[test]
fn send_to_a_centrifugo_without_a_message_handler_ends_in_3508() {
    let server = Centrifugo::shared();
    let (client, events) = client(&server.ws_url(), ClientConfig::default());
    client.connect().unwrap();
    events.connected();
    client.send(r#"{"hello":1}"#).expect("the message is written");
    assert_eq!(events.disconnected(), (3508, "not available".to_string()));
    assert_eq!(client.state(), centrifuge_blocking::ClientState::Disconnected, "terminal: no reconnect");
    client.close();
}

#[test]
fn a_pretty_printed_json_payload_arrives_equal_as_json() {
    let server = Centrifugo::shared();
    let (client, events) = client(&server.ws_url(), ClientConfig::default());
    client.connect().unwrap();
    events.connected();
    let pretty = "{\n  \"text\": \"two\\nlines\",\n  \"list\": [\n    1,\n    2\n  ]\n}";
    let echoed = client.rpc("echo", pretty).unwrap();
    assert_ne!(echoed, pretty.as_bytes(), "line breaks between tokens are removed");
    let sent: serde_json::Value = serde_json::from_str(pretty).unwrap();
    let received: serde_json::Value = serde_json::from_slice(&echoed).unwrap();
    assert_eq!(received, sent, "equal as JSON, the escaped line break inside the string kept");
    client.close();
}

#[test]
fn sse_with_protobuf_is_refused_by_client_new() {
    let endpoint = centrifuge_blocking::TransportEndpoint::sse("http://127.0.0.1:8000/connection/sse");
    match Client::new(endpoint, ClientConfig::default().protocol(Protocol::Protobuf), NoopListener) {
        Err(Error::InvalidConfig(why)) => assert!(why.contains("SSE carries JSON only"), "{why}"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    // Also as a fallback.
    let config = ClientConfig::default().protocol(Protocol::Protobuf).fallback_transports([
        centrifuge_blocking::TransportEndpoint::sse("http://127.0.0.1:8000/connection/sse"),
    ]);
    assert!(matches!(
        Client::new("ws://127.0.0.1:8000/connection/websocket", config, NoopListener),
        Err(Error::InvalidConfig(_))
    ));
}
