//! Subscriptions against a real Centrifugo, in JSON and in Protobuf.

#[macro_use]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, Error, HistoryOptions, Protocol, StateError, StreamPosition,
    Subscription, SubscriptionConfig, SubscriptionEvent, SubscriptionState, TokenError, codes,
};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET, config};
use serde_json::json;
use support::events::{EVENT_TIMEOUT, Events, SubEvents, client, subscription};

in_both_protocols!(
    subscribe_and_unsubscribe_report_their_codes,
    subscribe_before_connect_works,
    a_second_subscription_to_a_channel_is_refused_and_removal_allows_a_new_one,
    a_publication_from_one_client_reaches_another_byte_exact_with_publisher_info,
    two_hundred_server_publications_arrive_in_order,
    subscription_history_with_limit_since_and_reverse,
    presence_and_join_leave_with_two_clients,
    a_subscription_token_opens_a_token_only_channel,
    a_short_lived_subscription_token_is_refreshed_without_resubscribing,
    an_unauthorized_subscription_getter_unsubscribes_with_code_1,
    a_channel_without_permission_unsubscribes_with_the_servers_code,
    missed_publications_are_recovered_after_a_reconnect,
    a_gap_larger_than_the_history_is_reported_as_not_recovered,
    since_resumes_from_a_position_saved_by_another_client,
    the_state_getter_is_asked_first_and_again_after_112,
    fossil_delta_delivers_exactly_what_was_published,
    server_side_subscriptions_from_config_token_and_api,
    server_side_subscriptions_recover_across_a_reconnect,
    calls_on_an_unsubscribed_subscription_fail_at_once,
    close_moves_every_subscription_to_unsubscribed_with_code_2,
    a_call_made_right_after_subscribe_waits_for_the_subscription,
    a_hundred_subscriptions_are_all_resubscribed_after_a_reconnect,
    a_refreshed_subscription_token_is_reused_on_resubscribe,
    rapid_subscribe_and_unsubscribe_never_hits_already_subscribed,
);

fn config(protocol: Protocol) -> ClientConfig {
    ClientConfig::default().protocol(protocol).min_reconnect_delay(Duration::from_millis(50))
}

fn token(user: &str) -> String {
    Claims::connection(user).sign(HMAC_SECRET)
}

fn channel(protocol: Protocol, namespace: &str, name: &str) -> String {
    format!("{namespace}:{name}-{protocol:?}").to_lowercase()
}

/// A client connected as `user`, with the server it is connected to (keep it: the shared
/// server stops when its last holder lets go).
fn connected(protocol: Protocol, user: &str) -> (Arc<Centrifugo>, Client, Events) {
    let server = Centrifugo::shared();
    let (client, events) = client(&server.ws_url(), config(protocol).token(token(user)));
    client.connect().unwrap();
    events.connected();
    (server, client, events)
}

fn subscribe_and_unsubscribe_report_their_codes(protocol: Protocol) {
    let (_server, client, _events) = connected(protocol, "sub-codes");
    let (sub, events) =
        subscription(&client, &channel(protocol, config::HISTORY, "codes"), SubscriptionConfig::default());
    assert_eq!(sub.state(), SubscriptionState::Unsubscribed);
    sub.subscribe().unwrap();
    assert_eq!(
        events.subscribing(),
        (codes::SubscribingCode::SubscribeCalled.code(), "subscribe called".into())
    );
    let subscribed = events.subscribed();
    assert!(subscribed.recoverable() && subscribed.positioned(), "the hist namespace forces recovery");
    assert!(!subscribed.was_recovering());
    assert_eq!(sub.state(), SubscriptionState::Subscribed);
    sub.unsubscribe().unwrap();
    assert_eq!(
        events.unsubscribed(),
        (codes::UnsubscribedCode::UnsubscribeCalled.code(), "unsubscribe called".into())
    );
    assert_eq!(sub.state(), SubscriptionState::Unsubscribed);
    // And again: the position was kept, so this subscribe recovers.
    sub.subscribe().unwrap();
    assert!(events.subscribed().was_recovering());
    client.close();
}

fn subscribe_before_connect_works(protocol: Protocol) {
    let server = Centrifugo::shared();
    let (client, client_events) = client(&server.ws_url(), config(protocol));
    let (sub, events) =
        subscription(&client, &channel(protocol, config::HISTORY, "early"), SubscriptionConfig::default());
    sub.subscribe().unwrap();
    assert_eq!(events.subscribing().0, codes::SubscribingCode::SubscribeCalled.code());
    assert_eq!(sub.state(), SubscriptionState::Subscribing);
    client.connect().unwrap();
    client_events.connected();
    events.subscribed();
    client.close();
}

