//! Error messages: BEM and CEM (gbt27930.md §3.18–3.19), one 2-bit timeout flag per
//! monitored message (`00` normal, `01` timeout, `10` untrusted).

use super::codec::fixed_message;
use super::fields::{Status2, pack4};
use crate::gbt27930::id::Pgn;

/// BEM, BMS error (PGN 0x1E00, 4 bytes, 250 ms, priority 2): which charger message timed out.
///
/// The all-normal value encodes to the idle pattern `F0 F0 F0 FC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Bem {
    /// SPN3901 (1.1–1.2): timeout receiving CRM with SPN2560 = 0x00.
    pub crm_00_timeout: Status2,
    /// SPN3902 (1.3–1.4): timeout receiving CRM with SPN2560 = 0xAA.
    pub crm_aa_timeout: Status2,
    /// SPN3903 (2.1–2.2): timeout receiving CTS and CML.
    pub cts_cml_timeout: Status2,
    /// SPN3904 (2.3–2.4): timeout receiving CRO.
    pub cro_timeout: Status2,
    /// SPN3905 (3.1–3.2): timeout receiving CCS.
    pub ccs_timeout: Status2,
    /// SPN3906 (3.3–3.4): timeout receiving CST.
    pub cst_timeout: Status2,
    /// SPN3907 (4.1–4.2): timeout receiving CSD.
    pub csd_timeout: Status2,
    /// Byte 4 bits 3–8, "other" (optional, 6 bits; 0x3F = not used).
    pub other: u8,
}

impl Default for Bem {
    /// No timeout, "other" filled with 1: `F0 F0 F0 FC`.
    fn default() -> Bem {
        Bem {
            crm_00_timeout: Status2::Normal,
            crm_aa_timeout: Status2::Normal,
            cts_cml_timeout: Status2::Normal,
            cro_timeout: Status2::Normal,
            ccs_timeout: Status2::Normal,
            cst_timeout: Status2::Normal,
            csd_timeout: Status2::Normal,
            other: 0x3F,
        }
    }
}

impl Bem {
    fn to_bytes(self) -> [u8; 4] {
        [
            pack4(self.crm_00_timeout.bits(), self.crm_aa_timeout.bits(), 3, 3),
            pack4(self.cts_cml_timeout.bits(), self.cro_timeout.bits(), 3, 3),
            pack4(self.ccs_timeout.bits(), self.cst_timeout.bits(), 3, 3),
            self.csd_timeout.bits() | (self.other & 0x3F) << 2,
        ]
    }

    fn from_bytes(b: &[u8; 4]) -> Bem {
        Bem {
            crm_00_timeout: Status2::from_bits(b[0], 0),
            crm_aa_timeout: Status2::from_bits(b[0], 2),
            cts_cml_timeout: Status2::from_bits(b[1], 0),
            cro_timeout: Status2::from_bits(b[1], 2),
            ccs_timeout: Status2::from_bits(b[2], 0),
            cst_timeout: Status2::from_bits(b[2], 2),
            csd_timeout: Status2::from_bits(b[3], 0),
            other: b[3] >> 2,
        }
    }
}
fixed_message!(Bem, Pgn::Bem, 4);

/// CEM, charger error (PGN 0x1F00, 4 bytes, 250 ms, priority 2): which BMS message timed out.
///
/// The all-normal value encodes to the idle pattern `FC F0 C0 FC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Cem {
    /// SPN3921 (1.1–1.2): timeout receiving BRM.
    pub brm_timeout: Status2,
    /// SPN3922 (2.1–2.2): timeout receiving BCP.
    pub bcp_timeout: Status2,
    /// SPN3923 (2.3–2.4): timeout receiving BRO.
    pub bro_timeout: Status2,
    /// SPN3924 (3.1–3.2): timeout receiving BCS.
    pub bcs_timeout: Status2,
    /// SPN3925 (3.3–3.4): timeout receiving BCL.
    pub bcl_timeout: Status2,
    /// SPN3926 (3.5–3.6): timeout receiving BST.
    pub bst_timeout: Status2,
    /// SPN3927 (4.1–4.2): timeout receiving BSD.
    pub bsd_timeout: Status2,
    /// Byte 4 bits 3–8, "other" (optional, 6 bits; 0x3F = not used).
    pub other: u8,
}

