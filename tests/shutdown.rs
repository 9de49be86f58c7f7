//! Shutdown hygiene, alone in its binary (it counts the process's threads and descriptors,
//! through Linux's /proc: [`support::linux_proc`] stops it elsewhere):
//! thousands of create → connect → subscribe → close cycles leave nothing behind; `close()`
//! returns within its documented bound while dialing a blackhole, while a token getter blocks,
//! from many threads and from a callback, and while the server disconnects the client at the
//! same moment; calls in flight when `close()` or `disconnect()` runs end with a typed error,
//! once; every way a connection attempt can fail closes its socket, and nothing is dialed after
//! `close()`. No client thread panics along the way.

mod support;

use std::collections::HashSet;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, ClientState, Error, Protocol, Subscription, SubscriptionConfig,
    SubscriptionEvent, TokenError, listener::NoopListener,
};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET, RPC_SLOW_METHOD, slow_calls_started};
use support::events::{client, rss_kib, settled_thread_count, thread_count};
use support::fake_server::{FakeServer, connect_result};
use support::panics;
use support::proxy::ConnectProxy;

#[test]
fn shutdown_hygiene() {
    panics::watch();
    let server = Centrifugo::shared();
    create_connect_subscribe_close_cycles_leave_nothing_behind(&server);
    close_while_dialing_a_blackhole_returns_within_the_bound();
    close_while_a_token_getter_blocks_returns_within_the_bound(&server);
    close_from_eight_threads_and_a_callback_at_once(&server);
    close_racing_server_disconnects_and_reconnects(&server);
    calls_in_flight_end_once_with_a_typed_error(&server);
    failed_connection_attempts_close_their_sockets();
    nothing_is_dialed_after_close();
    assert_eq!(client_threads(), 0, "no client thread is left at the end");
    panics::assert_none();
}

