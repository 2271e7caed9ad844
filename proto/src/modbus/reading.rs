//! What a meter measures, in physical units, independent of any register layout.
//!
//! A [`MeterReading`] is what the simulator hands the meter emulator (rendered into registers
//! by [`super::render`]) and what chargestorm's Modbus client gets back from a real meter
//! (decoded by [`super::decode`]). Each field carries its unit in its name; energies are in
//! watt-hours whatever the meter's own unit is.

use super::map::{Phase, Quantity};

/// A DC meter's measurements (Acrel DJSF1352-RN).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct DcReading {
    /// DC voltage.
    pub voltage_v: f64,
    /// DC current; negative when energy flows back (export).
    pub current_a: f64,
    /// DC power; negative when exporting.
    pub power_w: f64,
    /// Total forward (import) active energy.
    pub import_energy_wh: f64,
    /// Total reverse (export) active energy.
    pub export_energy_wh: f64,
    /// The meter's internal temperature.
    pub temperature_c: f64,
    /// The meter's voltage-sense wire is broken (DJSF1352 register 0x0004 = 1).
    pub wire_broken: bool,
    /// The DJSF1352 alarm word (0x0013): b0..b7 DO1 over/under voltage, current, power and
    /// DI1/DI2; b8..b15 the same for DO2.
    pub alarm_bits: u16,
    /// The DJSF1352 switch word (0x0012): b0 DO1, b1 DO2, b8 DI1, b9 DI2.
    pub di_do_bits: u16,
}

/// An AC meter's measurements. Index 0..2 of each array is phase L1..L3 (A..C).
///
/// Single-phase meters (DDSU666, SDM120) report phase L1 only: rendering reads the `[0]`
/// entries, and decoding fills `[0]` and copies them into the totals.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct AcReading {
    /// Phase-to-neutral voltage per phase.
    pub voltage_v: [f64; 3],
    /// Current per phase.
    pub current_a: [f64; 3],
    /// Active power per phase; negative when exporting.
    pub active_power_w: [f64; 3],
    /// Reactive power per phase.
    pub reactive_power_var: [f64; 3],
    /// Apparent power per phase.
    pub apparent_power_va: [f64; 3],
    /// Power factor per phase, -1..=1.
    pub power_factor: [f64; 3],
    /// Total active power.
    pub total_active_power_w: f64,
    /// Total reactive power.
    pub total_reactive_power_var: f64,
    /// Total apparent power.
    pub total_apparent_power_va: f64,
    /// Total power factor, -1..=1.
    pub total_power_factor: f64,
    /// Line frequency.
    pub frequency_hz: f64,
    /// Total import (forward) active energy.
    pub import_energy_wh: f64,
    /// Total export (reverse) active energy.
    pub export_energy_wh: f64,
    /// Total import reactive energy.
    pub import_reactive_energy_varh: f64,
    /// Total export reactive energy.
    pub export_reactive_energy_varh: f64,
    /// Import active energy per phase (Eastron SDM630 0x015A..).
    pub phase_import_energy_wh: [f64; 3],
    /// Export active energy per phase (Eastron SDM630 0x0160..).
    pub phase_export_energy_wh: [f64; 3],
}

/// A meter's measurements: DC or AC.
#[expect(
    clippy::large_enum_variant,
    reason = "a plain Copy value passed by reference; boxing would allocate per sample"
)]
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum MeterReading {
    /// From a DC meter.
    Dc(DcReading),
    /// From an AC meter.
    Ac(AcReading),
}

/// Whether a reading or meter is DC or AC, and how many phases.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum MeterKind {
    /// A DC meter.
    Dc,
    /// A single-phase AC meter.
    AcSinglePhase,
    /// A three-phase four-wire AC meter.
    AcThreePhase,
}

impl AcReading {
    /// Line-to-line voltages L1-L2, L2-L3, L3-L1, computed from the phase voltages for
    /// phasors 120° apart: |Ua − Ub| = √(Ua² + Ub² + Ua·Ub). The DTSU666 reports these
    /// (0x2000..); the simulation models phase voltages only.
    pub fn line_voltage_v(&self) -> [f64; 3] {
        let [a, b, c] = self.voltage_v;
        let line = |x: f64, y: f64| (x * x + y * y + x * y).max(0.0).sqrt();
        [line(a, b), line(b, c), line(c, a)]
    }

