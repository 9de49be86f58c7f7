//! Applying a fossil delta to a base document.
//!
//! Format (fossil's `delta_format.wiki`): `<size>\n` then commands, integers written in a
//! base-64 digit alphabet, most significant first: `<n>@<offset>,` copies `n` bytes of the base
//! from `offset`; `<n>:` inserts the next `n` bytes of the delta; `<checksum>;` ends, and the
//! checksum (the 32-bit wrapping sum of the output read as big-endian words, the last one
//! zero-padded) and the size must match the output.
//!
//! Deltas come from the network, so every step is checked: the declared size against a limit
//! before anything is allocated, every copy against the base, every insert against the delta,
//! the total against the declared size, and the checksum. A bad delta is an error, never a
//! panic and never wrong output.

use std::fmt;

/// Why a delta does not apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeltaError {
    /// The delta does not follow the format.
    Malformed(&'static str),
    /// The delta declares an output larger than the limit.
    TooLarge { size: u64, limit: usize },
    /// The output does not match the delta's checksum.
    Checksum,
}

impl fmt::Display for DeltaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeltaError::Malformed(what) => write!(f, "malformed fossil delta: {what}"),
            DeltaError::TooLarge { size, limit } => {
                write!(f, "fossil delta output of {size} bytes exceeds the limit of {limit}")
            }
            DeltaError::Checksum => f.write_str("fossil delta checksum mismatch"),
        }
    }
}

impl std::error::Error for DeltaError {}

/// Applies `delta` to `base`; the output may not exceed `max_output` bytes.
pub(crate) fn apply(base: &[u8], delta: &[u8], max_output: usize) -> Result<Vec<u8>, DeltaError> {
    let mut reader = Reader { delta, position: 0 };
    let size = reader.integer()?;
    if reader.next_byte() != Some(b'\n') {
        return Err(DeltaError::Malformed("the size is not followed by a newline"));
    }
    let size_usize = usize::try_from(size).ok().filter(|size| *size <= max_output);
    let Some(size) = size_usize else {
        return Err(DeltaError::TooLarge { size, limit: max_output });
    };
    let mut output = Vec::with_capacity(size);
    while reader.position < delta.len() {
        let count = reader.integer()?;
        match reader.next_byte() {
            Some(b'@') => {
                let offset = reader.integer()?;
                if reader.next_byte() != Some(b',') {
                    return Err(DeltaError::Malformed("a copy command does not end with ','"));
                }
                let range = range(offset, count, base.len())
                    .ok_or(DeltaError::Malformed("a copy reaches past the base"))?;
                if output.len() + range.len() > size {
                    return Err(DeltaError::Malformed("a copy writes past the declared size"));
                }
                output.extend_from_slice(&base[range]);
            }
            Some(b':') => {
                let range = range(reader.position as u64, count, delta.len())
                    .ok_or(DeltaError::Malformed("an insert reaches past the end of the delta"))?;
                if output.len() + range.len() > size {
                    return Err(DeltaError::Malformed("an insert writes past the declared size"));
                }
                reader.position = range.end;
                output.extend_from_slice(&delta[range]);
            }
            Some(b';') => {
                if output.len() != size {
                    return Err(DeltaError::Malformed("the output is shorter than the declared size"));
                }
                if u64::from(checksum(&output)) != count {
                    return Err(DeltaError::Checksum);
                }
                return Ok(output);
            }
            _ => return Err(DeltaError::Malformed("unknown command")),
        }
    }
    Err(DeltaError::Malformed("the delta has no terminating checksum"))
}

/// `start..start + len` when it lies within `0..limit`.
fn range(start: u64, len: u64, limit: usize) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(start).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= limit).then_some(start..end)
}

/// The fossil checksum: a wrapping sum of big-endian 32-bit words, the last one zero-padded.
fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, chunk| {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

struct Reader<'a> {
    delta: &'a [u8],
    position: usize,
}

impl Reader<'_> {
    fn next_byte(&mut self) -> Option<u8> {
        let byte = *self.delta.get(self.position)?;
        self.position += 1;
        Some(byte)
    }

    /// Reads a base-64 integer; it ends at the first byte that is not a digit (not consumed).
    fn integer(&mut self) -> Result<u64, DeltaError> {
        let start = self.position;
        let mut value: u64 = 0;
        while let Some(digit) = self.delta.get(self.position).and_then(|byte| digit_value(*byte)) {
            value = value
                .checked_mul(64)
                .and_then(|value| value.checked_add(u64::from(digit)))
                .ok_or(DeltaError::Malformed("an integer overflows 64 bits"))?;
            self.position += 1;
        }
        if self.position == start {
            return Err(DeltaError::Malformed("an integer is missing"));
        }
        Ok(value)
    }
}