impl Default for Cem {
    /// No timeout, "other" filled with 1: `FC F0 C0 FC`.
    fn default() -> Cem {
        Cem {
            brm_timeout: Status2::Normal,
            bcp_timeout: Status2::Normal,
            bro_timeout: Status2::Normal,
            bcs_timeout: Status2::Normal,
            bcl_timeout: Status2::Normal,
            bst_timeout: Status2::Normal,
            bsd_timeout: Status2::Normal,
            other: 0x3F,
        }
    }
}

impl Cem {
    fn to_bytes(self) -> [u8; 4] {
        [
            pack4(self.brm_timeout.bits(), 3, 3, 3),
            pack4(self.bcp_timeout.bits(), self.bro_timeout.bits(), 3, 3),
            pack4(
                self.bcs_timeout.bits(),
                self.bcl_timeout.bits(),
                self.bst_timeout.bits(),
                3,
            ),
            self.bsd_timeout.bits() | (self.other & 0x3F) << 2,
        ]
    }

    fn from_bytes(b: &[u8; 4]) -> Cem {
        Cem {
            brm_timeout: Status2::from_bits(b[0], 0),
            bcp_timeout: Status2::from_bits(b[1], 0),
            bro_timeout: Status2::from_bits(b[1], 2),
            bcs_timeout: Status2::from_bits(b[2], 0),
            bcl_timeout: Status2::from_bits(b[2], 2),
            bst_timeout: Status2::from_bits(b[2], 4),
            bsd_timeout: Status2::from_bits(b[3], 0),
            other: b[3] >> 2,
        }
    }
}
fixed_message!(Cem, Pgn::Cem, 4);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbt27930::msg::GbtMessage;

    fn enc<M: GbtMessage>(m: &M) -> [u8; 4] {
        let mut out = [0u8; 4];
        assert_eq!(m.encode(&mut out), Ok(4));
        out
    }

    #[test]
    fn idle_patterns() {
        assert_eq!(enc(&Bem::default()), [0xF0, 0xF0, 0xF0, 0xFC]);
        assert_eq!(enc(&Cem::default()), [0xFC, 0xF0, 0xC0, 0xFC]);
    }

    #[test]
    fn real_bem_frames_of_the_failed_session() {
        // [T2] candump2: F4 F0 F0 FC = CRM(0xAA) timeout; F0 F1 F0 FC = CTS/CML timeout.
        let crm = Bem::decode(&[0xF4, 0xF0, 0xF0, 0xFC]).unwrap();
        assert_eq!(
            crm,
            Bem {
                crm_aa_timeout: Status2::Active,
                ..Bem::default()
            }
        );
        assert_eq!(enc(&crm), [0xF4, 0xF0, 0xF0, 0xFC]);
        let cml = Bem::decode(&[0xF0, 0xF1, 0xF0, 0xFC]).unwrap();
        assert_eq!(cml.cts_cml_timeout, Status2::Active);
        assert_eq!(enc(&cml), [0xF0, 0xF1, 0xF0, 0xFC]);
    }

    #[test]
    fn cem_bcl_timeout_example() {
        // §3.19: BCL timeout = FC F0 C4 FC.
        let cem = Cem {
            bcl_timeout: Status2::Active,
            ..Cem::default()
        };
        assert_eq!(enc(&cem), [0xFC, 0xF0, 0xC4, 0xFC]);
        assert_eq!(Cem::decode(&[0xFC, 0xF0, 0xC4, 0xFC]).unwrap(), cem);
        let all = Cem {
            brm_timeout: Status2::Active,
            bcp_timeout: Status2::Active,
            bro_timeout: Status2::Active,
            bcs_timeout: Status2::Active,
            bcl_timeout: Status2::Active,
            bst_timeout: Status2::Active,
            bsd_timeout: Status2::Active,
            other: 0,
        };
        assert_eq!(enc(&all), [0xFD, 0xF5, 0xD5, 0x01]);
    }
}
