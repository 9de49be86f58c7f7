//! The call path: how one call of a user (`rpc`, `publish`, `history`, …) reaches the server
//! and how its answer comes back. Every call goes through [`CallPath::call`].
//!
//! ```text
//!   caller thread
//!   ─────────────
//!   id ← shared counter (0 for send)
//!   encode the command ─────────── the one check of a JSON payload (InvalidInput)
//!        │
//!   route open? ── no ──▶ (3) THROUGH THE CORE: hand the encoded call and the answer slot to
//!        │                    the core thread, which queues it (connecting), writes it
//!       yes                   (connected) or fails it (disconnected, closed); the reply goes
//!        │                    reader thread → core → slot
//!   register slot under id, write the frame on this thread
//!        │
//!   only call in flight? ── no ──▶ (2) ANSWERED BY ANOTHER THREAD: wait on the slot; the
//!        │                            reader thread (or a caller reading) takes the slot out
//!       yes                           of the route and answers it
//!        │
//!   (1) READS ITS OWN REPLY: takes the connection's reading turn, drains the socket
//!       (delivering whatever else arrives as the reader thread would) until answered
//!        │
//!   answer, or the deadline: the caller takes its slot back out of the route; whoever takes a
//!   slot out answers it, so every call is answered exactly once
//! ```
//!
//! Why three routes. Going through the core costs two thread wake-ups per call (caller → core,
//! core → caller) on top of the reader's, which on a loaded machine is more than the server's
//! whole round trip; so while connected a caller writes its command itself (routes 1 and 2).
//! Handing a reply from the reader thread to a sleeping caller costs one more wake-up, so a
//! lone caller reads for itself (route 1). The core still decides: it opens the route when a
//! connection is up ([`CallRoute::open`]) and closes it when the connection is lost
//! ([`CallRoute::close`]), failing what was in flight.
//!
//! The answer slot is the `oneshot` crate's: each slot has one sender, which is in exactly one
//! place at a time (the route's table, or the core's input), handed back by
//! [`CallRoute::register`] when the route is closed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Slot;
use crate::codec::{Codec, Frame};
use crate::core::CommandIds;
use crate::error::{Error, TimeoutError, TransportError};
use crate::protocol::Reply;
use crate::protocol::call::{EncodedCall, Request};

/// How much longer than `timeout` a caller waits for the core thread before concluding that it
/// is stuck. The core answers every call by its deadline; this only guards against a bug.
pub(super) const CALLER_GRACE: Duration = Duration::from_secs(2);

/// Where a caller waits for its answer (the other end of a [`Slot`]).
pub(crate) type Answer = oneshot::Receiver<Result<Reply, Error>>;

/// What the call path needs of a live connection.
pub(crate) trait Link: Send + Sync {
    /// Writes one encoded frame (possibly merged with others being written). An error means
    /// the connection is lost: the link has seen to its end, which its reader reports.
    fn send(&self, frame: Frame) -> Result<(), TransportError>;
    /// Reads on behalf of a lone caller until `answered` or `deadline` (see route 1).
    fn read_for_caller(&self, route: &CallRoute, deadline: Instant, answered: &dyn Fn() -> bool);
    /// Closes the connection (its reader then reports the end to the core).
    fn close(&self);
}

#[derive(Default)]
struct RouteState {
    link: Option<(u64, Arc<dyn Link>)>,
    pending: HashMap<u32, Slot>,
}

/// The table of calls written directly on the current connection, shared by the callers, the
/// connection's reader and the core.
#[derive(Default)]
pub(crate) struct CallRoute {
    state: Mutex<RouteState>,
}

impl CallRoute {
    /// The connection `generation` is up: calls may go out directly.
    pub(crate) fn open(&self, generation: u64, link: Arc<dyn Link>) {
        self.state.lock().link = Some((generation, link));
    }

    /// The connection `generation` is gone: returns the slots of the calls in flight on it.
    pub(crate) fn close(&self, generation: u64) -> Vec<Slot> {
        let mut state = self.state.lock();
        if state.link.as_ref().is_none_or(|(open, _)| *open != generation) {
            return Vec::new();
        }
        state.link = None;
        state.pending.drain().map(|(_, slot)| slot).collect()
    }

