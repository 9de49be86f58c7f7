//! HTTP-streaming (JSON and Protobuf) and SSE (JSON) against a real Centrifugo: connect,
//! subscriptions with recovery across a server-side disconnect, join/leave, fossil delta,
//! publish, RPC, history, presence, token refresh, server-side subscriptions, ping/pong through
//! the emulation endpoint, and a terminal server disconnect delivered as a push.

#[macro_use]
mod support;

use std::time::Duration;

use centrifuge_blocking::{
    ClientConfig, ClientEvent, HistoryOptions, Protocol, SubscriptionConfig, SubscriptionEvent, TokenError,
    TransportEndpoint, TransportKind,
};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET, config};
use serde_json::json;
use support::events::{Events, client_on, subscription};

/// One way to run a scenario: a transport and a wire format.
#[derive(Clone, Copy, Debug)]
struct Setup {
    kind: TransportKind,
    protocol: Protocol,
}

impl Setup {
    fn endpoint(self, server: &Centrifugo) -> TransportEndpoint {
        match self.kind {
            TransportKind::Sse => TransportEndpoint::sse(server.sse_url()),
            _ => TransportEndpoint::http_stream(server.http_stream_url()),
        }
    }

    fn config(self) -> ClientConfig {
        ClientConfig::default().protocol(self.protocol).min_reconnect_delay(Duration::from_millis(50))
    }

    /// A channel name unique to this setup.
    fn channel(self, namespace: &str, name: &str) -> String {
        format!("{namespace}:{name}-{:?}-{:?}", self.kind, self.protocol).to_lowercase()
    }

    fn user(self, name: &str) -> String {
        format!("{name}-{:?}-{:?}", self.kind, self.protocol).to_lowercase()
    }
}

