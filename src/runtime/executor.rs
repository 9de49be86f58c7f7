//! Executor lanes: the threads that run listener callbacks.
//!
//! Lane 0 owns the client listener's sink, so client events run there in the order the core
//! emitted them; each subscription's sink lives on lane `id % lanes`, so its events run in
//! order too, while different subscriptions may run side by side. A sink is what a handle
//! bound its listener with (the listener and the handle it is given): the runtime knows
//! neither. Each delivery runs under `catch_unwind`: a panic is reported to the same sink as an
//! error event ([`Error::CallbackPanicked`]) and the lane goes on with the next event. Queued
//! events count in the client's [`Backlog`] until their callback has returned.

use std::any::Any;
use std::cell::Cell;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::backlog::Backlog;
use crate::core::SubId;
use crate::error::Error;
use crate::events::{ClientEvent, ErrorEvent, SubscriptionEvent};

/// Where a lane delivers the events of one listener.
pub(crate) trait EventSink<E>: Send + 'static {
    /// Runs the listener's callback for `event`.
    fn deliver(&mut self, event: &E);
}

/// The events lanes deliver: each kind reports a listener's panic as one of its own events.
trait LaneEvent: Sized + 'static {
    fn panic_report(error: Error) -> Self;
}

impl LaneEvent for ClientEvent {
    fn panic_report(error: Error) -> Self {
        ClientEvent::Error(ErrorEvent::new(error))
    }
}

impl LaneEvent for SubscriptionEvent {
    fn panic_report(error: Error) -> Self {
        SubscriptionEvent::Error(ErrorEvent::new(error))
    }
}

thread_local! {
    static ON_LANE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is an executor lane (so it must not wait for lanes).
pub(crate) fn on_lane_thread() -> bool {
    ON_LANE.with(Cell::get)
}

/// Work for a lane.
pub(crate) enum LaneJob {
    /// An event and what it counts for in the backlog.
    Client(ClientEvent, usize),
    Register(SubId, Box<dyn EventSink<SubscriptionEvent>>),
    Subscription(SubId, SubscriptionEvent, usize),
    Unregister(SubId),
    /// Run everything queued before, then exit.
    Stop,
}

/// The senders into every lane.
pub(crate) struct Lanes {
    senders: Vec<Sender<LaneJob>>,
    backlog: Arc<Backlog>,
}

impl Lanes {
    /// Queues a client event on lane 0.
    pub(crate) fn client_event(&self, event: ClientEvent) {
        let bytes = event.backlog_bytes();
        self.backlog.add(bytes);
        // A lane only goes away after Stop, which is sent last.
        let _ = self.senders[0].send(LaneJob::Client(event, bytes));
    }

    /// The lane of subscription `id`: always the same one, so its events stay in order.
    fn lane_of(&self, id: SubId) -> &Sender<LaneJob> {
        &self.senders[(id % self.senders.len() as u64) as usize]
    }

    /// Hands a subscription's sink to its lane.
    pub(crate) fn register(&self, id: SubId, sink: Box<dyn EventSink<SubscriptionEvent>>) {
        let _ = self.lane_of(id).send(LaneJob::Register(id, sink));
    }

    /// Queues a subscription event on the subscription's lane.
    pub(crate) fn subscription_event(&self, id: SubId, event: SubscriptionEvent) {
        let bytes = event.backlog_bytes();
        self.backlog.add(bytes);
        let _ = self.lane_of(id).send(LaneJob::Subscription(id, event, bytes));
    }

    /// Drops a subscription's listener after the events queued before.
    pub(crate) fn unregister(&self, id: SubId) {
        let _ = self.lane_of(id).send(LaneJob::Unregister(id));
    }

    /// Asks every lane to exit after the jobs queued so far.
    pub(crate) fn stop(&self) {
        for sender in &self.senders {
            let _ = sender.send(LaneJob::Stop);
        }
    }
}

/// Spawns `count` lanes; lane 0 gets the client listener's sink.
pub(crate) fn spawn(
    count: usize,
    listener: Box<dyn EventSink<ClientEvent>>,
    backlog: &Arc<Backlog>,
) -> Result<(Lanes, Vec<JoinHandle<()>>), Error> {
    let mut senders = Vec::with_capacity(count);
    let mut threads = Vec::with_capacity(count);
    let mut listener = Some(listener);
    for index in 0..count {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let lane_listener = listener.take();
        let lane_backlog = Arc::clone(backlog);
        threads.push(super::spawn(format!("centrifuge-exec-{index}"), move || {
            run(receiver, lane_listener, &lane_backlog)
        })?);
        senders.push(sender);
    }
    Ok((Lanes { senders, backlog: Arc::clone(backlog) }, threads))
}

fn run(jobs: Receiver<LaneJob>, mut listener: Option<Box<dyn EventSink<ClientEvent>>>, backlog: &Backlog) {
    ON_LANE.with(|flag| flag.set(true));
    let mut subscriptions: HashMap<SubId, Box<dyn EventSink<SubscriptionEvent>>> = HashMap::new();
    for job in jobs.iter() {
        match job {
            LaneJob::Client(event, bytes) => {
                if let Some(listener) = listener.as_deref_mut() {
                    deliver(listener, &event, "client");
                }
                drop(event);
                backlog.remove(bytes);
            }
            LaneJob::Register(id, sink) => {
                subscriptions.insert(id, sink);
            }
            LaneJob::Subscription(id, event, bytes) => {
                if let Some(sink) = subscriptions.get_mut(&id) {
                    deliver(sink.as_mut(), &event, "subscription");
                }
                drop(event);
                backlog.remove(bytes);
            }
            LaneJob::Unregister(id) => {
                subscriptions.remove(&id);
            }
            LaneJob::Stop => break,
        }
    }
}

/// Delivers `event`; a panic is reported to the same sink as an error event.
fn deliver<E: LaneEvent>(sink: &mut dyn EventSink<E>, event: &E, whose: &str) {
    let outcome = catch_unwind(AssertUnwindSafe(|| sink.deliver(event)));
    if let Err(panic) = outcome {
        let message = panic_message(panic.as_ref());
        log::error!("{whose} listener panicked: {message}");
        let report = E::panic_report(Error::CallbackPanicked(message));
        if catch_unwind(AssertUnwindSafe(|| sink.deliver(&report))).is_err() {
            log::error!("{whose} listener panicked again while handling the report of a panic");
        }
    }
}

/// The text a panic carries, for reports.
pub(super) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}
