//! Counts panics in the client's threads (named `centrifuge-…`); test threads and scripted
//! servers report their own failures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

static PANICS: AtomicUsize = AtomicUsize::new(0);
/// Thread name and message of each panic counted, in order.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Starts counting (once per process; the previous hook still prints the panic).
pub fn watch() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            if let Some(name) = thread.name().filter(|name| name.starts_with("centrifuge-")) {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|text| text.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let place = info.location().map(|at| format!(" at {at}")).unwrap_or_default();
                SEEN.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(format!("{name}: {message}{place}"));
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// How many client-thread panics were counted so far (to compare before and after a run).
pub fn count() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// The client-thread panics counted from number `from` on: thread, message and place.
pub fn since(from: usize) -> Vec<String> {
    SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().skip(from).cloned().collect()
}

/// Fails the test if any client thread panicked since [`watch`].
pub fn assert_none() {
    assert_eq!(count(), 0, "a client thread panicked: {:?}", since(0));
}