    /// Registers a call with `id`; returns the connection to write it to and whether it is the
    /// only call in flight, or gives the slot back when the route is closed.
    fn register(&self, id: u32, slot: Slot) -> Result<(Arc<dyn Link>, bool), Slot> {
        let mut state = self.state.lock();
        let Some((_, link)) = &state.link else { return Err(slot) };
        let link = Arc::clone(link);
        state.pending.insert(id, slot);
        Ok((link, state.pending.len() == 1))
    }

    /// The current connection, for commands that expect no reply.
    fn link(&self) -> Option<Arc<dyn Link>> {
        self.state.lock().link.as_ref().map(|(_, link)| Arc::clone(link))
    }

    /// Whether any direct call is still waiting for its reply.
    pub(crate) fn has_pending(&self) -> bool {
        !self.state.lock().pending.is_empty()
    }

    /// Takes the slot of call `id` out, if it is still waiting here.
    pub(crate) fn take(&self, id: u32) -> Option<Slot> {
        self.state.lock().pending.remove(&id)
    }
}

/// Encodes calls and sends them down the right route; see the module docs.
pub(crate) struct CallPath {
    route: Arc<CallRoute>,
    ids: Arc<CommandIds>,
    codec: Codec,
}

impl CallPath {
    pub(crate) fn new(route: Arc<CallRoute>, ids: Arc<CommandIds>, codec: Codec) -> CallPath {
        CallPath { route, ids, codec }
    }

    /// Makes `request` and waits for its answer, at most `timeout`; `via_core` hands the
    /// encoded call and its slot to the core thread when the route is closed (route 3).
    pub(crate) fn call(
        &self,
        request: Request,
        timeout: Duration,
        via_core: impl FnOnce(EncodedCall, Slot) -> Result<(), Error>,
    ) -> Result<Reply, Error> {
        let deadline = Instant::now() + timeout;
        let expects_reply = request.expects_reply();
        let call = self.encode(request)?;
        let (slot, answer) = oneshot::channel();
        if !expects_reply {
            if let Some(link) = self.route.link() {
                return write(link.as_ref(), self.frame(&call)).map(|()| Reply::default());
            }
        } else {
            match self.route.register(call.id, slot) {
                Ok((link, alone)) => return self.direct(link, &call, alone, answer, deadline, timeout),
                Err(slot) => {
                    via_core(call, slot)?;
                    return wait(answer, deadline + CALLER_GRACE, timeout);
                }
            }
        }
        via_core(call, slot)?;
        wait(answer, deadline + CALLER_GRACE, timeout)
    }

    /// Encodes `request` for the core to send later (a call on a subscription that is not
    /// subscribed yet), with the slot it will answer and the receiver to wait on.
    pub(crate) fn prepare(&self, request: Request) -> Result<(EncodedCall, Slot, Answer), Error> {
        let call = self.encode(request)?;
        let (slot, answer) = oneshot::channel();
        Ok((call, slot, answer))
    }

