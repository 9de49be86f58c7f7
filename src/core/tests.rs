//! The state machine under simulated time: no sockets, no threads, no sleeps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::codec::Codec;
use crate::config::Protocol;
use crate::protocol::call::Request;
use crate::protocol::{ConnectResult, Error as WireError, Message, Push, RefreshResult};

const TIMEOUT: Duration = Duration::from_secs(5);
const MIN_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(20);

fn config(token: &str, has_token_getter: bool) -> CoreConfig {
    CoreConfig {
        ids: Arc::default(),
        token: token.into(),
        has_token_getter,
        data: Bytes::from_static(b"{\"d\":1}"),
        name: "rust".into(),
        version: "9.9".into(),
        timeout: TIMEOUT,
        min_reconnect_delay: MIN_DELAY,
        max_reconnect_delay: MAX_DELAY,
        max_server_ping_delay: Duration::from_secs(10),
        json: true,
        max_message_size: 1 << 20,
    }
}

/// A core with a clock; slots are plain numbers.
struct Sim {
    core: Core<u32>,
    now: Instant,
    next_slot: u32,
}

impl Sim {
    fn new(config: CoreConfig) -> Sim {
        Sim { core: Core::new(config, StdRng::seed_from_u64(42)), now: Instant::now(), next_slot: 1 }
    }

    fn advance(&mut self, by: Duration) -> Vec<Effect<u32>> {
        self.now += by;
        self.core.tick(self.now);
        self.core.take_effects()
    }

    /// Runs the clock to the next deadline.
    fn run_to_next_deadline(&mut self) -> (Duration, Vec<Effect<u32>>) {
        let deadline = self.core.next_deadline().expect("a deadline is pending");
        let waited = deadline.saturating_duration_since(self.now);
        self.now = deadline;
        self.core.tick(self.now);
        (waited, self.core.take_effects())
    }

    fn call(&mut self, request: Request) -> (u32, Vec<Effect<u32>>) {
        let slot = self.next_slot;
        self.next_slot += 1;
        let call = self.encode(request);
        self.core.call(call, slot, self.now);
        (slot, self.core.take_effects())
    }

    /// A user call as its caller encodes it (see `runtime::call`).
    fn encode(&self, request: Request) -> EncodedCall {
        let id = if request.expects_reply() { self.core.config.ids.next() } else { 0 };
        let frame = Codec::new(Protocol::Json, 1 << 20).encode(&[request.into_command(id)]).unwrap();
        EncodedCall { id, bytes: frame.data }
    }

    /// connect() and the first dial; returns the generation.
    fn start(&mut self) -> u64 {
        self.core.connect();
        dialed(&self.core.take_effects()).expect("connect dials")
    }

    /// Opens `generation`; returns the connect command's id.
    fn open(&mut self, generation: u64) -> u32 {
        self.core.opened(generation, self.now);
        let effects = self.core.take_effects();
        let command = sent(&effects, generation).into_iter().next().expect("the connect command is sent");
        assert!(command.connect.is_some(), "first command is connect: {command:?}");
        command.id
    }

    fn reply(&mut self, generation: u64, reply: Reply) -> Vec<Effect<u32>> {
        self.core.frame(generation, vec![reply], self.now);
        self.core.take_effects()
    }

    /// Brings the client to `connected` on generation 1 with `result`.
    fn connected(&mut self, result: ConnectResult) -> u64 {
        let generation = self.start();
        let id = self.open(generation);
        let effects =
            self.reply(generation, Reply { id, connect: Some(Box::new(result)), ..Default::default() });
        assert!(effects.iter().any(|e| matches!(e, Effect::State(ClientState::Connected))), "{effects:?}");
        assert_eq!(self.core.state(), ClientState::Connected);
        generation
    }
}

fn dialed(effects: &[Effect<u32>]) -> Option<u64> {
    effects.iter().find_map(|effect| match effect {
        Effect::Dial { generation } => Some(*generation),
        _ => None,
    })
}

/// The commands written on connection `on`: the core's own and the user calls (decoded).
fn sent(effects: &[Effect<u32>], on: u64) -> Vec<Command> {
    let codec = Codec::new(Protocol::Json, 1 << 20);
    let mut commands = Vec::new();
    for effect in effects {
        match effect {
            Effect::Send { generation, command } if *generation == on => commands.push((**command).clone()),
            Effect::Write { generation, call } if *generation == on => {
                codec.decode(&codec.frame(call.bytes.clone()), &mut commands).unwrap();
            }
            _ => {}
        }
    }
    commands
}

