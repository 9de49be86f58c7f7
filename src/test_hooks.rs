//! Fault injection for this crate's own tests (feature `_test-hooks`; not for applications,
//! outside semver). Each hook arms a fault that the runtime triggers once.

use std::sync::atomic::{AtomicBool, Ordering};

static PANIC_NEXT_READER: AtomicBool = AtomicBool::new(false);

/// The next connection reader thread that is about to handle what it read panics, once.
pub fn panic_next_reader() {
    PANIC_NEXT_READER.store(true, Ordering::SeqCst);
}

/// Called by a connection's reader thread before each drain.
pub(crate) fn reader_reached_a_drain() {
    // A plain load first: the swap, a write, only when armed.
    if PANIC_NEXT_READER.load(Ordering::Relaxed) && PANIC_NEXT_READER.swap(false, Ordering::SeqCst) {
        panic!("injected by test_hooks::panic_next_reader");
    }
}
