//! Fan-in: one client subscribes to 10,000 channels of a local Centrifugo. Measures the time
//! from the first `subscribe()` until every subscription is subscribed, and the process's
//! resident memory before the client existed and after.
//!
//! `cargo bench --bench subscribe_many` (add `-- --quick` for 1,000 channels). Results go to
//! BENCHMARKS.md.

use std::time::{Duration, Instant};

use centrifuge_blocking::{
    Client, ClientConfig, Protocol, Subscription, SubscriptionConfig, SubscriptionEvent,
    listener::NoopListener,
};
use centrifuge_test_harness::Centrifugo;

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let channels = if quick { 1_000 } else { 10_000 };
    let server = Centrifugo::start();
    println!("Centrifugo on {} · {channels} channels on one client", server.ws_url());
    println!();
    println!(
        "| protocol | time until all subscribed | subscriptions/s | RSS before | RSS after | RSS per subscription |"
    );
    println!("|---|---|---|---|---|---|");
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        let before = rss_kib();
        let client = Client::new(
            server.ws_url(),
            ClientConfig::default().protocol(protocol).timeout(Duration::from_secs(60)),
            NoopListener,
        )
        .expect("client");
        client.connect().expect("connect");
        client.ready(Duration::from_secs(10)).expect("connected");
        let (done, subscribed) = crossbeam_channel::unbounded();
        let started = Instant::now();
        let subscriptions: Vec<_> = (0..channels)
            .map(|n| {
                let done = done.clone();
                let listener = move |_: &Subscription, event: SubscriptionEvent| {
                    if matches!(event, SubscriptionEvent::Subscribed(_)) {
                        let _ = done.send(());
                    }
                };
                let subscription = client
                    .new_subscription(
                        &format!("fan-{protocol:?}-{n}"),
                        SubscriptionConfig::default(),
                        listener,
                    )
                    .expect("subscription");
                subscription.subscribe().expect("subscribe");
                subscription
            })
            .collect();
        for _ in 0..channels {
            subscribed.recv_timeout(Duration::from_secs(120)).expect("every subscription is subscribed");
        }
        let took = started.elapsed();
        let after = rss_kib();
        println!(
            "| {protocol:?} | {:.0} ms | {:.0} | {:.1} MiB | {:.1} MiB | {:.2} KiB |",
            took.as_secs_f64() * 1000.0,
            channels as f64 / took.as_secs_f64(),
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            after.saturating_sub(before) as f64 / channels as f64
        );
        drop(subscriptions);
        client.close();
    }
}

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find(|line| line.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}
