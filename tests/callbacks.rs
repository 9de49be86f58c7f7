//! Listener callbacks: the three ways to listen, calls made from inside callbacks (and from
//! token getters), panics in callbacks and getters, and close() from a callback and from many
//! threads at once.

#[macro_use]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, ClientListener, ClientState, ConnectedEvent, ConnectingEvent,
    DisconnectedEvent, Error, ErrorEvent, HistoryOptions, Protocol, PublicationEvent, SubscribedEvent,
    Subscription, SubscriptionConfig, SubscriptionListener, SubscriptionState, TokenError, UnsubscribedEvent,
    WeakClient, codes, listener,
};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET, config};
use crossbeam_channel::{Receiver, Sender, unbounded};
use support::events::{EVENT_TIMEOUT, client};

#[test]
fn a_closure_listener_sees_events_in_order() {
    let server = Centrifugo::shared();
    let (sender, events) = unbounded();
    let client =
        Client::new(server.ws_url(), ClientConfig::default(), move |_: &Client, event: ClientEvent| {
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
    fn on_connected(&mut self, _: &Client, event: &ConnectedEvent) {
        self.0.send(event.client_id().to_string()).unwrap();
    }
}

#[test]
fn a_trait_listener_needs_only_the_methods_it_cares_about() {
    let server = Centrifugo::shared();
    let (sender, ids) = unbounded();
    let client = Client::new(server.ws_url(), ClientConfig::default(), OnlyConnected(sender)).unwrap();
    client.connect().unwrap();
    assert!(!ids.recv_timeout(EVENT_TIMEOUT).unwrap().is_empty());
    client.close();
}

/// Calls the client it is handed from inside its own callbacks.
struct CallsFromCallbacks {
    results: Sender<Result<Vec<u8>, Error>>,
}

impl ClientListener for CallsFromCallbacks {
    fn on_connected(&mut self, client: &Client, _: &ConnectedEvent) {
        self.results.send(client.rpc("echo", r#"{"from":"callback"}"#)).unwrap();
        self.results.send(client.publish("from-callback", "{}").map(|()| Vec::new())).unwrap();
    }
}

#[test]
fn calls_made_inside_a_callback_complete_instead_of_deadlocking() {
    let server = Centrifugo::shared();
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        let (results, answers) = unbounded();
        let listener = CallsFromCallbacks { results };
        let token = Claims::connection("callback-user").sign(HMAC_SECRET);
        let client =
            Client::new(server.ws_url(), ClientConfig::default().protocol(protocol).token(token), listener)
                .unwrap();
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
    fn on_connected(&mut self, _: &Client, _: &ConnectedEvent) {
        if !self.panicked {
            self.panicked = true;
            panic!("listener bug on purpose");
        }
    }

    fn on_error(&mut self, _: &Client, event: &ErrorEvent) {
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
        Client::new(server.ws_url(), ClientConfig::default(), Panicky { panicked: false, errors }).unwrap();
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

/// Closes the client it is handed from inside a callback.
struct ClosesOnConnect {
    returned: Sender<()>,
}

impl ClientListener for ClosesOnConnect {
    fn on_connected(&mut self, client: &Client, _: &ConnectedEvent) {
        client.close();
        self.returned.send(()).unwrap();
    }
}

#[test]
fn close_from_inside_a_callback_returns_and_closes() {
    let server = Centrifugo::shared();
    let (returned, closed) = unbounded();
    let client = Client::new(server.ws_url(), ClientConfig::default(), ClosesOnConnect { returned }).unwrap();
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
    let client = Client::new(server.ws_url(), ClientConfig::default(), listener).unwrap();
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

/// How long a `ready()` made inside a callback may wait.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a re-entrant listener did, reported as it happened.
#[derive(Debug)]
enum Did {
    Event(&'static str),
    Ready { result: Result<(), Error>, took: Duration },
    NewSubscription(Result<(), Error>),
    Publish(Result<(), Error>),
    History(Result<Vec<Vec<u8>>, Error>),
    Publication(Vec<u8>),
    Unsubscribed(u32),
    SubscriptionListenerDropped,
    DisconnectConnect(Result<(), Error>, Result<(), Error>),
    Remove(Result<(), Error>),
}

/// Drives a client through its whole life from inside its own callbacks: `ready()` on every
/// `connecting`; on the first `connected` a new subscription; on the second a disconnect and
/// connect; on the third the removal of the subscription.
struct Reentrant {
    channel: String,
    did: Sender<Did>,
    connected: usize,
    subscription: Option<Subscription>,
}

impl ClientListener for Reentrant {
    fn on_connecting(&mut self, client: &Client, _: &ConnectingEvent) {
        let _ = self.did.send(Did::Event("connecting"));
        let started = Instant::now();
        let result = client.ready(READY_TIMEOUT);
        let _ = self.did.send(Did::Ready { result, took: started.elapsed() });
    }

    fn on_connected(&mut self, client: &Client, _: &ConnectedEvent) {
        let _ = self.did.send(Did::Event("connected"));
        self.connected += 1;
        match self.connected {
            1 => {
                let listener = SubscriptionCalls { did: self.did.clone() };
                let created = client.new_subscription(&self.channel, SubscriptionConfig::default(), listener);
                let subscribed = created.and_then(|subscription| {
                    self.subscription = Some(subscription.clone());
                    subscription.subscribe()
                });
                let _ = self.did.send(Did::NewSubscription(subscribed));
            }
            2 => {
                let _ = self.did.send(Did::DisconnectConnect(client.disconnect(), client.connect()));
            }
            3 => {
                let removed = self.subscription.take().map_or(Ok(()), |sub| client.remove_subscription(&sub));
                let _ = self.did.send(Did::Remove(removed));
            }
            _ => {}
        }
    }

    fn on_disconnected(&mut self, _: &Client, _: &DisconnectedEvent) {
        let _ = self.did.send(Did::Event("disconnected"));
    }

    fn on_error(&mut self, _: &Client, _: &ErrorEvent) {
        let _ = self.did.send(Did::Event("error"));
    }
}

/// Publishes and reads history from inside its first `subscribed` callback, through the
/// subscription it is handed.
struct SubscriptionCalls {
    did: Sender<Did>,
}

/// What the subscription publishes from inside its callback.
const FROM_CALLBACK: &[u8] = br#"{"from":"subscribed callback"}"#;

impl SubscriptionListener for SubscriptionCalls {
    fn on_subscribed(&mut self, sub: &Subscription, event: &SubscribedEvent) {
        if event.was_recovering() {
            return;
        }
        let _ = self.did.send(Did::Publish(sub.publish(FROM_CALLBACK)));
        let history = sub.history(HistoryOptions::default().limit(-1)).map(|history| {
            history.publications().iter().map(|publication| publication.data().to_vec()).collect()
        });
        let _ = self.did.send(Did::History(history));
    }

    fn on_publication(&mut self, _: &Subscription, event: &PublicationEvent) {
        let _ = self.did.send(Did::Publication(event.data().to_vec()));
    }

    fn on_unsubscribed(&mut self, _: &Subscription, event: &UnsubscribedEvent) {
        let _ = self.did.send(Did::Unsubscribed(event.code()));
    }
}

impl Drop for SubscriptionCalls {
    fn drop(&mut self) {
        let _ = self.did.send(Did::SubscriptionListenerDropped);
    }
}

/// Skips reports until `pick` returns something; what it skipped goes to `skipped`.
fn wait_for<T>(
    did: &Receiver<Did>,
    skipped: &mut Vec<Did>,
    what: &str,
    mut pick: impl FnMut(&Did) -> Option<T>,
) -> T {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        match did.recv_deadline(deadline) {
            Ok(report) => match pick(&report) {
                Some(found) => {
                    skipped.push(report);
                    return found;
                }
                None => skipped.push(report),
            },
            Err(_) => panic!("no {what} within {EVENT_TIMEOUT:?}; saw {skipped:#?}"),
        }
    }
}

/// A `ready()` inside `connecting` returns `Ok` once connected (replies do not go through
/// the lanes, so it does not wait for its own callback); never a hang.
fn assert_ready_returned(report: &Did) -> Option<()> {
    let Did::Ready { result, took } = report else { return None };
    assert!(matches!(result, Ok(())), "ready() inside connecting: {result:?}");
    assert!(*took < READY_TIMEOUT, "ready() inside connecting took {took:?}");
    Some(())
}

fn calls_from_every_kind_of_callback_never_deadlock(lanes: usize) {
    let server = Centrifugo::shared();
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        let user = format!("reentrant-{lanes}-{protocol:?}");
        let (did, reports) = unbounded();
        let listener = Reentrant {
            channel: format!("{}:{user}", config::HISTORY).to_lowercase(),
            did,
            connected: 0,
            subscription: None,
        };
        let client_config = ClientConfig::default()
            .protocol(protocol)
            .executor_lanes(lanes)
            .min_reconnect_delay(Duration::from_millis(50))
            .token(Claims::connection(&user).sign(HMAC_SECRET));
        let client = Client::new(server.ws_url(), client_config, listener).unwrap();
        let mut seen = Vec::new();
        client.connect().unwrap();

        wait_for(&reports, &mut seen, "ready() from connecting", assert_ready_returned);
        let created =
            wait_for(&reports, &mut seen, "new subscription from connected", |report| match report {
                Did::NewSubscription(result) => Some(result.clone()),
                _ => None,
            });
        assert!(created.is_ok(), "new_subscription + subscribe inside connected: {created:?}");
        let published = wait_for(&reports, &mut seen, "publish from subscribed", |report| match report {
            Did::Publish(result) => Some(result.clone()),
            _ => None,
        });
        assert!(published.is_ok(), "publish inside subscribed: {published:?}");
        let history = wait_for(&reports, &mut seen, "history from subscribed", |report| match report {
            Did::History(result) => Some(result.clone()),
            _ => None,
        });
        assert_eq!(history.expect("history inside subscribed"), vec![FROM_CALLBACK.to_vec()]);
        let publication = wait_for(&reports, &mut seen, "the publication", |report| match report {
            Did::Publication(data) => Some(data.clone()),
            _ => None,
        });
        assert_eq!(publication, FROM_CALLBACK);

        // A server disconnect brings the second `connected`, which disconnects and connects.
        server.api().disconnect(&user, 4000, "come back").unwrap();
        wait_for(&reports, &mut seen, "ready() from the reconnect", assert_ready_returned);
        let cycled = wait_for(&reports, &mut seen, "disconnect and connect", |report| match report {
            Did::DisconnectConnect(disconnect, connect) => Some((disconnect.clone(), connect.clone())),
            _ => None,
        });
        assert!(cycled.0.is_ok() && cycled.1.is_ok(), "disconnect/connect inside connected: {cycled:?}");
        wait_for(&reports, &mut seen, "ready() after connect()", assert_ready_returned);
        let removed = wait_for(&reports, &mut seen, "remove from connected", |report| match report {
            Did::Remove(result) => Some(result.clone()),
            _ => None,
        });
        assert!(removed.is_ok(), "remove_subscription inside connected: {removed:?}");
        let code = wait_for(&reports, &mut seen, "unsubscribed", |report| match report {
            Did::Unsubscribed(code) => Some(*code),
            _ => None,
        });
        assert_eq!(code, codes::UnsubscribedCode::UnsubscribeCalled.code());
        wait_for(&reports, &mut seen, "the listener dropped", |report| {
            matches!(report, Did::SubscriptionListenerDropped).then_some(())
        });

        let events: Vec<&str> = seen
            .iter()
            .filter_map(|report| match report {
                Did::Event(name) => Some(*name),
                _ => None,
            })
            .collect();
        assert_eq!(
            events,
            ["connecting", "connected", "connecting", "connected", "disconnected", "connecting", "connected"],
            "lanes {lanes}, {protocol:?}"
        );
        assert!(client.subscriptions().is_empty());
        assert_eq!(client.state(), ClientState::Connected);
        assert!(client.rpc("ping", Vec::new()).is_ok(), "the lanes are free again");
        client.close();
    }
}

#[test]
fn calls_from_every_kind_of_callback_never_deadlock_on_one_lane() {
    calls_from_every_kind_of_callback_never_deadlock(1);
}

#[test]
fn calls_from_every_kind_of_callback_never_deadlock_on_four_lanes() {
    calls_from_every_kind_of_callback_never_deadlock(4);
}

#[test]
fn a_token_getter_may_call_its_own_client() {
    let server = Centrifugo::shared();
    let cell: Arc<OnceLock<Client>> = Arc::new(OnceLock::new());
    let (seen, asked) = unbounded();
    let getter_cell = Arc::clone(&cell);
    let getter = move || -> Result<String, TokenError> {
        let client = getter_cell.get().expect("set before connect");
        let _ = seen.send((client.state(), client.subscriptions().len()));
        Ok(Claims::connection("getter-user").expires_in(Duration::from_secs(2)).sign(HMAC_SECRET))
    };
    let (client, events) = client(&server.ws_url(), ClientConfig::default().token_getter(getter));
    cell.set(client.clone()).unwrap();
    client.connect().unwrap();
    assert_eq!(asked.recv_timeout(EVENT_TIMEOUT).unwrap(), (ClientState::Connecting, 0));
    events.connected();
    let _sub =
        client.new_subscription("getter-sub", SubscriptionConfig::default(), listener::NoopListener).unwrap();
    // The 2 s token is refreshed while connected: the getter runs again and sees that.
    assert_eq!(asked.recv_timeout(EVENT_TIMEOUT).unwrap(), (ClientState::Connected, 1));
    assert!(client.rpc("ping", Vec::new()).is_ok());
    let later = events.within(Duration::from_millis(300));
    assert!(
        !later.iter().any(|event| matches!(event, ClientEvent::Connecting(_) | ClientEvent::Error(_))),
        "the refresh went through: {later:?}"
    );
    // The getter holds a clone of the client: only close() ends it.
    client.close();
}

/// What an error callback saw and did.
#[derive(Debug)]
struct ErrorCallback {
    error: Error,
    state: SubscriptionState,
    channels: Vec<String>,
    unsubscribed: Result<(), Error>,
}

/// Looks at the subscription it is handed and at the client (through a weak handle, which
/// does not keep the client alive) from its error callback, then unsubscribes.
struct UnsubscribesOnError {
    client: WeakClient,
    errors: Sender<ErrorCallback>,
    unsubscribed: Sender<(u32, String)>,
}

impl SubscriptionListener for UnsubscribesOnError {
    fn on_error(&mut self, sub: &Subscription, event: &ErrorEvent) {
        let client = self.client.upgrade().expect("the test holds the client");
        let state = sub.state();
        let channels = client.subscriptions().iter().map(|sub| sub.channel().to_string()).collect();
        let unsubscribed = sub.unsubscribe();
        let _ =
            self.errors.send(ErrorCallback { error: event.error().clone(), state, channels, unsubscribed });
    }

    fn on_unsubscribed(&mut self, _: &Subscription, event: &UnsubscribedEvent) {
        let _ = self.unsubscribed.send((event.code(), event.reason().to_string()));
    }
}

#[test]
fn an_error_callback_may_inspect_and_unsubscribe_its_subscription() {
    let server = Centrifugo::shared();
    let (client, events) = client(
        &server.ws_url(),
        ClientConfig::default().token(Claims::connection("failing").sign(HMAC_SECRET)),
    );
    client.connect().unwrap();
    events.connected();
    let name = format!("{}:failing-refresh", config::TOKEN_ONLY);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    // A short-lived token first; the refresh then fails (a backend that went down).
    let getter = move |channel: &str| -> Result<String, TokenError> {
        match counted.fetch_add(1, Ordering::SeqCst) {
            0 => Ok(Claims::subscription("failing", channel)
                .expires_in(Duration::from_secs(2))
                .sign(HMAC_SECRET)),
            _ => Err(TokenError::Failed("token backend down".into())),
        }
    };
    let (errors, reported) = unbounded();
    let (unsubscribed, ended) = unbounded();
    let listener = UnsubscribesOnError { client: client.downgrade(), errors, unsubscribed };
    let sub =
        client.new_subscription(&name, SubscriptionConfig::default().token_getter(getter), listener).unwrap();
    sub.subscribe().unwrap();

    let callback = reported.recv_timeout(EVENT_TIMEOUT).expect("the error callback completed");
    assert!(matches!(&callback.error, Error::Token(why) if why == "token backend down"), "{callback:?}");
    assert_eq!(callback.state, SubscriptionState::Subscribed, "the refresh failed, not the subscription");
    assert_eq!(callback.channels, vec![name.clone()]);
    assert!(callback.unsubscribed.is_ok(), "{callback:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one subscribe, one refresh");
    assert_eq!(
        ended.recv_timeout(EVENT_TIMEOUT).unwrap(),
        (codes::UnsubscribedCode::UnsubscribeCalled.code(), "unsubscribe called".into())
    );
    assert_eq!(sub.state(), SubscriptionState::Unsubscribed);
    assert!(client.rpc("ping", Vec::new()).is_ok(), "the client is unaffected");
    client.close();
}

#[test]
fn a_panicking_token_getter_is_reported_and_the_client_goes_on() {
    let server = Centrifugo::shared();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let getter = move || -> Result<String, TokenError> {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("token getter bug on purpose");
        }
        Ok(Claims::connection("after-panic").sign(HMAC_SECRET))
    };
    // A reconnect backoff long enough that the retry cannot come while the test looks.
    let config = ClientConfig::default().token_getter(getter).min_reconnect_delay(Duration::from_secs(5));
    let (client, events) = client(&server.ws_url(), config);
    client.connect().unwrap();
    // The token worker catches the panic and reports it as a getter failure.
    match events.error() {
        Error::Token(why) => assert_eq!(why, "the getter panicked"),
        other => panic!("expected a token error, got {other:?}"),
    }
    assert_eq!(client.state(), ClientState::Connecting, "a failed getter is retried, not terminal");
    // The retry waits the reconnect backoff (5 s at least here): nothing happens at once.
    let soon = events.within(Duration::from_millis(500));
    assert!(
        !soon.iter().any(|event| matches!(event, ClientEvent::Connected(_) | ClientEvent::Error(_))),
        "{soon:?}"
    );
    // A new attempt asks the same token thread again: it survived the panic.
    client.disconnect().unwrap();
    client.connect().unwrap();
    events.connected();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(client.rpc("ping", Vec::new()).is_ok());
    let started = Instant::now();
    client.close();
    assert!(started.elapsed() < Duration::from_secs(2), "close took {:?}", started.elapsed());
    assert_eq!(client.state(), ClientState::Closed);
}
