//! The APDU ("应用协议数据单元"), the whole MQTT payload of every seed-004 message.
//!
//! The seed wraps every message in protobuf ("每条消息采用protobuffer数据格式进行封装") and calls
//! each message an APDU; the APDU's field table did not survive OCR, but the text names its
//! parts: the message code ("消息ID" / "消息代码"), the sequence number ("消息序列号") and the
//! payload ("payload为空"). chargestorm therefore frames the APDU as the protobuf message
//! `chargestorm.v1.Apdu` of `proto/charger.proto`:
//!
//! | field | tag byte | protobuf type | meaning |
//! |---|---|---|---|
//! | 1 `code` | `0x08` | varint (enum `MessageCode`) | the message code, 0x01..=0xFF |
//! | 2 `seq` | `0x10` | varint (uint32) | sequence number; a confirmation repeats its request's |
//! | 3 `payload` | `0x1A` | length-delimited bytes | the encoded message named by `code` |
//!
//! Encoding is canonical proto3, byte for byte what prost writes for `pb::Apdu`: fields in tag
//! order, `seq` omitted when 0, `payload` omitted when empty. For example BootNotificationReq
//! with seq 1 and an empty payload is `08 01 10 01`. Decoding follows protobuf rules (fields in
//! any order, the last occurrence wins, unknown fields are skipped) but is stricter than prost
//! where prost would silently truncate: a `seq` above `u32::MAX` or a code outside the table is
//! an error. The framing is parsed by hand so the payload is borrowed, not copied, and every
//! failure has its own [`MqttWireError`] variant.

mod code;

pub use code::{MessageCode, Sender};

use super::error::MqttWireError;

/// The sequence number ("消息序列号"): protobuf `uint32`.
pub type Seq = u32;

/// Default payload size limit: 256 KiB, far above any single message of the seed (a full
/// ID-card cache of 1,000 cards is about 60 KiB) and far below MQTT's 256 MiB packet limit.
pub const DEFAULT_MAX_PAYLOAD_LEN: usize = 256 * 1024;

/// Bytes the framing adds at most around a payload in chargestorm's own encoding: three tag
/// bytes, a 2-byte code, a 5-byte seq and a 5-byte length.
pub const MAX_HEADER_LEN: usize = 15;

/// Slack allowed on top of the payload limit for the framing of a received APDU, which may use
/// non-canonical (longer) varints or carry unknown fields.
const INPUT_SLACK: usize = 64;

/// A decoded APDU whose payload borrows the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Apdu<'a> {
    /// The message code.
    pub code: MessageCode,
    /// The sequence number.
    pub seq: Seq,
    /// The encoded message, still to be decoded as the type `code` names.
    pub payload: &'a [u8],
}

impl<'a> Apdu<'a> {
    /// Decodes the framing with the [`DEFAULT_MAX_PAYLOAD_LEN`] limit.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, MqttWireError> {
        Self::decode_with_limit(bytes, DEFAULT_MAX_PAYLOAD_LEN)
    }

    /// Decodes the framing; a payload longer than `max_payload_len` is
    /// [`MqttWireError::Oversized`], and so is an input longer than the payload limit plus a
    /// small framing allowance (checked first, before any parsing).
    pub fn decode_with_limit(
        bytes: &'a [u8],
        max_payload_len: usize,
    ) -> Result<Self, MqttWireError> {
        let max_input = max_payload_len.saturating_add(INPUT_SLACK);
        if bytes.len() > max_input {
            return Err(MqttWireError::Oversized {
                len: bytes.len(),
                max: max_input,
            });
        }
        let mut reader = Reader { bytes, pos: 0 };
        let mut code = 0u64;
        let mut seq = 0u64;
        let mut seq_offset = 0usize;
        let mut payload: &[u8] = &[];
        while !reader.at_end() {
            let key_offset = reader.pos;
            let key = reader.varint()?;
            let field = key >> 3;
            let wire_type = key & 0x7;
            match (field, wire_type) {
                (0, _) => return Err(malformed(key_offset, "field number 0")),
                (1, WIRE_VARINT) => code = reader.varint()?,
                (2, WIRE_VARINT) => {
                    seq_offset = reader.pos;
                    seq = reader.varint()?;
                }
                (3, WIRE_LEN) => payload = reader.len_delimited(max_payload_len)?,
                (1..=3, _) => {
                    return Err(malformed(key_offset, "wrong wire type for an APDU field"));
                }
                _ => reader.skip(key_offset, wire_type)?,
            }
        }
        if code == 0 {
            return Err(MqttWireError::MissingCode);
        }
        let code = u8::try_from(code)
            .ok()
            .and_then(MessageCode::from_u8)
            .ok_or(MqttWireError::UnknownCode { code })?;
        let seq = Seq::try_from(seq).map_err(|_| malformed(seq_offset, "seq exceeds u32"))?;
        Ok(Self { code, seq, payload })
    }

    /// Clears `out` and writes the APDU into it, so one buffer serves every publish.
    /// A payload over [`DEFAULT_MAX_PAYLOAD_LEN`] is [`MqttWireError::Oversized`].
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), MqttWireError> {
        check_payload_len(self.payload.len(), DEFAULT_MAX_PAYLOAD_LEN)?;
        out.clear();
        out.reserve(MAX_HEADER_LEN + self.payload.len());
        encode_header(self.code, self.seq, self.payload.len(), out);
        out.extend_from_slice(self.payload);
        Ok(())
    }

    /// The length of the encoding [`Self::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        header_len(self.code, self.seq, self.payload.len()) + self.payload.len()
    }
}

