//! A client process frozen (SIGSTOP) for longer than the server waits for its pongs, then
//! resumed (SIGCONT), notices at once that its connection is gone, reconnects and recovers
//! what was published meanwhile, instead of waiting out a ping window.
//!
//! A frozen process is the nearest a test can come to a laptop's sleep: the server gives up on
//! the client while it cannot answer. (A machine's real suspend also stops the monotonic clock,
//! which the client's sleep watch compares with the wall clock; that comparison is tested with
//! simulated clocks in `runtime::sleep` and the core's reaction in the core's tests.)
//!
//! The client runs in a child process of this test binary, which prints its events on stdout;
//! the parent freezes and resumes it with `kill` and checks what it printed. Unix only: there
//! is no SIGSTOP elsewhere.

#![cfg(unix)]

#[macro_use]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use centrifuge_blocking::{ClientConfig, ClientEvent, SubscriptionConfig, SubscriptionEvent};
use centrifuge_test_harness::{Centrifugo, config};
use serde_json::json;

/// Set in the child: the endpoint to connect to.
const CHILD_URL: &str = "CENTRIFUGE_TEST_FREEZE_URL";
/// A channel with recovery and presence (`chat` namespace of the test configuration).
fn channel() -> String {
    format!("{}:frozen", config::CHAT)
}

#[test]
fn a_frozen_and_resumed_client_reconnects_at_once_and_recovers() {
    if let Ok(url) = std::env::var(CHILD_URL) {
        return run_child(&url);
    }
    // Pings every 2 s, 1 s to answer: a frozen client is dropped within about 3 s.
    let server = Centrifugo::start_with(|config| {
        config["client"]["ping_interval"] = json!("2s");
        config["client"]["pong_timeout"] = json!("1s");
    });
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_frozen_and_resumed_client_reconnects_at_once_and_recovers", "--nocapture"])
        .env(CHILD_URL, server.ws_url())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the child client");
    let pid = child.id().to_string();
    let (lines, printed) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(event) = line.strip_prefix("EVENT ") {
                let _ = lines.send(event.to_string());
            }
        }
    });
    // Every line the child printed, in order.
    let mut seen: Vec<String> = Vec::new();
    until(&printed, &mut seen, "subscribed");

    signal("-STOP", &pid);
    for n in 0..3 {
        server.api().publish(&channel(), &format!(r#"{{"while":{n}}}"#)).unwrap();
    }
    // The server gives up on the frozen client: its presence in the channel goes.
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.api().presence(&channel()).unwrap()["presence"]
        .as_object()
        .is_some_and(|clients| !clients.is_empty())
    {
        assert!(Instant::now() < deadline, "the server kept the frozen client for 15 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let resumed = Instant::now();
    signal("-CONT", &pid);

    let connecting = until(&printed, &mut seen, "connecting");
    let reconnected = until(&printed, &mut seen, "connected");
    let took = resumed.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "noticed and reconnected in {took:?} ({connecting}, {reconnected})"
    );
    assert_eq!(until(&printed, &mut seen, "subscribed"), "subscribed recovered=true");
    // What was published while frozen arrives once each, in order: from the old connection's
    // socket buffer before it was found dead, or recovered after the resubscribe.
    while seen.iter().filter(|line| line.starts_with("publication")).count() < 3 {
        until(&printed, &mut seen, "publication");
    }
    let publications: Vec<&String> = seen.iter().filter(|line| line.starts_with("publication")).collect();
    let expected: Vec<String> = (0..3).map(|n| format!(r#"publication {{"while":{n}}}"#)).collect();
    assert_eq!(publications, expected.iter().collect::<Vec<_>>());
    assert!(printed.recv_timeout(Duration::from_millis(300)).is_err(), "nothing twice");
    signal("-TERM", &pid);
    let _ = child.wait();
    let _ = reader.join();
}

/// Reads the child's lines into `seen` until one starts with `prefix`; returns it.
fn until(printed: &mpsc::Receiver<String>, seen: &mut Vec<String>, prefix: &str) -> String {
    loop {
        let line = printed
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("the child printed no {prefix}; it printed {seen:#?}"));
        seen.push(line.clone());
        if line.starts_with(prefix) {
            return line;
        }
    }
}

fn signal(which: &str, pid: &str) {
    let status = Command::new("kill").args([which, pid]).status().expect("run kill");
    assert!(status.success(), "kill {which} {pid}");
}

/// The child: a client with a recoverable subscription, printing its events until killed.
fn run_child(url: &str) {
    let print = |line: String| println!("EVENT {line}");
    let client = centrifuge_blocking::Client::new(
        url,
        ClientConfig::default()
            .min_reconnect_delay(Duration::from_millis(10))
            .max_server_ping_delay(Duration::from_secs(1)),
        move |_: &centrifuge_blocking::Client, event: ClientEvent| match event {
            ClientEvent::Connecting(event) => {
                print(format!("connecting {} {}", event.code(), event.reason()))
            }
            ClientEvent::Connected(event) => print(format!("connected {}", event.client_id())),
            _ => {}
        },
    )
    .unwrap();
    let subscription = client
        .new_subscription(
            &channel(),
            SubscriptionConfig::default().recoverable(true),
            move |_: &centrifuge_blocking::Subscription, event: SubscriptionEvent| match event {
                SubscriptionEvent::Subscribed(event) => {
                    print(format!("subscribed recovered={}", event.recovered()))
                }
                SubscriptionEvent::Publication(event) => {
                    print(format!("publication {}", String::from_utf8_lossy(event.data())))
                }
                _ => {}
            },
        )
        .unwrap();
    subscription.subscribe().unwrap();
    client.connect().unwrap();
    // Until the parent ends this process.
    loop {
        std::thread::park();
    }
}