fn events(effects: &[Effect<u32>]) -> Vec<ClientEvent> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Emit(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn completions(effects: &[Effect<u32>]) -> Vec<(u32, Result<Reply, Error>)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Complete { slot, result } => Some((*slot, (**result).clone())),
            _ => None,
        })
        .collect()
}

fn closes(effects: &[Effect<u32>]) -> Vec<u64> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Close { generation } => Some(*generation),
            _ => None,
        })
        .collect()
}

fn token_fetch(effects: &[Effect<u32>]) -> Option<u64> {
    effects.iter().find_map(|effect| match effect {
        Effect::FetchToken { attempt } => Some(*attempt),
        _ => None,
    })
}

fn connecting(effects: &[Effect<u32>]) -> Vec<(u32, String)> {
    events(effects)
        .into_iter()
        .filter_map(|event| match event {
            ClientEvent::Connecting(event) => Some((event.code(), event.reason().to_string())),
            _ => None,
        })
        .collect()
}

fn disconnected(effects: &[Effect<u32>]) -> Vec<(u32, String)> {
    events(effects)
        .into_iter()
        .filter_map(|event| match event {
            ClientEvent::Disconnected(event) => Some((event.code(), event.reason().to_string())),
            _ => None,
        })
        .collect()
}

fn errors(effects: &[Effect<u32>]) -> Vec<Error> {
    events(effects)
        .into_iter()
        .filter_map(|event| match event {
            ClientEvent::Error(event) => Some(event.error().clone()),
            _ => None,
        })
        .collect()
}

fn rpc() -> Request {
    Request::Rpc { method: "m".into(), data: Bytes::from_static(b"{}") }
}

fn ping_result(ping: u32, pong: bool) -> ConnectResult {
    ConnectResult { client: "c1".into(), version: "6.9.1".into(), ping, pong, ..Default::default() }
}

fn server_error(id: u32, code: u32, message: &str, temporary: bool) -> Reply {
    Reply { id, error: Some(WireError { code, message: message.into(), temporary }), ..Default::default() }
}

// ---- connecting ----------------------------------------------------------------------------

#[test]
fn connect_emits_connecting_zero_dials_and_sends_connect_once_open() {
    let mut sim = Sim::new(config("jwt", false));
    sim.core.connect();
    let effects = sim.core.take_effects();
    assert!(matches!(effects[0], Effect::State(ClientState::Connecting)));
    assert_eq!(connecting(&effects), vec![(0, "connect called".to_string())]);
    let generation = dialed(&effects).unwrap();

    sim.core.opened(generation, sim.now);
    let commands = sent(&sim.core.take_effects(), generation);
    assert_eq!(commands.len(), 1);
    let connect = commands[0].connect.as_ref().unwrap();
    assert_eq!(
        (connect.token.as_str(), connect.name.as_str(), connect.version.as_str()),
        ("jwt", "rust", "9.9")
    );
    assert_eq!(connect.data.as_ref(), b"{\"d\":1}");
    assert!(commands[0].id > 0);

    // A second connect() changes nothing.
    sim.core.connect();
    assert!(sim.core.take_effects().is_empty());
}

