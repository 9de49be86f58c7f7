//! A scripted fake Centrifugo, for what the real one will not do on demand: malformed frames,
//! silence, odd close codes.
//!
//! Each accepted connection runs the script on its own thread with a [`FakeConnection`] and
//! the connection's index (0 for the first the client made, 1 after its first reconnect, …).
//! The server listens on 127.0.0.1:0 and stops accepting when dropped. Scripts assert what the
//! client sent; an assertion failing on a connection thread would only be printed, so the
//! server keeps every connection thread and, when dropped, fails the test if one panicked.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use centrifuge_blocking::Protocol;
use centrifuge_blocking::unversioned::{
    Codec, Command, ConnectResult, Frame, FrameKind, PublishResult, Reply, RpcResult,
};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, Utf8Bytes, WebSocket};

/// How long a script waits for the client before failing.
const SCRIPT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a dropped server waits for its scripts to end. Once the client is gone a script's
/// read fails at once; a script still reading a live client ends by its read timeout.
const SCRIPTS_END_WITHIN: Duration = Duration::from_secs(SCRIPT_READ_TIMEOUT.as_secs() + 2);

pub struct FakeServer {
    port: u16,
    stopping: Arc<AtomicBool>,
    accepts: Option<JoinHandle<()>>,
    scripts: Arc<Scripts>,
}

/// The connection threads, and a signal from each as it ends (also when it panics).
#[derive(Default)]
struct Scripts {
    threads: Mutex<Vec<JoinHandle<()>>>,
    ended: Mutex<Option<crossbeam_channel::Receiver<()>>>,
}

/// Sends on drop: the thread holding it has ended, normally or by a panic.
struct EndSignal(crossbeam_channel::Sender<()>);

impl Drop for EndSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

impl FakeServer {
    /// Starts a server speaking `protocol` that runs `script` for every connection.
    pub fn start(
        protocol: Protocol,
        script: impl Fn(usize, FakeConnection) + Send + Sync + 'static,
    ) -> FakeServer {
        FakeServer::start_with_tls(protocol, None, script)
    }

    /// Starts a `wss://` server with the test certificate (`tests/data/tls`).
    pub fn start_tls(
        protocol: Protocol,
        script: impl Fn(usize, FakeConnection) + Send + Sync + 'static,
    ) -> FakeServer {
        let certificate =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/server.pem")).unwrap();
        let key = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/server.key")).unwrap();
        let identity = native_tls::Identity::from_pkcs8(&certificate, &key).expect("the test identity loads");
        let acceptor = native_tls::TlsAcceptor::new(identity).expect("a TLS acceptor");
        FakeServer::start_with_tls(protocol, Some(Arc::new(acceptor)), script)
    }

    fn start_with_tls(
        protocol: Protocol,
        tls: Option<Arc<native_tls::TlsAcceptor>>,
        script: impl Fn(usize, FakeConnection) + Send + Sync + 'static,
    ) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake server");
        let port = listener.local_addr().expect("a local address").port();
        let stopping = Arc::new(AtomicBool::new(false));
        let script = Arc::new(script);
        let stop = Arc::clone(&stopping);
        let (ended_sender, ended) = crossbeam_channel::unbounded();
        let scripts = Arc::new(Scripts { threads: Mutex::default(), ended: Mutex::new(Some(ended)) });
        let threads = Arc::clone(&scripts);
        let accepts = std::thread::Builder::new()
            .name("fake-server".into())
            .spawn(move || {
                let count = AtomicUsize::new(0);
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let index = count.fetch_add(1, Ordering::SeqCst);
                    let script = Arc::clone(&script);
                    let tls = tls.clone();
                    let signal = EndSignal(ended_sender.clone());
                    let thread = std::thread::Builder::new()
                        .name(format!("fake-conn-{index}"))
                        .spawn(move || {
                            let _signal = signal;
                            if let Some(connection) = FakeConnection::accept(stream, protocol, tls.as_deref())
                            {
                                script(index, connection);
                            }
                        })
                        .expect("spawn a fake server connection");
                    threads.threads.lock().unwrap().push(thread);
                }
            })
            .expect("spawn the fake server");
        FakeServer { port, stopping, accepts: Some(accepts), scripts }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/connection/websocket", self.port)
    }

    /// The `wss://` URL, for a server started with [`FakeServer::start_tls`].
    pub fn tls_url(&self) -> String {
        format!("wss://localhost:{}/connection/websocket", self.port)
    }
}

