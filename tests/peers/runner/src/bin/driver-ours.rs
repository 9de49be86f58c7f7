//! The benchmark driver for this crate, `centrifuge-blocking` (contract: tests/peers/README.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use centrifuge_blocking::listener::NoopListener;
use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, Subscription, SubscriptionConfig, SubscriptionEvent,
};
use centrifuge_peer_bench::driver::{self, Args, fail};
use crossbeam_channel::{Receiver, Sender};
use serde_json::json;

/// Every wait of a driver ends by this.
const WAIT: Duration = Duration::from_secs(60);
const WARM_UP: usize = 200;
/// How long idle waits after the last connect before it measures.
const SETTLE: Duration = Duration::from_secs(1);

fn main() {
    let args = Args::from_env();
    match args.scenario.as_str() {
        "ingest" => ingest(&args),
        "roundtrip" => roundtrip(&args),
        "pipelined" => pipelined(&args),
        "fanin" => fanin(&args),
        "idle" => idle(&args),
        other => fail(&format!("unsupported scenario {other}")),
    }
}

/// Set to `off` to run without the sleep detection's look at the clocks every 5 s, which is on
/// by default: P5 run both ways shows what that look costs an idle client.
const SLEEP_DETECTION_VAR: &str = "CENTRIFUGE_BENCH_SLEEP_DETECTION";

fn config(args: &Args) -> ClientConfig {
    let sleep_detection = std::env::var(SLEEP_DETECTION_VAR).map_or(true, |value| value != "off");
    ClientConfig::default().protocol(args.protocol()).sleep_detection(sleep_detection)
}

/// A connected client.
fn connected(args: &Args) -> Client {
    let client = Client::new(args.text("url"), config(args), NoopListener)
        .unwrap_or_else(|err| fail(&err.to_string()));
    client.connect().unwrap_or_else(|err| fail(&err.to_string()));
    client.ready(WAIT).unwrap_or_else(|err| fail(&format!("not connected: {err}")));
    client
}

fn ingest(args: &Args) {
    let count = args.number("count");
    let cpu_start = driver::cpu_time();
    let client = Client::new(args.text("url"), config(args), NoopListener)
        .unwrap_or_else(|err| fail(&err.to_string()));
    let (subscribed, first, last) = (signal(), signal(), signal());
    let seen = AtomicU64::new(0);
    let listener = {
        let (subscribed, first, last) = (subscribed.0.clone(), first.0.clone(), last.0.clone());
        move |_: &Subscription, event: SubscriptionEvent| match event {
            SubscriptionEvent::Publication(_) => {
                let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 {
                    let _ = first.try_send(Instant::now());
                }
                if n == count {
                    let _ = last.try_send(Instant::now());
                }
            }
            SubscriptionEvent::Subscribed(_) => {
                let _ = subscribed.try_send(Instant::now());
            }
            _ => {}
        }
    };
    let sub = client
        .new_subscription(args.text("channel"), SubscriptionConfig::default(), listener)
        .unwrap_or_else(|err| fail(&err.to_string()));
    sub.subscribe().unwrap_or_else(|err| fail(&err.to_string()));
    client.connect().unwrap_or_else(|err| fail(&err.to_string()));
    wait(&subscribed.1, "subscribed");
    driver::ready();
    let started = wait(&first.1, "the first publication");
    let ended = wait(&last.1, "the last publication");
    let cpu = driver::cpu_time() - cpu_start;
    driver::result(json!({
        "count": count,
        "wall_s": (ended - started).as_secs_f64(),
        "cpu_s": cpu.as_secs_f64(),
        "rss_kib": driver::rss_kib(),
    }));
    client.close();
}

fn roundtrip(args: &Args) {
    let count = args.number("count") as usize;
    let client = connected(args);
    let channel = args.text("channel").to_string();
    let call = || -> Result<(), centrifuge_blocking::Error> {
        match args.text("op") {
            "rpc" => client.rpc("ping", &b"{}"[..]).map(drop),
            "publish" => client.publish(&channel, &b"{}"[..]),
            other => fail(&format!("op={other}: expected rpc or publish")),
        }
    };
    for _ in 0..WARM_UP {
        call().unwrap_or_else(|err| fail(&format!("warm-up call failed: {err}")));
    }
    driver::timed_round_trips(count, || call().map_err(|err| err.to_string()));
    client.close();
}

