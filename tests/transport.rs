//! Transport options: wss:// with an extra root certificate or the dev-only switch (against a
//! scripted server and against a real Centrifugo serving a certificate the harness generated),
//! and proxies in front of the real Centrifugo, over every transport (`support::transports`):
//! HTTP CONNECT (basic auth, wrong credentials, a refused target) and SOCKS5 (with and without
//! credentials, wrong or missing ones, refused targets, every bound-address type, host names
//! resolved by the proxy or by the client). Proxies from the environment: tests/env_proxy.rs.

#[macro_use]
mod support;

use std::time::Duration;

use centrifuge_blocking::{ClientConfig, ClientState, Error, HttpProxy, Protocol, Socks5Proxy};
use centrifuge_test_harness::Centrifugo;
use support::events::client;
use support::fake_server::{FakeServer, connect_result};
use support::proxy::ConnectProxy;
use support::socks::{SocksMode, SocksProxy, SocksSession};
use support::transports::{self, Transport};

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
        Error::Transport(error) => {
            let text = error.to_string();
            assert!(text.contains("TLS handshake with localhost failed"), "{text}");
            // Each backend words the refusal its own way: this proves which one ran.
            if cfg!(feature = "rustls") {
                assert!(text.contains("invalid peer certificate: UnknownIssuer"), "rustls: {text}");
            } else {
                assert!(text.contains("certificate verify failed"), "native-tls (OpenSSL): {text}");
            }
        }
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

/// Reconnects quickly, so that a test sees a failure and the retry at once.
fn retrying() -> ClientConfig {
    ClientConfig::default()
        .min_reconnect_delay(Duration::from_millis(50))
        .max_reconnect_delay(Duration::from_millis(200))
}

/// Connects over `transport` with `config` (its proxy) and makes a call, in each wire format
/// the transport carries.
fn reaches_the_server(transport: &Transport, url: &str, config: ClientConfig, what: &str) {
    for &protocol in transport.protocols {
        let (client, events) = (transport.client)(url, config.clone().protocol(protocol));
        client.connect().unwrap();
        events.connected();
        assert!(client.rpc("ping", Vec::new()).is_ok(), "{} {what} {protocol:?}", transport.name);
        client.close();
    }
}

/// The text of the first error of a client that cannot connect; it keeps trying.
fn first_error(transport: &Transport, url: &str, config: ClientConfig) -> String {
    let (client, events) = (transport.client)(url, config);
    client.connect().unwrap();
    let text = match events.error() {
        Error::Transport(error) => error.to_string(),
        other => panic!("{}: expected a transport error, got {other:?}", transport.name),
    };
    assert_eq!(client.state(), ClientState::Connecting, "it keeps trying: {text}");
    client.close();
    text
}

#[test]
fn an_http_connect_proxy_with_basic_auth_reaches_the_server() {
    let server = Centrifugo::shared();
    // "user:secret" in base64.
    let proxy = ConnectProxy::start(Some("dXNlcjpzZWNyZXQ="));
    for transport in transports::ALL {
        let config =
            ClientConfig::default().proxy(HttpProxy::new(proxy.address()).basic_auth("user", "secret"));
        reaches_the_server(transport, &(transport.url)(&server, "127.0.0.1"), config, "through CONNECT");
    }
    // At least one tunnel per client (a transport may open more than one connection).
    let seen = proxy.seen();
    assert!(seen.len() >= transports::clients_per_round(), "{seen:?}");
    let request = format!("CONNECT 127.0.0.1:{} HTTP/1.1\r\n", server.port());
    assert!(seen.iter().all(|head| head.starts_with(&request)), "{seen:?}");
}

#[test]
fn wrong_proxy_credentials_are_a_transport_error() {
    let server = Centrifugo::shared();
    let proxy = ConnectProxy::start(Some("dXNlcjpzZWNyZXQ="));
    for transport in transports::ALL {
        let config = retrying().proxy(HttpProxy::new(proxy.address()).basic_auth("user", "wrong"));
        let text = first_error(transport, &(transport.url)(&server, "127.0.0.1"), config);
        assert!(text.contains(&format!("the HTTP proxy {} refused", proxy.address())), "{text}");
        assert!(text.contains("407") && !text.contains("wrong"), "{text}");
    }
}

#[test]
fn an_http_connect_proxy_that_refuses_the_target_is_reported_with_its_status() {
    let server = Centrifugo::shared();
    let proxy = ConnectProxy::refusing();
    for transport in transports::ALL {
        let url = (transport.url)(&server, "127.0.0.1");
        let text = first_error(transport, &url, retrying().proxy(HttpProxy::new(proxy.address())));
        assert_eq!(
            text,
            format!(
                "the HTTP proxy {} refused the tunnel to 127.0.0.1:{}: HTTP/1.1 403 Forbidden",
                proxy.address(),
                server.port()
            ),
            "{}",
            transport.name
        );
    }
}

