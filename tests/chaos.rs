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
//!    once, in offset order, with the payload published at its offset; history outlasts the
//!    run, so a resubscribe that reports `recovered: false` is itself a violation;
//! 2. every call returns (ok or a typed error) within its timeout plus a small margin, and
//!    the test threads and `close()` finish by a deadline (a hung call fails the seed); once
//!    the faults are over, a call is answered;
//! 3. states and events come in a legal order with codes from the reference's tables, for
//!    the client, the recoverable subscriptions and the churned one;
//! 4. after `close()`, none of the client's threads is left, and none panicked.
//!
//! Each seed also counts what its faults did (the proxy's effects, the client's reconnects
//! and recovered resubscribes); scheduled faults that did nothing fail it. The checks are
//! tested on made-up logs at the end (`checker`, `runner`).

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use centrifuge_blocking::codes::{ConnectingCode, DisconnectedCode, SubscribingCode, UnsubscribedCode};
use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, ClientState, Protocol, Subscription, SubscriptionConfig,
    SubscriptionEvent, SubscriptionState,
};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use support::fault_proxy::{Effects, FaultProxy, Faults};
use support::panics;

const CHANNELS: usize = 3;
const PUBLICATIONS: usize = 40;
const CALL_TIMEOUT: Duration = Duration::from_millis(1000);
const CALL_MARGIN: Duration = Duration::from_millis(500);
const CATCH_UP: Duration = Duration::from_secs(20);
/// How long, once the faults are over, the client has to answer one call correctly.
const SETTLE: Duration = Duration::from_secs(10);
/// The publisher's 40 publications through the local server API take about a second.
const PUBLISHER_LIMIT: Duration = Duration::from_secs(30);
/// `close()`'s documented bound, `max(connect_timeout, timeout) + 1 s`, plus the margin.
const CLOSE_LIMIT: Duration = Duration::from_millis(1000 + 1000 + 500);

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

/// Held by the seeds and by the self-tests that start client threads or panic on a thread
/// named like a client's: a seed counts every such thread and panic in the process.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn chaos_seeds_keep_every_invariant() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    panics::watch();
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Warn);
    let first: u64 = std::env::var("CHAOS_FIRST_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let count: u64 = std::env::var("CHAOS_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let server = Centrifugo::shared();
    let started = Instant::now();
    let mut total = Tally::default();
    for seed in first..first + count {
        WARNINGS.lock().unwrap().clear();
        // Printed first, so that a run that hangs or crashes still names its seed.
        println!("chaos: seed {seed}");
        let mark = panics::count();
        let outcome = run(seed, &server);
        let panicked = panics::since(mark);
        let outcome = match outcome {
            Ok(_) if !panicked.is_empty() => Err(format!("client threads panicked: {panicked:?}")),
            Err(why) if !panicked.is_empty() => Err(format!("{why}; client threads panicked: {panicked:?}")),
            outcome => outcome,
        };
        match outcome {
            Ok(tally) => total.add(&tally),
            Err(failure) => panic!(
                "seed {seed} broke an invariant: {failure}\nthe client's warnings in this run: {:#?}\nreplay: CHAOS_FIRST_SEED={seed} CHAOS_SEEDS=1 cargo test --test chaos",
                WARNINGS.lock().unwrap()
            ),
        }
    }
    if let Err(why) = total.check_run() {
        panic!("chaos: {count} seeds from {first}: {why}\n{}", total.summary());
    }
    println!(
        "chaos: {count} seeds from {first}: {}; all invariants held in {:.1?}",
        total.summary(),
        started.elapsed()
    );
}

/// What the faults of one seed, or of a whole run, actually did.
#[derive(Clone, Debug, Default, PartialEq)]
struct Tally {
    /// Faults the schedule asked for.
    scheduled: u64,
    /// Faults during which the proxy did something (cut, refused, dropped, delayed or
    /// re-chunked at least once).
    took_effect: u64,
    /// What the proxy did, in all.
    proxy: Effects,
    /// The client's `connecting` events after the first, by code.
    reconnects: BTreeMap<u32, u64>,
    /// Resubscribes with recovery (every one recovered, or the seed failed).
    recovered: u64,
}

