//! Client-side subscriptions and server-side subscriptions.

use super::sim::*;

fn settings(channel: &str) -> SubSettings {
    SubSettings {
        channel: channel.into(),
        token: String::new(),
        has_token_getter: false,
        has_state_getter: false,
        data: Bytes::new(),
        min_resubscribe_delay: MIN_DELAY,
        max_resubscribe_delay: MAX_DELAY,
        positioned: false,
        recoverable: false,
        join_leave: false,
        delta: false,
        since: None,
        tags_filter: None,
    }
}

fn sub_events(effects: &[Effect<u32>]) -> Vec<crate::events::SubscriptionEvent> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::SubscriptionEvent { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn subscribe_commands(effects: &[Effect<u32>], on: u64) -> Vec<Command> {
    sent(effects, on).into_iter().filter(|command| command.subscribe.is_some()).collect()
}

/// The attempt number of the subscription token fetch among `effects`, if one was asked for.
fn sub_token_fetch(effects: &[Effect<u32>]) -> Option<u64> {
    effects.iter().find_map(|effect| match effect {
        Effect::FetchSubscriptionToken { attempt, .. } => Some(*attempt),
        _ => None,
    })
}

/// Connects, then subscribes subscription 1 with `settings`, answered with `result`; returns
/// the connection.
fn subscribed(sim: &mut Sim, settings: SubSettings, result: crate::protocol::SubscribeResult) -> u64 {
    let generation = sim.connected(ping_result(0, false));
    sim.core.add_subscription(1, settings);
    sim.core.subscribe(1, sim.now);
    let id = subscribe_commands(&sim.core.take_effects(), generation)[0].id;
    sim.reply(generation, Reply { id, subscribe: Some(Box::new(result)), ..Default::default() });
    generation
}

#[test]
fn subscribes_share_the_connect_commands_frame() {
    let mut sim = Sim::new(config("", false));
    for (id, channel) in [(1, "a"), (2, "b")] {
        sim.core.add_subscription(id, settings(channel));
        sim.core.subscribe(id, sim.now);
    }
    let generation = sim.start();
    sim.core.opened(generation, sim.now);
    let commands = sent(&sim.core.take_effects(), generation);
    assert!(commands[0].connect.is_some());
    let channels: Vec<&str> =
        commands[1..].iter().map(|c| c.subscribe.as_ref().unwrap().channel.as_str()).collect();
    assert_eq!(channels, vec!["a", "b"], "in the same batch, right after connect");
}

#[test]
fn a_temporary_subscribe_error_resubscribes_after_backoff() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    sim.core.add_subscription(1, settings("news"));
    sim.core.subscribe(1, sim.now);
    let id = subscribe_commands(&sim.core.take_effects(), generation)[0].id;
    let effects = sim.reply(generation, server_error(id, 100, "internal server error", true));
    assert!(matches!(&sub_events(&effects)[..], [crate::events::SubscriptionEvent::Error(_)]));
    let (waited, effects) = sim.run_to_next_deadline();
    assert!((MIN_DELAY..=Duration::from_secs(1)).contains(&waited), "{waited:?}");
    assert_eq!(subscribe_commands(&effects, generation).len(), 1, "subscribes again");
}

