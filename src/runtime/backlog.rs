//! The bound on received data that listeners have not handled yet.
//!
//! Listeners run on the lanes at their own pace; a slow one would otherwise let the lane's
//! queue grow with every publication the server sends. So everything received is counted here
//! until it is handled: a frame from when its connection hands it to the core until the core
//! has turned it into events, an event until its callback has returned. While the count is over
//! [`ClientConfig::event_queue_limit`](crate::ClientConfig::event_queue_limit), the connection
//! stops reading: the socket's receive buffer fills, TCP flow control holds the server back,
//! and the server's own per-connection queue grows until it gives up on the client (Centrifugo
//! closes it with 3008 "slow", or its write times out). The client then reconnects and its
//! recoverable subscriptions recover what they missed. Memory on our side stays at the limit
//! plus what one read brings in (at most one message of `max_message_size`).
//!
//! Decoded frames waiting for the core thread have a bound of their own, [`FRAME_LIMIT`], far
//! below the client's: the core never waits for anything, so the reader gains nothing by
//! running further ahead of it, and a burst of replies (ten thousand subscribe results) would
//! otherwise be decoded all at once, a peak the allocator keeps as resident memory long after.
//!
//! One exception keeps callbacks from deadlocking: while a callback waits for an SDK call, its
//! lane cannot catch up and the reply sits behind the data it would have to handle first, so
//! the limit is lifted until that call returns (the backlog may grow by what arrives meanwhile,
//! at most for the call's timeout).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::events::{ClientEvent, JoinEvent, LeaveEvent, SubscriptionEvent};
use crate::types::{ClientInfo, Publication};

/// How often a reader waiting for the backlog to shrink checks whether its connection closed.
const WAIT_CHECK: Duration = Duration::from_millis(50);

/// How many bytes of decoded frames may wait for the core thread (see the module docs).
const FRAME_LIMIT: usize = 1 << 20;

/// Bytes received but not handled yet, shared by connections, the core and the lanes.
#[derive(Debug)]
pub(crate) struct Backlog {
    queued: AtomicUsize,
    limit: usize,
    /// The part of `queued` that is decoded frames the core thread has not handled yet.
    frames: AtomicUsize,
    /// Callbacks waiting for an SDK call right now.
    waiting_callbacks: AtomicUsize,
    lock: Mutex<()>,
    shrunk: Condvar,
}

impl Backlog {
    pub(crate) fn new(limit: usize) -> Backlog {
        Backlog {
            queued: AtomicUsize::new(0),
            limit,
            frames: AtomicUsize::new(0),
            waiting_callbacks: AtomicUsize::new(0),
            lock: Mutex::new(()),
            shrunk: Condvar::new(),
        }
    }

    /// Counts `bytes` more received data.
    pub(crate) fn add(&self, bytes: usize) {
        self.queued.fetch_add(bytes, Ordering::AcqRel);
    }

    /// `bytes` of received data have been handled.
    pub(crate) fn remove(&self, bytes: usize) {
        let before = self.queued.fetch_sub(bytes, Ordering::AcqRel);
        if before > self.limit && before - bytes <= self.limit {
            self.wake_readers();
        }
    }

    /// Counts a decoded frame of `bytes` handed to the core thread.
    pub(crate) fn add_frame(&self, bytes: usize) {
        self.frames.fetch_add(bytes, Ordering::AcqRel);
        self.add(bytes);
    }

    /// The core thread has turned `bytes` of frames into events (counted on their own).
    pub(crate) fn frames_handled(&self, bytes: usize) {
        let before = self.frames.fetch_sub(bytes, Ordering::AcqRel);
        if before > FRAME_LIMIT && before - bytes <= FRAME_LIMIT {
            self.wake_readers();
        }
        self.remove(bytes);
    }

    /// Whether connections should stop reading.
    pub(crate) fn is_full(&self) -> bool {
        self.frames.load(Ordering::Acquire) > FRAME_LIMIT
            || (self.queued.load(Ordering::Acquire) > self.limit
                && self.waiting_callbacks.load(Ordering::Acquire) == 0)
    }

    /// Blocks while the backlog is full, until `stop` says the caller has no reason to read any
    /// more (its connection is closing).
    pub(crate) fn wait_for_room(&self, stop: impl Fn() -> bool) {
        if !self.is_full() {
            return;
        }
        log::debug!("listeners are behind by more than {} bytes: reading paused", self.limit);
        let mut guard = self.lock.lock();
        while self.is_full() && !stop() {
            self.shrunk.wait_for(&mut guard, WAIT_CHECK);
        }
        log::debug!("reading resumed");
    }

    /// Lifts the limit while the returned guard lives: a callback waits for an SDK call.
    pub(crate) fn callback_waits(&self) -> CallbackWaiting<'_> {
        self.waiting_callbacks.fetch_add(1, Ordering::AcqRel);
        self.wake_readers();
        CallbackWaiting { backlog: self }
    }

    fn wake_readers(&self) {
        let _guard = self.lock.lock();
        self.shrunk.notify_all();
    }
}

