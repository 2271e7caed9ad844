//! Charging-phase messages: BCL, BCS, CCS, BSM (gbt27930.md §3.9–3.12).
//!
//! These are the periodic messages of the charging phase (50–250 ms); they encode and
//! decode without allocating.

use super::codec::{GbtDecodeError, GbtEncodeError, GbtMessage, fixed_message, head, head_mut};
use super::fields::{
    ChargingMode, ChargingPermit, Level2, Status2, centi_from_raw, centi_to_raw, current_from_raw,
    current_to_raw, deci_from_raw, deci_to_raw, le16, pack4, temperature_from_raw,
    temperature_to_raw,
};
use crate::gbt27930::id::Pgn;

/// BCL, battery charging demand (PGN 0x1000, 5 bytes, 50 ms).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bcl {
    /// Voltage demand (SPN3072), 0.1 V/bit.
    pub voltage_demand_v: f64,
    /// Current demand (SPN3073), 0.1 A/bit, −400 A offset; charging positive.
    pub current_demand_a: f64,
    /// Charging mode (SPN3074): 0x01 constant voltage, 0x02 constant current.
    pub mode: ChargingMode,
}

impl Bcl {
    fn to_bytes(self) -> [u8; 5] {
        let v = deci_to_raw(self.voltage_demand_v).to_le_bytes();
        let a = current_to_raw(self.current_demand_a).to_le_bytes();
        [v[0], v[1], a[0], a[1], self.mode.to_u8()]
    }

    fn from_bytes(b: &[u8; 5]) -> Bcl {
        Bcl {
            voltage_demand_v: deci_from_raw(le16(b[0], b[1])),
            current_demand_a: current_from_raw(le16(b[2], b[3])),
            mode: ChargingMode::from_u8(b[4]),
        }
    }
}
fixed_message!(Bcl, Pgn::Bcl, 5);

/// BCS, battery charging status (PGN 0x1100, 9 bytes via TP, 250 ms).
///
/// Some BMSs send it as a single 8-byte frame without the high byte of the remaining time
/// (lonlionl's simulator); that form decodes with `remaining_min` read from byte 8 alone.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bcs {
    /// Measured charging voltage (SPN3075), 0.1 V/bit.
    pub voltage_v: f64,
    /// Measured charging current (SPN3076), 0.1 A/bit, −400 A offset; charging positive.
    pub current_a: f64,
    /// Highest cell voltage (SPN3077 bits 1–12), 0.01 V/bit, 0…40.95 V.
    pub max_cell_voltage_v: f64,
    /// Group number of that cell (SPN3077 bits 13–16), 0–15, shown raw (§6.3).
    pub max_cell_group: u8,
    /// State of charge (SPN3078), 1 %/bit.
    pub soc_pct: u8,
    /// Estimated remaining charging time (SPN3079), 1 min/bit; BMSs send 600 above 600.
    pub remaining_min: u16,
}

/// Packs a cell voltage and its group into the 16-bit BCS/BMV cell field.
pub(crate) fn cell_to_raw(voltage_v: f64, group: u8) -> u16 {
    centi_to_raw(voltage_v, 0x0FFF) | u16::from(group & 0x0F) << 12
}

/// Splits a 16-bit BCS/BMV cell field into voltage and group.
pub(crate) fn cell_from_raw(raw: u16) -> (f64, u8) {
    (centi_from_raw(raw & 0x0FFF), (raw >> 12) as u8)
}

impl Bcs {
    /// The defined length.
    pub const LEN: usize = 9;
    /// The single-frame form some BMSs send.
    pub const LEN_SINGLE_FRAME: usize = 8;
}

impl GbtMessage for Bcs {
    const PGN: Pgn = Pgn::Bcs;

