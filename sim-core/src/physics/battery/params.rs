//! Battery pack parameters and named presets.
//!
//! Units are in the field names. "Element" below means one series position: `cells_parallel`
//! cells in parallel, which is what GB/T 27930 calls a cell (BSM/BMV number it 1–256).

use super::ocv::Chemistry;
use crate::physics::common::{Checks, Curve, InvalidParams};
use crate::physics::spread::UNIT_SPREAD_BOUND;

/// Physical parameters of a battery pack (cells, equivalent circuit, thermal, BCP limits,
/// cell-to-cell spread).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatteryParams {
    /// Cell chemistry (selects the OCV table).
    pub chemistry: Chemistry,
    /// Number of elements in series (1–256, the GB/T cell-number range).
    pub cells_series: u16,
    /// Cells in parallel per element.
    pub cells_parallel: u16,
    /// Rated capacity of one cell, Ah.
    pub cell_capacity_ah: f64,
    /// Ohmic resistance of one cell at 25 °C, Ω.
    pub cell_r0_ohm: f64,
    /// Resistance of the cell's RC pair (polarisation), Ω.
    pub cell_r1_ohm: f64,
    /// Capacitance of the cell's RC pair, F (time constant `τ = R1·C1`).
    pub cell_c1_f: f64,
    /// Multiplier on `R0` over pack temperature (°C → factor, 1.0 at 25 °C).
    pub r0_temperature_factor: Curve<7>,
    /// Heat capacity of the whole pack, J/K.
    pub thermal_mass_j_per_k: f64,
    /// Heat transfer from the pack to ambient (cooling system included), W/K.
    pub cooling_w_per_k: f64,
    /// BCP max allowed cell charging voltage (SPN 2816), V; above it the BMS stops (fault).
    pub max_cell_voltage_v: f64,
    /// BCP max allowed total charging voltage (SPN 2819), V.
    pub max_charge_voltage_v: f64,
    /// BCP max allowed charging current (SPN 2817), A.
    pub max_charge_current_a: f64,
    /// BCP max allowed battery temperature (SPN 2820), °C; at or above it the BMS stops.
    pub max_temperature_c: f64,
    /// Number of temperature probes (BMT, 1–128).
    pub temperature_probes: u8,
    /// Number of cell groups the BMS reports (BCS/BMV group number 0–15, so 1–16).
    pub cell_groups: u8,
    /// Standard deviation of the element capacity factor (fraction, e.g. 0.01 = 1 %).
    pub capacity_spread: f64,
    /// Standard deviation of the element resistance factor (fraction).
    pub resistance_spread: f64,
    /// Standard deviation of the temperature-probe offsets, K.
    pub temperature_probe_spread_c: f64,
}

/// The default `R0` temperature factor: cold cells are much more resistive (about 5× at −20 °C).
pub const DEFAULT_R0_TEMPERATURE_FACTOR: Curve<7> = Curve::new(
    [-20.0, -10.0, 0.0, 10.0, 25.0, 40.0, 60.0],
    [5.0, 3.0, 2.0, 1.4, 1.0, 0.85, 0.8],
);

impl Default for BatteryParams {
    /// The LFP car pack, [`BatteryParams::lfp_car_60kwh`].
    fn default() -> Self {
        Self::lfp_car_60kwh()
    }
}

impl BatteryParams {
    /// LFP passenger car, 114S1P × 165 Ah, 364.8 V nominal, ≈ 61.6 kWh; BCP 3.70 V / 421.8 V /
    /// 250 A / 65 °C (after the real LFP trace in gbt27930.md §7.1).
    pub fn lfp_car_60kwh() -> Self {
        BatteryParams {
            chemistry: Chemistry::Lfp,
            cells_series: 114,
            cells_parallel: 1,
            cell_capacity_ah: 165.0,
            cell_r0_ohm: 0.45e-3,
            cell_r1_ohm: 0.25e-3,
            cell_c1_f: 240_000.0,
            r0_temperature_factor: DEFAULT_R0_TEMPERATURE_FACTOR,
            thermal_mass_j_per_k: 450_000.0,
            cooling_w_per_k: 150.0,
            max_cell_voltage_v: 3.70,
            max_charge_voltage_v: 421.8,
            max_charge_current_a: 250.0,
            max_temperature_c: 65.0,
            temperature_probes: 24,
            cell_groups: 8,
            capacity_spread: 0.01,
            resistance_spread: 0.05,
            temperature_probe_spread_c: 1.0,
        }
    }

