//! The client's threads end: `close()` joins them, so the process's thread count returns to
//! where it was before the client existed; dropping the last handle ends them too, without
//! blocking the caller, even when every listener used the handle its callbacks were given; and
//! `close()` called from a callback ends them all once the callback returns, with no later
//! `close()`. Alone in its own test binary, with one test, so that no other test's threads come
//! and go meanwhile.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, Protocol, Subscription, SubscriptionConfig, SubscriptionEvent,
    listener::NoopListener,
};
use centrifuge_test_harness::Centrifugo;
use crossbeam_channel::unbounded;
use support::events::{EVENT_TIMEOUT, client, settled_thread_count, thread_count};

#[test]
fn client_threads_end_on_close_and_on_drop() {
    let server = Centrifugo::shared();
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        for lanes in [1, 4] {
            let before = thread_count();
            let config = ClientConfig::default().protocol(protocol).executor_lanes(lanes);
            let (client, events) = client(&server.ws_url(), config);
            client.connect().unwrap();
            events.connected();
            // core + lanes + the connection's reader
            assert_eq!(thread_count(), before + 2 + lanes, "{protocol:?} with {lanes} lanes");
            client.rpc("ping", Vec::new()).unwrap();
            client.close();
            assert_eq!(
                settled_thread_count(before),
                before,
                "{protocol:?} with {lanes} lanes: close() joined every thread"
            );
            client.close();
        }
    }

    let before = thread_count();
    let client = Client::new(server.ws_url(), ClientConfig::default(), NoopListener).unwrap();
    client.connect().unwrap();
    client.ready(Duration::from_secs(10)).unwrap();
    let dropped_at = Instant::now();
    drop(client);
    assert!(dropped_at.elapsed() < Duration::from_millis(100), "drop does not wait for the threads");
    wait_for_thread_count(before, "after the last handle was dropped");

    the_handles_given_to_listeners_do_not_keep_the_client_alive(&server);
    close_from_a_callback_ends_every_thread_without_a_later_close(&server);
}

/// Waits (bounded) for the threads to finish on their own.
fn wait_for_thread_count(expected: usize, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while thread_count() != expected {
        assert!(Instant::now() < deadline, "threads still running 10 s {when}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every callback, client and subscription, uses the handle it is given; then the user drops
/// the only handle it kept.
fn the_handles_given_to_listeners_do_not_keep_the_client_alive(server: &Centrifugo) {
    let before = thread_count();
    let (seen, events) = unbounded();
    let client_seen = seen.clone();
    let client =
        Client::new(server.ws_url(), ClientConfig::default(), move |client: &Client, event: ClientEvent| {
            let _ = client_seen.send(format!("client {} in {:?}", event_name(&event), client.state()));
            if matches!(event, ClientEvent::Connected(_)) {
                // A call through the handle, and a clone of it that is dropped again at once.
                let _ = client_seen.send(format!("rpc {:?}", client.rpc("ping", Vec::new()).is_ok()));
                drop(client.clone());
            }
        })
        .unwrap();
    let subscription = client
        .new_subscription(
            "handles",
            SubscriptionConfig::default(),
            move |sub: &Subscription, event: SubscriptionEvent| {
                let _ = seen.send(format!(
                    "subscription {} {} in {:?}",
                    sub.channel(),
                    sub_event_name(&event),
                    sub.state()
                ));
            },
        )
        .unwrap();
    subscription.subscribe().unwrap();
    client.connect().unwrap();
    let mut reports = Vec::new();
    while !reports.iter().any(|report: &String| report.starts_with("subscription handles Subscribed")) {
        match events.recv_timeout(EVENT_TIMEOUT) {
            Ok(report) => reports.push(report),
            Err(_) => panic!("no subscribed report; saw {reports:?}"),
        }
    }
    assert!(reports.contains(&"rpc true".to_string()), "{reports:?}");
    drop(subscription);
    drop(client);
    wait_for_thread_count(
        before,
        "after the last handle was dropped, with listeners that used their handles",
    );
    let rest: Vec<String> = events.try_iter().collect();
    assert!(
        rest.iter().any(|report| report.starts_with("client Disconnected")),
        "the listener still got the last events, with its handle: {rest:?}"
    );
}

/// The listener closes the client it is handed; the test keeps its own handle and never calls
/// `close()` itself.
fn close_from_a_callback_ends_every_thread_without_a_later_close(server: &Centrifugo) {
    let before = thread_count();
    let (closed, returned) = unbounded();
    let client = Client::new(
        server.ws_url(),
        ClientConfig::default().executor_lanes(2),
        move |client: &Client, event: ClientEvent| {
            if matches!(event, ClientEvent::Connected(_)) {
                client.close();
                let _ = closed.send(());
            }
        },
    )
    .unwrap();
    client.connect().unwrap();
    returned.recv_timeout(EVENT_TIMEOUT).expect("close() returned inside the callback");
    wait_for_thread_count(before, "after close() from a callback");
    assert_eq!(client.state(), centrifuge_blocking::ClientState::Closed);
    drop(client);
}

fn event_name(event: &ClientEvent) -> String {
    format!("{event:?}").split('(').next().unwrap_or_default().to_string()
}

fn sub_event_name(event: &SubscriptionEvent) -> String {
    format!("{event:?}").split('(').next().unwrap_or_default().to_string()
}
