//! The client's threads end: `close()` joins them, so the process's thread count returns to
//! where it was before the client existed; dropping the last handle ends them too, without
//! blocking the caller. Alone in its own test binary, with one test, so that no other test's
//! threads come and go meanwhile.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use centrifuge_blocking::{Client, ClientConfig, Protocol, listener::NoopListener};
use centrifuge_test_harness::Centrifugo;
use support::events::{client, settled_thread_count, thread_count};

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
    let client = Client::new(&server.ws_url(), ClientConfig::default(), NoopListener).unwrap();
    client.connect().unwrap();
    client.ready(Duration::from_secs(10)).unwrap();
    let dropped_at = Instant::now();
    drop(client);
    assert!(dropped_at.elapsed() < Duration::from_millis(100), "drop does not wait for the threads");
    // Wait (bounded) for the detached threads to finish on their own.
    let deadline = Instant::now() + Duration::from_secs(10);
    while thread_count() != before {
        assert!(Instant::now() < deadline, "threads still running 10 s after the last handle was dropped");
        std::thread::sleep(Duration::from_millis(10));
    }
}
