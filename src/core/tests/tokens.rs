//! Connection tokens: the getter before connecting, refresh at the ttl, state invalidation.

use super::sim::*;

#[test]
fn state_invalidated_clears_the_token_and_asks_the_getter() {
    let mut sim = Sim::new(config("old-token", true));
    let generation = sim.connected(ping_result(0, false));
    sim.core.closed(generation, Some((3014, "state invalidated".into())), None, sim.now);
    assert_eq!(connecting(&sim.core.take_effects()), vec![(3014, "state invalidated".to_string())]);
    let (_, effects) = sim.run_to_next_deadline();
    let attempt = token_fetch(&effects).expect("a fresh token is fetched");
    assert!(dialed(&effects).is_none(), "no dial before the token");
    sim.core.token_fetched(attempt, Ok("new-token".into()), sim.now);
    let generation = dialed(&sim.core.take_effects()).unwrap();
    sim.core.opened(generation, sim.now);
    let connect = sent(&sim.core.take_effects(), generation).remove(0).connect.unwrap();
    assert_eq!(connect.token, "new-token");
}

#[test]
fn state_invalidated_without_a_getter_stops_as_unauthorized() {
    let mut sim = Sim::new(config("old-token", false));
    let generation = sim.connected(ping_result(0, false));
    sim.core.closed(generation, Some((3014, "state invalidated".into())), None, sim.now);
    sim.core.take_effects();
    let (_, effects) = sim.run_to_next_deadline();
    assert!(matches!(errors(&effects)[..], [Error::InvalidConfig(_)]), "{effects:?}");
    assert_eq!(disconnected(&effects), vec![said(DisconnectedCode::Unauthorized)]);
    assert!(dialed(&effects).is_none(), "never connects anonymously in place of the user");
}

#[test]
fn token_expired_on_connect_fetches_a_fresh_token_before_the_next_attempt() {
    let mut sim = Sim::new(config("expired-token", true));
    let generation = sim.start();
    let id = sim.open(generation);
    let effects = sim.reply(generation, server_error(id, 109, "token expired", false));
    assert!(matches!(&errors(&effects)[..], [Error::Server(e)] if e.code == 109));
    assert_eq!(sim.core.state(), ClientState::Connecting);
    let (_, effects) = sim.run_to_next_deadline();
    assert!(token_fetch(&effects).is_some(), "109 makes the getter run even though a token is set");
}

#[test]
fn the_getter_runs_before_the_first_connect_when_there_is_no_token() {
    let mut sim = Sim::new(config("", true));
    sim.core.connect();
    let effects = sim.core.take_effects();
    let attempt = token_fetch(&effects).expect("the getter is asked first");
    assert!(dialed(&effects).is_none());
    sim.core.token_fetched(attempt, Ok("fresh".into()), sim.now);
    let generation = dialed(&sim.core.take_effects()).expect("then it dials");
    sim.core.opened(generation, sim.now);
    assert_eq!(sent(&sim.core.take_effects(), generation)[0].connect.as_ref().unwrap().token, "fresh");
}

#[test]
fn an_unauthorized_getter_stops_the_client_with_code_1() {
    let mut sim = Sim::new(config("", true));
    sim.core.connect();
    let attempt = token_fetch(&sim.core.take_effects()).unwrap();
    sim.core.token_fetched(attempt, Err(TokenError::Unauthorized), sim.now);
    let effects = sim.core.take_effects();
    assert_eq!(disconnected(&effects), vec![said(DisconnectedCode::Unauthorized)]);
    assert_eq!(sim.core.state(), ClientState::Disconnected);
}

#[test]
fn a_getter_failing_at_connect_is_asked_again_after_the_reconnect_backoff() {
    for seed in 0..20 {
        let mut sim = Sim::new(config("", true));
        sim.core.rng = StdRng::seed_from_u64(seed);
        sim.core.connect();
        let mut attempt = token_fetch(&sim.core.take_effects()).unwrap();
        // Full jitter over a cap that doubles from min_reconnect_delay: 0.5–1 s, 0.5–1.5 s, 0.5–2.5 s.
        for cap in [2, 3, 5] {
            sim.core.token_fetched(attempt, Err(TokenError::Failed("backend down".into())), sim.now);
            let effects = sim.core.take_effects();
            assert!(matches!(&errors(&effects)[..], [Error::Token(why)] if why == "backend down"));
            assert_eq!(sim.core.state(), ClientState::Connecting);
            let (waited, effects) = sim.run_to_next_deadline();
            assert!((MIN_DELAY..=MIN_DELAY * cap).contains(&waited), "seed {seed}: {waited:?} > {cap} × min");
            attempt = token_fetch(&effects).expect("asks again");
        }
    }
}