fn a_second_subscription_to_a_channel_is_refused_and_removal_allows_a_new_one(protocol: Protocol) {
    let (_server, client, _events) = connected(protocol, "dup");
    let name = channel(protocol, config::HISTORY, "dup");
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default());
    sub.subscribe().unwrap();
    events.subscribed();
    let second = client.new_subscription(
        &name,
        SubscriptionConfig::default(),
        centrifuge_blocking::listener::NoopListener,
    );
    assert!(matches!(second, Err(Error::DuplicateSubscription(channel)) if channel == name));
    assert_eq!(client.subscription(&name).map(|found| found.state()), Some(SubscriptionState::Subscribed));
    assert_eq!(client.subscriptions().len(), 1);
    client.remove_subscription(&sub).unwrap();
    assert_eq!(events.unsubscribed().0, codes::UnsubscribedCode::UnsubscribeCalled.code());
    assert!(client.subscription(&name).is_none());
    let (again, again_events) = subscription(&client, &name, SubscriptionConfig::default());
    again.subscribe().unwrap();
    again_events.subscribed();
    client.close();
}

fn a_publication_from_one_client_reaches_another_byte_exact_with_publisher_info(protocol: Protocol) {
    let (_server, alice, _) = connected(protocol, "alice");
    let (_server, bob, _) = connected(protocol, "bob");
    let name = channel(protocol, config::HISTORY, "talk");
    let (alice_sub, alice_events) = subscription(&alice, &name, SubscriptionConfig::default());
    let (bob_sub, bob_events) = subscription(&bob, &name, SubscriptionConfig::default());
    alice_sub.subscribe().unwrap();
    bob_sub.subscribe().unwrap();
    alice_events.subscribed();
    bob_events.subscribed();
    let payload = r#"{"text": "hi from alice ✓",  "n": 1.50}"#;
    alice_sub.publish(payload).unwrap();
    let received = bob_events.publication();
    assert_eq!(received.data(), payload.as_bytes());
    assert_eq!(received.channel(), name);
    let info = received.publication().info().expect("publisher info");
    assert_eq!(info.user(), "alice");
    assert!(received.publication().offset() > 0);
    alice.close();
    bob.close();
}