#[test]
fn a_connect_reply_connects_and_reports_client_id_version_and_data() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.start();
    let id = sim.open(generation);
    let result = ConnectResult {
        client: "abc".into(),
        version: "6.9.1".into(),
        data: Bytes::from_static(b"{\"w\":1}"),
        ..Default::default()
    };
    let effects = sim.reply(generation, Reply { id, connect: Some(Box::new(result)), ..Default::default() });
    let connected: Vec<_> = events(&effects)
        .into_iter()
        .filter_map(|event| match event {
            ClientEvent::Connected(event) => {
                Some((event.client_id().to_string(), event.version().to_string(), event.data().to_vec()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(connected, vec![("abc".into(), "6.9.1".into(), b"{\"w\":1}".to_vec())]);
    // The state changes before the event that announces it.
    let state_at = effects.iter().position(|e| matches!(e, Effect::State(ClientState::Connected))).unwrap();
    let event_at = effects.iter().position(|e| matches!(e, Effect::Emit(ClientEvent::Connected(_)))).unwrap();
    assert!(state_at < event_at);
}

#[test]
fn calls_fail_at_once_when_disconnected_and_after_close() {
    let mut sim = Sim::new(config("", false));
    let (slot, effects) = sim.call(rpc());
    assert!(matches!(completions(&effects)[..], [(s, Err(Error::Disconnected))] if s == slot));
    sim.core.close();
    let effects = sim.core.take_effects();
    assert!(
        matches!(effects[..], [Effect::State(ClientState::Closed)]),
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

// ---- losing the connection -----------------------------------------------------------------

#[test]
fn calls_in_flight_fail_once_with_connection_lost_and_the_client_reconnects() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    let (a, _) = sim.call(rpc());
    let (b, effects) = sim.call(rpc());
    let ids: Vec<u32> = sent(&effects, generation).iter().map(|c| c.id).collect();
    sim.core.closed(generation, None, None, sim.now);
    let effects = sim.core.take_effects();
    let mut failed: Vec<u32> = completions(&effects)
        .into_iter()
        .map(|(slot, result)| {
            assert!(matches!(result, Err(Error::ConnectionLost)));
            slot
        })
        .collect();
    failed.sort();
    assert_eq!(failed, vec![a, b]);
    assert_eq!(connecting(&effects), vec![(1, "transport closed".to_string())]);
    assert_eq!(sim.core.state(), ClientState::Connecting);
    // Late replies from the dead connection change nothing.
    sim.core.frame(generation, vec![Reply { id: ids[0], ..Default::default() }], sim.now);
    assert!(sim.core.take_effects().is_empty());
    // The reconnect happens after a backoff delay.
    let (waited, effects) = sim.run_to_next_deadline();
    assert!((MIN_DELAY..=Duration::from_secs(1)).contains(&waited), "{waited:?}");
    assert_eq!(dialed(&effects), Some(generation + 1));
}

#[test]
fn server_close_codes_follow_the_reconnect_rule() {
    type Case = (Option<(u16, &'static str)>, ClientState, (u32, &'static str));
    let cases: [Case; 7] = [
        (Some((4000, "custom reconnect")), ClientState::Connecting, (4000, "custom reconnect")),
        (Some((3001, "shutdown")), ClientState::Connecting, (3001, "shutdown")),
        (Some((1000, "")), ClientState::Connecting, (1, "transport closed")),
        (None, ClientState::Connecting, (1, "transport closed")),
        (Some((4500, "custom stop")), ClientState::Disconnected, (4500, "custom stop")),
        (Some((3500, "invalid token")), ClientState::Disconnected, (3500, "invalid token")),
        (Some((1009, "message too big")), ClientState::Disconnected, (3, "message size limit exceeded")),
    ];
    for (close, state, (code, reason)) in cases {
        let mut sim = Sim::new(config("", false));
        let generation = sim.connected(ping_result(0, false));
        sim.core.closed(generation, close.map(|(c, r)| (c, r.to_string())), None, sim.now);
        let effects = sim.core.take_effects();
        assert_eq!(sim.core.state(), state, "{close:?}");
        let reported =
            if state == ClientState::Connecting { connecting(&effects) } else { disconnected(&effects) };
        assert_eq!(reported, vec![(code, reason.to_string())], "{close:?}");
        assert_eq!(closes(&effects), vec![generation]);
        let reconnects = sim.core.next_deadline().is_some();
        assert_eq!(reconnects, state == ClientState::Connecting, "{close:?}");
    }
}

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
    assert_eq!(disconnected(&effects), vec![(1, "unauthorized".to_string())]);
    assert!(dialed(&effects).is_none(), "never connects anonymously in place of the user");
}

#[test]
fn reconnect_delays_grow_with_full_jitter_and_reset_after_success() {
    let mut sim = Sim::new(config("", false));
    let mut generation = sim.start();
    for attempt in 0..8u32 {
        sim.core.dial_failed(generation, TransportError::new("refused"), sim.now);
        let effects = sim.core.take_effects();
        assert!(matches!(errors(&effects)[..], [Error::Transport(_)]));
        assert!(connecting(&effects).is_empty(), "no repeated connecting events while connecting");
        let (waited, effects) = sim.run_to_next_deadline();
        let cap = (500u64 << attempt).min(20_000);
        assert!(
            waited >= MIN_DELAY && waited <= Duration::from_millis(500 + cap).min(MAX_DELAY),
            "attempt {attempt}: {waited:?}"
        );
        generation = dialed(&effects).unwrap();
    }
    let id = sim.open(generation);
    sim.reply(generation, Reply { id, connect: Some(Box::new(ping_result(0, false))), ..Default::default() });
    sim.core.closed(generation, None, None, sim.now);
    sim.core.take_effects();
    let (waited, _) = sim.run_to_next_deadline();
    assert!(waited <= Duration::from_secs(1), "the attempt counter was reset: {waited:?}");
}

#[test]
fn stale_generations_are_ignored() {
    let mut sim = Sim::new(config("", false));
    let first = sim.connected(ping_result(0, false));
    sim.core.closed(first, None, None, sim.now);
    sim.core.take_effects();
    let (_, effects) = sim.run_to_next_deadline();
    let second = dialed(&effects).unwrap();
    assert_ne!(first, second);
    // Everything from the first connection is ignored now.
    sim.core.closed(first, Some((3500, "invalid token".into())), None, sim.now);
    sim.core.protocol_error(first, "garbage".into());
    sim.core.frame(
        first,
        vec![Reply {
            push: Some(Push { message: Some(Box::default()), ..Default::default() }),
            ..Default::default()
        }],
        sim.now,
    );
    sim.core.dial_failed(first, TransportError::new("late"), sim.now);
    assert!(sim.core.take_effects().is_empty());
    assert_eq!(sim.core.state(), ClientState::Connecting);
    // A connection that opens after it was abandoned is closed right away.
    sim.core.disconnect();
    sim.core.take_effects();
    sim.core.opened(second, sim.now);
    assert_eq!(closes(&sim.core.take_effects()), vec![second]);
}

#[test]
fn a_protocol_error_stops_the_client_as_bad_protocol() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    sim.core.protocol_error(generation, "invalid JSON".into());
    let effects = sim.core.take_effects();
    assert!(matches!(&errors(&effects)[..], [Error::Protocol(what)] if what == "invalid JSON"));
    assert_eq!(disconnected(&effects), vec![(2, "bad protocol".to_string())]);
    assert_eq!(closes(&effects), vec![generation]);
    assert_eq!(sim.core.next_deadline(), None, "no reconnect");
}

// ---- connect errors ------------------------------------------------------------------------

#[test]
fn connect_errors_are_terminal_unless_temporary_or_token_expired() {
    let mut sim = Sim::new(config("t", false));
    let generation = sim.start();
    let id = sim.open(generation);
    let effects = sim.reply(generation, server_error(id, 101, "unauthorized", false));
    assert_eq!(disconnected(&effects), vec![(101, "unauthorized".to_string())]);
    assert_eq!(sim.core.state(), ClientState::Disconnected);

    let mut sim = Sim::new(config("t", false));
    let generation = sim.start();
    let id = sim.open(generation);
    let effects = sim.reply(generation, server_error(id, 100, "internal server error", true));
    assert!(matches!(&errors(&effects)[..], [Error::Server(e)] if e.code == 100));
    assert_eq!(closes(&effects), vec![generation]);
    assert_eq!(sim.core.state(), ClientState::Connecting);
    let (_, effects) = sim.run_to_next_deadline();
    assert!(dialed(&effects).is_some(), "a temporary error is retried");
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
fn a_connect_reply_that_never_comes_times_out_and_reconnects() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.start();
    sim.open(generation);
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, TIMEOUT);
    match &errors(&effects)[..] {
        [Error::Timeout(timeout)] => assert!(timeout.to_string().contains("connect command"), "{timeout}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(closes(&effects), vec![generation]);
    let (_, effects) = sim.run_to_next_deadline();
    assert!(dialed(&effects).is_some());
}

// ---- ping ----------------------------------------------------------------------------------

#[test]
fn the_ping_watchdog_fires_after_interval_plus_max_delay_without_frames() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(25, true));
    assert_eq!(sim.core.next_deadline(), Some(sim.now + Duration::from_secs(35)));
    // A ping re-arms the watchdog and is answered with an empty command.
    sim.now += Duration::from_secs(30);
    let effects = sim.reply(generation, Reply::default());
    assert_eq!(sent(&effects, generation), vec![Command::default()]);
    assert_eq!(sim.core.next_deadline(), Some(sim.now + Duration::from_secs(35)));
    let (waited, effects) = sim.run_to_next_deadline();
    assert_eq!(waited, Duration::from_secs(35));
    assert_eq!(connecting(&effects), vec![(2, "no ping".to_string())]);
    assert_eq!(closes(&effects), vec![generation]);
}

#[test]
fn pings_are_not_answered_unless_the_server_asked_for_pongs() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(25, false));
    assert!(sent(&sim.reply(generation, Reply::default()), generation).is_empty());
}