#[test]
fn a_token_from_a_superseded_attempt_is_ignored() {
    let mut sim = Sim::new(config("", true));
    sim.core.connect();
    let stale = token_fetch(&sim.core.take_effects()).unwrap();
    sim.core.disconnect();
    sim.core.set_token(String::new());
    sim.core.connect();
    let current = token_fetch(&sim.core.take_effects()).unwrap();
    assert_ne!(stale, current);
    sim.core.token_fetched(stale, Ok("previous-user".into()), sim.now);
    assert!(sim.core.take_effects().is_empty(), "the old attempt's token must not be used");
    sim.core.token_fetched(current, Ok("current-user".into()), sim.now);
    let generation = dialed(&sim.core.take_effects()).unwrap();
    sim.core.opened(generation, sim.now);
    assert_eq!(sent(&sim.core.take_effects(), generation)[0].connect.as_ref().unwrap().token, "current-user");
}

#[test]
fn an_expiring_connection_refreshes_its_token_at_the_ttl() {
    let mut sim = Sim::new(config("short", true));
    let result = ConnectResult { client: "c".into(), expires: true, ttl: 60, ..Default::default() };
    let generation = sim.connected(result);
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, Duration::from_secs(60));
    let attempt = token_fetch(&effects).expect("the getter is asked at the ttl");
    sim.core.token_fetched(attempt, Ok("longer".into()), sim.now);
    let commands = sent(&sim.core.take_effects(), generation);
    assert_eq!(commands[0].refresh.as_ref().unwrap().token, "longer");
    let refreshed = RefreshResult { client: "c".into(), expires: true, ttl: 120, ..Default::default() };
    let effects = sim.reply(
        generation,
        Reply { id: commands[0].id, refresh: Some(Box::new(refreshed)), ..Default::default() },
    );
    assert!(events(&effects).is_empty(), "a refresh is silent: {effects:?}");
    assert_eq!(sim.core.state(), ClientState::Connected);
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, Duration::from_secs(120));
    assert!(token_fetch(&effects).is_some());
}

#[test]
fn refresh_failures_retry_or_stop() {
    let expiring = || ConnectResult { client: "c".into(), expires: true, ttl: 10, ..Default::default() };

    // The getter fails: retried in 10–20 s.
    let mut sim = Sim::new(config("t", true));
    sim.connected(expiring());
    let (_, effects) = sim.run_to_next_deadline();
    sim.core.token_fetched(token_fetch(&effects).unwrap(), Err(TokenError::Failed("down".into())), sim.now);
    assert!(matches!(errors(&sim.core.take_effects())[..], [Error::Token(_)]));
    let (waited, effects) = sim.run_to_next_deadline();
    assert!((Duration::from_secs(10)..=Duration::from_secs(20)).contains(&waited));
    assert!(token_fetch(&effects).is_some());

    // An empty token while refreshing means unauthorized.
    let mut sim = Sim::new(config("t", true));
    sim.connected(expiring());
    let (_, effects) = sim.run_to_next_deadline();
    sim.core.token_fetched(token_fetch(&effects).unwrap(), Ok(String::new()), sim.now);
    assert_eq!(disconnected(&sim.core.take_effects()), vec![said(DisconnectedCode::Unauthorized)]);

    // A temporary refresh error is retried; a permanent one stops the client.
    for (temporary, stops) in [(true, false), (false, true)] {
        let mut sim = Sim::new(config("t", true));
        let generation = sim.connected(expiring());
        let (_, effects) = sim.run_to_next_deadline();
        sim.core.token_fetched(token_fetch(&effects).unwrap(), Ok("new".into()), sim.now);
        let id = sent(&sim.core.take_effects(), generation)[0].id;
        let effects = sim.reply(generation, server_error(id, 110, "expired", temporary));
        assert_eq!(!disconnected(&effects).is_empty(), stops, "temporary={temporary}");
        if stops {
            assert_eq!(disconnected(&effects), vec![(110, "expired".to_string())]);
        }
    }
}