    fn encoded_len(&self) -> usize {
        Self::LEN
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError> {
        let v = deci_to_raw(self.voltage_v).to_le_bytes();
        let a = current_to_raw(self.current_a).to_le_bytes();
        let cell = cell_to_raw(self.max_cell_voltage_v, self.max_cell_group).to_le_bytes();
        let t = self.remaining_min.to_le_bytes();
        *head_mut::<9>(Pgn::Bcs, out)? = [
            v[0],
            v[1],
            a[0],
            a[1],
            cell[0],
            cell[1],
            self.soc_pct,
            t[0],
            t[1],
        ];
        Ok(Self::LEN)
    }

    fn decode(bytes: &[u8]) -> Result<Bcs, GbtDecodeError> {
        let b = head::<8>(Pgn::Bcs, bytes)?;
        let high = bytes.get(8).copied().unwrap_or(0);
        let (max_cell_voltage_v, max_cell_group) = cell_from_raw(le16(b[4], b[5]));
        Ok(Bcs {
            voltage_v: deci_from_raw(le16(b[0], b[1])),
            current_a: current_from_raw(le16(b[2], b[3])),
            max_cell_voltage_v,
            max_cell_group,
            soc_pct: b[6],
            remaining_min: le16(b[7], high),
        })
    }
}

/// CCS, charger charging status (PGN 0x1200, 8 bytes per table 19, 50 ms).
///
/// Real chargers send 7 bytes and GB/T 34658 DP.3001 expects 7 (gbt27930.md §6.3); byte 8
/// is pure fill, so a 7-byte CCS is the first 7 bytes of this encoding. 2011 chargers send 6
/// bytes without the charging-permitted field.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Ccs {
    /// Output voltage (SPN3081), 0.1 V/bit.
    pub voltage_v: f64,
    /// Output current (SPN3082), 0.1 A/bit, −400 A offset; charging positive.
    pub current_a: f64,
    /// Cumulative charging time (SPN3083), 1 min/bit, 0–600.
    pub charging_time_min: u16,
    /// Charging permitted (SPN3929, byte 7 bits 1–2): 00 paused, 01 permitted; added in
    /// 2015, `None` in the 6-byte 2011 CCS.
    pub charging_permitted: Option<ChargingPermit>,
}

impl Ccs {
    /// The defined length (table 19).
    pub const LEN: usize = 8;
    /// The length real chargers and GB/T 34658 DP.3001 use.
    pub const LEN_SHORT: usize = 7;
    /// The GB/T 27930-2011 length.
    pub const LEN_2011: usize = 6;

    fn base(&self) -> [u8; 6] {
        let v = deci_to_raw(self.voltage_v).to_le_bytes();
        let a = current_to_raw(self.current_a).to_le_bytes();
        let t = self.charging_time_min.to_le_bytes();
        [v[0], v[1], a[0], a[1], t[0], t[1]]
    }
}

impl GbtMessage for Ccs {
    const PGN: Pgn = Pgn::Ccs;

