//! Energy meter: exact energy integration underneath, seeded measurement noise on read.
//!
//! # Integration (every step, noise-free)
//!
//! ```text
//! P         = U·I                         (DC)      or   n·U·I·PF   (AC, balanced phases)
//! E_import += max(P, 0)·Δt / 3600         [Wh]      monotone non-decreasing
//! E_export += max(−P, 0)·Δt / 3600        [Wh]
//! ```
//!
//! The charger tick passes the step-average quantities it delivered, so the meter energy equals
//! the energy the physics booked (conservation holds exactly; the register only quantises it).
//!
//! # Reading (on demand, e.g. per Modbus poll)
//!
//! Each voltage and current value read carries an independent relative error drawn from a
//! triangular distribution on `[−a, a]`, `a = class/2 %`, so powers computed from them stay
//! within about ± the accuracy class:
//!
//! ```text
//! e = a·(u₁ + u₂ − 1),  u₁,u₂ ~ U(0,1) from the meter's own ChaCha8 stream
//! U_read = U·(1 + e_U),  I_read = I·(1 + e_I),  P_read = Σ U_read·I_read·PF
//! register = ⌊E_import / LSB⌋           (energy registers are not noised)
//! ```
//!
//! Frequency and power factor are reported as supplied. The meter consumes the stream only on
//! read, so the noise sequence is a function of the seed and the number of reads.
//!
//! # Faults ([`MeterFault`], reference meters-and-can-hil.md §1.6)
//!
//! A *stuck* meter returns the reading it showed when the fault came on until it is cleared
//! (a frozen meter CPU). A *drifting* meter adds `drift_wh_per_h` per hour of stepped time to
//! its import register (a miscalibrated meter); the exact energy underneath is untouched, so
//! the conservation check still holds and the drift is the register's error alone.

use crate::physics::common::{Checks, InvalidParams};
use crate::physics::grid::AcQuantities;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What a meter measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MeterKind {
    /// A DC rail meter (e.g. Acrel DJSF1352-RN).
    Dc,
    /// A single-phase AC meter (e.g. Chint DDSU666).
    AcSinglePhase,
    /// A three-phase four-wire AC meter (e.g. Chint DTSU666).
    AcThreePhase,
}

impl MeterKind {
    fn phases(self) -> usize {
        match self {
            MeterKind::Dc | MeterKind::AcSinglePhase => 1,
            MeterKind::AcThreePhase => 3,
        }
    }
}

/// Meter parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterParams {
    /// What is measured.
    pub kind: MeterKind,
    /// Accuracy class, % (1.0 = class 1).
    pub accuracy_class_pct: f64,
    /// Energy register LSB, Wh (1 Wh as EVerest reads the DJSF1352; 10 Wh for 0.01 kWh).
    pub energy_resolution_wh: f64,
}

impl Default for MeterParams {
    /// [`MeterParams::dc`].
    fn default() -> Self {
        Self::dc()
    }
}

impl MeterParams {
    /// A class-1 DC meter with a 1 Wh register.
    pub fn dc() -> Self {
        MeterParams {
            kind: MeterKind::Dc,
            accuracy_class_pct: 1.0,
            energy_resolution_wh: 1.0,
        }
    }

    /// A class-1 single-phase AC meter with a 10 Wh (0.01 kWh) register.
    pub fn ac_single_phase() -> Self {
        MeterParams {
            kind: MeterKind::AcSinglePhase,
            accuracy_class_pct: 1.0,
            energy_resolution_wh: 10.0,
        }
    }

