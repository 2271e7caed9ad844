//! Vehicle profiles: the battery pack, its BMS limits and the on-board AC charger.

use crate::validate::Errors;
use serde::{Deserialize, Serialize};

/// Cell chemistry (GB/T 27930 BRM battery type 03 = LFP, 06 = NCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chemistry {
    /// Lithium iron phosphate: flat OCV curve, 2.5–3.65 V per cell.
    Lfp,
    /// Nickel cobalt manganese: 3.0–4.2 V per cell.
    Ncm,
}

/// The GB/T 27930 version the vehicle's BMS speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum GbtVersion {
    /// GB/T 27930-2015: CHM/BHM handshake, protocol version 1.1.
    #[default]
    #[serde(rename = "2015")]
    V2015,
    /// GB/T 27930-2011: no BHM, protocol version 1.0.
    #[serde(rename = "2011")]
    V2011,
}

/// A vehicle profile file (`profiles/vehicles/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleProfile {
    /// Profile name, referenced from vehicle mixes (e.g. `lfp-car-60kwh`).
    pub name: String,
    /// What this vehicle is.
    #[serde(default)]
    pub description: String,
    /// The traction battery.
    pub battery: BatterySpec,
    /// The BMS's charging limits.
    pub bms: BmsSpec,
    /// The on-board charger; vehicles without one cannot use AC chargers.
    #[serde(default)]
    pub obc: Option<ObcSpec>,
    /// Whether the vehicle has a GB/T DC inlet.
    #[serde(default = "yes")]
    pub dc_inlet: bool,
}

fn yes() -> bool {
    true
}

/// The traction battery: cells in series × parallel with an equivalent circuit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatterySpec {
    /// Cell chemistry.
    pub chemistry: Chemistry,
    /// Cells in series.
    pub cells_series: u32,
    /// Cells in parallel per series element.
    #[serde(default = "one")]
    pub cells_parallel: u32,
    /// Capacity of one cell, Ah.
    pub cell_capacity_ah: f64,
    /// Ohmic resistance of one cell at 25 °C, mΩ.
    pub cell_resistance_mohm: f64,
    /// RC-pair resistance of one cell, mΩ.
    #[serde(default = "default_r1")]
    pub cell_rc_resistance_mohm: f64,
    /// RC-pair time constant, s.
    #[serde(default = "default_tau")]
    pub cell_rc_time_constant_s: f64,
    /// Pack heat capacity, kJ/K.
    #[serde(default = "default_heat_capacity")]
    pub heat_capacity_kj_per_k: f64,
    /// Pack cooling to ambient, W/K.
    #[serde(default = "default_cooling")]
    pub cooling_w_per_k: f64,
    /// Cell-to-cell capacity spread (one standard deviation), %.
    #[serde(default = "default_cap_spread")]
    pub capacity_spread_pct: f64,
    /// Cell-to-cell resistance spread (one standard deviation), %.
    #[serde(default = "default_r_spread")]
    pub resistance_spread_pct: f64,
    /// Number of temperature probes the BMS reads.
    #[serde(default = "default_probes")]
    pub temperature_probes: u32,
    /// Probe-to-probe temperature spread (one standard deviation), °C.
    #[serde(default = "default_t_spread")]
    pub temperature_spread_c: f64,
}

fn one() -> u32 {
    1
}
fn default_r1() -> f64 {
    0.4
}
fn default_tau() -> f64 {
    30.0
}
fn default_heat_capacity() -> f64 {
    300.0
}
fn default_cooling() -> f64 {
    60.0
}
fn default_cap_spread() -> f64 {
    1.0
}
fn default_r_spread() -> f64 {
    3.0
}
fn default_probes() -> u32 {
    16
}
fn default_t_spread() -> f64 {
    1.0
}

/// The BMS's limits and charging strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BmsSpec {
    /// Highest charging current the pack accepts, A (BCP).
    pub max_charge_current_a: f64,
    /// Highest allowed cell voltage, V (BCP).
    pub max_cell_voltage_v: f64,
    /// Highest allowed pack voltage, V (BCP, BHM); defaults to cells × max cell voltage.
    #[serde(default)]
    pub max_pack_voltage_v: Option<f64>,
    /// Highest allowed temperature, °C (BCP).
    #[serde(default = "default_max_temp")]
    pub max_temperature_c: f64,
    /// Switch from constant current to constant voltage at this cell voltage, V;
    /// defaults to the max cell voltage less a margin.
    #[serde(default)]
    pub cv_cell_voltage_v: Option<f64>,
    /// The BMS ends the session when the current tapers below this in CV, A.
    #[serde(default = "default_cutoff")]
    pub cutoff_current_a: f64,
    /// The BMS protocol generation.
    #[serde(default)]
    pub gbt_version: GbtVersion,
    /// Whether the BMS reports mode CV (0x01) in BCL; many real BMSs stay in CC (0x02).
    #[serde(default = "yes")]
    pub reports_cv_mode: bool,
}

