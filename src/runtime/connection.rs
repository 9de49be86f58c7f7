//! One connection: its reader thread, and the handle the core thread writes through.
//!
//! A tungstenite `WebSocket` cannot be split, and a TLS stream cannot be read and written from
//! two threads at once, yet a write must never wait for a read to time out. So the reader
//! waits for input with a blocking `peek` on its own clone of the TCP socket, **outside** the
//! socket lock. The peek also tells how many bytes arrived; the reader takes the lock, lets the
//! WebSocket read exactly those bytes (the stream answers `WouldBlock` past that budget,
//! without a system call), collects the complete frames, lets go, and only then decodes and
//! delivers them. Writers (callers and the core thread) take the same lock and write at once;
//! the socket stays in blocking mode, bounded by its write timeout. An idle connection costs no wake-ups at all: the reader sleeps
//! in the kernel until the server sends something.

use std::io::ErrorKind;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::Sender;
use parking_lot::Mutex;
use tungstenite::error::ProtocolError;
use tungstenite::{Message, Utf8Bytes};

use super::route::CallRoute;
use super::{Input, TransportEvent};
use crate::codec::{Codec, Frame, FrameKind};
use crate::core::call_result;
use crate::error::TransportError;
use crate::protocol::Reply;
use crate::transport::{self, DialControl, Socket, TransportConfig};

/// How many arrived bytes one peek reports at most (more simply take another round).
const PEEK_BUFFER: usize = 64 * 1024;

/// How long a graceful close waits for the socket lock before skipping the close frame.
const CLOSE_LOCK_WAIT: Duration = Duration::from_millis(50);

/// The write side of a connection.
pub(crate) struct Connection {
    socket: Mutex<Socket>,
    tcp: TcpStream,
}

impl Connection {
    /// Writes one frame.
    pub(crate) fn send(&self, frame: Frame) -> Result<(), TransportError> {
        let message = match frame.kind {
            FrameKind::Text => Message::Text(
                Utf8Bytes::try_from(frame.data)
                    .map_err(|err| TransportError::with_source("JSON frame is not UTF-8", err))?,
            ),
            FrameKind::Binary => Message::Binary(frame.data),
        };
        self.socket.lock().send(message).map_err(|err| TransportError::with_source("write failed", err))
    }

    /// Closes the connection: a close frame if the socket is free right now, then a shutdown,
    /// which also wakes the reader.
    pub(crate) fn close(&self) {
        if let Some(mut socket) = self.socket.try_lock_for(CLOSE_LOCK_WAIT) {
            if self.tcp.set_nonblocking(true).is_ok() {
                let _ = socket.close(None);
                let _ = socket.flush();
                let _ = self.tcp.set_nonblocking(false);
            }
        }
        let _ = self.tcp.shutdown(Shutdown::Both);
    }
}

/// The body of a connection thread: dial, report, read until the end.
pub(crate) fn run(
    generation: u64,
    transport: &TransportConfig,
    codec: Codec,
    control: &DialControl,
    route: &CallRoute,
    to_core: &Sender<Input>,
) {
    let report = |event: TransportEvent| {
        let _ = to_core.send(Input::Transport { generation, event });
    };
    match transport::dial(transport, control) {
        Err(error) => report(TransportEvent::DialFailed(error)),
        Ok(dialed) => {
            let probe = dialed.tcp;
            let writer_tcp = match probe.try_clone() {
                Ok(tcp) => tcp,
                Err(err) => {
                    report(TransportEvent::DialFailed(TransportError::with_source(
                        "cannot clone the socket",
                        err,
                    )));
                    report(TransportEvent::Ended);
                    return;
                }
            };
            let connection = Arc::new(Connection { socket: Mutex::new(dialed.socket), tcp: writer_tcp });
            report(TransportEvent::Opened(Arc::clone(&connection)));
            let reader = Reader { connection: &connection, codec, route, report: &report };
            let outcome = reader.read_until_closed(&probe);
            report(outcome);
            let _ = probe.shutdown(Shutdown::Both);
        }
    }
    report(TransportEvent::Ended);
}