    /// NCM passenger car, 96S2P × 108 Ah, ≈ 358 V nominal, ≈ 77 kWh; BCP 4.25 V / 405.6 V /
    /// 250 A / 55 °C (after the real CATL trace in gbt27930.md §7.1).
    pub fn ncm_car_75kwh_400v() -> Self {
        BatteryParams {
            chemistry: Chemistry::Ncm,
            cells_series: 96,
            cells_parallel: 2,
            cell_capacity_ah: 108.0,
            cell_r0_ohm: 0.7e-3,
            cell_r1_ohm: 0.35e-3,
            cell_c1_f: 115_000.0,
            r0_temperature_factor: DEFAULT_R0_TEMPERATURE_FACTOR,
            thermal_mass_j_per_k: 400_000.0,
            cooling_w_per_k: 200.0,
            max_cell_voltage_v: 4.25,
            max_charge_voltage_v: 405.6,
            max_charge_current_a: 250.0,
            max_temperature_c: 55.0,
            temperature_probes: 32,
            cell_groups: 8,
            capacity_spread: 0.01,
            resistance_spread: 0.05,
            temperature_probe_spread_c: 1.0,
        }
    }

    /// 800 V NCM, 192S1P × 130 Ah, ≈ 716 V nominal, ≈ 93 kWh; BCP 4.25 V / 811.2 V / 250 A /
    /// 55 °C (typical values, gbt27930.md §7.1, UNCONFIRMED there).
    pub fn ncm_800v_90kwh() -> Self {
        BatteryParams {
            chemistry: Chemistry::Ncm,
            cells_series: 192,
            cells_parallel: 1,
            cell_capacity_ah: 130.0,
            cell_r0_ohm: 0.45e-3,
            cell_r1_ohm: 0.25e-3,
            cell_c1_f: 160_000.0,
            r0_temperature_factor: DEFAULT_R0_TEMPERATURE_FACTOR,
            thermal_mass_j_per_k: 440_000.0,
            cooling_w_per_k: 400.0,
            max_cell_voltage_v: 4.25,
            max_charge_voltage_v: 811.2,
            max_charge_current_a: 250.0,
            max_temperature_c: 55.0,
            temperature_probes: 48,
            cell_groups: 12,
            capacity_spread: 0.01,
            resistance_spread: 0.05,
            temperature_probe_spread_c: 1.0,
        }
    }

    /// LFP city bus, 192S3P × 190 Ah, ≈ 626 V nominal, ≈ 358 kWh; BCP 3.70 V / 710.4 V / 250 A /
    /// 55 °C (typical values, gbt27930.md §7.1, UNCONFIRMED there).
    pub fn lfp_bus_350kwh() -> Self {
        BatteryParams {
            chemistry: Chemistry::Lfp,
            cells_series: 192,
            cells_parallel: 3,
            cell_capacity_ah: 190.0,
            cell_r0_ohm: 0.4e-3,
            cell_r1_ohm: 0.22e-3,
            cell_c1_f: 270_000.0,
            r0_temperature_factor: DEFAULT_R0_TEMPERATURE_FACTOR,
            thermal_mass_j_per_k: 2_300_000.0,
            cooling_w_per_k: 600.0,
            max_cell_voltage_v: 3.70,
            max_charge_voltage_v: 710.4,
            max_charge_current_a: 250.0,
            max_temperature_c: 55.0,
            temperature_probes: 64,
            cell_groups: 16,
            capacity_spread: 0.01,
            resistance_spread: 0.05,
            temperature_probe_spread_c: 1.0,
        }
    }

    /// Nominal element capacity `Q = cells_parallel · cell_capacity_ah`, Ah.
    pub fn element_capacity_ah(&self) -> f64 {
        f64::from(self.cells_parallel) * self.cell_capacity_ah
    }

    /// Nominal pack voltage (series count × mean OCV), V.
    pub fn nominal_voltage_v(&self) -> f64 {
        f64::from(self.cells_series) * self.chemistry.ocv().mean_voltage_v()
    }