    /// A class-1 three-phase AC meter with a 10 Wh (0.01 kWh) register.
    pub fn ac_three_phase() -> Self {
        MeterParams {
            kind: MeterKind::AcThreePhase,
            ..Self::ac_single_phase()
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), InvalidParams> {
        let mut c = Checks::default();
        c.within(
            "meter.accuracy_class_pct",
            self.accuracy_class_pct,
            0.0,
            5.0,
        );
        c.within(
            "meter.energy_resolution_wh",
            self.energy_resolution_wh,
            1e-3,
            1e4,
        );
        c.finish()
    }
}

/// Faults of a simulated meter, switched with [`EnergyMeter::set_fault`].
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct MeterFault {
    /// Every value freezes at what the meter showed when this came on.
    pub stuck: bool,
    /// Import register drift, Wh per hour of stepped time (negative: it runs back). Setting
    /// 0 ends the drift and the register shows the true energy again; changing a non-zero
    /// rate keeps the offset accumulated so far.
    pub drift_wh_per_h: f64,
}

/// A snapshot of the meter's registers (the Modbus layer encodes it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterReading {
    /// What is measured.
    pub kind: MeterKind,
    /// DC voltage, or phase A voltage, V.
    pub voltage_v: f64,
    /// DC current, or phase A current, A (negative = export).
    pub current_a: f64,
    /// Total active power, W (negative = export).
    pub power_w: f64,
    /// Per-phase voltages, V (index 0 only for DC and single-phase).
    pub phase_voltage_v: [f64; 3],
    /// Per-phase currents, A.
    pub phase_current_a: [f64; 3],
    /// Per-phase active powers, W.
    pub phase_power_w: [f64; 3],
    /// Total reactive power, var (0 for DC).
    pub reactive_power_var: f64,
    /// Power factor (1 for DC).
    pub power_factor: f64,
    /// Frequency, Hz (0 for DC).
    pub frequency_hz: f64,
    /// Import energy as registered (quantised, monotone), Wh.
    pub import_energy_wh: f64,
    /// Export energy as registered, Wh.
    pub export_energy_wh: f64,
    /// Import energy register in LSBs.
    pub import_energy_register: u64,
    /// Export energy register in LSBs.
    pub export_energy_register: u64,
}

/// The last true sample the meter saw.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Sample {
    voltage_v: f64,
    current_a: f64,
    power_factor: f64,
    frequency_hz: f64,
}

/// An energy meter with its own noise stream.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyMeter {
    params: MeterParams,
    rng: ChaCha8Rng,
    import_wh: f64,
    export_wh: f64,
    sample: Sample,
    fault: MeterFault,
    /// What a stuck meter shows.
    frozen: Option<MeterReading>,
    /// Drift accumulated so far, Wh.
    drift_wh: f64,
}