fn default_max_temp() -> f64 {
    55.0
}
fn default_cutoff() -> f64 {
    5.0
}

/// The vehicle's on-board charger for AC charging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObcSpec {
    /// Highest AC input power, kW.
    pub max_power_kw: f64,
    /// Phases the OBC can use (1 or 3).
    pub phases: u8,
    /// Conversion efficiency, %.
    #[serde(default = "default_obc_eff")]
    pub efficiency_pct: f64,
}

fn default_obc_eff() -> f64 {
    93.0
}

impl VehicleProfile {
    /// Every problem in this profile.
    pub fn validate(&self, e: &mut Errors) {
        e.non_empty("name", &self.name);
        e.nested("battery", |e| self.battery.validate(e));
        e.nested("bms", |e| self.bms.validate(e, &self.battery));
        if let Some(obc) = &self.obc {
            e.nested("obc", |e| {
                e.range("max_power_kw", obc.max_power_kw, 1.0, 44.0);
                if obc.phases != 1 && obc.phases != 3 {
                    e.push("phases", format!("{} phases: must be 1 or 3", obc.phases));
                }
                e.range("efficiency_pct", obc.efficiency_pct, 50.0, 100.0);
            });
        }
        if self.obc.is_none() && !self.dc_inlet {
            e.push(
                "dc_inlet",
                "a vehicle needs a DC inlet or an on-board charger",
            );
        }
    }

    /// Highest allowed pack voltage, V.
    pub fn max_pack_voltage_v(&self) -> f64 {
        self.bms
            .max_pack_voltage_v
            .unwrap_or(self.bms.max_cell_voltage_v * f64::from(self.battery.cells_series))
    }

    /// Nominal pack energy, kWh (nominal cell voltage × capacity).
    pub fn nominal_energy_kwh(&self) -> f64 {
        let nominal_cell_v = match self.battery.chemistry {
            Chemistry::Lfp => 3.2,
            Chemistry::Ncm => 3.65,
        };
        nominal_cell_v
            * f64::from(self.battery.cells_series)
            * f64::from(self.battery.cells_parallel)
            * self.battery.cell_capacity_ah
            / 1000.0
    }
}

impl BatterySpec {
    fn validate(&self, e: &mut Errors) {
        e.range("cells_series", f64::from(self.cells_series), 1.0, 400.0);
        e.range("cells_parallel", f64::from(self.cells_parallel), 1.0, 100.0);
        e.range("cell_capacity_ah", self.cell_capacity_ah, 0.5, 2000.0);
        e.range(
            "cell_resistance_mohm",
            self.cell_resistance_mohm,
            0.01,
            100.0,
        );
        e.range(
            "cell_rc_resistance_mohm",
            self.cell_rc_resistance_mohm,
            0.0,
            100.0,
        );
        e.range(
            "cell_rc_time_constant_s",
            self.cell_rc_time_constant_s,
            0.1,
            3600.0,
        );
        e.range(
            "heat_capacity_kj_per_k",
            self.heat_capacity_kj_per_k,
            1.0,
            100_000.0,
        );
        e.range("cooling_w_per_k", self.cooling_w_per_k, 0.0, 100_000.0);
        e.range("capacity_spread_pct", self.capacity_spread_pct, 0.0, 10.0);
        e.range(
            "resistance_spread_pct",
            self.resistance_spread_pct,
            0.0,
            30.0,
        );
        e.range(
            "temperature_probes",
            f64::from(self.temperature_probes),
            1.0,
            250.0,
        );
        e.range("temperature_spread_c", self.temperature_spread_c, 0.0, 10.0);
    }
}

impl BmsSpec {
    fn validate(&self, e: &mut Errors, battery: &BatterySpec) {
        e.range(
            "max_charge_current_a",
            self.max_charge_current_a,
            1.0,
            400.0,
        );
        let (lo, hi) = match battery.chemistry {
            Chemistry::Lfp => (3.3, 3.8),
            Chemistry::Ncm => (3.9, 4.4),
        };
        e.range("max_cell_voltage_v", self.max_cell_voltage_v, lo, hi);
        if let Some(v) = self.max_pack_voltage_v {
            let cells = f64::from(battery.cells_series);
            e.range(
                "max_pack_voltage_v",
                v,
                cells * lo * 0.95,
                cells * hi * 1.05,
            );
        }
        e.range("max_temperature_c", self.max_temperature_c, 30.0, 80.0);
        if let Some(v) = self.cv_cell_voltage_v
            && !(v > lo - 0.4 && v <= self.max_cell_voltage_v)
        {
            e.push(
                "cv_cell_voltage_v",
                "must be at or below max_cell_voltage_v",
            );
        }
        e.range("cutoff_current_a", self.cutoff_current_a, 0.1, 100.0);
    }
}
