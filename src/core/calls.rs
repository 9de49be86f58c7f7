//! Commands in flight, by id, with their deadlines; and how a user's call goes out.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::effects::{Effect, Effects};
use crate::error::Error;
use crate::protocol::Reply;
use crate::protocol::call::EncodedCall;

/// How many entries' room the table of commands in flight keeps once they are all answered.
const KEEP_CAPACITY: usize = 64;

/// Who waits for a reply.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Purpose<S> {
    /// A user call, answered through its slot.
    User(S),
    /// The connection token refresh.
    ConnectionRefresh,
    /// A subscription's subscribe command.
    Subscribe(super::SubId),
    /// A subscription's unsubscribe command. Which subscription does not matter: its failure
    /// concerns the client (which reconnects), and the subscription has ended already.
    Unsubscribe,
    /// A subscription's token refresh.
    SubscriptionRefresh(super::SubId),
}

/// A user's call that waits to go out (for the connection, or for its subscription).
#[derive(Debug)]
pub(super) struct Waiting<S> {
    /// The command, encoded by the caller.
    pub(super) call: EncodedCall,
    /// How the caller is answered.
    pub(super) slot: S,
    /// When the caller stops waiting: `timeout` after the call was made.
    pub(super) deadline: Instant,
}

/// In-flight commands. Taking an entry out is the only way to act on it, so every command is
/// answered at most once, whichever comes first: reply, timeout or connection loss.
#[derive(Debug)]
pub(super) struct Calls<S> {
    by_id: HashMap<u32, (Purpose<S>, Instant)>,
    by_deadline: BTreeSet<(Instant, u32)>,
}

impl<S> Default for Calls<S> {
    fn default() -> Calls<S> {
        Calls { by_id: HashMap::new(), by_deadline: BTreeSet::new() }
    }
}

impl<S> Calls<S> {
    pub(super) fn insert(&mut self, id: u32, purpose: Purpose<S>, deadline: Instant) {
        if let Some((_, old_deadline)) = self.by_id.insert(id, (purpose, deadline)) {
            // Ids wrap after 2^32 commands; a command that old has long timed out.
            self.by_deadline.remove(&(old_deadline, id));
        }
        self.by_deadline.insert((deadline, id));
    }

    pub(super) fn take(&mut self, id: u32) -> Option<Purpose<S>> {
        let (purpose, deadline) = self.by_id.remove(&id)?;
        self.by_deadline.remove(&(deadline, id));
        if self.by_id.is_empty() && self.by_id.capacity() > KEEP_CAPACITY {
            // A burst (ten thousand subscribe commands) would otherwise keep its table for
            // the life of the client: hash maps never shrink by themselves.
            self.by_id.shrink_to(KEEP_CAPACITY);
        }
        Some(purpose)
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(deadline, _)| *deadline)
    }

    /// Takes out every command whose deadline has passed, oldest first, with its id.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<(u32, Purpose<S>)> {
        let mut expired = Vec::new();
        while let Some(&(deadline, id)) = self.by_deadline.first() {
            if deadline > now {
                break;
            }
            self.by_deadline.pop_first();
            if let Some((purpose, _)) = self.by_id.remove(&id) {
                expired.push((id, purpose));
            }
        }
        expired
    }

    /// Writes a user's call on connection `up` (the one up at the protocol level) and waits
    /// for its reply until its deadline; a call without id (`send`) is done once written.
    pub(super) fn send_user_call(&mut self, out: &mut Effects<S>, up: Option<u64>, waiting: Waiting<S>) {
        let Waiting { call, slot, deadline } = waiting;
        let Some(generation) = up else {
            // Only called while connected; keep the caller's answer exactly-once regardless.
            out.complete(slot, Err(Error::Disconnected));
            return;
        };
        let id = call.id;
        out.push(Effect::WriteCall { generation, call });
        if id == 0 {
            // Nothing to wait for: written is done.
            out.complete(slot, Ok(Reply::default()));
        } else {
            self.insert(id, Purpose::User(slot), deadline);
        }
    }

    /// Takes out every command, in id order.
    pub(super) fn drain(&mut self) -> Vec<Purpose<S>> {
        self.by_deadline.clear();
        let mut all: Vec<(u32, Purpose<S>)> =
            self.by_id.drain().map(|(id, (purpose, _))| (id, purpose)).collect();
        all.sort_by_key(|(id, _)| *id);
        all.into_iter().map(|(_, purpose)| purpose).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_gives_its_room_back_once_a_burst_is_answered() {
        let mut calls: Calls<()> = Calls::default();
        let deadline = Instant::now();
        for id in 1..=10_000 {
            calls.insert(id, Purpose::Subscribe(u64::from(id)), deadline);
        }
        for id in 1..10_000 {
            assert_eq!(calls.take(id), Some(Purpose::Subscribe(u64::from(id))));
        }
        assert!(calls.by_id.capacity() >= 10_000, "shrinks only when empty");
        assert_eq!(calls.take(10_000), Some(Purpose::Subscribe(10_000)));
        assert!(calls.by_id.capacity() <= 2 * KEEP_CAPACITY, "kept {}", calls.by_id.capacity());
        assert_eq!(calls.next_deadline(), None);
    }
}