impl EnergyMeter {
    /// A meter at zero energy whose noise comes from `rng` (seed it from the run's seed).
    pub fn new(params: &MeterParams, rng: ChaCha8Rng) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(EnergyMeter {
            params: *params,
            rng,
            import_wh: 0.0,
            export_wh: 0.0,
            sample: Sample {
                power_factor: 1.0,
                ..Sample::default()
            },
            fault: MeterFault::default(),
            frozen: None,
            drift_wh: 0.0,
        })
    }

    /// Switches the meter's faults; a stuck fault freezes the reading of this moment.
    pub fn set_fault(&mut self, fault: MeterFault) {
        if fault.stuck && self.frozen.is_none() {
            self.frozen = Some(self.live_reading());
        } else if !fault.stuck {
            self.frozen = None;
        }
        if fault.drift_wh_per_h == 0.0 || !fault.drift_wh_per_h.is_finite() {
            self.drift_wh = 0.0;
        }
        self.fault = MeterFault {
            drift_wh_per_h: if fault.drift_wh_per_h.is_finite() {
                fault.drift_wh_per_h
            } else {
                0.0
            },
            ..fault
        };
    }

    /// The faults currently on.
    pub fn fault(&self) -> MeterFault {
        self.fault
    }

    /// The drift the import register carries, Wh.
    pub fn drift_wh(&self) -> f64 {
        self.drift_wh
    }

    fn integrate(&mut self, dt_s: f64, power_w: f64) {
        let h = dt_s / 3600.0;
        self.drift_wh += self.fault.drift_wh_per_h * h;
        if power_w > 0.0 {
            self.import_wh += power_w * h;
        } else if power_w < 0.0 {
            self.export_wh -= power_w * h;
        }
    }

    /// Integrates a DC sample held for `dt_s` (the step-average voltage and current).
    pub fn step(&mut self, dt_s: f64, voltage_v: f64, current_a: f64) {
        self.sample = Sample {
            voltage_v,
            current_a,
            power_factor: 1.0,
            frequency_hz: 0.0,
        };
        self.integrate(dt_s, voltage_v * current_a);
    }

    /// Integrates an AC sample held for `dt_s` (balanced phases).
    pub fn step_ac(&mut self, dt_s: f64, ac: &AcQuantities) {
        self.sample = Sample {
            voltage_v: ac.phase_voltage_v,
            current_a: ac.phase_current_a,
            power_factor: ac.power_factor,
            frequency_hz: ac.frequency_hz,
        };
        self.integrate(dt_s, ac.active_power_w);
    }

    /// Exact import energy (no quantisation, no noise), Wh.
    pub fn import_energy_wh(&self) -> f64 {
        self.import_wh
    }

    /// Exact export energy, Wh.
    pub fn export_energy_wh(&self) -> f64 {
        self.export_wh
    }

    /// One triangular relative error on `[−a, a]`.
    fn error(&mut self) -> f64 {
        let x = self.rng.next_u64();
        let u1 = (x >> 32) as f64 / 4_294_967_296.0;
        let u2 = (x & 0xFFFF_FFFF) as f64 / 4_294_967_296.0;
        self.params.accuracy_class_pct / 200.0 * (u1 + u2 - 1.0)
    }

    /// Reads the registers: noised voltages, currents and powers, quantised energy; a stuck
    /// meter repeats its frozen reading.
    pub fn reading(&mut self) -> MeterReading {
        match self.frozen {
            Some(frozen) => frozen,
            None => self.live_reading(),
        }
    }

    fn live_reading(&mut self) -> MeterReading {
        let s = self.sample;
        let kind = self.params.kind;
        let pf = if kind == MeterKind::Dc {
            1.0
        } else {
            s.power_factor
        };
        let mut v = [0.0; 3];
        let mut i = [0.0; 3];
        let mut p = [0.0; 3];
        for k in 0..kind.phases() {
            v[k] = s.voltage_v * (1.0 + self.error());
            i[k] = s.current_a * (1.0 + self.error());
            p[k] = v[k] * i[k] * pf;
        }
        let power_w: f64 = p.iter().sum();
        let reactive_power_var = if kind == MeterKind::Dc {
            0.0
        } else {
            power_w.abs() / pf * (1.0 - pf * pf).max(0.0).sqrt()
        };
        let lsb = self.params.energy_resolution_wh;
        // Registers saturate rather than wrap; u64 holds any realistic energy.
        let import_energy_register = ((self.import_wh + self.drift_wh) / lsb).floor() as u64;
        let export_energy_register = (self.export_wh / lsb).floor() as u64;
        MeterReading {
            kind,
            voltage_v: v[0],
            current_a: i[0],
            power_w,
            phase_voltage_v: v,
            phase_current_a: i,
            phase_power_w: p,
            reactive_power_var,
            power_factor: pf,
            frequency_hz: if kind == MeterKind::Dc {
                0.0
            } else {
                s.frequency_hz
            },
            import_energy_wh: import_energy_register as f64 * lsb,
            export_energy_wh: export_energy_register as f64 * lsb,
            import_energy_register,
            export_energy_register,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::grid::AcSupply;
    use rand::SeedableRng;

    fn meter(params: MeterParams, seed: u64) -> EnergyMeter {
        EnergyMeter::new(&params, ChaCha8Rng::seed_from_u64(seed)).unwrap()
    }

    #[test]
    fn integrates_and_quantises_monotonically() {
        let mut m = meter(MeterParams::dc(), 1);
        let mut last = 0;
        for _ in 0..36_000 {
            m.step(0.1, 400.0, 100.0);
            let r = m.reading();
            assert!(r.import_energy_register >= last);
            last = r.import_energy_register;
        }
        // 40 kW for an hour.
        assert!((m.import_energy_wh() - 40_000.0).abs() < 1e-6);
        let r = m.reading();
        assert_eq!(
            r.import_energy_register,
            m.import_energy_wh().floor() as u64
        );
        assert!(r.import_energy_register >= 39_999);
        m.step(1.0, 400.0, -36.0);
        assert!((m.export_energy_wh() - 4.0).abs() < 1e-9);
    }

    #[test]
    fn a_stuck_meter_repeats_itself_until_cleared() {
        let mut m = meter(MeterParams::dc(), 4);
        m.step(36.0, 400.0, 100.0);
        m.set_fault(MeterFault {
            stuck: true,
            ..MeterFault::default()
        });
        let frozen = m.reading();
        assert_eq!(frozen.import_energy_register, 400);
        m.step(36.0, 400.0, 100.0);
        for _ in 0..10 {
            assert_eq!(m.reading(), frozen);
        }
        // The energy underneath kept counting.
        assert!((m.import_energy_wh() - 800.0).abs() < 1e-9);
        m.set_fault(MeterFault::default());
        let live = m.reading();
        assert_eq!(live.import_energy_register, 800);
        assert_ne!(live.voltage_v, m.reading().voltage_v, "noise is back");
    }

    #[test]
    fn a_drifting_meter_gains_energy_with_time_not_power() {
        let mut m = meter(MeterParams::dc(), 5);
        m.set_fault(MeterFault {
            drift_wh_per_h: 100.0,
            ..MeterFault::default()
        });
        // Half an hour idle, then half an hour at 40 kW.
        m.step(1800.0, 0.0, 0.0);
        assert_eq!(m.reading().import_energy_register, 50);
        m.step(1800.0, 400.0, 100.0);
        assert_eq!(m.reading().import_energy_register, 20_100);
        assert!((m.import_energy_wh() - 20_000.0).abs() < 1e-9);
        // A new rate keeps the offset; 0 clears it.
        m.set_fault(MeterFault {
            drift_wh_per_h: -50.0,
            ..MeterFault::default()
        });
        m.step(3600.0, 0.0, 0.0);
        assert_eq!(m.reading().import_energy_register, 20_050);
        m.set_fault(MeterFault::default());
        assert_eq!(m.reading().import_energy_register, 20_000);
        assert_eq!(m.drift_wh(), 0.0);
    }

    #[test]
    fn noise_stays_within_the_class() {
        let mut m = meter(MeterParams::dc(), 2);
        m.step(0.1, 400.0, 100.0);
        let (mut seen_low, mut seen_high) = (false, false);
        for _ in 0..10_000 {
            let r = m.reading();
            assert!((r.voltage_v / 400.0 - 1.0).abs() <= 0.005);
            assert!((r.current_a / 100.0 - 1.0).abs() <= 0.005);
            assert!((r.power_w / 40_000.0 - 1.0).abs() <= 0.010_03);
            seen_low |= r.voltage_v < 399.0;
            seen_high |= r.voltage_v > 401.0;
        }
        assert!(seen_low && seen_high, "noise should use most of its range");
    }

    #[test]
    fn same_seed_same_noise() {
        let mut a = meter(MeterParams::ac_three_phase(), 9);
        let mut b = meter(MeterParams::ac_three_phase(), 9);
        let mut c = meter(MeterParams::ac_three_phase(), 10);
        let q = AcSupply::default().quantities_at_current(32.0);
        for m in [&mut a, &mut b, &mut c] {
            m.step_ac(0.1, &q);
        }
        for _ in 0..100 {
            let (ra, rb, rc) = (a.reading(), b.reading(), c.reading());
            assert_eq!(ra, rb);
            assert_ne!(ra, rc);
        }
    }

    #[test]
    fn three_phase_reading_has_three_phases() {
        let mut m = meter(MeterParams::ac_three_phase(), 3);
        let q = AcSupply::default().quantities_at_current(16.0);
        m.step_ac(3600.0, &q);
        let r = m.reading();
        assert!(
            r.phase_current_a
                .iter()
                .all(|&i| (i / 16.0 - 1.0).abs() <= 0.005)
        );
        assert!((r.power_w / q.active_power_w - 1.0).abs() < 0.0101);
        assert_eq!(r.frequency_hz, 50.0);
        assert!(r.reactive_power_var > 0.0);
        // 10.45 kWh in 10 Wh steps.
        assert_eq!(
            r.import_energy_register,
            (q.active_power_w / 10.0).floor() as u64
        );
        assert!(
            MeterParams {
                accuracy_class_pct: -1.0,
                ..MeterParams::dc()
            }
            .validate()
            .is_err()
        );
    }
}
