//! Public data types: states, publications, and call results.
//!
//! Payloads are kept as received (for Protobuf, a slice of the frame) and handed out as `&[u8]`
//! or, on request, as an owned `Vec<u8>`.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::protocol;

/// The state of a [`Client`](crate::Client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientState {
    /// Not connected and not trying to be: the initial state, after `disconnect()`, or after
    /// the server refused the connection for good.
    Disconnected,
    /// Dialing, handshaking, or waiting to retry.
    Connecting,
    /// Connected; calls go out at once.
    Connected,
    /// Closed for good; the client's threads are gone or going.
    Closed,
}

impl ClientState {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            ClientState::Disconnected => 0,
            ClientState::Connecting => 1,
            ClientState::Connected => 2,
            ClientState::Closed => 3,
        }
    }

    pub(crate) fn from_u8(value: u8) -> ClientState {
        match value {
            1 => ClientState::Connecting,
            2 => ClientState::Connected,
            3 => ClientState::Closed,
            _ => ClientState::Disconnected,
        }
    }
}

/// A position in a channel's history stream: the offset of a publication within an epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StreamPosition {
    /// The offset of the last publication seen (0: before the first).
    pub offset: u64,
    /// The stream's epoch; it changes when the server lost the stream.
    pub epoch: String,
}

impl StreamPosition {
    /// A position at `offset` in `epoch`.
    pub fn new(offset: u64, epoch: impl Into<String>) -> StreamPosition {
        StreamPosition { offset, epoch: epoch.into() }
    }
}

/// Who a publication, join or leave came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    user: String,
    client: String,
    conn_info: Bytes,
    chan_info: Bytes,
}

impl ClientInfo {
    /// The user id (empty for anonymous connections).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The connection's client id.
    pub fn client(&self) -> &str {
        &self.client
    }

    /// Connection info from the connection token or proxy (raw payload; JSON on JSON clients).
    pub fn conn_info(&self) -> &[u8] {
        &self.conn_info
    }

    /// Channel info from the subscription token or proxy.
    pub fn chan_info(&self) -> &[u8] {
        &self.chan_info
    }
}

impl From<protocol::ClientInfo> for ClientInfo {
    fn from(info: protocol::ClientInfo) -> ClientInfo {
        ClientInfo {
            user: info.user,
            client: info.client,
            conn_info: info.conn_info,
            chan_info: info.chan_info,
        }
    }
}

/// A message published into a channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Publication {
    data: Bytes,
    /// Boxed: rare, and a third of the size of every publication event otherwise.
    info: Option<Box<ClientInfo>>,
    offset: u64,
    tags: BTreeMap<String, String>,
}

impl Publication {
    /// The payload (JSON text on JSON clients).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The payload, owned.
    pub fn into_data(self) -> Vec<u8> {
        Vec::from(self.data)
    }

    /// The publisher, when a client published it.
    pub fn info(&self) -> Option<&ClientInfo> {
        self.info.as_deref()
    }

    /// The offset in the channel's history stream (0 when the channel keeps no history).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Tags set by the publisher.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
}

impl From<protocol::Publication> for Publication {
    fn from(mut publication: protocol::Publication) -> Publication {
        let data = std::mem::take(&mut publication.data);
        Publication::with_data(publication, data)
    }
}

/// The result of a history call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryResult {
    publications: Vec<Publication>,
    position: StreamPosition,
}

impl HistoryResult {
    /// The publications, oldest first unless `reverse` was asked for.
    pub fn publications(&self) -> &[Publication] {
        &self.publications
    }

    /// The publications, owned.
    pub fn into_publications(self) -> Vec<Publication> {
        self.publications
    }

    /// The current top of the stream: the offset of the newest publication and the epoch.
    pub fn position(&self) -> &StreamPosition {
        &self.position
    }
}

impl From<protocol::HistoryResult> for HistoryResult {
    fn from(result: protocol::HistoryResult) -> HistoryResult {
        HistoryResult {
            publications: result.publications.into_iter().map(Publication::from).collect(),
            position: StreamPosition { offset: result.offset, epoch: result.epoch },
        }
    }
}

/// The clients subscribed to a channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresenceResult {
    clients: BTreeMap<String, ClientInfo>,
}

impl PresenceResult {
    /// Every subscribed connection, by client id.
    pub fn clients(&self) -> &BTreeMap<String, ClientInfo> {
        &self.clients
    }
}

impl From<protocol::PresenceResult> for PresenceResult {
    fn from(result: protocol::PresenceResult) -> PresenceResult {
        PresenceResult {
            clients: result
                .presence
                .into_iter()
                .map(|(client, info)| (client, ClientInfo::from(info)))
                .collect(),
        }
    }
}

/// How many connections and users are subscribed to a channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PresenceStats {
    /// Connections subscribed.
    pub num_clients: u32,
    /// Distinct users subscribed.
    pub num_users: u32,
}

impl From<protocol::PresenceStatsResult> for PresenceStats {
    fn from(result: protocol::PresenceStatsResult) -> PresenceStats {
        PresenceStats { num_clients: result.num_clients, num_users: result.num_users }
    }
}

/// The state of a [`Subscription`](crate::Subscription).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriptionState {
    /// Not subscribed and not trying to be: the initial state, after `unsubscribe()`, after a
    /// terminal server decision, or after the client was closed.
    Unsubscribed,
    /// Subscribing: waiting for the connection, a token, or the server's answer.
    Subscribing,
    /// Subscribed; publications arrive.
    Subscribed,
}

impl SubscriptionState {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            SubscriptionState::Unsubscribed => 0,
            SubscriptionState::Subscribing => 1,
            SubscriptionState::Subscribed => 2,
        }
    }

    pub(crate) fn from_u8(value: u8) -> SubscriptionState {
        match value {
            1 => SubscriptionState::Subscribing,
            2 => SubscriptionState::Subscribed,
            _ => SubscriptionState::Unsubscribed,
        }
    }
}

impl Publication {
    /// The publication with `data` in place of the one on the wire (where a delta was applied,
    /// its result).
    pub(crate) fn with_data(publication: protocol::Publication, data: Bytes) -> Publication {
        Publication {
            data,
            info: publication.info.map(|info| Box::new(ClientInfo::from(*info))),
            offset: publication.offset,
            tags: publication.tags,
        }
    }
}
