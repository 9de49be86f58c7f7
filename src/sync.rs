//! Locks and condition variables from the standard library, with the shape the runtime uses:
//! a lock never fails (a thread that panicked while holding one leaves data that is still
//! consistent for our uses: every critical section only assigns fields), and waiting borrows
//! the guard instead of consuming it.
//!
//! These replaced `parking_lot`, which with its four dependencies was a twelfth of the crates a
//! user's build compiled, for no speed that the benchmarks could show.

use std::ops::{Deref, DerefMut};
use std::sync::{self, PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// A mutual exclusion lock.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(sync::Mutex<T>);

/// Holds a [`Mutex`] until dropped.
pub(crate) struct MutexGuard<'a, T>(Option<sync::MutexGuard<'a, T>>);

impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Mutex<T> {
        Mutex(sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard(Some(self.0.lock().unwrap_or_else(PoisonError::into_inner)))
    }

    /// Takes the lock if it comes free within `wait`.
    pub(crate) fn try_lock_for(&self, wait: Duration) -> Option<MutexGuard<'_, T>> {
        let deadline = Instant::now() + wait;
        loop {
            match self.0.try_lock() {
                Ok(guard) => return Some(MutexGuard(Some(guard))),
                Err(TryLockError::Poisoned(poisoned)) => {
                    return Some(MutexGuard(Some(poisoned.into_inner())));
                }
                Err(TryLockError::WouldBlock) if Instant::now() >= deadline => return None,
                Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Only empty inside `Condvar`'s waits, which hold `&mut self`.
        self.0.as_deref().expect("a guard holds its lock outside condition waits")
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.as_deref_mut().expect("a guard holds its lock outside condition waits")
    }
}

/// A condition variable.
#[derive(Debug, Default)]
pub(crate) struct Condvar(sync::Condvar);

/// Whether a wait ended because its time ran out.
pub(crate) struct WaitResult(bool);

impl WaitResult {
    pub(crate) fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    pub(crate) const fn new() -> Condvar {
        Condvar(sync::Condvar::new())
    }

    pub(crate) fn notify_one(&self) {
        self.0.notify_one();
    }

    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }

    /// Waits for a notification.
    pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
        if let Some(inner) = guard.0.take() {
            guard.0 = Some(self.0.wait(inner).unwrap_or_else(PoisonError::into_inner));
        }
    }

    /// Waits for a notification, at most `timeout`.
    pub(crate) fn wait_for<T>(&self, guard: &mut MutexGuard<'_, T>, timeout: Duration) -> WaitResult {
        match guard.0.take() {
            Some(inner) => {
                let (inner, result) =
                    self.0.wait_timeout(inner, timeout).unwrap_or_else(PoisonError::into_inner);
                guard.0 = Some(inner);
                WaitResult(result.timed_out())
            }
            None => WaitResult(true),
        }
    }

    /// Waits for a notification, at most until `deadline`.
    pub(crate) fn wait_until<T>(&self, guard: &mut MutexGuard<'_, T>, deadline: Instant) -> WaitResult {
        self.wait_for(guard, deadline.saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_wait_returns_with_the_lock_held_after_a_notification() {
        let shared = Arc::new((Mutex::new(false), Condvar::new()));
        let notifier = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                *shared.0.lock() = true;
                shared.1.notify_all();
            })
        };
        let mut ready = shared.0.lock();
        while !*ready {
            shared.1.wait_for(&mut ready, Duration::from_secs(10));
        }
        assert!(*ready);
        drop(ready);
        notifier.join().unwrap();
    }

    #[test]
    fn a_wait_without_notification_times_out() {
        let (lock, condvar) = (Mutex::new(()), Condvar::new());
        let mut guard = lock.lock();
        assert!(condvar.wait_until(&mut guard, Instant::now() + Duration::from_millis(20)).timed_out());
    }

    #[test]
    fn try_lock_for_gives_up_while_the_lock_is_held() {
        let lock = Mutex::new(1);
        let held = lock.lock();
        assert!(lock.try_lock_for(Duration::from_millis(10)).is_none());
        drop(held);
        assert_eq!(lock.try_lock_for(Duration::from_millis(10)).map(|guard| *guard), Some(1));
    }

    #[test]
    fn a_lock_poisoned_by_a_panic_still_opens() {
        let lock = Arc::new(Mutex::new(5));
        let panicking = {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || {
                let _guard = lock.lock();
                panic!("poison the lock");
            })
        };
        assert!(panicking.join().is_err());
        assert_eq!(*lock.lock(), 5);
    }
}
