//! A WebSocket connection: its reader thread, the write path, and how a waiting caller reads.
//!
//! A tungstenite `WebSocket` cannot be split, and a TLS stream cannot be read and written from
//! two threads at once, yet a write must never wait for a read to time out:
//!
//! - **Waiting outside the lock.** Whoever reads waits for input with a blocking `peek` on the
//!   TCP socket, holding no lock. The peek also says how many bytes arrived; the reader then
//!   takes the socket lock, lets the WebSocket read exactly those bytes (the stream answers
//!   `WouldBlock` past that budget, without a system call), collects the complete frames, lets
//!   go, and only then decodes and delivers them. Writers take the same lock and write at
//!   once; the socket stays in blocking mode, bounded by its write timeout.
//! - **No polling.** An idle connection costs no wake-ups: the reader thread sleeps in the
//!   kernel until the server sends something.
//! - **A lone caller reads for itself.** Handing a reply from the reader thread to a sleeping
//!   caller costs a second thread wake-up, which on a virtual machine is longer than the
//!   server's own work. So a caller whose call is the only one in flight takes the *reading
//!   turn*: it peeks on the socket itself and drains, delivering everything it reads exactly
//!   as the reader thread would (its own reply included). While callers keep taking the turn
//!   the reader thread stays parked, checking every [`PARKED_CHECK`] whether the turn has been
//!   left alone for that long; then it takes over again. Pushes that arrive while no call is
//!   in flight can so wait up to that long, and only right after a burst of calls. Calls made
//!   while another one was in flight do not read for themselves: a caller that leaves the turn
//!   while such calls wait wakes the reader thread at once.
//! - **Writes merge.** A thread that sends while another one writes queues its frame for that
//!   writer ([`Outbox`]), so concurrent callers share one system call and one frame.
//!
//! **Backpressure.** Neither the reader thread nor a caller reads while the client's backlog
//! of data waiting for listeners is full; see `runtime::backlog`.
//!
//! Invariants: one thread drains at a time (`thread_draining`, `caller_reading`); a peek made
//! before another thread's drain is never trusted (the turn's `epoch`); a caller's peek always
//! has a read timeout, a reader-thread peek never does (`caller_timeout_set`, changed only
//! under the turn lock while no caller reads); only the reader thread reports the end of the
//! connection (a caller that sees it leaves it in `ended`).
//!
//! Portability: all of this is the standard library's socket API (`peek`, read timeouts,
//! `set_nonblocking`, `shutdown`), with nothing behind `cfg`. A read that times out is
//! `WouldBlock` on Unix and `TimedOut` on Windows; `is_retry` takes both. It runs on Linux and
//! is only type-checked for Windows and macOS: that `shutdown` wakes a thread blocked in `peek`
//! there too is assumed, not tested.

use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use tungstenite::Message;
use tungstenite::error::ProtocolError;

use super::super::TransportEvent;
use super::super::call::{CallRoute, Link};
use super::super::delivery::Delivery;
use crate::codec::{Frame, FrameKind};
use crate::error::TransportError;
use crate::transport::{
    self, DialControl, Endpoint, Opcode, Socket, TransportConfig, encode_client_frame, new_mask,
};

/// How many arrived bytes the reader thread's peek reports at most (more take another round).
const READER_PEEK: usize = 64 * 1024;

/// The same for a caller reading its own reply (on its stack).
const CALLER_PEEK: usize = 4 * 1024;

/// How often a caller's peek wakes up to check its deadline.
const CALLER_PEEK_TIMEOUT: Duration = Duration::from_millis(50);

/// How often the parked reader thread checks whether callers still use the turn.
const PARKED_CHECK: Duration = Duration::from_millis(2);

/// How long a graceful close waits for the socket lock before skipping the close frame.
const CLOSE_LOCK_WAIT: Duration = Duration::from_millis(50);

/// How large a WebSocket frame made of merged commands grows at most: well under the server's
/// limit for incoming messages (64 KiB by default in Centrifugo). A single larger frame is
/// written as it is.
const MERGED_FRAME_LIMIT: usize = 16 * 1024;

/// The socket and what the reading side remembers between drains.
struct SocketState {
    socket: Socket,
    /// Reused for encoding outgoing frames.
    write_buffer: Vec<u8>,
    /// Reused for merging the commands of several frames into one.
    merge_buffer: Vec<u8>,
    /// The server's close frame, reported once the stream ends.
    close_frame: Option<(u16, String)>,
}

/// Who may read, and what readers must know about each other.
#[derive(Default)]
struct Turn {
    caller_reading: bool,
    thread_draining: bool,
    /// A caller took the turn since the reader thread last looked.
    used_by_caller: bool,
    /// Bumped whenever a caller hands the turn back: peeks from before are stale.
    epoch: u64,
    /// The socket carries the callers' read timeout.
    caller_timeout_set: bool,
    /// How the connection ended, when a caller saw it end.
    ended: Option<TransportEvent>,
}

