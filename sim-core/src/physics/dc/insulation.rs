//! Insulation monitoring (IMD) of the DC output, meters-and-can-hil.md §5.3.
//!
//! The monitor knows the insulation resistance of each pole to PE, `R+` and `R−` (Ω). The
//! weaker pole governs, and the classification is by resistance per volt of the voltage the
//! caller checks against (the charging voltage, or the rated output voltage as EVerest does):
//!
//! ```text
//! R = min(R+, R−),     ρ = R / U     [Ω/V]
//! ρ > 500          → Normal
//! 100 < ρ ≤ 500    → Warning (charging allowed)
//! ρ ≤ 100          → Fault
//! ```
//!
//! At `U ≤ 0` nothing is stressed and `ρ` is taken as infinite (Normal). A fault is injected by
//! setting the resistances; a failed IMD self-test by [`InsulationMonitor::set_self_test_ok`].

use crate::physics::common::{Checks, InvalidParams};

/// Thresholds and the healthy resistance of the insulation monitor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InsulationParams {
    /// Above this many Ω/V the insulation is normal (500 Ω/V).
    pub normal_above_ohm_per_v: f64,
    /// At or below this many Ω/V the insulation is faulty (100 Ω/V).
    pub fault_at_or_below_ohm_per_v: f64,
    /// Resistance of each healthy pole to PE, Ω.
    pub healthy_resistance_ohm: f64,
}

impl Default for InsulationParams {
    /// 500 / 100 Ω/V bands, 10 MΩ per healthy pole.
    fn default() -> Self {
        InsulationParams {
            normal_above_ohm_per_v: 500.0,
            fault_at_or_below_ohm_per_v: 100.0,
            healthy_resistance_ohm: 10e6,
        }
    }
}

impl InsulationParams {
    /// Checks the thresholds (fault below normal, both positive).
    pub fn validate(&self) -> Result<(), InvalidParams> {
        let mut c = Checks::default();
        self.check(&mut c);
        c.finish()
    }

    pub(crate) fn check(&self, c: &mut Checks) {
        c.positive(
            "insulation.fault_at_or_below_ohm_per_v",
            self.fault_at_or_below_ohm_per_v,
        );
        c.check(
            self.normal_above_ohm_per_v.is_finite()
                && self.normal_above_ohm_per_v >= self.fault_at_or_below_ohm_per_v,
            "insulation.normal_above_ohm_per_v",
            || {
                format!(
                    "must be finite and ≥ the fault threshold {}, got {}",
                    self.fault_at_or_below_ohm_per_v, self.normal_above_ohm_per_v
                )
            },
        );
        c.positive(
            "insulation.healthy_resistance_ohm",
            self.healthy_resistance_ohm,
        );
    }
}

/// Insulation classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InsulationState {
    /// `R/U` above the normal threshold (> 500 Ω/V).
    Normal,
    /// Between the thresholds (100–500 Ω/V): warn, charging allowed.
    Warning,
    /// At or below the fault threshold (≤ 100 Ω/V): stop (CST/CEM insulation fault).
    Fault,
}

/// The insulation monitor of one DC output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InsulationMonitor {
    /// Insulation resistance DC+ → PE, Ω.
    pub r_pos_ohm: f64,
    /// Insulation resistance DC− → PE, Ω.
    pub r_neg_ohm: f64,
    params: InsulationParams,
    self_test_ok: bool,
}

impl InsulationMonitor {
    /// A monitor with both poles healthy and a passing self-test.
    pub fn new(params: &InsulationParams) -> Self {
        InsulationMonitor {
            r_pos_ohm: params.healthy_resistance_ohm,
            r_neg_ohm: params.healthy_resistance_ohm,
            params: *params,
            self_test_ok: true,
        }
    }

    /// Sets both pole resistances (fault injection), Ω.
    pub fn set_resistances(&mut self, r_pos_ohm: f64, r_neg_ohm: f64) {
        self.r_pos_ohm = r_pos_ohm;
        self.r_neg_ohm = r_neg_ohm;
    }

    /// Restores both poles to the healthy resistance.
    pub fn heal(&mut self) {
        self.r_pos_ohm = self.params.healthy_resistance_ohm;
        self.r_neg_ohm = self.params.healthy_resistance_ohm;
    }

    /// Injects a failing (or passing) IMD self-test.
    pub fn set_self_test_ok(&mut self, ok: bool) {
        self.self_test_ok = ok;
    }

    /// Outcome of the IMD self-test.
    pub fn self_test_ok(&self) -> bool {
        self.self_test_ok
    }

    /// The governing resistance `min(R+, R−)`, Ω.
    pub fn resistance_ohm(&self) -> f64 {
        self.r_pos_ohm.min(self.r_neg_ohm)
    }

    /// `R / U` in Ω/V (infinite at `U ≤ 0`).
    pub fn ohm_per_volt(&self, voltage_v: f64) -> f64 {
        if voltage_v > 0.0 {
            self.resistance_ohm() / voltage_v
        } else {
            f64::INFINITY
        }
    }

    /// Classifies the insulation at `voltage_v`.
    pub fn classify(&self, voltage_v: f64) -> InsulationState {
        let rho = self.ohm_per_volt(voltage_v);
        if rho <= self.params.fault_at_or_below_ohm_per_v {
            InsulationState::Fault
        } else if rho <= self.params.normal_above_ohm_per_v {
            InsulationState::Warning
        } else {
            InsulationState::Normal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_at_the_thresholds() {
        let mut m = InsulationMonitor::new(&InsulationParams::default());
        assert_eq!(m.classify(750.0), InsulationState::Normal);
        let u = 500.0;
        // Exactly 500 Ω/V is not "> 500": warning.
        m.set_resistances(500.0 * u, 10e6);
        assert_eq!(m.classify(u), InsulationState::Warning);
        m.set_resistances(10e6, 500.0 * u + 1.0);
        assert_eq!(m.classify(u), InsulationState::Normal);
        // Exactly 100 Ω/V is a fault; just above it a warning.
        m.set_resistances(100.0 * u, 10e6);
        assert_eq!(m.classify(u), InsulationState::Fault);
        m.set_resistances(100.0 * u + 1.0, 10e6);
        assert_eq!(m.classify(u), InsulationState::Warning);
        m.set_resistances(0.0, 0.0);
        assert_eq!(m.classify(u), InsulationState::Fault);
        // No voltage, no stress.
        assert_eq!(m.classify(0.0), InsulationState::Normal);
        m.heal();
        assert_eq!(m.classify(u), InsulationState::Normal);
    }

    #[test]
    fn the_weaker_pole_governs() {
        let mut m = InsulationMonitor::new(&InsulationParams::default());
        m.set_resistances(10e6, 60_000.0);
        assert_eq!(m.resistance_ohm(), 60_000.0);
        assert_eq!(m.classify(400.0), InsulationState::Warning);
        assert_eq!(m.classify(800.0), InsulationState::Fault);
    }

    #[test]
    fn self_test_injection_and_validation() {
        let mut m = InsulationMonitor::new(&InsulationParams::default());
        assert!(m.self_test_ok());
        m.set_self_test_ok(false);
        assert!(!m.self_test_ok());
        assert!(InsulationParams::default().validate().is_ok());
        let bad = InsulationParams {
            normal_above_ohm_per_v: 50.0,
            ..InsulationParams::default()
        };
        assert!(bad.validate().is_err());
    }
}
