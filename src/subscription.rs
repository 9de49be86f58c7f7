//! The public subscription handle.

use std::sync::Arc;

use crate::client::payload;
use crate::config::HistoryOptions;
use crate::error::Result;
use crate::events::SubscriptionEvent;
use crate::listener::{SubscriptionListener, dispatch_subscription};
use crate::protocol::Reply;
use crate::protocol::call::{
    Request, history_result, presence_result, presence_stats_result, publish_result,
};
use crate::runtime::{EventSink, RuntimePort, SubscriptionCell};
use crate::types::{HistoryResult, PresenceResult, PresenceStats, SubscriptionState};

/// A subscription to one channel, created by
/// [`Client::new_subscription`](crate::Client::new_subscription).
///
/// Like `Client`, a cheap handle: clone it and use it from any thread. It does not keep the
/// client alive; once the client is closed or dropped, its methods return [`Error::Closed`](crate::Error::Closed).
///
/// [`subscribe`](Self::subscribe) and [`unsubscribe`](Self::unsubscribe) return at once; the
/// listener reports the outcome. The calls (`publish`, `history`, `presence`,
/// `presence_stats`) block like the client's: they wait while the subscription is subscribing
/// (up to the client's `timeout`) and fail at once with [`Error::Unsubscribed`](crate::Error::Unsubscribed) while it is
/// unsubscribed.
#[derive(Clone)]
pub struct Subscription {
    cell: Arc<SubscriptionCell>,
    port: Arc<RuntimePort>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", self.cell.channel())
            .field("state", &self.state())
            .finish()
    }
}

/// A subscription listener with the handle its callbacks get.
pub(crate) struct SubscriptionSink<L> {
    listener: L,
    subscription: Subscription,
}

impl<L> SubscriptionSink<L> {
    pub(crate) fn new(listener: L, subscription: Subscription) -> SubscriptionSink<L> {
        SubscriptionSink { listener, subscription }
    }
}

impl<L: SubscriptionListener> EventSink<SubscriptionEvent> for SubscriptionSink<L> {
    fn deliver(&mut self, event: &SubscriptionEvent) {
        dispatch_subscription(&mut self.listener, &self.subscription, event);
    }
}

impl Subscription {
    pub(crate) fn new(cell: Arc<SubscriptionCell>, port: Arc<RuntimePort>) -> Subscription {
        Subscription { cell, port }
    }

    /// Whether `other` is a handle of this very subscription (not just of the same channel).
    pub(crate) fn same_as(&self, other: &Subscription) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }

    /// Unsubscribes and forgets this subscription in the client that `port` runs.
    pub(crate) fn remove_from(&self, port: &RuntimePort) -> Result<()> {
        port.remove_subscription(&self.cell)
    }

    /// The channel.
    pub fn channel(&self) -> &str {
        self.cell.channel()
    }

    /// The current state.
    pub fn state(&self) -> SubscriptionState {
        self.cell.state()
    }

    /// Starts subscribing (now if connected, else once the client connects); returns at once.
    /// Does nothing when already subscribing or subscribed.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) when the client is closed or gone.
    pub fn subscribe(&self) -> Result<()> {
        self.port.subscribe(&self.cell)
    }

    /// Unsubscribes; returns at once. The stream position is kept, so a later
    /// [`subscribe`](Self::subscribe) recovers what was missed (on recoverable channels).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) when the client is closed or gone.
    pub fn unsubscribe(&self) -> Result<()> {
        self.port.unsubscribe(&self.cell)
    }

    /// Publishes `data` into the channel.
    ///
    /// # Errors
    ///
    /// As the client's calls (see [call errors](crate::Client#call-errors)), plus
    /// [`Error::Unsubscribed`](crate::Error::Unsubscribed).
    pub fn publish(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        publish_result(
            self.call(Request::Publish { channel: self.channel().to_string(), data: payload(data) })?,
        )
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
        history_result(self.call(Request::History { channel: self.channel().to_string(), options })?)
    }

    /// The clients subscribed to the channel.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub fn presence(&self) -> Result<PresenceResult> {
        presence_result(self.call(Request::Presence { channel: self.channel().to_string() })?)
    }

    /// How many clients and users are subscribed to the channel.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub fn presence_stats(&self) -> Result<PresenceStats> {
        presence_stats_result(self.call(Request::PresenceStats { channel: self.channel().to_string() })?)
    }

    fn call(&self, request: Request) -> Result<Reply> {
        self.port.subscription_call(&self.cell, request)
    }
}
