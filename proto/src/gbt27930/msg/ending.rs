//! End-of-charge messages: BST, CST, BSD, CSD (gbt27930.md §3.14–3.17).
//!
//! BST and CST are 4 bytes of 2-bit fields, the first field of each byte at bits 1–2 (LSB
//! first): a BST "charger stopped" is `40 00 00 F0`, a manual-stop CST is `04 00 F0 F0`.
//! Reserved bits are filled with 1 on send and ignored on receive (real BMSs send
//! `40 00 00 00`).

use super::codec::{GbtDecodeError, GbtEncodeError, GbtMessage, fixed_message, head, head_mut};
use super::fields::{
    Status2, centi_from_raw, centi_to_raw, deci_from_raw, deci_to_raw, le16, pack4,
    temperature_from_raw, temperature_to_raw,
};
use crate::gbt27930::id::Pgn;

/// Why the BMS stops (BST byte 1, SPN3511).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct BstReason {
    /// 1.1–1.2: required SOC target reached.
    pub soc_target_reached: Status2,
    /// 1.3–1.4: total-voltage setpoint reached.
    pub total_voltage_reached: Status2,
    /// 1.5–1.6: cell-voltage setpoint reached.
    pub cell_voltage_reached: Status2,
    /// 1.7–1.8: the charger stopped (CST received).
    pub charger_stopped: Status2,
}

/// BMS fault that caused the stop (BST bytes 2–3, SPN3512).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct BstFault {
    /// 2.1–2.2: insulation fault.
    pub insulation: Status2,
    /// 2.3–2.4: output connector over-temperature.
    pub output_connector_over_temperature: Status2,
    /// 2.5–2.6: BMS component / output connector over-temperature.
    pub bms_component_over_temperature: Status2,
    /// 2.7–2.8: charging connector fault.
    pub charging_connector: Status2,
    /// 3.1–3.2: battery pack over-temperature.
    pub battery_over_temperature: Status2,
    /// 3.3–3.4: high-voltage relay fault.
    pub high_voltage_relay: Status2,
    /// 3.5–3.6: detection point 2 (CC2) voltage fault.
    pub detection_point_2_voltage: Status2,
    /// 3.7–3.8: other fault.
    pub other: Status2,
}

/// BMS error that caused the stop (BST byte 4 bits 1–4, SPN3513).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct BstError {
    /// 4.1–4.2: over-current (current above demand).
    pub over_current: Status2,
    /// 4.3–4.4: voltage abnormal.
    pub voltage_abnormal: Status2,
}

/// BST, BMS stop charging (PGN 0x1900, 4 bytes, 10 ms, priority 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Bst {
    /// Stop reason (SPN3511).
    pub reason: BstReason,
    /// Stop fault (SPN3512).
    pub fault: BstFault,
    /// Stop error (SPN3513).
    pub error: BstError,
}

impl Bst {
    fn to_bytes(self) -> [u8; 4] {
        let (r, f, e) = (self.reason, self.fault, self.error);
        [
            pack4(
                r.soc_target_reached.bits(),
                r.total_voltage_reached.bits(),
                r.cell_voltage_reached.bits(),
                r.charger_stopped.bits(),
            ),
            pack4(
                f.insulation.bits(),
                f.output_connector_over_temperature.bits(),
                f.bms_component_over_temperature.bits(),
                f.charging_connector.bits(),
            ),
            pack4(
                f.battery_over_temperature.bits(),
                f.high_voltage_relay.bits(),
                f.detection_point_2_voltage.bits(),
                f.other.bits(),
            ),
            pack4(e.over_current.bits(), e.voltage_abnormal.bits(), 0b11, 0b11),
        ]
    }

