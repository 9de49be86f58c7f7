//! Seeded chaos: a client behind a fault proxy (cuts, blackholes, latency, 1-byte writes,
//! refused connections) while the server API publishes into recoverable channels and other
//! threads make calls and subscribe/unsubscribe. After every run the invariants are checked;
//! a failure prints the seed, which replays the same schedule and configuration.
//!
//! `cargo test --test chaos` runs a few seeds; `CHAOS_SEEDS=1000 cargo test --release --test
//! chaos -- --nocapture` is the long run (results in RELIABILITY.md); `CHAOS_FIRST_SEED=<n>
//! CHAOS_SEEDS=1` replays one.
//!
//! Invariants:
//! 1. every publication the server accepted reaches each recoverable subscription exactly
//!    once, in offset order, unless the subscription reported `recovered: false`;
//! 2. every call returns (ok or a typed error) within its timeout plus a small margin;
//! 3. states and events come in a legal order with codes from the reference's tables;
//! 4. after `close()`, none of the client's threads is left.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, Error, Protocol, Subscription, SubscriptionConfig, SubscriptionEvent,
    SubscriptionState, codes,
};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use support::fault_proxy::{FaultProxy, Faults};

const CHANNELS: usize = 3;
const PUBLICATIONS: usize = 40;
const CALL_TIMEOUT: Duration = Duration::from_millis(1000);
const CALL_MARGIN: Duration = Duration::from_millis(500);
const CATCH_UP: Duration = Duration::from_secs(20);

/// Keeps the client's warnings and errors of the current run, to explain a failure.
struct RecentWarnings;

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for RecentWarnings {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn && metadata.target().starts_with("centrifuge_blocking")
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            WARNINGS.lock().unwrap().push(format!(
                "{} {}: {}",
                record.level(),
                record.target(),
                record.args()
            ));
        }
    }

    fn flush(&self) {}
}

static LOGGER: RecentWarnings = RecentWarnings;

/// What a subscription listener saw, as plain data: the checks below run on these, so that
/// they can also be fed made-up logs (see the `checker` tests at the end).
#[derive(Clone, Debug, PartialEq)]
enum SubSeen {
    Subscribing { code: u32 },
    Subscribed { was_recovering: bool, recovered: bool, top: Option<u64> },
    Publication { offset: u64, data: Vec<u8> },
    Unsubscribed { code: u32 },
    Error(String),
    Other,
}

impl SubSeen {
    fn of(event: &SubscriptionEvent) -> SubSeen {
        match event {
            SubscriptionEvent::Subscribing(event) => SubSeen::Subscribing { code: event.code() },
            SubscriptionEvent::Subscribed(event) => SubSeen::Subscribed {
                was_recovering: event.was_recovering(),
                recovered: event.recovered(),
                top: event.position_after_recovery().map(|position| position.offset),
            },
            SubscriptionEvent::Publication(event) => {
                SubSeen::Publication { offset: event.publication().offset(), data: event.data().to_vec() }
            }
            SubscriptionEvent::Unsubscribed(event) => SubSeen::Unsubscribed { code: event.code() },
            SubscriptionEvent::Error(event) => SubSeen::Error(format!("{:?}", event.error())),
            _ => SubSeen::Other,
        }
    }
}

/// What the client listener saw, as plain data.
#[derive(Clone, Debug, PartialEq)]
enum ClientSeen {
    Connecting { code: u32, reason: String },
    Connected,
    Disconnected { code: u32, reason: String },
    Error(String),
    Other,
}

impl ClientSeen {
    fn of(event: &ClientEvent) -> ClientSeen {
        match event {
            ClientEvent::Connecting(event) => {
                ClientSeen::Connecting { code: event.code(), reason: event.reason().to_string() }
            }
            ClientEvent::Connected(_) => ClientSeen::Connected,
            ClientEvent::Disconnected(event) => {
                ClientSeen::Disconnected { code: event.code(), reason: event.reason().to_string() }
            }
            ClientEvent::Error(event) => ClientSeen::Error(format!("{:?}", event.error())),
            _ => ClientSeen::Other,
        }
    }
}

