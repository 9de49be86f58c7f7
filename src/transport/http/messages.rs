//! Protocol messages out of a streamed HTTP body.
//!
//! An HTTP-streaming or SSE response body is one long byte stream; its chunks are flush
//! boundaries, not message boundaries (a message may span chunks, a chunk may hold several
//! messages or a lone line break). [`MessageCutter`] buffers body bytes and hands out, as one
//! codec frame, every message completed so far, keeping the incomplete rest for later:
//!
//! - HTTP-streaming, JSON: messages end with a line break;
//! - HTTP-streaming, Protobuf: each message is prefixed with its length as a varint;
//! - SSE (JSON only): events of `data:` lines ending with an empty line (lines end with LF, CR
//!   LF or CR); an event's data holds one or more JSON messages, one per line; other fields
//!   and comments are ignored.
//!
//! Bounded: a message (for SSE, an event's data, or any line) still incomplete beyond the
//! client's `max_message_size` is an error, as is a Protobuf length prefix announcing more.

use std::fmt;

use bytes::{Bytes, BytesMut};

/// How a stream body frames its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// JSON messages, each ending with a line break.
    JsonLines,
    /// Protobuf messages, each prefixed with its varint length.
    Varints,
    /// Server-sent events carrying JSON messages.
    ServerSentEvents,
}

/// A body that breaks the framing or the size bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CutError {
    /// More than `limit` bytes without a complete message.
    TooLarge { limit: usize },
    /// A Protobuf length prefix longer than ten bytes.
    BadLength,
}

impl fmt::Display for CutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CutError::TooLarge { limit } => {
                write!(f, "a streamed message exceeds max_message_size ({limit} bytes)")
            }
            CutError::BadLength => f.write_str("a streamed Protobuf message has an invalid length prefix"),
        }
    }
}

impl std::error::Error for CutError {}

/// Cuts complete messages out of a body; see the module docs.
#[derive(Debug)]
pub(crate) struct MessageCutter {
    framing: Framing,
    limit: usize,
    /// Body bytes not yet handed out.
    pending: BytesMut,
    /// SSE only: the data of the event being read.
    event: Vec<u8>,
    /// SSE only: the previous line ended with CR (a following LF belongs to it).
    after_cr: bool,
}

impl MessageCutter {
    pub(crate) fn new(framing: Framing, max_message_size: usize) -> MessageCutter {
        MessageCutter {
            framing,
            limit: max_message_size,
            pending: BytesMut::new(),
            event: Vec::new(),
            after_cr: false,
        }
    }

    /// Bytes received but not yet part of a complete message.
    pub(crate) fn pending(&self) -> usize {
        self.pending.len() + self.event.len()
    }

    /// Takes body bytes; returns the messages they complete as one frame's worth of bytes for
    /// the codec (JSON: messages joined by line breaks; Protobuf: length-prefixed messages), or
    /// `None` when none is complete yet.
    pub(crate) fn push(&mut self, body: &[u8]) -> Result<Option<Bytes>, CutError> {
        match self.framing {
            Framing::JsonLines => {
                self.pending.extend_from_slice(body);
                let complete = memchr::memrchr(b'\n', &self.pending).map(|last| last + 1);
                self.cut(complete)
            }
            Framing::Varints => {
                self.pending.extend_from_slice(body);
                let complete = complete_varint_messages(&self.pending, self.limit)?;
                self.cut((complete > 0).then_some(complete))
            }
            Framing::ServerSentEvents => self.push_events(body),
        }
    }

    /// Hands out the first `complete` pending bytes, checking what stays behind.
    fn cut(&mut self, complete: Option<usize>) -> Result<Option<Bytes>, CutError> {
        let frame = complete.map(|end| self.pending.split_to(end).freeze());
        if self.pending.len() > self.limit {
            return Err(CutError::TooLarge { limit: self.limit });
        }
        Ok(frame)
    }

    fn push_events(&mut self, body: &[u8]) -> Result<Option<Bytes>, CutError> {
        let mut out = Vec::new();
        for &byte in body {
            let ends_line = match byte {
                b'\n' if self.after_cr => {
                    self.after_cr = false;
                    continue;
                }
                b'\n' => true,
                b'\r' => {
                    self.after_cr = true;
                    true
                }
                _ => false,
            };
            if !ends_line {
                self.after_cr = false;
                self.pending.extend_from_slice(&[byte]);
                // The line being read and the event's data so far, together.
                if self.pending.len() + self.event.len() > self.limit {
                    return Err(CutError::TooLarge { limit: self.limit });
                }
                continue;
            }
            let line = self.pending.split();
            self.event_line(&line, &mut out)?;
        }
        Ok((!out.is_empty()).then(|| Bytes::from(out)))
    }