impl Tally {
    fn add(&mut self, seed: &Tally) {
        self.scheduled += seed.scheduled;
        self.took_effect += seed.took_effect;
        self.proxy = self.proxy.plus(seed.proxy);
        for (code, count) in &seed.reconnects {
            *self.reconnects.entry(*code).or_default() += count;
        }
        self.recovered += seed.recovered;
    }

    fn reconnect_count(&self) -> u64 {
        self.reconnects.values().sum()
    }

    /// One seed: faults were scheduled, so some must have happened; a connection cut while
    /// the client used it must have made it reconnect.
    fn check_seed(&self) -> Result<(), String> {
        if self.scheduled > 0 && self.took_effect == 0 {
            return Err(format!("{} faults scheduled, none took effect: {:?}", self.scheduled, self.proxy));
        }
        if self.proxy.cut > 0 && self.reconnect_count() == 0 {
            return Err(format!("{} connections cut, and the client never reconnected", self.proxy.cut));
        }
        Ok(())
    }

    /// A whole run: "faults injected" must mean faults that happened, reconnects and
    /// recoveries included.
    fn check_run(&self) -> Result<(), String> {
        if self.scheduled > 0 && (self.reconnect_count() == 0 || self.recovered == 0) {
            return Err(format!(
                "{} faults scheduled, but {} reconnects and {} recovered resubscribes: the faults did not bite",
                self.scheduled,
                self.reconnect_count(),
                self.recovered
            ));
        }
        Ok(())
    }

    fn summary(&self) -> String {
        let codes: Vec<String> =
            self.reconnects.iter().map(|(code, count)| format!("{count} × {code}")).collect();
        let p = self.proxy;
        format!(
            "{} faults scheduled, {} took effect (connections cut {}, refused {}; chunks blackholed {}, \
             delayed {}, written byte by byte {}); the client reconnected {} times (codes: {}) and \
             resubscribed with recovery {} times, all recovered",
            self.scheduled,
            self.took_effect,
            p.cut,
            p.refused,
            p.blackholed,
            p.delayed,
            p.one_byte,
            self.reconnect_count(),
            if codes.is_empty() { "none".to_string() } else { codes.join(", ") },
            self.recovered
        )
    }
}