#[test]
fn chaos_seeds_keep_every_invariant() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Warn);
    let first: u64 = std::env::var("CHAOS_FIRST_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let count: u64 = std::env::var("CHAOS_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let server = Centrifugo::shared();
    let started = Instant::now();
    let mut faults = 0;
    for seed in first..first + count {
        WARNINGS.lock().unwrap().clear();
        match run(seed, &server) {
            Ok(applied) => faults += applied,
            Err(failure) => panic!(
                "seed {seed} broke an invariant: {failure}\nthe client's warnings in this run: {:#?}\nreplay: CHAOS_FIRST_SEED={seed} CHAOS_SEEDS=1 cargo test --test chaos",
                WARNINGS.lock().unwrap()
            ),
        }
    }
    println!(
        "chaos: {count} seeds from {first}, {faults} faults injected, all invariants held in {:?}",
        started.elapsed()
    );
}

/// One seeded run; returns how many faults it injected.
fn run(seed: u64, server: &Centrifugo) -> Result<usize, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let protocol = if rng.random() { Protocol::Json } else { Protocol::Protobuf };
    let lanes = rng.random_range(1..=3);
    let proxy = FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], server.port())));
    let user = format!("chaos-{seed}");
    let config = ClientConfig::default()
        .protocol(protocol)
        .executor_lanes(lanes)
        .token(Claims::connection(&user).sign(HMAC_SECRET))
        .timeout(CALL_TIMEOUT)
        .connect_timeout(Duration::from_millis(500))
        .min_reconnect_delay(Duration::from_millis(20))
        .max_reconnect_delay(Duration::from_millis(200));

    let client_log: Arc<Mutex<Vec<ClientSeen>>> = Arc::default();
    let log = Arc::clone(&client_log);
    let url = format!("ws://127.0.0.1:{}/connection/websocket", proxy.port());
    let client = Client::new(&url, config, move |_: &Client, event: ClientEvent| {
        log.lock().unwrap().push(ClientSeen::of(&event))
    })
    .map_err(|err| format!("client: {err}"))?;

    let channels: Vec<String> = (0..CHANNELS).map(|k| format!("hist:chaos-{seed}-{k}")).collect();
    let mut logs = Vec::new();
    for channel in &channels {
        let log: Arc<Mutex<Vec<SubSeen>>> = Arc::default();
        let writer = Arc::clone(&log);
        let sub = client
            .new_subscription(
                channel,
                SubscriptionConfig::default(),
                move |_: &Subscription, event: SubscriptionEvent| {
                    writer.lock().unwrap().push(SubSeen::of(&event))
                },
            )
            .map_err(|err| format!("subscription: {err}"))?;
        sub.subscribe().map_err(|err| err.to_string())?;
        logs.push((sub, log));
    }
    client.connect().map_err(|err| err.to_string())?;
    wait_until(Duration::from_secs(10), || {
        logs.iter().all(|(sub, _)| sub.state() == SubscriptionState::Subscribed)
    })
    .map_err(|_| "the subscriptions never subscribed".to_string())?;

    let stop = Arc::new(AtomicBool::new(false));
    let violations: Arc<Mutex<Vec<String>>> = Arc::default();
    let callers: Vec<_> = (0..2)
        .map(|n| {
            let (client, stop, violations) = (client.clone(), Arc::clone(&stop), Arc::clone(&violations));
            std::thread::spawn(move || calls(n, &client, &stop, &violations))
        })
        .collect();
    let churn = {
        let (client, stop) = (client.clone(), Arc::clone(&stop));
        let channel = format!("chaos-churn-{seed}");
        let violations = Arc::clone(&violations);
        // Subscribing and unsubscribing in a loop, across faults, must never leave the server
        // thinking the channel is still subscribed (105 "already subscribed") or make it refuse.
        let churn_listener = move |_: &Subscription, event: SubscriptionEvent| {
            let wrong = match &event {
                SubscriptionEvent::Unsubscribed(unsubscribed) => {
                    ![codes::UNSUBSCRIBE_CALLED, codes::CLIENT_CLOSED].contains(&unsubscribed.code())
                }
                SubscriptionEvent::Error(error) => matches!(error.error(), Error::Server(_)),
                _ => false,
            };
            if wrong {
                violations.lock().unwrap().push(format!("the churned subscription got {event:?}"));
            }
        };
        std::thread::spawn(move || {
            let Ok(sub) = client.new_subscription(&channel, SubscriptionConfig::default(), churn_listener)
            else {
                return;
            };
            while !stop.load(Ordering::SeqCst) {
                let _ = sub.subscribe();
                std::thread::sleep(Duration::from_millis(30));
                let _ = sub.unsubscribe();
                std::thread::sleep(Duration::from_millis(30));
            }
            let _ = client.remove_subscription(&sub);
        })
    };

    // The publisher and the fault schedule run side by side.
    let publish_seed: u64 = rng.random();
    let api = server.api().clone();
    let publish_channels = channels.clone();
    let publisher = std::thread::spawn(move || -> Result<BTreeMap<String, Vec<(u64, String)>>, String> {
        let mut rng = StdRng::seed_from_u64(publish_seed);
        let mut published: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
        for n in 0..PUBLICATIONS {
            let channel = &publish_channels[rng.random_range(0..CHANNELS)];
            let payload = format!(r#"{{"n":{n}}}"#);
            let result = api.publish(channel, &payload).map_err(|err| err.to_string())?;
            let offset = result["offset"].as_u64().ok_or("the API gave no offset")?;
            published.entry(channel.clone()).or_default().push((offset, payload));
            std::thread::sleep(Duration::from_millis(rng.random_range(0..25)));
        }
        Ok(published)
    });
    let fault_count = rng.random_range(2..=6);
    for _ in 0..fault_count {
        std::thread::sleep(Duration::from_millis(rng.random_range(30..200)));
        let hold = Duration::from_millis(rng.random_range(30..300));
        match rng.random_range(0..5) {
            0 => proxy.cut(),
            1 => {
                // A dead connection: nothing gets through, then it is gone.
                proxy.set(Faults { blackhole: true, ..Faults::default() });
                std::thread::sleep(hold);
                proxy.cut();
            }
            2 => {
                proxy.set(Faults {
                    latency: Duration::from_millis(rng.random_range(1..30)),
                    ..Faults::default()
                });
                std::thread::sleep(hold);
            }
            3 => {
                proxy.set(Faults { one_byte_writes: true, ..Faults::default() });
                std::thread::sleep(hold);
            }
            _ => {
                proxy.set(Faults { refuse: true, ..Faults::default() });
                proxy.cut();
                std::thread::sleep(hold);
            }
        }
        proxy.set(Faults::default());
    }
    let published = publisher.join().map_err(|_| "the publisher panicked".to_string())??;

    // Faults are over: every subscription must catch up (or say it could not).
    let caught_up = wait_until(CATCH_UP, || {
        logs.iter().all(|(sub, log)| {
            let log = log.lock().unwrap();
            let expected = published.get(sub.channel()).map(Vec::len).unwrap_or(0);
            reported_loss(&log) || delivered(&log).len() >= expected
        })
    });
    stop.store(true, Ordering::SeqCst);
    for caller in callers {
        caller.join().map_err(|_| "a caller panicked".to_string())?;
    }
    churn.join().map_err(|_| "the churn thread panicked".to_string())?;
    client.close();

    // 4: threads. `close()` has joined them all, but a joined thread can still be listed in
    // /proc for a moment: the kernel wakes the joiner before it removes the task.
    if wait_until(Duration::from_millis(500), || client_threads().is_empty()).is_err() {
        return Err(format!("client threads still running after close(): {:?}", client_threads()));
    }
    // 2: calls.
    if let Some(violation) = violations.lock().unwrap().first() {
        return Err(violation.clone());
    }
    // 1 and 3: deliveries and event order.
    for (sub, log) in &logs {
        let log = log.lock().unwrap();
        let expected = published.get(sub.channel()).map(Vec::as_slice).unwrap_or_default();
        check_subscription_events(&log)
            .and_then(|()| check_deliveries(&log, expected))
            .map_err(|why| format!("{}: {why} (caught up: {})", sub.channel(), caught_up.is_ok()))?;
    }
    check_client_events(&client_log.lock().unwrap())?;
    Ok(fault_count)
}