fn pipelined(args: &Args) {
    let count = args.number("count");
    let workers = args.number("workers");
    let client = connected(args);
    let channel = Arc::new(args.text("channel").to_string());
    let issued = Arc::new(AtomicU64::new(0));
    let (cpu_start, wakeups_start) = (driver::cpu_time(), driver::wakeups());
    let started = Instant::now();
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let (client, channel, issued) = (client.clone(), Arc::clone(&channel), Arc::clone(&issued));
            std::thread::spawn(move || {
                loop {
                    let n = issued.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        break;
                    }
                    let data = format!(r#"{{"n":{n}}}"#);
                    if let Err(err) = client.publish(&channel, data.into_bytes()) {
                        fail(&format!("publish failed: {err}"));
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    let wall = started.elapsed();
    let (cpu, wakeups) = (driver::cpu_time() - cpu_start, driver::wakeups() - wakeups_start);
    driver::result(json!({
        "count": count, "wall_s": wall.as_secs_f64(), "cpu_s": cpu.as_secs_f64(),
        "msgs_per_s": count as f64 / wall.as_secs_f64(), "wakeups": wakeups,
    }));
    client.close();
}

fn fanin(args: &Args) {
    let channels = args.number("channels");
    let prefix = args.text("prefix");
    let rss_base = driver::rss_kib();
    let client = connected(args);
    let done = signal();
    let subscribed = Arc::new(AtomicU64::new(0));
    let cpu_start = driver::cpu_time();
    let started = Instant::now();
    let mut subs = Vec::with_capacity(channels as usize);
    for n in 0..channels {
        let (subscribed, done) = (Arc::clone(&subscribed), done.0.clone());
        let listener = move |_: &Subscription, event: SubscriptionEvent| {
            if let SubscriptionEvent::Subscribed(_) = event
                && subscribed.fetch_add(1, Ordering::Relaxed) + 1 == channels
            {
                let _ = done.try_send(Instant::now());
            }
        };
        let sub = client
            .new_subscription(&format!("{prefix}{n}"), SubscriptionConfig::default(), listener)
            .unwrap_or_else(|err| fail(&err.to_string()));
        sub.subscribe().unwrap_or_else(|err| fail(&err.to_string()));
        subs.push(sub);
    }
    let ended = wait(&done.1, "every subscription");
    let cpu = driver::cpu_time() - cpu_start;
    driver::result(json!({
        "channels": channels, "wall_s": (ended - started).as_secs_f64(), "cpu_s": cpu.as_secs_f64(),
        "rss_kib": driver::rss_kib(), "rss_base_kib": rss_base,
    }));
    client.close();
}

fn idle(args: &Args) {
    let clients = args.number("clients");
    let seconds = args.number("seconds");
    let rss_base = driver::rss_kib();
    let (connected_sender, connected) = crossbeam_channel::unbounded();
    let all: Vec<Client> = (0..clients)
        .map(|_| {
            let sender = connected_sender.clone();
            let listener = move |_: &Client, event: ClientEvent| {
                if let ClientEvent::Connected(_) = event {
                    let _ = sender.send(());
                }
            };
            let client = Client::new(args.text("url"), config(args), listener)
                .unwrap_or_else(|err| fail(&err.to_string()));
            client.connect().unwrap_or_else(|err| fail(&err.to_string()));
            client
        })
        .collect();
    for _ in 0..clients {
        connected.recv_timeout(WAIT).unwrap_or_else(|_| fail("not every client connected"));
    }
    // Let every thread finish its connect work first: idle means idle.
    std::thread::sleep(SETTLE);
    let (cpu_start, wakeups_start) = (driver::cpu_time(), driver::wakeups());
    std::thread::sleep(Duration::from_secs(seconds));
    let (cpu, wakeups) = (driver::cpu_time() - cpu_start, driver::wakeups() - wakeups_start);
    driver::result(json!({
        "clients": clients, "seconds": seconds, "cpu_s": cpu.as_secs_f64(), "wakeups": wakeups,
        "rss_kib": driver::rss_kib(), "rss_base_kib": rss_base, "threads": driver::threads(),
    }));
    for client in all {
        client.close();
    }
}

fn signal() -> (Sender<Instant>, Receiver<Instant>) {
    crossbeam_channel::bounded(1)
}

fn wait(receiver: &Receiver<Instant>, what: &str) -> Instant {
    receiver.recv_timeout(WAIT).unwrap_or_else(|_| fail(&format!("no {what} within {WAIT:?}")))
}