/// One seeded run; returns what its faults did.
fn run(seed: u64, server: &Centrifugo) -> Result<Tally, String> {
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
            helper(&format!("caller {n}"), move || {
                calls(n, &client, &stop, &violations);
                Ok(())
            })
        })
        .collect();
    // Subscribing and unsubscribing in a loop, across faults, must never leave the server
    // thinking the channel is still subscribed (105 "already subscribed") or make it refuse;
    // its log is checked with the others.
    let churn_log: Arc<Mutex<Vec<SubSeen>>> = Arc::default();
    let churn = {
        let (client, stop) = (client.clone(), Arc::clone(&stop));
        let channel = format!("chaos-churn-{seed}");
        let log = Arc::clone(&churn_log);
        let churn_listener =
            move |_: &Subscription, event: SubscriptionEvent| log.lock().unwrap().push(SubSeen::of(&event));
        helper("churn thread", move || {
            let sub = client
                .new_subscription(&channel, SubscriptionConfig::default(), churn_listener)
                .map_err(|err| format!("the churn thread could not create its subscription: {err}"))?;
            while !stop.load(Ordering::SeqCst) {
                let _ = sub.subscribe();
                std::thread::sleep(Duration::from_millis(30));
                let _ = sub.unsubscribe();
                std::thread::sleep(Duration::from_millis(30));
            }
            client
                .remove_subscription(&sub)
                .map_err(|err| format!("removing the churned subscription: {err}"))
        })
    };

    // The publisher and the fault schedule run side by side.
    let publish_seed: u64 = rng.random();
    let api = server.api().clone();
    let publish_channels = channels.clone();
    let publisher = helper("publisher", move || {
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
    // usize, as before the tally: the type decides how the rng draws, so seeds keep their schedules.
    let fault_count: usize = rng.random_range(2..=6);
    let mut took_effect = 0;
    for _ in 0..fault_count {
        std::thread::sleep(Duration::from_millis(rng.random_range(30..200)));
        let hold = Duration::from_millis(rng.random_range(30..300));
        let before = proxy.effects();
        match rng.random_range(0..5) {
            0 => {
                proxy.cut();
            }
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
        if proxy.effects().since(before).any() {
            took_effect += 1;
        }
    }
    let published: BTreeMap<String, Vec<(u64, String)>> =
        publisher.finish(Instant::now() + PUBLISHER_LIMIT)?;

    // Faults are over: every subscription must catch up (or say it could not).
    let caught_up = wait_until(CATCH_UP, || {
        logs.iter().all(|(sub, log)| {
            let log = log.lock().unwrap();
            let expected = published.get(sub.channel()).map(Vec::len).unwrap_or(0);
            let delivered = log.iter().filter(|event| matches!(event, SubSeen::Publication { .. })).count();
            // A failed recovery is a violation here: no use waiting for what it lost.
            let lost = log.iter().any(|event| {
                matches!(event, SubSeen::Subscribed { recovered: false, was_recovering: true, .. })
            });
            lost || delivered >= expected
        })
    });
    // A reader that died silently leaves the client "connected" and every call unanswered.
    let settled = require_a_successful_call(&client, SETTLE);
    stop.store(true, Ordering::SeqCst);
    // Each helper is in at most one call when told to stop; one that is not back within the
    // call's bound is a hung call, reported with the seed instead of hanging the test.
    let deadline = Instant::now() + CALL_TIMEOUT + CALL_MARGIN;
    for caller in callers {
        caller.finish(deadline)?;
    }
    churn.finish(deadline)?;
    settled?;
    let closing = client.clone();
    helper("close()", move || {
        closing.close();
        Ok(())
    })
    .finish(Instant::now() + CLOSE_LIMIT)?;

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
        check_subscription_events(&log, Role::Recoverable)
            .and_then(|()| check_deliveries(&log, expected, Recovery::MustSucceed))
            .map_err(|why| format!("{}: {why} (caught up: {})", sub.channel(), caught_up.is_ok()))?;
    }
    check_subscription_events(&churn_log.lock().unwrap(), Role::Churned)
        .map_err(|why| format!("the churned subscription: {why}"))?;
    check_client_events(&client_log.lock().unwrap())?;

    let client_log = client_log.lock().unwrap();
    let mut tally =
        Tally { scheduled: fault_count as u64, took_effect, proxy: proxy.effects(), ..Tally::default() };
    for event in client_log.iter().skip(1) {
        if let ClientSeen::Connecting { code, .. } = event {
            *tally.reconnects.entry(*code).or_default() += 1;
        }
    }
    for (_, log) in &logs {
        let log = log.lock().unwrap();
        tally.recovered += log
            .iter()
            .filter(|event| matches!(event, SubSeen::Subscribed { was_recovering: true, .. }))
            .count() as u64;
    }
    tally.check_seed()?;
    Ok(tally)
}

/// A test thread whose result is collected by a deadline.
struct Helper<T> {
    name: String,
    result: crossbeam_channel::Receiver<Result<T, String>>,
}

/// Runs `work` on a thread of its own (named `chaos-…`: its panics are not a client's).
fn helper<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Helper<T> {
    let (sender, result) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name(format!("chaos-{}", name.replace(' ', "-")))
        .spawn(move || {
            let _ = sender.send(work());
        })
        .expect("spawn a chaos helper");
    Helper { name: name.to_string(), result }
}

impl<T> Helper<T> {
    /// The helper's result, or why there is none by `deadline` (it hangs, or it panicked).
    fn finish(self, deadline: Instant) -> Result<T, String> {
        match self.result.recv_deadline(deadline) {
            Ok(result) => result.map_err(|why| format!("{}: {why}", self.name)),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                Err(format!("the {} did not finish by its deadline: a call hangs", self.name))
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                Err(format!("the {} panicked", self.name))
            }
        }
    }
}