#[test]
fn a_socks5_proxy_reaches_the_server_with_and_without_credentials() {
    let server = Centrifugo::shared();
    let open = SocksProxy::start(SocksMode::default());
    let guarded =
        SocksProxy::start(SocksMode { credentials: Some(("user", "s3cret")), ..SocksMode::default() });
    for transport in transports::ALL {
        let url = (transport.url)(&server, "127.0.0.1");
        let without = ClientConfig::default().proxy(Socks5Proxy::new(open.address()));
        reaches_the_server(transport, &url, without, "through SOCKS5");
        let with =
            ClientConfig::default().proxy(Socks5Proxy::new(guarded.address()).credentials("user", "s3cret"));
        reaches_the_server(transport, &url, with, "through SOCKS5 with credentials");
    }
    let expected = SocksSession {
        methods: vec![0],
        credentials: None,
        address_type: Some(1),
        destination: Some(format!("127.0.0.1:{}", server.port())),
    };
    // At least one session per client (a transport may open more than one connection).
    let sessions = open.sessions();
    assert!(sessions.len() >= transports::clients_per_round(), "{sessions:?}");
    assert!(sessions.iter().all(|session| *session == expected), "{sessions:?}");
    let expected =
        SocksSession { methods: vec![0, 2], credentials: Some(("user".into(), "s3cret".into())), ..expected };
    let sessions = guarded.sessions();
    assert!(sessions.len() >= transports::clients_per_round(), "{sessions:?}");
    assert!(sessions.iter().all(|session| *session == expected), "{sessions:?}");
}

#[test]
fn the_socks5_reply_is_read_to_its_end_whatever_its_bound_address() {
    let server = Centrifugo::shared();
    for bound_address_type in [1, 3, 4] {
        let proxy = SocksProxy::start(SocksMode { bound_address_type, ..SocksMode::default() });
        for transport in transports::ALL {
            let config = ClientConfig::default().proxy(Socks5Proxy::new(proxy.address()));
            let what = format!("with a bound address of type {bound_address_type}");
            reaches_the_server(transport, &(transport.url)(&server, "127.0.0.1"), config, &what);
        }
    }
}

#[test]
fn wrong_or_missing_socks5_credentials_are_a_transport_error_without_the_password() {
    let server = Centrifugo::shared();
    let proxy =
        SocksProxy::start(SocksMode { credentials: Some(("user", "s3cret")), ..SocksMode::default() });
    for transport in transports::ALL {
        let url = (transport.url)(&server, "127.0.0.1");
        let wrong = Socks5Proxy::new(proxy.address()).credentials("user", "hunter2");
        let text = first_error(transport, &url, retrying().proxy(wrong));
        assert_eq!(
            text,
            format!("the SOCKS5 proxy {} refused the user name and password (status 1)", proxy.address())
        );
        let text = first_error(transport, &url, retrying().proxy(Socks5Proxy::new(proxy.address())));
        assert_eq!(
            text,
            format!(
                "the SOCKS5 proxy {} wants authentication; set a user name and password for it",
                proxy.address()
            )
        );
    }
    let sent: Vec<_> = proxy.sessions().into_iter().filter_map(|session| session.credentials).collect();
    assert!(sent.contains(&("user".to_string(), "hunter2".to_string())), "{sent:?}");
}

#[test]
fn a_socks5_proxy_that_refuses_the_target_is_reported_with_its_reason() {
    let server = Centrifugo::shared();
    for (code, reason) in [(2, "connection not allowed by the proxy's rules"), (5, "connection refused")] {
        let proxy = SocksProxy::start(SocksMode { refuse: Some(code), ..SocksMode::default() });
        for transport in transports::ALL {
            let url = (transport.url)(&server, "127.0.0.1");
            let text = first_error(transport, &url, retrying().proxy(Socks5Proxy::new(proxy.address())));
            assert_eq!(
                text,
                format!(
                    "the SOCKS5 proxy {} could not connect to 127.0.0.1:{}: {reason} (SOCKS5 reply {code})",
                    proxy.address(),
                    server.port()
                )
            );
        }
    }
}

#[test]
fn socks5h_lets_the_proxy_resolve_the_host_name_and_socks5_resolves_it_locally() {
    let server = Centrifugo::shared();
    let names_only = SocksProxy::start(SocksMode { names_only: true, ..SocksMode::default() });
    let any = SocksProxy::start(SocksMode::default());
    let destination = format!("localhost:{}", server.port());
    for transport in transports::ALL {
        // The proxy gets the name, and resolves it itself.
        let url = (transport.url)(&server, "localhost");
        let at_proxy = Socks5Proxy::new(names_only.address()).resolve_at_proxy(true);
        reaches_the_server(transport, &url, ClientConfig::default().proxy(at_proxy), "through socks5h");
        // Resolved by the client: the proxy gets addresses, which a names-only proxy refuses…
        let text = first_error(transport, &url, retrying().proxy(Socks5Proxy::new(names_only.address())));
        assert!(text.contains("address type not supported (SOCKS5 reply 8)"), "{text}");
        // …and which an ordinary proxy connects, the server's listening address among them
        // (`localhost` may resolve to ::1 first, where nothing listens: the next one is tried).
        let locally = Socks5Proxy::new(any.address());
        reaches_the_server(transport, &url, ClientConfig::default().proxy(locally), "through socks5");
    }
    let by_name: Vec<_> = names_only.sessions().into_iter().filter(|s| s.address_type == Some(3)).collect();
    assert!(by_name.len() >= transports::clients_per_round(), "{by_name:?}");
    assert!(by_name.iter().all(|session| session.destination.as_deref() == Some(destination.as_str())));
    let sessions = any.sessions();
    assert!(sessions.iter().all(|session| matches!(session.address_type, Some(1 | 4))), "{sessions:?}");
    let reached = format!("127.0.0.1:{}", server.port());
    assert!(
        sessions.iter().any(|session| session.destination.as_deref() == Some(reached.as_str())),
        "{sessions:?}"
    );
}
