//! User calls and `ready()`: sent, queued while connecting, timed out, answered once.

use super::sim::*;

#[test]
fn calls_fail_at_once_when_disconnected_and_after_close() {
    let mut sim = Sim::new(config("", false));
    let (slot, effects) = sim.call(rpc());
    assert!(matches!(completions(&effects)[..], [(s, Err(Error::Disconnected))] if s == slot));
    sim.core.close();
    let effects = sim.core.take_effects();
    assert!(
        matches!(effects[..], [Effect::ClientState(ClientState::Closed)]),
        "closing a disconnected client emits no event"
    );
    let (slot, effects) = sim.call(rpc());
    assert!(matches!(completions(&effects)[..], [(s, Err(Error::Closed))] if s == slot));
}

#[test]
fn calls_made_while_connecting_go_out_once_connected_in_order() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.start();
    let (first, effects) = sim.call(rpc());
    assert!(effects.is_empty(), "nothing is sent before the connection is up");
    let (second, _) = sim.call(Request::Publish { channel: "ch".into(), data: Bytes::from_static(b"1") });
    let id = sim.open(generation);
    let effects = sim.reply(
        generation,
        Reply { id, connect: Some(Box::new(ping_result(0, false))), ..Default::default() },
    );
    let commands = sent(&effects, generation);
    assert_eq!(commands.len(), 2);
    assert!(commands[0].rpc.is_some() && commands[1].publish.is_some());
    // Replies come back in any order and reach the right caller.
    let effects = sim.reply(
        generation,
        Reply { id: commands[1].id, publish: Some(Default::default()), ..Default::default() },
    );
    assert!(matches!(completions(&effects)[..], [(s, Ok(_))] if s == second));
    let effects = sim.reply(generation, server_error(commands[0].id, 104, "method not found", false));
    match &completions(&effects)[..] {
        [(s, Err(Error::Server(error)))] if *s == first => assert_eq!(error.code, 104),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_call_waiting_for_the_connection_times_out_at_its_deadline() {
    let mut sim = Sim::new(config("", false));
    sim.start();
    let (slot, _) = sim.call(rpc());
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, TIMEOUT);
    match &completions(&effects)[..] {
        [(s, Err(Error::Timeout(timeout)))] if *s == slot => {
            assert!(timeout.while_not_connected());
            assert_eq!(timeout.waited(), TIMEOUT);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_reply_after_the_timeout_is_dropped_and_the_caller_is_answered_once() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    let (slot, effects) = sim.call(rpc());
    let id = sent(&effects, generation)[0].id;
    let effects = sim.advance(TIMEOUT);
    match &completions(&effects)[..] {
        [(s, Err(Error::Timeout(timeout)))] if *s == slot => assert!(!timeout.while_not_connected()),
        other => panic!("{other:?}"),
    }
    let effects = sim.reply(generation, Reply { id, rpc: Some(Default::default()), ..Default::default() });
    assert!(completions(&effects).is_empty(), "answered twice: {effects:?}");
}

#[test]
fn send_needs_no_reply_and_carries_no_id() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    let (slot, effects) = sim.call(Request::Send { data: Bytes::from_static(b"{}") });
    let commands = sent(&effects, generation);
    assert_eq!(commands[0].id, 0);
    assert!(commands[0].send.is_some());
    assert!(matches!(completions(&effects)[..], [(s, Ok(_))] if s == slot));
}

#[test]
fn ready_waiters_are_answered_on_connect_or_on_stop() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.start();
    sim.core.wait_ready(7, sim.now + Duration::from_secs(3), Duration::from_secs(3));
    assert!(sim.core.take_effects().is_empty());
    let id = sim.open(generation);
    let effects = sim.reply(
        generation,
        Reply { id, connect: Some(Box::new(ping_result(0, false))), ..Default::default() },
    );
    assert!(matches!(completions(&effects)[..], [(7, Ok(_))]));

    let mut sim = Sim::new(config("", false));
    sim.start();
    sim.core.wait_ready(8, sim.now + Duration::from_secs(3), Duration::from_secs(3));
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, Duration::from_secs(3));
    match &completions(&effects)[..] {
        [(8, Err(Error::Timeout(timeout)))] => {
            assert_eq!(timeout.waited(), Duration::from_secs(3));
            assert!(timeout.last_connection_error().is_none(), "no attempt failed yet");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wait_for_the_connection_that_times_out_names_the_last_failed_attempt() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.start();
    sim.core.wait_ready(3, sim.now + Duration::from_secs(30), Duration::from_secs(30));
    let (slot, _) = sim.call(rpc());
    let now = sim.now;
    sim.core.dial_failed(generation, TransportError::new("certificate verify failed"), now);
    sim.core.take_effects();
    let (_, effects) = sim.run_to_next_deadline();
    let generation = dialed(&effects).expect("it retries");
    sim.core.dial_failed(generation, TransportError::new("proxy refused the tunnel: 407"), sim.now);
    let effects = sim.advance(TIMEOUT);
    match &completions(&effects)[..] {
        [(s, Err(Error::Timeout(timeout)))] if *s == slot => {
            assert!(
                timeout.to_string().contains("last attempt: transport error: proxy refused the tunnel: 407"),
                "{timeout}"
            );
        }
        other => panic!("{other:?}"),
    }
    let effects = sim.advance(Duration::from_secs(30));
    match &completions(&effects)[..] {
        [(3, Err(Error::Timeout(timeout)))] => {
            assert!(
                matches!(timeout.last_connection_error(), Some(Error::Transport(e)) if e.to_string().contains("407"))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_successful_connection_forgets_the_failed_attempts_before_it() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.start();
    sim.core.dial_failed(generation, TransportError::new("connection refused"), sim.now);
    let (_, effects) = sim.run_to_next_deadline();
    let generation = dialed(&effects).expect("it retries");
    let id = sim.open(generation);
    sim.reply(generation, Reply { id, connect: Some(Box::new(ping_result(0, false))), ..Default::default() });
    sim.core.disconnect();
    sim.core.connect();
    sim.core.take_effects();
    sim.core.wait_ready(4, sim.now + Duration::from_secs(1), Duration::from_secs(1));
    let effects = sim.advance(Duration::from_secs(1));
    match &completions(&effects)[..] {
        [(4, Err(Error::Timeout(timeout)))] => {
            assert!(timeout.last_connection_error().is_none(), "{timeout}")
        }
        other => panic!("{other:?}"),
    }
}