fn create_connect_subscribe_close_cycles_leave_nothing_behind(server: &Centrifugo) {
    let cycles: usize = std::env::var("SHUTDOWN_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let (threads, fds) = (thread_count(), open_fds());
    let mut rss_after_warm_up = 0;
    let started = Instant::now();
    for cycle in 0..cycles {
        let protocol = if cycle % 2 == 0 { Protocol::Json } else { Protocol::Protobuf };
        let client =
            Client::new(server.ws_url(), ClientConfig::default().protocol(protocol), NoopListener).unwrap();
        let (done, subscribed) = crossbeam_channel::bounded(1);
        let sub = client
            .new_subscription(
                &format!("cycle-{}", cycle % 16),
                SubscriptionConfig::default(),
                move |_: &Subscription, event: SubscriptionEvent| {
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
    assert_eq!(settled_thread_count(threads), threads, "threads back to the baseline after {cycles} cycles");
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
    let client = Client::new(server.ws_url(), config, NoopListener).unwrap();
    client.connect().unwrap();
    getter_running.recv_timeout(Duration::from_secs(5)).expect("the getter is called");
    let started = Instant::now();
    client.close();
    let took = started.elapsed();
    assert!(took <= timeout + Duration::from_secs(1) + Duration::from_millis(200), "close took {took:?}");
    // The token thread ends by itself once the getter returns.
    wait_for_no_client_threads(Duration::from_secs(5));
}

/// Nine `close()` calls at once: eight threads and a callback. The threads wait at a barrier
/// that the callback (on `connected`) opens right before its own `close()`, so that the
/// callback's close, which must not join its own lane, races the others.
fn close_from_eight_threads_and_a_callback_at_once(server: &Centrifugo) {
    let start = Arc::new(Barrier::new(9));
    let (callback_closed, callback_close) = crossbeam_channel::bounded(1);
    let in_callback = Arc::clone(&start);
    let client =
        Client::new(server.ws_url(), ClientConfig::default(), move |client: &Client, event: ClientEvent| {
            if matches!(event, ClientEvent::Connected(_)) {
                in_callback.wait();
                let started = Instant::now();
                client.close();
                let _ = callback_closed.send(started.elapsed());
            }
        })
        .unwrap();
    let closers: Vec<_> = (0..8)
        .map(|_| {
            let (client, start) = (client.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let started = Instant::now();
                client.close();
                started.elapsed()
            })
        })
        .collect();
    client.connect().unwrap();
    let took = callback_close
        .recv_timeout(Duration::from_secs(10))
        .expect("the callback's close() ran and returned");
    assert!(took < Duration::from_secs(3), "close() from the callback took {took:?}");
    for closer in closers {
        let took = closer.join().expect("no panic");
        assert!(took < Duration::from_secs(3), "close took {took:?}");
    }
    assert_eq!(client.state(), ClientState::Closed);
    wait_for_no_client_threads(Duration::from_secs(3));
}

/// `close()` while the server disconnects the client (4000: reconnect) and another thread
/// disconnects and connects it again, all at once.
fn close_racing_server_disconnects_and_reconnects(server: &Centrifugo) {
    for round in 0..50 {
        let user = format!("racer-{round}");
        let protocol = if round % 2 == 0 { Protocol::Json } else { Protocol::Protobuf };
        let config = ClientConfig::default()
            .protocol(protocol)
            .token(Claims::connection(&user).sign(HMAC_SECRET))
            .min_reconnect_delay(Duration::from_millis(1))
            .max_reconnect_delay(Duration::from_millis(5));
        let (client, events) = client(&server.ws_url(), config);
        client.connect().unwrap();
        events.connected();
        let api = server.api().clone();
        let kicker = std::thread::spawn(move || api.disconnect(&user, 4000, "race").map(|_| ()));
        let toggler = {
            let client = client.clone();
            std::thread::spawn(move || {
                // Either may find the client closed already; neither may panic or hang.
                let _ = client.disconnect();
                let _ = client.connect();
            })
        };
        let started = Instant::now();
        client.close();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "round {round}: close took {:?}",
            started.elapsed()
        );
        kicker.join().expect("no panic").expect("the server API answers");
        toggler.join().expect("no panic");
        assert_eq!(client.state(), ClientState::Closed, "round {round}");
        assert!(matches!(client.connect(), Err(Error::Closed)), "round {round}: closed for good");
        // The client was connected: whatever raced, its last event says it stopped.
        let last = events.drain().pop();
        assert!(
            matches!(last, Some(ClientEvent::Disconnected(_))),
            "round {round}: {last:?} last after close"
        );
    }
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

/// Each way a connection attempt fails (a certificate it does not trust, a terminal close by the
/// server, a handshake that never completes, a proxy refusing credentials, a refused TCP
/// connection) leaves no socket of the client open once it is closed.
fn failed_connection_attempts_close_their_sockets() {
    // A server of its own: the shared one's API client keeps sockets to it open.
    let server = Centrifugo::start();
    // The count sees a live connection, and its end.
    let (connected, events) = client(&server.ws_url(), ClientConfig::default());
    connected.connect().unwrap();
    events.connected();
    assert!(client_sockets_to(server.port()) > 0, "a connected client has its socket open");
    connected.close();
    assert_eq!(client_sockets_to(server.port()), 0, "closed with the client");
    let quick = || {
        ClientConfig::default()
            .connect_timeout(Duration::from_millis(300))
            .min_reconnect_delay(Duration::from_millis(20))
            .max_reconnect_delay(Duration::from_millis(50))
    };
    let tls = FakeServer::start_tls(Protocol::Json, |index, mut connection| {
        connection.accept_connect(connect_result(&format!("tls-{index}"), 0));
        connection.serve_echo();
    });
    let tls_port = port_of(&tls.tls_url());
    let (silent_listener, _held) = silent_server();
    let silent_port = silent_listener.local_addr().unwrap().port();
    let proxy = ConnectProxy::start(Some("dXNlcjpzZWNyZXQ="));
    let proxy_port = port_of(&format!("ws://{}/", proxy.address()));
    let refused_port = centrifuge_test_harness::unused_port();

    let cases: Vec<(&str, String, ClientConfig, u16)> = vec![
        ("untrusted certificate", tls.tls_url(), quick(), tls_port),
        ("terminal close 3500", server.ws_url(), quick().token("not-a-jwt"), server.port()),
        (
            "handshake never completes",
            format!("ws://127.0.0.1:{silent_port}/connection/websocket"),
            quick(),
            silent_port,
        ),
        (
            "proxy refuses credentials",
            server.ws_url(),
            quick().proxy(centrifuge_blocking::HttpProxy::new(proxy.address()).basic_auth("user", "wrong")),
            proxy_port,
        ),
        (
            "connection refused",
            format!("ws://127.0.0.1:{refused_port}/connection/websocket"),
            quick(),
            refused_port,
        ),
    ];
    for (case, url, config, port) in cases {
        for _ in 0..5 {
            let (client, events) = client(&url, config.clone());
            client.connect().unwrap();
            events.until(&format!("the failure of {case}"), |event| match event {
                ClientEvent::Error(_) | ClientEvent::Disconnected(_) => Some(()),
                _ => None,
            });
            client.close();
            assert_eq!(client_sockets_to(port), 0, "{case}: a socket of the client stayed open");
        }
    }
    wait_for_no_client_threads(Duration::from_secs(3));
}

/// After `close()` (here during reconnect backoff against a server that never answers), no
/// connection attempt reaches the server any more.
fn nothing_is_dialed_after_close() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/connection/websocket", listener.local_addr().unwrap());
    let (accepted, accepts) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            // Hold each connection open without answering; report it.
            if accepted.send(stream).is_err() {
                break;
            }
        }
    });
    let config = ClientConfig::default()
        .connect_timeout(Duration::from_millis(100))
        .min_reconnect_delay(Duration::from_millis(10))
        .max_reconnect_delay(Duration::from_millis(20));
    let client = Client::new(&url, config, NoopListener).unwrap();
    client.connect().unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(accepts.recv_timeout(Duration::from_secs(5)).expect("the client dials and redials"));
    }
    client.close();
    // Attempts that were already in the kernel's accept queue may still surface right away.
    let straggler_window = Instant::now() + Duration::from_millis(100);
    while let Ok(stream) = accepts.recv_deadline(straggler_window) {
        held.push(stream);
    }
    assert!(accepts.recv_timeout(Duration::from_secs(1)).is_err(), "a connection attempt after close()");
}

