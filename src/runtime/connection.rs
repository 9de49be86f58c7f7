//! One connection: its reader thread, and the handle the core thread writes through.
//!
//! A tungstenite `WebSocket` cannot be split, and a TLS stream cannot be read and written from
//! two threads at once, yet a write must never wait for a read to time out. So the reader
//! waits for input with a blocking `peek` on its own clone of the TCP socket, **outside** the
//! socket lock; when bytes arrive it takes the lock, switches the socket to non-blocking and
//! reads every complete frame until `WouldBlock`, then switches back and lets go. Writers
//! (the core thread) take the same lock and write at once, blocking mode, bounded by the
//! socket's write timeout. An idle connection costs no wake-ups at all: the reader sleeps in
//! the kernel until the server sends something.

use std::io::ErrorKind;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::Sender;
use parking_lot::Mutex;
use tungstenite::error::ProtocolError;
use tungstenite::{Message, Utf8Bytes};

use super::{Input, TransportEvent};
use crate::codec::{Codec, Frame, FrameKind};
use crate::error::TransportError;
use crate::protocol::Reply;
use crate::transport::{self, DialControl, Socket, TransportConfig};

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
            let outcome = read_until_closed(&connection, &probe, codec, &report);
            report(outcome);
            let _ = probe.shutdown(Shutdown::Both);
        }
    }
    report(TransportEvent::Ended);
}

/// Reads frames until the connection ends; returns how it ended.
fn read_until_closed(
    connection: &Connection,
    probe: &TcpStream,
    codec: Codec,
    report: &impl Fn(TransportEvent),
) -> TransportEvent {
    let mut close_frame = None;
    loop {
        // Frames may already sit in tungstenite's buffer (read along with the handshake, or
        // in the same segment as the last frame), so drain before waiting.
        if let Some(end) = drain(connection, codec, report, &mut close_frame) {
            return end;
        }
        let mut byte = [0u8; 1];
        match probe.peek(&mut byte) {
            // End of stream: one more drain picks up what came with it, then it is over.
            Ok(0) => {
                return drain(connection, codec, report, &mut close_frame)
                    .unwrap_or(TransportEvent::Closed { close: close_frame, error: None });
            }
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => {
                return TransportEvent::Closed {
                    close: close_frame,
                    error: Some(TransportError::with_source("read failed", err)),
                };
            }
        }
    }
}

/// Reads every complete frame available now. `Some` when the connection has ended.
fn drain(
    connection: &Connection,
    codec: Codec,
    report: &impl Fn(TransportEvent),
    close_frame: &mut Option<(u16, String)>,
) -> Option<TransportEvent> {
    let mut socket = connection.socket.lock();
    if let Err(err) = connection.tcp.set_nonblocking(true) {
        return Some(TransportEvent::Closed {
            close: close_frame.take(),
            error: Some(TransportError::with_source("cannot switch the socket to non-blocking", err)),
        });
    }
    let end = loop {
        let message = match socket.read() {
            Ok(message) => message,
            Err(tungstenite::Error::Io(err)) if err.kind() == ErrorKind::WouldBlock => break None,
            Err(err) => break Some(ended(err, close_frame)),
        };
        let frame = match message {
            Message::Text(text) => Frame { kind: FrameKind::Text, data: Bytes::from(text) },
            Message::Binary(data) => Frame { kind: FrameKind::Binary, data },
            Message::Close(close) => {
                *close_frame = close.map(|close| (u16::from(close.code), close.reason.to_string()));
                continue;
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        };
        let mut replies: Vec<Reply> = Vec::new();
        match codec.decode(&frame, &mut replies) {
            Ok(()) if replies.is_empty() => {}
            Ok(()) => report(TransportEvent::Frame(replies)),
            Err(err) => break Some(TransportEvent::ProtocolError(err.to_string())),
        }
    };
    let _ = connection.tcp.set_nonblocking(false);
    end
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
