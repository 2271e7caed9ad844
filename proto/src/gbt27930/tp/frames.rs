//! TP.CM and TP.DT frame layouts (J1939-21 §5.10, gbt27930.md §1.4).

use crate::can::CanFrame;
use crate::gbt27930::id::Pgn;

use super::TpError;

/// Largest message the connection-mode transport carries: 255 packets × 7 bytes.
pub const TP_MAX_MESSAGE_SIZE: usize = 1785;
/// Smallest message a receiver accepts via TP; shorter ones fit one frame (\[SK\], \[LK\]).
pub const TP_MIN_MESSAGE_SIZE: usize = 9;
/// Payload bytes per TP.DT packet.
pub const TP_BYTES_PER_PACKET: usize = 7;
/// J1939 priority of TP.CM and TP.DT frames.
pub const TP_PRIORITY: u8 = 7;

/// Connection abort reason, TP.CM_Abort byte 2 (J1939-21 table 7, as listed in \[LK\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortReason {
    /// 1: already in one or more connection-managed sessions and cannot support another.
    AlreadyInSession,
    /// 2: system resources were needed for another task.
    ResourcesNeeded,
    /// 3: a timeout occurred.
    Timeout,
    /// 4: CTS received while a data transfer was in progress.
    CtsDuringTransfer,
    /// 5: maximum retransmit request limit reached.
    MaxRetransmit,
    /// 6: unexpected data transfer packet.
    UnexpectedDataPacket,
    /// 7: bad sequence number.
    BadSequence,
    /// 8: duplicate sequence number.
    DuplicateSequence,
    /// 9: total message size above 1785 bytes.
    MessageTooLarge,
    /// 250: other reason.
    Other,
    /// 255: not specified; what real GB/T BMSs and \[SK\] send (\[T2\] candump2).
    Unspecified,
    /// Any other byte, kept as received.
    Unknown(u8),
}

impl AbortReason {
    /// The reason for a wire byte.
    pub const fn from_u8(value: u8) -> AbortReason {
        match value {
            1 => AbortReason::AlreadyInSession,
            2 => AbortReason::ResourcesNeeded,
            3 => AbortReason::Timeout,
            4 => AbortReason::CtsDuringTransfer,
            5 => AbortReason::MaxRetransmit,
            6 => AbortReason::UnexpectedDataPacket,
            7 => AbortReason::BadSequence,
            8 => AbortReason::DuplicateSequence,
            9 => AbortReason::MessageTooLarge,
            250 => AbortReason::Other,
            255 => AbortReason::Unspecified,
            other => AbortReason::Unknown(other),
        }
    }

    /// The wire byte.
    pub const fn to_u8(self) -> u8 {
        match self {
            AbortReason::AlreadyInSession => 1,
            AbortReason::ResourcesNeeded => 2,
            AbortReason::Timeout => 3,
            AbortReason::CtsDuringTransfer => 4,
            AbortReason::MaxRetransmit => 5,
            AbortReason::UnexpectedDataPacket => 6,
            AbortReason::BadSequence => 7,
            AbortReason::DuplicateSequence => 8,
            AbortReason::MessageTooLarge => 9,
            AbortReason::Other => 250,
            AbortReason::Unspecified => 255,
            AbortReason::Unknown(other) => other,
        }
    }
}

/// A TP.CM (connection management, PGN 0xEC00) message. Bytes 6–8 carry the PGN of the
/// transported message, LSB first (BRM → `00 02 00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpCm {
    /// 0x10 request to send.
    Rts {
        /// Message size in bytes.
        total_size: u16,
        /// Number of TP.DT packets.
        total_packets: u8,
        /// Most packets the originator sends per CTS; 0xFF = no limit.
        max_packets_per_cts: u8,
        /// PGN of the transported message.
        pgn: u32,
    },
    /// 0x11 clear to send.
    Cts {
        /// Packets that may be sent now; 0 = hold the connection open.
        packets: u8,
        /// Sequence number of the next packet to send.
        next_packet: u8,
        /// PGN of the transported message.
        pgn: u32,
    },
    /// 0x13 end of message acknowledgement.
    EndOfMsgAck {
        /// Message size in bytes.
        total_size: u16,
        /// Number of packets.
        total_packets: u8,
        /// PGN of the transported message.
        pgn: u32,
    },
    /// 0xFF connection abort.
    Abort {
        /// Why the connection was aborted (GB/T devices often send 0xFF).
        reason: AbortReason,
        /// PGN of the transported message.
        pgn: u32,
    },
    /// 0x20 broadcast announce (not used by GB/T 27930; decoded so it can be ignored).
    Bam {
        /// Message size in bytes.
        total_size: u16,
        /// Number of packets.
        total_packets: u8,
        /// PGN of the transported message.
        pgn: u32,
    },
}