/// One call must succeed within `limit`: retried while the client reconnects, but a client
/// whose connection no longer reads (or answers wrongly) fails.
fn require_a_successful_call(client: &Client, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let mut last = String::from("no attempt");
    while Instant::now() < deadline {
        let _ = client.ready(deadline.saturating_duration_since(Instant::now()));
        let payload = r#"{"settled":true}"#;
        match client.rpc("echo", payload) {
            Ok(answer) if answer == payload.as_bytes() => return Ok(()),
            Ok(answer) => last = format!("echo answered {:?}", String::from_utf8_lossy(&answer)),
            Err(err) => last = format!("{err:?}"),
        }
        // Stopped for good: nothing to wait for (and no call would wait).
        if let state @ (ClientState::Disconnected | ClientState::Closed) = client.state() {
            return Err(format!("the client is {state:?} after the faults ended; the last call: {last}"));
        }
    }
    Err(format!("no call succeeded within {limit:?} after the faults ended; the last: {last}"))
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

/// Whether a resubscribe may legitimately fail to recover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recovery {
    /// History holds more than a run publishes, for longer than it lasts: the chaos setup
    /// (namespace `hist`: 100 publications for 300 s; a run publishes 40 in a few seconds).
    MustSucceed,
    /// History may overflow or expire, or the server may lose it (no mode does this yet).
    // Only the checker's own tests use it until a mode (e.g. server restarts) does.
    #[allow(dead_code)]
    MayFail,
}

/// Which subscription a log belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Subscribed once; only `close()` unsubscribes it.
    Recoverable,
    /// Subscribed and unsubscribed in a loop by the churn thread, removed before `close()`.
    Churned,
}

/// Invariant 1 for one subscription: every publication in `published` (offset, payload) is
/// delivered once, in offset order, with its own payload, and nothing else is. A resubscribe
/// that reports `recovered: false` is a violation under [`Recovery::MustSucceed`]; under
/// [`Recovery::MayFail`] it exempts only the gap it reports (after the last offset delivered
/// before it, up to the stream top it names), never what comes after.
fn check_deliveries(log: &[SubSeen], published: &[(u64, String)], recovery: Recovery) -> Result<(), String> {
    let payloads: BTreeMap<u64, &str> =
        published.iter().map(|(offset, payload)| (*offset, payload.as_str())).collect();
    let mut last = 0;
    let mut delivered = Vec::new();
    let mut exempt = Vec::new();
    for event in log {
        match event {
            SubSeen::Subscribed { was_recovering: true, recovered: false, top } => match recovery {
                Recovery::MustSucceed => {
                    return Err(format!(
                        "a resubscribe after offset {last} did not recover (recovered: false), although \
                         history holds every publication of the run"
                    ));
                }
                Recovery::MayFail => exempt.push(last + 1..=top.unwrap_or(last)),
            },
            SubSeen::Publication { offset, data } => {
                if *offset <= last {
                    return Err(format!("offset {offset} delivered after {last}: out of order or twice"));
                }
                let Some(payload) = payloads.get(offset) else {
                    return Err(format!("offset {offset} delivered, but no such publication was made"));
                };
                if !same_json(data, payload) {
                    return Err(format!(
                        "offset {offset} carries {:?}, but was published with {payload}",
                        String::from_utf8_lossy(data)
                    ));
                }
                last = *offset;
                delivered.push(*offset);
            }
            _ => {}
        }
    }
    let missing: Vec<u64> = payloads
        .keys()
        .copied()
        .filter(|offset| !delivered.contains(offset) && !exempt.iter().any(|gap| gap.contains(offset)))
        .collect();
    if !missing.is_empty() {
        return Err(format!("offsets {missing:?} never delivered (delivered {delivered:?})"));
    }
    Ok(())
}

/// Whether `data` is the JSON value `published` (the server may re-encode it; its value is
/// what counts).
fn same_json(data: &[u8], published: &str) -> bool {
    match (
        serde_json::from_slice::<serde_json::Value>(data),
        serde_json::from_str::<serde_json::Value>(published),
    ) {
        (Ok(data), Ok(published)) => data == published,
        _ => false,
    }
}