fn two_hundred_server_publications_arrive_in_order(protocol: Protocol) {
    let server = Centrifugo::shared();
    let (_server, client, _) = connected(protocol, "ordered");
    let name = channel(protocol, config::HISTORY, "ordered");
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default());
    sub.subscribe().unwrap();
    let start = events.subscribed().position().expect("positioned").offset;
    for n in 0..200 {
        server.api().publish(&name, &format!(r#"{{"n":{n}}}"#)).unwrap();
    }
    for n in 0..200u64 {
        let publication = events.publication();
        assert_eq!(publication.data(), format!(r#"{{"n":{n}}}"#).as_bytes());
        assert_eq!(publication.publication().offset(), start + n + 1);
    }
    client.close();
}

fn subscription_history_with_limit_since_and_reverse(protocol: Protocol) {
    let server = Centrifugo::shared();
    let (_server, client, _) = connected(protocol, "historian");
    let name = channel(protocol, config::HISTORY, "sub-history");
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default());
    sub.subscribe().unwrap();
    events.subscribed();
    for n in 1..=5 {
        server.api().publish(&name, &format!("{n}")).unwrap();
    }
    let all = sub.history(HistoryOptions::default().limit(-1)).unwrap();
    let data: Vec<&[u8]> = all.publications().iter().map(|p| p.data()).collect();
    assert_eq!(data, vec![&b"1"[..], b"2", b"3", b"4", b"5"]);
    let since = StreamPosition::new(all.publications()[2].offset(), all.position().epoch.clone());
    let after = sub.history(HistoryOptions::default().limit(10).since(since)).unwrap();
    assert_eq!(after.publications().iter().map(|p| p.data()).collect::<Vec<_>>(), vec![&b"4"[..], b"5"]);
    let newest = sub.history(HistoryOptions::default().limit(2).reverse(true)).unwrap();
    assert_eq!(newest.publications().iter().map(|p| p.data()).collect::<Vec<_>>(), vec![&b"5"[..], b"4"]);
    let top = sub.history(HistoryOptions::default()).unwrap();
    assert!(top.publications().is_empty(), "limit 0 gives the position only");
    assert_eq!(top.position(), all.position());
    client.close();
}

fn presence_and_join_leave_with_two_clients(protocol: Protocol) {
    let (_server, first, _) = connected(protocol, "first");
    let (_server, second, _) = connected(protocol, "second");
    let name = channel(protocol, config::PRESENCE, "room");
    let (first_sub, first_events) =
        subscription(&first, &name, SubscriptionConfig::default().join_leave(true));
    first_sub.subscribe().unwrap();
    first_events.subscribed();
    let (second_sub, second_events) = subscription(&second, &name, SubscriptionConfig::default());
    second_sub.subscribe().unwrap();
    second_events.subscribed();
    let joined = first_events.until("join", |event| match event {
        SubscriptionEvent::Join(join) if join.info().user() == "second" => Some(join.clone()),
        _ => None,
    });
    assert_eq!(joined.channel(), name);
    let presence = first_sub.presence().unwrap();
    let mut users: Vec<&str> = presence.clients().values().map(|info| info.user()).collect();
    users.sort_unstable();
    assert_eq!(users, vec!["first", "second"]);
    let stats = second_sub.presence_stats().unwrap();
    assert_eq!((stats.num_clients, stats.num_users), (2, 2));
    second_sub.unsubscribe().unwrap();
    let left = first_events.until("leave", |event| match event {
        SubscriptionEvent::Leave(leave) => Some(leave.info().user().to_string()),
        _ => None,
    });
    assert_eq!(left, "second");
    first.close();
    second.close();
}

fn a_subscription_token_opens_a_token_only_channel(protocol: Protocol) {
    let (_server, client, _) = connected(protocol, "holder");
    let name = channel(protocol, config::TOKEN_ONLY, "vault");
    let sub_token = Claims::subscription("holder", &name).sign(HMAC_SECRET);
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default().token(sub_token));
    sub.subscribe().unwrap();
    events.subscribed();
    client.close();
}

fn a_short_lived_subscription_token_is_refreshed_without_resubscribing(protocol: Protocol) {
    let (_server, client, _) = connected(protocol, "refresher");
    let name = channel(protocol, config::TOKEN_ONLY, "refreshed");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let getter = move |channel: &str| -> Result<String, TokenError> {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(Claims::subscription("refresher", channel).expires_in(Duration::from_secs(2)).sign(HMAC_SECRET))
    };
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default().token_getter(getter));
    sub.subscribe().unwrap();
    events.subscribed();
    let later = events.within(Duration::from_millis(5500));
    assert!(calls.load(Ordering::SeqCst) >= 3, "getter called {} times", calls.load(Ordering::SeqCst));
    assert!(
        later.iter().all(|event| !matches!(
            event,
            SubscriptionEvent::Subscribing(_) | SubscriptionEvent::Unsubscribed(_)
        )),
        "the subscription must survive: {later:?}"
    );
    assert_eq!(sub.state(), SubscriptionState::Subscribed);
    client.close();
}

fn an_unauthorized_subscription_getter_unsubscribes_with_code_1(protocol: Protocol) {
    let (_server, client, _) = connected(protocol, "denied");
    let getter = |_: &str| -> Result<String, TokenError> { Err(TokenError::Unauthorized) };
    let (sub, events) = subscription(
        &client,
        &channel(protocol, config::TOKEN_ONLY, "denied"),
        SubscriptionConfig::default().token_getter(getter),
    );
    sub.subscribe().unwrap();
    assert_eq!(events.unsubscribed(), (codes::UnsubscribedCode::Unauthorized.code(), "unauthorized".into()));
    client.close();
}

fn a_channel_without_permission_unsubscribes_with_the_servers_code(protocol: Protocol) {
    let (_server, client, _) = connected(protocol, "no-permission");
    let (sub, events) = subscription(
        &client,
        &channel(protocol, config::TOKEN_ONLY, "closed"),
        SubscriptionConfig::default(),
    );
    sub.subscribe().unwrap();
    assert!(matches!(events.error(), Error::Server(error) if error.code == 103));
    assert_eq!(events.unsubscribed(), (103, "permission denied".into()));
    assert_eq!(sub.state(), SubscriptionState::Unsubscribed);
    client.close();
}

