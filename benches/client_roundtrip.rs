//! RPC round trip of the client, over WebSocket and over HTTP-streaming, against a raw
//! tungstenite socket, on the same local Centrifugo in the same run, plus idle wake-ups and
//! threads of a connected client.
//!
//! `cargo bench --bench client_roundtrip` (add `-- --quick` for a short run). The raw baseline
//! sends the same `rpc` command (method `ping`, answered by Centrifugo itself) over a plain
//! tungstenite socket and blocks on the reply: no SDK, the physical floor. Results go to
//! BENCHMARKS.md.

#[allow(dead_code)]
#[path = "../tests/support/raw.rs"]
mod raw;

use std::time::{Duration, Instant};

use centrifuge_blocking::unversioned::{Command, RpcRequest};
use centrifuge_blocking::{Client, ClientConfig, Protocol, TransportEndpoint, listener::NoopListener};
use centrifuge_test_harness::Centrifugo;
use raw::RawConnection;

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let rounds = if quick { 2_000 } else { 20_000 };
    let idle = if quick { Duration::from_secs(5) } else { Duration::from_secs(30) };
    let server = Centrifugo::start();
    println!(
        "Centrifugo on {} · {rounds} sequential RPCs per participant in {BLOCKS} alternating blocks, after {WARM_UP} warm-up",
        server.ws_url()
    );
    println!();
    println!("| protocol | participant | p50 µs | p99 µs | mean µs | p50 ratio to raw |");
    println!("|---|---|---|---|---|---|");
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        // Alternate blocks of both participants, so that drift in the machine's speed (shared
        // VMs drift by tens of percent within a minute) hits both alike.
        let mut raw_participant = RawParticipant::new(&server.ws_url(), protocol);
        let mut our_participant =
            OurParticipant::new(TransportEndpoint::websocket(server.ws_url()), protocol);
        let mut streaming =
            OurParticipant::new(TransportEndpoint::http_stream(server.http_stream_url()), protocol);
        let (mut raw, mut ours, mut ours_streaming) = (Vec::new(), Vec::new(), Vec::new());
        let block = rounds / BLOCKS;
        for _ in 0..BLOCKS {
            raw.extend((0..block).map(|_| raw_participant.round_trip()));
            ours.extend((0..block).map(|_| our_participant.round_trip()));
            ours_streaming.extend((0..block).map(|_| streaming.round_trip()));
        }
        our_participant.client.close();
        streaming.client.close();
        let raw_stats = Stats::of(raw);
        println!("| {protocol:?} | raw tungstenite | {} | 1.00 |", raw_stats.row());
        for (name, samples) in [
            ("centrifuge-blocking, WebSocket", ours),
            ("centrifuge-blocking, HTTP-streaming", ours_streaming),
        ] {
            let stats = Stats::of(samples);
            println!("| {protocol:?} | {name} | {} | {:.2} |", stats.row(), stats.p50 / raw_stats.p50);
        }
    }
    println!();
    idle_wakeups(&server.ws_url(), idle);
}

const BLOCKS: usize = 20;
const WARM_UP: usize = 500;

struct RawParticipant {
    connection: RawConnection,
}

impl RawParticipant {
    fn new(url: &str, protocol: Protocol) -> RawParticipant {
        let (connection, _) = RawConnection::connect(url, protocol, "");
        let mut participant = RawParticipant { connection };
        for _ in 0..WARM_UP {
            participant.round_trip();
        }
        participant
    }

    fn round_trip(&mut self) -> Duration {
        let command = Command {
            rpc: Some(RpcRequest { method: "ping".into(), ..Default::default() }),
            ..Default::default()
        };
        let started = Instant::now();
        let reply = self.connection.request(command);
        let elapsed = started.elapsed();
        assert!(reply.rpc.is_some(), "the raw RPC succeeds");
        elapsed
    }
}

struct OurParticipant {
    client: Client,
}

impl OurParticipant {
    fn new(endpoint: TransportEndpoint, protocol: Protocol) -> OurParticipant {
        let client =
            Client::new(endpoint, ClientConfig::default().protocol(protocol), NoopListener).expect("client");
        client.connect().expect("connect");
        client.ready(Duration::from_secs(10)).expect("connected");
        let mut participant = OurParticipant { client };
        for _ in 0..WARM_UP {
            participant.round_trip();
        }
        participant
    }

    fn round_trip(&mut self) -> Duration {
        let started = Instant::now();
        self.client.rpc("ping", Vec::new()).expect("RPC");
        started.elapsed()
    }
}

struct Stats {
    p50: f64,
    p99: f64,
    mean: f64,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Stats {
        samples.sort();
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        let at = |q: f64| micros(samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)]);
        let mean = samples.iter().map(|d| micros(*d)).sum::<f64>() / samples.len() as f64;
        Stats { p50: at(0.50), p99: at(0.99), mean }
    }

    fn row(&self) -> String {
        format!("{:.1} | {:.1} | {:.1}", self.p50, self.p99, self.mean)
    }
}

/// Counts how often the client's threads wake up while the client sits connected and idle.
fn idle_wakeups(url: &str, window: Duration) {
    let threads_before = task_names().len();
    let client = Client::new(url, ClientConfig::default(), NoopListener).expect("client");
    client.connect().expect("connect");
    client.ready(Duration::from_secs(10)).expect("connected");
    let ours: Vec<(String, String)> =
        task_names().into_iter().filter(|(_, name)| name.starts_with("centrifuge-")).collect();
    let before: u64 = ours.iter().map(|(tid, _)| switches(tid)).sum();
    std::thread::sleep(window);
    let after: u64 = ours.iter().map(|(tid, _)| switches(tid)).sum();
    let per_second = (after - before) as f64 / window.as_secs_f64();
    println!(
        "Idle connected client, {:?}: {} threads ({}), {} wake-ups in total = {per_second:.2} per second \
         (server pings every 25 s included)",
        window,
        ours.len(),
        ours.iter().map(|(_, name)| name.as_str()).collect::<Vec<_>>().join(", "),
        after - before
    );
    client.close();
    println!(
        "Threads in the process: {threads_before} before the client, {} after close()",
        task_names().len()
    );
}

fn task_names() -> Vec<(String, String)> {
    std::fs::read_dir("/proc/self/task")
        .expect("Linux /proc")
        .filter_map(Result::ok)
        .map(|task| {
            let tid = task.file_name().to_string_lossy().into_owned();
            let name =
                std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().trim().to_string();
            (tid, name)
        })
        .collect()
}

/// Voluntary plus involuntary context switches of one thread: each wake-up is at least one.
fn switches(tid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap_or_default();
    status
        .lines()
        .filter(|line| {
            line.starts_with("voluntary_ctxt_switches") || line.starts_with("nonvoluntary_ctxt_switches")
        })
        .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}
