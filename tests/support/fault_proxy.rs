//! A TCP proxy between a client and a server on 127.0.0.1 that injects faults on command:
//! cut every connection, blackhole (accept bytes, deliver none), add latency, re-chunk the
//! stream into 1-byte writes, refuse new connections (accept and close at once). Stops (and
//! cuts everything) when dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Bytes are read and dropped, in both directions.
    pub blackhole: bool,
    /// Every chunk waits this long before it is forwarded.
    pub latency: Duration,
    /// Chunks are forwarded one byte per write.
    pub one_byte_writes: bool,
    /// New connections are closed as soon as they are accepted.
    pub refuse: bool,
}

struct Shared {
    faults: Mutex<Faults>,
    live: Mutex<Vec<TcpStream>>,
    stopping: AtomicBool,
}

pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    accepts: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy to `target`, listening on a free 127.0.0.1 port.
    pub fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            faults: Mutex::new(Faults::default()),
            live: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        let accepts = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if accepting.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    if accepting.faults.lock().unwrap().refuse {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect(target) else {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    {
                        let mut live = accepting.live.lock().unwrap();
                        live.push(client.try_clone().unwrap());
                        live.push(server.try_clone().unwrap());
                    }
                    for (from, to) in
                        [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                    {
                        let shared = Arc::clone(&accepting);
                        std::thread::spawn(move || pump(from, to, &shared));
                    }
                }
            })
            .expect("spawn the fault proxy");
        FaultProxy { port, shared, accepts: Some(accepts) }
    }

    /// The proxy's address.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Replaces the active faults.
    pub fn set(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
    }

    /// Cuts every connection going through the proxy right now, both directions.
    pub fn cut(&self) {
        for stream in self.shared.live.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accepts) = self.accepts.take() {
            let _ = accepts.join();
        }
        self.cut();
    }
}

/// Forwards `from` to `to` under the current faults until either side ends.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let faults = *shared.faults.lock().unwrap();
        if faults.blackhole {
            continue;
        }
        if !faults.latency.is_zero() {
            std::thread::sleep(faults.latency);
        }
        let written = if faults.one_byte_writes {
            buffer[..read].iter().try_for_each(|byte| to.write_all(std::slice::from_ref(byte)))
        } else {
            to.write_all(&buffer[..read])
        };
        if written.is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