#[test]
fn no_watchdog_when_the_server_does_not_ping() {
    let mut sim = Sim::new(config("", false));
    sim.connected(ping_result(0, false));
    assert_eq!(sim.core.next_deadline(), None, "an idle client without pings has no timer at all");
}

// ---- tokens --------------------------------------------------------------------------------

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
    assert_eq!(disconnected(&effects), vec![(1, "unauthorized".to_string())]);
    assert_eq!(sim.core.state(), ClientState::Disconnected);
}

#[test]
fn a_failing_getter_is_asked_again_after_ten_to_twenty_seconds() {
    for seed in 0..20 {
        let mut sim = Sim::new(config("", true));
        sim.core.rng = StdRng::seed_from_u64(seed);
        sim.core.connect();
        let attempt = token_fetch(&sim.core.take_effects()).unwrap();
        sim.core.token_fetched(attempt, Err(TokenError::Failed("backend down".into())), sim.now);
        let effects = sim.core.take_effects();
        assert!(matches!(&errors(&effects)[..], [Error::Token(why)] if why == "backend down"));
        let (waited, effects) = sim.run_to_next_deadline();
        assert!((Duration::from_secs(10)..=Duration::from_secs(20)).contains(&waited), "{waited:?}");
        assert!(token_fetch(&effects).is_some());
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
    assert_eq!(disconnected(&sim.core.take_effects()), vec![(1, "unauthorized".to_string())]);

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

// ---- disconnect, close, ready, messages ----------------------------------------------------

#[test]
fn disconnect_fails_calls_and_connect_works_again() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(25, true));
    let (in_flight, _) = sim.call(rpc());
    sim.core.disconnect();
    let effects = sim.core.take_effects();
    assert_eq!(disconnected(&effects), vec![(0, "disconnect called".to_string())]);
    assert!(matches!(completions(&effects)[..], [(s, Err(Error::ConnectionLost))] if s == in_flight));
    assert_eq!(closes(&effects), vec![generation]);
    assert_eq!(sim.core.next_deadline(), None, "no reconnect, no watchdog");
    let next = sim.start();
    assert!(next > generation);
}

