//! Control pilot (CP) of AC charging: states and the PWM duty → allowed current mapping
//! (IEC 61851-1 Annex A; GB/T 18487.1 Annex A; levels from meters-and-can-hil.md §5.4).
//!
//! The EVSE drives ±12 V through 1 kΩ; the EV's resistors pull the positive level down:
//!
//! | state | + level | meaning |
//! |---|---|---|
//! | A | +12 V | no vehicle |
//! | B | +9 V | vehicle connected, not ready |
//! | C | +6 V | ready, charging |
//! | D | +3 V | ready, charging with ventilation |
//! | E | 0 V | short / EVSE fault |
//! | F | −12 V | EVSE unavailable |
//!
//! The 1 kHz PWM duty `D` (%) advertises the maximum current per phase:
//!
//! ```text
//! IEC 61851-1:    10 ≤ D ≤ 85  → I = 0.6·D            (6–51 A)
//!                 85 < D ≤ 96  → I = (D − 64)·2.5     (52.5–80 A)
//! GB/T 18487.1:   10 ≤ D ≤ 85  → I = 0.6·D
//!                 85 < D ≤ 90  → I = min((D − 64)·2.5, 63)
//! otherwise       → 0 (no charging; 5 % means digital communication)
//! ```
//!
//! The GB/T row is UNCONFIRMED (the standard text was not available; it is the commonly cited
//! 63 A cap). The IEC 8 % ≤ D < 10 % → 6 A extension of later editions is not modelled: it is
//! treated as "no charging".

/// CP state, by the positive plateau of the pilot voltage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpState {
    /// +12 V: no vehicle (IEC 61851-1 state A).
    A,
    /// +9 V: vehicle connected, not ready (state B).
    B,
    /// +6 V: vehicle ready, charging (state C).
    C,
    /// +3 V: charging, ventilation required (state D).
    D,
    /// 0 V: CP shorted to PE or EVSE supply fault (state E).
    E,
    /// −12 V: EVSE not available (state F).
    F,
}

impl CpState {
    /// Nominal positive plateau of the pilot in this state, V.
    pub fn voltage_v(self) -> f64 {
        match self {
            CpState::A => 12.0,
            CpState::B => 9.0,
            CpState::C => 6.0,
            CpState::D => 3.0,
            CpState::E => 0.0,
            CpState::F => -12.0,
        }
    }

    /// The state whose nominal level is within ±1 V of `voltage_v`, if any.
    pub fn from_voltage_v(voltage_v: f64) -> Option<CpState> {
        [
            CpState::A,
            CpState::B,
            CpState::C,
            CpState::D,
            CpState::E,
            CpState::F,
        ]
        .into_iter()
        .find(|s| (s.voltage_v() - voltage_v).abs() <= 1.0)
    }

    /// True in the states in which the EV may draw current (C and D).
    pub fn charging(self) -> bool {
        matches!(self, CpState::C | CpState::D)
    }
}

/// Which duty → current table applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PwmTable {
    /// IEC 61851-1 (up to 80 A at 96 %).
    Iec61851,
    /// GB/T 18487.1-2015 (up to 63 A at 90 %); UNCONFIRMED upper segment.
    Gbt18487,
}

impl PwmTable {
    /// Allowed current per phase for a PWM duty in percent, A.
    pub fn allowed_current_a(self, duty_pct: f64) -> f64 {
        let upper = match self {
            PwmTable::Iec61851 => 96.0,
            PwmTable::Gbt18487 => 90.0,
        };
        if (10.0..=85.0).contains(&duty_pct) {
            duty_pct * 0.6
        } else if duty_pct > 85.0 && duty_pct <= upper {
            let i = (duty_pct - 64.0) * 2.5;
            match self {
                PwmTable::Iec61851 => i,
                PwmTable::Gbt18487 => i.min(63.0),
            }
        } else {
            0.0
        }
    }

    /// The largest current this table can advertise, A.
    pub fn max_current_a(self) -> f64 {
        match self {
            PwmTable::Iec61851 => 80.0,
            PwmTable::Gbt18487 => 63.0,
        }
    }