impl FakeServer {
    /// Waits (bounded) for the scripts to end and returns the panic message of each that
    /// panicked.
    fn script_panics(&self) -> Vec<String> {
        let threads: Vec<JoinHandle<()>> = std::mem::take(&mut *self.scripts.threads.lock().unwrap());
        let deadline = Instant::now() + SCRIPTS_END_WITHIN;
        if let Some(ended) = self.scripts.ended.lock().unwrap().take() {
            for _ in 0..threads.len() {
                if ended.recv_deadline(deadline).is_err() {
                    break;
                }
            }
        }
        // A script signals its end while its thread unwinds: the thread itself finishes a
        // moment later. Give that moment (bounded) before calling a script still running.
        let settle = Instant::now() + Duration::from_secs(1);
        while threads.iter().any(|thread| !thread.is_finished()) && Instant::now() < settle {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut panics = Vec::new();
        for thread in threads {
            let name = thread.thread().name().unwrap_or("fake-conn").to_string();
            if !thread.is_finished() {
                panics.push(format!("{name} still runs its script after {SCRIPTS_END_WITHIN:?}"));
            } else if let Err(payload) = thread.join() {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|text| text.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                panics.push(format!("{name} panicked: {message}"));
            }
        }
        panics
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accepts) = self.accepts.take() {
            let _ = accepts.join();
        }
        // A test that fails already has its message; a second panic would abort the process.
        if std::thread::panicking() {
            return;
        }
        let panics = self.script_panics();
        assert!(panics.is_empty(), "a scripted connection failed: {panics:#?}");
    }
}

/// Plain TCP or TLS, server side.
pub enum ServerStream {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
}

impl Read for ServerStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            ServerStream::Plain(stream) => stream.read(buf),
            ServerStream::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for ServerStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            ServerStream::Plain(stream) => stream.write(buf),
            ServerStream::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ServerStream::Plain(stream) => stream.flush(),
            ServerStream::Tls(stream) => stream.flush(),
        }
    }
}

/// One client connection, seen from the server.
pub struct FakeConnection {
    socket: WebSocket<ServerStream>,
    codec: Codec,
    headers: Vec<(String, String)>,
}

impl FakeConnection {
    fn accept(
        stream: TcpStream,
        protocol: Protocol,
        tls: Option<&native_tls::TlsAcceptor>,
    ) -> Option<FakeConnection> {
        stream.set_read_timeout(Some(SCRIPT_READ_TIMEOUT)).ok()?;
        let stream = match tls {
            Some(acceptor) => ServerStream::Tls(Box::new(acceptor.accept(stream).ok()?)),
            None => ServerStream::Plain(stream),
        };
        let mut headers = Vec::new();
        // The error type is tungstenite's, fixed by its callback signature.
        #[allow(clippy::result_large_err)]
        let record_and_echo = |request: &Request, response: Response| {
            headers = request
                .headers()
                .iter()
                .map(|(name, value)| {
                    (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned())
                })
                .collect();
            echo_subprotocol(request, response)
        };
        let socket = tungstenite::accept_hdr(stream, record_and_echo).ok()?;
        Some(FakeConnection { socket, codec: Codec::new(protocol, Codec::DEFAULT_MAX_MESSAGE_SIZE), headers })
    }

    /// The value of a header of the client's upgrade request (names are lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The commands of the next frame from the client; empty when the client went away.
    pub fn read_commands(&mut self) -> Vec<Command> {
        loop {
            let frame = match self.socket.read() {
                Ok(Message::Text(text)) => Frame { kind: FrameKind::Text, data: Bytes::from(text) },
                Ok(Message::Binary(data)) => Frame { kind: FrameKind::Binary, data },
                Ok(_) => continue,
                Err(_) => return Vec::new(),
            };
            let mut commands = Vec::new();
            if let Err(err) = self.codec.decode(&frame, &mut commands) {
                panic!("the client's frame does not decode ({err}): {:?}", frame.data);
            }
            return commands;
        }
    }

