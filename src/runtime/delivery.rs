//! Where what a connection reads goes: replies to direct callers straight back, everything
//! else to the core thread, counted in the backlog until the core has handled it. Shared by
//! every kind of connection.

use std::sync::Arc;

use crossbeam_channel::Sender;

use super::backlog::Backlog;
use super::call::CallRoute;
use super::{Input, TransportEvent};
use crate::codec::{Codec, CodecError, Frame};
use crate::protocol::Reply;
use crate::protocol::call::call_result;

/// A connection's way to the core and its callers.
pub(super) struct Delivery {
    pub(super) generation: u64,
    pub(super) to_core: Sender<Input>,
    pub(super) backlog: Arc<Backlog>,
    pub(super) codec: Codec,
}

impl Delivery {
    /// Decodes a frame; returns its replies and what they count for in the backlog.
    pub(super) fn decode(&self, frame: &Frame) -> Result<(Vec<Reply>, usize), CodecError> {
        let mut replies: Vec<Reply> = Vec::new();
        self.codec.decode(frame, &mut replies)?;
        // Decoded replies take several times the room of their bytes on the wire (and a
        // payload keeps its frame alive): the backlog counts both.
        let bytes = frame.data.len() + replies.len() * std::mem::size_of::<Reply>();
        Ok((replies, bytes))
    }

    /// Answers direct callers, forwards the rest to the core (counting `bytes` in the backlog
    /// until the core has handled them).
    pub(super) fn deliver(&self, mut replies: Vec<Reply>, bytes: usize, route: &CallRoute) {
        replies.retain_mut(|reply| {
            if reply.id == 0 {
                return true;
            }
            match route.take(reply.id) {
                Some(slot) => {
                    let _ = slot.send(call_result(std::mem::take(reply)));
                    false
                }
                None => true,
            }
        });
        if !replies.is_empty() {
            self.backlog.add_frame(bytes);
            self.report(TransportEvent::Replies(replies, bytes));
        }
    }

    /// Tells the core about this connection.
    pub(super) fn report(&self, event: TransportEvent) {
        let _ = self.to_core.send(Input::Transport { generation: self.generation, event });
    }
}
