//! On-board charger (OBC): AC from the EVSE to DC into the same [`BatteryPack`].
//!
//! The OBC regulates its AC input current per phase, as real OBCs do to follow the pilot. With
//! `n` phases in use (`min(supply, OBC)`), phase voltage `U`, power factor `PF` and a constant
//! conversion efficiency `η`:
//!
//! ```text
//! I_cap   = min(I_CP, I_obc,max, P_obc,max / (n·U·PF))                 AC limits
//! I_dc*   = max(0, min(I_dem, (U_dem − U_src)/R_b))                    what the BMS asks
//! I_ac*   = (U_src + R_b·I_dc*)·I_dc* / (η·n·U·PF)                     AC current for that
//! I_ac    = min(I_cap, I_ac*), rising at most ramp·Δt per step, falling at once
//! P_ac    = n·U·PF·I_ac,       P_dc = η·P_ac
//! I_dc    = root of (U_src + R_b·I)·I = P_dc                           into the battery
//! ```
//!
//! so the AC current never exceeds the pilot's allowed current (it is the controlled quantity).
//! Energy: `E_ac = ∫P_ac dt`, `E_dc` = the pack's terminal energy, loss `E_ac − E_dc ≈ (1 − η)·E_ac`.

use crate::physics::battery::BatteryPack;
use crate::physics::bms::ChargeDemand;
use crate::physics::common::{Checks, InvalidParams, current_at_power, slew};
use crate::physics::grid::{AcQuantities, AcSupply};

/// On-board charger parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObcParams {
    /// Phases the OBC can use, 1 or 3.
    pub phases: u8,
    /// Maximum AC current per phase, A.
    pub max_current_a: f64,
    /// Maximum AC input power, W.
    pub max_power_w: f64,
    /// Conversion efficiency AC → DC.
    pub efficiency: f64,
    /// Rate at which the AC current may rise, A/s (it falls immediately).
    pub ramp_a_per_s: f64,
}

impl Default for ObcParams {
    /// [`ObcParams::three_phase_11kw`].
    fn default() -> Self {
        Self::three_phase_11kw()
    }
}

impl ObcParams {
    /// A single-phase 7 kW OBC: 32 A, 93 %.
    pub fn single_phase_7kw() -> Self {
        ObcParams {
            phases: 1,
            max_current_a: 32.0,
            max_power_w: 7_400.0,
            efficiency: 0.93,
            ramp_a_per_s: 5.0,
        }
    }

    /// A three-phase 11 kW OBC: 16 A, 94 %.
    pub fn three_phase_11kw() -> Self {
        ObcParams {
            phases: 3,
            max_current_a: 16.0,
            max_power_w: 11_000.0,
            efficiency: 0.94,
            ramp_a_per_s: 5.0,
        }
    }

    /// A three-phase 22 kW OBC: 32 A, 94 %.
    pub fn three_phase_22kw() -> Self {
        ObcParams {
            phases: 3,
            max_current_a: 32.0,
            max_power_w: 22_000.0,
            efficiency: 0.94,
            ramp_a_per_s: 5.0,
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), InvalidParams> {
        let mut c = Checks::default();
        c.check(matches!(self.phases, 1 | 3), "obc.phases", || {
            format!("must be 1 or 3, got {}", self.phases)
        });
        c.within("obc.max_current_a", self.max_current_a, 1.0, 80.0);
        c.positive("obc.max_power_w", self.max_power_w);
        c.within("obc.efficiency", self.efficiency, 0.5, 1.0);
        c.positive("obc.ramp_a_per_s", self.ramp_a_per_s);
        c.finish()
    }
}

/// What limited the OBC this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObcLimit {
    /// The pilot's allowed current (or the cable rating).
    Pilot,
    /// The OBC's own current or power rating.
    Rating,
    /// The BMS demand (current or voltage).
    Demand,
    /// The rise-rate limit.
    Ramp,
}

/// One tick of the OBC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObcState {
    /// AC side at the EVSE outlet (the AC meter point).
    pub ac: AcQuantities,
    /// Battery terminal voltage (step average), V.
    pub dc_voltage_v: f64,
    /// Current into the battery, A.
    pub dc_current_a: f64,
    /// DC power into the battery, W.
    pub dc_power_w: f64,
    /// What bounded the AC current.
    pub limited_by: ObcLimit,
}

/// Energy through the OBC since construction, Wh.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ObcEnergy {
    /// AC input, `∫P_ac dt`.
    pub ac_wh: f64,
    /// DC output into the battery terminals.
    pub dc_wh: f64,
    /// Conversion loss, `E_ac − E_dc`.
    pub loss_wh: f64,
}

/// An on-board charger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obc {
    params: ObcParams,
    ac_current_a: f64,
    energy: ObcEnergy,
}