    /// One complete SSE line: a field, a comment, or the empty line that dispatches the event.
    fn event_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), CutError> {
        if line.is_empty() {
            if !self.event.is_empty() {
                // The data lines were joined with line breaks; one separates events too.
                if !out.is_empty() {
                    out.push(b'\n');
                }
                out.extend_from_slice(self.event.strip_suffix(b"\n").unwrap_or(&self.event));
                self.event.clear();
            }
            return Ok(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => return Ok(()), // a comment
            Some(colon) => {
                (&line[..colon], line[colon + 1..].strip_prefix(b" ").unwrap_or(&line[colon + 1..]))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            if self.event.len() + value.len() + 1 > self.limit {
                return Err(CutError::TooLarge { limit: self.limit });
            }
            self.event.extend_from_slice(value);
            self.event.push(b'\n');
        }
        Ok(())
    }
}

/// How many leading bytes of `buffer` are complete length-prefixed messages.
fn complete_varint_messages(buffer: &[u8], limit: usize) -> Result<usize, CutError> {
    let mut at = 0;
    while at < buffer.len() {
        let Some((length, prefix)) = read_varint(&buffer[at..])? else { break };
        let length = usize::try_from(length).map_err(|_| CutError::TooLarge { limit })?;
        if length > limit {
            return Err(CutError::TooLarge { limit });
        }
        if buffer.len() - at - prefix < length {
            break;
        }
        at += prefix + length;
    }
    Ok(at)
}

/// A varint at the start of `bytes` and its length in bytes; `None` when it is incomplete.
fn read_varint(bytes: &[u8]) -> Result<Option<(u64, usize)>, CutError> {
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(Some((value, index + 1)));
        }
    }
    if bytes.len() >= 10 { Err(CutError::BadLength) } else { Ok(None) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut_in_pieces(
        framing: Framing,
        body: &[u8],
        piece: usize,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, CutError> {
        let mut cutter = MessageCutter::new(framing, limit);
        let mut frames = Vec::new();
        for part in body.chunks(piece.max(1)) {
            if let Some(frame) = cutter.push(part)? {
                frames.push(frame.to_vec());
            }
        }
        Ok(frames)
    }

    fn joined(frames: &[Vec<u8>], separator: &[u8]) -> Vec<u8> {
        frames.join(separator)
    }

    #[test]
    fn json_lines_come_out_whole_however_the_body_is_split() {
        let body = "{\"id\":1}\n{}\n{\"push\":{\"channel\":\"é\"}}\n";
        for piece in [1, 2, 5, body.len()] {
            let frames = cut_in_pieces(Framing::JsonLines, body.as_bytes(), piece, 1 << 10).unwrap();
            assert_eq!(joined(&frames, b""), body.as_bytes(), "in pieces of {piece}");
            for frame in &frames {
                assert!(frame.ends_with(b"\n") && std::str::from_utf8(frame).is_ok(), "whole lines only");
            }
        }
    }

    #[test]
    fn varint_messages_come_out_whole_however_the_body_is_split() {
        let long = vec![7u8; 300];
        let mut body = vec![0x00, 0x03, 1, 2, 3];
        body.extend_from_slice(&[0xac, 0x02]); // 300
        body.extend_from_slice(&long);
        for piece in [1, 2, 3, body.len()] {
            let frames = cut_in_pieces(Framing::Varints, &body, piece, 1 << 10).unwrap();
            assert_eq!(joined(&frames, b""), body, "in pieces of {piece}");
        }
    }

    #[test]
    fn server_sent_events_yield_their_data_lines() {
        let body = ": comment\r\ndata: {\"id\":1}\r\n\r\nevent: x\ndata:{}\nid: 7\n\ndata: {\"a\":1}\rdata: {\"b\":2}\r\r";
        for piece in [1, 3, body.len()] {
            let frames = cut_in_pieces(Framing::ServerSentEvents, body.as_bytes(), piece, 1 << 10).unwrap();
            let all = joined(&frames, b"\n");
            assert_eq!(all, b"{\"id\":1}\n{}\n{\"a\":1}\n{\"b\":2}", "in pieces of {piece}");
        }
    }

    #[test]
    fn an_incomplete_message_beyond_the_limit_is_refused() {
        let big = vec![b'x'; 65];
        assert_eq!(cut_in_pieces(Framing::JsonLines, &big, 7, 64), Err(CutError::TooLarge { limit: 64 }));
        // A prefix announcing 1000 bytes, over a limit of 64.
        assert_eq!(
            cut_in_pieces(Framing::Varints, &[0xe8, 0x07], 1, 64),
            Err(CutError::TooLarge { limit: 64 })
        );
        assert_eq!(cut_in_pieces(Framing::Varints, &[0xff; 11], 11, 64), Err(CutError::BadLength));
        let long_event = [b"data: ".to_vec(), vec![b'y'; 80], b"\n".to_vec()].concat();
        assert_eq!(
            cut_in_pieces(Framing::ServerSentEvents, &long_event, 9, 64),
            Err(CutError::TooLarge { limit: 64 })
        );
        let many_lines = b"data: 1234567890\n".repeat(8);
        assert_eq!(
            cut_in_pieces(Framing::ServerSentEvents, &many_lines, 100, 64),
            Err(CutError::TooLarge { limit: 64 }),
            "the data of one event is bounded, not only each line"
        );
    }

    #[test]
    fn what_is_pending_is_counted() {
        let mut cutter = MessageCutter::new(Framing::JsonLines, 1024);
        assert_eq!(cutter.push(b"{\"id\":1}\n{\"id\"").unwrap().as_deref(), Some(&b"{\"id\":1}\n"[..]));
        assert_eq!(cutter.pending(), 5);
    }
}