/// A listener that accepts connections and never says a word on them.
fn silent_server() -> (TcpListener, Arc<std::sync::Mutex<Vec<TcpStream>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let accepting = listener.try_clone().unwrap();
    let holder = Arc::clone(&held);
    std::thread::spawn(move || {
        for stream in accepting.incoming().flatten() {
            holder.lock().unwrap().push(stream);
        }
    });
    (listener, held)
}

fn port_of(url: &str) -> u16 {
    let authority = url.split("://").nth(1).and_then(|rest| rest.split('/').next()).expect("a URL");
    authority.rsplit(':').next().and_then(|port| port.parse().ok()).expect("a port in the URL")
}

/// Open descriptors of this process (duplicates included) for TCP sockets connected to `port` on
/// the far end, that is client sides of connections to it (the servers' sides have it as local
/// port).
fn client_sockets_to(port: u16) -> usize {
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(support::linux_proc(table)).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields.get(2).and_then(|remote| remote.rsplit(':').next());
            if remote_port.and_then(|hex| u16::from_str_radix(hex, 16).ok()) == Some(port) {
                if let Some(inode) = fields.get(9) {
                    inodes.insert(format!("socket:[{inode}]"));
                }
            }
        }
    }
    std::fs::read_dir(support::linux_proc("/proc/self/fd"))
        .map(|fds| {
            fds.filter_map(Result::ok)
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .filter(|target| inodes.contains(target.to_string_lossy().as_ref()))
                .count()
        })
        .unwrap_or(0)
}

/// `prefix` is matched against `comm`, which Linux truncates to 15 bytes.
fn thread_named(prefix: &str) -> bool {
    std::fs::read_dir(support::linux_proc("/proc/self/task"))
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
                .any(|name| name.starts_with(prefix))
        })
        .unwrap_or(false)
}

fn client_threads() -> usize {
    std::fs::read_dir(support::linux_proc("/proc/self/task"))
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
    std::fs::read_dir(support::linux_proc("/proc/self/fd")).map(|entries| entries.count()).unwrap_or(0)
}