    /// Waits until at least `bytes` sent by the client sit unread in the socket, at most
    /// `timeout` (plain TCP only): with a message larger than the socket buffers, a sign that
    /// the client is blocked in its write.
    pub fn wait_until_unread(&self, bytes: usize, timeout: Duration) -> bool {
        let ServerStream::Plain(stream) = self.socket.get_ref() else { return false };
        let deadline = std::time::Instant::now() + timeout;
        let mut scratch = vec![0u8; bytes];
        while std::time::Instant::now() < deadline {
            match stream.peek(&mut scratch) {
                Ok(unread) if unread >= bytes => return true,
                Ok(0) => return false,
                Ok(_) => std::thread::yield_now(),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// Reads the connect command and answers it with `result`.
    pub fn accept_connect(&mut self, result: ConnectResult) {
        let commands = self.read_commands();
        let connect = commands.first().expect("the client sends a frame");
        assert!(connect.connect.is_some(), "the first command is connect: {connect:?}");
        self.reply(&[Reply { id: connect.id, connect: Some(Box::new(result)), ..Default::default() }]);
    }

    /// Sends replies (or pushes, or pings) as one frame.
    pub fn reply(&mut self, replies: &[Reply]) {
        let frame = self.codec.encode(replies).expect("replies encode");
        self.send_frame(frame.kind, frame.data);
    }

    /// Sends any bytes as a text or binary frame.
    pub fn send_frame(&mut self, kind: FrameKind, data: Bytes) {
        let message = match kind {
            FrameKind::Text => Message::Text(Utf8Bytes::try_from(data).expect("text frames are UTF-8")),
            FrameKind::Binary => Message::Binary(data),
        };
        let _ = self.socket.send(message);
    }

    /// Sends any WebSocket message as is (e.g. a raw frame with invalid UTF-8).
    pub fn send_message(&mut self, message: Message) {
        let _ = self.socket.send(message);
    }

    /// Ends the TCP connection without a closing handshake.
    pub fn drop_abruptly(self) {
        let stream = match self.socket.get_ref() {
            ServerStream::Plain(stream) => stream.try_clone(),
            ServerStream::Tls(stream) => stream.get_ref().try_clone(),
        };
        if let Ok(stream) = stream {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Closes with a WebSocket close code and reason.
    pub fn close(&mut self, code: u16, reason: &str) {
        let _ = self.socket.close(Some(CloseFrame { code: CloseCode::from(code), reason: reason.into() }));
        let _ = self.socket.flush();
        // Let the closing handshake finish.
        while self.socket.read().is_ok() {}
    }

    /// Answers every RPC with its own data and publishes with success, until the client goes
    /// away.
    pub fn serve_echo(&mut self) {
        loop {
            let commands = self.read_commands();
            if commands.is_empty() {
                return;
            }
            let replies: Vec<Reply> = commands
                .iter()
                .filter(|command| command.id > 0)
                .map(|command| Reply {
                    id: command.id,
                    rpc: command.rpc.as_ref().map(|rpc| RpcResult { data: rpc.data.clone() }),
                    publish: command.publish.as_ref().map(|_| PublishResult {}),
                    ..Default::default()
                })
                .collect();
            if !replies.is_empty() {
                self.reply(&replies);
            }
        }
    }

    /// Reads (and ignores) everything until the client goes away, or is silent for the
    /// script's read timeout.
    pub fn idle_until_gone(&mut self) {
        while self.socket.read().is_ok() {}
    }
}

/// Accepts the subprotocol the client asked for (the Protobuf one), as Centrifugo does.
// The error type is tungstenite's, fixed by its callback signature.
#[allow(clippy::result_large_err)]
fn echo_subprotocol(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    if let Some(asked) = request.headers().get("Sec-WebSocket-Protocol") {
        response.headers_mut().insert("Sec-WebSocket-Protocol", asked.clone());
    }
    Ok(response)
}

/// A connect result for a client named `client`, with pings every `ping` seconds.
pub fn connect_result(client: &str, ping: u32) -> ConnectResult {
    ConnectResult {
        client: client.into(),
        version: "fake".into(),
        ping,
        pong: ping > 0,
        ..Default::default()
    }
}
