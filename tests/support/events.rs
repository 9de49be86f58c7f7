//! Clients under test and what they report.

use std::time::{Duration, Instant};

use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, SubscriptionEvent, TransportEndpoint, listener,
};
use crossbeam_channel::Receiver;

/// How long a test waits for an event that should come.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// The events of one client, in order.
pub struct Events {
    receiver: Receiver<ClientEvent>,
}

/// A client for `url` with `config`, and its events.
pub fn client(url: &str, config: ClientConfig) -> (Client, Events) {
    client_on(TransportEndpoint::from(url), config)
}

/// A client for `endpoint` (any transport) with `config`, and its events.
pub fn client_on(endpoint: TransportEndpoint, config: ClientConfig) -> (Client, Events) {
    let (listener, receiver) = listener::channel();
    let client = Client::new(endpoint, config, listener).expect("a valid client configuration");
    (client, Events { receiver })
}

impl Events {
    /// The next event.
    pub fn next(&self) -> ClientEvent {
        self.receiver
            .recv_timeout(EVENT_TIMEOUT)
            .unwrap_or_else(|_| panic!("no event within {EVENT_TIMEOUT:?}"))
    }

    /// Skips events until `pick` returns something.
    pub fn until<T>(&self, what: &str, mut pick: impl FnMut(&ClientEvent) -> Option<T>) -> T {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(event) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                    seen.push(event);
                }
                Err(_) => panic!("no {what} within {EVENT_TIMEOUT:?}; saw {seen:#?}"),
            }
        }
    }

    /// Waits for `connected`; returns the client id.
    pub fn connected(&self) -> String {
        self.until("connected event", |event| match event {
            ClientEvent::Connected(connected) => Some(connected.client_id().to_string()),
            _ => None,
        })
    }

    /// Waits for `connecting`; returns its code and reason.
    pub fn connecting(&self) -> (u32, String) {
        self.until("connecting event", |event| match event {
            ClientEvent::Connecting(event) => Some((event.code(), event.reason().to_string())),
            _ => None,
        })
    }

    /// Waits for `disconnected`; returns its code and reason.
    pub fn disconnected(&self) -> (u32, String) {
        self.until("disconnected event", |event| match event {
            ClientEvent::Disconnected(event) => Some((event.code(), event.reason().to_string())),
            _ => None,
        })
    }

    /// Waits for an `error` event; returns its text.
    pub fn error(&self) -> centrifuge_blocking::Error {
        self.until("error event", |event| match event {
            ClientEvent::Error(event) => Some(event.error().clone()),
            _ => None,
        })
    }

    /// Everything queued right now.
    pub fn drain(&self) -> Vec<ClientEvent> {
        self.receiver.try_iter().collect()
    }

    /// Everything that arrives within `window` (for checking that something did not happen).
    pub fn within(&self, window: Duration) -> Vec<ClientEvent> {
        let deadline = Instant::now() + window;
        let mut seen = Vec::new();
        while let Ok(event) = self.receiver.recv_deadline(deadline) {
            seen.push(event);
        }
        seen
    }
}

/// Resident memory of this process right now, KiB (0 when /proc cannot tell). Linux only.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string(super::linux_proc("/proc/self/status"))
        .ok()
        .and_then(|status| {
            status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// The number of threads in this process right now. Linux only.
pub fn thread_count() -> usize {
    std::fs::read_dir(super::linux_proc("/proc/self/task")).map(|tasks| tasks.count()).unwrap_or(0)
}

/// The thread count once it is `expected`, or what it is after 200 ms. Right after a join the
/// joined thread can still be listed for a moment (the kernel wakes the joiner before it
/// removes the task), so a count taken at once may be one too high.
pub fn settled_thread_count(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        let count = thread_count();
        if count == expected || Instant::now() >= deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The events of one subscription, in order.
pub struct SubEvents {
    receiver: Receiver<centrifuge_blocking::SubscriptionEvent>,
}

/// A subscription of `client` to `channel`, and its events.
pub fn subscription(
    client: &Client,
    channel: &str,
    config: centrifuge_blocking::SubscriptionConfig,
) -> (centrifuge_blocking::Subscription, SubEvents) {
    let (listener, receiver) = listener::subscription_channel();
    let subscription = client.new_subscription(channel, config, listener).expect("a new subscription");
    (subscription, SubEvents { receiver })
}

impl SubEvents {
    /// Skips events until `pick` returns something.
    pub fn until<T>(&self, what: &str, mut pick: impl FnMut(&SubscriptionEvent) -> Option<T>) -> T {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        let mut seen = Vec::new();
        loop {
            match self.receiver.recv_deadline(deadline) {
                Ok(event) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                    seen.push(event);
                }
                Err(_) => panic!("no {what} within {EVENT_TIMEOUT:?}; saw {seen:#?}"),
            }
        }
    }

    /// The next event, whatever it is.
    pub fn next(&self) -> SubscriptionEvent {
        self.receiver
            .recv_timeout(EVENT_TIMEOUT)
            .unwrap_or_else(|_| panic!("no event within {EVENT_TIMEOUT:?}"))
    }

    pub fn subscribed(&self) -> centrifuge_blocking::SubscribedEvent {
        self.until("subscribed event", |event| match event {
            SubscriptionEvent::Subscribed(event) => Some(event.clone()),
            _ => None,
        })
    }

    pub fn subscribing(&self) -> (u32, String) {
        self.until("subscribing event", |event| match event {
            SubscriptionEvent::Subscribing(event) => Some((event.code(), event.reason().to_string())),
            _ => None,
        })
    }

    pub fn unsubscribed(&self) -> (u32, String) {
        self.until("unsubscribed event", |event| match event {
            SubscriptionEvent::Unsubscribed(event) => Some((event.code(), event.reason().to_string())),
            _ => None,
        })
    }

    pub fn publication(&self) -> centrifuge_blocking::PublicationEvent {
        self.until("publication", |event| match event {
            SubscriptionEvent::Publication(event) => Some(event.clone()),
            _ => None,
        })
    }

    pub fn error(&self) -> centrifuge_blocking::Error {
        self.until("error event", |event| match event {
            SubscriptionEvent::Error(event) => Some(event.error().clone()),
            _ => None,
        })
    }

    /// Everything queued right now.
    pub fn drain(&self) -> Vec<SubscriptionEvent> {
        self.receiver.try_iter().collect()
    }

    /// Everything that arrives within `window`.
    pub fn within(&self, window: Duration) -> Vec<SubscriptionEvent> {
        let deadline = Instant::now() + window;
        let mut seen = Vec::new();
        while let Ok(event) = self.receiver.recv_deadline(deadline) {
            seen.push(event);
        }
        seen
    }
}
