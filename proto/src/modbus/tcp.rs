//! Modbus TCP application data units: the 7-byte MBAP header followed by a PDU (MODBUS
//! Messaging on TCP/IP Implementation Guide V1.0b, §3.1.3).
//!
//! MBAP layout, all big-endian: transaction id (2 bytes), protocol id (2, always 0 for
//! Modbus), length (2: the bytes that follow, i.e. unit id + PDU), unit id (1).
//! [`decode_stream`] returns `Ok(None)` until a whole ADU has arrived. [`MbapHeader::encode`]
//! writes whatever fields it is given, so fault injection can send a wrong length or protocol
//! id.

use super::pdu::{MAX_PDU_LEN, PduError, Request, Response};

/// The length of the MBAP header, unit id included.
pub const MBAP_LEN: usize = 7;
/// The longest Modbus TCP ADU: MBAP header plus a 253-byte PDU.
pub const MAX_ADU_LEN: usize = MBAP_LEN + MAX_PDU_LEN;

/// Why a Modbus TCP ADU was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TcpError {
    /// The protocol id is not 0, so this is not Modbus.
    #[error("MBAP protocol id {protocol_id} is not 0 (Modbus)")]
    ProtocolId {
        /// The protocol id received.
        protocol_id: u16,
    },
    /// The length field cannot describe a valid ADU: it must count the unit id and at least
    /// a function code, and at most a 253-byte PDU.
    #[error("MBAP length {length} outside 2..=254")]
    BadLength {
        /// The length field received.
        length: u16,
    },
    /// The PDU is malformed.
    #[error("Modbus TCP: {0}")]
    Pdu(#[from] PduError),
}

/// The MBAP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MbapHeader {
    /// Pairs a response with its request; echoed by the server.
    pub transaction_id: u16,
    /// 0 for Modbus.
    pub protocol_id: u16,
    /// Bytes that follow the length field: unit id + PDU.
    pub length: u16,
    /// Unit id, for gateways to serial lines; 0xFF or the device's id otherwise.
    pub unit_id: u8,
}

impl MbapHeader {
    /// Read the header fields from the first 7 bytes, without validating them; `None` if fewer
    /// than 7 bytes are given.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        match bytes.get(..MBAP_LEN)? {
            &[t0, t1, p0, p1, l0, l1, unit_id] => Some(Self {
                transaction_id: u16::from_be_bytes([t0, t1]),
                protocol_id: u16::from_be_bytes([p0, p1]),
                length: u16::from_be_bytes([l0, l1]),
                unit_id,
            }),
            _ => None,
        }
    }

    /// Append the 7 header bytes as given.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.transaction_id.to_be_bytes());
        out.extend_from_slice(&self.protocol_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
        out.push(self.unit_id);
    }
}

/// One Modbus TCP ADU: header fields and the PDU bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFrame<'a> {
    /// Transaction id from the MBAP header.
    pub transaction_id: u16,
    /// Unit id from the MBAP header.
    pub unit_id: u8,
    /// The PDU: function code and data.
    pub pdu: &'a [u8],
}

impl TcpFrame<'_> {
    /// Append the ADU, with a correct MBAP header, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), TcpError> {
        if self.pdu.len() > MAX_PDU_LEN {
            return Err(PduError::TooLong {
                len: self.pdu.len(),
            }
            .into());
        }
        let length = u16::try_from(self.pdu.len() + 1).unwrap_or(u16::MAX);
        MbapHeader {
            transaction_id: self.transaction_id,
            protocol_id: 0,
            length,
            unit_id: self.unit_id,
        }
        .encode(out);
        out.extend_from_slice(self.pdu);
        Ok(())
    }
}

/// Cut the first ADU off a TCP byte stream: `Ok(None)` while incomplete, else the frame and the
/// bytes it used. The header is validated as soon as it has arrived, so a bad length or
/// protocol id fails early instead of waiting for bytes that may never come.
pub fn decode_stream(buf: &[u8]) -> Result<Option<(TcpFrame<'_>, usize)>, TcpError> {
    let Some(header) = MbapHeader::parse(buf) else {
        return Ok(None);
    };
    if header.protocol_id != 0 {
        return Err(TcpError::ProtocolId {
            protocol_id: header.protocol_id,
        });
    }
    let length = usize::from(header.length);
    if !(2..=MAX_PDU_LEN + 1).contains(&length) {
        return Err(TcpError::BadLength {
            length: header.length,
        });
    }
    let total = MBAP_LEN - 1 + length;
    match buf.get(MBAP_LEN..total) {
        Some(pdu) => Ok(Some((
            TcpFrame {
                transaction_id: header.transaction_id,
                unit_id: header.unit_id,
                pdu,
            },
            total,
        ))),
        None => Ok(None),
    }
}

