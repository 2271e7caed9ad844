//! The signals of a GB/T hardware-in-the-loop bench that a relay/IO box drives or reads,
//! and their trace events.
//!
//! Reference meters-and-can-hil.md §0 ("Bench model"): the charger-side CC1 detection point
//! reads 12 V with nothing plugged (S open), 6 V while the plug goes in with S pressed (or S
//! closed and unplugged), and 4 V when plugged and latched; insulation is normal above
//! 500 Ω/V, a warning between 100 and 500 Ω/V and a fault below 100 Ω/V.

use crate::gbt::charger::{InsulationLevel, InsulationOutcome};
use crate::trace::{TraceEvent, TraceLevel};
use serde::Serialize;

/// The state of the charger-side CC1 detection point (GB/T 18487.1 Annex A).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cc1State {
    /// Nothing plugged in, S open: 12 V.
    Unplugged,
    /// Plug going in or out with S pressed: 6 V.
    Pressed,
    /// Plugged and latched: 4 V.
    Latched,
}

impl Cc1State {
    /// The detection-point voltage of this state, V.
    pub const fn voltage_v(self) -> f64 {
        match self {
            Cc1State::Unplugged => 12.0,
            Cc1State::Pressed => 6.0,
            Cc1State::Latched => 4.0,
        }
    }
}

/// Which side of the GB/T session chargestorm plays on a bench connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchRole {
    /// The off-board charger (a real BMS is under test).
    Charger,
    /// The vehicle's BMS (a real charger board is under test).
    Bms,
}

/// The bench signals as they stand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BenchSignals {
    /// CC1 detection point.
    pub cc1: Cc1State,
    /// Whether the 12 V auxiliary supply (K3/K4) is on.
    pub aux_power_on: bool,
    /// Insulation resistance DC± → PE injected by the bench, Ω (`None`: healthy).
    pub insulation_ohm: Option<f64>,
    /// Whether the emergency stop is pressed.
    pub emergency_stop: bool,
}

impl Default for BenchSignals {
    fn default() -> Self {
        BenchSignals {
            cc1: Cc1State::Unplugged,
            aux_power_on: false,
            insulation_ohm: None,
            emergency_stop: false,
        }
    }
}

/// The insulation resistance of a healthy connector, Ω (what the check finds with nothing
/// injected).
pub const HEALTHY_INSULATION_OHM: f64 = 10e6;

impl BenchSignals {
    /// The insulation resistance the monitor sees, Ω.
    pub fn insulation_resistance_ohm(&self) -> f64 {
        self.insulation_ohm.unwrap_or(HEALTHY_INSULATION_OHM)
    }

    /// The insulation verdict at `voltage_v` (≥ 500 Ω/V normal, ≥ 100 Ω/V warning).
    pub fn insulation_at(&self, voltage_v: f64) -> InsulationOutcome {
        InsulationOutcome::classify(self.insulation_resistance_ohm(), voltage_v)
    }
}

/// A bench trace event of one connector.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BenchEvent {
    /// The CC1 detection point changed.
    Cc1 {
        /// The new state.
        state: Cc1State,
        /// Its voltage, V.
        voltage_v: f64,
    },
    /// The auxiliary supply switched.
    AuxPower {
        /// Whether it is on.
        on: bool,
    },
    /// The bench injected an insulation resistance.
    InsulationInjected {
        /// DC± → PE, Ω.
        resistance_ohm: f64,
        /// The verdict at the output voltage of that moment (or the check voltage).
        level: InsulationLevel,
    },
    /// The charger's insulation check finished.
    InsulationChecked {
        /// What it measured, Ω.
        resistance_ohm: f64,
        /// The test voltage, V.
        test_voltage_v: f64,
        /// The verdict.
        level: InsulationLevel,
    },
    /// The emergency stop was pressed or released.
    EmergencyStop {
        /// Whether it is pressed.
        pressed: bool,
    },
    /// chargestorm's session entered a phase.
    Phase {
        /// chargestorm's side.
        role: BenchRole,
        /// The phase.
        phase: String,
    },
    /// chargestorm's session stopped.
    Stopped {
        /// chargestorm's side.
        role: BenchRole,
        /// Why, as the session reports it.
        cause: String,
    },
    /// The simulated meter's faults changed.
    MeterFault {
        /// Values frozen.
        stuck: bool,
        /// Import energy drift, Wh/h.
        drift_wh_per_h: f64,
    },
}

impl TraceEvent for BenchEvent {
    fn level(&self) -> TraceLevel {
        TraceLevel::Session
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cc1_voltages_are_the_bench_model() {
        assert_eq!(Cc1State::Unplugged.voltage_v(), 12.0);
        assert_eq!(Cc1State::Pressed.voltage_v(), 6.0);
        assert_eq!(Cc1State::Latched.voltage_v(), 4.0);
    }

    #[test]
    fn insulation_verdicts_are_per_volt() {
        let mut s = BenchSignals::default();
        assert_eq!(s.insulation_at(750.0).level, InsulationLevel::Normal);
        s.insulation_ohm = Some(200_000.0);
        assert_eq!(s.insulation_at(500.0).level, InsulationLevel::Warning);
        s.insulation_ohm = Some(40_000.0);
        assert_eq!(s.insulation_at(500.0).level, InsulationLevel::Fault);
    }

    #[test]
    fn events_serialize_with_their_name_first() {
        let e = BenchEvent::Cc1 {
            state: Cc1State::Latched,
            voltage_v: 4.0,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"cc1","state":"latched","voltage_v":4.0}"#
        );
    }
}
