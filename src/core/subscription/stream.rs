//! What the server pushes to a subscription: its stream (publications, checked for
//! continuity and with deltas applied), joins and leaves, and unsubscribes.

use std::sync::Arc;

use bytes::Bytes;

use super::{Phase, Sub, SubContext, SubRefresh};
use crate::codes::{Reason, SubscribingCode};
use crate::delta;
use crate::error::Error;
use crate::events::{JoinEvent, LeaveEvent, PublicationEvent, SubscribingEvent, SubscriptionEvent};
use crate::protocol::codes;
use crate::protocol::{Publication as WirePublication, Push};
use crate::types::{ClientInfo, Publication, SubscriptionState};

impl<S> Sub<S> {
    /// A publication, join or leave for the subscription's channel, taken out of `push`;
    /// ignored unless subscribed. Never changes the subscription's deadlines (the registry
    /// relies on it: see `Registry::get_mut_keeping_timers`).
    pub(in crate::core) fn stream_push(&mut self, push: &mut Push, cx: &mut SubContext<'_, S>) {
        if self.state != SubscriptionState::Subscribed {
            return;
        }
        let channel = Arc::clone(&self.settings.channel);
        if let Some(publication) = push.r#pub.take() {
            self.publication(publication, cx);
        } else if let Some(join) = push.join.take() {
            let info = Box::new(ClientInfo::from(join.info.unwrap_or_default()));
            self.emit(SubscriptionEvent::Join(JoinEvent { channel, info }), cx.out);
        } else if let Some(leave) = push.leave.take() {
            let info = Box::new(ClientInfo::from(leave.info.unwrap_or_default()));
            self.emit(SubscriptionEvent::Leave(LeaveEvent { channel, info }), cx.out);
        }
    }

    /// The server unsubscribed the subscription: from 2500 on it subscribes again (after
    /// forgetting its state for 2502), below it ends.
    ///
    /// A resubscribing push subscribes again only while subscribed. The server answers
    /// commands and sends pushes in order, so one that finds the subscription subscribing (a
    /// subscribe in flight, or waiting for a token or its backoff) was sent before the server
    /// saw the subscribe under way, about the subscription that subscribe replaces: that
    /// subscribe stands (sending another would be answered "already subscribed", 105, and end
    /// it). One that finds it unsubscribed concerns what the application has already left: the
    /// unsubscribe stands. Either way 2502 still voids the kept state, so that a later
    /// subscribe does not recover from it. centrifuge-js does the same while subscribing; it
    /// and centrifuge-go subscribe again from unsubscribed.
    pub(in crate::core) fn unsubscribe_push(
        &mut self,
        code: u32,
        reason: String,
        cx: &mut SubContext<'_, S>,
    ) {
        if !codes::unsubscribe_resubscribes(code) {
            self.end(Reason::from_server(code, reason), Error::Unsubscribed, cx.out);
            return;
        }
        // Whatever the state: the server says the token, position and delta base are void.
        if code == codes::SUB_STATE_INVALIDATED {
            self.invalidate();
        }
        if self.state != SubscriptionState::Subscribed {
            log::debug!(
                "unsubscribe push {code} for {} while {:?}: not resubscribing",
                self.channel(),
                self.state
            );
            return;
        }
        // Subscribed: no subscribe is in flight, only the refresh may be.
        self.phase = Phase::Idle;
        self.refresh = SubRefresh::Idle;
        self.set_state(SubscriptionState::Subscribing, cx.out);
        let event = SubscribingEvent::new(Reason::from_server(code, reason));
        self.emit(SubscriptionEvent::Subscribing(event), cx.out);
        self.start_subscribe(cx);
    }

    /// Delivers one publication (recovered or live); `false` when the subscription had to
    /// start over (a bad delta, a gap in the stream, a new epoch).
    pub(super) fn publication(&mut self, publication: WirePublication, cx: &mut SubContext<'_, S>) -> bool {
        match continuity(self, &publication) {
            Continuity::Next => {}
            Continuity::Duplicate => {
                let why = format!(
                    "publication offset {} does not follow {}; dropped",
                    publication.offset, self.offset
                );
                self.emit_error(Error::Protocol(why), cx.out);
                return true;
            }
            Continuity::Broken(why) => {
                self.restart_stream(why, cx);
                return false;
            }
        }
        let data = if self.delta_negotiated {
            let (json, max_output) = (cx.config.json, cx.config.max_message_size);
            match delta_payload(&publication, self.delta_base.as_ref(), json, max_output) {
                Ok(data) => {
                    self.delta_base = Some(data.clone());
                    data
                }
                Err(why) => {
                    self.restart_stream(why, cx);
                    return false;
                }
            }
        } else {
            publication.data.clone()
        };
        if publication.offset > 0 {
            self.offset = publication.offset;
        }
        let channel = Arc::clone(&self.settings.channel);
        let publication = Publication::with_data(publication, data);
        self.emit(SubscriptionEvent::Publication(PublicationEvent { channel, publication }), cx.out);
        true
    }

    /// The stream cannot continue as it is (a bad delta, a gap, a new epoch): report it and
    /// subscribe again from the last good position, so that what was lost is recovered (or
    /// reported as not recovered). Nothing wrong is ever delivered.
    fn restart_stream(&mut self, why: String, cx: &mut SubContext<'_, S>) {
        self.emit_error(Error::Protocol(why), cx.out);
        self.delta_base = None;
        self.phase = Phase::Idle;
        self.set_state(SubscriptionState::Subscribing, cx.out);
        let event = SubscribingEvent::new(SubscribingCode::InsufficientState.into());
        self.emit(SubscriptionEvent::Subscribing(event), cx.out);
        if let Some(generation) = cx.writable {
            self.send_unsubscribe(cx);
            self.send_subscribe(generation, cx);
        }
    }
}