    /// The duty that advertises `current_a` (the largest advertised current not above it), %;
    /// `None` below 6 A, which PWM cannot express.
    pub fn duty_for_current_pct(self, current_a: f64) -> Option<f64> {
        // NaN compares as `None` here and lands in the `None` branch too.
        if current_a.partial_cmp(&6.0).is_none_or(|o| o.is_lt()) {
            return None;
        }
        let i = current_a.min(self.max_current_a());
        if i < 52.5 {
            // Capped at 85 %: between the segments (51–52.5 A) the lower one's top is the best
            // fit, and rounding in i/0.6 must not spill into the upper segment.
            Some((i / 0.6).min(85.0))
        } else {
            Some(i / 2.5 + 64.0)
        }
    }
}

/// The control pilot as the EVSE sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlPilot {
    /// Present state (set by the EV's resistors, or E/F by the EVSE).
    pub state: CpState,
    /// PWM duty, %; 100 means a steady +12 V level (no PWM).
    pub duty_pct: f64,
    /// Duty → current table.
    pub table: PwmTable,
}

impl ControlPilot {
    /// State A with no PWM.
    pub fn new(table: PwmTable) -> Self {
        ControlPilot {
            state: CpState::A,
            duty_pct: 100.0,
            table,
        }
    }

    /// Allowed current per phase for a duty under this pilot's table, A.
    pub fn allowed_current_for_duty_a(&self, duty_pct: f64) -> f64 {
        self.table.allowed_current_a(duty_pct)
    }

    /// Current the EV may draw now: the PWM value in states B, C and D, otherwise 0, A.
    pub fn allowed_current_a(&self) -> f64 {
        match self.state {
            CpState::B | CpState::C | CpState::D => self.table.allowed_current_a(self.duty_pct),
            CpState::A | CpState::E | CpState::F => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iec_duty_to_current_table() {
        let t = PwmTable::Iec61851;
        let cases = [
            (0.0, 0.0),
            (5.0, 0.0),
            (9.9, 0.0),
            (10.0, 6.0),
            (16.0, 9.6),
            (25.0, 15.0),
            (50.0, 30.0),
            (53.3, 31.98),
            (85.0, 51.0),
            (86.0, 55.0),
            (90.0, 65.0),
            (96.0, 80.0),
            (96.1, 0.0),
            (100.0, 0.0),
        ];
        for (d, i) in cases {
            assert!(
                (t.allowed_current_a(d) - i).abs() < 1e-9,
                "{d} % → {}",
                t.allowed_current_a(d)
            );
        }
    }

    #[test]
    fn gbt_caps_at_63_a() {
        let t = PwmTable::Gbt18487;
        assert_eq!(t.allowed_current_a(50.0), 30.0);
        assert_eq!(t.allowed_current_a(89.0), 62.5);
        assert_eq!(t.allowed_current_a(90.0), 63.0);
        assert_eq!(t.allowed_current_a(92.0), 0.0);
    }

    #[test]
    fn duty_for_current_round_trips_and_never_over_advertises() {
        for t in [PwmTable::Iec61851, PwmTable::Gbt18487] {
            let mut i = 6.0;
            while i <= 90.0 {
                let d = t.duty_for_current_pct(i).unwrap();
                let back = t.allowed_current_a(d);
                assert!(back <= i + 1e-9, "{t:?} {i} A → {d} % → {back} A");
                assert!(
                    back >= i.min(t.max_current_a()) - 1.5,
                    "{t:?} {i} A → {back} A"
                );
                i += 0.5;
            }
            assert_eq!(t.duty_for_current_pct(5.9), None);
            assert_eq!(t.duty_for_current_pct(f64::NAN), None);
        }
        assert!((PwmTable::Iec61851.duty_for_current_pct(32.0).unwrap() - 53.333_333).abs() < 1e-5);
    }

    #[test]
    fn states_levels_and_allowed_current() {
        for s in [
            CpState::A,
            CpState::B,
            CpState::C,
            CpState::D,
            CpState::E,
            CpState::F,
        ] {
            assert_eq!(CpState::from_voltage_v(s.voltage_v() + 0.4), Some(s));
        }
        assert_eq!(CpState::from_voltage_v(7.5), None);
        let mut cp = ControlPilot::new(PwmTable::Iec61851);
        cp.duty_pct = 50.0;
        assert_eq!(cp.allowed_current_a(), 0.0);
        cp.state = CpState::C;
        assert_eq!(cp.allowed_current_a(), 30.0);
        assert_eq!(cp.allowed_current_for_duty_a(25.0), 15.0);
        cp.state = CpState::F;
        assert_eq!(cp.allowed_current_a(), 0.0);
        assert!(CpState::D.charging() && !CpState::B.charging());
    }
}