    /// The value of `quantity` in SI units (W, var, VA, Wh, varh), or `None` if an AC meter
    /// does not measure it.
    pub fn get(&self, quantity: Quantity) -> Option<f64> {
        let p = |phase: Phase| phase.index();
        Some(match quantity {
            Quantity::PhaseVoltage(ph) => self.voltage_v[p(ph)],
            Quantity::LineVoltage(ph) => self.line_voltage_v()[p(ph)],
            Quantity::PhaseCurrent(ph) => self.current_a[p(ph)],
            Quantity::PhaseActivePower(ph) => self.active_power_w[p(ph)],
            Quantity::PhaseReactivePower(ph) => self.reactive_power_var[p(ph)],
            Quantity::PhaseApparentPower(ph) => self.apparent_power_va[p(ph)],
            Quantity::PhasePowerFactor(ph) => self.power_factor[p(ph)],
            Quantity::PhaseImportEnergy(ph) => self.phase_import_energy_wh[p(ph)],
            Quantity::PhaseExportEnergy(ph) => self.phase_export_energy_wh[p(ph)],
            Quantity::TotalActivePower => self.total_active_power_w,
            Quantity::TotalReactivePower => self.total_reactive_power_var,
            Quantity::TotalApparentPower => self.total_apparent_power_va,
            Quantity::TotalPowerFactor => self.total_power_factor,
            Quantity::Frequency => self.frequency_hz,
            Quantity::ImportEnergy => self.import_energy_wh,
            Quantity::ExportEnergy => self.export_energy_wh,
            Quantity::TotalEnergy => self.import_energy_wh + self.export_energy_wh,
            Quantity::ImportReactiveEnergy => self.import_reactive_energy_varh,
            Quantity::ExportReactiveEnergy => self.export_reactive_energy_varh,
            Quantity::TotalReactiveEnergy => {
                self.import_reactive_energy_varh + self.export_reactive_energy_varh
            }
            _ => return None,
        })
    }

    /// Store `value` (SI units) as `quantity`. Returns `false`, changing nothing, for
    /// quantities that are derived from others (line voltages, import + export totals) or
    /// that an AC meter does not measure.
    pub fn set(&mut self, quantity: Quantity, value: f64) -> bool {
        let slot = match quantity {
            Quantity::PhaseVoltage(ph) => &mut self.voltage_v[ph.index()],
            Quantity::PhaseCurrent(ph) => &mut self.current_a[ph.index()],
            Quantity::PhaseActivePower(ph) => &mut self.active_power_w[ph.index()],
            Quantity::PhaseReactivePower(ph) => &mut self.reactive_power_var[ph.index()],
            Quantity::PhaseApparentPower(ph) => &mut self.apparent_power_va[ph.index()],
            Quantity::PhasePowerFactor(ph) => &mut self.power_factor[ph.index()],
            Quantity::PhaseImportEnergy(ph) => &mut self.phase_import_energy_wh[ph.index()],
            Quantity::PhaseExportEnergy(ph) => &mut self.phase_export_energy_wh[ph.index()],
            Quantity::TotalActivePower => &mut self.total_active_power_w,
            Quantity::TotalReactivePower => &mut self.total_reactive_power_var,
            Quantity::TotalApparentPower => &mut self.total_apparent_power_va,
            Quantity::TotalPowerFactor => &mut self.total_power_factor,
            Quantity::Frequency => &mut self.frequency_hz,
            Quantity::ImportEnergy => &mut self.import_energy_wh,
            Quantity::ExportEnergy => &mut self.export_energy_wh,
            Quantity::ImportReactiveEnergy => &mut self.import_reactive_energy_varh,
            Quantity::ExportReactiveEnergy => &mut self.export_reactive_energy_varh,
            _ => return false,
        };
        *slot = value;
        true
    }

    /// Copy phase L1 into the totals, as a single-phase meter's one set of values is both.
    pub fn copy_l1_to_totals(&mut self) {
        self.total_active_power_w = self.active_power_w[0];
        self.total_reactive_power_var = self.reactive_power_var[0];
        self.total_apparent_power_va = self.apparent_power_va[0];
        self.total_power_factor = self.power_factor[0];
    }
}

/// Flags travel through the register pipeline as 0.0 and 1.0.
fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

/// A bit word from a value; out-of-range values saturate.
fn word(value: f64) -> u16 {
    // `as` saturates and maps NaN to 0, which is what a register can hold.
    value.round() as u16
}

