//! A TCP proxy between a client and a server on 127.0.0.1 that injects faults on command:
//! cut every connection, blackhole (accept bytes, deliver none), add latency, re-chunk the
//! stream into 1-byte writes, refuse new connections (accept and close at once). Counts what
//! each fault actually did ([`Effects`]), so that a run can tell faults that happened from
//! faults that were only scheduled. Stops (and cuts everything) when dropped.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// What the faults did so far (cumulative; subtract two snapshots for one fault's share).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Live connections ended by [`FaultProxy::cut`].
    pub cut: u64,
    /// Connections closed at once because refusing was on.
    pub refused: u64,
    /// Chunks read and dropped by the blackhole.
    pub blackholed: u64,
    /// Chunks held back by the latency.
    pub delayed: u64,
    /// Chunks forwarded one byte per write.
    pub one_byte: u64,
}

impl Effects {
    /// What happened between `earlier` and this snapshot.
    pub fn since(self, earlier: Effects) -> Effects {
        Effects {
            cut: self.cut - earlier.cut,
            refused: self.refused - earlier.refused,
            blackholed: self.blackholed - earlier.blackholed,
            delayed: self.delayed - earlier.delayed,
            one_byte: self.one_byte - earlier.one_byte,
        }
    }

    /// The sum of two counts.
    pub fn plus(self, other: Effects) -> Effects {
        Effects {
            cut: self.cut + other.cut,
            refused: self.refused + other.refused,
            blackholed: self.blackholed + other.blackholed,
            delayed: self.delayed + other.delayed,
            one_byte: self.one_byte + other.one_byte,
        }
    }

    /// Whether any fault did anything.
    pub fn any(self) -> bool {
        self != Effects::default()
    }
}

#[derive(Default)]
struct Counters {
    cut: AtomicU64,
    refused: AtomicU64,
    blackholed: AtomicU64,
    delayed: AtomicU64,
    one_byte: AtomicU64,
}

struct Shared {
    faults: Mutex<Faults>,
    /// Both sockets of each live connection, by connection number; a connection leaves when
    /// its first pump ends.
    live: Mutex<HashMap<u64, [TcpStream; 2]>>,
    counters: Counters,
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
            live: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            stopping: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        let accepts = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                let mut connections = 0u64;
                for client in listener.incoming() {
                    if accepting.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    if accepting.faults.lock().unwrap().refuse {
                        // Counted first: whoever sees the close may look at the count.
                        accepting.counters.refused.fetch_add(1, Ordering::SeqCst);
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect(target) else {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    connections += 1;
                    let id = connections;
                    accepting
                        .live
                        .lock()
                        .unwrap()
                        .insert(id, [client.try_clone().unwrap(), server.try_clone().unwrap()]);
                    for (from, to) in
                        [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                    {
                        let shared = Arc::clone(&accepting);
                        std::thread::spawn(move || pump(id, from, to, &shared));
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

    /// Cuts every connection going through the proxy right now, both directions; returns how
    /// many there were.
    pub fn cut(&self) -> u64 {
        let mut cut = 0;
        for (_, streams) in self.shared.live.lock().unwrap().drain() {
            for stream in streams {
                let _ = stream.shutdown(Shutdown::Both);
            }
            cut += 1;
        }
        self.shared.counters.cut.fetch_add(cut, Ordering::SeqCst);
        cut
    }

    /// What the faults have done since the proxy started.
    pub fn effects(&self) -> Effects {
        let counters = &self.shared.counters;
        Effects {
            cut: counters.cut.load(Ordering::SeqCst),
            refused: counters.refused.load(Ordering::SeqCst),
            blackholed: counters.blackholed.load(Ordering::SeqCst),
            delayed: counters.delayed.load(Ordering::SeqCst),
            one_byte: counters.one_byte.load(Ordering::SeqCst),
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
fn pump(id: u64, mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let faults = *shared.faults.lock().unwrap();
        if faults.blackhole {
            shared.counters.blackholed.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        if !faults.latency.is_zero() {
            shared.counters.delayed.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(faults.latency);
        }
        if faults.one_byte_writes {
            shared.counters.one_byte.fetch_add(1, Ordering::SeqCst);
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
    shared.live.lock().unwrap().remove(&id);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
