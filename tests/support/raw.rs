//! A raw protocol connection: a tungstenite socket driven by the crate's codec, no client logic.

use std::collections::VecDeque;
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use centrifuge_blocking::unversioned::{
    Codec, Command, ConnectRequest, ConnectResult, Frame, FrameKind, Protocol, Push, Reply,
};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, Utf8Bytes, WebSocket};

/// How long a test waits for any single frame before it fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RawConnection {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    codec: Codec,
    next_id: u32,
    pushes: VecDeque<Push>,
    replies: VecDeque<Reply>,
    answer_pings: bool,
}

impl RawConnection {
    /// Opens a WebSocket to `url` in `format` (no connect command yet).
    pub fn open(url: &str, format: Protocol) -> RawConnection {
        let mut request = url.into_client_request().expect("a valid URL");
        if format == Protocol::Protobuf {
            request.headers_mut().insert("Sec-WebSocket-Protocol", "centrifuge-protobuf".parse().unwrap());
        }
        let (socket, _response) = tungstenite::connect(request).expect("WebSocket handshake");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(READ_TIMEOUT)).expect("set a read timeout");
        }
        RawConnection {
            socket,
            codec: Codec::new(format, Codec::DEFAULT_MAX_MESSAGE_SIZE),
            next_id: 1,
            pushes: VecDeque::new(),
            replies: VecDeque::new(),
            answer_pings: false,
        }
    }

    /// Opens and sends `connect`; returns the connection and the connect result.
    pub fn connect(url: &str, format: Protocol, token: &str) -> (RawConnection, ConnectResult) {
        let mut connection = RawConnection::open(url, format);
        let reply = connection.request(Command {
            connect: Some(Box::new(ConnectRequest {
                token: token.into(),
                name: "raw-test".into(),
                ..Default::default()
            })),
            ..Default::default()
        });
        let result = reply.connect.unwrap_or_else(|| panic!("connect failed: {:?}", reply.error));
        connection.answer_pings = result.pong;
        (connection, *result)
    }

    /// Sends `command` with the next id and waits for the reply with that id.
    pub fn request(&mut self, mut command: Command) -> Reply {
        command.id = self.next_id;
        self.next_id += 1;
        self.send(&[command.clone()]);
        loop {
            if let Some(index) = self.replies.iter().position(|reply| reply.id == command.id) {
                return self.replies.remove(index).expect("the index exists");
            }
            self.read_frame();
        }
    }

    /// Sends commands as one frame.
    pub fn send(&mut self, commands: &[Command]) {
        let frame = self.codec.encode(commands).expect("commands encode");
        let message = match frame.kind {
            FrameKind::Text => Message::Text(Utf8Bytes::try_from(frame.data).expect("JSON frames are UTF-8")),
            FrameKind::Binary => Message::Binary(frame.data),
        };
        self.socket.send(message).expect("send a frame");
    }

    /// Sends `commands` as one frame, each with the next id.
    pub fn send_numbered(&mut self, mut commands: Vec<Command>) {
        for command in &mut commands {
            command.id = self.next_id;
            self.next_id += 1;
        }
        self.send(&commands);
    }

    /// The replies that have come so far, reading one frame first if none has.
    pub fn take_replies(&mut self) -> Vec<Reply> {
        if self.replies.is_empty() {
            self.read_frame();
        }
        self.replies.drain(..).collect()
    }

    /// The next push, reading frames as needed.
    pub fn next_push(&mut self) -> Push {
        loop {
            if let Some(push) = self.pushes.pop_front() {
                return push;
            }
            self.read_frame();
        }
    }

    /// The bare socket, for reading frames without decoding them, and how many pushes were
    /// already read and decoded.
    pub fn into_socket(self) -> (WebSocket<MaybeTlsStream<TcpStream>>, usize) {
        (self.socket, self.pushes.len())
    }

    /// Reads until the server closes the connection; returns the close code and reason.
    pub fn expect_close(&mut self) -> (u16, String) {
        loop {
            match self.socket.read().expect("read a frame (the server closes within the timeout)") {
                Message::Close(Some(close)) => return (u16::from(close.code), close.reason.to_string()),
                Message::Close(None) => return (0, String::new()),
                _ => continue,
            }
        }
    }

    /// Reads one data frame and sorts its messages into replies and pushes.
    fn read_frame(&mut self) {
        let frame = match self.socket.read().expect("read a frame (the server answers within the timeout)") {
            Message::Text(text) => Frame { kind: FrameKind::Text, data: Bytes::from(text) },
            Message::Binary(data) => Frame { kind: FrameKind::Binary, data },
            Message::Close(close) => panic!("server closed the connection: {close:?}"),
            _ => return,
        };
        let mut replies: Vec<Reply> = Vec::new();
        self.codec.decode(&frame, &mut replies).expect("the server's frame decodes");
        for reply in replies {
            if reply.id > 0 {
                self.replies.push_back(reply);
            } else if let Some(push) = reply.push {
                self.pushes.push_back(push);
            } else if self.answer_pings {
                self.send(&[Command::default()]);
            }
        }
    }
}
