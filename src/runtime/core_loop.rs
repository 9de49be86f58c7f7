//! The core thread: feeds the state machine and carries out its effects.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::backlog::Backlog;
use super::call::CallRoute;
use super::call::Link;
use super::executor::Lanes;
use super::getters::{GetterRequest, GetterWorker};
use super::port::StateCell;
use super::sleep::SleepWatch;
use super::{Input, Slot, SubscriptionCell, TransportEvent, connection};
use crate::codec::Codec;
use crate::core::SubId;
use crate::core::{Core, Effect};
use crate::error::Error;
use crate::events::{ClientEvent, ErrorEvent};
use crate::protocol::Command;
use crate::token::{StateGetter, SubscriptionTokenGetter, TokenError, TokenGetter};
use crate::transport::{DialControl, TransportConfig};
use crate::types::ClientState;

/// A connection thread and what controls it.
struct ConnectionEntry {
    control: Arc<DialControl>,
    connection: Option<Arc<dyn Link>>,
    thread: JoinHandle<()>,
}

pub(super) struct CoreLoopParts {
    pub(super) core: Core<Slot>,
    pub(super) inputs: Receiver<Input>,
    pub(super) to_self: Sender<Input>,
    pub(super) state: Arc<StateCell>,
    pub(super) route: Arc<CallRoute>,
    pub(super) transport: Arc<TransportConfig>,
    pub(super) codec: Codec,
    pub(super) lanes: Lanes,
    pub(super) lane_threads: Vec<JoinHandle<()>>,
    pub(super) backlog: Arc<Backlog>,
    pub(super) token_getter: Option<Arc<dyn TokenGetter>>,
    pub(super) shutdown_bound: Duration,
    pub(super) sleep_detection: bool,
}

pub(super) struct CoreLoop {
    core: Core<Slot>,
    inputs: Receiver<Input>,
    to_self: Sender<Input>,
    /// The client state the handles read.
    state: Arc<StateCell>,
    route: Arc<CallRoute>,
    transport: Arc<TransportConfig>,
    codec: Codec,
    lanes: Lanes,
    /// Joined at the end of the shutdown, after the lanes have run their last events.
    lane_threads: Vec<JoinHandle<()>>,
    backlog: Arc<Backlog>,
    /// Bytes of the frames handled this round: they leave the backlog once their events are
    /// queued on the lanes (and count there instead).
    handled_frame_bytes: usize,
    token_getter: Option<Arc<dyn TokenGetter>>,
    getters: Option<GetterWorker>,
    connections: HashMap<u64, ConnectionEntry>,
    /// What each subscription's handles read (its state).
    sub_cells: HashMap<SubId, Arc<SubscriptionCell>>,
    /// The getters of the subscriptions that have any (few do: kept apart so that the map
    /// every subscription is in stays small).
    sub_getters: HashMap<SubId, SubscriptionGetters>,
    shutdown_bound: Duration,
    /// Whether to look at the clocks for the machine's sleep (see `sleep`).
    sleep_detection: bool,
}

/// A subscription's token and state getters.
struct SubscriptionGetters {
    token: Option<Arc<dyn SubscriptionTokenGetter>>,
    state: Option<Arc<dyn StateGetter>>,
}

impl CoreLoop {
    pub(super) fn new(parts: CoreLoopParts) -> CoreLoop {
        CoreLoop {
            core: parts.core,
            inputs: parts.inputs,
            to_self: parts.to_self,
            state: parts.state,
            route: parts.route,
            transport: parts.transport,
            codec: parts.codec,
            lanes: parts.lanes,
            lane_threads: parts.lane_threads,
            backlog: parts.backlog,
            handled_frame_bytes: 0,
            token_getter: parts.token_getter,
            getters: None,
            connections: HashMap::new(),
            sub_cells: HashMap::new(),
            sub_getters: HashMap::new(),
            shutdown_bound: parts.shutdown_bound,
            sleep_detection: parts.sleep_detection,
        }
    }

