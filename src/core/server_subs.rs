//! Server-side subscriptions: channels the server subscribed the connection to (from the
//! connection token, the configuration, or the server API).
//!
//! The core keeps each one's stream position and sends the recoverable ones in the next connect
//! command, so they recover across reconnects. Their events go to the client listener with the
//! channel name. A channel missing from a new connect result has ended (`unsubscribed`).

use std::collections::BTreeMap;

use super::Core;
use crate::events::{
    ClientEvent, JoinEvent, LeaveEvent, PublicationEvent, ServerSubscribingEvent, ServerUnsubscribedEvent,
    SubscribedEvent,
};
use crate::protocol::{Publication as WirePublication, Push, SubscribeRequest, SubscribeResult};
use crate::types::{ClientInfo, Publication, StreamPosition};

/// What the core remembers of a server-side subscription.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ServerSub {
    recoverable: bool,
    offset: u64,
    epoch: String,
}

impl<S> Core<S> {
    /// The `subs` of the connect command: the recoverable server-side subscriptions and where
    /// to recover them from.
    pub(super) fn server_subs_to_recover(&self) -> BTreeMap<String, SubscribeRequest> {
        self.server_subs
            .iter()
            .filter(|(_, sub)| sub.recoverable)
            .map(|(channel, sub)| {
                let request = SubscribeRequest {
                    recover: true,
                    offset: sub.offset,
                    epoch: sub.epoch.clone(),
                    ..Default::default()
                };
                (channel.clone(), request)
            })
            .collect()
    }

    /// The connect result's server-side subscriptions.
    pub(super) fn server_subs_connected(&mut self, subs: BTreeMap<String, SubscribeResult>) {
        let gone: Vec<String> =
            self.server_subs.keys().filter(|channel| !subs.contains_key(*channel)).cloned().collect();
        for channel in gone {
            self.server_subs.remove(&channel);
            self.effects.emit(ClientEvent::Unsubscribed(ServerUnsubscribedEvent { channel: channel.into() }));
        }
        for (channel, result) in subs {
            let entry = self.server_subs.entry(channel.clone()).or_default();
            entry.recoverable = result.recoverable;
            if result.positioned || result.recoverable {
                entry.offset = result.offset;
                entry.epoch = result.epoch.clone();
            }
            self.effects.emit(ClientEvent::Subscribed(SubscribedEvent::from_result(
                channel.as_str().into(),
                &result,
            )));
            for publication in result.publications {
                self.server_publication(&channel, publication);
            }
        }
    }

    /// A push for a channel without a client-side subscription.
    pub(super) fn server_push(&mut self, push: Push) {
        let channel = push.channel;
        if let Some(subscribe) = push.subscribe {
            let subscribe = *subscribe;
            self.server_subs.insert(
                channel.clone(),
                ServerSub {
                    recoverable: subscribe.recoverable,
                    offset: subscribe.offset,
                    epoch: subscribe.epoch.clone(),
                },
            );
            self.effects.emit(ClientEvent::Subscribed(SubscribedEvent {
                channel: channel.into(),
                was_recovering: false,
                recovered: false,
                positioned: subscribe.positioned,
                recoverable: subscribe.recoverable,
                position: (subscribe.positioned || subscribe.recoverable)
                    .then_some(StreamPosition { offset: subscribe.offset, epoch: subscribe.epoch }),
                last_recovered_offset: subscribe.offset,
                data: subscribe.data,
            }));
        } else if push.unsubscribe.is_some() {
            if self.server_subs.remove(&channel).is_some() {
                self.effects
                    .emit(ClientEvent::Unsubscribed(ServerUnsubscribedEvent { channel: channel.into() }));
            }
        } else if !self.server_subs.contains_key(&channel) {
            // Neither a client-side nor a server-side subscription: nothing to deliver it to.
            log::debug!("ignoring a push for channel {channel:?}, which the client is not subscribed to");
        } else if let Some(publication) = push.r#pub {
            self.server_publication(&channel, publication);
        } else if let Some(join) = push.join {
            let info = Box::new(ClientInfo::from(join.info.unwrap_or_default()));
            self.effects.emit(ClientEvent::Join(JoinEvent { channel: channel.into(), info }));
        } else if let Some(leave) = push.leave {
            let info = Box::new(ClientInfo::from(leave.info.unwrap_or_default()));
            self.effects.emit(ClientEvent::Leave(LeaveEvent { channel: channel.into(), info }));
        }
    }

    fn server_publication(&mut self, channel: &str, publication: WirePublication) {
        if let Some(sub) = self.server_subs.get_mut(channel) {
            if publication.offset > 0 {
                sub.offset = publication.offset;
            }
        }
        let publication = Publication::from(publication);
        self.effects
            .emit(ClientEvent::Publication(PublicationEvent { channel: channel.into(), publication }));
    }

    /// The connection was lost while connected: they will be restored by the reconnect.
    pub(super) fn server_subs_suspended(&mut self) {
        let channels: Vec<String> = self.server_subs.keys().cloned().collect();
        for channel in channels {
            self.effects.emit(ClientEvent::Subscribing(ServerSubscribingEvent { channel: channel.into() }));
        }
    }

    /// The client stopped: they end, positions are forgotten.
    pub(super) fn server_subs_ended(&mut self) {
        for channel in std::mem::take(&mut self.server_subs).into_keys() {
            self.effects.emit(ClientEvent::Unsubscribed(ServerUnsubscribedEvent { channel: channel.into() }));
        }
    }
}
