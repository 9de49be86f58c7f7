//! A listener that blocks for seconds while publications stream in: the client's memory stays
//! near its `event_queue_limit` (reading pauses, TCP holds the server back), Centrifugo gives up
//! on the slow connection, and the client reconnects and recovers every publication, in order,
//! each exactly once. Alone in its binary, and its tests take turns ([`ONE_AT_A_TIME`]): it
//! measures the process's memory.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use centrifuge_blocking::{
    ClientConfig, ClientEvent, Protocol, Subscription, SubscriptionConfig, SubscriptionEvent,
};
use centrifuge_test_harness::Centrifugo;
use crossbeam_channel::Receiver;
use serde_json::json;
use support::events::{client, rss_kib};

in_both_protocols!(
    a_blocked_listener_holds_the_server_back_and_the_stream_recovers,
    calls_from_callbacks_complete_while_the_queue_is_full,
);

/// Held by every test here: another test's data in the process would count as ours.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// 1,000 publications of 32 KiB: 32 MiB, far more than the socket buffers, Centrifugo's queue
/// for the connection (1 MiB here) and the client's limit together.
const PUBLICATIONS: u64 = 1000;
const PAYLOAD: usize = 32 * 1024;
const EVENT_QUEUE_LIMIT: usize = 256 * 1024;
const STALL: Duration = Duration::from_secs(5);

fn server() -> Centrifugo {
    Centrifugo::start_with(|config| {
        config["client"]["queue_max_size"] = json!(1 << 20);
        // Recovery may bridge the whole stream (Centrifugo's default is 300 publications).
        config["client"]["recovery_max_publication_limit"] = json!(PUBLICATIONS * 2);
        let namespaces = config["channel"]["namespaces"].as_array_mut().expect("namespaces");
        namespaces.push(json!({
            "name": "slow",
            "history_size": PUBLICATIONS * 2,
            "history_ttl": "300s",
            "force_recovery": true,
            "allow_subscribe_for_client": true,
            "allow_subscribe_for_anonymous": true,
        }));
    })
}

/// What the listener saw: offsets of publications, and each (re)subscription's recovery flags.
enum Seen {
    Publication(u64),
    Subscribed { was_recovering: bool, recovered: bool },
}

