//! DC charger parameters and named presets.

use super::gun::GunThermalParams;
use super::hv::{ContactorParams, PreChargeParams};
use super::insulation::InsulationParams;
use super::sharing::PowerSharing;
use crate::physics::common::{Checks, Curve, InvalidParams};
use crate::physics::grid::AcSupply;

/// Number of breakpoints of a module efficiency curve.
pub const EFFICIENCY_POINTS: usize = 6;

/// Module efficiency over the per-module load fraction (output power / rated module power).
pub type EfficiencyCurve = Curve<EFFICIENCY_POINTS>;

/// A typical 20–30 kW SiC/Si charger module: 85 % at 5 % load, 96 % peak around 75 %.
pub const DEFAULT_MODULE_EFFICIENCY: EfficiencyCurve = Curve::new(
    [0.05, 0.1, 0.2, 0.5, 0.75, 1.0],
    [0.85, 0.91, 0.94, 0.955, 0.96, 0.955],
);

/// Parameters of a DC charger (power cabinet plus its connectors).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcChargerParams {
    /// Number of connectors (guns) sharing the modules, 1–16.
    pub connectors: u8,
    /// Number of power modules.
    pub module_count: u16,
    /// Rated output power of one module, W.
    pub module_power_w: f64,
    /// Output current limit of one module, A (its constant-current region at low voltage).
    pub module_current_max_a: f64,
    /// Minimum output voltage (CML SPN 2825), V.
    pub output_voltage_min_v: f64,
    /// Maximum output voltage (CML SPN 2824), V.
    pub output_voltage_max_v: f64,
    /// Maximum output current per connector (CML SPN 2826; the gun rating), A.
    pub output_current_max_a: f64,
    /// Minimum output current (CML SPN 2827), A; reported only.
    pub output_current_min_a: f64,
    /// Rate at which the output current may rise, A/s.
    pub ramp_up_a_per_s: f64,
    /// Rate at which the output current may fall when the demand drops, A/s.
    pub ramp_down_a_per_s: f64,
    /// Output power the whole station may deliver, shared by its connectors, W.
    pub station_power_limit_w: f64,
    /// Module efficiency over per-module load.
    pub efficiency: EfficiencyCurve,
    /// Input power drawn per connector while idle (control, fans), W.
    pub standby_power_w: f64,
    /// The three-phase supply.
    pub supply: AcSupply,
    /// Resistance of the output cable (both conductors), Ω.
    pub cable_resistance_ohm: f64,
    /// Insulation monitor.
    pub insulation: InsulationParams,
    /// Pre-charge.
    pub precharge: PreChargeParams,
    /// Output contactors.
    pub contactor: ContactorParams,
    /// Connector thermal model.
    pub gun: GunThermalParams,
}

impl Default for DcChargerParams {
    /// [`DcChargerParams::dc_60kw_single`].
    fn default() -> Self {
        Self::dc_60kw_single()
    }
}

impl DcChargerParams {
    /// A 60 kW single-gun charger: 3 × 20 kW modules (66.7 A each, constant power from 300 V),
    /// 200–750 V, 200 A gun.
    pub fn dc_60kw_single() -> Self {
        DcChargerParams {
            connectors: 1,
            module_count: 3,
            module_power_w: 20_000.0,
            module_current_max_a: 66.7,
            output_voltage_min_v: 200.0,
            output_voltage_max_v: 750.0,
            output_current_max_a: 200.0,
            output_current_min_a: 0.0,
            ramp_up_a_per_s: 20.0,
            ramp_down_a_per_s: 100.0,
            station_power_limit_w: 60_000.0,
            efficiency: DEFAULT_MODULE_EFFICIENCY,
            standby_power_w: 50.0,
            supply: AcSupply::default(),
            cable_resistance_ohm: 2.5e-3,
            insulation: InsulationParams::default(),
            precharge: PreChargeParams::default(),
            contactor: ContactorParams::default(),
            gun: GunThermalParams::default(),
        }
    }

