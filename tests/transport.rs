//! Transport options: wss:// with an extra root certificate or the dev-only switch (against a
//! scripted server and against a real Centrifugo serving a certificate the harness generated),
//! and an HTTP CONNECT proxy with basic auth (in front of the real Centrifugo).

#[macro_use]
mod support;

use std::time::Duration;

use centrifuge_blocking::{ClientConfig, ClientState, Error, HttpProxy, Protocol};
use centrifuge_test_harness::Centrifugo;
use support::events::client;
use support::fake_server::{FakeServer, connect_result};
use support::proxy::ConnectProxy;

const CA: &[u8] = include_bytes!("data/tls/ca.pem");

fn echo_server(protocol: Protocol) -> FakeServer {
    FakeServer::start_tls(protocol, |index, mut connection| {
        connection.accept_connect(connect_result(&format!("tls-{index}"), 0));
        connection.serve_echo();
    })
}

#[test]
fn wss_works_with_the_servers_ca_added() {
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        let server = echo_server(protocol);
        let config = ClientConfig::default().protocol(protocol).add_root_certificate_pem(CA);
        let (client, events) = client(&server.tls_url(), config);
        client.connect().unwrap();
        assert_eq!(events.connected(), "tls-0");
        assert_eq!(client.rpc("echo", r#"{"over":"tls"}"#).unwrap(), br#"{"over":"tls"}"#);
        client.close();
    }
}

#[test]
fn wss_refuses_an_unknown_certificate_authority() {
    let server = echo_server(Protocol::Json);
    let config = ClientConfig::default()
        .min_reconnect_delay(Duration::from_millis(50))
        .max_reconnect_delay(Duration::from_millis(200));
    let (client, events) = client(&server.tls_url(), config);
    client.connect().unwrap();
    match events.error() {
        Error::Transport(error) => assert!(error.to_string().contains("TLS handshake"), "{error}"),
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert_eq!(client.state(), ClientState::Connecting, "it keeps trying");
    client.close();
}

#[test]
fn the_dev_only_switch_accepts_any_certificate() {
    let server = echo_server(Protocol::Protobuf);
    let config = ClientConfig::default().protocol(Protocol::Protobuf).danger_accept_invalid_certs(true);
    let (client, events) = client(&server.tls_url(), config);
    client.connect().unwrap();
    events.connected();
    assert!(client.rpc("echo", vec![1, 2, 3]).is_ok());
    client.close();
}

#[test]
fn centrifugo_over_wss_is_refused_by_default_and_accepted_with_its_ca() {
    let server = Centrifugo::start_tls();
    assert!(server.ws_url().starts_with("wss://"));

    let untrusting = ClientConfig::default()
        .min_reconnect_delay(Duration::from_millis(50))
        .max_reconnect_delay(Duration::from_millis(200));
    let (refusing, events) = client(&server.ws_url(), untrusting);
    refusing.connect().unwrap();
    match events.error() {
        Error::Transport(error) => {
            let text = error.to_string();
            assert!(text.contains("TLS handshake") && text.contains("127.0.0.1"), "{text}");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert_eq!(refusing.state(), ClientState::Connecting, "refused, and it keeps trying");
    refusing.close();

    let ca = server.ca_pem().expect("a TLS server has a CA").as_bytes().to_vec();
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        let config = ClientConfig::default().protocol(protocol).add_root_certificate_pem(ca.clone());
        let (trusting, events) = client(&server.ws_url(), config);
        let channel = format!("over-tls-{protocol:?}").to_lowercase();
        let (sub, sub_events) = support::events::subscription(&trusting, &channel, Default::default());
        sub.subscribe().unwrap();
        trusting.connect().unwrap();
        events.connected();
        sub_events.subscribed();
        server.api().publish(&channel, r#"{"secure":true}"#).unwrap();
        assert_eq!(sub_events.publication().data(), br#"{"secure":true}"#);
        assert_eq!(trusting.rpc("ping", Vec::new()).unwrap(), Vec::<u8>::new());
        trusting.close();
    }
}

#[test]
fn a_bad_root_certificate_is_a_configuration_error() {
    let result = centrifuge_blocking::Client::new(
        "wss://localhost:1/connection/websocket",
        ClientConfig::default().add_root_certificate_pem(b"not a certificate".to_vec()),
        centrifuge_blocking::listener::NoopListener,
    );
    assert!(matches!(result, Err(Error::InvalidConfig(why)) if why.contains("root certificate")));
}

#[test]
fn an_http_connect_proxy_with_basic_auth_reaches_the_server() {
    let server = Centrifugo::shared();
    // "user:secret" in base64.
    let proxy = ConnectProxy::start(Some("dXNlcjpzZWNyZXQ="));
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        let config = ClientConfig::default()
            .protocol(protocol)
            .proxy(HttpProxy::new(proxy.address()).basic_auth("user", "secret"));
        let (client, events) = client(&server.ws_url(), config);
        client.connect().unwrap();
        events.connected();
        assert!(client.rpc("ping", Vec::new()).is_ok());
        client.close();
    }
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].starts_with(&format!("CONNECT 127.0.0.1:{} HTTP/1.1\r\n", server.port())), "{seen:?}");
}

#[test]
fn wrong_proxy_credentials_are_a_transport_error() {
    let server = Centrifugo::shared();
    let proxy = ConnectProxy::start(Some("dXNlcjpzZWNyZXQ="));
    let config = ClientConfig::default()
        .proxy(HttpProxy::new(proxy.address()).basic_auth("user", "wrong"))
        .min_reconnect_delay(Duration::from_millis(50))
        .max_reconnect_delay(Duration::from_millis(200));
    let (client, events) = client(&server.ws_url(), config);
    client.connect().unwrap();
    match events.error() {
        Error::Transport(error) => assert!(error.to_string().contains("407"), "{error}"),
        other => panic!("expected the proxy's refusal, got {other:?}"),
    }
    client.close();
}