#[test]
fn a_permanent_subscribe_error_unsubscribes_with_the_servers_code() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    sim.core.add_subscription(1, settings("news"));
    sim.core.subscribe(1, sim.now);
    let id = subscribe_commands(&sim.core.take_effects(), generation)[0].id;
    let effects = sim.reply(generation, server_error(id, 103, "permission denied", false));
    let unsubscribed: Vec<(u32, String)> = sub_events(&effects)
        .into_iter()
        .filter_map(|event| match event {
            crate::events::SubscriptionEvent::Unsubscribed(event) => {
                Some((event.code(), event.reason().to_string()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(unsubscribed, vec![(103, "permission denied".to_string())]);
    assert_eq!(sim.core.next_deadline(), None, "no resubscribe");
}

#[test]
fn calls_made_while_subscribing_go_out_once_subscribed() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    sim.core.add_subscription(1, settings("news"));
    sim.core.subscribe(1, sim.now);
    let id = subscribe_commands(&sim.core.take_effects(), generation)[0].id;
    let presence = sim.encode(Request::Presence { channel: "news".into() });
    sim.core.sub_call(1, presence, 9, sim.now);
    assert!(sim.core.take_effects().is_empty(), "waits for the subscription");
    let effects = sim.reply(generation, Reply { id, subscribe: Some(Box::default()), ..Default::default() });
    assert!(sent(&effects, generation).iter().any(|command| command.presence.is_some()), "{effects:?}");
    // Unsubscribed: fails at once.
    sim.core.unsubscribe(1, sim.now);
    sim.core.take_effects();
    let presence = sim.encode(Request::Presence { channel: "news".into() });
    sim.core.sub_call(1, presence, 10, sim.now);
    assert!(matches!(completions(&sim.core.take_effects())[..], [(10, Err(Error::Unsubscribed))]));
}

#[test]
fn a_failed_unsubscribe_reconnects_the_client_with_code_4() {
    let mut sim = Sim::new(config("", false));
    let generation = subscribed(&mut sim, settings("news"), Default::default());
    sim.core.unsubscribe(1, sim.now);
    let unsubscribe = sent(&sim.core.take_effects(), generation).remove(0);
    assert!(unsubscribe.unsubscribe.is_some());
    let effects = sim.reply(generation, server_error(unsubscribe.id, 100, "internal server error", true));
    assert_eq!(connecting(&effects), vec![said(ConnectingCode::UnsubscribeError)]);
}

#[test]
fn server_side_channels_missing_after_a_reconnect_are_unsubscribed() {
    use crate::protocol::SubscribeResult;
    let mut sim = Sim::new(config("", false));
    let subs = |channels: &[&str]| -> std::collections::BTreeMap<String, SubscribeResult> {
        channels
            .iter()
            .map(|c| {
                (
                    c.to_string(),
                    SubscribeResult { recoverable: true, offset: 3, epoch: "e".into(), ..Default::default() },
                )
            })
            .collect()
    };
    let generation = sim.connected(ConnectResult { subs: subs(&["a", "b"]), ..ping_result(0, false) });
    sim.core.closed(generation, None, None, sim.now);
    let effects = sim.core.take_effects();
    let subscribing: Vec<String> = events(&effects)
        .into_iter()
        .filter_map(|event| match event {
            ClientEvent::Subscribing(event) => Some(event.channel().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(subscribing, vec!["a", "b"]);
    let (_, effects) = sim.run_to_next_deadline();
    let generation = dialed(&effects).unwrap();
    sim.core.opened(generation, sim.now);
    let connect = sent(&sim.core.take_effects(), generation).remove(0).connect.unwrap();
    let recovering: Vec<(&String, bool, u64)> =
        connect.subs.iter().map(|(c, s)| (c, s.recover, s.offset)).collect();
    assert_eq!(
        recovering,
        vec![(&"a".to_string(), true, 3), (&"b".to_string(), true, 3)],
        "positions are sent"
    );
    let effects = sim.reply(
        generation,
        Reply {
            id: connect_id_of(&sim),
            connect: Some(Box::new(ConnectResult { subs: subs(&["a"]), ..ping_result(0, false) })),
            ..Default::default()
        },
    );
    let unsubscribed: Vec<String> = events(&effects)
        .into_iter()
        .filter_map(|event| match event {
            ClientEvent::Unsubscribed(event) => Some(event.channel().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(unsubscribed, vec!["b"]);
}

/// The id of the connect command in flight.
fn connect_id_of(sim: &Sim) -> u32 {
    match sim.core.link {
        Link::Handshaking { connect_id, .. } => connect_id,
        other => panic!("not handshaking: {other:?}"),
    }
}

#[test]
fn disconnected_is_the_last_event_of_a_stop_with_server_side_subscriptions() {
    let mut sim = Sim::new(config("", false));
    let subs = ["a", "b"].map(|channel| (channel.to_string(), crate::protocol::SubscribeResult::default()));
    sim.connected(ConnectResult { subs: subs.into_iter().collect(), ..ping_result(0, false) });
    sim.core.disconnect();
    let names: Vec<String> = events(&sim.core.take_effects())
        .iter()
        .map(|event| format!("{event:?}").split('(').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        names,
        vec!["Unsubscribed", "Unsubscribed", "Disconnected"],
        "server-side subscriptions end first"
    );
}

fn unsubscribe_push(channel: &str, code: u32) -> Reply {
    let unsubscribe = crate::protocol::Unsubscribe { code, reason: "insufficient state".into() };
    let push =
        Push { channel: channel.into(), unsubscribe: Some(Box::new(unsubscribe)), ..Default::default() };
    Reply { push: Some(push), ..Default::default() }
}

fn subscribing_codes(effects: &[Effect<u32>]) -> Vec<u32> {
    sub_events(effects)
        .into_iter()
        .filter_map(|event| match event {
            crate::events::SubscriptionEvent::Subscribing(event) => Some(event.code()),
            _ => None,
        })
        .collect()
}

/// A resubscribing unsubscribe push (2500) acts on a subscribed subscription only: one that
/// finds a subscribe in flight came before the server saw that subscribe (a second one would be
/// refused with 105), one that finds it unsubscribed concerns what the application has left.
#[test]
fn an_insufficient_state_push_resubscribes_only_a_subscribed_subscription() {
    let mut sim = Sim::new(config("", false));
    let generation = subscribed(&mut sim, settings("news"), Default::default());

    // Subscribed: subscribing with 2500, and a new subscribe.
    let effects = sim.reply(generation, unsubscribe_push("news", 2500));
    assert_eq!(subscribing_codes(&effects), vec![2500]);
    let resubscribe = subscribe_commands(&effects, generation);
    assert_eq!(resubscribe.len(), 1, "{effects:?}");

    // That subscribe in flight: a second push changes nothing, and its reply subscribes.
    let effects = sim.reply(generation, unsubscribe_push("news", 2500));
    assert!(sub_events(&effects).is_empty() && sent(&effects, generation).is_empty(), "{effects:?}");
    let effects = sim.reply(
        generation,
        Reply { id: resubscribe[0].id, subscribe: Some(Box::default()), ..Default::default() },
    );
    assert!(
        matches!(&sub_events(&effects)[..], [crate::events::SubscriptionEvent::Subscribed(_)]),
        "{effects:?}"
    );

    // Unsubscribed by the application: a late push leaves it so.
    sim.core.unsubscribe(1, sim.now);
    sim.core.take_effects();
    let effects = sim.reply(generation, unsubscribe_push("news", 2500));
    assert!(sub_events(&effects).is_empty() && sent(&effects, generation).is_empty(), "{effects:?}");
}

/// 2502 voids the position kept for recovery whatever the state: a subscription the
/// application left, subscribed again, does not recover from it.
#[test]
fn a_state_invalidated_push_voids_the_kept_position_even_when_unsubscribed() {
    let recover_from = |effects: &[Effect<u32>], generation: u64| {
        let command = subscribe_commands(effects, generation).remove(0);
        let request = command.subscribe.unwrap();
        (command.id, request.recover, request.offset, request.epoch)
    };
    let result = crate::protocol::SubscribeResult {
        recoverable: true,
        offset: 5,
        epoch: "e".into(),
        ..Default::default()
    };
    let mut sim = Sim::new(config("", false));
    let recoverable = SubSettings { recoverable: true, ..settings("news") };
    let generation = subscribed(&mut sim, recoverable, result.clone());

    // Left and subscribed again: recovers from where it was.
    sim.core.unsubscribe(1, sim.now);
    sim.core.take_effects();
    sim.core.subscribe(1, sim.now);
    let (id, recover, offset, epoch) = recover_from(&sim.core.take_effects(), generation);
    assert_eq!((recover, offset, epoch.as_str()), (true, 5, "e"));
    sim.reply(generation, Reply { id, subscribe: Some(Box::new(result)), ..Default::default() });

    // Left, then told the state is invalid: subscribed again, it asks to recover from an epoch
    // no stream has ("_"), so the server reports recovery as failed instead of replaying.
    sim.core.unsubscribe(1, sim.now);
    sim.core.take_effects();
    let effects = sim.reply(generation, unsubscribe_push("news", 2502));
    assert!(sub_events(&effects).is_empty() && sent(&effects, generation).is_empty(), "{effects:?}");
    sim.core.subscribe(1, sim.now);
    let (_, recover, offset, epoch) = recover_from(&sim.core.take_effects(), generation);
    assert_eq!((recover, offset, epoch.as_str()), (true, 0, "_"));
}

/// A subscription whose token expires, subscribed, with its refresh command out; returns the
/// connection and the refresh command's id.
fn refreshing_subscription(sim: &mut Sim) -> (u64, u32) {
    let generation = sim.connected(ping_result(0, false));
    sim.core.add_subscription(1, SubSettings { has_token_getter: true, ..settings("news") });
    sim.core.subscribe(1, sim.now);
    let attempt = sub_token_fetch(&sim.core.take_effects()).expect("asks for a subscription token");
    sim.core.sub_token_fetched(attempt, Ok("first".into()), sim.now);
    let id = subscribe_commands(&sim.core.take_effects(), generation)[0].id;
    let result = crate::protocol::SubscribeResult { expires: true, ttl: 60, ..Default::default() };
    sim.reply(generation, Reply { id, subscribe: Some(Box::new(result)), ..Default::default() });
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, Duration::from_secs(60), "refreshes at the ttl");
    sim.core.sub_token_fetched(
        sub_token_fetch(&effects).expect("asks for a new token"),
        Ok("second".into()),
        sim.now,
    );
    let refresh = sent(&sim.core.take_effects(), generation).remove(0);
    assert!(refresh.sub_refresh.is_some(), "{refresh:?}");
    (generation, refresh.id)
}

/// A refresh given up by an unsubscribe: its answer and its timeout reach nobody.
#[test]
fn a_subscription_refresh_given_up_by_unsubscribe_is_forgotten() {
    // Its timeout.
    let mut sim = Sim::new(config("", false));
    let (generation, _) = refreshing_subscription(&mut sim);
    sim.core.unsubscribe(1, sim.now);
    let unsubscribe = sent(&sim.core.take_effects(), generation).remove(0);
    assert!(unsubscribe.unsubscribe.is_some());
    sim.reply(
        generation,
        Reply { id: unsubscribe.id, unsubscribe: Some(Default::default()), ..Default::default() },
    );
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, TIMEOUT, "the refresh command's deadline");
    assert!(sub_events(&effects).is_empty() && sent(&effects, generation).is_empty(), "{effects:?}");
    assert_eq!(sim.core.next_deadline(), None, "nothing left to do");

    // Its answer, arriving once the application has subscribed again and a new refresh is out:
    // it must not end the new subscription.
    let mut sim = Sim::new(config("", false));
    let (generation, stale) = refreshing_subscription(&mut sim);
    sim.core.unsubscribe(1, sim.now);
    sim.core.take_effects();
    sim.core.subscribe(1, sim.now);
    // It still holds the token of the given-up refresh: no fetch before subscribing.
    let id = subscribe_commands(&sim.core.take_effects(), generation)[0].id;
    let result = crate::protocol::SubscribeResult { expires: true, ttl: 1, ..Default::default() };
    sim.reply(generation, Reply { id, subscribe: Some(Box::new(result)), ..Default::default() });
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, Duration::from_secs(1), "the new refresh is due before the stale one times out");
    sim.core.sub_token_fetched(
        sub_token_fetch(&effects).expect("asks for a token"),
        Ok("fourth".into()),
        sim.now,
    );
    let fresh = sent(&sim.core.take_effects(), generation).remove(0);
    assert!(fresh.sub_refresh.is_some() && fresh.id != stale, "{fresh:?}");
    let effects = sim.reply(generation, server_error(stale, 103, "permission denied", false));
    assert!(sub_events(&effects).is_empty() && sent(&effects, generation).is_empty(), "{effects:?}");
    // The fresh refresh's own answer still counts.
    let effects = sim.reply(generation, server_error(fresh.id, 103, "permission denied", false));
    assert!(sent(&effects, generation).iter().any(|command| command.unsubscribe.is_some()), "{effects:?}");
}
