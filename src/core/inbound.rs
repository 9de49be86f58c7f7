//! What arrives on the connection and where it goes: a reply to whoever sent its command, a
//! push to the client, a client-side or a server-side subscription, a ping to the watchdog.
//! Also where a command that got no reply in time is acted on.

use std::time::Instant;

use super::Core;
use super::calls::Purpose;
use super::connection::Link;
use crate::codes::ConnectingCode;
use crate::events::{ClientEvent, MessageEvent};
use crate::protocol::call::call_result;
use crate::protocol::codes;
use crate::protocol::{Command, Reply, carries_a_result};

impl<S> Core<S> {
    /// The messages of one frame from connection `generation`, in order.
    pub(crate) fn frame(&mut self, generation: u64, replies: Vec<Reply>, now: Instant) {
        if self.link.generation() != Some(generation) {
            return;
        }
        if let Some(ping) = &mut self.ping {
            ping.rearm(now);
        }
        for reply in replies {
            // An earlier message of the frame may have ended the connection.
            if self.link.generation() != Some(generation) {
                return;
            }
            self.message(generation, reply, now);
        }
    }

    /// One message: a reply (with an id), a push, or a ping (neither).
    fn message(&mut self, generation: u64, reply: Reply, now: Instant) {
        if reply.id > 0 {
            self.reply(generation, reply, now);
        } else if let Some(mut push) = reply.push {
            if let Some(message) = push.message.take() {
                self.effects.emit(ClientEvent::Message(MessageEvent::new(message.data)));
            } else if let Some(disconnect) = push.disconnect.take() {
                // Only non-WebSocket transports deliver disconnects as pushes; same rule.
                let code = u16::try_from(disconnect.code).unwrap_or(u16::MAX);
                let action = codes::classify_close(Some((code, disconnect.reason.as_str())));
                self.apply_close(action, now);
            } else if !self.sub_push(&mut push, now) {
                self.server_push(push);
            }
        } else if self.ping.is_some_and(|ping| ping.pong) {
            self.effects.send(generation, Command::default());
        }
    }

    /// A reply goes to whoever sent its command.
    fn reply(&mut self, generation: u64, reply: Reply, now: Instant) {
        if let Link::Handshaking { connect_id, .. } = self.link {
            if reply.id == connect_id {
                if reply.error.is_none() && reply.connect.is_none() && carries_a_result(&reply) {
                    self.protocol_error(generation, "the connect command got a reply of another kind".into());
                    return;
                }
                self.connect_reply(generation, reply, now);
                return;
            }
        }
        match self.calls.take(reply.id) {
            Some(Purpose::User(slot)) => self.effects.complete(slot, call_result(reply)),
            Some(Purpose::ConnectionRefresh) => self.refresh_reply(reply, now),
            Some(Purpose::Subscribe(_))
                if reply.error.is_none() && reply.subscribe.is_none() && carries_a_result(&reply) =>
            {
                self.protocol_error(generation, "a subscribe command got a reply of another kind".into());
            }
            Some(Purpose::Subscribe(sub)) => self.subscribe_reply(sub, reply.id, reply, now),
            Some(Purpose::Unsubscribe) => {
                if reply.error.is_some() {
                    self.subscription_command_failed(ConnectingCode::UnsubscribeError, now);
                }
            }
            Some(Purpose::SubscriptionRefresh(sub)) => self.sub_refresh_reply(sub, reply, now),
            // A reply that arrives after its call timed out.
            None => log::debug!("reply to unknown command id {}", reply.id),
        }
    }

    /// Command `command` got no reply by its deadline.
    pub(super) fn command_timed_out(&mut self, command: u32, purpose: Purpose<S>, now: Instant) {
        match purpose {
            Purpose::User(slot) => self.effects.complete(slot, Err(self.reply_timeout())),
            Purpose::ConnectionRefresh => {
                self.emit_error(self.reply_timeout());
                self.retry_refresh_later(now);
            }
            Purpose::Subscribe(_) => self.subscription_command_failed(ConnectingCode::SubscribeTimeout, now),
            Purpose::Unsubscribe => self.subscription_command_failed(ConnectingCode::UnsubscribeError, now),
            Purpose::SubscriptionRefresh(sub) => self.sub_refresh_timed_out(sub, command, now),
        }
    }
}