/// Frames waiting to be written.
///
/// Threads that send while another one writes do not wait for the socket: they queue their
/// frame and go on, and the writing thread, before it lets go, writes everything queued
/// meanwhile in one system call, merged into one WebSocket frame. Eight threads publishing at
/// once so cost the server one frame to read and the kernel one write, not eight.
#[derive(Default)]
struct Outbox {
    queued: Vec<Frame>,
    writing: bool,
}

/// One WebSocket connection, shared by its reader thread, the core thread and callers.
pub(crate) struct Connection {
    state: Mutex<SocketState>,
    outbox: Mutex<Outbox>,
    tcp: TcpStream,
    delivery: Delivery,
    /// Set by `close`: a reader waiting for room in the backlog gives up.
    closing: AtomicBool,
    turn: Mutex<Turn>,
    turn_left: Condvar,
}

impl Connection {
    /// Sends the commands of one encoded frame: written now, or by the thread writing at this
    /// moment, merged with the frames queued meanwhile (see [`Outbox`]). `Ok` means written or
    /// handed to the thread that writes; an error is this thread's own failed write.
    pub(crate) fn send(&self, frame: Frame) -> Result<(), TransportError> {
        {
            let mut outbox = self.outbox.lock();
            outbox.queued.push(frame);
            if outbox.writing {
                return Ok(());
            }
            outbox.writing = true;
        }
        let mut batch = Vec::new();
        loop {
            {
                let mut outbox = self.outbox.lock();
                if outbox.queued.is_empty() {
                    outbox.writing = false;
                    return Ok(());
                }
                std::mem::swap(&mut outbox.queued, &mut batch);
            }
            let written = self.write_batch(&batch);
            batch.clear();
            if let Err(err) = written {
                // The connection is lost; its calls fail when the reader reports the end.
                {
                    let mut outbox = self.outbox.lock();
                    outbox.queued.clear();
                    outbox.writing = false;
                }
                self.after_failed_write(&err);
                return Err(TransportError::with_source("write failed", err));
            }
        }
    }

    /// Writes `frames` with one system call, their commands merged into as few WebSocket frames
    /// as [`MERGED_FRAME_LIMIT`] allows (encoded here, not by tungstenite, which would log
    /// their payloads; see `transport::ws_frame`).
    fn write_batch(&self, frames: &[Frame]) -> std::io::Result<()> {
        let mut state = self.state.lock();
        let state = &mut *state;
        // Whatever tungstenite queued itself (a pong, a close reply) goes first.
        state.socket.flush().map_err(|err| match err {
            tungstenite::Error::Io(err) => err,
            other => std::io::Error::other(other),
        })?;
        state.write_buffer.clear();
        let mut rest = frames;
        while let Some(first) = rest.first() {
            let mut size = first.data.len();
            let mut count = 1;
            while let Some(next) = rest.get(count) {
                if size + 1 + next.data.len() > MERGED_FRAME_LIMIT {
                    break;
                }
                size += 1 + next.data.len();
                count += 1;
            }
            let (group, after) = rest.split_at(count);
            rest = after;
            let opcode = match first.kind {
                FrameKind::Text => Opcode::Text,
                FrameKind::Binary => Opcode::Binary,
            };
            if let [only] = group {
                encode_client_frame(opcode, &only.data, new_mask(), &mut state.write_buffer);
                continue;
            }
            state.merge_buffer.clear();
            for (index, frame) in group.iter().enumerate() {
                // JSON commands are one per line; Protobuf ones carry their own length prefix.
                if index > 0 && frame.kind == FrameKind::Text {
                    state.merge_buffer.push(b'\n');
                }
                state.merge_buffer.extend_from_slice(&frame.data);
            }
            encode_client_frame(opcode, &state.merge_buffer, new_mask(), &mut state.write_buffer);
        }
        let stream = state.socket.get_mut();
        stream.write_all(&state.write_buffer).and_then(|()| stream.flush())
    }

