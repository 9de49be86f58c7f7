//! A minimal HTTP `CONNECT` proxy on 127.0.0.1:0, with optional basic auth or a refusal of
//! every target, that records the requests it saw; and what proxies share: the accept loop and
//! the two-way copy of a tunnel.

use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Accepts connections on 127.0.0.1:0, each served by `serve` on a thread of its own, until
/// dropped.
pub struct Acceptor {
    port: u16,
    stopping: Arc<AtomicBool>,
    accepts: Option<JoinHandle<()>>,
}

impl Acceptor {
    pub fn start(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> Acceptor {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let serve = Arc::new(serve);
        let accepts = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let serve = Arc::clone(&serve);
                std::thread::spawn(move || serve(client));
            }
        });
        Acceptor { port, stopping, accepts: Some(accepts) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accepts) = self.accepts.take() {
            let _ = accepts.join();
        }
    }
}

/// Copies bytes both ways between `client` and `server` until both directions end.
pub fn pipe(client: TcpStream, server: TcpStream) {
    let (mut client_reader, mut server_writer) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_reader, &mut server_writer);
        let _ = server_writer.shutdown(Shutdown::Write);
    });
    let (mut server_reader, mut client_writer) = (server, client);
    let _ = std::io::copy(&mut server_reader, &mut client_writer);
    let _ = client_writer.shutdown(Shutdown::Write);
    let _ = upstream.join();
}

pub struct ConnectProxy {
    acceptor: Acceptor,
    seen: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    /// Starts a proxy; with `credentials` it wants `Proxy-Authorization: Basic <credentials>`
    /// (already base64) and answers 407 otherwise.
    pub fn start(credentials: Option<&str>) -> ConnectProxy {
        let expected = credentials.map(|c| format!("proxy-authorization: basic {}", c.to_lowercase()));
        ConnectProxy::serving(move |head| match &expected {
            Some(expected) if !head.to_lowercase().lines().any(|line| line.trim() == expected) => {
                Some("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            }
            _ => None,
        })
    }

    /// Starts a proxy that refuses every tunnel with 403, as one whose rules forbid the target.
    pub fn refusing() -> ConnectProxy {
        ConnectProxy::serving(|_| Some("HTTP/1.1 403 Forbidden\r\n\r\n"))
    }

    /// `refusal` says, from the request head, what to answer instead of opening the tunnel.
    fn serving(refusal: impl Fn(&str) -> Option<&'static str> + Send + Sync + 'static) -> ConnectProxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let acceptor = Acceptor::start(move |client| tunnel(client, &log, &refusal));
        ConnectProxy { acceptor, seen }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.acceptor.port())
    }

    /// The request heads received so far.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn tunnel(mut client: TcpStream, log: &Mutex<Vec<String>>, refusal: &dyn Fn(&str) -> Option<&'static str>) {
    let Some(head) = super::http_fake::read_head(&mut client) else { return };
    let head = String::from_utf8_lossy(&head).into_owned();
    log.lock().unwrap().push(head.clone());
    if let Some(answer) = refusal(&head) {
        let _ = client.write_all(answer.as_bytes());
        return;
    }
    let target = head.split_whitespace().nth(1).unwrap_or_default().to_string();
    let Ok(server) = TcpStream::connect(&target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
        return;
    }
    pipe(client, server);
}