    fn from_bytes(b: &[u8; 4]) -> Bst {
        Bst {
            reason: BstReason {
                soc_target_reached: Status2::from_bits(b[0], 0),
                total_voltage_reached: Status2::from_bits(b[0], 2),
                cell_voltage_reached: Status2::from_bits(b[0], 4),
                charger_stopped: Status2::from_bits(b[0], 6),
            },
            fault: BstFault {
                insulation: Status2::from_bits(b[1], 0),
                output_connector_over_temperature: Status2::from_bits(b[1], 2),
                bms_component_over_temperature: Status2::from_bits(b[1], 4),
                charging_connector: Status2::from_bits(b[1], 6),
                battery_over_temperature: Status2::from_bits(b[2], 0),
                high_voltage_relay: Status2::from_bits(b[2], 2),
                detection_point_2_voltage: Status2::from_bits(b[2], 4),
                other: Status2::from_bits(b[2], 6),
            },
            error: BstError {
                over_current: Status2::from_bits(b[3], 0),
                voltage_abnormal: Status2::from_bits(b[3], 2),
            },
        }
    }
}
fixed_message!(Bst, Pgn::Bst, 4);

/// Why the charger stops (CST byte 1, SPN3521).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CstReason {
    /// 1.1–1.2: the charger's set condition was reached.
    pub condition_reached: Status2,
    /// 1.3–1.4: manual stop.
    pub manual_stop: Status2,
    /// 1.5–1.6: fault stop.
    pub fault_stop: Status2,
    /// 1.7–1.8: the BMS stopped (BST received).
    pub bms_stopped: Status2,
}

/// Charger fault that caused the stop (CST bytes 2–3, SPN3522).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CstFault {
    /// 2.1–2.2: charger over-temperature.
    pub charger_over_temperature: Status2,
    /// 2.3–2.4: charging connector fault.
    pub charging_connector: Status2,
    /// 2.5–2.6: charger internal over-temperature.
    pub internal_over_temperature: Status2,
    /// 2.7–2.8: the required energy cannot be delivered.
    pub energy_unavailable: Status2,
    /// 3.1–3.2: charger emergency stop.
    pub emergency_stop: Status2,
    /// 3.3–3.4: other fault.
    pub other: Status2,
}

/// Charger error that caused the stop (CST byte 4 bits 1–4, SPN3523).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CstError {
    /// 4.1–4.2: current mismatch.
    pub current_mismatch: Status2,
    /// 4.3–4.4: voltage abnormal.
    pub voltage_abnormal: Status2,
}

/// CST, charger stop charging (PGN 0x1A00, 4 bytes, 10 ms, priority 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Cst {
    /// Stop reason (SPN3521).
    pub reason: CstReason,
    /// Stop fault (SPN3522).
    pub fault: CstFault,
    /// Stop error (SPN3523).
    pub error: CstError,
}

impl Cst {
    fn to_bytes(self) -> [u8; 4] {
        let (r, f, e) = (self.reason, self.fault, self.error);
        [
            pack4(
                r.condition_reached.bits(),
                r.manual_stop.bits(),
                r.fault_stop.bits(),
                r.bms_stopped.bits(),
            ),
            pack4(
                f.charger_over_temperature.bits(),
                f.charging_connector.bits(),
                f.internal_over_temperature.bits(),
                f.energy_unavailable.bits(),
            ),
            pack4(f.emergency_stop.bits(), f.other.bits(), 0b11, 0b11),
            pack4(
                e.current_mismatch.bits(),
                e.voltage_abnormal.bits(),
                0b11,
                0b11,
            ),
        ]
    }

    fn from_bytes(b: &[u8; 4]) -> Cst {
        Cst {
            reason: CstReason {
                condition_reached: Status2::from_bits(b[0], 0),
                manual_stop: Status2::from_bits(b[0], 2),
                fault_stop: Status2::from_bits(b[0], 4),
                bms_stopped: Status2::from_bits(b[0], 6),
            },
            fault: CstFault {
                charger_over_temperature: Status2::from_bits(b[1], 0),
                charging_connector: Status2::from_bits(b[1], 2),
                internal_over_temperature: Status2::from_bits(b[1], 4),
                energy_unavailable: Status2::from_bits(b[1], 6),
                emergency_stop: Status2::from_bits(b[2], 0),
                other: Status2::from_bits(b[2], 2),
            },
            error: CstError {
                current_mismatch: Status2::from_bits(b[3], 0),
                voltage_abnormal: Status2::from_bits(b[3], 2),
            },
        }
    }
}
fixed_message!(Cst, Pgn::Cst, 4);