/// See [`Backlog::callback_waits`].
pub(crate) struct CallbackWaiting<'a> {
    backlog: &'a Backlog,
}

impl Drop for CallbackWaiting<'_> {
    fn drop(&mut self) {
        self.backlog.waiting_callbacks.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What an event waiting for its callback counts for in the backlog: its payloads, plus an allowance for the rest of it (the event itself,
/// its place in the lane's queue, the channel name; measured at about 450 bytes).
const EVENT_ALLOWANCE: usize = 512;

fn info_bytes(info: &ClientInfo) -> usize {
    info.user().len() + info.client().len() + info.conn_info().len() + info.chan_info().len()
}

fn publication_bytes(publication: &Publication) -> usize {
    let tags: usize = publication.tags().iter().map(|(name, value)| name.len() + value.len()).sum();
    publication.data().len() + publication.info().map_or(0, info_bytes) + tags
}

impl ClientEvent {
    pub(crate) fn backlog_bytes(&self) -> usize {
        EVENT_ALLOWANCE
            + match self {
                ClientEvent::Connected(event) => event.data().len(),
                ClientEvent::Message(event) => event.data().len(),
                ClientEvent::Subscribed(event) => event.data().len(),
                ClientEvent::Publication(event) => publication_bytes(&event.publication),
                ClientEvent::Join(JoinEvent { info, .. }) | ClientEvent::Leave(LeaveEvent { info, .. }) => {
                    info_bytes(info)
                }
                ClientEvent::Connecting(_)
                | ClientEvent::Disconnected(_)
                | ClientEvent::Error(_)
                | ClientEvent::Subscribing(_)
                | ClientEvent::Unsubscribed(_) => 0,
            }
    }
}

impl SubscriptionEvent {
    pub(crate) fn backlog_bytes(&self) -> usize {
        EVENT_ALLOWANCE
            + match self {
                SubscriptionEvent::Subscribed(event) => event.data().len(),
                SubscriptionEvent::Publication(event) => publication_bytes(&event.publication),
                SubscriptionEvent::Join(JoinEvent { info, .. })
                | SubscriptionEvent::Leave(LeaveEvent { info, .. }) => info_bytes(info),
                SubscriptionEvent::Subscribing(_)
                | SubscriptionEvent::Unsubscribed(_)
                | SubscriptionEvent::Error(_) => 0,
            }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;

    use super::*;

    #[test]
    fn full_only_above_the_limit() {
        let backlog = Backlog::new(100);
        backlog.add(100);
        assert!(!backlog.is_full());
        backlog.add(1);
        assert!(backlog.is_full());
        backlog.remove(1);
        assert!(!backlog.is_full());
    }

    #[test]
    fn frames_waiting_for_the_core_have_a_tighter_bound() {
        let backlog = Backlog::new(usize::MAX);
        backlog.add_frame(FRAME_LIMIT);
        assert!(!backlog.is_full());
        backlog.add_frame(1);
        assert!(backlog.is_full(), "over the frame bound although far under the client's");
        let waiting = backlog.callback_waits();
        assert!(backlog.is_full(), "the core never waits for callbacks: no exception here");
        drop(waiting);
        backlog.frames_handled(FRAME_LIMIT + 1);
        assert!(!backlog.is_full());
    }

    #[test]
    fn a_waiting_callback_lifts_the_limit_until_its_call_returns() {
        let backlog = Backlog::new(10);
        backlog.add(50);
        let waiting = backlog.callback_waits();
        assert!(!backlog.is_full());
        drop(waiting);
        assert!(backlog.is_full());
    }

    #[test]
    fn a_reader_resumes_when_listeners_catch_up() {
        let backlog = Arc::new(Backlog::new(10));
        backlog.add(50);
        let (resumed, resumed_at) = crossbeam_channel::bounded(1);
        let reader = {
            let backlog = Arc::clone(&backlog);
            std::thread::spawn(move || {
                backlog.wait_for_room(|| false);
                resumed.send(()).unwrap();
            })
        };
        assert!(resumed_at.recv_timeout(Duration::from_millis(100)).is_err(), "still full");
        backlog.remove(45);
        resumed_at.recv_timeout(Duration::from_secs(5)).expect("resumed once under the limit");
        reader.join().unwrap();
    }

    #[test]
    fn a_reader_stops_waiting_when_its_connection_closes() {
        let backlog = Backlog::new(0);
        backlog.add(1);
        let closing = AtomicBool::new(false);
        let started = Instant::now();
        std::thread::scope(|scope| {
            scope.spawn(|| backlog.wait_for_room(|| closing.load(Ordering::Acquire)));
            closing.store(true, Ordering::Release);
        });
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(backlog.is_full(), "nothing was handled");
    }
}
