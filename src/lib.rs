//! # centrifuge-blocking
//!
//! A client SDK for [Centrifugo](https://centrifugal.dev) (client protocol v2: Centrifugo v4, v5
//! and v6) for programs without an async runtime: desktop apps, command-line tools, synchronous
//! services and scripts. JSON or Protobuf over WebSocket, on plain threads.
//!
//! ```no_run
//! use std::time::Duration;
//! use centrifuge_blocking::{Client, ClientConfig, ClientEvent, HistoryOptions};
//!
//! let client = Client::new(
//!     "ws://127.0.0.1:8000/connection/websocket",
//!     ClientConfig::default().token("<connection JWT>"),
//!     |_: &Client, event: ClientEvent| println!("{event:?}"),
//! )?;
//! client.connect()?;
//! client.ready(Duration::from_secs(5))?;
//! client.publish("news", br#"{"text":"hello"}"#)?;
//! let history = client.history("news", HistoryOptions::default().limit(10))?;
//! println!("{} publications", history.publications().len());
//! client.close();
//! # Ok::<(), centrifuge_blocking::Error>(())
//! ```
//!
//! ## Threads
//!
//! Each client runs a core thread that owns all state, one thread per connection that reads
//! the socket, and executor lanes that run your listener callbacks in order (see
//! [`ClientConfig::executor_lanes`]). Calls block the calling thread, never a client thread.
//! [`Client::close`] joins them all.
//!
//! ## The `unversioned` feature
//!
//! Exposes the wire model and codec as `centrifuge_blocking::unversioned`, outside semver, for
//! tools and tests that speak raw protocol.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, clippy::all)]

mod backoff;
mod client;
mod codec;
pub mod codes;
mod config;
mod core;
mod delta;
mod error;
mod events;
pub mod listener;
mod protocol;
mod runtime;
mod subscription;
mod token;
mod transport;
mod transports;
mod types;

#[cfg(feature = "unversioned")]
pub mod unversioned;

#[cfg(feature = "_test-hooks")]
#[doc(hidden)]
pub mod test_hooks;

/// The channel crate behind [`listener::channel`] and [`listener::subscription_channel`],
/// re-exported so that their receivers can be named, stored and combined with
/// [`select!`](crossbeam_channel::select) without depending on `crossbeam-channel` yourself (its
/// version must match this crate's for the types to be the same).
pub use crossbeam_channel;

pub use client::{Client, WeakClient};
pub use config::{
    ClientConfig, HistoryOptions, HttpProxy, Protocol, Proxy, Socks5Proxy, SubscriptionConfig, TagsFilter,
};
pub use error::{Error, Result, ServerError, TimeoutError, TransportError};
pub use events::{
    ClientEvent, ConnectedEvent, ConnectingEvent, DisconnectedEvent, ErrorEvent, JoinEvent, LeaveEvent,
    MessageEvent, PublicationEvent, ServerSubscribedEvent, ServerSubscribingEvent, ServerUnsubscribedEvent,
    SubscribedEvent, SubscribingEvent, SubscriptionEvent, UnsubscribedEvent,
};
pub use listener::{ClientListener, SubscriptionListener};
pub use subscription::Subscription;
pub use token::{StateError, StateGetter, SubscriptionTokenGetter, TokenError, TokenGetter};
pub use transports::{TransportEndpoint, TransportKind};
pub use types::{
    ClientInfo, ClientState, HistoryResult, PresenceResult, PresenceStats, Publication, StreamPosition,
    SubscriptionState,
};
