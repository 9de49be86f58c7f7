//! A captive portal in front of a server: the first connections get a login page (HTTP 200,
//! `text/html`) whatever they ask, later ones are passed through to the server, as when a
//! hotel's Wi-Fi lets the laptop out once the user has logged in.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const PAGE: &str = "<html><body>Log in to use the Wi-Fi</body></html>";

pub struct CaptivePortal {
    port: u16,
    intercepted: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
    accepts: Option<JoinHandle<()>>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl CaptivePortal {
    /// Intercepts the first `intercept` connections, then forwards to `target`.
    pub fn start(target: SocketAddr, intercept: usize) -> CaptivePortal {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the portal");
        let port = listener.local_addr().unwrap().port();
        let intercepted = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let threads = Arc::new(Mutex::new(Vec::new()));
        let live = Arc::new(Mutex::new(Vec::new()));
        let (count, stop, running, streams) =
            (Arc::clone(&intercepted), Arc::clone(&stopping), Arc::clone(&threads), Arc::clone(&live));
        let accepts = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut client) = client else { continue };
                if count.load(Ordering::SeqCst) < intercept {
                    count.fetch_add(1, Ordering::SeqCst);
                    running.lock().unwrap().push(std::thread::spawn(move || login_page(&mut client)));
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else { continue };
                streams.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in
                    [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    running.lock().unwrap().push(std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    }));
                }
            }
        });
        CaptivePortal { port, intercepted, stopping, accepts: Some(accepts), threads, live }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections got the login page.
    pub fn intercepted(&self) -> usize {
        self.intercepted.load(Ordering::SeqCst)
    }
}

/// Reads the request head, answers with the login page, closes.
fn login_page(client: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
        PAGE.len()
    );
    let _ = client.write_all(response.as_bytes());
    let _ = client.shutdown(Shutdown::Write);
    // Let the client read the page before the socket goes.
    let _ = client.read(&mut byte);
}

impl Drop for CaptivePortal {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accepts) = self.accepts.take() {
            let _ = accepts.join();
        }
        for stream in self.live.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for thread in self.threads.lock().unwrap().drain(..) {
            let _ = thread.join();
        }
    }
}
