//! Reads the client identifier out of the first bytes a client sends, when they are an
//! MQTT CONNECT packet, so the proxy can tag the link with the charger id. The bytes are
//! only looked at; the proxy relays them unchanged.
//!
//! Layout (MQTT 3.1.1 §2.2 and §3.1; MQTT 5.0 §3.1 adds the properties):
//!
//! ```text
//! 0x10                      packet type CONNECT, flags 0            (3.1.1 §2.2.1, §2.2.2)
//! remaining length          1–4 byte varint                         (3.1.1 §2.2.3)
//! u16 len + "MQTT"          protocol name ("MQIsdp" in 3.1)        (3.1.1 §3.1.2.1)
//! u8 level                  3 = 3.1, 4 = 3.1.1, 5 = 5.0            (3.1.1 §3.1.2.2)
//! u8 connect flags, u16 keep-alive                                 (3.1.1 §3.1.2.3, §3.1.2.10)
//! [5.0 only] varint properties length + properties                (5.0 §3.1.2.11)
//! u16 len + client identifier (UTF-8)                              (3.1.1 §3.1.3.1)
//! ```

/// The CONNECT packet type byte: type 1 in the high nibble, reserved flags 0
/// (MQTT 3.1.1 §2.2.1, §2.2.2).
const CONNECT: u8 = 0x10;

/// What the bytes seen so far say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniff {
    /// A CONNECT packet so far; more bytes are needed to reach the client identifier.
    Incomplete,
    /// The client identifier (may be empty: MQTT 3.1.1 §3.1.3.1 allows a zero-length id).
    ClientId(String),
}

/// Why the bytes are not an MQTT CONNECT with a readable client identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SniffError {
    /// The first byte is not 0x10 (MQTT 3.1.1 §2.2.1: CONNECT is type 1 with flags 0).
    #[error("first byte {first_byte:#04x} is not an MQTT CONNECT (0x10)")]
    NotConnect {
        /// The byte received.
        first_byte: u8,
    },
    /// A variable-length integer runs past four bytes (MQTT 3.1.1 §2.2.3).
    #[error("variable-length integer longer than 4 bytes: {bytes:02x?}")]
    VarintTooLong {
        /// The four bytes read, all with the continuation bit set.
        bytes: [u8; 4],
    },
    /// The protocol name is neither "MQTT" nor "MQIsdp" (MQTT 3.1.1 §3.1.2.1).
    #[error("unknown protocol name {name:02x?}")]
    ProtocolName {
        /// The name bytes received.
        name: Vec<u8>,
    },
    /// The protocol level is not 3, 4 or 5 (MQTT 3.1.1 §3.1.2.2, MQTT 5.0 §3.1.2.2).
    #[error("unsupported protocol level {level}")]
    ProtocolLevel {
        /// The level received.
        level: u8,
    },
    /// A field reaches past the packet's remaining length (MQTT 3.1.1 §2.2.3).
    #[error(
        "field ends at byte {field_end} of the body, but the remaining length is {remaining_length}"
    )]
    PastPacketEnd {
        /// The remaining length from the fixed header.
        remaining_length: usize,
        /// Where the field would end, counted from the start of the body.
        field_end: usize,
    },
    /// The client identifier is not UTF-8 (MQTT 3.1.1 §1.5.3, §3.1.3.1).
    #[error("client identifier is not UTF-8: {bytes:02x?}")]
    ClientIdNotUtf8 {
        /// The identifier bytes received.
        bytes: Vec<u8>,
    },
}

/// Reads a client identifier from the start of a client's byte stream.
///
/// Returns `Ok(Sniff::Incomplete)` while `bytes` is a proper prefix of a CONNECT packet
/// that does not yet contain the whole identifier. Never panics, whatever the input.
pub fn sniff_client_id(bytes: &[u8]) -> Result<Sniff, SniffError> {
    let Some(&first_byte) = bytes.first() else {
        return Ok(Sniff::Incomplete);
    };
    if first_byte != CONNECT {
        return Err(SniffError::NotConnect { first_byte });
    }
    let Some((remaining_length, header_len)) = varint(&bytes[1..])? else {
        return Ok(Sniff::Incomplete);
    };
    let body = bytes.get(1 + header_len..).unwrap_or_default();
    let mut cur = Cursor {
        body,
        pos: 0,
        remaining_length,
    };
    match read_connect(&mut cur) {
        Ok(sniff) => Ok(sniff),
        Err(Step::Incomplete) => Ok(Sniff::Incomplete),
        Err(Step::Invalid(e)) => Err(e),
    }
}

/// Decodes a variable-length integer (MQTT 3.1.1 §2.2.3): `Ok(None)` if `bytes` ends first,
/// else the value and how many bytes it took.
fn varint(bytes: &[u8]) -> Result<Option<(usize, usize)>, SniffError> {
    let mut value = 0usize;
    for (i, &b) in bytes.iter().take(4).enumerate() {
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    match bytes.get(..4) {
        Some(&[a, b, c, d]) => Err(SniffError::VarintTooLong {
            bytes: [a, b, c, d],
        }),
        _ => Ok(None),
    }
}

/// Why a read step stopped.
enum Step {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not what a CONNECT holds.
    Invalid(SniffError),
}

impl From<SniffError> for Step {
    fn from(e: SniffError) -> Self {
        Step::Invalid(e)
    }
}

/// A read position in the packet body, bounded by both the bytes seen and the packet's
/// remaining length.
struct Cursor<'a> {
    body: &'a [u8],
    pos: usize,
    remaining_length: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Step> {
        let end = self.pos.saturating_add(n);
        if end > self.remaining_length {
            return Err(Step::Invalid(SniffError::PastPacketEnd {
                remaining_length: self.remaining_length,
                field_end: end,
            }));
        }
        let field = self.body.get(self.pos..end).ok_or(Step::Incomplete)?;
        self.pos = end;
        Ok(field)
    }

    fn u8(&mut self) -> Result<u8, Step> {
        let b = self.take(1)?;
        Ok(b.first().copied().unwrap_or_default())
    }

    fn u16(&mut self) -> Result<u16, Step> {
        match self.take(2)? {
            &[hi, lo] => Ok(u16::from_be_bytes([hi, lo])),
            _ => Err(Step::Incomplete),
        }
    }

    /// A u16-length-prefixed string or binary field (MQTT 3.1.1 §1.5.3).
    fn prefixed(&mut self) -> Result<&'a [u8], Step> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    fn varint(&mut self) -> Result<usize, Step> {
        let rest = self.body.get(self.pos..).unwrap_or_default();
        let (value, len) = varint(rest)?.ok_or(Step::Incomplete)?;
        self.take(len)?;
        Ok(value)
    }
}

