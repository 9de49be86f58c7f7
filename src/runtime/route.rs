//! The direct route for calls made while connected.
//!
//! Going through the core thread costs two thread wake-ups per call (caller → core, core →
//! caller) on top of the connection thread's own, which on a loaded machine is more than the
//! server's whole round trip. So while the client is connected, a caller writes its command
//! itself and the connection thread hands the reply straight back:
//!
//! - the caller takes an id from the shared counter, registers its reply slot here together
//!   with the connection it will write to, encodes and writes on its own thread;
//! - the connection thread, for each reply with an id, asks [`CallRoute::take`] for the slot
//!   and answers it; replies it does not find here (connect, refresh, calls made while
//!   connecting) go to the core as before;
//! - the caller enforces its own timeout, and on timeout removes its entry: whoever removes an
//!   entry answers it, so every call is answered exactly once;
//! - the core still decides: it opens the route when the connection is up
//!   ([`CallRoute::open`]) and closes it when the connection is lost
//!   ([`CallRoute::close`]), failing what was in flight. A caller that finds the route closed
//!   goes through the core, which queues, sends or fails the call as the state requires.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Connection, Slot};

#[derive(Default)]
struct RouteState {
    link: Option<(u64, Arc<Connection>)>,
    pending: HashMap<u32, Slot>,
}

/// The call route; see the module docs.
#[derive(Default)]
pub(crate) struct CallRoute {
    state: Mutex<RouteState>,
}

impl CallRoute {
    /// The connection `generation` is up: calls may go out directly.
    pub(crate) fn open(&self, generation: u64, connection: Arc<Connection>) {
        self.state.lock().link = Some((generation, connection));
    }

    /// The connection `generation` is gone: returns the slots of the calls in flight on it.
    pub(crate) fn close(&self, generation: u64) -> Vec<Slot> {
        let mut state = self.state.lock();
        if state.link.as_ref().is_none_or(|(open, _)| *open != generation) {
            return Vec::new();
        }
        state.link = None;
        state.pending.drain().map(|(_, slot)| slot).collect()
    }

    /// Registers a call with `id`; returns the connection to write it to and whether it is
    /// the only call in flight, or `None` when the route is closed (the call must go through
    /// the core).
    pub(crate) fn register(&self, id: u32, slot: Slot) -> Option<(Arc<Connection>, bool)> {
        let mut state = self.state.lock();
        let connection = Arc::clone(&state.link.as_ref()?.1);
        state.pending.insert(id, slot);
        Some((connection, state.pending.len() == 1))
    }

    /// The current connection, for commands that expect no reply.
    pub(crate) fn connection(&self) -> Option<Arc<Connection>> {
        self.state.lock().link.as_ref().map(|(_, connection)| Arc::clone(connection))
    }

    /// Whether any direct call is still waiting for its reply.
    pub(crate) fn has_pending(&self) -> bool {
        !self.state.lock().pending.is_empty()
    }

    /// Takes the slot of call `id` out, if it is still waiting here.
    pub(crate) fn take(&self, id: u32) -> Option<Slot> {
        self.state.lock().pending.remove(&id)
    }
}
