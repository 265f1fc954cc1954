//! TFRecord framing, as TensorBoard reads it: u64 little-endian length, masked CRC-32C of those
//! 8 bytes, the payload, masked CRC-32C of the payload. The mask is TensorFlow's: rotate right by
//! 15 bits, then add 0xa282ead8 (wrapping). CRC-32C is Castagnoli's polynomial (the `crc32c`
//! crate, hardware-accelerated), not the IEEE CRC-32 of zlib.

/// Masked CRC-32C of `data`.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One framed record.
pub fn encode_record(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc32c(payload).to_le_bytes());
    out
}

/// Result of decoding the record that starts at the beginning of `buf`.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A complete record: its payload and total framed size.
    Record(&'a [u8], usize),
    /// `buf` ends inside the record.
    Truncated,
    /// A CRC does not match: which one, stored and computed values.
    BadCrc(&'static str, u32, u32),
}

/// Decodes one record from the start of `buf`, checking both CRCs.
pub fn decode_record(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < 12 {
        return Decoded::Truncated;
    }
    let len_bytes = &buf[..8];
    let stored = u32::from_le_bytes(buf[8..12].try_into().expect("4 bytes"));
    let computed = masked_crc32c(len_bytes);
    if stored != computed {
        return Decoded::BadCrc("length", stored, computed);
    }
    let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
    let Some(end) = usize::try_from(len).ok().and_then(|l| l.checked_add(16)) else {
        return Decoded::Truncated;
    };
    if buf.len() < end {
        return Decoded::Truncated;
    }
    let payload = &buf[12..end - 4];
    let stored = u32::from_le_bytes(buf[end - 4..end].try_into().expect("4 bytes"));
    let computed = masked_crc32c(payload);
    if stored != computed {
        return Decoded::BadCrc("payload", stored, computed);
    }
    Decoded::Record(payload, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // The CRC-32C check value of ASCII "123456789" (RFC 3720, appendix B.4).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn mask_rotates_right_15_and_adds_the_constant() {
        // 0xE3069283 rotated right by 15 is 0x2507C60D; plus 0xA282EAD8 is 0xC78AB0E5
        // (worked out by hand with Python integers, independently of this code).
        assert_eq!(masked_crc32c(b"123456789"), 0xC78A_B0E5);
    }

    #[test]
    fn records_round_trip_and_detect_damage() {
        let rec = encode_record(b"hello");
        assert_eq!(rec.len(), 5 + 16);
        assert_eq!(decode_record(&rec), Decoded::Record(b"hello", 21));
        assert_eq!(decode_record(&rec[..20]), Decoded::Truncated);
        let mut bad = rec.clone();
        bad[13] ^= 1;
        assert!(matches!(
            decode_record(&bad),
            Decoded::BadCrc("payload", ..)
        ));
        let mut bad = rec;
        bad[0] ^= 1;
        assert!(matches!(decode_record(&bad), Decoded::BadCrc("length", ..)));
    }
}
