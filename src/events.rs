//! The events a client reports to its listener.
//!
//! State events carry a numeric code and a reason: the client's own (see [`crate::codes`],
//! the same in every official Centrifugo SDK) when the client decided, or the server's (a
//! disconnect code from 3000 on, an unsubscribe code from 2000 on, or an error code such as
//! 101 or 103 when the server refused a connect or subscribe) when the server did.

use std::sync::Arc;

use bytes::Bytes;

use crate::codes::Reason;
#[cfg(doc)]
use crate::codes::{ConnectingCode, DisconnectedCode, SubscribingCode, UnsubscribedCode};
#[cfg(doc)]
use crate::config::SubscriptionConfig;
use crate::error::Error;
use crate::types::{ClientInfo, Publication, StreamPosition};

/// The client is connecting: at first, or again after the connection was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectingEvent {
    code: u32,
    reason: String,
}

impl ConnectingEvent {
    pub(crate) fn new(reason: Reason) -> ConnectingEvent {
        ConnectingEvent { code: reason.code, reason: reason.reason }
    }

    /// Why: a [`ConnectingCode`], or the server's disconnect code (3000 and up).
    pub fn code(&self) -> u32 {
        self.code
    }

    /// Why, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// The client is connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectedEvent {
    client_id: String,
    version: String,
    data: Bytes,
}

impl ConnectedEvent {
    pub(crate) fn new(client_id: String, version: String, data: Bytes) -> ConnectedEvent {
        ConnectedEvent { client_id, version, data }
    }

    /// The id the server gave this connection.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The server's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Data the server attached to the connection (e.g. from a connect proxy); may be empty.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// The client stopped and will not reconnect by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisconnectedEvent {
    code: u32,
    reason: String,
}

impl DisconnectedEvent {
    pub(crate) fn new(reason: Reason) -> DisconnectedEvent {
        DisconnectedEvent { code: reason.code, reason: reason.reason }
    }

    /// Why: a [`DisconnectedCode`], a server disconnect code (3000 and up), or the error code of
    /// a connect or refresh the server refused (such as 101).
    pub fn code(&self) -> u32 {
        self.code
    }

    /// Why, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Something went wrong that the client handles by itself (it retries or reports a state
/// change too); reported for visibility.
#[derive(Clone, Debug)]
pub struct ErrorEvent {
    error: Error,
}

impl ErrorEvent {
    pub(crate) fn new(error: Error) -> ErrorEvent {
        ErrorEvent { error }
    }

    /// What went wrong.
    pub fn error(&self) -> &Error {
        &self.error
    }
}

/// An asynchronous message the server sent to this connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageEvent {
    data: Bytes,
}

impl MessageEvent {
    pub(crate) fn new(data: Bytes) -> MessageEvent {
        MessageEvent { data }
    }

    /// The payload.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Any client event, for the closure and channel listeners.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// See [`ConnectingEvent`].
    Connecting(ConnectingEvent),
    /// See [`ConnectedEvent`].
    Connected(ConnectedEvent),
    /// See [`DisconnectedEvent`].
    Disconnected(DisconnectedEvent),
    /// See [`ErrorEvent`].
    Error(ErrorEvent),
    /// See [`MessageEvent`].
    Message(MessageEvent),
    /// A server-side subscription was added; see [`ServerSubscribedEvent`].
    Subscribed(ServerSubscribedEvent),
    /// A server-side subscription is being restored; see [`ServerSubscribingEvent`].
    Subscribing(ServerSubscribingEvent),
    /// A server-side subscription ended; see [`ServerUnsubscribedEvent`].
    Unsubscribed(ServerUnsubscribedEvent),
    /// A publication in a server-side subscription.
    Publication(PublicationEvent),
    /// A join in a server-side subscription.
    Join(JoinEvent),
    /// A leave in a server-side subscription.
    Leave(LeaveEvent),
}

/// A subscription is subscribing: at first, or again after the connection or the server
/// interrupted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribingEvent {
    code: u32,
    reason: String,
}

impl SubscribingEvent {
    pub(crate) fn new(reason: Reason) -> SubscribingEvent {
        SubscribingEvent { code: reason.code, reason: reason.reason }
    }

    /// Why: a [`SubscribingCode`], or the server's unsubscribe code (2500 and up).
    pub fn code(&self) -> u32 {
        self.code
    }

    /// Why, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A subscription is subscribed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribedEvent {
    pub(crate) channel: Arc<str>,
    pub(crate) was_recovering: bool,
    pub(crate) recovered: bool,
    pub(crate) positioned: bool,
    pub(crate) recoverable: bool,
    pub(crate) position: Option<StreamPosition>,
    /// The offset of the last publication delivered with this subscribe (recovered ones), or
    /// the position's offset when there is none.
    pub(crate) last_recovered_offset: u64,
    pub(crate) data: Bytes,
}