    /// Nominal energy from empty to full (BCP SPN 2818), Wh.
    pub fn nominal_energy_wh(&self) -> f64 {
        self.nominal_voltage_v() * self.element_capacity_ah()
    }

    fn check_spread(&self, c: &mut Checks) {
        // Centred spread values are bounded by twice the unit bound; keep every factor > 0.5.
        let max_sigma = 0.5 / (2.0 * UNIT_SPREAD_BOUND);
        c.within("capacity_spread", self.capacity_spread, 0.0, max_sigma);
        c.within("resistance_spread", self.resistance_spread, 0.0, max_sigma);
        c.within(
            "temperature_probe_spread_c",
            self.temperature_probe_spread_c,
            0.0,
            10.0,
        );
    }

    /// Checks every parameter; returns all problems at once.
    pub fn validate(&self) -> Result<(), InvalidParams> {
        let mut c = Checks::default();
        c.check(
            (1..=256).contains(&self.cells_series),
            "cells_series",
            || {
                format!(
                    "must be 1..=256 (GB/T cell numbers), got {}",
                    self.cells_series
                )
            },
        );
        c.check(self.cells_parallel >= 1, "cells_parallel", || {
            "must be at least 1, got 0".to_string()
        });
        c.positive("cell_capacity_ah", self.cell_capacity_ah);
        c.positive("cell_r0_ohm", self.cell_r0_ohm);
        c.positive("cell_r1_ohm", self.cell_r1_ohm);
        c.positive("cell_c1_f", self.cell_c1_f);
        self.r0_temperature_factor
            .check(&mut c, "r0_temperature_factor", 0.1, 100.0);
        c.positive("thermal_mass_j_per_k", self.thermal_mass_j_per_k);
        c.positive("cooling_w_per_k", self.cooling_w_per_k);
        let full = self.chemistry.ocv().full_voltage_v();
        c.check(
            self.max_cell_voltage_v.is_finite() && self.max_cell_voltage_v >= full,
            "max_cell_voltage_v",
            || {
                format!(
                    "must be ≥ the full-charge OCV {full} V, got {}",
                    self.max_cell_voltage_v
                )
            },
        );
        let pack_full = full * f64::from(self.cells_series);
        c.check(
            self.max_charge_voltage_v.is_finite() && self.max_charge_voltage_v >= pack_full,
            "max_charge_voltage_v",
            || {
                format!(
                    "must be ≥ series × full-charge OCV = {pack_full:.1} V, got {}",
                    self.max_charge_voltage_v
                )
            },
        );
        c.within(
            "max_charge_current_a",
            self.max_charge_current_a,
            1.0,
            400.0,
        );
        c.within("max_temperature_c", self.max_temperature_c, 0.0, 200.0);
        c.check(
            (1..=128).contains(&self.temperature_probes),
            "temperature_probes",
            || format!("must be 1..=128 (BMT), got {}", self.temperature_probes),
        );
        c.check((1..=16).contains(&self.cell_groups), "cell_groups", || {
            format!(
                "must be 1..=16 (group number 0–15), got {}",
                self.cell_groups
            )
        });
        self.check_spread(&mut c);
        c.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_match_their_names() {
        let cases = [
            (BatteryParams::lfp_car_60kwh(), 60_000.0),
            (BatteryParams::ncm_car_75kwh_400v(), 75_000.0),
            (BatteryParams::ncm_800v_90kwh(), 90_000.0),
            (BatteryParams::lfp_bus_350kwh(), 350_000.0),
        ];
        for (p, kwh) in cases {
            p.validate().unwrap();
            let e = p.nominal_energy_wh();
            assert!((e / kwh - 1.0).abs() < 0.05, "{p:?}: {e} Wh");
        }
        assert_eq!(BatteryParams::default(), BatteryParams::lfp_car_60kwh());
    }

    #[test]
    fn validate_reports_every_problem() {
        let mut p = BatteryParams::ncm_car_75kwh_400v();
        p.cells_series = 0;
        p.cell_r0_ohm = -1.0;
        p.max_cell_voltage_v = 4.1;
        p.temperature_probes = 0;
        let err = p.validate().unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field).collect();
        assert!(fields.contains(&"cells_series"));
        assert!(fields.contains(&"cell_r0_ohm"));
        assert!(fields.contains(&"max_cell_voltage_v"));
        assert!(fields.contains(&"temperature_probes"));
    }
}
