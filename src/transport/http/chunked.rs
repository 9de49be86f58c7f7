//! HTTP/1.1 chunked transfer decoding (RFC 9112 §7.1), fed bytes as they arrive.
//!
//! Bounded: a size line (with any extensions) may be at most [`MAX_LINE`] bytes, a chunk size
//! must fit in a `u64` of at most 16 hex digits, and the trailer section at most
//! [`MAX_TRAILERS`] bytes. Anything else is a [`ChunkedError`]; nothing panics whatever the
//! input. The decoder holds no data of its own beyond the line being read: chunk data goes
//! straight to the caller.

use std::fmt;

/// The longest chunk-size line accepted, extensions included.
pub(crate) const MAX_LINE: usize = 1024;

/// The most trailer bytes accepted after the last chunk.
pub(crate) const MAX_TRAILERS: usize = 16 * 1024;

/// Where the decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size line.
    Size,
    /// In a chunk's data, with this many bytes to go.
    Data(u64),
    /// After a chunk's data: expecting CR LF.
    DataEnd { seen_cr: bool },
    /// After the last chunk: reading trailer lines until an empty one.
    Trailers,
    /// The body is complete.
    Done,
}

/// A body that is not valid chunked encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ChunkedError {
    /// A size line that is not hex digits (optionally followed by `;` extensions).
    BadSize(String),
    /// A size line, or a trailer section, longer than the bound.
    TooLong(&'static str),
    /// Chunk data not followed by CR LF.
    MissingCrlf,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkedError::BadSize(line) => write!(f, "invalid chunk size line {line:?}"),
            ChunkedError::TooLong(what) => write!(f, "chunked body: {what} too long"),
            ChunkedError::MissingCrlf => f.write_str("chunked body: chunk data not followed by CR LF"),
        }
    }
}

impl std::error::Error for ChunkedError {}

/// Decodes a chunked body; see the module docs.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// The size line or trailer line being read.
    line: Vec<u8>,
    /// Trailer bytes seen so far.
    trailer_bytes: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> ChunkedDecoder {
        ChunkedDecoder { state: State::Size, line: Vec::new(), trailer_bytes: 0 }
    }
}

impl ChunkedDecoder {
    /// Whether the last chunk and the trailers have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, appending chunk data to `out`. Returns how many input bytes it used:
    /// all of them, unless the body ended within `input` (what follows belongs to the next
    /// message on the connection).
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkedError> {
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            match self.state {
                State::Done => break,
                State::Size => used += self.size_line(rest)?,
                State::Data(left) => {
                    let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&rest[..take]);
                    used += take;
                    let left = left - take as u64;
                    self.state =
                        if left == 0 { State::DataEnd { seen_cr: false } } else { State::Data(left) };
                }
                State::DataEnd { seen_cr } => {
                    match (seen_cr, rest[0]) {
                        (false, b'\r') => self.state = State::DataEnd { seen_cr: true },
                        (true, b'\n') => self.state = State::Size,
                        _ => return Err(ChunkedError::MissingCrlf),
                    }
                    used += 1;
                }
                State::Trailers => used += self.trailer_line(rest)?,
            }
        }
        Ok(used)
    }

    /// Reads (part of) a size line; on its end moves to the chunk's data, or to the trailers
    /// after the last chunk.
    fn size_line(&mut self, rest: &[u8]) -> Result<usize, ChunkedError> {
        let Some(end) = memchr::memchr(b'\n', rest) else {
            self.push_line(rest, MAX_LINE, "chunk size line")?;
            return Ok(rest.len());
        };
        self.push_line(&rest[..end], MAX_LINE, "chunk size line")?;
        let size = parse_size(&self.line)?;
        self.line.clear();
        self.state = if size == 0 { State::Trailers } else { State::Data(size) };
        Ok(end + 1)
    }

    /// Reads (part of) a trailer line; an empty one ends the body.
    fn trailer_line(&mut self, rest: &[u8]) -> Result<usize, ChunkedError> {
        let (part, used, complete) = match memchr::memchr(b'\n', rest) {
            Some(end) => (&rest[..end], end + 1, true),
            None => (rest, rest.len(), false),
        };
        self.trailer_bytes += used;
        if self.trailer_bytes > MAX_TRAILERS {
            return Err(ChunkedError::TooLong("trailer section"));
        }
        self.push_line(part, MAX_TRAILERS, "trailer line")?;
        if complete {
            let empty = matches!(self.line.as_slice(), [] | [b'\r']);
            self.line.clear();
            if empty {
                self.state = State::Done;
            }
        }
        Ok(used)
    }

    fn push_line(&mut self, part: &[u8], limit: usize, what: &'static str) -> Result<(), ChunkedError> {
        if self.line.len() + part.len() > limit {
            return Err(ChunkedError::TooLong(what));
        }
        self.line.extend_from_slice(part);
        Ok(())
    }
}