/// The value of a digit of fossil's base-64 alphabet `0-9 A-Z _ a-z ~`.
fn digit_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'A'..=b'Z' => Some(byte - b'A' + 10),
        b'_' => Some(36),
        b'a'..=b'z' => Some(byte - b'a' + 37),
        b'~' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const LIMIT: usize = 1 << 20;

    macro_rules! fixture {
        ($n:literal) => {
            (
                &include_bytes!(concat!("../../tests/data/fossil/", $n, "/origin"))[..],
                &include_bytes!(concat!("../../tests/data/fossil/", $n, "/delta"))[..],
                &include_bytes!(concat!("../../tests/data/fossil/", $n, "/target"))[..],
            )
        };
    }

    #[test]
    fn every_fixture_applies_to_its_target_byte_for_byte() {
        for (index, (origin, delta, target)) in
            [fixture!("1"), fixture!("2"), fixture!("3"), fixture!("4"), fixture!("5")]
                .into_iter()
                .enumerate()
        {
            assert_eq!(apply(origin, delta, LIMIT).as_deref(), Ok(target), "fixture {}", index + 1);
        }
    }

    #[test]
    fn the_literal_only_fixture_reads_as_documented() {
        let (origin, delta, target) = fixture!("5");
        assert_eq!((origin, delta, target), (&b"tiny"[..], &b"6\n6:little3OocHp;"[..], &b"little"[..]));
    }

    #[test]
    fn a_wrong_checksum_is_detected() {
        let (origin, delta, _) = fixture!("4");
        let mut bad = delta.to_vec();
        let semicolon = bad.iter().rposition(|b| *b == b';').unwrap();
        bad[semicolon - 1] = if bad[semicolon - 1] == b'0' { b'1' } else { b'0' };
        assert_eq!(apply(origin, &bad, LIMIT), Err(DeltaError::Checksum));
    }

    #[test]
    fn output_over_the_limit_is_refused_before_allocation() {
        // Declares 64^5 bytes.
        assert_eq!(apply(b"", b"100000\n0;", 1000), Err(DeltaError::TooLarge { size: 1 << 30, limit: 1000 }));
        let (origin, delta, target) = fixture!("2");
        assert!(matches!(apply(origin, delta, target.len() - 1), Err(DeltaError::TooLarge { .. })));
        assert!(apply(origin, delta, target.len()).is_ok(), "exactly at the limit is fine");
    }

    #[test]
    fn malformed_deltas_are_errors() {
        let base = b"0123456789";
        for delta in [
            &b""[..],
            b"5",
            b"5\n",
            b"A\n5@0,",
            b"5\n5@8,0;",        // copy past the base
            b"5\n9:abc",         // insert past the end
            b"5\n3:abc0;",       // shorter than declared
            b"2\n3:abc0;",       // insert past the declared size
            b"5\n5#0,0;",        // unknown command
            b"5\n5@0.0;",        // copy not ended by ','
            b"~~~~~~~~~~~~\n0;", // size overflows
            b"5\n@0,0;",         // missing count
        ] {
            assert!(
                apply(base, delta, LIMIT).is_err(),
                "{:?} should not apply",
                String::from_utf8_lossy(delta)
            );
        }
    }

    /// `value` in fossil's base-64 digits, most significant first.
    fn digits(mut value: u64) -> String {
        const ALPHABET: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~";
        let mut out = vec![ALPHABET[(value % 64) as usize]];
        value /= 64;
        while value > 0 {
            out.push(ALPHABET[(value % 64) as usize]);
            value /= 64;
        }
        out.reverse();
        String::from_utf8(out).expect("ASCII digits")
    }

    #[test]
    fn checksums_pad_the_last_word_with_zeros() {
        assert_eq!(checksum(b""), 0);
        assert_eq!(checksum(b"\x01"), 0x0100_0000);
        assert_eq!(checksum(b"\x00\x00\x00\x01\x00\x00\x00\x02"), 3);
        assert_eq!(checksum(&[0xff; 8]), 0xffff_fffe);
    }

    proptest! {
        #[test]
        fn applying_arbitrary_deltas_never_panics(base in proptest::collection::vec(any::<u8>(), 0..64), delta in proptest::collection::vec(any::<u8>(), 0..64), limit in 0usize..128) {
            if let Ok(output) = apply(&base, &delta, limit) {
                prop_assert!(output.len() <= limit, "{} bytes of output over the limit of {limit}", output.len());
            }
        }

        /// Arbitrary bytes almost never form a delta that applies; these always do, unless
        /// their output is over the limit.
        #[test]
        fn well_formed_deltas_apply_within_the_limit(base in proptest::collection::vec(any::<u8>(), 1..64), literal in proptest::collection::vec(any::<u8>(), 0..64), copy in 0usize..64, slack in 0usize..5) {
            let copy = copy.min(base.len());
            let mut target = base[..copy].to_vec();
            target.extend_from_slice(&literal);
            // Around the output's size: just under, at, and just over it.
            let limit = (target.len() + slack).saturating_sub(2);
            let mut delta = format!("{}\n{}@0,{}:", digits(target.len() as u64), digits(copy as u64), digits(literal.len() as u64)).into_bytes();
            delta.extend_from_slice(&literal);
            delta.extend_from_slice(format!("{};", digits(u64::from(checksum(&target)))).as_bytes());
            match apply(&base, &delta, limit) {
                Ok(output) => prop_assert!(output.len() <= limit && output == target, "{} bytes, limit {limit}", output.len()),
                Err(err) => prop_assert!(target.len() > limit, "{err} for a well-formed delta of {} bytes, limit {limit}", target.len()),
            }
        }

        #[test]
        fn applying_damaged_fixture_deltas_never_panics_nor_returns_wrong_output(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let (origin, delta, target) = fixture!("1");
            let mut damaged = delta.to_vec();
            let at = at.index(damaged.len());
            damaged[at] = byte;
            // One changed byte changes the output's word sum, so it cannot pass the checksum:
            // either the delta still is the original, or it fails.
            match apply(origin, &damaged, LIMIT) {
                Ok(output) => prop_assert!(damaged == delta && output == target),
                Err(_) => prop_assert!(damaged != delta),
            }
        }
    }
}