#[test]
fn disconnect_while_connecting_fails_waiting_calls_as_disconnected() {
    let mut sim = Sim::new(config("", false));
    sim.start();
    let (waiting, _) = sim.call(rpc());
    sim.core.disconnect();
    let effects = sim.core.take_effects();
    assert!(matches!(completions(&effects)[..], [(s, Err(Error::Disconnected))] if s == waiting));
    assert_eq!(disconnected(&effects), vec![(0, "disconnect called".to_string())]);
}

#[test]
fn close_reports_client_closed_and_fails_everything_with_closed() {
    let mut sim = Sim::new(config("", false));
    sim.start();
    let (waiting, _) = sim.call(rpc());
    sim.core.close();
    let effects = sim.core.take_effects();
    assert_eq!(disconnected(&effects), vec![(0, "client closed".to_string())]);
    assert!(matches!(completions(&effects)[..], [(s, Err(Error::Closed))] if s == waiting));
    assert!(matches!(effects.last(), Some(Effect::State(ClientState::Closed))));
    sim.core.close();
    assert!(sim.core.take_effects().is_empty(), "close is idempotent");
    sim.core.connect();
    assert!(sim.core.take_effects().is_empty(), "a closed client stays closed");
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

#[test]
fn a_message_push_becomes_a_message_event() {
    let mut sim = Sim::new(config("", false));
    let generation = sim.connected(ping_result(0, false));
    let push = Push {
        message: Some(Box::new(Message { data: Bytes::from_static(b"\"hi\"") })),
        ..Default::default()
    };
    let effects = sim.reply(generation, Reply { push: Some(push), ..Default::default() });
    match &events(&effects)[..] {
        [ClientEvent::Message(message)] => assert_eq!(message.data(), b"\"hi\""),
        other => panic!("{other:?}"),
    }
}

// ---- subscriptions -------------------------------------------------------------------------

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
            Effect::SubEvent { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn subscribe_commands(effects: &[Effect<u32>], on: u64) -> Vec<Command> {
    sent(effects, on).into_iter().filter(|command| command.subscribe.is_some()).collect()
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
    let generation = sim.connected(ping_result(0, false));
    sim.core.add_subscription(1, settings("news"));
    sim.core.subscribe(1, sim.now);
    let id = subscribe_commands(&sim.core.take_effects(), generation)[0].id;
    sim.reply(generation, Reply { id, subscribe: Some(Box::default()), ..Default::default() });
    sim.core.unsubscribe(1, sim.now);
    let unsubscribe = sent(&sim.core.take_effects(), generation).remove(0);
    assert!(unsubscribe.unsubscribe.is_some());
    let effects = sim.reply(generation, server_error(unsubscribe.id, 100, "internal server error", true));
    assert_eq!(connecting(&effects), vec![(4, "unsubscribe error".to_string())]);
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