    /// A 120 kW two-gun charger whose guns share 4 × 30 kW modules (100 A each), 150–1000 V,
    /// 250 A guns.
    pub fn dc_120kw_dual() -> Self {
        DcChargerParams {
            connectors: 2,
            module_count: 4,
            module_power_w: 30_000.0,
            module_current_max_a: 100.0,
            output_voltage_min_v: 150.0,
            output_voltage_max_v: 1000.0,
            output_current_max_a: 250.0,
            station_power_limit_w: 120_000.0,
            standby_power_w: 60.0,
            ..Self::dc_60kw_single()
        }
    }

    /// A 360 kW split-type cabinet: 12 × 30 kW modules feeding 6 dispensers, 150–1000 V,
    /// 250 A guns (the GB/T 2015 connector maximum).
    pub fn dc_360kw_split() -> Self {
        DcChargerParams {
            connectors: 6,
            module_count: 12,
            station_power_limit_w: 360_000.0,
            standby_power_w: 40.0,
            ..Self::dc_120kw_dual()
        }
    }

    /// Sum of the module ratings, W.
    pub fn rated_power_w(&self) -> f64 {
        f64::from(self.module_count) * self.module_power_w
    }

    /// The sharing policy of this cabinet: whole modules.
    pub fn sharing(&self) -> PowerSharing {
        PowerSharing::modules(self.module_power_w)
    }

    /// Checks every parameter; returns all problems at once.
    pub fn validate(&self) -> Result<(), InvalidParams> {
        let mut c = Checks::default();
        c.check((1..=16).contains(&self.connectors), "connectors", || {
            format!("must be 1..=16, got {}", self.connectors)
        });
        c.check(self.module_count >= 1, "module_count", || {
            "must be at least 1".to_string()
        });
        c.positive("module_power_w", self.module_power_w);
        c.positive("module_current_max_a", self.module_current_max_a);
        c.positive("output_voltage_min_v", self.output_voltage_min_v);
        c.check(
            self.output_voltage_max_v.is_finite()
                && self.output_voltage_max_v > self.output_voltage_min_v,
            "output_voltage_max_v",
            || {
                format!(
                    "must exceed output_voltage_min_v {}, got {}",
                    self.output_voltage_min_v, self.output_voltage_max_v
                )
            },
        );
        c.within(
            "output_current_max_a",
            self.output_current_max_a,
            1.0,
            400.0,
        );
        c.within(
            "output_current_min_a",
            self.output_current_min_a,
            0.0,
            self.output_current_max_a,
        );
        c.positive("ramp_up_a_per_s", self.ramp_up_a_per_s);
        c.positive("ramp_down_a_per_s", self.ramp_down_a_per_s);
        c.positive("station_power_limit_w", self.station_power_limit_w);
        self.efficiency.check(&mut c, "efficiency", 0.5, 1.0);
        c.within("standby_power_w", self.standby_power_w, 0.0, 10_000.0);
        c.within("cable_resistance_ohm", self.cable_resistance_ohm, 0.0, 1.0);
        self.supply.check(&mut c);
        self.insulation.check(&mut c);
        self.precharge.check(&mut c);
        self.contactor.check(&mut c);
        self.gun.check(&mut c);
        c.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate() {
        for p in [
            DcChargerParams::dc_60kw_single(),
            DcChargerParams::dc_120kw_dual(),
            DcChargerParams::dc_360kw_split(),
        ] {
            p.validate().unwrap();
            assert!(p.station_power_limit_w <= p.rated_power_w());
        }
        assert_eq!(DcChargerParams::dc_360kw_split().rated_power_w(), 360_000.0);
        assert_eq!(
            DcChargerParams::default(),
            DcChargerParams::dc_60kw_single()
        );
    }

    #[test]
    fn validate_reports_every_problem() {
        let mut p = DcChargerParams::dc_120kw_dual();
        p.output_voltage_max_v = 100.0;
        p.connectors = 0;
        p.gun.max_c = 0.0;
        let err = p.validate().unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["connectors", "output_voltage_max_v", "gun.derate_start_c"]
        );
    }
}