impl Obc {
    /// An idle OBC.
    pub fn new(params: &ObcParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Obc {
            params: *params,
            ac_current_a: 0.0,
            energy: ObcEnergy::default(),
        })
    }

    /// The parameters.
    pub fn params(&self) -> &ObcParams {
        &self.params
    }

    /// Energy booked since construction.
    pub fn energy(&self) -> &ObcEnergy {
        &self.energy
    }

    /// Advances by `dt_s`: draws at most `allowed_current_a` per phase from `supply`, follows
    /// `demand`, steps `pack`. O(1), allocation-free.
    pub fn step(
        &mut self,
        dt_s: f64,
        supply: &AcSupply,
        allowed_current_a: f64,
        demand: &ChargeDemand,
        pack: &mut BatteryPack,
    ) -> ObcState {
        let p = &self.params;
        let used = AcSupply {
            phases: supply.phases.min(p.phases),
            ..*supply
        };
        let va_per_a = f64::from(used.phases) * used.phase_voltage_v * used.power_factor;
        let allowed = if allowed_current_a.is_finite() {
            allowed_current_a.max(0.0)
        } else {
            0.0
        };
        let rating = p.max_current_a.min(p.max_power_w / va_per_a);
        let v_src = pack.source_voltage_v();
        let r_b = pack.internal_resistance_ohm();
        let i_dc_want = if demand.stop.is_none() && demand.voltage_v.is_finite() {
            demand
                .current_a
                .min((demand.voltage_v - v_src) / r_b)
                .max(0.0)
        } else {
            0.0
        };
        let want = (v_src + r_b * i_dc_want) * i_dc_want / (p.efficiency * va_per_a);
        let (mut target, mut limited_by) = (allowed, ObcLimit::Pilot);
        if rating < target {
            (target, limited_by) = (rating, ObcLimit::Rating);
        }
        if want < target {
            (target, limited_by) = (want, ObcLimit::Demand);
        }
        let i_ac = slew(
            self.ac_current_a,
            target,
            p.ramp_a_per_s * dt_s,
            f64::INFINITY,
        );
        if i_ac < target {
            limited_by = ObcLimit::Ramp;
        }
        self.ac_current_a = i_ac;
        let ac = used.quantities_at_current(i_ac);
        let i_dc = current_at_power(v_src, r_b, p.efficiency * ac.active_power_w);
        let step = pack.step(dt_s, i_dc);
        let dc_power_w = step.terminal_voltage_v * i_dc;
        let h = dt_s / 3600.0;
        self.energy.ac_wh += ac.active_power_w * h;
        self.energy.dc_wh += dc_power_w * h;
        self.energy.loss_wh += (ac.active_power_w - dc_power_w) * h;
        ObcState {
            ac,
            dc_voltage_v: step.terminal_voltage_v,
            dc_current_a: i_dc,
            dc_power_w,
            limited_by,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::battery::{BatteryParams, PackInit};
    use crate::physics::bms::ChargeMode;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn demand(current_a: f64) -> ChargeDemand {
        ChargeDemand {
            voltage_v: 421.8,
            current_a,
            mode: ChargeMode::ConstantCurrent,
            stop: None,
        }
    }

    #[test]
    fn follows_the_pilot_and_its_rating() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let p = BatteryParams::lfp_car_60kwh();
        let mut pack = BatteryPack::new(&p, PackInit::soaked(0.3, 25.0), &mut rng).unwrap();
        let mut obc = Obc::new(&ObcParams::three_phase_11kw()).unwrap();
        let supply = AcSupply::default();
        let mut s = obc.step(0.1, &supply, 32.0, &demand(100.0), &mut pack);
        assert_eq!(s.limited_by, ObcLimit::Ramp);
        for _ in 0..100 {
            s = obc.step(0.1, &supply, 32.0, &demand(100.0), &mut pack);
        }
        assert_eq!(s.limited_by, ObcLimit::Rating);
        assert!((s.ac.phase_current_a - 16.0).abs() < 1e-9);
        // The pilot drops to 10 A: followed at once.
        s = obc.step(0.1, &supply, 10.0, &demand(100.0), &mut pack);
        assert_eq!(
            (s.limited_by, s.ac.phase_current_a),
            (ObcLimit::Pilot, 10.0)
        );
        // A small BMS demand binds.
        for _ in 0..10 {
            s = obc.step(0.1, &supply, 32.0, &demand(5.0), &mut pack);
        }
        assert_eq!(s.limited_by, ObcLimit::Demand);
        assert!((s.dc_current_a - 5.0).abs() < 1e-6);
        let e = obc.energy();
        assert!((e.loss_wh / e.ac_wh - 0.06).abs() < 1e-3);
        assert!((e.dc_wh - pack.energy().terminal_wh).abs() < 1e-9);
    }

    #[test]
    fn single_phase_obc_on_three_phase_supply_uses_one_phase() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let p = BatteryParams::ncm_car_75kwh_400v();
        let mut pack = BatteryPack::new(&p, PackInit::soaked(0.3, 25.0), &mut rng).unwrap();
        let mut obc = Obc::new(&ObcParams::single_phase_7kw()).unwrap();
        let mut s = obc.step(0.1, &AcSupply::default(), 32.0, &demand(100.0), &mut pack);
        for _ in 0..100 {
            s = obc.step(0.1, &AcSupply::default(), 32.0, &demand(100.0), &mut pack);
        }
        assert_eq!(s.ac.phases, 1);
        assert!(s.ac.active_power_w <= 7_400.0 + 1e-9);
        assert!(ObcParams::default().validate().is_ok());
        assert!(
            ObcParams {
                phases: 2,
                ..ObcParams::default()
            }
            .validate()
            .is_err()
        );
    }
}
