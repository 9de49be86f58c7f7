//! The calls a user makes, at the wire level: what each one sends and what its reply yields.
//!
//! A [`Request`] becomes a [`Command`] with the id it is given. It is encoded once, on the
//! caller's thread, into an [`EncodedCall`]: that one encoding is also the check of a JSON
//! payload (the codec's serializer refuses what is not JSON), so a payload is parsed exactly
//! once however the call travels afterwards. The reply comes back as a [`Reply`]; the
//! functions here turn it into the call's typed result.

use bytes::Bytes;

use super::{
    Command, HistoryRequest, PresenceRequest, PresenceStatsRequest, PublishRequest, Reply, RpcRequest,
    SendRequest, StreamPosition,
};
use crate::config::HistoryOptions;
use crate::error::{Error, ServerError};
use crate::types::{HistoryResult, PresenceResult, PresenceStats};

/// A call a user makes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Request {
    Rpc { method: String, data: Bytes },
    Send { data: Bytes },
    Publish { channel: String, data: Bytes },
    History { channel: String, options: HistoryOptions },
    Presence { channel: String },
    PresenceStats { channel: String },
}

impl Request {
    /// The command carrying this request with `id` (0 for `send`, which expects no reply).
    pub(crate) fn into_command(self, id: u32) -> Command {
        let mut command = Command { id, ..Default::default() };
        match self {
            Request::Rpc { method, data } => command.rpc = Some(RpcRequest { data, method }),
            Request::Send { data } => command.send = Some(SendRequest { data }),
            Request::Publish { channel, data } => {
                command.publish = Some(PublishRequest { channel, data, ..Default::default() })
            }
            Request::History { channel, options } => {
                command.history = Some(Box::new(HistoryRequest {
                    channel,
                    limit: options.limit,
                    since: options
                        .since
                        .map(|since| StreamPosition { offset: since.offset, epoch: since.epoch }),
                    reverse: options.reverse,
                }))
            }
            Request::Presence { channel } => command.presence = Some(PresenceRequest { channel }),
            Request::PresenceStats { channel } => {
                command.presence_stats = Some(PresenceStatsRequest { channel })
            }
        }
        command
    }

    /// Whether the server answers it (all but `send`).
    pub(crate) fn expects_reply(&self) -> bool {
        !matches!(self, Request::Send { .. })
    }
}

/// A user's command, encoded for the connection's wire format and checked by that encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EncodedCall {
    /// The command id its reply will carry; 0 when no reply is expected.
    pub(crate) id: u32,
    /// The encoded command, one protocol message (a frame of its own, or merged into one).
    pub(crate) bytes: Bytes,
}

/// What a caller gets for a reply: the reply, or the server's error.
pub(crate) fn call_result(reply: Reply) -> Result<Reply, Error> {
    match &reply.error {
        Some(error) => Err(Error::Server(ServerError {
            code: error.code,
            message: error.message.clone(),
            temporary: error.temporary,
        })),
        None => Ok(reply),
    }
}

/// The answer of an RPC.
pub(crate) fn rpc_result(reply: Reply) -> Result<Vec<u8>, Error> {
    Ok(result_of(reply, "rpc", |reply| reply.rpc.take())?
        .map(|result| Vec::from(result.data))
        .unwrap_or_default())
}

/// A publish's (empty) result.
pub(crate) fn publish_result(reply: Reply) -> Result<(), Error> {
    result_of(reply, "publish", |reply| reply.publish.take()).map(|_| ())
}

/// A history call's result.
pub(crate) fn history_result(reply: Reply) -> Result<HistoryResult, Error> {
    Ok(result_of(reply, "history", |reply| reply.history.take())?
        .map(|history| HistoryResult::from(*history))
        .unwrap_or_default())
}

/// A presence call's result.
pub(crate) fn presence_result(reply: Reply) -> Result<PresenceResult, Error> {
    Ok(result_of(reply, "presence", |reply| reply.presence.take())?
        .map(|presence| PresenceResult::from(*presence))
        .unwrap_or_default())
}

/// A presence stats call's result.
pub(crate) fn presence_stats_result(reply: Reply) -> Result<PresenceStats, Error> {
    Ok(result_of(reply, "presence_stats", |reply| reply.presence_stats.take())?
        .map(PresenceStats::from)
        .unwrap_or_default())
}

/// Whether a reply carries any result at all.
pub(crate) fn carries_a_result(reply: &Reply) -> bool {
    reply.connect.is_some()
        || reply.subscribe.is_some()
        || reply.unsubscribe.is_some()
        || reply.publish.is_some()
        || reply.presence.is_some()
        || reply.presence_stats.is_some()
        || reply.history.is_some()
        || reply.ping.is_some()
        || reply.rpc.is_some()
        || reply.refresh.is_some()
        || reply.sub_refresh.is_some()
}

/// Takes the result a reply carries for a command of kind `what`. A reply without any result
/// gives `None` (servers may leave empty results out); a reply with a result of another kind is
/// a protocol violation.
fn result_of<T>(
    mut reply: Reply,
    what: &str,
    take: impl FnOnce(&mut Reply) -> Option<T>,
) -> Result<Option<T>, Error> {
    let result = take(&mut reply);
    if result.is_none() && carries_a_result(&reply) {
        return Err(Error::Protocol(format!(
            "the server answered a {what} command with a reply of another kind"
        )));
    }
    Ok(result)
}
