//! The simulation every test drives: a core with a clock, and readers for its effects.

pub(super) use std::sync::Arc;
pub(super) use std::time::{Duration, Instant};

pub(super) use bytes::Bytes;
pub(super) use rand::SeedableRng;
pub(super) use rand::rngs::StdRng;

pub(super) use crate::codec::Codec;
pub(super) use crate::codes::{ConnectingCode, DisconnectedCode, Reason};
pub(super) use crate::config::Protocol;
pub(super) use crate::core::connection::Link;
pub(super) use crate::core::{Core, CoreConfig, Effect, SubSettings};
pub(super) use crate::error::{Error, TransportError};
pub(super) use crate::events::ClientEvent;
pub(super) use crate::protocol::call::EncodedCall;
pub(super) use crate::protocol::call::Request;
pub(super) use crate::protocol::{Command, Reply};
pub(super) use crate::protocol::{ConnectResult, Error as WireError, Message, Push, RefreshResult};
pub(super) use crate::token::TokenError;
pub(super) use crate::types::ClientState;

pub(super) const TIMEOUT: Duration = Duration::from_secs(5);
pub(super) const MIN_DELAY: Duration = Duration::from_millis(500);
pub(super) const MAX_DELAY: Duration = Duration::from_secs(20);

pub(super) fn config(token: &str, has_token_getter: bool) -> CoreConfig {
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
pub(super) struct Sim {
    pub(super) core: Core<u32>,
    pub(super) now: Instant,
    next_slot: u32,
}

impl Sim {
    pub(super) fn new(config: CoreConfig) -> Sim {
        Sim { core: Core::new(config, StdRng::seed_from_u64(42)), now: Instant::now(), next_slot: 1 }
    }

    pub(super) fn advance(&mut self, by: Duration) -> Vec<Effect<u32>> {
        self.now += by;
        self.core.tick(self.now);
        self.core.take_effects()
    }

    /// Runs the clock to the next deadline.
    pub(super) fn run_to_next_deadline(&mut self) -> (Duration, Vec<Effect<u32>>) {
        let deadline = self.core.next_deadline().expect("a deadline is pending");
        let waited = deadline.saturating_duration_since(self.now);
        self.now = deadline;
        self.core.tick(self.now);
        (waited, self.core.take_effects())
    }

    pub(super) fn call(&mut self, request: Request) -> (u32, Vec<Effect<u32>>) {
        let slot = self.next_slot;
        self.next_slot += 1;
        let call = self.encode(request);
        self.core.call(call, slot, self.now);
        (slot, self.core.take_effects())
    }

    /// A user call as its caller encodes it (see `runtime::call`).
    pub(super) fn encode(&self, request: Request) -> EncodedCall {
        let id = if request.expects_reply() { self.core.config.ids.next() } else { 0 };
        let frame = Codec::new(Protocol::Json, 1 << 20).encode(&[request.into_command(id)]).unwrap();
        EncodedCall { id, bytes: frame.data }
    }

    /// connect() and the first dial; returns the generation.
    pub(super) fn start(&mut self) -> u64 {
        self.core.connect();
        dialed(&self.core.take_effects()).expect("connect dials")
    }

    /// Opens `generation`; returns the connect command's id.
    pub(super) fn open(&mut self, generation: u64) -> u32 {
        self.core.opened(generation, self.now);
        let effects = self.core.take_effects();
        let command = sent(&effects, generation).into_iter().next().expect("the connect command is sent");
        assert!(command.connect.is_some(), "first command is connect: {command:?}");
        command.id
    }

    pub(super) fn reply(&mut self, generation: u64, reply: Reply) -> Vec<Effect<u32>> {
        self.core.frame(generation, vec![reply], self.now);
        self.core.take_effects()
    }

    /// Brings the client to `connected` on generation 1 with `result`.
    pub(super) fn connected(&mut self, result: ConnectResult) -> u64 {
        let generation = self.start();
        let id = self.open(generation);
        let effects =
            self.reply(generation, Reply { id, connect: Some(Box::new(result)), ..Default::default() });
        assert!(
            effects.iter().any(|e| matches!(e, Effect::ClientState(ClientState::Connected))),
            "{effects:?}"
        );
        assert_eq!(self.core.state(), ClientState::Connected);
        generation
    }
}

pub(super) fn dialed(effects: &[Effect<u32>]) -> Option<u64> {
    effects.iter().find_map(|effect| match effect {
        Effect::Dial { generation } => Some(*generation),
        _ => None,
    })
}

/// The commands written on connection `on`: the core's own and the user calls (decoded).
pub(super) fn sent(effects: &[Effect<u32>], on: u64) -> Vec<Command> {
    let codec = Codec::new(Protocol::Json, 1 << 20);
    let mut commands = Vec::new();
    for effect in effects {
        match effect {
            Effect::SendCommand { generation, command } if *generation == on => {
                commands.push((**command).clone())
            }
            Effect::WriteCall { generation, call } if *generation == on => {
                codec.decode(&codec.frame(call.bytes.clone()), &mut commands).unwrap();
            }
            _ => {}
        }
    }
    commands
}

pub(super) fn events(effects: &[Effect<u32>]) -> Vec<ClientEvent> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::ClientEvent(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn completions(effects: &[Effect<u32>]) -> Vec<(u32, Result<Reply, Error>)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Complete { slot, result } => Some((*slot, (**result).clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn closes(effects: &[Effect<u32>]) -> Vec<u64> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::CloseConnection { generation } => Some(*generation),
            _ => None,
        })
        .collect()
}

pub(super) fn token_fetch(effects: &[Effect<u32>]) -> Option<u64> {
    effects.iter().find_map(|effect| match effect {
        Effect::FetchToken { attempt } => Some(*attempt),
        _ => None,
    })
}

pub(super) fn connecting(effects: &[Effect<u32>]) -> Vec<(u32, String)> {
    events(effects)
        .into_iter()
        .filter_map(|event| match event {
            ClientEvent::Connecting(event) => Some((event.code(), event.reason().to_string())),
            _ => None,
        })
        .collect()
}

pub(super) fn disconnected(effects: &[Effect<u32>]) -> Vec<(u32, String)> {
    events(effects)
        .into_iter()
        .filter_map(|event| match event {
            ClientEvent::Disconnected(event) => Some((event.code(), event.reason().to_string())),
            _ => None,
        })
        .collect()
}

/// What an event says when the client decided: its code and reason, as the readers above give them.
pub(super) fn said(code: impl Into<Reason>) -> (u32, String) {
    let reason = code.into();
    (reason.code, reason.reason)
}

pub(super) fn errors(effects: &[Effect<u32>]) -> Vec<Error> {
    events(effects)
        .into_iter()
        .filter_map(|event| match event {
            ClientEvent::Error(event) => Some(event.error().clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn rpc() -> Request {
    Request::Rpc { method: "m".into(), data: Bytes::from_static(b"{}") }
}

pub(super) fn ping_result(ping: u32, pong: bool) -> ConnectResult {
    ConnectResult { client: "c1".into(), version: "6.9.1".into(), ping, pong, ..Default::default() }
}

pub(super) fn server_error(id: u32, code: u32, message: &str, temporary: bool) -> Reply {
    Reply { id, error: Some(WireError { code, message: message.into(), temporary }), ..Default::default() }
}