/// BSD, BMS statistics (PGN 0x1C00, 7 bytes, 250 ms).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bsd {
    /// SOC at stop (SPN3601), 1 %/bit.
    pub soc_pct: u8,
    /// Lowest cell voltage (SPN3602), 0.01 V/bit.
    pub min_cell_voltage_v: f64,
    /// Highest cell voltage (SPN3603), 0.01 V/bit.
    pub max_cell_voltage_v: f64,
    /// Lowest battery temperature (SPN3604), −50 °C offset.
    pub min_temperature_c: i16,
    /// Highest battery temperature (SPN3605), −50 °C offset.
    pub max_temperature_c: i16,
}

impl Bsd {
    fn to_bytes(self) -> [u8; 7] {
        let lo = centi_to_raw(self.min_cell_voltage_v, u16::MAX).to_le_bytes();
        let hi = centi_to_raw(self.max_cell_voltage_v, u16::MAX).to_le_bytes();
        [
            self.soc_pct,
            lo[0],
            lo[1],
            hi[0],
            hi[1],
            temperature_to_raw(self.min_temperature_c),
            temperature_to_raw(self.max_temperature_c),
        ]
    }

    fn from_bytes(b: &[u8; 7]) -> Bsd {
        Bsd {
            soc_pct: b[0],
            min_cell_voltage_v: centi_from_raw(le16(b[1], b[2])),
            max_cell_voltage_v: centi_from_raw(le16(b[3], b[4])),
            min_temperature_c: temperature_from_raw(b[5]),
            max_temperature_c: temperature_from_raw(b[6]),
        }
    }
}
fixed_message!(Bsd, Pgn::Bsd, 7);

/// CSD, charger statistics (PGN 0x1D00, 8 bytes, 250 ms).
///
/// 2011 chargers send 5 bytes; the charger number is then read from the bytes present
/// (little-endian, missing high bytes zero). Encoding always writes the 8-byte form.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Csd {
    /// Cumulative charging time (SPN3611), 1 min/bit, 0–600.
    pub charging_time_min: u16,
    /// Output energy (SPN3612), 0.1 kWh/bit.
    pub energy_kwh: f64,
    /// Charger number (SPN3613); real chargers send the same value as in CRM, no offset.
    pub charger_number: u32,
}

impl Csd {
    /// The defined length.
    pub const LEN: usize = 8;
    /// The GB/T 27930-2011 length.
    pub const LEN_2011: usize = 5;
}

impl GbtMessage for Csd {
    const PGN: Pgn = Pgn::Csd;