    /// A write failed. When the server closed the connection (a broken pipe, a reset), only
    /// the sending half is shut: the reader still reads what the server sent before, its close
    /// frame naming why (1009 for a message over its limit, say), and reports the end. Any other
    /// failure (the write timed out: the server does not read) closes the connection.
    fn after_failed_write(&self, err: &std::io::Error) {
        match err.kind() {
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                let _ = self.tcp.shutdown(Shutdown::Write);
            }
            _ => self.close(),
        }
    }

    /// Closes the connection: a close frame if the socket is free right now, then a shutdown,
    /// which also wakes whoever waits in a peek.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        if let Some(mut state) = self.state.try_lock_for(CLOSE_LOCK_WAIT) {
            if self.tcp.set_nonblocking(true).is_ok() {
                let _ = state.socket.close(None);
                let _ = state.socket.flush();
                let _ = self.tcp.set_nonblocking(false);
            }
        }
        let _ = self.tcp.shutdown(Shutdown::Both);
    }

    /// Reads on behalf of a lone caller until `answered` says its answer has arrived or
    /// `deadline` passes. Does nothing when the turn is taken (then the reader thread, or the
    /// caller that reads, delivers the answer as usual).
    pub(crate) fn read_for_caller(&self, route: &CallRoute, deadline: Instant, answered: &dyn Fn() -> bool) {
        {
            let mut turn = self.turn.lock();
            if turn.caller_reading
                || turn.thread_draining
                || turn.ended.is_some()
                || self.delivery.backlog.is_full()
            {
                return;
            }
            if !turn.caller_timeout_set {
                if self.tcp.set_read_timeout(Some(CALLER_PEEK_TIMEOUT)).is_err() {
                    return;
                }
                turn.caller_timeout_set = true;
            }
            turn.caller_reading = true;
            turn.used_by_caller = true;
        }
        let mut ended = None;
        let mut scratch = [0u8; CALLER_PEEK];
        while !answered() && Instant::now() < deadline && !self.delivery.backlog.is_full() {
            let arrived = match self.tcp.peek(&mut scratch) {
                Ok(0) => usize::MAX,
                Ok(bytes) => bytes,
                Err(err) if is_retry(&err) => continue,
                Err(err) => {
                    ended = Some(read_failed(err, &mut self.state.lock().close_frame));
                    break;
                }
            };
            if let Some(end) = self.drain(arrived, route) {
                ended = Some(end);
                break;
            }
        }
        let mut turn = self.turn.lock();
        turn.caller_reading = false;
        turn.epoch += 1;
        // Calls that started while we read are not alone and do not read for themselves:
        // the reader thread must take over now, not after its parked check.
        let others_wait = route.has_pending();
        if others_wait {
            turn.used_by_caller = false;
        }
        if ended.is_some() || others_wait {
            turn.ended = ended;
            self.turn_left.notify_all();
        }
    }

    /// The reader thread's loop: read until the connection ends; returns how it ended.
    fn read_until_closed(&self, route: &CallRoute) -> TransportEvent {
        let mut scratch = vec![0u8; READER_PEEK];
        // The first drain reads nothing from the socket but handles frames that arrived
        // together with the handshake response and already sit in tungstenite's buffer.
        let mut arrived = 0;
        let mut epoch = self.turn.lock().epoch;
        loop {
            let ours = {
                let mut turn = self.turn.lock();
                if let Some(end) = turn.ended.take() {
                    return end;
                }
                if turn.epoch != epoch {
                    // A caller drained since our peek: what it counted may be gone.
                    arrived = 0;
                }
                turn.thread_draining = !turn.caller_reading;
                turn.thread_draining
            };
            if ours {
                #[cfg(feature = "_test-hooks")]
                crate::test_hooks::reader_reached_a_drain();
                let drained = self.drain(arrived, route);
                self.turn.lock().thread_draining = false;
                if let Some(end) = drained {
                    return end;
                }
            }
            self.delivery.backlog.wait_for_room(|| self.closing.load(Ordering::Acquire));
            epoch = match self.wait_for_turn(route) {
                Ok(epoch) => epoch,
                Err(end) => return end,
            };
            arrived = match self.tcp.peek(&mut scratch) {
                // End of stream: the next drain lets the WebSocket see it.
                Ok(0) => usize::MAX,
                Ok(bytes) => bytes,
                // WouldBlock: a caller's read timeout came along, or `close` switched the
                // socket for a moment; look again.
                Err(err) if is_retry(&err) => 0,
                Err(err) => return read_failed(err, &mut self.state.lock().close_frame),
            };
        }
    }

    /// Parks the reader thread while callers use the turn; returns the epoch to peek at, or
    /// how the connection ended.
    fn wait_for_turn(&self, route: &CallRoute) -> Result<u64, TransportEvent> {
        let mut turn = self.turn.lock();
        loop {
            if let Some(end) = turn.ended.take() {
                return Err(end);
            }
            // Calls waiting while no caller reads would wait for the parked check.
            if !turn.caller_reading && (!turn.used_by_caller || route.has_pending()) {
                break;
            }
            turn.used_by_caller = false;
            self.turn_left.wait_for(&mut turn, PARKED_CHECK);
        }
        if turn.caller_timeout_set {
            // Our own peeks wait without a timeout; no caller reads right now.
            if self.tcp.set_read_timeout(None).is_ok() {
                turn.caller_timeout_set = false;
            }
        }
        Ok(turn.epoch)
    }

    /// Reads the `arrived` bytes and handles every complete frame in them. `Some` when the
    /// connection has ended.
    ///
    /// Frames are only collected under the socket lock; they are decoded and delivered after
    /// it is released, so that a caller woken by its reply can write its next command at once.
    fn drain(&self, arrived: usize, route: &CallRoute) -> Option<TransportEvent> {
        let mut frames = Vec::new();
        let end = {
            let mut state = self.state.lock();
            let state = &mut *state;
            state.socket.get_mut().allow_reads(arrived);
            loop {
                match state.socket.read() {
                    Ok(Message::Text(text)) => {
                        frames.push(Frame { kind: FrameKind::Text, data: Bytes::from(text) })
                    }
                    Ok(Message::Binary(data)) => frames.push(Frame { kind: FrameKind::Binary, data }),
                    Ok(Message::Close(close)) => {
                        state.close_frame =
                            close.map(|close| (u16::from(close.code), close.reason.to_string()));
                    }
                    Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                    Err(tungstenite::Error::Io(err)) if err.kind() == ErrorKind::WouldBlock => break None,
                    Err(err) => break Some(ended(err, &mut state.close_frame)),
                }
            }
        };
        for frame in frames {
            match self.delivery.decode(&frame) {
                Ok((replies, bytes)) => self.delivery.deliver(replies, bytes, route),
                Err(err) => return Some(TransportEvent::ProtocolError(err.to_string())),
            }
        }
        end
    }
}