/// Invariant 3 for a subscription: subscribed only right after subscribing; publications only
/// while subscribed; codes from the tables. A [`Role::Recoverable`] subscription is unsubscribed
/// only by `close()` (code 2), as its last event; the [`Role::Churned`] one is unsubscribed by
/// the churn (code 0), every `subscribe()` goes through subscribing again, and it ends
/// unsubscribed.
fn check_subscription_events(log: &[SubSeen], role: Role) -> Result<(), String> {
    #[derive(Debug, PartialEq)]
    enum State {
        Unsubscribed,
        Subscribing,
        Subscribed,
    }
    let mut state = State::Unsubscribed;
    let mut ended = false;
    for event in log {
        if ended {
            return Err(format!("an event after the final unsubscribed: {event:?}"));
        }
        match event {
            SubSeen::Subscribing { code } => {
                // From 2500 on: the server's resubscribe codes, and the client's insufficient state.
                if !(*code <= SubscribingCode::TransportClosed.code() || *code >= 2500) {
                    return Err(format!("subscribing with code {code}"));
                }
                state = State::Subscribing;
            }
            SubSeen::Subscribed { .. } => {
                if state != State::Subscribing {
                    return Err(format!("subscribed while {state:?}, not right after subscribing"));
                }
                state = State::Subscribed;
            }
            SubSeen::Unsubscribed { code } => {
                let explained = match role {
                    Role::Recoverable => *code == UnsubscribedCode::ClientClosed.code(),
                    Role::Churned => {
                        [UnsubscribedCode::UnsubscribeCalled.code(), UnsubscribedCode::ClientClosed.code()]
                            .contains(code)
                    }
                };
                if !explained {
                    return Err(format!("unsubscribed with code {code}, which nothing in the run explains"));
                }
                state = State::Unsubscribed;
                ended = *code == UnsubscribedCode::ClientClosed.code();
            }
            SubSeen::Publication { .. } if state != State::Subscribed => {
                return Err(format!("a publication while {state:?}"));
            }
            SubSeen::Error(error) if role == Role::Churned && error.starts_with("Server") => {
                return Err(format!("the churned subscription got a server error: {error}"));
            }
            _ => {}
        }
    }
    match role {
        Role::Recoverable if !ended => Err("close() did not end the subscription with code 2".into()),
        Role::Churned if state != State::Unsubscribed => {
            Err(format!("the churned subscription ended {state:?}, after its last unsubscribe()"))
        }
        _ => Ok(()),
    }
}

