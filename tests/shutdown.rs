//! Shutdown hygiene, alone in its binary (it counts the process's threads and descriptors):
//! thousands of create → connect → subscribe → close cycles leave nothing behind; `close()`
//! returns within its documented bound while dialing a blackhole, while a token getter blocks,
//! from many threads and from a callback; calls in flight when `close()` or `disconnect()` runs
//! end with a typed error, once.

mod support;

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, Error, Protocol, SubscriptionConfig, SubscriptionEvent, TokenError,
    listener::NoopListener,
};
use centrifuge_test_harness::{Centrifugo, RPC_SLOW_METHOD, slow_calls_started};
use support::events::{client, thread_count};

#[test]
fn shutdown_hygiene() {
    let server = Centrifugo::shared();
    create_connect_subscribe_close_cycles_leave_nothing_behind(&server);
    close_while_dialing_a_blackhole_returns_within_the_bound();
    close_while_a_token_getter_blocks_returns_within_the_bound(&server);
    close_from_eight_threads_and_a_callback_at_once(&server);
    calls_in_flight_end_once_with_a_typed_error(&server);
    assert_eq!(client_threads(), 0, "no client thread is left at the end");
}

fn create_connect_subscribe_close_cycles_leave_nothing_behind(server: &Centrifugo) {
    let cycles: usize = std::env::var("SHUTDOWN_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let (threads, fds) = (thread_count(), open_fds());
    let mut rss_after_warm_up = 0;
    let started = Instant::now();
    for cycle in 0..cycles {
        let protocol = if cycle % 2 == 0 { Protocol::Json } else { Protocol::Protobuf };
        let client =
            Client::new(&server.ws_url(), ClientConfig::default().protocol(protocol), NoopListener).unwrap();
        let (done, subscribed) = crossbeam_channel::bounded(1);
        let sub = client
            .new_subscription(
                &format!("cycle-{}", cycle % 16),
                SubscriptionConfig::default(),
                move |event: SubscriptionEvent| {
                    if matches!(event, SubscriptionEvent::Subscribed(_)) {
                        let _ = done.try_send(());
                    }
                },
            )
            .unwrap();
        sub.subscribe().unwrap();
        client.connect().unwrap();
        subscribed.recv_timeout(Duration::from_secs(10)).expect("subscribed");
        client.close();
        if cycle == cycles / 10 {
            rss_after_warm_up = rss_kib();
        }
    }
    assert_eq!(thread_count(), threads, "threads back to the baseline after {cycles} cycles");
    assert_eq!(open_fds(), fds, "descriptors back to the baseline after {cycles} cycles");
    let grown = rss_kib().saturating_sub(rss_after_warm_up);
    assert!(grown < 16 * 1024, "RSS grew by {grown} KiB over {cycles} cycles after warm-up");
    println!("{cycles} cycles in {:?}; RSS after warm-up +{grown} KiB", started.elapsed());
}

/// A listener whose accept queue is full: the kernel drops further SYNs.
fn blackhole() -> (TcpListener, Vec<TcpStream>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mut held = Vec::new();
    while let Ok(stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
        held.push(stream);
    }
    (listener, held, format!("ws://{address}/connection/websocket"))
}

fn close_while_dialing_a_blackhole_returns_within_the_bound() {
    let (_listener, _held, url) = blackhole();
    let connect_timeout = Duration::from_secs(2);
    let timeout = Duration::from_secs(1);
    let config = ClientConfig::default().connect_timeout(connect_timeout).timeout(timeout);
    let client = Client::new(&url, config, NoopListener).unwrap();
    client.connect().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !thread_named("centrifuge-conn") {
        assert!(Instant::now() < deadline, "the dial never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    client.close();
    let took = started.elapsed();
    // Documented on Client::close: max(connect_timeout, timeout) + 1 s at worst.
    assert!(took <= connect_timeout.max(timeout) + Duration::from_secs(1), "close took {took:?}");
    client.close();
    wait_for_no_client_threads(connect_timeout);
}

fn close_while_a_token_getter_blocks_returns_within_the_bound(server: &Centrifugo) {
    let (entered, getter_running) = crossbeam_channel::bounded(1);
    let blocking = move || -> Result<String, TokenError> {
        let _ = entered.try_send(());
        // A getter stuck on a slow backend.
        std::thread::sleep(Duration::from_secs(3));
        Err(TokenError::Failed("too slow".into()))
    };
    let timeout = Duration::from_millis(500);
    let config = ClientConfig::default().token_getter(blocking).timeout(timeout).connect_timeout(timeout);
    let client = Client::new(&server.ws_url(), config, NoopListener).unwrap();
    client.connect().unwrap();
    getter_running.recv_timeout(Duration::from_secs(5)).expect("the getter is called");
    let started = Instant::now();
    client.close();
    let took = started.elapsed();
    assert!(took <= timeout + Duration::from_secs(1) + Duration::from_millis(200), "close took {took:?}");
    // The token thread ends by itself once the getter returns.
    wait_for_no_client_threads(Duration::from_secs(5));
}

fn close_from_eight_threads_and_a_callback_at_once(server: &Centrifugo) {
    let cell: Arc<std::sync::OnceLock<Client>> = Arc::default();
    let from_callback = Arc::clone(&cell);
    let client = Client::new(&server.ws_url(), ClientConfig::default(), move |event: ClientEvent| {
        if matches!(event, ClientEvent::Connected(_)) {
            from_callback.get().unwrap().close();
        }
    })
    .unwrap();
    cell.set(client.clone()).unwrap();
    client.connect().unwrap();
    let closers: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                client.close();
                started.elapsed()
            })
        })
        .collect();
    for closer in closers {
        let took = closer.join().expect("no panic");
        assert!(took < Duration::from_secs(3), "close took {took:?}");
    }
    drop(cell);
    wait_for_no_client_threads(Duration::from_secs(3));
}

