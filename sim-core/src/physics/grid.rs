//! AC grid quantities: the three-phase input of a DC charger and the output of an AC charger.
//!
//! A balanced supply of `n` phases (1 or 3) with phase voltage `U_ph` and power factor `PF`
//! carrying active power `P`:
//!
//! ```text
//! S     = P / PF                          [VA]
//! Q     = √(S² − P²)                      [var]    (inductive, positive)
//! I_ph  = S / (n · U_ph)                  [A]      (= P / (√3·U_LL·PF) for n = 3)
//! U_LL  = √3 · U_ph                       [V]
//! ```

use crate::physics::common::{Checks, InvalidParams};

/// A balanced AC supply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AcSupply {
    /// Number of phases, 1 or 3.
    pub phases: u8,
    /// Phase-to-neutral voltage, V (China 220 V).
    pub phase_voltage_v: f64,
    /// Frequency, Hz.
    pub frequency_hz: f64,
    /// Power factor at the supply terminals, 0–1.
    pub power_factor: f64,
}

impl Default for AcSupply {
    /// The Chinese low-voltage grid: 3 × 220 V / 380 V, 50 Hz, PF 0.99.
    fn default() -> Self {
        AcSupply {
            phases: 3,
            phase_voltage_v: 220.0,
            frequency_hz: 50.0,
            power_factor: 0.99,
        }
    }
}

impl AcSupply {
    /// A single-phase supply with the same voltage, frequency and power factor.
    pub fn single_phase(self) -> Self {
        AcSupply { phases: 1, ..self }
    }

    /// Checks the supply values.
    pub fn validate(&self) -> Result<(), InvalidParams> {
        let mut c = Checks::default();
        self.check(&mut c);
        c.finish()
    }

    pub(crate) fn check(&self, c: &mut Checks) {
        c.check(matches!(self.phases, 1 | 3), "supply.phases", || {
            format!("must be 1 or 3, got {}", self.phases)
        });
        c.within("supply.phase_voltage_v", self.phase_voltage_v, 50.0, 1000.0);
        c.within("supply.frequency_hz", self.frequency_hz, 40.0, 70.0);
        c.within("supply.power_factor", self.power_factor, 0.5, 1.0);
    }

    /// The quantities when the supply delivers active power `active_power_w` (≥ 0).
    pub fn quantities(&self, active_power_w: f64) -> AcQuantities {
        let pf = self.power_factor;
        let s = active_power_w / pf;
        let q = (s * s - active_power_w * active_power_w).max(0.0).sqrt();
        AcQuantities {
            phases: self.phases,
            phase_voltage_v: self.phase_voltage_v,
            line_voltage_v: self.phase_voltage_v * 3f64.sqrt(),
            phase_current_a: s / (f64::from(self.phases) * self.phase_voltage_v),
            active_power_w,
            reactive_power_var: q,
            apparent_power_va: s,
            power_factor: pf,
            frequency_hz: self.frequency_hz,
        }
    }

    /// The quantities when each phase carries `phase_current_a`.
    pub fn quantities_at_current(&self, phase_current_a: f64) -> AcQuantities {
        let s = f64::from(self.phases) * self.phase_voltage_v * phase_current_a;
        let mut q = self.quantities(s * self.power_factor);
        // Keep the exact current (no round trip through P).
        q.phase_current_a = phase_current_a;
        q
    }
}

/// A supply with its per-tick constants precomputed (`1/PF`, `tan φ`, `1/(n·U)`), so
/// [`AcMetering::quantities`] needs no division or square root.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AcMetering {
    supply: AcSupply,
    inv_pf: f64,
    tan_phi: f64,
    inv_n_u: f64,
    line_voltage_v: f64,
}

impl AcMetering {
    /// Precomputes the constants of `supply`.
    pub fn new(supply: &AcSupply) -> Self {
        let pf = supply.power_factor;
        AcMetering {
            supply: *supply,
            inv_pf: 1.0 / pf,
            tan_phi: (1.0 - pf * pf).max(0.0).sqrt() / pf,
            inv_n_u: 1.0 / (f64::from(supply.phases) * supply.phase_voltage_v),
            line_voltage_v: supply.phase_voltage_v * 3f64.sqrt(),
        }
    }

    /// Same as [`AcSupply::quantities`].
    #[inline]
    pub fn quantities(&self, active_power_w: f64) -> AcQuantities {
        let s = active_power_w * self.inv_pf;
        AcQuantities {
            phases: self.supply.phases,
            phase_voltage_v: self.supply.phase_voltage_v,
            line_voltage_v: self.line_voltage_v,
            phase_current_a: s * self.inv_n_u,
            active_power_w,
            reactive_power_var: active_power_w.abs() * self.tan_phi,
            apparent_power_va: s,
            power_factor: self.supply.power_factor,
            frequency_hz: self.supply.frequency_hz,
        }
    }
}

/// Instantaneous AC quantities (balanced phases; meters replicate them per phase).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AcQuantities {
    /// Number of phases, 1 or 3.
    pub phases: u8,
    /// Phase-to-neutral voltage, V.
    pub phase_voltage_v: f64,
    /// Line-to-line voltage, V.
    pub line_voltage_v: f64,
    /// Current per phase, A.
    pub phase_current_a: f64,
    /// Total active power, W.
    pub active_power_w: f64,
    /// Total reactive power, var.
    pub reactive_power_var: f64,
    /// Total apparent power, VA.
    pub apparent_power_va: f64,
    /// Power factor.
    pub power_factor: f64,
    /// Frequency, Hz.
    pub frequency_hz: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_phase_current_matches_the_line_formula() {
        let q = AcSupply::default().quantities(100_000.0);
        let expected = 100_000.0 / (3f64.sqrt() * q.line_voltage_v * 0.99);
        assert!((q.phase_current_a - expected).abs() < 1e-9);
        assert!(
            (q.apparent_power_va.powi(2) - q.active_power_w.powi(2) - q.reactive_power_var.powi(2))
                .abs()
                < 1e-3
        );
    }

    #[test]
    fn metering_matches_the_direct_formulas() {
        for supply in [AcSupply::default(), AcSupply::default().single_phase()] {
            let m = AcMetering::new(&supply);
            let (a, b) = (supply.quantities(12_345.0), m.quantities(12_345.0));
            assert!((a.phase_current_a - b.phase_current_a).abs() < 1e-9);
            assert!((a.reactive_power_var - b.reactive_power_var).abs() < 1e-6);
            assert!((a.apparent_power_va - b.apparent_power_va).abs() < 1e-9);
            assert_eq!(a.line_voltage_v, b.line_voltage_v);
        }
    }

    #[test]
    fn current_round_trip() {
        let s = AcSupply::default().single_phase();
        let q = s.quantities_at_current(32.0);
        assert_eq!(q.phase_current_a, 32.0);
        assert!((q.active_power_w - 32.0 * 220.0 * 0.99).abs() < 1e-9);
        assert!(s.validate().is_ok());
        assert!(AcSupply { phases: 2, ..s }.validate().is_err());
    }
}
