//! Outages under a connected client with subscriptions, against a real Centrifugo:
//!
//! - the server killed (SIGKILL) and started again on the same port: the client reconnects by
//!   itself, resubscribes everything, and reports `recovered: false` for the recoverable channel
//!   whose history the memory engine lost;
//! - the network going silent (a fault proxy that swallows every byte, as after a laptop's
//!   sleep or a switch of networks): the ping watchdog leaves the dead connection, the redial
//!   into the silence times out in its handshake instead of hanging, and once the network is
//!   back the client reconnects and recovers what was published meanwhile.

#[macro_use]
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use centrifuge_blocking::{
    ClientConfig, ClientEvent, ClientState, Error, Protocol, SubscriptionConfig, codes,
};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET, config, unused_port};
use serde_json::json;
use support::events::{client, subscription};
use support::fault_proxy::{FaultProxy, Faults};

in_both_protocols!(
    a_killed_and_restarted_server_is_reconnected_and_resubscribed,
    a_silent_network_is_left_retried_with_timeouts_and_rejoined,
);

fn a_killed_and_restarted_server_is_reconnected_and_resubscribed(protocol: Protocol) {
    let port = unused_port();
    let server = Centrifugo::start_on_port(port);
    let user = format!("restart-{protocol:?}");
    let token = Claims::connection(&user).sign(HMAC_SECRET);
    let config = ClientConfig::default()
        .protocol(protocol)
        .token(token)
        .min_reconnect_delay(Duration::from_millis(50))
        .max_reconnect_delay(Duration::from_millis(300));
    let (client, events) = client(&server.ws_url(), config);
    let recoverable = format!("{}:restart-{protocol:?}", config::HISTORY).to_lowercase();
    let plain = format!("restart-plain-{protocol:?}").to_lowercase();
    let (history_sub, history_events) =
        subscription(&client, &recoverable, SubscriptionConfig::default().recoverable(true));
    let (plain_sub, plain_events) = subscription(&client, &plain, SubscriptionConfig::default());
    history_sub.subscribe().unwrap();
    plain_sub.subscribe().unwrap();
    client.connect().unwrap();
    let first_client_id = events.connected();
    let before = history_events.subscribed();
    plain_events.subscribed();
    for n in 1..=3 {
        server.api().publish(&recoverable, &format!(r#"{{"before":{n}}}"#)).unwrap();
        assert_eq!(history_events.publication().publication().offset(), n);
    }
    let old_epoch = before.position().expect("a recoverable channel has a position").epoch.clone();

    drop(server); // SIGKILL: no disconnect frame, the socket just dies.
    assert_eq!(events.connecting().0, codes::ConnectingCode::TransportClosed.code());
    assert_eq!(history_events.subscribing().0, codes::SubscribingCode::TransportClosed.code());
    assert_eq!(plain_events.subscribing().0, codes::SubscribingCode::TransportClosed.code());

    let server = Centrifugo::start_on_port(port);
    let second_client_id = events.connected();
    assert_ne!(first_client_id, second_client_id, "a new session on the new server");
    let after = history_events.subscribed();
    assert!(after.was_recovering(), "the client asked to recover from offset 3: {after:?}");
    assert!(!after.recovered(), "the restarted memory engine has a new epoch and no history: {after:?}");
    let new_epoch = after.position().expect("position after resubscribe").epoch.clone();
    assert_ne!(old_epoch, new_epoch, "the stream is a new one");
    plain_events.subscribed();

    // Both subscriptions deliver again, from the new stream's start.
    server.api().publish(&recoverable, r#"{"after":1}"#).unwrap();
    let publication = history_events.publication();
    assert_eq!((publication.data(), publication.publication().offset()), (&br#"{"after":1}"#[..], 1));
    server.api().publish(&plain, r#"{"plain":1}"#).unwrap();
    assert_eq!(plain_events.publication().data(), br#"{"plain":1}"#);
    assert_eq!(client.rpc("ping", Vec::new()).unwrap(), Vec::<u8>::new(), "calls work again");
    let stray = events.within(Duration::from_millis(200));
    assert!(
        !stray.iter().any(|event| matches!(event, ClientEvent::Disconnected(_))),
        "never disconnected: {stray:?}"
    );
    client.close();
}

fn a_silent_network_is_left_retried_with_timeouts_and_rejoined(protocol: Protocol) {
    // Pings every second, so that silence is noticed quickly.
    let server = Centrifugo::start_with(|config| {
        config["client"]["ping_interval"] = json!("1s");
        config["client"]["pong_timeout"] = json!("500ms");
    });
    let proxy = FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], server.port())));
    let url = format!("ws://127.0.0.1:{}/connection/websocket", proxy.port());
    let connect_timeout = Duration::from_millis(800);
    let config = ClientConfig::default()
        .protocol(protocol)
        .max_server_ping_delay(Duration::from_millis(500))
        .connect_timeout(connect_timeout)
        .min_reconnect_delay(Duration::from_millis(50))
        .max_reconnect_delay(Duration::from_millis(300));
    let (client, events) = client(&url, config);
    let channel = format!("{}:silence-{protocol:?}", config::HISTORY).to_lowercase();
    let (sub, sub_events) = subscription(&client, &channel, SubscriptionConfig::default());
    sub.subscribe().unwrap();
    client.connect().unwrap();
    events.connected();
    sub_events.subscribed();

    proxy.set(Faults { blackhole: true, ..Faults::default() });
    let silent_since = Instant::now();
    for n in 1..=5 {
        server.api().publish(&channel, &format!(r#"{{"during":{n}}}"#)).unwrap();
    }
    assert_eq!(events.connecting(), (codes::ConnectingCode::NoPing.code(), "no ping".into()));
    // Ping interval + max_server_ping_delay, plus scheduling slack.
    assert!(silent_since.elapsed() < Duration::from_secs(4), "noticed after {:?}", silent_since.elapsed());

    // The redial reaches the proxy, whose silence must not hold the client forever.
    match events.error() {
        Error::Transport(error) => assert!(error.to_string().contains("handshake"), "{error}"),
        other => panic!("expected a handshake timeout, got {other:?}"),
    }
    assert_eq!(client.state(), ClientState::Connecting);

    proxy.set(Faults::default());
    events.connected();
    let resubscribed = sub_events.subscribed();
    assert!(resubscribed.was_recovering() && resubscribed.recovered(), "{resubscribed:?}");
    for n in 1..=5 {
        assert_eq!(sub_events.publication().data(), format!(r#"{{"during":{n}}}"#).as_bytes());
    }
    client.close();
}