fn calls_in_flight_end_once_with_a_typed_error(server: &Centrifugo) {
    for stop_with_close in [false, true] {
        let token = centrifuge_test_harness::Claims::connection("in-flight")
            .sign(centrifuge_test_harness::HMAC_SECRET);
        let (client, events) = client(&server.ws_url(), ClientConfig::default().token(token));
        client.connect().unwrap();
        events.connected();
        let before = slow_calls_started();
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let client = client.clone();
                std::thread::spawn(move || client.rpc(RPC_SLOW_METHOD, "{}"))
            })
            .collect();
        // The backend answers one request at a time: once the first call has reached it, all
        // three are in flight (the others wait in Centrifugo or the backend).
        let deadline = Instant::now() + Duration::from_secs(10);
        while slow_calls_started() < before + 1 {
            assert!(Instant::now() < deadline, "the slow calls never reached the backend");
            std::thread::sleep(Duration::from_millis(5));
        }
        if stop_with_close {
            client.close();
        } else {
            client.disconnect().unwrap();
        }
        for caller in callers {
            let outcome = caller.join().expect("no panic");
            assert!(matches!(outcome, Err(Error::ConnectionLost)), "close={stop_with_close}: {outcome:?}");
        }
        client.close();
    }
    wait_for_no_client_threads(Duration::from_secs(3));
}

/// `prefix` is matched against `comm`, which Linux truncates to 15 bytes.
fn thread_named(prefix: &str) -> bool {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
                .any(|name| name.starts_with(prefix))
        })
        .unwrap_or(false)
}

fn client_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
                .filter(|name| name.starts_with("centrifuge-"))
                .count()
        })
        .unwrap_or(0)
}

/// Threads left to finish by themselves (a dial or a getter that cannot be interrupted) must
/// be gone within `limit`.
fn wait_for_no_client_threads(limit: Duration) {
    let deadline = Instant::now() + limit + Duration::from_secs(1);
    while client_threads() > 0 {
        assert!(Instant::now() < deadline, "{} client thread(s) still running", client_threads());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|entries| entries.count()).unwrap_or(0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}
