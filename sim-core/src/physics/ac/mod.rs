//! AC charger (EVSE): supply, control pilot, relay, and the vehicle's on-board charger.
//!
//! The EVSE advertises a current limit with the PWM duty ([`pilot`]); the vehicle signals
//! B (connected) or C/D (ready); the EVSE closes its relay in C/D; the OBC ([`obc`]) draws at
//! most the advertised current, limited further by the cable rating (PP resistor):
//!
//! ```text
//! I_allowed = min(I_PWM(D), I_cable)        in C/D with the relay closed, else 0
//! D         = duty_for(min(I_limit, I_evse,max, I_cable))
//! ```
//!
//! The EVSE's outlet is the AC meter point: its quantities are the OBC's AC side.

pub mod obc;
pub mod pilot;

pub use obc::{Obc, ObcEnergy, ObcLimit, ObcParams, ObcState};
pub use pilot::{ControlPilot, CpState, PwmTable};

use crate::physics::battery::BatteryPack;
use crate::physics::bms::ChargeDemand;
use crate::physics::common::{Checks, InvalidParams};
use crate::physics::grid::AcSupply;

/// Parameters of an AC charger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AcChargerParams {
    /// The supply (1 or 3 phases).
    pub supply: AcSupply,
    /// EVSE rated current per phase, A.
    pub max_current_a: f64,
    /// Rating of the attached cable (PP/CC resistor), A.
    pub cable_max_current_a: f64,
    /// Duty → current table.
    pub pwm_table: PwmTable,
}

impl Default for AcChargerParams {
    /// [`AcChargerParams::ac_7kw_1ph`].
    fn default() -> Self {
        Self::ac_7kw_1ph()
    }
}

impl AcChargerParams {
    /// A single-phase 32 A wallbox on 220 V (7.0 kW), GB/T table.
    pub fn ac_7kw_1ph() -> Self {
        AcChargerParams {
            supply: AcSupply::default().single_phase(),
            max_current_a: 32.0,
            cable_max_current_a: 32.0,
            pwm_table: PwmTable::Gbt18487,
        }
    }

    /// A three-phase 32 A charger on 3 × 220 V (21.1 kW; 22 kW at 230 V), GB/T table.
    pub fn ac_22kw_3ph() -> Self {
        AcChargerParams {
            supply: AcSupply::default(),
            ..Self::ac_7kw_1ph()
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), InvalidParams> {
        let mut c = Checks::default();
        self.supply.check(&mut c);
        c.within(
            "max_current_a",
            self.max_current_a,
            6.0,
            self.pwm_table.max_current_a(),
        );
        c.within("cable_max_current_a", self.cable_max_current_a, 6.0, 80.0);
        c.finish()
    }
}

/// One tick of an AC charger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AcOutputState {
    /// The current the EV may draw per phase now, A.
    pub allowed_current_a: f64,
    /// Relay closed (pilot in C or D).
    pub relay_closed: bool,
    /// The OBC's tick: AC side at the outlet, DC side into the battery.
    pub obc: ObcState,
}

/// An AC charger: pilot, relay and supply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AcCharger {
    params: AcChargerParams,
    pilot: ControlPilot,
}

impl AcCharger {
    /// A charger in state A advertising its full rating.
    pub fn new(params: &AcChargerParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        let mut c = AcCharger {
            params: *params,
            pilot: ControlPilot::new(params.pwm_table),
        };
        c.set_current_limit_a(params.max_current_a);
        Ok(c)
    }

    /// Advertises `limit_a` (capped by the EVSE and cable ratings). Below 6 A PWM cannot
    /// express a limit, so the pilot goes to a steady level (duty 100 %, nothing allowed).
    pub fn set_current_limit_a(&mut self, limit_a: f64) {
        let i = limit_a
            .min(self.params.max_current_a)
            .min(self.params.cable_max_current_a);
        self.pilot.duty_pct = self
            .params
            .pwm_table
            .duty_for_current_pct(i)
            .unwrap_or(100.0);
    }

    /// Sets the pilot state the vehicle (or a fault) produces.
    pub fn set_pilot_state(&mut self, state: CpState) {
        self.pilot.state = state;
    }

    /// The pilot.
    pub fn pilot(&self) -> &ControlPilot {
        &self.pilot
    }

    /// The parameters.
    pub fn params(&self) -> &AcChargerParams {
        &self.params
    }

    /// Relay closed: the vehicle is ready (C/D) and a current is advertised.
    pub fn relay_closed(&self) -> bool {
        self.pilot.state.charging() && self.pilot.allowed_current_a() > 0.0
    }

    /// The current the EV may draw now, A.
    pub fn allowed_current_a(&self) -> f64 {
        if self.relay_closed() {
            self.pilot
                .allowed_current_a()
                .min(self.params.cable_max_current_a)
        } else {
            0.0
        }
    }

    /// Advances by `dt_s`: the OBC draws from this charger's supply within the allowed
    /// current and charges `pack` per `demand`. O(1), allocation-free.
    pub fn step(
        &mut self,
        dt_s: f64,
        obc: &mut Obc,
        demand: &ChargeDemand,
        pack: &mut BatteryPack,
    ) -> AcOutputState {
        let allowed_current_a = self.allowed_current_a();
        let state = obc.step(dt_s, &self.params.supply, allowed_current_a, demand, pack);
        AcOutputState {
            allowed_current_a,
            relay_closed: self.relay_closed(),
            obc: state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_advertise_their_rating() {
        for p in [
            AcChargerParams::ac_7kw_1ph(),
            AcChargerParams::ac_22kw_3ph(),
        ] {
            p.validate().unwrap();
            let mut c = AcCharger::new(&p).unwrap();
            assert_eq!(c.allowed_current_a(), 0.0);
            c.set_pilot_state(CpState::C);
            assert!((c.allowed_current_a() - 32.0).abs() < 1e-9);
            assert!(c.relay_closed());
        }
        assert_eq!(AcChargerParams::ac_22kw_3ph().supply.phases, 3);
        assert_eq!(AcChargerParams::default().supply.phases, 1);
    }

    #[test]
    fn limits_below_6_a_switch_pwm_off_and_cable_caps() {
        let mut p = AcChargerParams::ac_22kw_3ph();
        p.cable_max_current_a = 16.0;
        let mut c = AcCharger::new(&p).unwrap();
        c.set_pilot_state(CpState::C);
        assert!((c.allowed_current_a() - 16.0).abs() < 1e-9);
        c.set_current_limit_a(10.0);
        assert!((c.allowed_current_a() - 10.0).abs() < 1e-9);
        c.set_current_limit_a(3.0);
        assert_eq!(c.allowed_current_a(), 0.0);
        assert!(!c.relay_closed());
    }
}