impl TpCm {
    /// The PGN of the transported message.
    pub const fn pgn(&self) -> u32 {
        match *self {
            TpCm::Rts { pgn, .. }
            | TpCm::Cts { pgn, .. }
            | TpCm::EndOfMsgAck { pgn, .. }
            | TpCm::Abort { pgn, .. }
            | TpCm::Bam { pgn, .. } => pgn,
        }
    }

    /// The 8 data bytes; unused bytes are 0xFF.
    pub const fn encode(&self) -> [u8; 8] {
        let p = self.pgn().to_le_bytes();
        let (control, b1, b2, b3, b4) = match *self {
            TpCm::Rts {
                total_size,
                total_packets,
                max_packets_per_cts,
                ..
            } => {
                let s = total_size.to_le_bytes();
                (0x10, s[0], s[1], total_packets, max_packets_per_cts)
            }
            TpCm::Cts {
                packets,
                next_packet,
                ..
            } => (0x11, packets, next_packet, 0xFF, 0xFF),
            TpCm::EndOfMsgAck {
                total_size,
                total_packets,
                ..
            } => {
                let s = total_size.to_le_bytes();
                (0x13, s[0], s[1], total_packets, 0xFF)
            }
            TpCm::Abort { reason, .. } => (0xFF, reason.to_u8(), 0xFF, 0xFF, 0xFF),
            TpCm::Bam {
                total_size,
                total_packets,
                ..
            } => {
                let s = total_size.to_le_bytes();
                (0x20, s[0], s[1], total_packets, 0xFF)
            }
        };
        [control, b1, b2, b3, b4, p[0], p[1], p[2]]
    }

    /// Parses the data bytes of a TP.CM frame; needs all 8 bytes.
    pub fn decode(bytes: &[u8]) -> Result<TpCm, TpError> {
        let b = bytes.first_chunk::<8>().ok_or(TpError::ShortFrame {
            pgn: Pgn::TpCm,
            len: bytes.len(),
        })?;
        let pgn = u32::from_le_bytes([b[5], b[6], b[7], 0]);
        let size = u16::from_le_bytes([b[1], b[2]]);
        Ok(match b[0] {
            0x10 => TpCm::Rts {
                total_size: size,
                total_packets: b[3],
                max_packets_per_cts: b[4],
                pgn,
            },
            0x11 => TpCm::Cts {
                packets: b[1],
                next_packet: b[2],
                pgn,
            },
            0x13 => TpCm::EndOfMsgAck {
                total_size: size,
                total_packets: b[3],
                pgn,
            },
            0xFF => TpCm::Abort {
                reason: AbortReason::from_u8(b[1]),
                pgn,
            },
            0x20 => TpCm::Bam {
                total_size: size,
                total_packets: b[3],
                pgn,
            },
            control => return Err(TpError::UnknownControl { control }),
        })
    }
}

/// A TP.DT (data transfer, PGN 0xEB00) packet: sequence number 1..=255 and 7 data bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TpDt {
    /// Sequence number, 1..=255.
    pub sequence: u8,
    /// Payload; the unused tail of the last packet is 0xFF on send (any value on receive).
    pub data: [u8; 7],
}

impl TpDt {
    /// The 8 data bytes.
    pub const fn encode(&self) -> [u8; 8] {
        let d = self.data;
        [self.sequence, d[0], d[1], d[2], d[3], d[4], d[5], d[6]]
    }

    /// Parses a TP.DT payload; a DLC below 8 is accepted, missing bytes read as 0xFF.
    pub fn decode(bytes: &[u8]) -> Result<TpDt, TpError> {
        let (&sequence, rest) = bytes.split_first().ok_or(TpError::ShortFrame {
            pgn: Pgn::TpDt,
            len: 0,
        })?;
        // A full packet (the common case) is one fixed-size copy.
        if let Some(full) = rest.first_chunk::<7>() {
            return Ok(TpDt {
                sequence,
                data: *full,
            });
        }
        let mut data = [0xFF; 7];
        for (dst, src) in data.iter_mut().zip(rest) {
            *dst = *src;
        }
        Ok(TpDt { sequence, data })
    }
}

/// Which transport PGN a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TpKind {
    /// TP.CM.
    Cm,
    /// TP.DT.
    Dt,
}

