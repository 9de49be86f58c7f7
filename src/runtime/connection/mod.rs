//! The body of a connection thread, whatever the transport: dial the transport the core chose,
//! report the connection, read until it ends, report how it ended, and always `Ended` last.
//!
//! - [`websocket`]: one WebSocket, written by callers and the core, read by this thread (or by
//!   a lone caller).
//! - [`emulated`]: HTTP-streaming and SSE: this thread reads the stream; commands go out as
//!   emulation requests, written by a writer thread of the connection's own.
//!
//! A panic on this thread (a bug: decoding is total and never panics on input) must not leave
//! the client believing it is connected while nobody reads: it is caught, reported as the end
//! of the connection with an error naming the panic (an `error` event), and the core
//! reconnects with the usual rules.

mod emulated;
mod websocket;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use crossbeam_channel::Sender;

use super::backlog::Backlog;
use super::call::{CallRoute, Link};
use super::delivery::Delivery;
use super::executor::panic_message;
use super::{Input, TransportEvent};
use crate::codec::Codec;
use crate::error::TransportError;
use crate::transport::{DialControl, TransportConfig};
use crate::transports::TransportKind;

/// What a connection thread needs.
pub(crate) struct ConnectionParts {
    pub(crate) generation: u64,
    /// Which of the client's transports to dial.
    pub(crate) transport: usize,
    pub(crate) config: Arc<TransportConfig>,
    pub(crate) codec: Codec,
    pub(crate) control: Arc<DialControl>,
    pub(crate) route: Arc<CallRoute>,
    pub(crate) backlog: Arc<Backlog>,
    pub(crate) to_core: Sender<Input>,
}

/// The body of a connection thread; see the module docs.
pub(crate) fn run(parts: ConnectionParts) {
    let delivery = || Delivery {
        generation: parts.generation,
        to_core: parts.to_core.clone(),
        backlog: Arc::clone(&parts.backlog),
        codec: parts.codec,
    };
    let opened: OnceLock<Arc<dyn Link>> = OnceLock::new();
    let route = parts.config.route(parts.transport);
    let outcome = catch_unwind(AssertUnwindSafe(|| match route.kind {
        TransportKind::WebSocket => websocket::dial_and_read(
            &parts.config,
            &route.endpoint,
            &parts.control,
            &parts.route,
            delivery(),
            &opened,
        ),
        _ => emulated::dial_and_read(&parts, route, delivery(), &opened),
    }));
    let end = outcome.unwrap_or_else(|panic| {
        let message = panic_message(panic.as_ref());
        log::error!("connection {}: the reader thread panicked: {message}", parts.generation);
        TransportEvent::Closed {
            close: None,
            error: Some(TransportError::new(format!("the connection's reader thread panicked: {message}"))),
        }
    });
    let report = delivery();
    report.report(end);
    if let Some(link) = opened.get() {
        link.close();
    }
    report.report(TransportEvent::Ended);
}