impl Link for Connection {
    fn send(&self, frame: Frame) -> Result<(), TransportError> {
        Connection::send(self, frame)
    }

    fn read_for_caller(&self, route: &CallRoute, deadline: Instant, answered: &dyn Fn() -> bool) {
        Connection::read_for_caller(self, route, deadline, answered)
    }

    fn close(&self) {
        Connection::close(self)
    }
}

/// Dials the WebSocket `endpoint` (its `Arc` goes to `opened` as soon as it exists, so that
/// the thread body can shut the socket down whatever happens) and reads until the end;
/// returns how the connection ended.
pub(super) fn dial_and_read(
    transport: &TransportConfig,
    endpoint: &Endpoint,
    control: &DialControl,
    route: &CallRoute,
    delivery: Delivery,
    opened: &OnceLock<Arc<dyn Link>>,
) -> TransportEvent {
    let dialed = match transport::dial(transport, endpoint, control) {
        Err(error) => return TransportEvent::DialFailed(error),
        Ok(dialed) => dialed,
    };
    let connection = Arc::new(Connection {
        state: Mutex::new(SocketState {
            socket: dialed.socket,
            write_buffer: Vec::new(),
            merge_buffer: Vec::new(),
            close_frame: None,
        }),
        outbox: Mutex::new(Outbox::default()),
        tcp: dialed.tcp,
        delivery,
        closing: AtomicBool::new(false),
        turn: Mutex::new(Turn::default()),
        turn_left: Condvar::new(),
    });
    let _ = opened.set(Arc::clone(&connection) as Arc<dyn Link>);
    connection.delivery.report(TransportEvent::Opened(Arc::clone(&connection) as Arc<dyn Link>));
    connection.read_until_closed(route)
}

/// Errors of a peek that only mean "look again".
fn is_retry(err: &std::io::Error) -> bool {
    matches!(err.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn read_failed(err: std::io::Error, close_frame: &mut Option<(u16, String)>) -> TransportEvent {
    closed_with_error(TransportError::with_source("read failed", err), close_frame)
}

/// The connection ended with an I/O error. After the server's close frame that error is only
/// the echo of the close (a reset, or a broken pipe when the close reply is written): the close
/// frame names the cause (1009 message too big, a 3xxx code), so the error is not reported.
fn closed_with_error(error: TransportError, close_frame: &mut Option<(u16, String)>) -> TransportEvent {
    let close = close_frame.take();
    let error = if close.is_some() {
        log::debug!("after the server's close frame: {error}");
        None
    } else {
        Some(error)
    };
    TransportEvent::Closed { close, error }
}

/// How a read error ends the connection.
fn ended(error: tungstenite::Error, close_frame: &mut Option<(u16, String)>) -> TransportEvent {
    match error {
        tungstenite::Error::Io(err) => read_failed(err, close_frame),
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            TransportEvent::Closed { close: close_frame.take(), error: None }
        }
        tungstenite::Error::Capacity(err) => {
            TransportEvent::ProtocolError(format!("the server sent a message over max_message_size: {err}"))
        }
        other => TransportEvent::ProtocolError(format!("invalid WebSocket data: {other}")),
    }
}
