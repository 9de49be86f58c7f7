//! The client-side subscriptions, indexed for the hot paths.
//!
//! A push finds its subscription by channel in O(1); iteration goes in id order, which is
//! creation order (the order subscribes go out in after a reconnect). The core thread asks for
//! the earliest subscription deadline on every input, so that is cached and recomputed only
//! after a subscription may have changed: every mutable access goes through
//! [`Registry::get_mut`] or [`Registry::values_mut`], which invalidate the cache, except
//! [`Registry::get_mut_keeping_timers`] for pushes of the stream, which never touch timers.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use super::subscription::{Sub, SubId};

pub(super) struct Registry<S> {
    /// Every subscription, by id. Boxed: a map keeps room for entries it does not hold, as
    /// large as the entries it does; with ten thousand subscriptions that was megabytes of
    /// nothing.
    subs: BTreeMap<SubId, Box<Sub<S>>>,
    /// The subscription of each channel, for pushes (which name only their channel).
    by_channel: HashMap<Arc<str>, SubId>,
    /// The earliest deadline of any subscription; `None` when it must be recomputed.
    deadline: Cell<Option<Option<Instant>>>,
}

impl<S> Default for Registry<S> {
    fn default() -> Registry<S> {
        Registry { subs: BTreeMap::new(), by_channel: HashMap::new(), deadline: Cell::new(None) }
    }
}

impl<S> Registry<S> {
    pub(super) fn insert(&mut self, sub: Sub<S>) {
        self.by_channel.insert(Arc::clone(sub.channel()), sub.id());
        self.subs.insert(sub.id(), Box::new(sub));
        self.deadline.set(None);
    }

    /// Forgets subscription `id`; `false` if there was none.
    pub(super) fn remove(&mut self, id: SubId) -> bool {
        let Some(sub) = self.subs.remove(&id) else { return false };
        if self.by_channel.get(sub.channel()) == Some(&id) {
            self.by_channel.remove(sub.channel());
        }
        self.deadline.set(None);
        true
    }

    pub(super) fn get_mut(&mut self, id: SubId) -> Option<&mut Sub<S>> {
        self.deadline.set(None);
        self.subs.get_mut(&id).map(|sub| &mut **sub)
    }

    /// For changes that never touch a subscription's timers (publications, joins, leaves).
    pub(super) fn get_mut_keeping_timers(&mut self, id: SubId) -> Option<&mut Sub<S>> {
        self.subs.get_mut(&id).map(|sub| &mut **sub)
    }

    pub(super) fn by_channel(&self, channel: &str) -> Option<SubId> {
        self.by_channel.get(channel).copied()
    }

    /// Every subscription, in id order.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Sub<S>> {
        self.deadline.set(None);
        self.subs.values_mut().map(|sub| &mut **sub)
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if let Some(cached) = self.deadline.get() {
            return cached;
        }
        let earliest = self.subs.values().filter_map(|sub| sub.next_deadline()).min();
        self.deadline.set(Some(earliest));
        earliest
    }
}

#[cfg(test)]
mod tests {
    use super::super::subscription::Sub;

    /// A client may hold tens of thousands of subscriptions; rare settings stay behind boxes.
    /// (296 bytes until a subscription knew its own id, which names it in its effects.)
    #[test]
    fn a_subscription_stays_small() {
        let size = std::mem::size_of::<Sub<()>>();
        assert!(size <= 304, "a subscription takes {size} bytes");
    }
}
