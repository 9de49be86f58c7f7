//! The codec against a real Centrifugo, in both wire formats, over a raw tungstenite socket.
//!
//! There is no client logic here: each test builds commands, sends them with the codec and
//! checks what the server answers.

#[macro_use]
mod support;

use std::time::Duration;

use centrifuge_blocking::unversioned::{
    Command, ConnectRequest, HistoryRequest, PresenceRequest, PresenceStatsRequest, Protocol, RpcRequest,
    SubscribeRequest, SubscribeResult,
};
use centrifuge_test_harness::{
    Centrifugo, Claims, HMAC_SECRET, RPC_FAIL_CODE, RPC_FAIL_MESSAGE, RPC_FAIL_METHOD, config,
};
use support::raw::RawConnection;

/// Non-ASCII text, odd spacing and number spellings: any re-encoding on the way would show.
const PAYLOAD: &str = r#"{"text": "héllo ✓ \u00e9",  "n":[1, 2.50, -0, 1e3], "nested": {"deep":[{}]}}"#;

/// The same payload without insignificant whitespace: Centrifugo compacts JSON it forwards to a
/// proxy (Go's encoder), so only compact text can come back from the RPC backend unchanged.
const COMPACT_PAYLOAD: &str = r#"{"text":"héllo ✓ \u00e9","n":[1,2.50,-0,1e3],"nested":{"deep":[{}]}}"#;

in_both_protocols!(
    anonymous_connect,
    jwt_connect_brings_the_personal_server_side_subscription,
    published_data_arrives_byte_exact,
    history_returns_publications_byte_exact,
    presence_and_presence_stats,
    rpc_ping,
    rpc_through_the_proxy_backend,
    error_replies_carry_their_codes,
    subscription_token_opens_a_token_only_channel,
    server_api_subscribe_and_unsubscribe_arrive_as_pushes,
    broadcast_reaches_every_channel,
    server_api_disconnect_closes_with_its_code_and_reason,
    expired_and_forged_tokens_are_refused,
    the_delta_namespace_sends_fossil_deltas,
);

fn channel(format: Protocol, namespace: &str, name: &str) -> String {
    format!("{namespace}:{name}-{format:?}").to_lowercase()
}

fn subscribe(connection: &mut RawConnection, channel: &str) -> Box<SubscribeResult> {
    let reply = connection.request(Command {
        subscribe: Some(Box::new(SubscribeRequest { channel: channel.into(), ..Default::default() })),
        ..Default::default()
    });
    reply.subscribe.unwrap_or_else(|| panic!("subscribe to {channel} failed: {:?}", reply.error))
}

fn anonymous_connect(format: Protocol) {
    let server = Centrifugo::shared();
    let (_connection, result) = RawConnection::connect(&server.ws_url(), format, "");
    assert!(!result.client.is_empty(), "a client id");
    assert!(result.version.starts_with("6."), "server version {}", result.version);
    assert_eq!(result.ping, 25, "the configured ping interval in seconds");
    assert!(result.pong, "the server wants pongs");
    assert!(!result.expires);
}

fn jwt_connect_brings_the_personal_server_side_subscription(format: Protocol) {
    let server = Centrifugo::shared();
    let token = Claims::connection("42").info(serde_json::json!({"name": "Ann"})).sign(HMAC_SECRET);
    let (_connection, result) = RawConnection::connect(&server.ws_url(), format, &token);
    let personal = result.subs.get("personal:#42").expect("the personal channel is subscribed server-side");
    assert!(personal.recoverable, "the personal namespace forces recovery");
    assert!(!personal.epoch.is_empty());
}

fn published_data_arrives_byte_exact(format: Protocol) {
    let server = Centrifugo::shared();
    let channel = channel(format, config::HISTORY, "push");
    let (mut connection, _) = RawConnection::connect(&server.ws_url(), format, "");
    let subscribed = subscribe(&mut connection, &channel);
    assert!(subscribed.recoverable && subscribed.positioned);

    let published = server.api().publish(&channel, PAYLOAD).expect("API publish");
    let push = connection.next_push();
    assert_eq!(push.channel, channel);
    let publication = push.r#pub.expect("a publication push");
    assert_eq!(std::str::from_utf8(&publication.data).unwrap(), PAYLOAD, "payload bytes changed on the way");
    assert_eq!(publication.offset, published["offset"].as_u64().unwrap());
    assert_eq!(publication.offset, subscribed.offset + 1);
}