impl SubscribedEvent {
    /// The event for a subscribe result (client-side) or a connect result entry (server-side).
    pub(crate) fn from_result(
        channel: Arc<str>,
        result: &crate::protocol::SubscribeResult,
    ) -> SubscribedEvent {
        SubscribedEvent {
            channel,
            was_recovering: result.was_recovering,
            recovered: result.recovered,
            positioned: result.positioned,
            recoverable: result.recoverable,
            position: (result.positioned || result.recoverable)
                .then(|| StreamPosition { offset: result.offset, epoch: result.epoch.clone() }),
            last_recovered_offset: result
                .publications
                .iter()
                .map(|publication| publication.offset)
                .fold(result.offset, u64::max),
            data: result.data.clone(),
        }
    }

    /// The channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The client asked the server to recover missed publications.
    pub fn was_recovering(&self) -> bool {
        self.was_recovering
    }

    /// Every missed publication was recovered; they are delivered right after this event.
    /// When `was_recovering` is set and this is not, some were lost: reload your state.
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// The server keeps the subscription's position in the stream.
    pub fn positioned(&self) -> bool {
        self.positioned
    }

    /// The server can recover this subscription after an interruption.
    pub fn recoverable(&self) -> bool {
        self.recoverable
    }

    /// The stream position the server subscribed at, when the subscription is positioned or
    /// recoverable.
    ///
    /// On a first subscribe this is the top of the stream. On a subscribe that recovers
    /// (after a reconnect, or with [`SubscriptionConfig::since`]) it is the position the client
    /// asked to recover from, **not** the top after the recovered publications: those follow
    /// this event, each with its offset, and
    /// [`position_after_recovery`](Self::position_after_recovery) gives where they end. To
    /// resume in a later process without skipping anything, save the offset of the last
    /// publication you handled (with this event's epoch), not this position.
    pub fn position(&self) -> Option<&StreamPosition> {
        self.position.as_ref()
    }

    /// Where the stream stands once the publications recovered with this subscribe are
    /// delivered: the offset of the last of them (with the epoch of
    /// [`position`](Self::position)). Equal to `position` when nothing was recovered; `None`
    /// when the subscription is neither positioned nor recoverable.
    pub fn position_after_recovery(&self) -> Option<StreamPosition> {
        self.position.as_ref().map(|position| StreamPosition {
            offset: self.last_recovered_offset,
            epoch: position.epoch.clone(),
        })
    }

    /// Data the server attached to the subscription; may be empty.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// A subscription is unsubscribed and stays so until `subscribe()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubscribedEvent {
    code: u32,
    reason: String,
}

impl UnsubscribedEvent {
    pub(crate) fn new(reason: Reason) -> UnsubscribedEvent {
        UnsubscribedEvent { code: reason.code, reason: reason.reason }
    }

    /// Why: an [`UnsubscribedCode`], a server unsubscribe code (below 2500), or the error code
    /// of a subscribe or token refresh the server refused (such as 103).
    pub fn code(&self) -> u32 {
        self.code
    }

    /// Why, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A publication in a subscribed channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicationEvent {
    pub(crate) channel: Arc<str>,
    pub(crate) publication: Publication,
}

impl PublicationEvent {
    /// The channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The publication (with delta compression, already applied).
    pub fn publication(&self) -> &Publication {
        &self.publication
    }

    /// The payload (shortcut for `publication().data()`).
    pub fn data(&self) -> &[u8] {
        self.publication.data()
    }

    /// The publication, owned.
    pub fn into_publication(self) -> Publication {
        self.publication
    }
}

/// Someone subscribed to the channel (with join/leave enabled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinEvent {
    pub(crate) channel: Arc<str>,
    pub(crate) info: Box<ClientInfo>,
}

impl JoinEvent {
    /// The channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Who joined.
    pub fn info(&self) -> &ClientInfo {
        &self.info
    }
}

/// Someone unsubscribed from the channel (with join/leave enabled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaveEvent {
    pub(crate) channel: Arc<str>,
    pub(crate) info: Box<ClientInfo>,
}

impl LeaveEvent {
    /// The channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Who left.
    pub fn info(&self) -> &ClientInfo {
        &self.info
    }
}

/// Any subscription event, for the closure and channel subscription listeners.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SubscriptionEvent {
    /// See [`SubscribingEvent`].
    Subscribing(SubscribingEvent),
    /// See [`SubscribedEvent`].
    Subscribed(SubscribedEvent),
    /// See [`UnsubscribedEvent`].
    Unsubscribed(UnsubscribedEvent),
    /// See [`PublicationEvent`].
    Publication(PublicationEvent),
    /// See [`JoinEvent`].
    Join(JoinEvent),
    /// See [`LeaveEvent`].
    Leave(LeaveEvent),
    /// Something failed that the subscription handles by itself (it resubscribes or reports
    /// a state change too).
    Error(ErrorEvent),
}

/// A server-side subscription was added (at connect, or by the server during the connection).
pub type ServerSubscribedEvent = SubscribedEvent;

/// A server-side subscription is being restored after the connection was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSubscribingEvent {
    pub(crate) channel: Arc<str>,
}

impl ServerSubscribingEvent {
    /// The channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

/// A server-side subscription ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUnsubscribedEvent {
    pub(crate) channel: Arc<str>,
}

impl ServerUnsubscribedEvent {
    /// The channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}
