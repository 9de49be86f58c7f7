//! The client-side subscriptions, indexed for the hot paths.
//!
//! A publication push finds its subscription by channel in O(1); the core thread asks for the
//! earliest subscription deadline on every input, so that is cached and recomputed only after a
//! subscription may have changed. Every mutable access goes through [`Registry::get_mut`],
//! which invalidates the cache, except [`Registry::get_mut_keeping_timers`] for the publication
//! path, which never touches timers.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::subscriptions::{Sub, SubId};

pub(super) struct Registry<S> {
    /// Boxed: a hash map keeps up to half of its slots empty, and a slot is as large as what it
    /// holds; with ten thousand subscriptions that was megabytes of nothing.
    subs: HashMap<SubId, Box<Sub<S>>>,
    by_channel: HashMap<Arc<str>, SubId>,
    ordered: Vec<SubId>,
    /// The earliest deadline of any subscription; `None` when it must be recomputed.
    deadline: Cell<Option<Option<Instant>>>,
}

impl<S> Default for Registry<S> {
    fn default() -> Registry<S> {
        Registry {
            subs: HashMap::new(),
            by_channel: HashMap::new(),
            ordered: Vec::new(),
            deadline: Cell::new(None),
        }
    }
}

impl<S> Registry<S> {
    pub(super) fn insert(&mut self, id: SubId, channel: Arc<str>, sub: Sub<S>) {
        self.subs.insert(id, Box::new(sub));
        self.by_channel.insert(channel, id);
        if let Err(at) = self.ordered.binary_search(&id) {
            self.ordered.insert(at, id);
        }
        self.deadline.set(None);
    }

    pub(super) fn remove(&mut self, id: SubId, channel: &str) -> bool {
        let removed = self.subs.remove(&id).is_some();
        if self.by_channel.get(channel) == Some(&id) {
            self.by_channel.remove(channel);
        }
        if let Ok(at) = self.ordered.binary_search(&id) {
            self.ordered.remove(at);
        }
        self.deadline.set(None);
        removed
    }

    pub(super) fn get(&self, id: SubId) -> Option<&Sub<S>> {
        self.subs.get(&id).map(|sub| &**sub)
    }

    pub(super) fn get_mut(&mut self, id: SubId) -> Option<&mut Sub<S>> {
        self.deadline.set(None);
        self.subs.get_mut(&id).map(|sub| &mut **sub)
    }

    /// For changes that never touch a subscription's timers (offset, delta base).
    pub(super) fn get_mut_keeping_timers(&mut self, id: SubId) -> Option<&mut Sub<S>> {
        self.subs.get_mut(&id).map(|sub| &mut **sub)
    }

    pub(super) fn by_channel(&self, channel: &str) -> Option<SubId> {
        self.by_channel.get(channel).copied()
    }

    /// Every subscription id, in creation order.
    pub(super) fn ids(&self) -> Vec<SubId> {
        self.ordered.clone()
    }

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
    use super::super::subscriptions::Sub;

    /// A client may hold tens of thousands of subscriptions; rare settings stay behind boxes.
    #[test]
    fn a_subscription_stays_small() {
        let size = std::mem::size_of::<Sub<()>>();
        assert!(size <= 300, "a subscription takes {size} bytes");
    }
}