/// Reads the variable header and the client identifier.
fn read_connect(cur: &mut Cursor<'_>) -> Result<Sniff, Step> {
    let name = cur.prefixed()?;
    if name != b"MQTT" && name != b"MQIsdp" {
        return Err(SniffError::ProtocolName {
            name: name.to_vec(),
        }
        .into());
    }
    let level = cur.u8()?;
    if !(3..=5).contains(&level) {
        return Err(SniffError::ProtocolLevel { level }.into());
    }
    let _connect_flags = cur.u8()?;
    let _keep_alive_s = cur.u16()?;
    if level == 5 {
        let properties_len = cur.varint()?;
        cur.take(properties_len)?;
    }
    let id = cur.prefixed()?;
    match std::str::from_utf8(id) {
        Ok(id) => Ok(Sniff::ClientId(id.to_owned())),
        Err(_) => Err(SniffError::ClientIdNotUtf8 { bytes: id.to_vec() }.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Encodes a CONNECT the way a 3.1.1 (level 4) or 5.0 (level 5) client does.
    fn connect(level: u8, client_id: &str, will: &[u8]) -> Vec<u8> {
        let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', level];
        body.push(0x02); // connect flags: clean session
        body.extend_from_slice(&[0x00, 0x3c]); // keep-alive 60 s
        if level == 5 {
            body.extend_from_slice(&[0x03, 0x21, 0x00, 0x0a]); // properties: receive maximum 10
        }
        body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
        body.extend_from_slice(client_id.as_bytes());
        body.extend_from_slice(will);
        let mut packet = vec![CONNECT];
        let mut len = body.len();
        loop {
            let mut b = (len % 128) as u8;
            len /= 128;
            if len > 0 {
                b |= 0x80;
            }
            packet.push(b);
            if len == 0 {
                break;
            }
        }
        packet.extend_from_slice(&body);
        packet
    }

    #[test]
    fn reads_a_3_1_1_client_id() {
        // 10 13 | 00 04 'MQTT' | 04 | 02 | 00 3c | 00 07 'charger'
        let bytes = [
            0x10, 0x13, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x07,
            b'c', b'h', b'a', b'r', b'g', b'e', b'r',
        ];
        assert_eq!(
            sniff_client_id(&bytes),
            Ok(Sniff::ClientId("charger".into()))
        );
        assert_eq!(sniff_client_id(&bytes[..20]), Ok(Sniff::Incomplete));
    }

    #[test]
    fn reads_a_5_0_client_id_after_the_properties() {
        let bytes = connect(5, "cp-0042", b"");
        assert_eq!(
            sniff_client_id(&bytes),
            Ok(Sniff::ClientId("cp-0042".into()))
        );
    }

    #[test]
    fn rejects_what_is_not_a_connect() {
        assert_eq!(
            sniff_client_id(b"GET / HTTP/1.1\r\n"),
            Err(SniffError::NotConnect { first_byte: b'G' })
        );
        assert_eq!(
            sniff_client_id(&[0x10, 0xff, 0xff, 0xff, 0xff]),
            Err(SniffError::VarintTooLong { bytes: [0xff; 4] })
        );
        let mut amqp = connect(4, "x", b"");
        amqp[4] = b'X';
        assert!(matches!(
            sniff_client_id(&amqp),
            Err(SniffError::ProtocolName { .. })
        ));
        let mut level = connect(4, "x", b"");
        level[8] = 9;
        assert_eq!(
            sniff_client_id(&level),
            Err(SniffError::ProtocolLevel { level: 9 })
        );
        // Remaining length 12 cuts the 7-byte id short.
        let mut short = connect(4, "charger", b"");
        short[1] = 12;
        assert!(matches!(
            sniff_client_id(&short),
            Err(SniffError::PastPacketEnd {
                remaining_length: 12,
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = sniff_client_id(&bytes);
            let mut framed = vec![CONNECT];
            framed.extend_from_slice(&bytes);
            let _ = sniff_client_id(&framed);
        }

        #[test]
        fn every_prefix_is_incomplete_and_the_whole_packet_names_the_client(
            id in "[a-zA-Z0-9_\\-]{0,200}",
            level in 4u8..=5,
            will in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let packet = connect(level, &id, &will);
            let end = packet.len() - will.len();
            for cut in 0..end {
                prop_assert_eq!(sniff_client_id(&packet[..cut]), Ok(Sniff::Incomplete));
            }
            prop_assert_eq!(sniff_client_id(&packet[..end]), Ok(Sniff::ClientId(id.clone())));
            prop_assert_eq!(sniff_client_id(&packet), Ok(Sniff::ClientId(id)));
        }
    }
}
