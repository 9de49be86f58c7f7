//! Counts panics in the client's threads (named `centrifuge-…`); test threads and scripted
//! servers report their own failures.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Starts counting (once per process; the previous hook still prints the panic).
pub fn watch() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name().is_some_and(|name| name.starts_with("centrifuge-")) {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// Fails the test if any client thread panicked since [`watch`].
pub fn assert_none() {
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a client thread panicked");
}