    fn encoded_len(&self) -> usize {
        if self.charging_permitted.is_some() {
            Self::LEN
        } else {
            Self::LEN_2011
        }
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError> {
        let base = self.base();
        match self.charging_permitted {
            Some(permit) => {
                let b = head_mut::<8>(Pgn::Ccs, out)?;
                b[..6].copy_from_slice(&base);
                // Bits 7.3–7.8 and byte 8 are undefined: fill with 1.
                b[6] = 0xFC | permit.bits();
                b[7] = 0xFF;
                Ok(Self::LEN)
            }
            None => {
                *head_mut::<6>(Pgn::Ccs, out)? = base;
                Ok(Self::LEN_2011)
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Ccs, GbtDecodeError> {
        let b = head::<6>(Pgn::Ccs, bytes)?;
        Ok(Ccs {
            voltage_v: deci_from_raw(le16(b[0], b[1])),
            current_a: current_from_raw(le16(b[2], b[3])),
            charging_time_min: le16(b[4], b[5]),
            charging_permitted: bytes.get(6).map(|&p| ChargingPermit::from_bits(p, 0)),
        })
    }
}

/// BSM, battery status (PGN 0x1300, 7 bytes, 250 ms; sent only after the first CCS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Bsm {
    /// Number of the cell with the highest voltage (SPN3085), 1…256 (wire: offset 1).
    pub max_cell_voltage_number: u16,
    /// Highest battery temperature (SPN3086), 1 °C/bit, −50 °C offset.
    pub max_temperature_c: i16,
    /// Sensor number of the highest temperature (SPN3087), 1…256 (wire: offset 1).
    pub max_temperature_sensor: u16,
    /// Lowest battery temperature (SPN3088), 1 °C/bit, −50 °C offset.
    pub min_temperature_c: i16,
    /// Sensor number of the lowest temperature (SPN3089), 1…256 (wire: offset 1).
    pub min_temperature_sensor: u16,
    /// Cell voltage too high / too low (SPN3090, byte 6 bits 1–2).
    pub cell_voltage: Level2,
    /// SOC too high / too low (SPN3091, byte 6 bits 3–4).
    pub soc: Level2,
    /// Charging over-current (SPN3092, byte 6 bits 5–6): 01 over-current, 10 untrusted.
    pub over_current: Status2,
    /// Battery over-temperature (SPN3093, byte 6 bits 7–8): 01 too high, 10 untrusted.
    pub over_temperature: Status2,
    /// Insulation (SPN3094, byte 7 bits 1–2): 01 abnormal, 10 untrusted.
    pub insulation: Status2,
    /// Output connector connection (SPN3095, byte 7 bits 3–4): 01 abnormal, 10 untrusted.
    pub output_connector: Status2,
    /// Charging permitted (SPN3096, byte 7 bits 5–6): 00 pause output, 01 permitted.
    pub charging_permitted: ChargingPermit,
}

/// Encodes a 1…256 number with offset 1 into a byte (0 saturates to 1, above 256 to 256).
fn offset1_to_raw(n: u16) -> u8 {
    (n.clamp(1, 256) - 1) as u8
}

impl Bsm {
    fn to_bytes(self) -> [u8; 7] {
        [
            offset1_to_raw(self.max_cell_voltage_number),
            temperature_to_raw(self.max_temperature_c),
            offset1_to_raw(self.max_temperature_sensor),
            temperature_to_raw(self.min_temperature_c),
            offset1_to_raw(self.min_temperature_sensor),
            pack4(
                self.cell_voltage.bits(),
                self.soc.bits(),
                self.over_current.bits(),
                self.over_temperature.bits(),
            ),
            // Bits 7.7–7.8 are undefined: fill with 1.
            pack4(
                self.insulation.bits(),
                self.output_connector.bits(),
                self.charging_permitted.bits(),
                0b11,
            ),
        ]
    }

    fn from_bytes(b: &[u8; 7]) -> Bsm {
        Bsm {
            max_cell_voltage_number: u16::from(b[0]) + 1,
            max_temperature_c: temperature_from_raw(b[1]),
            max_temperature_sensor: u16::from(b[2]) + 1,
            min_temperature_c: temperature_from_raw(b[3]),
            min_temperature_sensor: u16::from(b[4]) + 1,
            cell_voltage: Level2::from_bits(b[5], 0),
            soc: Level2::from_bits(b[5], 2),
            over_current: Status2::from_bits(b[5], 4),
            over_temperature: Status2::from_bits(b[5], 6),
            insulation: Status2::from_bits(b[6], 0),
            output_connector: Status2::from_bits(b[6], 2),
            charging_permitted: ChargingPermit::from_bits(b[6], 4),
        }
    }
}
fixed_message!(Bsm, Pgn::Bsm, 7);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcl_real_frames() {
        // [T2] D8 0F D0 07 02 = 405.6 V, 200 A, CC; [T1] A5 10 D8 0E 02 = 426.1 V, 20 A.
        let t2 = [0xD8, 0x0F, 0xD0, 0x07, 0x02];
        let bcl = Bcl::decode(&t2).unwrap();
        assert_eq!(
            bcl,
            Bcl {
                voltage_demand_v: 405.6,
                current_demand_a: 200.0,
                mode: ChargingMode::ConstantCurrent,
            }
        );
        let mut out = [0u8; 5];
        assert_eq!(bcl.encode(&mut out), Ok(5));
        assert_eq!(out, t2);
        assert_eq!(
            Bcl::decode(&[0xA5, 0x10, 0xD8, 0x0E, 0x02])
                .unwrap()
                .current_demand_a,
            20.0
        );
        // [WG] pads BCL to DLC 8: 98 0D 10 0E 01 00 00 00.
        let padded = Bcl::decode(&[0x98, 0x0D, 0x10, 0x0E, 0x01, 0, 0, 0]).unwrap();
        assert_eq!(padded.voltage_demand_v, 348.0);
        assert_eq!(padded.current_demand_a, 40.0);
        assert_eq!(padded.mode, ChargingMode::ConstantVoltage);
    }

    #[test]
    fn bcs_real_tp_payload_and_single_frame_form() {
        // [T2] BCS via TP: DD 0D | 1C 0B | 73 41 | 23 | 56 00.
        let t2 = [0xDD, 0x0D, 0x1C, 0x0B, 0x73, 0x41, 0x23, 0x56, 0x00];
        let bcs = Bcs::decode(&t2).unwrap();
        assert_eq!(
            bcs,
            Bcs {
                voltage_v: 354.9,
                current_a: 115.6,
                max_cell_voltage_v: 3.71,
                max_cell_group: 4,
                soc_pct: 35,
                remaining_min: 86,
            }
        );
        let mut out = [0u8; 9];
        assert_eq!(bcs.encode(&mut out), Ok(9));
        assert_eq!(out, t2);
        // The single 8-byte frame form decodes with the time's high byte missing.
        assert_eq!(Bcs::decode(&t2[..8]).unwrap(), bcs);
        assert!(Bcs::decode(&t2[..7]).is_err());
    }

    #[test]
    fn ccs_seven_byte_real_frames_and_fill() {
        // [T2] C0 0D 0E 0B 00 00 01 (DLC 7) = 352.0 V, 117.0 A, 0 min, permitted,
        // reserved bits sent as 0.
        let ccs = Ccs::decode(&[0xC0, 0x0D, 0x0E, 0x0B, 0x00, 0x00, 0x01]).unwrap();
        assert_eq!(
            ccs,
            Ccs {
                voltage_v: 352.0,
                current_a: 117.0,
                charging_time_min: 0,
                charging_permitted: Some(ChargingPermit::Permitted),
            }
        );
        // Re-encoded with the reserved bits filled with 1 (byte 7 = FD) and byte 8 = FF.
        let mut out = [0u8; 8];
        assert_eq!(ccs.encode(&mut out), Ok(8));
        assert_eq!(out, [0xC0, 0x0D, 0x0E, 0x0B, 0x00, 0x00, 0xFD, 0xFF]);
        // [T1] 24 0B A0 0F 00 00 FD: already filled, so the 7-byte prefix matches exactly.
        let t1 = [0x24, 0x0B, 0xA0, 0x0F, 0x00, 0x00, 0xFD];
        let mut out = [0u8; 8];
        Ccs::decode(&t1).unwrap().encode(&mut out).unwrap();
        assert_eq!(out[..Ccs::LEN_SHORT], t1);
        // 2011: 6 bytes and no permission field.
        let old = Ccs::decode(&t1[..6]).unwrap();
        assert_eq!(old.charging_permitted, None);
        assert_eq!(old.encoded_len(), 6);
    }

    #[test]
    fn ccs_cv_example_from_the_reference() {
        // §7.3 CV example: BE 0F AB 0E 23 00 FD FF = 403.0 V, 24.5 A, 35 min, permitted.
        let ccs = Ccs {
            voltage_v: 403.0,
            current_a: 24.5,
            charging_time_min: 35,
            charging_permitted: Some(ChargingPermit::Permitted),
        };
        let mut out = [0u8; 8];
        ccs.encode(&mut out).unwrap();
        assert_eq!(out, [0xBE, 0x0F, 0xAB, 0x0E, 0x23, 0x00, 0xFD, 0xFF]);
    }

    #[test]
    fn bsm_real_frames() {
        // [T2] 28 4F 03 4D 1A 00 D0: cell #41, 29 °C (#4), 27 °C (#27), permitted.
        let t2 = [0x28, 0x4F, 0x03, 0x4D, 0x1A, 0x00, 0xD0];
        let bsm = Bsm::decode(&t2).unwrap();
        assert_eq!(
            bsm,
            Bsm {
                max_cell_voltage_number: 41,
                max_temperature_c: 29,
                max_temperature_sensor: 4,
                min_temperature_c: 27,
                min_temperature_sensor: 27,
                cell_voltage: Level2::Normal,
                soc: Level2::Normal,
                over_current: Status2::Normal,
                over_temperature: Status2::Normal,
                insulation: Status2::Normal,
                output_connector: Status2::Normal,
                charging_permitted: ChargingPermit::Permitted,
            }
        );
        let mut out = [0u8; 7];
        bsm.encode(&mut out).unwrap();
        assert_eq!(out, t2);
        // [T1] 1E 36 06 35 0F 00 10: top bits sent as 0; permitted; 4 °C and 3 °C.
        let t1 = Bsm::decode(&[0x1E, 0x36, 0x06, 0x35, 0x0F, 0x00, 0x10]).unwrap();
        assert_eq!(t1.charging_permitted, ChargingPermit::Permitted);
        assert_eq!((t1.max_temperature_c, t1.min_temperature_c), (4, 3));
        t1.encode(&mut out).unwrap();
        assert_eq!(out[6], 0xD0, "undefined bits re-encode as 1");
    }

    #[test]
    fn cell_field_packs_voltage_and_group() {
        assert_eq!(cell_to_raw(3.71, 4), 0x4173);
        assert_eq!(cell_from_raw(0x4173), (3.71, 4));
        assert_eq!(cell_to_raw(50.0, 0x1F), 0xFFFF, "saturates and masks");
    }
}
