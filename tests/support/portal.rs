//! Things in front of a server that answer some HTTP requests themselves and pass the others
//! through: a captive portal (the first connections get a login page, as on a hotel's Wi-Fi
//! before the user logs in) and a proxy that refuses WebSocket upgrades (as some corporate
//! proxies do).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const PAGE: &str = "<html><body>Log in to use the Wi-Fi</body></html>";

/// Decides, from a connection's number and its request head, whether to answer it (with the
/// returned response) or to pass it through.
type Decide = dyn Fn(usize, &str) -> Option<String> + Send + Sync;

pub struct Front {
    port: u16,
    answered: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
    accepts: Option<JoinHandle<()>>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Front {
    /// A front for `target` that answers what `decide` says.
    pub fn start(
        target: SocketAddr,
        decide: impl Fn(usize, &str) -> Option<String> + Send + Sync + 'static,
    ) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the front");
        let port = listener.local_addr().unwrap().port();
        let answered = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let threads = Arc::new(Mutex::new(Vec::new()));
        let live = Arc::new(Mutex::new(Vec::new()));
        let decide: Arc<Decide> = Arc::new(decide);
        let (count, stop, running, streams) =
            (Arc::clone(&answered), Arc::clone(&stopping), Arc::clone(&threads), Arc::clone(&live));
        let accepts = std::thread::spawn(move || {
            for (index, client) in listener.incoming().enumerate() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (decide, count, running_inner, streams) =
                    (Arc::clone(&decide), Arc::clone(&count), Arc::clone(&running), Arc::clone(&streams));
                running.lock().unwrap().push(std::thread::spawn(move || {
                    serve(index, client, target, &*decide, &count, &running_inner, &streams)
                }));
            }
        });
        Front { port, answered, stopping, accepts: Some(accepts), threads, live }
    }

    /// A captive portal: the first `intercept` connections get the login page.
    pub fn captive_portal(target: SocketAddr, intercept: usize) -> Front {
        Front::start(target, move |index, _| {
            (index < intercept).then(|| {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                    PAGE.len()
                )
            })
        })
    }

    /// A proxy that refuses every WebSocket upgrade with 403 and passes the rest through.
    pub fn refusing_upgrades(target: SocketAddr) -> Front {
        Front::start(target, |_, head| {
            head.to_ascii_lowercase().contains("upgrade: websocket").then(|| {
                "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            })
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many requests the front answered itself.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }
}

/// Reads the first request head of `client`, then answers it or passes the connection through.
fn serve(
    index: usize,
    mut client: TcpStream,
    target: SocketAddr,
    decide: &Decide,
    answered: &AtomicUsize,
    threads: &Mutex<Vec<JoinHandle<()>>>,
    live: &Mutex<Vec<TcpStream>>,
) {
    let Some(head) = super::http_fake::read_head(&mut client) else { return };
    if let Some(response) = decide(index, &String::from_utf8_lossy(&head)) {
        answered.fetch_add(1, Ordering::SeqCst);
        let _ = client.write_all(response.as_bytes());
        let _ = client.shutdown(Shutdown::Write);
        // Let the client read the answer before the socket goes.
        let _ = client.read(&mut [0u8; 1]);
        return;
    }
    let Ok(mut server) = TcpStream::connect(target) else { return };
    if server.write_all(&head).is_err() {
        return;
    }
    live.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
    let (mut from, mut to) = (server.try_clone().unwrap(), client.try_clone().unwrap());
    threads.lock().unwrap().push(std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
    }));
    let _ = std::io::copy(&mut client, &mut server);
    let _ = server.shutdown(Shutdown::Both);
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accepts) = self.accepts.take() {
            let _ = accepts.join();
        }
        for stream in self.live.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        loop {
            let Some(thread) = self.threads.lock().unwrap().pop() else { break };
            let _ = thread.join();
        }
    }
}