    /// Routes 1 and 2: written on this thread, answered by this thread's reading or another's.
    fn direct(
        &self,
        link: Arc<dyn Link>,
        call: &EncodedCall,
        alone: bool,
        answer: Answer,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Reply, Error> {
        if let Err(err) = write(link.as_ref(), self.frame(call)) {
            // Unless the core already failed the call along with its connection.
            if self.route.take(call.id).is_some() {
                return Err(err);
            }
        }
        if alone {
            link.read_for_caller(&self.route, deadline, &|| answer.has_message());
        }
        match answer.recv_deadline(deadline) {
            Ok(result) => result,
            Err(_) if self.route.take(call.id).is_some() => Err(TimeoutError::reply(timeout).into()),
            // Taken by the reader or the core: the answer is on its way.
            Err(_) => answer.recv().unwrap_or(Err(Error::ConnectionLost)),
        }
    }

    /// Encodes the command with a fresh id (0 when no reply is expected).
    fn encode(&self, request: Request) -> Result<EncodedCall, Error> {
        let id = if request.expects_reply() { self.ids.next() } else { 0 };
        let frame = self
            .codec
            .encode(std::slice::from_ref(&request.into_command(id)))
            .map_err(|err| Error::InvalidInput(err.to_string()))?;
        Ok(EncodedCall { id, bytes: frame.data })
    }

    fn frame(&self, call: &EncodedCall) -> Frame {
        self.codec.frame(call.bytes.clone())
    }
}

/// Writes a frame on the caller's thread; after a failed write the connection ends (the link
/// sees to it, its reader reports it, the core reconnects) and the call counts as lost.
fn write(link: &dyn Link, frame: Frame) -> Result<(), Error> {
    link.send(frame).map_err(|err| {
        log::debug!("direct write failed: {err}");
        Error::ConnectionLost
    })
}

/// Waits for an answer the core gives (route 3, and waits for the connection).
pub(super) fn wait(answer: Answer, deadline: Instant, timeout: Duration) -> Result<Reply, Error> {
    match answer.recv_deadline(deadline) {
        Ok(result) => result,
        Err(oneshot::RecvTimeoutError::Timeout) => Err(TimeoutError::reply(timeout).into()),
        // The core thread dropped the slot unanswered: it has shut down.
        Err(oneshot::RecvTimeoutError::Disconnected) => Err(Error::Closed),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::codec::FrameKind;
    use crate::config::Protocol;
    use crate::protocol::RpcResult;
    use crate::protocol::call::call_result;

    /// A connection that records what it was asked to write and answers each call through the
    /// route, as the reader thread would: at once, or never.
    struct FakeLink {
        route: Arc<CallRoute>,
        codec: Codec,
        answers: bool,
        written: Mutex<Vec<Frame>>,
        reads_for_callers: AtomicUsize,
        closed: AtomicUsize,
        fail_writes: bool,
    }

    impl FakeLink {
        fn new(route: &Arc<CallRoute>, answers: bool, fail_writes: bool) -> Arc<FakeLink> {
            Arc::new(FakeLink {
                route: Arc::clone(route),
                codec: Codec::new(Protocol::Json, 1 << 20),
                answers,
                written: Mutex::new(Vec::new()),
                reads_for_callers: AtomicUsize::new(0),
                closed: AtomicUsize::new(0),
                fail_writes,
            })
        }
    }

    impl Link for FakeLink {
        fn send(&self, frame: Frame) -> Result<(), TransportError> {
            if self.fail_writes {
                return Err(TransportError::new("broken pipe"));
            }
            let mut commands: Vec<crate::protocol::Command> = Vec::new();
            self.codec.decode(&frame, &mut commands).expect("a valid command frame");
            self.written.lock().push(frame);
            if self.answers {
                for command in commands.into_iter().filter(|command| command.id > 0) {
                    let reply = Reply {
                        id: command.id,
                        rpc: Some(RpcResult { data: bytes::Bytes::from_static(b"{\"ok\":1}") }),
                        ..Default::default()
                    };
                    if let Some(slot) = self.route.take(command.id) {
                        let _ = slot.send(call_result(reply));
                    }
                }
            }
            Ok(())
        }

        fn read_for_caller(&self, _route: &CallRoute, _deadline: Instant, _answered: &dyn Fn() -> bool) {
            self.reads_for_callers.fetch_add(1, Ordering::SeqCst);
        }

        fn close(&self) {
            self.closed.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn path(route: &Arc<CallRoute>) -> CallPath {
        CallPath::new(Arc::clone(route), Arc::new(CommandIds::default()), Codec::new(Protocol::Json, 1 << 20))
    }

    fn rpc() -> Request {
        Request::Rpc { method: "echo".into(), data: bytes::Bytes::from_static(b"{}") }
    }

    const TIMEOUT: Duration = Duration::from_millis(200);

    #[test]
    fn with_the_route_closed_a_call_goes_through_the_core_encoded() {
        let route = Arc::new(CallRoute::default());
        let mut handed = None;
        let result = path(&route).call(rpc(), TIMEOUT, |call, slot| {
            let _ = slot.send(Ok(Reply { id: call.id, ..Default::default() }));
            handed = Some(call);
            Ok(())
        });
        assert!(result.is_ok());
        let call = handed.expect("the core got the call");
        assert_eq!(call.id, 1);
        assert_eq!(&call.bytes[..], br#"{"id":1,"rpc":{"data":{},"method":"echo"}}"#);
    }

    #[test]
    fn a_lone_caller_on_an_open_route_writes_itself_and_reads_for_itself() {
        let route = Arc::new(CallRoute::default());
        let link = FakeLink::new(&route, true, false);
        route.open(1, link.clone());
        let reply = path(&route).call(rpc(), TIMEOUT, |_, _| panic!("the core is not asked")).unwrap();
        assert!(reply.rpc.is_some());
        assert_eq!(link.written.lock().len(), 1);
        assert_eq!(link.reads_for_callers.load(Ordering::SeqCst), 1, "route 1: it read for itself");
        assert!(!route.has_pending(), "the slot left the table");
    }

    #[test]
    fn a_caller_behind_another_call_waits_for_the_reader_to_answer() {
        let route = Arc::new(CallRoute::default());
        let link = FakeLink::new(&route, true, false);
        route.open(1, link.clone());
        // Another call is in flight: this one is not alone and does not read for itself.
        let (other, _other_answer) = oneshot::channel();
        assert!(route.register(999, other).is_ok());
        let reply = path(&route).call(rpc(), TIMEOUT, |_, _| panic!("the core is not asked")).unwrap();
        assert!(reply.rpc.is_some());
        assert_eq!(link.reads_for_callers.load(Ordering::SeqCst), 0, "route 2: answered by another");
    }

    #[test]
    fn an_unanswered_direct_call_times_out_once_and_leaves_the_table() {
        let route = Arc::new(CallRoute::default());
        route.open(1, FakeLink::new(&route, false, false));
        let started = Instant::now();
        match path(&route).call(rpc(), TIMEOUT, |_, _| panic!("the core is not asked")) {
            Err(Error::Timeout(timeout)) => assert!(!timeout.while_not_connected()),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() >= TIMEOUT);
        assert!(!route.has_pending());
    }

    #[test]
    fn a_failed_direct_write_loses_the_call() {
        let route = Arc::new(CallRoute::default());
        let link = FakeLink::new(&route, true, true);
        route.open(1, link.clone());
        assert!(matches!(path(&route).call(rpc(), TIMEOUT, |_, _| Ok(())), Err(Error::ConnectionLost)));
        assert_eq!(link.closed.load(Ordering::SeqCst), 0, "ending the connection is the link's own business");
        assert!(!route.has_pending());
    }

    #[test]
    fn closing_the_route_hands_back_the_calls_in_flight() {
        let route = Arc::new(CallRoute::default());
        route.open(7, FakeLink::new(&route, false, false));
        let (slot, answer) = oneshot::channel();
        assert!(route.register(5, slot).is_ok());
        assert!(route.close(6).is_empty(), "another generation closes nothing");
        let slots = route.close(7);
        assert_eq!(slots.len(), 1);
        for slot in slots {
            let _ = slot.send(Err(Error::ConnectionLost));
        }
        assert!(matches!(answer.recv(), Ok(Err(Error::ConnectionLost))));
        let (slot, _) = oneshot::channel();
        assert!(route.register(6, slot).is_err(), "closed: the slot comes back");
    }

    #[test]
    fn send_expects_no_reply_and_is_written_directly_with_id_zero() {
        let route = Arc::new(CallRoute::default());
        let link = FakeLink::new(&route, true, false);
        route.open(1, link.clone());
        let request = Request::Send { data: bytes::Bytes::from_static(b"[1]") };
        assert!(path(&route).call(request, TIMEOUT, |_, _| panic!("the core is not asked")).is_ok());
        let written = link.written.lock();
        assert_eq!(written[0].kind, FrameKind::Text);
        assert_eq!(&written[0].data[..], br#"{"send":{"data":[1]}}"#);
    }

    #[test]
    fn a_payload_that_is_not_json_is_refused_before_anything_is_sent() {
        let route = Arc::new(CallRoute::default());
        let link = FakeLink::new(&route, true, false);
        route.open(1, link.clone());
        let request = Request::Publish { channel: "c".into(), data: bytes::Bytes::from_static(b"not json") };
        assert!(matches!(path(&route).call(request, TIMEOUT, |_, _| Ok(())), Err(Error::InvalidInput(_))));
        assert!(link.written.lock().is_empty());
        assert!(!route.has_pending());
    }
}
