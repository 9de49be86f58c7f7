//! Where the memory of many subscriptions goes: one client subscribes `channels` channels of a
//! local Centrifugo (as P4 does) under a counting allocator, and prints the live heap when the
//! last `subscribed` event arrives, the heap's peak on the way, and the growth of RSS.
//!
//! `cargo run --release -p centrifuge-peer-bench --bin heap-fanin -- channels=10000 format=json`
//! (both arguments optional; `format=protobuf` too). Run it again as
//! `MALLOC_ARENA_MAX=1 cargo run …` to see how much of the RSS growth is glibc keeping what
//! each thread's arena once held.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use centrifuge_blocking::{
    Client, ClientConfig, Protocol, Subscription, SubscriptionConfig, SubscriptionEvent,
};
use centrifuge_peer_bench::driver::{self, fail};
use centrifuge_test_harness::Centrifugo;

/// Bytes allocated and not yet freed, and the most there ever were.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting.
struct Counting;

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// `GlobalAlloc` is an unsafe trait (an allocator promises valid memory); this one hands every
// call to the system allocator unchanged and only counts sizes, so it keeps that promise.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; the new size is the caller's.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            grew(new_size);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let mut channels = 10_000u64;
    let mut protocol = Protocol::Json;
    for arg in std::env::args().skip(1) {
        match arg.split_once('=') {
            Some(("channels", n)) => {
                channels = n.parse().unwrap_or_else(|_| fail("channels= must be a number"))
            }
            Some(("format", "json")) => protocol = Protocol::Json,
            Some(("format", "protobuf")) => protocol = Protocol::Protobuf,
            _ => fail(&format!("unknown argument {arg}; expected channels=<n> format=json|protobuf")),
        }
    }
    let server = Centrifugo::start();
    let rss_before = driver::rss_kib();
    let live_before = LIVE.load(Ordering::Relaxed);
    PEAK.store(live_before, Ordering::Relaxed);
    let config = ClientConfig::default().protocol(protocol).timeout(Duration::from_secs(60));
    let client = Client::new(server.ws_url(), config, centrifuge_blocking::listener::NoopListener)
        .unwrap_or_else(|err| fail(&err.to_string()));
    client.connect().unwrap_or_else(|err| fail(&err.to_string()));
    client.ready(Duration::from_secs(10)).unwrap_or_else(|err| fail(&format!("not connected: {err}")));
    let subscribed = Arc::new(AtomicUsize::new(0));
    let (done, all_subscribed) = crossbeam_channel::bounded(1);
    let started = Instant::now();
    let subscriptions: Vec<Subscription> = (0..channels)
        .map(|n| {
            let (subscribed, done) = (Arc::clone(&subscribed), done.clone());
            let listener = move |_: &Subscription, event: SubscriptionEvent| {
                if matches!(event, SubscriptionEvent::Subscribed(_))
                    && subscribed.fetch_add(1, Ordering::Relaxed) + 1 == channels as usize
                {
                    // Measured here, on the lane, before anything is freed after the burst.
                    let _ = done.try_send(LIVE.load(Ordering::Relaxed));
                }
            };
            let subscription = client
                .new_subscription(&format!("heap-{n}"), SubscriptionConfig::default(), listener)
                .unwrap_or_else(|err| fail(&err.to_string()));
            subscription.subscribe().unwrap_or_else(|err| fail(&err.to_string()));
            subscription
        })
        .collect();
    let live_at_end = all_subscribed
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| fail("not every subscription was subscribed within 120 s"));
    let took = started.elapsed();
    let rss_after = driver::rss_kib();
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    let live = live_at_end.saturating_sub(live_before);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(live_before);
    println!(
        "{channels} subscriptions ({protocol:?}) in {:.0} ms: live heap +{:.1} MiB ({:.2} KiB per subscription, \
         the handles included), heap peak +{:.1} MiB, RSS +{:.1} MiB{}",
        took.as_secs_f64() * 1000.0,
        mib(live),
        live as f64 / 1024.0 / channels as f64,
        mib(peak),
        rss_after.saturating_sub(rss_before) as f64 / 1024.0,
        std::env::var("MALLOC_ARENA_MAX").map(|max| format!(" (MALLOC_ARENA_MAX={max})")).unwrap_or_default()
    );
    drop(subscriptions);
    client.close();
}
