//! `close()` joins every thread the client started: the process's thread count returns to
//! where it was before the client existed. Alone in its own test binary, so that no other
//! test's threads come and go meanwhile.

mod support;

use centrifuge_blocking::{ClientConfig, Protocol};
use centrifuge_test_harness::Centrifugo;
use support::events::{client, thread_count};

#[test]
fn close_leaves_the_thread_count_where_it_was() {
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
                thread_count(),
                before,
                "{protocol:?} with {lanes} lanes: close() joined every thread"
            );
            client.close();
        }
    }
}
