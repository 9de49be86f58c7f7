//! Executor lanes: the threads that run listener callbacks.
//!
//! Lane 0 owns the client listener, so client events run there in the order the core emitted
//! them. Each callback runs under `catch_unwind`: a panic is reported to `on_error` as
//! [`Error::CallbackPanicked`] and the lane goes on with the next event.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::error::Error;
use crate::events::{ClientEvent, ErrorEvent};
use crate::listener::{ClientListener, dispatch};

thread_local! {
    static ON_LANE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is an executor lane (so it must not wait for lanes).
pub(crate) fn on_lane_thread() -> bool {
    ON_LANE.with(Cell::get)
}

/// Work for a lane.
pub(crate) enum LaneJob {
    Client(ClientEvent),
    /// Run everything queued before, then exit.
    Stop,
}

/// The senders into every lane.
pub(crate) struct Lanes {
    senders: Vec<Sender<LaneJob>>,
}

impl Lanes {
    /// Queues a client event on lane 0.
    pub(crate) fn client_event(&self, event: ClientEvent) {
        // A lane only goes away after Stop, which is sent last.
        let _ = self.senders[0].send(LaneJob::Client(event));
    }

    /// Asks every lane to exit after the jobs queued so far.
    pub(crate) fn stop(&self) {
        for sender in &self.senders {
            let _ = sender.send(LaneJob::Stop);
        }
    }
}

/// Spawns `count` lanes; lane 0 gets the client listener.
pub(crate) fn spawn(
    count: usize,
    listener: Box<dyn ClientListener>,
) -> Result<(Lanes, Vec<JoinHandle<()>>), Error> {
    let mut senders = Vec::with_capacity(count);
    let mut threads = Vec::with_capacity(count);
    let mut listener = Some(listener);
    for index in 0..count {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let lane_listener = listener.take();
        threads.push(super::spawn(format!("centrifuge-exec-{index}"), move || run(receiver, lane_listener))?);
        senders.push(sender);
    }
    Ok((Lanes { senders }, threads))
}

fn run(jobs: Receiver<LaneJob>, mut listener: Option<Box<dyn ClientListener>>) {
    ON_LANE.with(|flag| flag.set(true));
    for job in jobs.iter() {
        match job {
            LaneJob::Client(event) => {
                if let Some(listener) = listener.as_deref_mut() {
                    call_client(listener, &event);
                }
            }
            LaneJob::Stop => break,
        }
    }
}

fn call_client(listener: &mut dyn ClientListener, event: &ClientEvent) {
    let outcome = catch_unwind(AssertUnwindSafe(|| dispatch(listener, event)));
    if let Err(panic) = outcome {
        let message = panic_message(panic.as_ref());
        log::error!("client listener panicked: {message}");
        let report = ClientEvent::Error(ErrorEvent::new(Error::CallbackPanicked(message)));
        if catch_unwind(AssertUnwindSafe(|| dispatch(listener, &report))).is_err() {
            log::error!("client listener panicked again while handling the report of a panic");
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}