    fn encoded_len(&self) -> usize {
        Self::LEN
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError> {
        let t = self.charging_time_min.to_le_bytes();
        let e = deci_to_raw(self.energy_kwh).to_le_bytes();
        let n = self.charger_number.to_le_bytes();
        *head_mut::<8>(Pgn::Csd, out)? = [t[0], t[1], e[0], e[1], n[0], n[1], n[2], n[3]];
        Ok(Self::LEN)
    }

    fn decode(bytes: &[u8]) -> Result<Csd, GbtDecodeError> {
        let b = head::<5>(Pgn::Csd, bytes)?;
        let mut number = [0u8; 4];
        for (dst, src) in number.iter_mut().zip(bytes.iter().skip(4)) {
            *dst = *src;
        }
        Ok(Csd {
            charging_time_min: le16(b[0], b[1]),
            energy_kwh: deci_from_raw(le16(b[2], b[3])),
            charger_number: u32::from_le_bytes(number),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cst_manual_stop_matches_real_frame_exactly() {
        // [T1][T2] manual stop 04 00 F0 F0.
        let cst = Cst {
            reason: CstReason {
                manual_stop: Status2::Active,
                ..CstReason::default()
            },
            ..Cst::default()
        };
        let mut out = [0u8; 4];
        assert_eq!(cst.encode(&mut out), Ok(4));
        assert_eq!(out, [0x04, 0x00, 0xF0, 0xF0]);
        assert_eq!(Cst::decode(&out).unwrap(), cst);
    }

    #[test]
    fn cst_typical_frames_of_the_reference() {
        let mut bms_stop = Cst::default();
        bms_stop.reason.bms_stopped = Status2::Active;
        let mut connector = Cst::default();
        connector.reason.fault_stop = Status2::Active;
        connector.fault.charging_connector = Status2::Active;
        let mut emergency = Cst::default();
        emergency.reason.fault_stop = Status2::Active;
        emergency.fault.emergency_stop = Status2::Active;
        for (cst, bytes) in [
            (bms_stop, [0x40, 0x00, 0xF0, 0xF0]),
            (connector, [0x10, 0x04, 0xF0, 0xF0]),
            (emergency, [0x10, 0x00, 0xF1, 0xF0]),
        ] {
            let mut out = [0u8; 4];
            cst.encode(&mut out).unwrap();
            assert_eq!(out, bytes);
            assert_eq!(Cst::decode(&bytes).unwrap(), cst);
        }
    }

    #[test]
    fn bst_real_frame_with_zero_reserved_bits() {
        // [T1] BST after CST: 40 00 00 00, reserved bits sent as 0.
        let bst = Bst::decode(&[0x40, 0x00, 0x00, 0x00]).unwrap();
        let mut expected = Bst::default();
        expected.reason.charger_stopped = Status2::Active;
        assert_eq!(bst, expected);
        // Standard-compliant re-encoding fills the reserved half of byte 4.
        let mut out = [0u8; 4];
        bst.encode(&mut out).unwrap();
        assert_eq!(out, [0x40, 0x00, 0x00, 0xF0]);
        // §7.3 end of charge: SOC target reached = 01 00 00 F0.
        let mut soc = Bst::default();
        soc.reason.soc_target_reached = Status2::Active;
        soc.encode(&mut out).unwrap();
        assert_eq!(out, [0x01, 0x00, 0x00, 0xF0]);
    }

    #[test]
    fn bst_every_field_sits_at_its_bit_position() {
        let mut bst = Bst::default();
        bst.reason.total_voltage_reached = Status2::Active;
        bst.reason.cell_voltage_reached = Status2::Untrusted;
        bst.fault.insulation = Status2::Active;
        bst.fault.charging_connector = Status2::Untrusted;
        bst.fault.battery_over_temperature = Status2::Active;
        bst.fault.other = Status2::Active;
        bst.error.voltage_abnormal = Status2::Active;
        let mut out = [0u8; 4];
        bst.encode(&mut out).unwrap();
        assert_eq!(out, [0x24, 0x81, 0x41, 0xF4]);
        assert_eq!(Bst::decode(&out).unwrap(), bst);
    }

    #[test]
    fn bsd_real_frame() {
        // [T1] 4D 4D 01 4E 01 35 36 = 77 %, 3.33 V, 3.34 V, 3 °C, 4 °C.
        let t1 = [0x4D, 0x4D, 0x01, 0x4E, 0x01, 0x35, 0x36];
        let bsd = Bsd::decode(&t1).unwrap();
        assert_eq!(
            bsd,
            Bsd {
                soc_pct: 77,
                min_cell_voltage_v: 3.33,
                max_cell_voltage_v: 3.34,
                min_temperature_c: 3,
                max_temperature_c: 4,
            }
        );
        let mut out = [0u8; 7];
        bsd.encode(&mut out).unwrap();
        assert_eq!(out, t1);
    }

    #[test]
    fn csd_real_frame_and_2011_form() {
        // [T1] 00 00 01 00 01 01 01 01 = 0 min, 0.1 kWh, charger 0x01010101 (as in CRM).
        let t1 = [0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x01];
        let csd = Csd::decode(&t1).unwrap();
        assert_eq!(
            csd,
            Csd {
                charging_time_min: 0,
                energy_kwh: 0.1,
                charger_number: 0x0101_0101,
            }
        );
        let mut out = [0u8; 8];
        csd.encode(&mut out).unwrap();
        assert_eq!(out, t1);
        let old = Csd::decode(&[0x2C, 0x01, 0xF4, 0x01, 0x07]).unwrap();
        assert_eq!(
            (old.charging_time_min, old.energy_kwh, old.charger_number),
            (300, 50.0, 7)
        );
        assert!(Csd::decode(&[0; 4]).is_err());
    }
}
