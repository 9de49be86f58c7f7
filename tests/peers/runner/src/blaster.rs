//! The blaster: a minimal server for measuring ingest without Centrifugo's own cost.
//!
//! It answers `connect` and `subscribe` (JSON, or Protobuf when the client asks for the
//! `centrifuge-protobuf` subprotocol), then writes `count` publication pushes for the
//! subscribed channel, `per_frame` to a WebSocket message as Centrifugo batches them under
//! load, as fast as the socket takes them, and idles until the client leaves. The messages are
//! encoded once and written as raw bytes in large chunks, so the blaster spends next to no CPU
//! on the shared machine.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use centrifuge_blocking::unversioned::{
    Codec, Command, ConnectResult, Frame, FrameKind, Protocol, Publication, Push, Reply, SubscribeResult,
};
use tungstenite::handshake::server::{Request, Response};
use tungstenite::{Message, Utf8Bytes, WebSocket};

const PROTOBUF_SUBPROTOCOL: &str = "centrifuge-protobuf";

/// What the blaster sends to every client that subscribes.
#[derive(Clone, Copy, Debug)]
pub struct Stream {
    /// Size of each publication's payload (a JSON object), bytes.
    pub payload: usize,
    /// Publications per connection.
    pub count: u64,
    /// Publications per WebSocket message.
    pub per_frame: usize,
}

/// A running blaster on 127.0.0.1; stops accepting when dropped.
pub struct Blaster {
    port: u16,
    stopping: Arc<AtomicBool>,
    accepts: Option<JoinHandle<()>>,
}

impl Blaster {
    /// Starts a blaster that sends `stream` to every client.
    pub fn start(stream: Stream) -> std::io::Result<Blaster> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stopping = Arc::new(AtomicBool::new(false));
        let accepting = Arc::clone(&stopping);
        let accepts = std::thread::Builder::new().name("blaster".into()).spawn(move || {
            for tcp in listener.incoming() {
                if accepting.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = tcp else { continue };
                std::thread::spawn(move || {
                    if let Err(why) = serve(tcp, stream) {
                        eprintln!("blaster: {why}");
                    }
                });
            }
        })?;
        Ok(Blaster { port, stopping, accepts: Some(accepts) })
    }

    /// The WebSocket endpoint.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/connection/websocket", self.port)
    }
}

impl Drop for Blaster {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accepts) = self.accepts.take() {
            let _ = accepts.join();
        }
    }
}

fn serve(tcp: TcpStream, stream: Stream) -> Result<(), String> {
    tcp.set_nodelay(true).map_err(|err| err.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(60))).map_err(|err| err.to_string())?;
    let mut protocol = Protocol::Json;
    // tungstenite's callback type fixes the large error variant.
    #[allow(clippy::result_large_err)]
    let choose = |request: &Request, mut response: Response| {
        let asked = request
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.split(',').any(|name| name.trim() == PROTOBUF_SUBPROTOCOL));
        if asked {
            protocol = Protocol::Protobuf;
            response.headers_mut().insert("Sec-WebSocket-Protocol", PROTOBUF_SUBPROTOCOL.parse().unwrap());
        }
        Ok(response)
    };
    let mut socket = tungstenite::accept_hdr(tcp, choose).map_err(|err| format!("handshake: {err}"))?;
    let codec = Codec::new(protocol, 64 << 20);
    let mut channel = None;
    while channel.is_none() {
        for command in read_commands(&mut socket, &codec)? {
            let mut reply = Reply { id: command.id, ..Default::default() };
            if command.connect.is_some() {
                reply.connect = Some(Box::new(ConnectResult {
                    client: "blaster".into(),
                    version: "blaster".into(),
                    ..Default::default()
                }));
            } else if let Some(subscribe) = command.subscribe {
                reply.subscribe = Some(Box::new(SubscribeResult::default()));
                channel = Some(subscribe.channel);
            } else {
                continue;
            }
            send(&mut socket, &codec, &[reply])?;
        }
    }
    let channel = channel.unwrap_or_default();
    blast(socket.get_mut(), &codec, &channel, stream)?;
    // Idle until the client goes.
    while socket.read().is_ok() {}
    Ok(())
}

fn read_commands(socket: &mut WebSocket<TcpStream>, codec: &Codec) -> Result<Vec<Command>, String> {
    let frame = match socket.read().map_err(|err| format!("read: {err}"))? {
        Message::Text(text) => Frame { kind: FrameKind::Text, data: Bytes::from(text) },
        Message::Binary(data) => Frame { kind: FrameKind::Binary, data },
        _ => return Ok(Vec::new()),
    };
    let mut commands = Vec::new();
    codec.decode(&frame, &mut commands).map_err(|err| format!("decode: {err}"))?;
    Ok(commands)
}

fn send(socket: &mut WebSocket<TcpStream>, codec: &Codec, replies: &[Reply]) -> Result<(), String> {
    let frame = codec.encode(replies).map_err(|err| format!("encode: {err}"))?;
    let message = match frame.kind {
        FrameKind::Text => Message::Text(Utf8Bytes::try_from(frame.data).map_err(|err| err.to_string())?),
        FrameKind::Binary => Message::Binary(frame.data),
    };
    socket.send(message).map_err(|err| format!("write: {err}"))
}

/// Writes `stream.count` pushes as pre-built WebSocket messages, in chunks of about 256 KiB.
fn blast(tcp: &mut TcpStream, codec: &Codec, channel: &str, stream: Stream) -> Result<(), String> {
    let payload = payload(stream.payload);
    let message = |pushes: usize| -> Result<Vec<u8>, String> {
        let push = Reply {
            push: Some(Push {
                channel: channel.into(),
                r#pub: Some(Publication { data: payload.clone(), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let frame = codec.encode(&vec![push; pushes]).map_err(|err| format!("encode: {err}"))?;
        Ok(websocket_message(frame.kind, &frame.data))
    };
    let per_frame = stream.per_frame.max(1);
    let full = message(per_frame)?;
    let repeat = (256 * 1024 / full.len()).max(1);
    let chunk = full.repeat(repeat);
    let full_frames = stream.count / per_frame as u64;
    let mut left = full_frames;
    while left > 0 {
        let frames = left.min(repeat as u64) as usize;
        tcp.write_all(&chunk[..frames * full.len()]).map_err(|err| format!("write: {err}"))?;
        left -= frames as u64;
    }
    let rest = (stream.count % per_frame as u64) as usize;
    if rest > 0 {
        tcp.write_all(&message(rest)?).map_err(|err| format!("write: {err}"))?;
    }
    tcp.flush().map_err(|err| format!("write: {err}"))
}

/// A JSON object of exactly `size` bytes (at least `{"p":""}`).
fn payload(size: usize) -> Bytes {
    let filler = size.saturating_sub(r#"{"p":""}"#.len());
    Bytes::from(format!(r#"{{"p":"{}"}}"#, "x".repeat(filler)))
}

/// An unmasked server-to-client WebSocket message (one final frame).
fn websocket_message(kind: FrameKind, data: &[u8]) -> Vec<u8> {
    let opcode = match kind {
        FrameKind::Text => 0x81,
        FrameKind::Binary => 0x82,
    };
    let mut message = Vec::with_capacity(data.len() + 10);
    message.push(opcode);
    match data.len() {
        length @ 0..=125 => message.push(length as u8),
        length @ 126..=0xffff => {
            message.push(126);
            message.extend_from_slice(&(length as u16).to_be_bytes());
        }
        length => {
            message.push(127);
            message.extend_from_slice(&(length as u64).to_be_bytes());
        }
    }
    message.extend_from_slice(data);
    message
}