/// The kind of a TP frame sent from `remote` to `local`, or `None` for any other frame.
///
/// Priority is not checked (J1939 receivers ignore it); R and DP must be 0.
pub(crate) fn tp_kind(frame: &CanFrame, local: u8, remote: u8) -> Option<TpKind> {
    let raw = frame.id();
    if !frame.is_extended() || raw & 0x0300_0000 != 0 {
        return None;
    }
    if raw as u8 != remote || (raw >> 8) as u8 != local {
        return None;
    }
    match (raw >> 16) as u8 {
        0xEC => Some(TpKind::Cm),
        0xEB => Some(TpKind::Dt),
        _ => None,
    }
}

/// A TP frame of `kind` from `local` to `remote`.
pub(crate) fn tp_frame(kind: TpKind, local: u8, remote: u8, data: [u8; 8]) -> CanFrame {
    let pf: u32 = match kind {
        TpKind::Cm => 0xEC,
        TpKind::Dt => 0xEB,
    };
    let raw = u32::from(TP_PRIORITY) << 26 | pf << 16 | u32::from(remote) << 8 | u32::from(local);
    CanFrame::extended_8(raw, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_tp_cm_frames_decode_and_re_encode() {
        // [T1] BRM session: RTS 49 bytes / 7 packets / no limit; CTS 7 from #1; EOMA.
        let cases: [([u8; 8], TpCm); 5] = [
            (
                [0x10, 0x31, 0x00, 0x07, 0xFF, 0x00, 0x02, 0x00],
                TpCm::Rts {
                    total_size: 49,
                    total_packets: 7,
                    max_packets_per_cts: 0xFF,
                    pgn: 0x0200,
                },
            ),
            (
                [0x11, 0x07, 0x01, 0xFF, 0xFF, 0x00, 0x02, 0x00],
                TpCm::Cts {
                    packets: 7,
                    next_packet: 1,
                    pgn: 0x0200,
                },
            ),
            (
                [0x13, 0x31, 0x00, 0x07, 0xFF, 0x00, 0x02, 0x00],
                TpCm::EndOfMsgAck {
                    total_size: 49,
                    total_packets: 7,
                    pgn: 0x0200,
                },
            ),
            // [T2] candump2: the BMS aborts BRM with reason byte 0xFF.
            (
                [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x02, 0x00],
                TpCm::Abort {
                    reason: AbortReason::Unspecified,
                    pgn: 0x0200,
                },
            ),
            // [T2] candump2: BCP RTS with at most 2 packets per CTS.
            (
                [0x10, 0x0D, 0x00, 0x02, 0x02, 0x00, 0x06, 0x00],
                TpCm::Rts {
                    total_size: 13,
                    total_packets: 2,
                    max_packets_per_cts: 2,
                    pgn: 0x0600,
                },
            ),
        ];
        for (bytes, cm) in cases {
            assert_eq!(TpCm::decode(&bytes), Ok(cm));
            assert_eq!(cm.encode(), bytes);
        }
    }

    #[test]
    fn malformed_cm_and_dt() {
        assert_eq!(
            TpCm::decode(&[0x10, 0x31]),
            Err(TpError::ShortFrame {
                pgn: Pgn::TpCm,
                len: 2
            })
        );
        assert_eq!(
            TpCm::decode(&[0x42, 0, 0, 0, 0, 0, 0, 0]),
            Err(TpError::UnknownControl { control: 0x42 })
        );
        assert!(TpDt::decode(&[]).is_err());
        assert_eq!(
            TpDt::decode(&[0x02, 0x56, 0x00]).unwrap(),
            TpDt {
                sequence: 2,
                data: [0x56, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
            }
        );
    }

    #[test]
    fn abort_reasons_round_trip() {
        for b in 0..=255u8 {
            assert_eq!(AbortReason::from_u8(b).to_u8(), b);
        }
    }

    #[test]
    fn frame_addressing() {
        let f = tp_frame(TpKind::Cm, 0x56, 0xF4, [0x11; 8]);
        assert_eq!(f.id(), 0x1CECF456);
        assert_eq!(tp_kind(&f, 0xF4, 0x56), Some(TpKind::Cm));
        assert_eq!(tp_kind(&f, 0x56, 0xF4), None, "own frame is not for us");
        let dt = tp_frame(TpKind::Dt, 0xF4, 0x56, [0; 8]);
        assert_eq!(dt.id(), 0x1CEB56F4);
        let dp = CanFrame::new(0x1DEB56F4, &[0; 8]).unwrap();
        assert_eq!(tp_kind(&dp, 0x56, 0xF4), None);
    }
}