impl DcReading {
    /// The value of `quantity` in SI units, or `None` if a DC meter does not measure it.
    pub fn get(&self, quantity: Quantity) -> Option<f64> {
        Some(match quantity {
            Quantity::DcVoltage => self.voltage_v,
            Quantity::DcCurrent => self.current_a,
            Quantity::DcPower => self.power_w,
            Quantity::ImportEnergy => self.import_energy_wh,
            Quantity::ExportEnergy => self.export_energy_wh,
            Quantity::Temperature => self.temperature_c,
            Quantity::WireBroken => flag(self.wire_broken),
            Quantity::Alarm => f64::from(self.alarm_bits),
            Quantity::DiDo => f64::from(self.di_do_bits),
            _ => return None,
        })
    }

    /// Store `value` (SI units) as `quantity`; `false` if a DC meter does not measure it.
    pub fn set(&mut self, quantity: Quantity, value: f64) -> bool {
        match quantity {
            Quantity::DcVoltage => self.voltage_v = value,
            Quantity::DcCurrent => self.current_a = value,
            Quantity::DcPower => self.power_w = value,
            Quantity::ImportEnergy => self.import_energy_wh = value,
            Quantity::ExportEnergy => self.export_energy_wh = value,
            Quantity::Temperature => self.temperature_c = value,
            Quantity::WireBroken => self.wire_broken = value != 0.0,
            Quantity::Alarm => self.alarm_bits = word(value),
            Quantity::DiDo => self.di_do_bits = word(value),
            _ => return false,
        }
        true
    }
}

impl MeterReading {
    /// An all-zero reading of the given kind.
    pub fn zero(kind: MeterKind) -> Self {
        match kind {
            MeterKind::Dc => Self::Dc(DcReading::default()),
            MeterKind::AcSinglePhase | MeterKind::AcThreePhase => Self::Ac(AcReading::default()),
        }
    }

    /// `true` when this reading can be shown by a meter of `kind`.
    pub fn fits(&self, kind: MeterKind) -> bool {
        matches!(
            (self, kind),
            (Self::Dc(_), MeterKind::Dc)
                | (
                    Self::Ac(_),
                    MeterKind::AcSinglePhase | MeterKind::AcThreePhase
                )
        )
    }

    /// The value of `quantity` in SI units; see [`DcReading::get`] and [`AcReading::get`].
    pub fn get(&self, quantity: Quantity) -> Option<f64> {
        match self {
            Self::Dc(dc) => dc.get(quantity),
            Self::Ac(ac) => ac.get(quantity),
        }
    }

    /// Store `value` (SI units) as `quantity`; see [`DcReading::set`] and [`AcReading::set`].
    pub fn set(&mut self, quantity: Quantity, value: f64) -> bool {
        match self {
            Self::Dc(dc) => dc.set(quantity, value),
            Self::Ac(ac) => ac.set(quantity, value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_voltage_of_a_balanced_system() {
        let ac = AcReading {
            voltage_v: [230.0; 3],
            ..AcReading::default()
        };
        for line in ac.line_voltage_v() {
            assert!((line - 230.0 * 3f64.sqrt()).abs() < 1e-9, "{line}");
        }
    }

    #[test]
    fn get_and_set_agree() {
        let mut ac = AcReading::default();
        assert!(ac.set(Quantity::PhaseCurrent(Phase::L2), 16.0));
        assert_eq!(ac.get(Quantity::PhaseCurrent(Phase::L2)), Some(16.0));
        assert!(!ac.set(Quantity::TotalEnergy, 1.0), "derived");
        assert!(!ac.set(Quantity::DcVoltage, 1.0), "not AC");
        assert_eq!(ac.get(Quantity::DcVoltage), None);

        let mut dc = DcReading::default();
        assert!(dc.set(Quantity::WireBroken, 1.0));
        assert!(dc.wire_broken);
        assert!(dc.set(Quantity::Alarm, 0x0101 as f64));
        assert_eq!(dc.alarm_bits, 0x0101);
        assert_eq!(dc.get(Quantity::Frequency), None);
    }

    #[test]
    fn kinds() {
        assert!(MeterReading::zero(MeterKind::Dc).fits(MeterKind::Dc));
        assert!(!MeterReading::zero(MeterKind::Dc).fits(MeterKind::AcThreePhase));
        assert!(MeterReading::zero(MeterKind::AcSinglePhase).fits(MeterKind::AcThreePhase));
    }
}
