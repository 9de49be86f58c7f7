//! A minimal HTTP `CONNECT` proxy on 127.0.0.1:0, with optional basic auth, that records the
//! requests it saw.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub struct ConnectProxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stopping: Arc<AtomicBool>,
    accepts: Option<JoinHandle<()>>,
}

impl ConnectProxy {
    /// Starts a proxy; with `credentials` it wants `Proxy-Authorization: Basic <credentials>`
    /// (already base64) and answers 407 otherwise.
    pub fn start(credentials: Option<&str>) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let expected = credentials.map(|c| format!("proxy-authorization: basic {}", c.to_lowercase()));
        let (log, stop) = (Arc::clone(&seen), Arc::clone(&stopping));
        let accepts = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (log, expected) = (Arc::clone(&log), expected.clone());
                std::thread::spawn(move || tunnel(client, &log, expected.as_deref()));
            }
        });
        ConnectProxy { port, seen, stopping, accepts: Some(accepts) }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The request heads received so far.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accepts) = self.accepts.take() {
            let _ = accepts.join();
        }
    }
}

fn tunnel(mut client: TcpStream, log: &Mutex<Vec<String>>, expected: Option<&str>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    log.lock().unwrap().push(head.clone());
    let lower = head.to_lowercase();
    if let Some(expected) = expected {
        if !lower.lines().any(|line| line.trim() == expected) {
            let _ = client.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
            return;
        }
    }
    let target = head.split_whitespace().nth(1).unwrap_or_default().to_string();
    let Ok(server) = TcpStream::connect(&target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
        return;
    }
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
