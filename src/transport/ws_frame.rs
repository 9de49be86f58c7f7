//! Writing client data frames ourselves.
//!
//! tungstenite logs every frame it sends, payload included, at trace level; a connect or
//! refresh command carries a token, and tokens must never reach a log. So data frames are
//! encoded here (RFC 6455 §5.2: final, masked, 7/16/64-bit length) and written straight to the
//! stream, after tungstenite has flushed whatever it queued itself (pongs, close replies).

use rand::RngExt;

/// The kind of a data frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opcode {
    Text,
    Binary,
}

/// Appends one final, masked client frame carrying `payload` to `out`.
pub(crate) fn encode_client_frame(opcode: Opcode, payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    out.reserve(payload.len() + 14);
    out.push(
        0x80 | match opcode {
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
        },
    );
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(index, byte)| byte ^ mask[index % 4]));
}

/// A fresh masking key, as RFC 6455 requires for every client frame.
pub(crate) fn new_mask() -> [u8; 4] {
    rand::rng().random()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_6455_masked_hello_example() {
        let mut out = Vec::new();
        encode_client_frame(Opcode::Text, b"Hello", [0x37, 0xfa, 0x21, 0x3d], &mut out);
        assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn lengths_use_the_short_the_16_bit_and_the_64_bit_forms() {
        for (len, header) in [
            (125usize, vec![0x82, 0x80 | 125]),
            (126, vec![0x82, 0xfe, 0x00, 0x7e]),
            (65535, vec![0x82, 0xfe, 0xff, 0xff]),
            (65536, vec![0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let payload = vec![0u8; len];
            let mut out = Vec::new();
            encode_client_frame(Opcode::Binary, &payload, [0; 4], &mut out);
            assert_eq!(&out[..header.len()], header.as_slice(), "length {len}");
            assert_eq!(out.len(), header.len() + 4 + len);
        }
    }

    #[test]
    fn masking_round_trips() {
        let payload: Vec<u8> = (0..=255).collect();
        let mask = [1, 2, 3, 4];
        let mut out = Vec::new();
        encode_client_frame(Opcode::Binary, &payload, mask, &mut out);
        let body = &out[out.len() - payload.len()..];
        let unmasked: Vec<u8> = body.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
        assert_eq!(unmasked, payload);
    }
}