    pub(super) fn run(mut self) {
        let mut sleep = SleepWatch::new(SystemTime::now(), Instant::now());
        while self.core.state() != ClientState::Closed {
            // While connected, the clocks are looked at now and then (see `sleep`).
            let look = (self.sleep_detection && self.core.state() == ClientState::Connected)
                .then(|| sleep.next_look());
            let deadline = [self.core.next_deadline(), look].into_iter().flatten().min();
            let input = match deadline {
                Some(deadline) => self.inputs.recv_deadline(deadline),
                None => self.inputs.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let now = Instant::now();
            if let Some(slept) = sleep.look(SystemTime::now(), now).filter(|_| self.sleep_detection) {
                self.core.resumed(slept, now);
            }
            match input {
                Ok(input) => {
                    self.handle(input, now);
                    // Whatever else is already queued is handled before the effects are carried
                    // out, so that commands it produces share frames (e.g. many subscribes).
                    for _ in 0..INPUTS_PER_ROUND {
                        let Ok(input) = self.inputs.try_recv() else { break };
                        self.handle(input, now);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // Every sender is gone, including the handles: nothing can reach us any more.
                Err(RecvTimeoutError::Disconnected) => self.core.close(),
            }
            if self.core.next_deadline().is_some_and(|deadline| deadline <= now) {
                self.core.tick(now);
            }
            self.apply_effects();
            self.backlog.frames_handled(std::mem::take(&mut self.handled_frame_bytes));
        }
        self.shut_down();
    }

    fn handle(&mut self, input: Input, now: Instant) {
        match input {
            Input::Connect => self.core.connect(),
            Input::Disconnect => self.core.disconnect(),
            Input::Close => self.core.close(),
            Input::SetToken(token) => self.core.set_token(token),
            Input::Call { call, slot } => self.core.call(call, slot, now),
            Input::Ready { slot, deadline, timeout } => self.core.wait_ready(slot, deadline, timeout),
            Input::Token { attempt, result } => self.core.token_fetched(attempt, result, now),
            Input::GettersEnded => {}
            Input::Transport { generation, event } => self.transport_event(generation, event, now),
            Input::AddSubscription(new) => {
                let new = *new;
                let id = new.cell.id();
                self.lanes.register(id, new.sink);
                self.sub_cells.insert(id, new.cell);
                if new.token_getter.is_some() || new.state_getter.is_some() {
                    let getters = SubscriptionGetters { token: new.token_getter, state: new.state_getter };
                    self.sub_getters.insert(id, getters);
                }
                self.core.add_subscription(id, new.settings);
            }
            Input::Subscribe(sub) => self.core.subscribe(sub, now),
            Input::Unsubscribe(sub) => self.core.unsubscribe(sub, now),
            Input::RemoveSubscription(sub) => self.core.remove_subscription(sub, now),
            Input::SubscriptionCall { sub, call, slot } => self.core.sub_call(sub, call, slot, now),
            Input::SubscriptionToken { attempt, result } => self.core.sub_token_fetched(attempt, result, now),
            Input::SubscriptionPosition { attempt, result } => self.core.state_fetched(attempt, result, now),
        }
    }

    fn transport_event(&mut self, generation: u64, event: TransportEvent, now: Instant) {
        match event {
            TransportEvent::Opened(connection) => {
                if let Some(entry) = self.connections.get_mut(&generation) {
                    entry.connection = Some(connection);
                }
                self.core.opened(generation, now);
            }
            TransportEvent::DialFailed(error) => self.core.dial_failed(generation, error, now),
            TransportEvent::Replies(replies, bytes) => {
                self.handled_frame_bytes += bytes;
                self.core.frame(generation, replies, now)
            }
            TransportEvent::ProtocolError(what) => self.core.protocol_error(generation, what),
            TransportEvent::Closed { close, error } => {
                log::debug!("connection {generation}: ended (close frame {close:?})");
                self.core.closed(generation, close, error, now)
            }
            TransportEvent::Ended => {
                if let Some(entry) = self.connections.remove(&generation) {
                    // The thread sends Ended as its very last act: this join is immediate.
                    let _ = entry.thread.join();
                }
            }
        }
    }

    fn apply_effects(&mut self) {
        let mut batch: Vec<Command> = Vec::new();
        let mut batch_generation = 0;
        for effect in self.core.take_effects() {
            if let Effect::SendCommand { generation, command } = effect {
                if generation != batch_generation && !batch.is_empty() {
                    self.write(batch_generation, std::mem::take(&mut batch));
                }
                batch_generation = generation;
                batch.push(*command);
                continue;
            }
            if !batch.is_empty() {
                self.write(batch_generation, std::mem::take(&mut batch));
            }
            match effect {
                Effect::SendCommand { .. } => unreachable!("sends are batched above"),
                Effect::WriteCall { generation, call } => self.write_encoded(generation, call.bytes),
                Effect::Dial { generation, transport } => self.dial(generation, transport),
                Effect::ConnectionUp { generation } => {
                    if let Some(connection) =
                        self.connections.get(&generation).and_then(|e| e.connection.clone())
                    {
                        self.route.open(generation, connection);
                    }
                }
                Effect::CloseConnection { generation } => self.close_connection(generation),
                Effect::FetchToken { attempt } => self.fetch_token(attempt),
                Effect::ClientEvent(event) => {
                    log_event(&event);
                    self.lanes.client_event(event);
                }
                Effect::Complete { slot, result } => {
                    // The caller may have given up waiting; that is fine.
                    let _ = slot.send(*result);
                }
                Effect::ClientState(state) => self.state.set(state),
                Effect::FetchSubscriptionToken { attempt, sub, channel } => {
                    match self.sub_getters.get(&sub).and_then(|getters| getters.token.clone()) {
                        Some(getter) => self.ask(GetterRequest::Subscription { attempt, channel, getter }),
                        None => self.core.sub_token_fetched(
                            attempt,
                            Err(TokenError::Unauthorized),
                            Instant::now(),
                        ),
                    }
                }
                Effect::FetchSubscriptionPosition { attempt, sub, channel } => {
                    match self.sub_getters.get(&sub).and_then(|getters| getters.state.clone()) {
                        Some(getter) => self.ask(GetterRequest::State { attempt, channel, getter }),
                        None => {
                            self.core.state_fetched(attempt, Err("no state getter".into()), Instant::now())
                        }
                    }
                }
                Effect::SubscriptionEvent { sub, event } => self.lanes.subscription_event(sub, event),
                Effect::SubscriptionState { sub, state } => {
                    if let Some(cell) = self.sub_cells.get(&sub) {
                        cell.set_state(state);
                    }
                }
                Effect::SubscriptionRemoved { sub } => {
                    self.sub_cells.remove(&sub);
                    self.sub_getters.remove(&sub);
                    self.lanes.unregister(sub);
                }
            }
        }
        if !batch.is_empty() {
            self.write(batch_generation, batch);
        }
    }

    /// Writes commands as one frame. After a failed write the connection ends; its reader
    /// then reports the end and the core reconnects.
    fn write(&mut self, generation: u64, commands: Vec<Command>) {
        let Some(connection) = self.connections.get(&generation).and_then(|entry| entry.connection.clone())
        else {
            return;
        };
        for batch in frames_of(&commands) {
            let frame = match self.codec.encode(batch) {
                Ok(frame) => frame,
                Err(err) => {
                    // Payloads are checked when calls are made, so this is a bug, not bad input.
                    log::error!("cannot encode commands: {err}");
                    self.lanes.client_event(ClientEvent::Error(ErrorEvent::new(Error::InvalidInput(
                        err.to_string(),
                    ))));
                    return;
                }
            };
            if let Err(err) = connection.send(frame) {
                // The connection saw to its end; its reader reports it.
                log::debug!("write on connection {generation} failed: {err}");
                return;
            }
        }
    }

    /// Writes a user's call, encoded by its caller.
    fn write_encoded(&mut self, generation: u64, bytes: bytes::Bytes) {
        let Some(connection) = self.connections.get(&generation).and_then(|entry| entry.connection.clone())
        else {
            return;
        };
        if let Err(err) = connection.send(self.codec.frame(bytes)) {
            // The connection saw to its end; its reader reports it.
            log::debug!("write on connection {generation} failed: {err}");
        }
    }

    fn dial(&mut self, generation: u64, transport: usize) {
        log::debug!("connection {generation}: dialing {}", self.transport.target(transport));
        let control = Arc::new(DialControl::default());
        let parts = connection::ConnectionParts {
            generation,
            transport,
            config: Arc::clone(&self.transport),
            codec: self.codec,
            control: Arc::clone(&control),
            route: Arc::clone(&self.route),
            backlog: Arc::clone(&self.backlog),
            to_core: self.to_self.clone(),
        };
        let spawned = super::spawn(format!("centrifuge-conn-{generation}"), move || connection::run(parts));
        match spawned {
            Ok(thread) => {
                self.connections.insert(generation, ConnectionEntry { control, connection: None, thread });
            }
            Err(err) => {
                let Error::Transport(error) = err else { return };
                self.core.dial_failed(generation, error, Instant::now());
            }
        }
    }

    fn close_connection(&mut self, generation: u64) {
        for slot in self.route.close(generation) {
            let _ = slot.send(Err(Error::ConnectionLost));
        }
        if let Some(entry) = self.connections.get(&generation) {
            entry.control.cancel();
            if let Some(connection) = &entry.connection {
                connection.close();
            }
        }
    }

    fn fetch_token(&mut self, attempt: u64) {
        if let Some(getter) = self.token_getter.clone() {
            self.ask(GetterRequest::Connection { attempt, getter });
        }
    }

    /// Hands a getter call to the getter worker, starting it on first use.
    fn ask(&mut self, request: GetterRequest) {
        if self.getters.is_none() {
            match GetterWorker::spawn(self.to_self.clone()) {
                Ok(worker) => self.getters = Some(worker),
                Err(err) => {
                    log::error!("{err}");
                    return;
                }
            }
        }
        if let Some(worker) = &self.getters {
            worker.request(request);
        }
    }

    /// After `Closed`: stop the lanes, close connections, wait (bounded) for helper threads,
    /// then join the lanes once they have run their last events.
    fn shut_down(mut self) {
        self.lanes.stop();
        let generations: Vec<u64> = self.connections.keys().copied().collect();
        for generation in generations {
            self.close_connection(generation);
        }
        let token_thread = self.getters.take().map(GetterWorker::finish);
        let mut token_running = token_thread.is_some();
        let deadline = Instant::now() + self.shutdown_bound;
        while !self.connections.is_empty() || token_running {
            match self.inputs.recv_deadline(deadline) {
                Ok(Input::Transport { generation, event: TransportEvent::Ended }) => {
                    if let Some(entry) = self.connections.remove(&generation) {
                        let _ = entry.thread.join();
                    }
                }
                Ok(Input::GettersEnded) => token_running = false,
                Ok(Input::Call { slot, .. })
                | Ok(Input::Ready { slot, .. })
                | Ok(Input::SubscriptionCall { slot, .. }) => {
                    let _ = slot.send(Err(Error::Closed));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if let Some(thread) = token_thread.filter(|_| !token_running) {
            let _ = thread.join();
        }
        if !self.connections.is_empty() || token_running {
            log::warn!(
                "close: {} connection thread(s) and {} getter thread(s) still busy after {:?}; they finish on their own",
                self.connections.len(),
                usize::from(token_running),
                self.shutdown_bound
            );
        }
        // Calls made from now on (a callback still running, say) fail at once instead of
        // waiting for an answer that would never come.
        let CoreLoop { inputs, lane_threads, .. } = self;
        drop(inputs);
        for lane in lane_threads {
            let _ = lane.join();
        }
    }
}

/// How many queued inputs one round of the core loop handles before carrying out the effects.
const INPUTS_PER_ROUND: usize = 1024;

/// How many bytes of Protobuf-encoded commands one frame carries at most. Batches larger than
/// that (say, thousands of subscribes after a reconnect) go out in several frames, so that no
/// frame exceeds the server's incoming message limit (64 KiB by default in Centrifugo), even as
/// JSON, which is about three times larger.
const FRAME_BUDGET: usize = 16 * 1024;

/// Splits commands into consecutive batches of at most [`FRAME_BUDGET`] encoded bytes (a
/// single larger command forms a batch of its own).
fn frames_of(commands: &[Command]) -> Vec<&[Command]> {
    use prost::Message as _;
    let mut batches = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (index, command) in commands.iter().enumerate() {
        let len = command.encoded_len();
        if index > start && size + len > FRAME_BUDGET {
            batches.push(&commands[start..index]);
            (start, size) = (index, 0);
        }
        size += len;
    }
    if start < commands.len() {
        batches.push(&commands[start..]);
    }
    batches
}

/// One log line per state event; errors at `warn`. Never a token: events carry none.
fn log_event(event: &ClientEvent) {
    match event {
        ClientEvent::Connecting(event) => log::info!("connecting: {} {}", event.code(), event.reason()),
        ClientEvent::Connected(event) => {
            log::info!("connected: client id {}, server {}", event.client_id(), event.version())
        }
        ClientEvent::Disconnected(event) => log::info!("disconnected: {} {}", event.code(), event.reason()),
        ClientEvent::Error(event) => log::warn!("{}", event.error()),
        ClientEvent::Subscribed(event) => {
            log::debug!("server-side subscription {} subscribed", event.channel())
        }
        ClientEvent::Subscribing(event) => {
            log::debug!("server-side subscription {} subscribing", event.channel())
        }
        ClientEvent::Unsubscribed(event) => log::debug!("server-side subscription {} ended", event.channel()),
        ClientEvent::Message(_)
        | ClientEvent::Publication(_)
        | ClientEvent::Join(_)
        | ClientEvent::Leave(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::SubscribeRequest;

    fn subscribe(channel_len: usize) -> Command {
        Command {
            id: 1,
            subscribe: Some(Box::new(SubscribeRequest {
                channel: "c".repeat(channel_len),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn small_batches_stay_in_one_frame_and_large_ones_are_split_in_order() {
        let small: Vec<Command> = (0..100).map(|_| subscribe(20)).collect();
        assert_eq!(frames_of(&small).len(), 1);
        let large: Vec<Command> = (0..10_000).map(|_| subscribe(20)).collect();
        let batches = frames_of(&large);
        assert!(batches.len() > 1);
        assert_eq!(
            batches.iter().map(|batch| batch.len()).sum::<usize>(),
            10_000,
            "nothing lost or repeated"
        );
        use prost::Message as _;
        for batch in &batches {
            assert!(batch.iter().map(|command| command.encoded_len()).sum::<usize>() <= FRAME_BUDGET);
        }
        let huge = vec![subscribe(20), subscribe(FRAME_BUDGET * 2), subscribe(20)];
        assert_eq!(frames_of(&huge).iter().map(|batch| batch.len()).collect::<Vec<_>>(), vec![1, 1, 1]);
        assert!(frames_of(&[]).is_empty());
    }
}
