//! Listener callbacks: the three ways to listen, calls made from inside callbacks, panics,
//! and close() from a callback and from many threads at once.

#[macro_use]
mod support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, ClientListener, ClientState, ConnectedEvent, Error, ErrorEvent,
    Protocol, listener,
};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET};
use crossbeam_channel::{Sender, unbounded};
use support::events::{EVENT_TIMEOUT, client};

#[test]
fn a_closure_listener_sees_events_in_order() {
    let server = Centrifugo::shared();
    let (sender, events) = unbounded();
    let client = Client::new(&server.ws_url(), ClientConfig::default(), move |event: ClientEvent| {
        let name = match event {
            ClientEvent::Connecting(_) => "connecting",
            ClientEvent::Connected(_) => "connected",
            ClientEvent::Disconnected(_) => "disconnected",
            _ => "other",
        };
        sender.send(name).unwrap();
    })
    .unwrap();
    client.connect().unwrap();
    assert_eq!(events.recv_timeout(EVENT_TIMEOUT).unwrap(), "connecting");
    assert_eq!(events.recv_timeout(EVENT_TIMEOUT).unwrap(), "connected");
    client.disconnect().unwrap();
    assert_eq!(events.recv_timeout(EVENT_TIMEOUT).unwrap(), "disconnected");
    client.close();
}

/// A listener that implements one method; the others keep their no-op defaults.
struct OnlyConnected(Sender<String>);

impl ClientListener for OnlyConnected {
    fn on_connected(&mut self, event: &ConnectedEvent) {
        self.0.send(event.client_id().to_string()).unwrap();
    }
}

#[test]
fn a_trait_listener_needs_only_the_methods_it_cares_about() {
    let server = Centrifugo::shared();
    let (sender, ids) = unbounded();
    let client = Client::new(&server.ws_url(), ClientConfig::default(), OnlyConnected(sender)).unwrap();
    client.connect().unwrap();
    assert!(!ids.recv_timeout(EVENT_TIMEOUT).unwrap().is_empty());
    client.close();
}

/// Calls the client from inside its own callbacks.
struct CallsFromCallbacks {
    client: Arc<OnceLock<Client>>,
    results: Sender<Result<Vec<u8>, Error>>,
}

impl ClientListener for CallsFromCallbacks {
    fn on_connected(&mut self, _: &ConnectedEvent) {
        let client = self.client.get().expect("set before connect");
        self.results.send(client.rpc("echo", r#"{"from":"callback"}"#)).unwrap();
        self.results.send(client.publish("from-callback", "{}").map(|()| Vec::new())).unwrap();
    }
}

#[test]
fn calls_made_inside_a_callback_complete_instead_of_deadlocking() {
    let server = Centrifugo::shared();
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        let cell = Arc::new(OnceLock::new());
        let (results, answers) = unbounded();
        let listener = CallsFromCallbacks { client: Arc::clone(&cell), results };
        let token = Claims::connection("callback-user").sign(HMAC_SECRET);
        let client =
            Client::new(&server.ws_url(), ClientConfig::default().protocol(protocol).token(token), listener)
                .unwrap();
        cell.set(client.clone()).unwrap();
        client.connect().unwrap();
        assert_eq!(answers.recv_timeout(EVENT_TIMEOUT).unwrap().unwrap(), br#"{"from":"callback"}"#);
        assert!(answers.recv_timeout(EVENT_TIMEOUT).unwrap().is_ok());
        client.close();
    }
}

/// Panics on the first connected event, reports errors.
struct Panicky {
    panicked: bool,
    errors: Sender<String>,
}

impl ClientListener for Panicky {
    fn on_connected(&mut self, _: &ConnectedEvent) {
        if !self.panicked {
            self.panicked = true;
            panic!("listener bug on purpose");
        }
    }

    fn on_error(&mut self, event: &ErrorEvent) {
        if let Error::CallbackPanicked(message) = event.error() {
            self.errors.send(message.clone()).unwrap();
        }
    }
}

#[test]
fn a_panicking_callback_is_reported_and_the_client_keeps_working() {
    let server = Centrifugo::shared();
    let (errors, reported) = unbounded();
    let client =
        Client::new(&server.ws_url(), ClientConfig::default(), Panicky { panicked: false, errors }).unwrap();
    client.connect().unwrap();
    assert_eq!(reported.recv_timeout(EVENT_TIMEOUT).unwrap(), "listener bug on purpose");
    client.ready(EVENT_TIMEOUT).unwrap();
    assert!(client.rpc("ping", Vec::new()).is_ok(), "the client still works");
    // The lane survived too: events still arrive.
    client.disconnect().unwrap();
    client.connect().unwrap();
    client.ready(EVENT_TIMEOUT).unwrap();
    client.close();
}

/// Closes the client from inside a callback.
struct ClosesOnConnect {
    client: Arc<OnceLock<Client>>,
    returned: Sender<()>,
}

impl ClientListener for ClosesOnConnect {
    fn on_connected(&mut self, _: &ConnectedEvent) {
        self.client.get().expect("set before connect").close();
        self.returned.send(()).unwrap();
    }
}

#[test]
fn close_from_inside_a_callback_returns_and_closes() {
    let server = Centrifugo::shared();
    let cell = Arc::new(OnceLock::new());
    let (returned, closed) = unbounded();
    let client = Client::new(
        &server.ws_url(),
        ClientConfig::default(),
        ClosesOnConnect { client: Arc::clone(&cell), returned },
    )
    .unwrap();
    cell.set(client.clone()).unwrap();
    client.connect().unwrap();
    closed.recv_timeout(EVENT_TIMEOUT).expect("close() returned inside the callback");
    // The shutdown completes once the callback has returned; a later close() joins it.
    client.close();
    assert_eq!(client.state(), ClientState::Closed);
    assert!(matches!(client.rpc("ping", Vec::new()), Err(Error::Closed)));
}

#[test]
fn close_from_eight_threads_at_once_is_safe_and_idempotent() {
    let server = Centrifugo::shared();
    let (client, events) = client(&server.ws_url(), ClientConfig::default());
    client.connect().unwrap();
    events.connected();
    let closers: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                client.close();
                client.state()
            })
        })
        .collect();
    for closer in closers {
        assert_eq!(closer.join().unwrap(), ClientState::Closed, "every close() returns after the shutdown");
    }
    let disconnects = events
        .within(Duration::from_millis(200))
        .into_iter()
        .filter(|event| matches!(event, ClientEvent::Disconnected(_)))
        .count();
    assert_eq!(disconnects, 1, "one disconnected event for one shutdown");
}

#[test]
fn the_channel_listener_delivers_every_event() {
    let server = Centrifugo::shared();
    let (listener, events) = listener::channel();
    let client = Client::new(&server.ws_url(), ClientConfig::default(), listener).unwrap();
    client.connect().unwrap();
    let seen: Mutex<Vec<String>> = Mutex::new(Vec::new());
    for event in events.iter() {
        let connected = matches!(event, ClientEvent::Connected(_));
        seen.lock().unwrap().push(format!("{event:?}").split('(').next().unwrap_or_default().to_string());
        if connected {
            break;
        }
    }
    assert_eq!(*seen.lock().unwrap(), vec!["Connecting", "Connected"]);
    client.close();
    // After close the listener is dropped with the lane: the iterator ends.
    let rest: Vec<ClientEvent> = events.iter().collect();
    assert!(matches!(rest.last(), Some(ClientEvent::Disconnected(_))), "{rest:?}");
}