/// Subscribes a fresh user to `name`, has the server disconnect it, publishes 20 messages
/// while it is away and returns the subscription's events from the resubscribe on.
fn publish_while_away(protocol: Protocol, name: &str, user: &str) -> (Arc<Centrifugo>, Client, SubEvents) {
    let server = Centrifugo::shared();
    // A long first reconnect delay keeps the client away while the server publishes.
    let config = ClientConfig::default()
        .protocol(protocol)
        .token(token(user))
        .min_reconnect_delay(Duration::from_millis(800));
    let (client, client_events) = client(&server.ws_url(), config);
    client.connect().unwrap();
    client_events.connected();
    let (sub, events) = subscription(&client, name, SubscriptionConfig::default());
    sub.subscribe().unwrap();
    events.subscribed();
    server.api().disconnect(user, 4000, "come back").unwrap();
    assert_eq!(
        events.subscribing(),
        (codes::SubscribingCode::TransportClosed.code(), "transport closed".into())
    );
    for n in 0..20 {
        server.api().publish(name, &format!(r#"{{"missed":{n}}}"#)).unwrap();
    }
    (server, client, events)
}

fn missed_publications_are_recovered_after_a_reconnect(protocol: Protocol) {
    let name = channel(protocol, config::HISTORY, "recovery");
    let (_server, client, events) = publish_while_away(protocol, &name, &format!("recover-{protocol:?}"));
    let subscribed = events.subscribed();
    assert!(subscribed.was_recovering() && subscribed.recovered(), "{subscribed:?}");
    // `position` is where the recovery started; the recovered publications follow it.
    let from = subscribed.position().expect("a recoverable subscription has a position").clone();
    let after = subscribed.position_after_recovery().expect("and a position after recovery");
    assert_eq!((after.offset, &after.epoch), (from.offset + 20, &from.epoch), "{subscribed:?}");
    for n in 0..20 {
        let publication = events.publication();
        assert_eq!(publication.data(), format!(r#"{{"missed":{n}}}"#).as_bytes(), "publication {n}");
        assert_eq!(publication.publication().offset(), from.offset + 1 + n, "publication {n}");
    }
    let extra = events.within(Duration::from_millis(300));
    assert!(
        !extra.iter().any(|event| matches!(event, SubscriptionEvent::Publication(_))),
        "none twice: {extra:?}"
    );
    client.close();
}

fn a_gap_larger_than_the_history_is_reported_as_not_recovered(protocol: Protocol) {
    let name = channel(protocol, config::SMALL_HISTORY, "lossy");
    let (_server, client, events) = publish_while_away(protocol, &name, &format!("lossy-{protocol:?}"));
    let subscribed = events.subscribed();
    assert!(subscribed.was_recovering() && !subscribed.recovered(), "{subscribed:?}");
    client.close();
}

fn since_resumes_from_a_position_saved_by_another_client(protocol: Protocol) {
    let server = Centrifugo::shared();
    let name = channel(protocol, config::HISTORY, "resume");
    let saved = {
        let (_server, client, _) = connected(protocol, "resumer");
        let (sub, events) = subscription(&client, &name, SubscriptionConfig::default());
        sub.subscribe().unwrap();
        let position = events.subscribed().position().cloned().expect("a position");
        client.close();
        position
    };
    for n in 0..5 {
        server.api().publish(&name, &format!(r#"{{"later":{n}}}"#)).unwrap();
    }
    let (_server, client, _) = connected(protocol, "resumer");
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default().since(saved));
    sub.subscribe().unwrap();
    let subscribed = events.subscribed();
    assert!(subscribed.was_recovering() && subscribed.recovered());
    for n in 0..5 {
        assert_eq!(events.publication().data(), format!(r#"{{"later":{n}}}"#).as_bytes());
    }
    client.close();
}

fn the_state_getter_is_asked_first_and_again_after_112(protocol: Protocol) {
    let server = Centrifugo::shared();
    let name = channel(protocol, config::SMALL_HISTORY, "state");
    for n in 0..5 {
        server.api().publish(&name, &format!("{n}")).unwrap();
    }
    let top = server.api().history(&name, 0).unwrap();
    let epoch = top["epoch"].as_str().unwrap().to_string();
    let offset = top["offset"].as_u64().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    // First a stale snapshot (offset 1: history holds only the last 2), then the current one.
    let getter = move |_: &str| -> Result<StreamPosition, StateError> {
        let call = counted.fetch_add(1, Ordering::SeqCst);
        Ok(StreamPosition::new(if call == 0 { 1 } else { offset }, epoch.clone()))
    };
    let (_server, client, _) = connected(protocol, "stateful");
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default().state_getter(getter));
    sub.subscribe().unwrap();
    assert!(matches!(events.error(), Error::Server(error) if error.code == 112));
    let subscribed = events.subscribed();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "asked on the first subscribe and again after 112");
    assert!(subscribed.was_recovering() && subscribed.recovered());
    client.close();
}

/// A state getter that fails is reported as `Error::StateGetter` with its reason, and asked
/// again after backoff; the subscription then follows from the position it returns.
#[test]
fn a_failing_state_getter_is_reported_and_asked_again() {
    let server = Centrifugo::shared();
    let name = channel(Protocol::Json, config::RECOVERY, "state-fails");
    server.api().publish(&name, "1").unwrap();
    let top = server.api().history(&name, 0).unwrap();
    let position = StreamPosition::new(top["offset"].as_u64().unwrap(), top["epoch"].as_str().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let getter = move |_: &str| -> Result<StreamPosition, StateError> {
        match counted.fetch_add(1, Ordering::SeqCst) {
            0 => Err(StateError::Failed("snapshot service down".into())),
            _ => Ok(position.clone()),
        }
    };
    let (_server, client, _) = connected(Protocol::Json, "state-fails");
    let config =
        SubscriptionConfig::default().state_getter(getter).min_resubscribe_delay(Duration::from_millis(50));
    let (sub, events) = subscription(&client, &name, config);
    sub.subscribe().unwrap();
    assert!(matches!(events.error(), Error::StateGetter(why) if why == "snapshot service down"));
    let subscribed = events.subscribed();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "asked again after the failure");
    assert!(subscribed.was_recovering() && subscribed.recovered(), "{subscribed:?}");
    server.api().publish(&name, "2").unwrap();
    assert_eq!(events.publication().data(), b"2");
    client.close();
}

fn fossil_delta_delivers_exactly_what_was_published(protocol: Protocol) {
    let server = Centrifugo::shared();
    let name = channel(protocol, config::DELTA, "doc");
    let (_server, client, _) = connected(protocol, "delta-reader");
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default().delta(true));
    sub.subscribe().unwrap();
    events.subscribed();
    let base = "The quick brown fox jumps over the lazy dog. ".repeat(8);
    let payloads: Vec<String> = (0..10).map(|n| format!(r#"{{"version":{n},"text":"{base}{n}"}}"#)).collect();
    for payload in &payloads {
        server.api().publish(&name, payload).unwrap();
    }
    for payload in &payloads {
        assert_eq!(std::str::from_utf8(events.publication().data()).unwrap(), payload);
    }
    client.close();
}

fn server_side_subscriptions_from_config_token_and_api(protocol: Protocol) {
    let server = Centrifugo::shared();
    let user = format!("server-side-{protocol:?}");
    let from_claim = channel(protocol, config::HISTORY, "claimed");
    let from_api = channel(protocol, config::HISTORY, "added");
    let personal = format!("{}:#{user}", config::PERSONAL);
    let token = Claims::connection(&user).channels(&[&from_claim]).sign(HMAC_SECRET);
    let (client, events) = client(&server.ws_url(), config(protocol).token(token));
    client.connect().unwrap();
    let mut subscribed = Vec::new();
    while subscribed.len() < 2 {
        subscribed.push(events.until("server-side subscribed", |event| match event {
            ClientEvent::Subscribed(event) => Some(event.channel().to_string()),
            _ => None,
        }));
    }
    subscribed.sort();
    let mut expected = vec![from_claim.clone(), personal.clone()];
    expected.sort();
    assert_eq!(subscribed, expected);

    server.api().publish(&personal, r#"{"for":"me"}"#).unwrap();
    let (channel, data) = events.until("server-side publication", |event| match event {
        ClientEvent::Publication(event) => Some((event.channel().to_string(), event.data().to_vec())),
        _ => None,
    });
    assert_eq!((channel.as_str(), data.as_slice()), (personal.as_str(), &br#"{"for":"me"}"#[..]));

    server.api().subscribe(&user, &from_api).unwrap();
    let added = events.until("server-side subscribed", |event| match event {
        ClientEvent::Subscribed(event) => Some(event.channel().to_string()),
        _ => None,
    });
    assert_eq!(added, from_api);
    server.api().unsubscribe(&user, &from_api).unwrap();
    let removed = events.until("server-side unsubscribed", |event| match event {
        ClientEvent::Unsubscribed(event) => Some(event.channel().to_string()),
        _ => None,
    });
    assert_eq!(removed, from_api);
    client.close();
}

fn server_side_subscriptions_recover_across_a_reconnect(protocol: Protocol) {
    let server = Centrifugo::shared();
    let user = format!("server-recovery-{protocol:?}");
    let personal = format!("{}:#{user}", config::PERSONAL);
    let config = ClientConfig::default()
        .protocol(protocol)
        .token(token(&user))
        .min_reconnect_delay(Duration::from_millis(800));
    let (client, events) = client(&server.ws_url(), config);
    client.connect().unwrap();
    events.until("server-side subscribed", |event| matches!(event, ClientEvent::Subscribed(_)).then_some(()));
    server.api().disconnect(&user, 4000, "come back").unwrap();
    events.until("server-side subscribing", |event| match event {
        ClientEvent::Subscribing(event) if event.channel() == personal => Some(()),
        _ => None,
    });
    for n in 0..3 {
        server.api().publish(&personal, &format!(r#"{{"missed":{n}}}"#)).unwrap();
    }
    let resubscribed = events.until("server-side subscribed again", |event| match event {
        ClientEvent::Subscribed(event) => Some(event.clone()),
        _ => None,
    });
    assert!(resubscribed.was_recovering() && resubscribed.recovered(), "{resubscribed:?}");
    for n in 0..3 {
        let data = events.until("recovered publication", |event| match event {
            ClientEvent::Publication(event) => Some(event.data().to_vec()),
            _ => None,
        });
        assert_eq!(data, format!(r#"{{"missed":{n}}}"#).as_bytes());
    }
    client.close();
}

fn calls_on_an_unsubscribed_subscription_fail_at_once(protocol: Protocol) {
    let (_server, client, _) = connected(protocol, "idle-sub");
    let (sub, _events) =
        subscription(&client, &channel(protocol, config::HISTORY, "idle"), SubscriptionConfig::default());
    assert!(matches!(sub.publish("{}"), Err(Error::Unsubscribed)));
    assert!(matches!(sub.history(HistoryOptions::default()), Err(Error::Unsubscribed)));
    client.close();
    assert!(matches!(sub.subscribe(), Err(Error::Closed)));
}

fn close_moves_every_subscription_to_unsubscribed_with_code_2(protocol: Protocol) {
    let (_server, client, _) = connected(protocol, "closer");
    let mut all = Vec::new();
    for n in 0..3 {
        let (sub, events) = subscription(
            &client,
            &channel(protocol, config::HISTORY, &format!("closing-{n}")),
            SubscriptionConfig::default(),
        );
        sub.subscribe().unwrap();
        events.subscribed();
        all.push((sub, events));
    }
    client.close();
    for (sub, events) in &all {
        assert_eq!(
            events.unsubscribed(),
            (codes::UnsubscribedCode::ClientClosed.code(), "client closed".into())
        );
        assert_eq!(sub.state(), SubscriptionState::Unsubscribed);
    }
}

fn a_call_made_right_after_subscribe_waits_for_the_subscription(protocol: Protocol) {
    let (_server, client, _) = connected(protocol, "eager");
    let (sub, _events) =
        subscription(&client, &channel(protocol, config::HISTORY, "eager"), SubscriptionConfig::default());
    sub.subscribe().unwrap();
    // No wait in between: the call must see the subscribe() made just before it.
    assert!(sub.history(HistoryOptions::default()).is_ok());
    assert!(sub.publish("{}").is_ok());
    client.close();
}

fn a_hundred_subscriptions_are_all_resubscribed_after_a_reconnect(protocol: Protocol) {
    let user = format!("hundred-{protocol:?}");
    let (server, client, client_events) = connected(protocol, &user);
    let subs: Vec<_> = (0..100)
        .map(|n| {
            let (sub, events) = subscription(
                &client,
                &channel(protocol, config::HISTORY, &format!("many-{n}")),
                SubscriptionConfig::default(),
            );
            sub.subscribe().unwrap();
            events.subscribed();
            (sub, events)
        })
        .collect();
    server.api().disconnect(&user, 4000, "come back").unwrap();
    assert_eq!(client_events.connecting(), (4000, "come back".into()));
    client_events.connected();
    for (sub, events) in &subs {
        assert_eq!(events.subscribing().0, codes::SubscribingCode::TransportClosed.code());
        assert!(events.subscribed().was_recovering(), "{} recovers", sub.channel());
    }
    client.close();
}

/// Publishes through `sub` and returns the channel info the server attached to the
/// publication: it comes from the `info` claim of the token the subscription was made with.
fn channel_info_of_own_publication(sub: &Subscription, events: &SubEvents) -> serde_json::Value {
    sub.publish(r#"{"probe":true}"#).unwrap();
    let publication = events.publication();
    let info = publication.publication().info().expect("publisher info");
    serde_json::from_slice(info.chan_info()).expect("channel info is JSON")
}

fn a_refreshed_subscription_token_is_reused_on_resubscribe(protocol: Protocol) {
    let user = format!("token-cache-{protocol:?}");
    let (server, client, client_events) = connected(protocol, &user);
    let name = channel(protocol, config::TOKEN_ONLY, "cached");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let (asked, getter_calls) = crossbeam_channel::unbounded();
    let getter_user = user.clone();
    // Each token names its call in the channel info, so the server shows which one is in use.
    let getter = move |channel: &str| -> Result<String, TokenError> {
        let call = counted.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = asked.send(call);
        Ok(Claims::subscription(&getter_user, channel)
            .info(json!({ "token": call }))
            .expires_in(Duration::from_secs(3))
            .sign(HMAC_SECRET))
    };
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default().token_getter(getter));
    sub.subscribe().unwrap();
    events.subscribed();
    assert_eq!(getter_calls.recv_timeout(EVENT_TIMEOUT), Ok(1), "asked before subscribing");
    assert_eq!(channel_info_of_own_publication(&sub, &events), json!({ "token": 1 }));
    assert_eq!(getter_calls.recv_timeout(EVENT_TIMEOUT), Ok(2), "asked again when the token expires");
    let after_refresh = events.within(Duration::from_millis(300));
    assert!(after_refresh.is_empty(), "the refresh is accepted quietly: {after_refresh:?}");

    server.api().disconnect(&user, 4000, "come back").unwrap();
    assert_eq!(client_events.connecting(), (4000, "come back".into()));
    let mut errors = Vec::new();
    let resubscribed = events.until("resubscribed", |event| match event {
        SubscriptionEvent::Error(error) => {
            errors.push(error.error().clone());
            None
        }
        SubscriptionEvent::Subscribed(subscribed) => Some(subscribed.clone()),
        _ => None,
    });
    assert!(errors.is_empty(), "no 109 (or anything else) on the way back: {errors:?}");
    assert!(resubscribed.was_recovering());
    // The subscribe command goes out after any getter call it needs, so this count is final.
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the resubscribe asked the getter again");
    assert!(getter_calls.try_recv().is_err());
    assert_eq!(
        channel_info_of_own_publication(&sub, &events),
        json!({ "token": 2 }),
        "resubscribed with the refreshed token, not the first one"
    );
    client.close();
}

/// Every subscription event up to the first that `done` accepts; fails on error 105 or an
/// `unsubscribed` with code 105 on the way.
fn events_until_without_105(
    events: &SubEvents,
    what: &str,
    mut done: impl FnMut(&SubscriptionEvent, &[SubscriptionEvent]) -> bool,
) -> Vec<SubscriptionEvent> {
    let mut seen = Vec::new();
    events.until(what, |event| {
        let finished = done(event, &seen);
        seen.push(event.clone());
        finished.then_some(())
    });
    let already_subscribed = seen.iter().find(|event| match event {
        SubscriptionEvent::Error(error) => matches!(error.error(), Error::Server(error) if error.code == 105),
        SubscriptionEvent::Unsubscribed(unsubscribed) => unsubscribed.code() == 105,
        _ => false,
    });
    assert!(already_subscribed.is_none(), "{already_subscribed:?} among {seen:#?}");
    seen
}

fn count(events: &[SubscriptionEvent], pick: impl Fn(&SubscriptionEvent) -> bool) -> usize {
    events.iter().filter(|event| pick(event)).count()
}

/// Publishes one message into `name` and checks that `events` delivers it exactly once.
fn published_once(server: &Centrifugo, name: &str, events: &SubEvents, data: &str) {
    server.api().publish(name, data).unwrap();
    assert_eq!(events.publication().data(), data.as_bytes());
    let extra = events.within(Duration::from_millis(300));
    assert!(
        !extra.iter().any(|event| matches!(event, SubscriptionEvent::Publication(_))),
        "delivered once: {extra:?}"
    );
}

fn rapid_subscribe_and_unsubscribe_never_hits_already_subscribed(protocol: Protocol) {
    let (server, client, client_events) = connected(protocol, &format!("rapid-{protocol:?}"));
    let name = channel(protocol, config::HISTORY, "rapid");
    let (sub, events) = subscription(&client, &name, SubscriptionConfig::default());
    for _ in 0..200 {
        sub.subscribe().unwrap();
        sub.unsubscribe().unwrap();
        sub.subscribe().unwrap();
    }
    let seen = events_until_without_105(&events, "the last subscribe", |event, before| {
        let unsubscribes = count(before, |event| matches!(event, SubscriptionEvent::Unsubscribed(_)));
        matches!(event, SubscriptionEvent::Subscribed(_)) && unsubscribes == 200
    });
    assert_eq!(count(&seen, |event| matches!(event, SubscriptionEvent::Subscribing(_))), 201);
    assert!(!seen.iter().any(|event| matches!(event, SubscriptionEvent::Error(_))), "{seen:#?}");
    assert_eq!(sub.state(), SubscriptionState::Subscribed);
    published_once(&server, &name, &events, r#"{"after":"rapid"}"#);

    // Remove, recreate and subscribe the same channel, again without waiting in between.
    let mut generations = vec![(sub, events)];
    for _ in 0..20 {
        let (old, _) = generations.last().unwrap();
        client.remove_subscription(old).unwrap();
        let (sub, events) = subscription(&client, &name, SubscriptionConfig::default());
        sub.subscribe().unwrap();
        generations.push((sub, events));
    }
    let (last, last_events) = generations.pop().unwrap();
    for (removed, events) in &generations {
        events_until_without_105(
            events,
            "the removal",
            |event, _| matches!(event, SubscriptionEvent::Unsubscribed(unsubscribed) if unsubscribed.code() == codes::UnsubscribedCode::UnsubscribeCalled.code()),
        );
        assert_eq!(removed.state(), SubscriptionState::Unsubscribed);
    }
    let seen = events_until_without_105(&last_events, "subscribed", |event, _| {
        matches!(event, SubscriptionEvent::Subscribed(_))
    });
    assert!(!seen.iter().any(|event| matches!(event, SubscriptionEvent::Error(_))), "{seen:#?}");
    assert_eq!(last.state(), SubscriptionState::Subscribed);
    assert_eq!(client.subscriptions().len(), 1);
    published_once(&server, &name, &last_events, r#"{"after":"recreate"}"#);

    let client_side = client_events.drain();
    assert!(
        !client_side.iter().any(|event| matches!(event, ClientEvent::Connecting(_) | ClientEvent::Error(_))),
        "no reconnect and no error: {client_side:?}"
    );
    client.close();
}

/// The receivers of the channel listeners can be named through the crate's re-export and
/// waited on together with `select!`, without depending on crossbeam-channel directly.
#[test]
fn channel_listeners_work_with_the_reexported_select() {
    use centrifuge_blocking::crossbeam_channel::{Receiver, select};
    use centrifuge_blocking::listener;

    struct Inbox {
        client: Receiver<ClientEvent>,
        news: Receiver<SubscriptionEvent>,
    }

    let server = Centrifugo::shared();
    let (client_listener, client_events) = listener::channel();
    let client = Client::new(server.ws_url(), ClientConfig::default(), client_listener).unwrap();
    let (news_listener, news) = listener::subscription_channel();
    let name = channel(Protocol::Json, config::HISTORY, "select");
    client
        .new_subscription(&name, SubscriptionConfig::default(), news_listener)
        .unwrap()
        .subscribe()
        .unwrap();
    client.connect().unwrap();
    let inbox = Inbox { client: client_events, news };
    let (mut connected, mut subscribed, mut published) = (false, false, false);
    while !(connected && subscribed && published) {
        select! {
            recv(inbox.client) -> event => connected |= matches!(event, Ok(ClientEvent::Connected(_))),
            recv(inbox.news) -> event => match event {
                Ok(SubscriptionEvent::Subscribed(_)) => {
                    subscribed = true;
                    server.api().publish(&name, r#"{"via":"select"}"#).unwrap();
                }
                Ok(SubscriptionEvent::Publication(publication)) => {
                    assert_eq!(publication.data(), br#"{"via":"select"}"#);
                    published = true;
                }
                Ok(_) => {}
                Err(_) => panic!("the subscription's channel closed"),
            },
            default(EVENT_TIMEOUT) => panic!("no event within {EVENT_TIMEOUT:?}"),
        }
    }
    client.close();
}