fn a_blocked_listener_holds_the_server_back_and_the_stream_recovers(protocol: Protocol) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let server = server();
    let channel = format!("slow:stream-{protocol:?}").to_lowercase();
    let config = ClientConfig::default()
        .protocol(protocol)
        .event_queue_limit(EVENT_QUEUE_LIMIT)
        .min_reconnect_delay(Duration::from_millis(50))
        .max_reconnect_delay(Duration::from_millis(300));
    let (client, events) = client(&server.ws_url(), config);
    let (stalled, stall_started) = crossbeam_channel::bounded(1);
    let (seen_sender, seen) = crossbeam_channel::unbounded();
    let mut first = true;
    let listener = move |_: &Subscription, event: SubscriptionEvent| match event {
        SubscriptionEvent::Publication(publication) => {
            if std::mem::take(&mut first) {
                let _ = stalled.send(());
                // The slow consumer: busy with one publication while the rest stream in.
                std::thread::sleep(STALL);
            }
            let _ = seen_sender.send(Seen::Publication(publication.publication().offset()));
        }
        SubscriptionEvent::Subscribed(subscribed) => {
            let _ = seen_sender.send(Seen::Subscribed {
                was_recovering: subscribed.was_recovering(),
                recovered: subscribed.recovered(),
            });
        }
        _ => {}
    };
    let sub = client.new_subscription(&channel, SubscriptionConfig::default(), listener).unwrap();
    sub.subscribe().unwrap();
    client.connect().unwrap();
    events.connected();
    assert!(matches!(next(&seen), Seen::Subscribed { was_recovering: false, .. }));

    let payload = json!({ "fill": "x".repeat(PAYLOAD) }).to_string();
    server.api().publish(&channel, &payload).unwrap();
    stall_started.recv_timeout(Duration::from_secs(10)).expect("the listener got the first publication");
    let rss_before = rss_kib();
    let mut rss_peak = rss_before;
    let stall_ends = Instant::now() + STALL;
    for _ in 1..PUBLICATIONS {
        server.api().publish(&channel, &payload).unwrap();
        rss_peak = rss_peak.max(rss_kib());
    }
    while Instant::now() < stall_ends {
        rss_peak = rss_peak.max(rss_kib());
        std::thread::sleep(Duration::from_millis(20));
    }
    let grown_mib = (rss_peak.saturating_sub(rss_before)) / 1024;
    assert!(grown_mib < 12, "memory grew by {grown_mib} MiB while 32 MiB streamed at a blocked listener");

    // Every publication, in offset order, each once; the gap bridged by recovery.
    let mut expected = 1;
    let mut recoveries = Vec::new();
    while expected <= PUBLICATIONS {
        let Ok(item) = seen.recv_timeout(Duration::from_secs(30)) else {
            panic!(
                "the stream stopped before offset {expected} (recoveries {recoveries:?}); client events {:#?}; server log {}",
                events.drain(),
                server.log()
            );
        };
        match item {
            Seen::Publication(offset) => {
                assert_eq!(offset, expected, "publications in order, none lost or repeated");
                expected += 1;
            }
            Seen::Subscribed { was_recovering, recovered } => recoveries.push((was_recovering, recovered)),
        }
    }
    assert!(!recoveries.is_empty(), "the server dropped the slow connection and the client resubscribed");
    assert!(
        recoveries.iter().all(|&(was_recovering, recovered)| was_recovering && recovered),
        "every resubscription recovered: {recoveries:?}"
    );
    let reconnects = events.drain();
    let codes: Vec<u32> = reconnects
        .iter()
        .filter_map(|event| match event {
            ClientEvent::Connecting(connecting) => Some(connecting.code()),
            _ => None,
        })
        .collect();
    println!("{protocol:?}: RSS +{grown_mib} MiB during the stall; reconnects with codes {codes:?}");
    assert!(!codes.is_empty(), "the client reconnected by itself");
    client.close();
}

/// With a limit every event exceeds, reading pauses whenever a callback runs; a callback that
/// calls the server must still get its reply (the limit is lifted while it waits).
fn calls_from_callbacks_complete_while_the_queue_is_full(protocol: Protocol) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let server = Centrifugo::shared();
    let channel = format!("calls-in-callbacks-{protocol:?}").to_lowercase();
    let config =
        ClientConfig::default().protocol(protocol).event_queue_limit(1).timeout(Duration::from_secs(2));
    let (client, events) = client(&server.ws_url(), config);
    let (outcomes, outcome) = crossbeam_channel::unbounded();
    let (subscribed_sender, subscribed) = crossbeam_channel::bounded(1);
    let caller = client.clone();
    let listener = move |_: &Subscription, event: SubscriptionEvent| match event {
        SubscriptionEvent::Publication(_) => {
            let _ = outcomes.send(caller.rpc("ping", Vec::new()));
        }
        SubscriptionEvent::Subscribed(_) => {
            let _ = subscribed_sender.try_send(());
        }
        _ => {}
    };
    let sub = client.new_subscription(&channel, SubscriptionConfig::default(), listener).unwrap();
    sub.subscribe().unwrap();
    client.connect().unwrap();
    events.connected();
    subscribed.recv_timeout(Duration::from_secs(10)).expect("subscribed");
    for n in 0..20 {
        server.api().publish(&channel, &format!(r#"{{"n":{n}}}"#)).unwrap();
    }
    for n in 0..20 {
        let result = outcome.recv_timeout(Duration::from_secs(10)).expect("the callback ran");
        assert!(matches!(&result, Ok(reply) if reply.is_empty()), "call {n} from a callback: {result:?}");
    }
    client.close();
}

fn next(seen: &Receiver<Seen>) -> Seen {
    seen.recv_timeout(Duration::from_secs(30)).expect("the stream goes on")
}