/// Cut the first request off a client's stream and parse it: `(header fields, request, bytes
/// used)` or `Ok(None)` when incomplete.
pub fn decode_request(buf: &[u8]) -> Result<Option<(TcpFrame<'_>, Request, usize)>, TcpError> {
    let Some((frame, used)) = decode_stream(buf)? else {
        return Ok(None);
    };
    Ok(Some((frame, Request::decode(frame.pdu)?, used)))
}

/// Cut the first response off a server's stream and parse it; see [`decode_request`].
pub fn decode_response(buf: &[u8]) -> Result<Option<(TcpFrame<'_>, Response, usize)>, TcpError> {
    let Some((frame, used)) = decode_stream(buf)? else {
        return Ok(None);
    };
    Ok(Some((frame, Response::decode(frame.pdu)?, used)))
}

/// Append a request ADU to `out`.
pub fn encode_request(
    transaction_id: u16,
    unit_id: u8,
    request: &Request,
    out: &mut Vec<u8>,
) -> Result<(), TcpError> {
    let mut pdu = Vec::with_capacity(request.encoded_len());
    request.encode(&mut pdu)?;
    TcpFrame {
        transaction_id,
        unit_id,
        pdu: &pdu,
    }
    .encode(out)
}

/// Append a response ADU to `out`.
pub fn encode_response(
    transaction_id: u16,
    unit_id: u8,
    response: &Response,
    out: &mut Vec<u8>,
) -> Result<(), TcpError> {
    let mut pdu = Vec::with_capacity(response.encoded_len());
    response.encode(&mut pdu)?;
    TcpFrame {
        transaction_id,
        unit_id,
        pdu: &pdu,
    }
    .encode(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const REQUEST: [u8; 12] = [
        0x00, 0x2A, // transaction id 42
        0x00, 0x00, // protocol id: Modbus
        0x00, 0x06, // length: unit id + 5-byte PDU
        0x01, // unit id
        0x04, // function: read input registers
        0x20, 0x00, // address 0x2000
        0x00, 0x02, // quantity 2
    ];

    #[test]
    fn request_round_trip() {
        let (frame, request, used) = decode_request(&REQUEST).unwrap().unwrap();
        assert_eq!((frame.transaction_id, frame.unit_id, used), (42, 1, 12));
        assert_eq!(
            request,
            Request::ReadInputRegisters {
                address: 0x2000,
                quantity: 2
            }
        );
        let mut out = Vec::new();
        encode_request(42, 1, &request, &mut out).unwrap();
        assert_eq!(out, REQUEST);
    }

    #[test]
    fn response_round_trip() {
        let response = Response::ReadInputRegisters(vec![0x4366, 0x3333]);
        let mut out = Vec::new();
        encode_response(7, 1, &response, &mut out).unwrap();
        assert_eq!(
            out,
            [
                0x00, 0x07, 0x00, 0x00, 0x00, 0x07, 0x01, 0x04, 0x04, 0x43, 0x66, 0x33, 0x33
            ]
        );
        let (frame, decoded, used) = decode_response(&out).unwrap().unwrap();
        assert_eq!((frame.transaction_id, decoded, used), (7, response, 13));
    }

    #[test]
    fn partial_adus_need_more_bytes() {
        for len in 0..REQUEST.len() {
            assert_eq!(decode_stream(&REQUEST[..len]), Ok(None), "prefix of {len}");
        }
    }

    #[test]
    fn bad_headers_fail_early() {
        let mut bad_protocol = REQUEST;
        bad_protocol[3] = 0x01;
        assert_eq!(
            decode_stream(&bad_protocol[..7]),
            Err(TcpError::ProtocolId { protocol_id: 1 })
        );
        let mut zero_length = REQUEST;
        zero_length[5] = 0x01;
        assert_eq!(
            decode_stream(&zero_length[..7]),
            Err(TcpError::BadLength { length: 1 })
        );
        let mut long = REQUEST;
        long[4] = 0x01;
        long[5] = 0x00;
        assert_eq!(
            decode_stream(&long[..7]),
            Err(TcpError::BadLength { length: 256 })
        );
    }

    #[test]
    fn fault_injection_header_is_written_as_given() {
        let mut out = Vec::new();
        MbapHeader {
            transaction_id: 1,
            protocol_id: 9,
            length: 300,
            unit_id: 2,
        }
        .encode(&mut out);
        assert_eq!(out, [0x00, 0x01, 0x00, 0x09, 0x01, 0x2C, 0x02]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(Some((frame, used))) = decode_stream(&bytes) {
                prop_assert!(used <= bytes.len());
                prop_assert_eq!(frame.pdu.len() + MBAP_LEN, used);
            }
            let _ = decode_request(&bytes);
            let _ = decode_response(&bytes);
        }
    }
}
