//! Moving along the client's transports: the first round at once, sticking with the one that
//! connected, going back to the list when it keeps failing.

use super::sim::*;

fn two_transports() -> CoreConfig {
    CoreConfig { transports: 2, ..config("", false) }
}

/// The next dial after `effects` (at once, or after running the clock to the next deadline),
/// as (generation, transport) and how long it waited.
fn next_dial(sim: &mut Sim, effects: Vec<Effect<u32>>) -> ((u64, usize), Duration) {
    if let Some(dial) = dialed_on(&effects) {
        return (dial, Duration::ZERO);
    }
    let (waited, effects) = sim.run_to_next_deadline();
    (dialed_on(&effects).expect("the deadline was the reconnect"), waited)
}

/// [`next_dial`] after the effects pending right now.
fn next_dial_now(sim: &mut Sim) -> ((u64, usize), Duration) {
    let effects = sim.core.take_effects();
    next_dial(sim, effects)
}

#[test]
fn a_failed_first_transport_is_followed_at_once_by_the_next() {
    let mut sim = Sim::new(two_transports());
    sim.core.connect();
    let ((generation, transport), _) = next_dial_now(&mut sim);
    assert_eq!(transport, 0);
    sim.core.dial_failed(generation, TransportError::new("upgrade refused with HTTP 403"), sim.now);
    let ((generation, transport), waited) = next_dial_now(&mut sim);
    assert_eq!((transport, waited), (1, Duration::ZERO), "the second transport, at once");
    sim.core.dial_failed(generation, TransportError::new("refused"), sim.now);
    let ((_, transport), waited) = next_dial_now(&mut sim);
    assert_eq!(transport, 0, "the list starts over");
    assert!(waited >= MIN_DELAY && waited <= 2 * MIN_DELAY, "with backoff now: {waited:?}");
}

#[test]
fn a_connect_timeout_or_a_transport_close_before_connecting_moves_on_too() {
    let mut sim = Sim::new(two_transports());
    let generation = sim.start();
    sim.open(generation);
    let (_, effects) = sim.run_to_next_deadline();
    assert!(matches!(errors(&effects)[..], [Error::Timeout(_)]), "no connect reply");
    let ((generation, transport), waited) = next_dial(&mut sim, effects);
    assert_eq!((transport, waited), (1, Duration::ZERO));
    sim.core.opened(generation, sim.now);
    sim.core.take_effects();
    sim.core.closed(generation, Some((1006, String::new())), None, sim.now);
    let ((_, transport), waited) = next_dial_now(&mut sim);
    assert_eq!(transport, 0);
    assert!(waited > Duration::ZERO, "past the end of the list: backoff");
}

#[test]
fn the_transport_that_connected_is_kept_across_reconnects() {
    let mut sim = Sim::new(two_transports());
    sim.core.connect();
    let ((generation, _), _) = next_dial_now(&mut sim);
    sim.core.dial_failed(generation, TransportError::new("blocked"), sim.now);
    let ((generation, transport), _) = next_dial_now(&mut sim);
    assert_eq!(transport, 1);
    let id = sim.open(generation);
    sim.reply(generation, Reply { id, connect: Some(Box::new(ping_result(0, false))), ..Default::default() });
    assert_eq!(sim.core.state(), ClientState::Connected);
    // Lost after connecting, then two failed attempts: still the same transport.
    sim.core.closed(generation, None, None, sim.now);
    for _ in 0..2 {
        let ((generation, transport), _) = next_dial_now(&mut sim);
        assert_eq!(transport, 1, "kept");
        sim.core.dial_failed(generation, TransportError::new("down"), sim.now);
    }
    // The third failure in a row goes back to the list, at once.
    let ((generation, transport), _) = next_dial_now(&mut sim);
    assert_eq!(transport, 1);
    sim.core.dial_failed(generation, TransportError::new("down"), sim.now);
    let ((_, transport), waited) = next_dial_now(&mut sim);
    assert_eq!((transport, waited), (0, Duration::ZERO), "back to the list from the next transport");
}

#[test]
fn a_server_close_code_before_connecting_keeps_the_transport() {
    let mut sim = Sim::new(two_transports());
    let generation = sim.start();
    sim.open(generation);
    // The server answered through this transport (say, too many connections: reconnect).
    sim.core.closed(generation, Some((3001, "shutdown".into())), None, sim.now);
    let ((_, transport), waited) = next_dial_now(&mut sim);
    assert_eq!(transport, 0, "kept");
    assert!(waited > Duration::ZERO, "with backoff");
}

#[test]
fn a_single_transport_always_backs_off() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.start();
    sim.core.dial_failed(generation, TransportError::new("refused"), sim.now);
    let ((_, transport), waited) = next_dial_now(&mut sim);
    assert_eq!(transport, 0);
    assert!(waited > Duration::ZERO);
}
