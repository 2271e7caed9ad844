//! Modbus RTU application data units: unit id, PDU, CRC-16/MODBUS (MODBUS over Serial Line
//! V1.02, §2.5.1).
//!
//! Two ways in:
//! * [`RtuFrame::decode`] takes one complete frame, delimited by the caller (on a real line,
//!   by 3.5 character times of silence);
//! * [`decode_stream`] cuts the first frame off a byte stream by looking at its function code
//!   and byte count. It returns `Ok(None)` while the frame is incomplete. On an error the
//!   caller drops one byte and tries again, which is how tokio-modbus resynchronises.
//!
//! Encoding can write a deliberately wrong CRC ([`RtuFrame::encode_with_crc`]) for fault
//! injection.

use super::crc::crc16;
use super::pdu::{self, MAX_PDU_LEN, PduError, Request, Response};

/// The longest RTU frame: address, 253-byte PDU, two CRC bytes (Serial Line §2.5.1).
pub const MAX_ADU_LEN: usize = 256;
/// The shortest RTU frame: address, function code, two CRC bytes.
pub const MIN_ADU_LEN: usize = 4;

/// Which side sent a byte stream. Requests and responses with the same function code have
/// different lengths, so a stream decoder must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server: requests.
    Request,
    /// Server to client: responses.
    Response,
}

/// Why an RTU frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtuError {
    /// A complete frame shorter than address + function + CRC.
    #[error("RTU frame of {len} bytes is shorter than {MIN_ADU_LEN}")]
    TooShort {
        /// The frame length received.
        len: usize,
    },
    /// A frame longer than 256 bytes, received or implied by a byte count, or a PDU too long to
    /// encode.
    #[error("RTU frame of {len} bytes exceeds {MAX_ADU_LEN}")]
    TooLong {
        /// The frame length, received or implied.
        len: usize,
    },
    /// The CRC in the frame does not match its contents.
    #[error("CRC mismatch: frame carries {received:#06X}, contents give {computed:#06X}")]
    BadCrc {
        /// The CRC computed over address and PDU.
        computed: u16,
        /// The CRC the frame carried.
        received: u16,
    },
    /// The PDU inside a frame with a good CRC is malformed, or its function code is unknown so
    /// the frame length cannot be determined.
    #[error("RTU frame: {0}")]
    Pdu(#[from] PduError),
}

/// One RTU frame: the unit (slave) id and the PDU bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtuFrame<'a> {
    /// Unit id (slave address); 0 is broadcast, 1..=247 are devices.
    pub unit_id: u8,
    /// The PDU: function code and data, without address and CRC.
    pub pdu: &'a [u8],
}

impl<'a> RtuFrame<'a> {
    /// Check and split one complete frame (`adu` is exactly the frame, CRC included).
    pub fn decode(adu: &'a [u8]) -> Result<Self, RtuError> {
        if adu.len() < MIN_ADU_LEN {
            return Err(RtuError::TooShort { len: adu.len() });
        }
        if adu.len() > MAX_ADU_LEN {
            return Err(RtuError::TooLong { len: adu.len() });
        }
        let (body, crc) = adu.split_at(adu.len() - 2);
        let received = match crc {
            &[low, high] => u16::from_le_bytes([low, high]),
            _ => return Err(RtuError::TooShort { len: adu.len() }),
        };
        let computed = crc16(body);
        if computed != received {
            return Err(RtuError::BadCrc { computed, received });
        }
        match body.split_first() {
            Some((&unit_id, pdu)) => Ok(Self { unit_id, pdu }),
            None => Err(RtuError::TooShort { len: adu.len() }),
        }
    }

