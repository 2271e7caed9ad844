//! Per-message length, period, priority and receive timeout (gbt27930.md §2, §4, §5).
//!
//! The state machines read these instead of hard-coding numbers. Timeouts are the ones the
//! *receiving* peer checks; the phase-relative ones that do not fit a single number (30 s
//! from the first CHM to CRM, 60 s for BRO/CRO = 0xAA) are separate constants.

use crate::gbt27930::id::{Node, Pgn};

/// The static facts about one GB/T 27930 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MessageSpec {
    /// The message.
    pub pgn: Pgn,
    /// The node that sends it.
    pub sender: Node,
    /// Default J1939 priority.
    pub priority: u8,
    /// Defined data length in bytes (the maximum for BMV/BMT/BSP).
    pub length_bytes: usize,
    /// Shortest payload the decoder accepts (2011 and real-device forms, §6.3).
    pub min_length_bytes: usize,
    /// Whether the sender uses the J1939 transport protocol (length above 8, or BMV/BMT/BSP).
    pub multi_packet: bool,
    /// Transmission period in milliseconds (for TP messages, the period of the whole packet).
    pub period_ms: u32,
    /// Receive timeout the peer checks, in milliseconds; `None` if the peer checks none.
    pub timeout_ms: Option<u32>,
    /// The BEM/CEM SPN the peer raises when that timeout expires.
    pub timeout_spn: Option<u16>,
}

/// The BMS's wait for the first CRM after the first CHM (30 s, §4.3 B1, \[L\] A.6).
pub const CRM_AFTER_CHM_TIMEOUT_MS: u32 = 30_000;
/// The BMS's wait for a CRM when no CHM ever arrives (2011 charger, 60 s from start).
pub const CRM_WITHOUT_CHM_TIMEOUT_MS: u32 = 60_000;
/// The wait for BRO = 0xAA (charger) or CRO = 0xAA (BMS) once the first one arrived (60 s).
pub const READY_TIMEOUT_MS: u32 = 60_000;
/// The charger pauses at most this long on BSM SPN3096 = 00 before it stops (10 min).
pub const PAUSE_LIMIT_MS: u32 = 600_000;
/// The default timeout of chapter 8 when the standard names no other value.
pub const DEFAULT_TIMEOUT_MS: u32 = 5_000;

/// Builds a [`MessageSpec`] row.
const fn row(
    pgn: Pgn,
    length_bytes: usize,
    min_length_bytes: usize,
    multi_packet: bool,
    period_ms: u32,
    timeout_ms: Option<u32>,
    timeout_spn: Option<u16>,
) -> MessageSpec {
    let sender = match pgn.sender() {
        Some(node) => node,
        None => Node::Bms,
    };
    MessageSpec {
        pgn,
        sender,
        priority: pgn.default_priority(),
        length_bytes,
        min_length_bytes,
        multi_packet,
        period_ms,
        timeout_ms,
        timeout_spn,
    }
}

/// The table row for `pgn`; `None` for the transport PGNs TP.CM and TP.DT.
///
/// CRM's row holds the 5 s CRM(0xAA) timeout (SPN3902); the first CRM uses
/// [`CRM_AFTER_CHM_TIMEOUT_MS`] (SPN3901). BRO/CRO hold the 5 s "any BRO/CRO" timeout;
/// the ready value uses [`READY_TIMEOUT_MS`]. BHM's 5 s timeout sends the charger down the
/// 2011 path rather than raising an error, hence no SPN.
pub const fn spec(pgn: Pgn) -> Option<MessageSpec> {
    const S5: Option<u32> = Some(DEFAULT_TIMEOUT_MS);
    Some(match pgn {
        Pgn::Chm => row(pgn, 3, 3, false, 250, None, None),
        Pgn::Bhm => row(pgn, 2, 2, false, 250, S5, None),
        Pgn::Crm => row(pgn, 8, 8, false, 250, S5, Some(3902)),
        Pgn::Brm => row(pgn, 49, 8, true, 250, S5, Some(3921)),
        Pgn::Bcp => row(pgn, 13, 13, true, 500, S5, Some(3922)),
        Pgn::Cts => row(pgn, 7, 0, false, 500, S5, Some(3903)),
        Pgn::Cml => row(pgn, 8, 6, false, 250, S5, Some(3903)),
        Pgn::Bro => row(pgn, 1, 1, false, 250, S5, Some(3923)),
        Pgn::Cro => row(pgn, 1, 1, false, 250, S5, Some(3904)),
        Pgn::Bcl => row(pgn, 5, 5, false, 50, Some(1_000), Some(3925)),
        Pgn::Bcs => row(pgn, 9, 8, true, 250, S5, Some(3924)),
        Pgn::Ccs => row(pgn, 8, 6, false, 50, Some(1_000), Some(3905)),
        Pgn::Bsm => row(pgn, 7, 7, false, 250, None, None),
        Pgn::Bmv => row(pgn, 512, 0, true, 10_000, None, None),
        Pgn::Bmt => row(pgn, 128, 0, true, 10_000, None, None),
        Pgn::Bsp => row(pgn, 16, 0, true, 10_000, None, None),
        Pgn::Bst => row(pgn, 4, 4, false, 10, S5, Some(3926)),
        Pgn::Cst => row(pgn, 4, 4, false, 10, S5, Some(3906)),
        Pgn::Bsd => row(pgn, 7, 7, false, 250, Some(10_000), Some(3927)),
        Pgn::Csd => row(pgn, 8, 5, false, 250, Some(10_000), Some(3907)),
        Pgn::Bem => row(pgn, 4, 4, false, 250, None, None),
        Pgn::Cem => row(pgn, 4, 4, false, 250, None, None),
        Pgn::TpCm | Pgn::TpDt => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_a_row_and_tp_has_none() {
        for pgn in Pgn::MESSAGES {
            let s = spec(pgn).unwrap();
            assert_eq!(s.pgn, pgn);
            assert_eq!(Some(s.sender), pgn.sender());
            assert!(s.min_length_bytes <= s.length_bytes);
            // TP is used exactly for messages above 8 bytes plus the variable BMV/BMT/BSP.
            assert_eq!(s.multi_packet, s.length_bytes > 8, "{pgn}");
        }
        assert_eq!(spec(Pgn::TpCm), None);
        assert_eq!(spec(Pgn::TpDt), None);
    }

    #[test]
    fn periods_and_lengths_match_the_conformance_tester() {
        // [SA] expected periods (§5).
        let p = |pgn| spec(pgn).unwrap().period_ms;
        for pgn in [Pgn::Bhm, Pgn::Chm, Pgn::Crm, Pgn::Brm, Pgn::Cml, Pgn::Bro] {
            assert_eq!(p(pgn), 250);
        }
        assert_eq!(p(Pgn::Bcp), 500);
        assert_eq!(p(Pgn::Cts), 500);
        assert_eq!(p(Pgn::Bcl), 50);
        assert_eq!(p(Pgn::Ccs), 50);
        assert_eq!(p(Pgn::Bst), 10);
        assert_eq!(p(Pgn::Cst), 10);
        let s = spec(Pgn::Bcl).unwrap();
        assert_eq!(
            (s.timeout_ms, s.timeout_spn, s.priority),
            (Some(1000), Some(3925), 6)
        );
        assert_eq!(spec(Pgn::Bem).unwrap().priority, 2);
        assert_eq!(spec(Pgn::Brm).unwrap().length_bytes, 49);
    }
}