/// Calls in a loop; records any that takes longer than its timeout plus the margin.
fn calls(n: usize, client: &Client, stop: &AtomicBool, violations: &Mutex<Vec<String>>) {
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let started = Instant::now();
        let outcome = if (i + n as u64) % 2 == 0 {
            let payload = format!(r#"{{"caller":{n},"i":{i}}}"#);
            client.rpc("echo", payload.clone()).and_then(|answer| {
                if answer == payload.as_bytes() {
                    Ok(())
                } else {
                    Err(centrifuge_blocking::Error::Protocol(format!(
                        "echo answered {answer:?} to {payload}"
                    )))
                }
            })
        } else {
            client.publish("chaos-calls", r#"{"call":true}"#)
        };
        let took = started.elapsed();
        if took > CALL_TIMEOUT + CALL_MARGIN {
            violations.lock().unwrap().push(format!("a call took {took:?} ({outcome:?})"));
        }
        if let Err(centrifuge_blocking::Error::Protocol(why)) = &outcome {
            violations.lock().unwrap().push(format!("a call got a wrong answer: {why}"));
        }
        if outcome.is_err() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn delivered(log: &[SubSeen]) -> Vec<u64> {
    log.iter()
        .filter_map(|event| match event {
            SubSeen::Publication { offset, .. } => Some(*offset),
            _ => None,
        })
        .collect()
}

fn reported_loss(log: &[SubSeen]) -> bool {
    log.iter()
        .any(|event| matches!(event, SubSeen::Subscribed { was_recovering: true, recovered: false, .. }))
}

/// Invariant 1 for one subscription: `published` (offset, payload) against what it delivered.
fn check_deliveries(log: &[SubSeen], published: &[(u64, String)]) -> Result<(), String> {
    let delivered = delivered(log);
    if delivered.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(format!("offsets out of order or twice: {delivered:?}"));
    }
    if !reported_loss(log) {
        let missing: Vec<u64> = published
            .iter()
            .map(|(offset, _)| *offset)
            .filter(|offset| !delivered.contains(offset))
            .collect();
        if !missing.is_empty() {
            return Err(format!("offsets {missing:?} never delivered"));
        }
    }
    Ok(())
}

/// Subscribed never twice without subscribing between; publications only while subscribed;
/// nothing after the final unsubscribed; codes from the tables.
fn check_subscription_events(log: &[SubSeen]) -> Result<(), String> {
    let mut subscribed = false;
    let mut ended = false;
    for event in log {
        if ended {
            return Err(format!("an event after the final unsubscribed: {event:?}"));
        }
        match event {
            SubSeen::Subscribing { code } => {
                if !(*code <= 1 || *code >= 2500) {
                    return Err(format!("subscribing with code {code}"));
                }
                subscribed = false;
            }
            SubSeen::Subscribed { .. } => {
                if subscribed {
                    return Err("subscribed twice without subscribing between".into());
                }
                subscribed = true;
            }
            SubSeen::Unsubscribed { code } => {
                subscribed = false;
                ended = *code == 2;
            }
            SubSeen::Publication { .. } if !subscribed => {
                return Err("a publication while not subscribed".into());
            }
            _ => {}
        }
    }
    if !ended {
        return Err("close() did not end the subscription with code 2".into());
    }
    Ok(())
}

fn check_client_events(log: &[ClientSeen]) -> Result<(), String> {
    let mut closed = false;
    for event in log {
        if closed {
            return Err(format!("a client event after close: {event:?}"));
        }
        match event {
            ClientSeen::Connecting { code, .. } if !(*code <= 4 || (3000..5000).contains(code)) => {
                return Err(format!("connecting with code {code}"));
            }
            ClientSeen::Disconnected { code, reason } => {
                if reason != "client closed" {
                    return Err(format!("disconnected ({code} {reason}) before close"));
                }
                closed = true;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The names of the client's threads still running (Linux truncates them to 15 bytes).
fn client_threads() -> Vec<String> {
    std::fs::read_dir(support::linux_proc("/proc/self/task"))
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
                .map(|name| name.trim_end().to_string())
                .filter(|name| name.starts_with("centrifuge-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (bounded) for a condition that other threads make true.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Result<(), ()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            return Err(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
