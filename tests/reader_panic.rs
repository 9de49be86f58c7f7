//! A connection reader thread that panics is not a silent dead connection: the panic is
//! reported through `on_error`, the client reconnects with the usual rules, recovers what its
//! subscriptions missed, and its calls work again. The panic is injected with the crate's
//! internal test hook, which is process-wide: this file holds one test, alone in its binary.

#[macro_use]
mod support;

use centrifuge_blocking::{
    ClientConfig, ClientEvent, Error, SubscriptionConfig, SubscriptionEvent, test_hooks,
};
use centrifuge_test_harness::{Centrifugo, config};
use support::events::{client, subscription};

#[test]
fn a_reader_thread_that_panics_is_reported_and_the_client_reconnects_and_recovers() {
    let server = Centrifugo::shared();
    let (client, events) = client(&server.ws_url(), ClientConfig::default());
    let name = format!("{}:reader-panic", config::HISTORY);
    let (sub, sub_events) = subscription(&client, &name, SubscriptionConfig::default());
    sub.subscribe().unwrap();
    client.connect().unwrap();
    let first = events.connected();
    sub_events.subscribed();

    test_hooks::panic_next_reader();
    // Something for the reader thread to read: it panics before handling it.
    server.api().publish(&name, r#"{"n":1}"#).unwrap();

    let error = events.error();
    match &error {
        Error::Transport(transport) => assert!(
            transport
                .to_string()
                .contains("reader thread panicked: injected by test_hooks::panic_next_reader"),
            "{transport}"
        ),
        other => panic!("expected the reader's panic as a transport error, got {other:?}"),
    }
    assert_eq!(events.connecting(), (1, "transport closed".to_string()), "treated as a lost connection");
    let second = events.connected();
    assert_ne!(first, second, "a new connection");

    // The publication the dead reader never handled is recovered, exactly once.
    let resubscribed = sub_events.subscribed();
    assert!(resubscribed.was_recovering() && resubscribed.recovered(), "{resubscribed:?}");
    assert_eq!(sub_events.publication().data(), br#"{"n":1}"#);
    assert!(client.rpc("ping", Vec::new()).is_ok(), "calls work on the new connection");
    let later = sub_events.within(std::time::Duration::from_millis(200));
    assert!(!later.iter().any(|event| matches!(event, SubscriptionEvent::Publication(_))), "{later:?}");
    let rest = events.drain();
    assert!(!rest.iter().any(|event| matches!(event, ClientEvent::Error(_))), "one error only: {rest:?}");
    client.close();
}