    /// Append the frame with its correct CRC to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), RtuError> {
        self.check_len()?;
        let start = out.len();
        out.push(self.unit_id);
        out.extend_from_slice(self.pdu);
        let crc = crc16(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    /// Append the frame with `crc` in place of the real CRC, for fault injection.
    pub fn encode_with_crc(&self, crc: u16, out: &mut Vec<u8>) -> Result<(), RtuError> {
        self.check_len()?;
        out.push(self.unit_id);
        out.extend_from_slice(self.pdu);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    fn check_len(&self) -> Result<(), RtuError> {
        if self.pdu.len() > MAX_PDU_LEN {
            return Err(RtuError::TooLong {
                len: self.pdu.len() + 3,
            });
        }
        Ok(())
    }
}

/// Cut the first frame off `buf`, which holds bytes sent by `direction`'s side.
///
/// Returns `Ok(None)` when more bytes are needed, or the frame and the number of bytes it
/// used. The PDU is not parsed beyond its length; see [`decode_request`] and
/// [`decode_response`].
pub fn decode_stream(
    buf: &[u8],
    direction: Direction,
) -> Result<Option<(RtuFrame<'_>, usize)>, RtuError> {
    let pdu_prefix = buf.get(1..).unwrap_or_default();
    let pdu_len = match direction {
        Direction::Request => pdu::request_len(pdu_prefix)?,
        Direction::Response => pdu::response_len(pdu_prefix)?,
    };
    let Some(pdu_len) = pdu_len else {
        return Ok(None);
    };
    let len = pdu_len + 3;
    if len > MAX_ADU_LEN {
        return Err(RtuError::TooLong { len });
    }
    match buf.get(..len) {
        Some(adu) => Ok(Some((RtuFrame::decode(adu)?, len))),
        None => Ok(None),
    }
}

/// Cut the first request off a client's byte stream and parse it: `(unit id, request, bytes
/// used)`, or `Ok(None)` when more bytes are needed.
pub fn decode_request(buf: &[u8]) -> Result<Option<(u8, Request, usize)>, RtuError> {
    let Some((frame, used)) = decode_stream(buf, Direction::Request)? else {
        return Ok(None);
    };
    Ok(Some((frame.unit_id, Request::decode(frame.pdu)?, used)))
}

/// Cut the first response off a server's byte stream and parse it: `(unit id, response, bytes
/// used)`, or `Ok(None)` when more bytes are needed.
pub fn decode_response(buf: &[u8]) -> Result<Option<(u8, Response, usize)>, RtuError> {
    let Some((frame, used)) = decode_stream(buf, Direction::Response)? else {
        return Ok(None);
    };
    Ok(Some((frame.unit_id, Response::decode(frame.pdu)?, used)))
}

/// Append a complete request frame for `unit_id` to `out`.
pub fn encode_request(unit_id: u8, request: &Request, out: &mut Vec<u8>) -> Result<(), RtuError> {
    let mut pdu = Vec::with_capacity(request.encoded_len());
    request.encode(&mut pdu)?;
    RtuFrame { unit_id, pdu: &pdu }.encode(out)
}

/// Append a complete response frame from `unit_id` to `out`.
pub fn encode_response(
    unit_id: u8,
    response: &Response,
    out: &mut Vec<u8>,
) -> Result<(), RtuError> {
    let mut pdu = Vec::with_capacity(response.encoded_len());
    response.encode(&mut pdu)?;
    RtuFrame { unit_id, pdu: &pdu }.encode(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::exception::ExceptionCode;
    use crate::modbus::pdu::FunctionCode;
    use proptest::prelude::*;

    /// EN+'s captured DJSF1352 voltage/current reply (reference §1.1).
    const EN_PLUS_REPLY: [u8; 17] = [
        0x01, // unit id
        0x03, // function: read holding registers
        0x0C, // byte count 12
        0x00, 0x00, // U mantissa 0
        0x00, 0x03, // DPT 3
        0x00, 0x00, // I mantissa 0
        0x00, 0x02, // DCT 2
        0x00, 0x00, // break-line: OK
        0x01, 0x4D, // temperature 333 = 33.3 °C
        0x3F, 0xE5, // CRC, low byte first
    ];

    #[test]
    fn well_known_request_encodes_with_crc() {
        let mut out = Vec::new();
        let request = Request::ReadHoldingRegisters {
            address: 0,
            quantity: 10,
        };
        encode_request(1, &request, &mut out).unwrap();
        assert_eq!(out, [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]);
        assert_eq!(decode_request(&out), Ok(Some((1, request, 8))));
    }

    #[test]
    fn captured_reply_decodes() {
        let (unit, response, used) = decode_response(&EN_PLUS_REPLY).unwrap().unwrap();
        assert_eq!((unit, used), (1, 17));
        assert_eq!(
            response,
            Response::ReadHoldingRegisters(vec![0, 3, 0, 2, 0, 0x014D])
        );
        let mut out = Vec::new();
        encode_response(1, &response, &mut out).unwrap();
        assert_eq!(out, EN_PLUS_REPLY);
    }

    #[test]
    fn partial_frames_need_more_bytes() {
        for len in 0..EN_PLUS_REPLY.len() {
            assert_eq!(
                decode_response(&EN_PLUS_REPLY[..len]),
                Ok(None),
                "prefix of {len}"
            );
        }
        let request = [0x01, 0x10, 0x00, 0x1E, 0x00, 0x03, 0x06, 0x17, 0x03];
        assert_eq!(decode_request(&request), Ok(None));
    }

    #[test]
    fn trailing_bytes_stay_in_the_buffer() {
        let mut stream = EN_PLUS_REPLY.to_vec();
        stream.extend_from_slice(&[0x01, 0x03]);
        let (_, _, used) = decode_response(&stream).unwrap().unwrap();
        assert_eq!(&stream[used..], &[0x01, 0x03]);
    }

    #[test]
    fn corrupted_crc_is_reported() {
        let mut frame = EN_PLUS_REPLY;
        frame[16] ^= 0x01;
        assert_eq!(
            decode_response(&frame),
            Err(RtuError::BadCrc {
                computed: 0xE53F,
                received: 0xE43F
            })
        );
        let mut frame = EN_PLUS_REPLY;
        frame[8] ^= 0x10; // a flipped data bit
        assert!(matches!(
            decode_response(&frame),
            Err(RtuError::BadCrc { .. })
        ));
    }

    #[test]
    fn fault_injection_writes_the_given_crc() {
        let mut out = Vec::new();
        RtuFrame {
            unit_id: 1,
            pdu: &[0x03, 0x00, 0x00, 0x00, 0x0A],
        }
        .encode_with_crc(0xBEEF, &mut out)
        .unwrap();
        assert_eq!(out, [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xEF, 0xBE]);
        assert_eq!(
            RtuFrame::decode(&out),
            Err(RtuError::BadCrc {
                computed: 0xCDC5,
                received: 0xBEEF
            })
        );
    }

    #[test]
    fn garbage_and_bad_functions() {
        // Unknown function code: the length cannot be known.
        assert_eq!(
            decode_request(&[0x01, 0x2B, 0x0E]),
            Err(RtuError::Pdu(PduError::UnsupportedFunction {
                function: 0x2B
            }))
        );
        // A byte count implying a 264-byte frame.
        assert_eq!(
            decode_request(&[0x01, 0x10, 0x00, 0x00, 0x00, 0x7F, 0xFF]),
            Err(RtuError::TooLong { len: 264 })
        );
        assert_eq!(
            RtuFrame::decode(&[0x01, 0x03, 0x00]),
            Err(RtuError::TooShort { len: 3 })
        );
        assert_eq!(
            RtuFrame::decode(&[0; 300]),
            Err(RtuError::TooLong { len: 300 })
        );
        // A well-framed request with a bad quantity surfaces the PDU error.
        let mut out = Vec::new();
        RtuFrame {
            unit_id: 7,
            pdu: &[0x03, 0x00, 0x00, 0x00, 0x00],
        }
        .encode(&mut out)
        .unwrap();
        let err = decode_request(&out).unwrap_err();
        assert_eq!(
            err,
            RtuError::Pdu(PduError::QuantityOutOfRange {
                function: 3,
                quantity: 0,
                max: 125
            })
        );
    }

    #[test]
    fn exception_frame() {
        let mut out = Vec::new();
        let response = Response::exception(
            FunctionCode::ReadInputRegisters,
            ExceptionCode::IllegalDataAddress,
        );
        encode_response(1, &response, &mut out).unwrap();
        assert_eq!(&out[..3], &[0x01, 0x84, 0x02]);
        assert_eq!(decode_response(&out), Ok(Some((1, response, 5))));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            for direction in [Direction::Request, Direction::Response] {
                if let Ok(Some((frame, used))) = decode_stream(&bytes, direction) {
                    prop_assert!(used <= bytes.len());
                    prop_assert_eq!(frame.pdu.len() + 3, used);
                }
            }
            let _ = decode_request(&bytes);
            let _ = decode_response(&bytes);
            let _ = RtuFrame::decode(&bytes);
        }

        #[test]
        fn valid_frames_with_random_crc_are_rejected_unless_equal(
            unit in any::<u8>(),
            address in any::<u16>(),
            crc in any::<u16>(),
        ) {
            let pdu = [0x04, (address >> 8) as u8, address as u8, 0x00, 0x02];
            let mut out = Vec::new();
            RtuFrame { unit_id: unit, pdu: &pdu }.encode_with_crc(crc, &mut out).unwrap();
            let good = crc16(&out[..6]);
            let result = RtuFrame::decode(&out);
            if crc == good {
                prop_assert_eq!(result, Ok(RtuFrame { unit_id: unit, pdu: &pdu }));
            } else {
                prop_assert_eq!(result, Err(RtuError::BadCrc { computed: good, received: crc }));
            }
        }
    }
}