/// Turns each scenario `fn name(setup: Setup)` into a test per transport and format.
macro_rules! on_every_http_transport {
    ($($name:ident),* $(,)?) => {
        mod http_stream_json {
            $( #[test] fn $name() { super::$name(super::Setup { kind: super::TransportKind::HttpStream, protocol: super::Protocol::Json }) } )*
        }
        mod http_stream_protobuf {
            $( #[test] fn $name() { super::$name(super::Setup { kind: super::TransportKind::HttpStream, protocol: super::Protocol::Protobuf }) } )*
        }
        mod sse_json {
            $( #[test] fn $name() { super::$name(super::Setup { kind: super::TransportKind::Sse, protocol: super::Protocol::Json }) } )*
        }
    };
}

on_every_http_transport!(
    calls_work_over_the_emulation_endpoint,
    subscriptions_deliver_join_leave_and_recover_after_a_server_disconnect,
    fossil_delta_delivers_exactly_what_was_published,
    a_short_lived_token_is_refreshed_without_reconnecting,
    server_side_subscriptions_deliver_their_publications,
    a_terminal_server_disconnect_arrives_as_a_push,
);

fn connected(
    setup: Setup,
    server: &Centrifugo,
    config: ClientConfig,
) -> (centrifuge_blocking::Client, Events) {
    let (client, events) = client_on(setup.endpoint(server), config);
    client.connect().unwrap();
    events.connected();
    (client, events)
}

fn calls_work_over_the_emulation_endpoint(setup: Setup) {
    let server = Centrifugo::shared();
    let user = setup.user("calls");
    let config = setup.config().token(Claims::connection(&user).sign(HMAC_SECRET));
    let (client, _events) = connected(setup, &server, config);
    assert_eq!(client.rpc("echo", r#"{"over":"http"}"#).unwrap(), br#"{"over":"http"}"#);
    let name = setup.channel(config::HISTORY, "calls");
    for n in 1..=3 {
        client.publish(&name, format!(r#"{{"n":{n}}}"#)).unwrap();
    }
    let history = client.history(&name, HistoryOptions::latest(2)).unwrap();
    let data: Vec<&[u8]> = history.publications().iter().map(|p| p.data()).collect();
    assert_eq!(data, vec![&br#"{"n":3}"#[..], br#"{"n":2}"#]);
    let personal = format!("{}:#{user}", config::PERSONAL);
    assert_eq!(client.presence(&personal).unwrap().clients().len(), 1);
    assert_eq!(client.presence_stats(&personal).unwrap().num_users, 1);
    // Many calls at once: the emulation requests go one at a time, in order; all are answered.
    let callers: Vec<_> = (0..8)
        .map(|n| {
            let client = client.clone();
            std::thread::spawn(move || client.rpc("echo", format!(r#"{{"caller":{n}}}"#)))
        })
        .collect();
    for (n, caller) in callers.into_iter().enumerate() {
        assert_eq!(caller.join().unwrap().unwrap(), format!(r#"{{"caller":{n}}}"#).into_bytes());
    }
    client.close();
}

fn subscriptions_deliver_join_leave_and_recover_after_a_server_disconnect(setup: Setup) {
    let server = Centrifugo::shared();
    let user = setup.user("recovering");
    let config = setup.config().token(Claims::connection(&user).sign(HMAC_SECRET));
    let (client, events) = connected(setup, &server, config.min_reconnect_delay(Duration::from_millis(800)));
    let name = setup.channel(config::CHAT, "room");
    let (sub, sub_events) = subscription(&client, &name, SubscriptionConfig::default());
    sub.subscribe().unwrap();
    let subscribed = sub_events.subscribed();
    assert!(subscribed.recoverable(), "{subscribed:?}");
    assert_eq!(
        sub_events.until("own join", |event| matches!(event, SubscriptionEvent::Join(_)).then_some(())),
        ()
    );

    // A second client (over WebSocket) joins, publishes, leaves.
    let (other, other_events) = support::events::client(
        &server.ws_url(),
        ClientConfig::default().token(Claims::connection("other").sign(HMAC_SECRET)),
    );
    other.connect().unwrap();
    other_events.connected();
    let (other_sub, other_sub_events) = subscription(&other, &name, SubscriptionConfig::default());
    other_sub.subscribe().unwrap();
    other_sub_events.subscribed();
    sub_events.until("join", |event| match event {
        SubscriptionEvent::Join(join) if join.info().user() == "other" => Some(()),
        _ => None,
    });
    other_sub.publish(r#"{"from":"other"}"#).unwrap();
    assert_eq!(sub_events.publication().data(), br#"{"from":"other"}"#);
    other.close();
    sub_events.until("leave", |event| match event {
        SubscriptionEvent::Leave(leave) if leave.info().user() == "other" => Some(()),
        _ => None,
    });

    // The server cuts the connection; what is published meanwhile is recovered.
    server.api().disconnect(&user, 4000, "come back").unwrap();
    assert_eq!(events.connecting(), (4000, "come back".to_string()));
    for n in 0..5 {
        server.api().publish(&name, &format!(r#"{{"missed":{n}}}"#)).unwrap();
    }
    let resubscribed = sub_events.subscribed();
    assert!(resubscribed.was_recovering() && resubscribed.recovered(), "{resubscribed:?}");
    for n in 0..5 {
        assert_eq!(sub_events.publication().data(), format!(r#"{{"missed":{n}}}"#).as_bytes());
    }
    client.close();
}

fn fossil_delta_delivers_exactly_what_was_published(setup: Setup) {
    let server = Centrifugo::shared();
    let (client, _events) = connected(setup, &server, setup.config());
    let name = setup.channel(config::DELTA, "doc");
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default().delta(true));
    sub.subscribe().unwrap();
    events.subscribed();
    let base = "The quick brown fox jumps over the lazy dog. ".repeat(8);
    let payloads: Vec<String> = (0..5).map(|n| format!(r#"{{"version":{n},"text":"{base}{n}"}}"#)).collect();
    for payload in &payloads {
        server.api().publish(&name, payload).unwrap();
    }
    for payload in &payloads {
        assert_eq!(std::str::from_utf8(events.publication().data()).unwrap(), payload);
    }
    client.close();
}

fn a_short_lived_token_is_refreshed_without_reconnecting(setup: Setup) {
    let server = Centrifugo::shared();
    let user = setup.user("refreshing");
    let getter = {
        let user = user.clone();
        move || -> Result<String, TokenError> {
            Ok(Claims::connection(&user).expires_in(Duration::from_secs(2)).sign(HMAC_SECRET))
        }
    };
    let (client, events) = connected(setup, &server, setup.config().token_getter(getter));
    // Past two expiries: refreshed through the emulation endpoint, never reconnected.
    // The first ping comes within 2 s, its pong is due 1 s later: 3.5 s see it answered.
    let seen = events.within(Duration::from_millis(3500));
    assert!(
        !seen.iter().any(|event| matches!(event, ClientEvent::Connecting(_) | ClientEvent::Error(_))),
        "{seen:?}"
    );
    assert!(client.rpc("ping", Vec::new()).is_ok());
    client.close();
}

fn server_side_subscriptions_deliver_their_publications(setup: Setup) {
    let server = Centrifugo::shared();
    let user = setup.user("server-side");
    let claimed = setup.channel(config::HISTORY, "claimed");
    let token = Claims::connection(&user).channels(&[&claimed]).sign(HMAC_SECRET);
    let (client, events) = client_on(setup.endpoint(&server), setup.config().token(token));
    client.connect().unwrap();
    events.until("server-side subscribed", |event| match event {
        ClientEvent::Subscribed(event) if event.channel() == claimed => Some(()),
        _ => None,
    });
    server.api().publish(&claimed, r#"{"to":"all"}"#).unwrap();
    let data = events.until("server-side publication", |event| match event {
        ClientEvent::Publication(event) if event.channel() == claimed => Some(event.data().to_vec()),
        _ => None,
    });
    assert_eq!(data, br#"{"to":"all"}"#);
    client.close();
}

fn a_terminal_server_disconnect_arrives_as_a_push(setup: Setup) {
    let server = Centrifugo::shared();
    let user = setup.user("terminal");
    let (client, events) =
        connected(setup, &server, setup.config().token(Claims::connection(&user).sign(HMAC_SECRET)));
    server.api().disconnect(&user, 4500, "go away").unwrap();
    assert_eq!(events.disconnected(), (4500, "go away".to_string()));
    let later = events.within(Duration::from_millis(300));
    assert!(
        !later.iter().any(|event| matches!(event, ClientEvent::Connecting(_))),
        "no reconnect: {later:?}"
    );
    client.close();
}

/// Pongs go through the emulation endpoint: with pings every 2 s and one second to answer,
/// the connection outlives several pings.
#[test]
fn pongs_through_the_emulation_endpoint_keep_the_connection() {
    let server = Centrifugo::start_with(|config| {
        config["client"]["ping_interval"] = json!("2s");
        config["client"]["pong_timeout"] = json!("1s");
    });
    for setup in [
        Setup { kind: TransportKind::HttpStream, protocol: Protocol::Json },
        Setup { kind: TransportKind::HttpStream, protocol: Protocol::Protobuf },
        Setup { kind: TransportKind::Sse, protocol: Protocol::Json },
    ] {
        let (client, events) = connected(setup, &server, setup.config());
        // The first ping comes within 2 s, its pong is due 1 s later: 3.5 s see it answered.
        let seen = events.within(Duration::from_millis(3500));
        assert!(
            !seen.iter().any(|event| matches!(event, ClientEvent::Connecting(_) | ClientEvent::Error(_))),
            "{setup:?}: {seen:?}"
        );
        assert!(client.rpc("ping", Vec::new()).is_ok(), "{setup:?}");
        client.close();
    }
}