fn history_returns_publications_byte_exact(format: Protocol) {
    let server = Centrifugo::shared();
    let channel = channel(format, config::HISTORY, "history");
    for n in 0..3 {
        server.api().publish(&channel, &format!(r#"{{"n": {n}}}"#)).expect("API publish");
    }
    let (mut connection, _) = RawConnection::connect(&server.ws_url(), format, "");
    subscribe(&mut connection, &channel);
    let reply = connection.request(Command {
        history: Some(Box::new(HistoryRequest { channel: channel.clone(), limit: -1, ..Default::default() })),
        ..Default::default()
    });
    let history = reply.history.unwrap_or_else(|| panic!("history failed: {:?}", reply.error));
    let data: Vec<&[u8]> = history.publications.iter().map(|publication| publication.data.as_ref()).collect();
    assert_eq!(data, vec![&br#"{"n": 0}"#[..], br#"{"n": 1}"#, br#"{"n": 2}"#]);
    assert_eq!(history.offset, 3);
    assert_eq!(history.publications.iter().map(|p| p.offset).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(!history.epoch.is_empty());

    let reply = connection.request(Command {
        history: Some(Box::new(HistoryRequest { channel, limit: 1, reverse: true, ..Default::default() })),
        ..Default::default()
    });
    let newest = reply.history.expect("reverse history");
    assert_eq!(newest.publications.len(), 1);
    assert_eq!(newest.publications[0].data.as_ref(), br#"{"n": 2}"#);
}

fn presence_and_presence_stats(format: Protocol) {
    let server = Centrifugo::shared();
    let channel = channel(format, config::PRESENCE, "room");
    let token = Claims::connection("7").sign(HMAC_SECRET);
    let (mut connection, connected) = RawConnection::connect(&server.ws_url(), format, &token);
    subscribe(&mut connection, &channel);

    let reply = connection.request(Command {
        presence: Some(PresenceRequest { channel: channel.clone() }),
        ..Default::default()
    });
    let presence = reply.presence.unwrap_or_else(|| panic!("presence failed: {:?}", reply.error)).presence;
    let me = presence.get(&connected.client).expect("our client is present");
    assert_eq!((me.user.as_str(), me.client.as_str()), ("7", connected.client.as_str()));

    let reply = connection
        .request(Command { presence_stats: Some(PresenceStatsRequest { channel }), ..Default::default() });
    let stats = reply.presence_stats.unwrap_or_else(|| panic!("presence stats failed: {:?}", reply.error));
    assert_eq!((stats.num_clients, stats.num_users), (1, 1));
}

fn rpc_ping(format: Protocol) {
    let server = Centrifugo::shared();
    let (mut connection, _) = RawConnection::connect(&server.ws_url(), format, "");
    let reply = connection.request(Command {
        rpc: Some(RpcRequest { method: "ping".into(), ..Default::default() }),
        ..Default::default()
    });
    assert!(reply.error.is_none(), "{:?}", reply.error);
    assert!(reply.rpc.is_some(), "an RPC result");
}

fn rpc_through_the_proxy_backend(format: Protocol) {
    let server = Centrifugo::shared();
    let token = Claims::connection("9").sign(HMAC_SECRET);
    let (mut connection, _) = RawConnection::connect(&server.ws_url(), format, &token);
    let reply = connection.request(Command {
        rpc: Some(RpcRequest { method: "echo".into(), data: COMPACT_PAYLOAD.as_bytes().to_vec().into() }),
        ..Default::default()
    });
    let result = reply.rpc.unwrap_or_else(|| panic!("RPC failed: {:?}", reply.error));
    assert_eq!(std::str::from_utf8(&result.data).unwrap(), COMPACT_PAYLOAD);

    let reply = connection.request(Command {
        rpc: Some(RpcRequest { method: RPC_FAIL_METHOD.into(), data: b"{}".to_vec().into() }),
        ..Default::default()
    });
    let error = reply.error.expect("the backend's error");
    assert_eq!((error.code, error.message.as_str()), (RPC_FAIL_CODE, RPC_FAIL_MESSAGE));
    assert!(reply.rpc.is_none());
}

fn error_replies_carry_their_codes(format: Protocol) {
    let server = Centrifugo::shared();
    let token = Claims::connection("5").sign(HMAC_SECRET);
    let (mut connection, _) = RawConnection::connect(&server.ws_url(), format, &token);
    for (channel, code, message) in [
        ("nosuchns:x", 102, "unknown channel"),
        (&format!("{}:x", config::TOKEN_ONLY), 103, "permission denied"),
    ] {
        let reply = connection.request(Command {
            subscribe: Some(Box::new(SubscribeRequest { channel: channel.into(), ..Default::default() })),
            ..Default::default()
        });
        let error = reply.error.unwrap_or_else(|| panic!("subscribing to {channel} should fail"));
        assert_eq!(
            (error.code, error.message.as_str(), error.temporary),
            (code, message, false),
            "{channel}"
        );
        assert!(reply.subscribe.is_none());
    }
}

fn subscription_token_opens_a_token_only_channel(format: Protocol) {
    let server = Centrifugo::shared();
    let channel = channel(format, config::TOKEN_ONLY, "secret");
    let (mut connection, _) =
        RawConnection::connect(&server.ws_url(), format, &Claims::connection("11").sign(HMAC_SECRET));
    let token = Claims::subscription("11", &channel).sign(HMAC_SECRET);
    let reply = connection.request(Command {
        subscribe: Some(Box::new(SubscribeRequest { channel: channel.clone(), token, ..Default::default() })),
        ..Default::default()
    });
    assert!(reply.subscribe.is_some(), "subscribe with a token failed: {:?}", reply.error);
}

fn server_api_subscribe_and_unsubscribe_arrive_as_pushes(format: Protocol) {
    let server = Centrifugo::shared();
    let user = format!("srv-{format:?}");
    let channel = channel(format, config::HISTORY, "server-side");
    let (mut connection, _) =
        RawConnection::connect(&server.ws_url(), format, &Claims::connection(&user).sign(HMAC_SECRET));

    server.api().subscribe(&user, &channel).expect("API subscribe");
    let push = connection.next_push();
    assert_eq!(push.channel, channel);
    let subscribed = push.subscribe.expect("a subscribe push");
    assert!(subscribed.recoverable && subscribed.positioned, "{subscribed:?}");

    server.api().publish(&channel, r#"{"to":"server-side"}"#).expect("API publish");
    let publication = connection.next_push().r#pub.expect("a publication on the server-side channel");
    assert_eq!(publication.data.as_ref(), br#"{"to":"server-side"}"#);

    server.api().unsubscribe(&user, &channel).expect("API unsubscribe");
    let push = connection.next_push();
    assert_eq!(push.channel, channel);
    let unsubscribed = push.unsubscribe.expect("an unsubscribe push");
    assert_eq!((unsubscribed.code, unsubscribed.reason.as_str()), (2000, "server unsubscribe"));
}

fn broadcast_reaches_every_channel(format: Protocol) {
    let server = Centrifugo::shared();
    let channels =
        [channel(format, config::HISTORY, "broadcast-a"), channel(format, config::HISTORY, "broadcast-b")];
    let (mut connection, _) = RawConnection::connect(&server.ws_url(), format, "");
    for channel in &channels {
        subscribe(&mut connection, channel);
    }
    let targets: Vec<&str> = channels.iter().map(String::as_str).collect();
    let result = server.api().broadcast(&targets, r#"{"all":true}"#).expect("API broadcast");
    assert_eq!(result["responses"].as_array().map(Vec::len), Some(2));
    let mut received: Vec<String> = (0..2)
        .map(|_| {
            let push = connection.next_push();
            assert_eq!(push.r#pub.expect("a publication").data.as_ref(), br#"{"all":true}"#);
            push.channel
        })
        .collect();
    received.sort();
    assert_eq!(received, channels);
}

fn server_api_disconnect_closes_with_its_code_and_reason(format: Protocol) {
    let server = Centrifugo::shared();
    let user = format!("bye-{format:?}");
    let (mut connection, _) =
        RawConnection::connect(&server.ws_url(), format, &Claims::connection(&user).sign(HMAC_SECRET));
    server.api().disconnect(&user, 4001, "go away").expect("API disconnect");
    assert_eq!(connection.expect_close(), (4001, "go away".to_string()));
}

fn expired_and_forged_tokens_are_refused(format: Protocol) {
    let server = Centrifugo::shared();
    let mut connection = RawConnection::open(&server.ws_url(), format);
    let expired = Claims::connection("late").expired().sign(HMAC_SECRET);
    let reply = connection.request(Command {
        connect: Some(Box::new(ConnectRequest { token: expired, ..Default::default() })),
        ..Default::default()
    });
    let error = reply.error.expect("an expired token is refused");
    assert_eq!((error.code, error.message.as_str()), (109, "token expired"));

    let mut connection = RawConnection::open(&server.ws_url(), format);
    let forged = Claims::connection("mallory").expires_in(Duration::from_secs(60)).sign("not-the-secret");
    connection.send(&[Command {
        id: 1,
        connect: Some(Box::new(ConnectRequest { token: forged, ..Default::default() })),
        ..Default::default()
    }]);
    assert_eq!(connection.expect_close(), (3500, "invalid token".to_string()));
}

fn the_delta_namespace_sends_fossil_deltas(format: Protocol) {
    let server = Centrifugo::shared();
    let channel = channel(format, config::DELTA, "raw-delta");
    let (mut connection, _) = RawConnection::connect(&server.ws_url(), format, "");
    let reply = connection.request(Command {
        subscribe: Some(Box::new(SubscribeRequest {
            channel: channel.clone(),
            delta: "fossil".into(),
            ..Default::default()
        })),
        ..Default::default()
    });
    assert!(reply.subscribe.expect("subscribed").delta, "the server negotiates fossil deltas");
    let text = "a long enough document for a delta to pay off ".repeat(4);
    for n in 0..2 {
        server.api().publish(&channel, &format!(r#"{{"n":{n},"text":"{text}"}}"#)).unwrap();
    }
    let first = connection.next_push().r#pub.expect("a publication");
    let second = connection.next_push().r#pub.expect("a publication");
    assert!(!first.delta, "the first payload is sent in full");
    assert!(second.delta, "the second one as a delta against the first");
    assert!(second.data.len() < first.data.len());
}