/// The size in a chunk-size line: hex digits, then optional whitespace and `;` extensions,
/// ending in CR (the LF is already gone).
fn parse_size(line: &[u8]) -> Result<u64, ChunkedError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits_end = line.iter().position(|byte| !byte.is_ascii_hexdigit()).unwrap_or(line.len());
    let (digits, after) = line.split_at(digits_end);
    let after = after.trim_ascii_start();
    let bad = || ChunkedError::BadSize(String::from_utf8_lossy(line).into_owned());
    if digits.is_empty() || digits.len() > 16 || !(after.is_empty() || after[0] == b';') {
        return Err(bad());
    }
    let text = std::str::from_utf8(digits).map_err(|_| bad())?;
    u64::from_str_radix(text, 16).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Result<(Vec<u8>, usize, bool), ChunkedError> {
        let mut decoder = ChunkedDecoder::default();
        let mut out = Vec::new();
        let mut used = 0;
        for chunk in input.chunks(piece.max(1)) {
            let took = decoder.feed(chunk, &mut out)?;
            used += took;
            if took < chunk.len() {
                break;
            }
        }
        Ok((out, used, decoder.is_done()))
    }

    #[test]
    fn a_chunked_body_decodes_however_it_is_split() {
        let body = b"3\r\nabc\r\n10;name=value\r\n0123456789abcdef\r\n1\r\n\n\r\n0\r\n\r\nNEXT";
        for piece in [1, 2, 3, 7, body.len()] {
            let (out, used, done) = decode_in_pieces(body, piece).unwrap();
            assert_eq!(out, b"abc0123456789abcdef\n", "in pieces of {piece}");
            assert!(done);
            assert_eq!(&body[used..], b"NEXT", "in pieces of {piece}: stops after the body");
        }
    }

    #[test]
    fn trailers_are_read_and_dropped() {
        let (out, _, done) =
            decode_in_pieces(b"2\r\nhi\r\n0\r\nX-Trailer: 1\r\nOther: 2\r\n\r\n", 4).unwrap();
        assert_eq!(out, b"hi");
        assert!(done);
    }

    #[test]
    fn an_unfinished_body_is_not_done() {
        let (out, _, done) = decode_in_pieces(b"5\r\nhel", 2).unwrap();
        assert_eq!(out, b"hel");
        assert!(!done);
    }

    #[test]
    fn broken_chunk_sizes_are_refused() {
        for (body, needle) in [
            (&b"zz\r\n"[..], "invalid chunk size"),
            (b"\r\n", "invalid chunk size"),
            (b"-1\r\n", "invalid chunk size"),
            (b"1 2\r\n", "invalid chunk size"),
            (b"11111111111111111\r\nx", "invalid chunk size"),
            (b"3\r\nabcX", "not followed by CR LF"),
            (b"3\r\nabc\rX", "not followed by CR LF"),
        ] {
            let error = decode_in_pieces(body, 1).unwrap_err();
            assert!(error.to_string().contains(needle), "{body:?}: {error}");
        }
        let huge_line = [b"1".repeat(MAX_LINE + 1), b"\r\n".to_vec()].concat();
        assert_eq!(decode_in_pieces(&huge_line, 100).unwrap_err(), ChunkedError::TooLong("chunk size line"));
        let huge_trailers = [b"0\r\n".to_vec(), b"X: y\r\n".repeat(MAX_TRAILERS / 6 + 1)].concat();
        assert_eq!(
            decode_in_pieces(&huge_trailers, 512).unwrap_err(),
            ChunkedError::TooLong("trailer section")
        );
    }

    #[test]
    fn a_huge_declared_chunk_holds_no_memory_up_front() {
        let mut decoder = ChunkedDecoder::default();
        let mut out = Vec::new();
        assert_eq!(decoder.feed(b"ffffffffffffffff\r\nab", &mut out).unwrap(), 20);
        assert_eq!(out, b"ab", "only what arrived");
        assert!(out.capacity() < 1024);
    }
}