/// Where a publication stands in its subscription's stream.
enum Continuity {
    /// Deliver it.
    Next,
    /// Already delivered (its offset is not after the last one): drop it.
    Duplicate,
    /// Publications were lost or the stream was reset: start over.
    Broken(String),
}

/// Checks a positioned stream: offsets follow one another (a tags filter may skip some) and
/// the epoch stays. Streams without a position are not checked.
fn continuity<S>(sub: &Sub<S>, publication: &WirePublication) -> Continuity {
    if !sub.positioned || publication.offset == 0 {
        return Continuity::Next;
    }
    if !publication.epoch.is_empty() && !sub.epoch.is_empty() && publication.epoch != sub.epoch {
        return Continuity::Broken(format!(
            "the stream's epoch changed from {:?} to {:?}",
            sub.epoch, publication.epoch
        ));
    }
    if publication.offset <= sub.offset {
        return Continuity::Duplicate;
    }
    if publication.offset > sub.offset + 1 && sub.settings.tags_filter.is_none() {
        return Continuity::Broken(format!(
            "publications {}..{} are missing from the stream",
            sub.offset + 1,
            publication.offset - 1
        ));
    }
    Continuity::Next
}

/// The payload of a publication on a delta-negotiated subscription. In JSON every such payload
/// (full or delta) is a JSON string holding the bytes.
fn delta_payload(
    publication: &WirePublication,
    base: Option<&Bytes>,
    json: bool,
    max_output: usize,
) -> Result<Bytes, String> {
    let raw = if json {
        let text: String = serde_json::from_slice(&publication.data)
            .map_err(|err| format!("delta subscription payload is not a JSON string: {err}"))?;
        Bytes::from(text.into_bytes())
    } else {
        publication.data.clone()
    };
    if !publication.delta {
        return Ok(raw);
    }
    let base = base.ok_or_else(|| "a delta arrived before any full payload".to_string())?;
    delta::apply(base, &raw, max_output).map(Bytes::from).map_err(|err| err.to_string())
}