/// Fails with [`MqttWireError::Oversized`] when `len` is over `max`.
pub(crate) fn check_payload_len(len: usize, max: usize) -> Result<(), MqttWireError> {
    if len > max {
        Err(MqttWireError::Oversized { len, max })
    } else {
        Ok(())
    }
}

/// Appends the APDU fields that precede the payload bytes: code, seq (if not 0) and the
/// payload's key and length (if not empty). The payload itself must follow.
pub(crate) fn encode_header(code: MessageCode, seq: Seq, payload_len: usize, out: &mut Vec<u8>) {
    out.push(KEY_CODE);
    put_varint(u64::from(code.value()), out);
    if seq != 0 {
        out.push(KEY_SEQ);
        put_varint(u64::from(seq), out);
    }
    if payload_len != 0 {
        out.push(KEY_PAYLOAD);
        put_varint(payload_len as u64, out);
    }
}

/// The number of bytes [`encode_header`] writes.
pub(crate) fn header_len(code: MessageCode, seq: Seq, payload_len: usize) -> usize {
    let mut len = 1 + varint_len(u64::from(code.value()));
    if seq != 0 {
        len += 1 + varint_len(u64::from(seq));
    }
    if payload_len != 0 {
        len += 1 + varint_len(payload_len as u64);
    }
    len
}

/// Protobuf wire type 0: varint.
const WIRE_VARINT: u64 = 0;
/// Protobuf wire type 1: 64-bit.
const WIRE_I64: u64 = 1;
/// Protobuf wire type 2: length-delimited.
const WIRE_LEN: u64 = 2;
/// Protobuf wire type 5: 32-bit.
const WIRE_I32: u64 = 5;
/// Key of field 1 (`code`), varint.
const KEY_CODE: u8 = 0x08;
/// Key of field 2 (`seq`), varint.
const KEY_SEQ: u8 = 0x10;
/// Key of field 3 (`payload`), length-delimited.
const KEY_PAYLOAD: u8 = 0x1A;

fn malformed(offset: usize, reason: &'static str) -> MqttWireError {
    MqttWireError::Malformed { offset, reason }
}

/// Appends `value` as a protobuf base-128 varint.
fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        // Truncation keeps the low 7 bits, which is the point.
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The encoded length of a varint.
fn varint_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// A cursor over the input; every read is bounds-checked and reports where it failed.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn truncated(&self, offset: usize) -> MqttWireError {
        MqttWireError::Truncated {
            offset,
            len: self.bytes.len(),
        }
    }

    /// Reads a varint of at most 10 bytes whose value fits in 64 bits.
    fn varint(&mut self) -> Result<u64, MqttWireError> {
        let start = self.pos;
        let mut value = 0u64;
        for index in 0..10 {
            let byte = *self
                .bytes
                .get(self.pos)
                .ok_or_else(|| self.truncated(start))?;
            self.pos += 1;
            if index == 9 && byte > 1 {
                return Err(malformed(start, "varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7F) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        // Unreachable: the tenth byte either ends the varint or fails the check above.
        Err(malformed(start, "varint longer than 10 bytes"))
    }

    /// Takes `n` bytes, failing with `Truncated` (pointing at `field_offset`) if fewer remain.
    fn take(&mut self, n: u64, field_offset: usize) -> Result<&'a [u8], MqttWireError> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.truncated(field_offset))?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| self.truncated(field_offset))?;
        self.pos = end;
        Ok(slice)
    }

    /// Reads a length-delimited value of at most `max` bytes.
    fn len_delimited(&mut self, max: usize) -> Result<&'a [u8], MqttWireError> {
        let start = self.pos;
        let len = self.varint()?;
        if usize::try_from(len).map_or(true, |len| len > max) {
            return Err(MqttWireError::Oversized {
                len: usize::try_from(len).unwrap_or(usize::MAX),
                max,
            });
        }
        self.take(len, start)
    }

    /// Skips the value of an unknown field.
    fn skip(&mut self, key_offset: usize, wire_type: u64) -> Result<(), MqttWireError> {
        match wire_type {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_I64 => self.take(8, key_offset).map(drop),
            WIRE_LEN => {
                let len = self.varint()?;
                self.take(len, key_offset).map(drop)
            }
            WIRE_I32 => self.take(4, key_offset).map(drop),
            3 | 4 => Err(malformed(
                key_offset,
                "protobuf groups are not used by the protocol",
            )),
            _ => Err(malformed(key_offset, "invalid wire type")),
        }
    }
}

#[cfg(test)]
mod tests;