/// Invariant 3 for the client: connecting first (code 0), then connected or connecting again
/// with a code that reconnects: the client's own 1–4 or a server code outside the terminal
/// ranges (3500–3999, 4500–4999); the one `disconnected` is the one `close()` causes, and it
/// is the last event.
fn check_client_events(log: &[ClientSeen]) -> Result<(), String> {
    let mut closed = false;
    for (index, event) in log.iter().enumerate() {
        if closed {
            return Err(format!("a client event after close: {event:?}"));
        }
        match event {
            ClientSeen::Connecting { code, .. } => {
                let legal = if index == 0 {
                    *code == ConnectingCode::ConnectCalled.code()
                } else {
                    (ConnectingCode::TransportClosed.code()..=ConnectingCode::UnsubscribeError.code())
                        .contains(code)
                        || (*code >= 3000 && !(3500..4000).contains(code) && !(4500..5000).contains(code))
                };
                if !legal {
                    return Err(format!("connecting with code {code} (event {index})"));
                }
            }
            ClientSeen::Disconnected { code, reason } => {
                if (*code, reason.as_str()) != (DisconnectedCode::ClientClosed.code(), "client closed") {
                    return Err(format!("disconnected ({code} {reason}) before close"));
                }
                closed = true;
            }
            _ if index == 0 => return Err(format!("the first event is {event:?}, not connecting")),
            _ => {}
        }
    }
    if !closed {
        return Err(format!("no disconnected event after close(); the last was {:?}", log.last()));
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

/// The checks above, fed made-up logs: each rule refuses what it is there to refuse, and a
/// legal run passes.
mod checker {
    use super::*;

    fn payload(n: u64) -> String {
        format!(r#"{{"n":{n}}}"#)
    }

    fn published(offsets: impl IntoIterator<Item = u64>) -> Vec<(u64, String)> {
        offsets.into_iter().map(|offset| (offset, payload(offset))).collect()
    }

    fn publication(offset: u64) -> SubSeen {
        SubSeen::Publication { offset, data: payload(offset).into_bytes() }
    }

    fn subscribed(was_recovering: bool, recovered: bool, top: u64) -> SubSeen {
        SubSeen::Subscribed { was_recovering, recovered, top: Some(top) }
    }

    const SUBSCRIBE: SubSeen = SubSeen::Subscribing { code: SubscribingCode::SubscribeCalled.code() };
    const RESUBSCRIBE: SubSeen = SubSeen::Subscribing { code: SubscribingCode::TransportClosed.code() };
    const CLOSED: SubSeen = SubSeen::Unsubscribed { code: UnsubscribedCode::ClientClosed.code() };
    const UNSUBSCRIBED: SubSeen = SubSeen::Unsubscribed { code: UnsubscribedCode::UnsubscribeCalled.code() };

    /// A run with one reconnect that recovered 2 and 3.
    fn legal_subscription_log() -> Vec<SubSeen> {
        vec![
            SUBSCRIBE,
            subscribed(false, false, 0),
            publication(1),
            RESUBSCRIBE,
            subscribed(true, true, 1),
            publication(2),
            publication(3),
            publication(4),
            CLOSED,
        ]
    }

    fn connecting(code: u32) -> ClientSeen {
        ClientSeen::Connecting { code, reason: "why".into() }
    }

    fn closed() -> ClientSeen {
        ClientSeen::Disconnected {
            code: DisconnectedCode::ClientClosed.code(),
            reason: "client closed".into(),
        }
    }

    #[test]
    fn a_legal_run_passes() {
        let log = legal_subscription_log();
        assert_eq!(check_subscription_events(&log, Role::Recoverable), Ok(()));
        assert_eq!(check_deliveries(&log, &published(1..=4), Recovery::MustSucceed), Ok(()));
        let client =
            vec![connecting(0), ClientSeen::Connected, connecting(1), ClientSeen::Connected, closed()];
        assert_eq!(check_client_events(&client), Ok(()));
    }

    #[test]
    fn a_lost_publication_is_a_violation() {
        let mut log = legal_subscription_log();
        log.retain(|event| *event != publication(3));
        assert!(check_deliveries(&log, &published(1..=4), Recovery::MustSucceed).is_err());
    }

    #[test]
    fn recovery_that_fails_where_it_cannot_is_a_violation() {
        let log = vec![
            SUBSCRIBE,
            subscribed(false, false, 0),
            publication(1),
            RESUBSCRIBE,
            subscribed(true, false, 3),
            CLOSED,
        ];
        let outcome = check_deliveries(&log, &published(1..=3), Recovery::MustSucceed);
        assert!(outcome.is_err(), "recovered: false accepted: {outcome:?}");
    }

    #[test]
    fn where_recovery_may_fail_only_the_gap_it_reports_is_exempt() {
        // The resubscribe reports the stream at 3: 2 and 3 are lost and said so; 4 is not.
        let mut log = vec![
            SUBSCRIBE,
            subscribed(false, false, 0),
            publication(1),
            RESUBSCRIBE,
            subscribed(true, false, 3),
        ];
        assert_eq!(check_deliveries(&log, &published(1..=3), Recovery::MayFail), Ok(()));
        let outcome = check_deliveries(&log, &published(1..=4), Recovery::MayFail);
        assert!(outcome.is_err(), "4, after the reported gap, was never delivered: {outcome:?}");
        log.push(publication(4));
        assert_eq!(check_deliveries(&log, &published(1..=4), Recovery::MayFail), Ok(()));
    }

    #[test]
    fn a_payload_mix_up_is_a_violation() {
        let mut log = legal_subscription_log();
        for event in &mut log {
            if let SubSeen::Publication { offset, data } = event {
                // 2 and 3 swap their payloads.
                if *offset == 2 || *offset == 3 {
                    *data = payload(5 - *offset).into_bytes();
                }
            }
        }
        let outcome = check_deliveries(&log, &published(1..=4), Recovery::MustSucceed);
        assert!(outcome.is_err(), "swapped payloads accepted: {outcome:?}");
    }

    #[test]
    fn a_publication_that_was_never_published_is_a_violation() {
        let outcome = check_deliveries(&legal_subscription_log(), &published(1..=3), Recovery::MustSucceed);
        assert!(outcome.is_err(), "offset 4 was not published: {outcome:?}");
    }

    #[test]
    fn a_terminal_code_on_connecting_is_a_violation() {
        for code in [3500, 3501, 3999, 4500, 4999] {
            let log =
                vec![connecting(0), ClientSeen::Connected, connecting(code), ClientSeen::Connected, closed()];
            assert!(check_client_events(&log).is_err(), "connecting with terminal code {code} accepted");
        }
        for code in [3000, 3499, 4000, 4499] {
            let log =
                vec![connecting(0), ClientSeen::Connected, connecting(code), ClientSeen::Connected, closed()];
            assert_eq!(check_client_events(&log), Ok(()), "code {code} reconnects");
        }
    }

    #[test]
    fn close_must_end_with_disconnected() {
        let log = vec![connecting(0), ClientSeen::Connected];
        assert!(check_client_events(&log).is_err(), "no disconnected after close() accepted");
    }

    #[test]
    fn unsubscribed_then_subscribed_is_a_violation_where_nothing_unsubscribes() {
        let log =
            vec![SUBSCRIBE, subscribed(false, false, 0), UNSUBSCRIBED, subscribed(false, false, 0), CLOSED];
        let outcome = check_subscription_events(&log, Role::Recoverable);
        assert!(outcome.is_err(), "an unexplained unsubscribe accepted: {outcome:?}");
    }

    #[test]
    fn the_churned_subscription_unsubscribes_and_subscribes_again_through_subscribing() {
        let churn = vec![SUBSCRIBE, subscribed(false, false, 0), UNSUBSCRIBED, SUBSCRIBE, UNSUBSCRIBED];
        assert_eq!(check_subscription_events(&churn, Role::Churned), Ok(()));
        let skipped = vec![SUBSCRIBE, UNSUBSCRIBED, subscribed(false, false, 0), UNSUBSCRIBED];
        let outcome = check_subscription_events(&skipped, Role::Churned);
        assert!(outcome.is_err(), "subscribed right after unsubscribed accepted: {outcome:?}");
    }
}

/// The run's own machinery: hung and panicking helpers, a client that stops answering, a
/// panic on a client thread.
mod runner {
    use super::*;
    use support::fake_server::{FakeServer, connect_result};

    #[test]
    fn a_helper_that_hangs_fails_by_its_deadline() {
        // Stands for a call that never returns: the helper waits on a channel nobody sends on.
        let (_never_sent, never) = crossbeam_channel::bounded::<()>(0);
        let hung = helper("caller 0", move || never.recv().map_err(|err| err.to_string()));
        let started = Instant::now();
        let outcome = hung.finish(Instant::now() + Duration::from_millis(100));
        assert!(matches!(&outcome, Err(why) if why.contains("did not finish")), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "waited {:?}", started.elapsed());
    }

    #[test]
    fn a_helper_that_panics_or_fails_is_reported() {
        let panicking = helper("churn thread", || -> Result<(), String> { panic!("on purpose") });
        let outcome = panicking.finish(Instant::now() + Duration::from_secs(5));
        assert!(matches!(&outcome, Err(why) if why.contains("panicked")), "{outcome:?}");
        let failing = helper("churn thread", || -> Result<(), String> { Err("no subscription".into()) });
        let outcome = failing.finish(Instant::now() + Duration::from_secs(5));
        assert_eq!(outcome, Err("churn thread: no subscription".into()));
    }

    /// A server that answers connect and then reads without answering: to the client, a
    /// connection whose reading side died.
    #[test]
    fn a_client_that_gets_no_answers_fails_the_settling_call() {
        // Its client's threads must not be counted as a seed's.
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let silent = FakeServer::start(Protocol::Json, |index, mut connection| {
            connection.accept_connect(connect_result(&format!("c{index}"), 0));
            connection.idle_until_gone();
        });
        let config = ClientConfig::default().timeout(Duration::from_millis(300));
        let client = Client::new(silent.url(), config, centrifuge_blocking::listener::NoopListener).unwrap();
        client.connect().unwrap();
        let outcome = require_a_successful_call(&client, Duration::from_millis(1500));
        assert!(matches!(&outcome, Err(why) if why.contains("no call succeeded")), "{outcome:?}");
        client.close();

        let answering = FakeServer::start(Protocol::Json, |index, mut connection| {
            connection.accept_connect(connect_result(&format!("c{index}"), 0));
            connection.serve_echo();
        });
        let client = Client::new(
            answering.url(),
            ClientConfig::default(),
            centrifuge_blocking::listener::NoopListener,
        )
        .unwrap();
        client.connect().unwrap();
        assert_eq!(require_a_successful_call(&client, Duration::from_secs(5)), Ok(()));
        client.close();
    }

    #[test]
    fn faults_that_did_nothing_fail_the_seed_and_the_run() {
        let idle = Tally { scheduled: 3, ..Tally::default() };
        assert!(idle.check_seed().is_err(), "3 faults with no effect accepted");
        let cut_unnoticed = Tally {
            scheduled: 1,
            took_effect: 1,
            proxy: Effects { cut: 1, ..Effects::default() },
            ..Tally::default()
        };
        assert!(cut_unnoticed.check_seed().is_err(), "a cut the client never noticed accepted");
        let latency_only = Tally {
            scheduled: 1,
            took_effect: 1,
            proxy: Effects { delayed: 9, ..Effects::default() },
            ..Tally::default()
        };
        assert_eq!(latency_only.check_seed(), Ok(()), "latency alone need not make the client reconnect");
        assert!(latency_only.check_run().is_err(), "a whole run without a reconnect accepted");
        let bit = Tally {
            scheduled: 2,
            took_effect: 2,
            proxy: Effects { cut: 1, delayed: 9, ..Effects::default() },
            reconnects: BTreeMap::from([(ConnectingCode::TransportClosed.code(), 1)]),
            recovered: 3,
        };
        assert_eq!(bit.check_seed(), Ok(()));
        assert_eq!(bit.check_run(), Ok(()));
    }

    #[test]
    fn the_proxy_counts_what_its_faults_did() {
        use std::io::{Read, Write};
        // An echo server behind the proxy.
        let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = target.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut stream in target.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 64];
                    while let Ok(read @ 1..) = stream.read(&mut buffer) {
                        if stream.write_all(&buffer[..read]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = FaultProxy::start(address);
        let round_trip = |stream: &mut std::net::TcpStream| {
            stream.write_all(b"ping").unwrap();
            let mut answer = [0u8; 4];
            stream.read_exact(&mut answer).unwrap();
        };
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        round_trip(&mut stream);
        assert_eq!(proxy.effects(), Effects::default(), "no fault, no effect");
        proxy.set(Faults { latency: Duration::from_millis(1), ..Faults::default() });
        round_trip(&mut stream);
        proxy.set(Faults { one_byte_writes: true, ..Faults::default() });
        round_trip(&mut stream);
        proxy.set(Faults::default());
        let effects = proxy.effects();
        assert!(effects.delayed >= 2 && effects.one_byte >= 2, "{effects:?}");
        assert_eq!(proxy.cut(), 1, "the one live connection");
        assert_eq!(proxy.cut(), 0, "nothing left to cut");
        proxy.set(Faults { refuse: true, ..Faults::default() });
        let mut refused = std::net::TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        refused.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(refused.read(&mut [0u8; 1]).unwrap_or(0), 0, "closed at once");
        assert_eq!(proxy.effects().since(effects), Effects { cut: 1, refused: 1, ..Effects::default() });
    }

    #[test]
    fn a_panic_on_a_client_thread_is_seen() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        panics::watch();
        let mark = panics::count();
        let thread = std::thread::Builder::new()
            .name("centrifuge-selftest".into())
            .spawn(|| panic!("a client thread's bug"))
            .unwrap();
        assert!(thread.join().is_err());
        let seen = panics::since(mark);
        assert!(seen.len() == 1 && seen[0].contains("a client thread's bug"), "{seen:?}");
    }
}
