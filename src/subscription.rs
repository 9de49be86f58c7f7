//! The public subscription handle.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::client::payload;
use crate::config::{HistoryOptions, Protocol};
use crate::core::{Request, SubId};
use crate::error::{Error, Result};
use crate::protocol::{Reply, result_of};
use crate::runtime::{Handles, Input};
use crate::types::{HistoryResult, PresenceResult, PresenceStats, SubscriptionState};

/// What a subscription's handles share: its identity and its current state.
#[derive(Debug)]
pub(crate) struct SubscriptionShared {
    id: SubId,
    channel: Arc<str>,
    state: AtomicU8,
}

impl SubscriptionShared {
    pub(crate) fn new(id: SubId, channel: Arc<str>) -> SubscriptionShared {
        SubscriptionShared { id, channel, state: AtomicU8::new(SubscriptionState::Unsubscribed.to_u8()) }
    }

    pub(crate) fn id(&self) -> SubId {
        self.id
    }

    /// Called by the core thread only, which keeps the state current.
    pub(crate) fn set_state(&self, state: SubscriptionState) {
        self.state.store(state.to_u8(), Ordering::Release);
    }
}

/// A subscription to one channel, created by
/// [`Client::new_subscription`](crate::Client::new_subscription).
///
/// Like `Client`, a cheap handle: clone it and use it from any thread. It does not keep the
/// client alive; once the client is closed or dropped, its methods return [`Error::Closed`].
///
/// [`subscribe`](Self::subscribe) and [`unsubscribe`](Self::unsubscribe) return at once; the
/// listener reports the outcome. The calls (`publish`, `history`, `presence`,
/// `presence_stats`) block like the client's: they wait while the subscription is subscribing
/// (up to the client's `timeout`) and fail at once with [`Error::Unsubscribed`] while it is
/// unsubscribed.
#[derive(Clone)]
pub struct Subscription {
    shared: Arc<SubscriptionShared>,
    handles: Weak<Handles>,
    timeout: Duration,
    protocol: Protocol,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", &self.shared.channel)
            .field("state", &self.state())
            .finish()
    }
}

impl Subscription {
    pub(crate) fn new(
        shared: Arc<SubscriptionShared>,
        handles: &Arc<Handles>,
        timeout: Duration,
        protocol: Protocol,
    ) -> Subscription {
        Subscription { shared, handles: Arc::downgrade(handles), timeout, protocol }
    }

    pub(crate) fn id(&self) -> SubId {
        self.shared.id
    }

    /// The channel.
    pub fn channel(&self) -> &str {
        &self.shared.channel
    }

    /// The current state.
    pub fn state(&self) -> SubscriptionState {
        SubscriptionState::from_u8(self.shared.state.load(Ordering::Acquire))
    }

    /// Starts subscribing (now if connected, else once the client connects); returns at once.
    /// Does nothing when already subscribing or subscribed.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when the client is closed or gone.
    pub fn subscribe(&self) -> Result<()> {
        self.handles()?.send(Input::Subscribe(self.id()))
    }

    /// Unsubscribes; returns at once. The stream position is kept, so a later
    /// [`subscribe`](Self::subscribe) recovers what was missed (on recoverable channels).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when the client is closed or gone.
    pub fn unsubscribe(&self) -> Result<()> {
        self.handles()?.send(Input::Unsubscribe(self.id()))
    }

    /// Publishes `data` into the channel.
    ///
    /// # Errors
    ///
    /// As the client's calls (see [call errors](crate::Client#call-errors)), plus
    /// [`Error::Unsubscribed`].
    pub fn publish(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        let data = payload(self.protocol, data)?;
        let reply = self.call(Request::Publish { channel: self.channel().to_string(), data })?;
        result_of(reply, "publish", |reply| reply.publish.take()).map(|_| ())
    }

    /// Reads the channel's history.
    ///
    /// `HistoryOptions::default()` asks for **no publications**, only the stream position
    /// (offset and epoch): pass `HistoryOptions::default().limit(n)` for the oldest `n`, or
    /// [`HistoryOptions::latest(n)`](HistoryOptions::latest) for the newest `n`, newest first.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub fn history(&self, options: HistoryOptions) -> Result<HistoryResult> {
        let reply = self.call(Request::History { channel: self.channel().to_string(), options })?;
        Ok(result_of(reply, "history", |reply| reply.history.take())?
            .map(|history| HistoryResult::from(*history))
            .unwrap_or_default())
    }

    /// The clients subscribed to the channel.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub fn presence(&self) -> Result<PresenceResult> {
        let reply = self.call(Request::Presence { channel: self.channel().to_string() })?;
        Ok(result_of(reply, "presence", |reply| reply.presence.take())?
            .map(|presence| PresenceResult::from(*presence))
            .unwrap_or_default())
    }

    /// How many clients and users are subscribed to the channel.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub fn presence_stats(&self) -> Result<PresenceStats> {
        let reply = self.call(Request::PresenceStats { channel: self.channel().to_string() })?;
        Ok(result_of(reply, "presence_stats", |reply| reply.presence_stats.take())?
            .map(PresenceStats::from)
            .unwrap_or_default())
    }

    /// The one request path for a subscription: straight out when subscribed; otherwise
    /// through the core, which sees the `subscribe()` made just before, waits while
    /// subscribing and fails at once while unsubscribed.
    fn call(&self, request: Request) -> Result<Reply> {
        let handles = self.handles()?;
        match self.state() {
            SubscriptionState::Subscribed => handles.call(request, self.timeout),
            SubscriptionState::Subscribing | SubscriptionState::Unsubscribed => {
                handles.sub_call(self.id(), request, self.timeout)
            }
        }
    }

    fn handles(&self) -> Result<Arc<Handles>> {
        self.handles.upgrade().ok_or(Error::Closed)
    }
}