/// The reading side of one connection.
struct Reader<'a, R: Fn(TransportEvent)> {
    connection: &'a Connection,
    codec: Codec,
    route: &'a CallRoute,
    report: &'a R,
}

impl<R: Fn(TransportEvent)> Reader<'_, R> {
    /// Reads frames until the connection ends; returns how it ended.
    fn read_until_closed(&self, probe: &TcpStream) -> TransportEvent {
        let mut close_frame = None;
        let mut scratch = vec![0u8; PEEK_BUFFER];
        let mut arrived = 0;
        loop {
            // Frames may already sit in tungstenite's buffer (read along with the handshake),
            // so the first drain comes before any wait.
            if let Some(end) = self.drain(arrived, &mut close_frame) {
                return end;
            }
            match probe.peek(&mut scratch) {
                // End of stream: one more drain lets the WebSocket see it, then it is over.
                Ok(0) => {
                    return self
                        .drain(usize::MAX, &mut close_frame)
                        .unwrap_or(TransportEvent::Closed { close: close_frame, error: None });
                }
                Ok(bytes) => arrived = bytes,
                // WouldBlock: `Connection::close` switched the socket for its close frame; the
                // shutdown that follows ends the wait.
                Err(err) if matches!(err.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {
                    arrived = 0
                }
                Err(err) => {
                    return TransportEvent::Closed {
                        close: close_frame,
                        error: Some(TransportError::with_source("read failed", err)),
                    };
                }
            }
        }
    }

    /// Reads the `arrived` bytes and handles every complete frame in them. `Some` when the
    /// connection has ended.
    ///
    /// Frames are only collected under the socket lock; they are decoded and delivered after
    /// it is released, so that a caller woken by its reply can write its next command at once.
    fn drain(&self, arrived: usize, close_frame: &mut Option<(u16, String)>) -> Option<TransportEvent> {
        let mut frames = Vec::new();
        let end = {
            let mut socket = self.connection.socket.lock();
            socket.get_mut().allow_reads(arrived);
            loop {
                match socket.read() {
                    Ok(Message::Text(text)) => {
                        frames.push(Frame { kind: FrameKind::Text, data: Bytes::from(text) })
                    }
                    Ok(Message::Binary(data)) => frames.push(Frame { kind: FrameKind::Binary, data }),
                    Ok(Message::Close(close)) => {
                        *close_frame = close.map(|close| (u16::from(close.code), close.reason.to_string()));
                    }
                    Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                    Err(tungstenite::Error::Io(err)) if err.kind() == ErrorKind::WouldBlock => break None,
                    Err(err) => break Some(ended(err, close_frame)),
                }
            }
        };
        for frame in frames {
            let mut replies: Vec<Reply> = Vec::new();
            if let Err(err) = self.codec.decode(&frame, &mut replies) {
                return Some(TransportEvent::ProtocolError(err.to_string()));
            }
            self.deliver(replies);
        }
        end
    }

    /// Answers direct callers, forwards the rest to the core.
    fn deliver(&self, mut replies: Vec<Reply>) {
        replies.retain_mut(|reply| {
            if reply.id == 0 {
                return true;
            }
            match self.route.take(reply.id) {
                Some(slot) => {
                    let _ = slot.send(call_result(std::mem::take(reply)));
                    false
                }
                None => true,
            }
        });
        if !replies.is_empty() {
            (self.report)(TransportEvent::Frame(replies));
        }
    }
}

/// How a read error ends the connection.
fn ended(error: tungstenite::Error, close_frame: &mut Option<(u16, String)>) -> TransportEvent {
    let close = close_frame.take();
    match error {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            TransportEvent::Closed { close, error: None }
        }
        tungstenite::Error::Io(err) => {
            TransportEvent::Closed { close, error: Some(TransportError::with_source("read failed", err)) }
        }
        tungstenite::Error::Capacity(err) => {
            TransportEvent::ProtocolError(format!("the server sent a message over max_message_size: {err}"))
        }
        other => TransportEvent::ProtocolError(format!("invalid WebSocket data: {other}")),
    }
}
