//! A scripted HTTP server for the HTTP transports, for what Centrifugo will not do on demand:
//! broken chunked bodies, endless heads, redirects, HTML pages, streams cut short.
//!
//! Each accepted connection reads one request (head and `Content-Length` body) and runs the
//! script with the connection's index (0 for the first the client made) and a writer. The
//! server listens on 127.0.0.1:0; when dropped it stops accepting, joins the script threads,
//! and fails the test if a script panicked (an assertion inside a script counts).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as the fake server read it.
#[derive(Debug)]
pub struct HttpRequest {
    pub method: String,
    pub target: String,
    pub head: String,
    pub body: Vec<u8>,
}

pub struct HttpFake {
    port: u16,
    stopping: Arc<AtomicBool>,
    accepts: Option<JoinHandle<()>>,
    scripts: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl HttpFake {
    /// Starts a server that runs `script` for every connection.
    pub fn start(script: impl Fn(usize, HttpRequest, &mut TcpStream) + Send + Sync + 'static) -> HttpFake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake HTTP server");
        let port = listener.local_addr().unwrap().port();
        let stopping = Arc::new(AtomicBool::new(false));
        let scripts = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let (stop, running) = (Arc::clone(&stopping), Arc::clone(&scripts));
        let accepts = std::thread::spawn(move || {
            let count = AtomicUsize::new(0);
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let index = count.fetch_add(1, Ordering::SeqCst);
                let script = Arc::clone(&script);
                running.lock().unwrap().push(std::thread::spawn(move || {
                    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    if let Some(request) = read_request(&mut stream) {
                        script(index, request, &mut stream);
                    }
                    let _ = stream.shutdown(Shutdown::Both);
                }));
            }
        });
        HttpFake { port, stopping, accepts: Some(accepts), scripts }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for HttpFake {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accepts) = self.accepts.take() {
            let _ = accepts.join();
        }
        let panicked =
            self.scripts.lock().unwrap().drain(..).map(JoinHandle::join).filter(Result::is_err).count();
        if panicked > 0 && !std::thread::panicking() {
            panic!("{panicked} fake HTTP server script(s) panicked; see their output above");
        }
    }
}

/// Reads a request head, up to and with its blank line, byte by byte so that nothing after it
/// is taken from the stream; `None` when the stream ends first.
pub fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(head)
}

/// Reads one request: the head, then as many body bytes as `Content-Length` says.
fn read_request(stream: &mut TcpStream) -> Option<HttpRequest> {
    let head = String::from_utf8_lossy(&read_head(stream)?).into_owned();
    let mut words = head.split_whitespace();
    let (method, target) = (words.next()?.to_string(), words.next()?.to_string());
    let length: usize = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
        })
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(HttpRequest { method, target, head, body })
}

/// Writes a chunked response head (200, no content type sniffing games).
pub fn chunked_head(stream: &mut TcpStream, content_type: &str) {
    let head =
        format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
}

/// Writes one chunk.
pub fn chunk(stream: &mut TcpStream, data: &[u8]) {
    let _ = stream.write_all(format!("{:x}\r\n", data.len()).as_bytes());
    let _ = stream.write_all(data);
    let _ = stream.write_all(b"\r\n");
}

/// The id of the connect command in a JSON HTTP-streaming request body.
pub fn connect_id(request: &HttpRequest) -> u64 {
    let command: serde_json::Value = serde_json::from_slice(&request.body).expect("a JSON connect command");
    assert!(command.get("connect").is_some(), "the stream request carries the connect command: {command}");
    command["id"].as_u64().expect("the connect command has an id")
}

/// A JSON connect reply line for command `id`.
pub fn connect_reply(id: u64, client: &str) -> Vec<u8> {
    format!("{{\"id\":{id},\"connect\":{{\"client\":\"{client}\",\"version\":\"fake\",\"session\":\"s\",\"node\":\"n\"}}}}\n")
        .into_bytes()
}
