//! Charger (equipment) profiles: DC cabinets and AC wallboxes.

use crate::validate::Errors;
use serde::{Deserialize, Serialize};

/// DC or AC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargerKind {
    /// An off-board DC charger speaking GB/T 27930 to the vehicle.
    Dc,
    /// An AC charger (control pilot, on-board charger in the vehicle).
    Ac,
}

/// The energy meter model a charger carries (its Modbus register map).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeterModel {
    /// Acrel DJSF1352-RN DC rail meter (most Chinese DC chargers).
    Djsf1352,
    /// Chint DDSU666 single-phase AC meter.
    Ddsu666,
    /// Chint DTSU666 three-phase AC meter.
    Dtsu666,
    /// Eastron SDM630 three-phase AC meter.
    Sdm630,
    /// Eastron SDM120 single-phase AC meter.
    Sdm120,
}

/// How a multi-gun DC cabinet shares its modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PowerSharing {
    /// Any module serves any gun: the cabinet's power is shared by demand (water-filling).
    #[default]
    Dynamic,
    /// Modules are split evenly and permanently between the guns.
    Fixed,
}

/// A charger profile file (`profiles/chargers/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargerProfile {
    /// Profile name, referenced from fleets (e.g. `dc-120kw-dual`).
    pub name: String,
    /// What this charger is.
    #[serde(default)]
    pub description: String,
    /// DC or AC.
    pub kind: ChargerKind,
    /// Number of connectors (guns), 1 to 8.
    pub connectors: u8,
    /// Vendor name reported in registration and boot messages.
    #[serde(default = "default_vendor")]
    pub vendor: String,
    /// Model name reported in registration and boot messages.
    #[serde(default)]
    pub model: String,
    /// Firmware version reported at boot.
    #[serde(default = "default_firmware")]
    pub firmware_version: String,
    /// DC power stage; required when `kind = "dc"`.
    #[serde(default)]
    pub dc: Option<DcSpec>,
    /// AC supply; required when `kind = "ac"`.
    #[serde(default)]
    pub ac: Option<AcSpec>,
    /// The energy meter.
    #[serde(default)]
    pub meter: MeterSpec,
    /// The insulation monitor (DC only; ignored for AC).
    #[serde(default)]
    pub insulation: InsulationSpec,
    /// The connector (gun) and cable thermal model.
    #[serde(default)]
    pub gun: GunSpec,
}

fn default_vendor() -> String {
    "chargestorm".into()
}
fn default_firmware() -> String {
    "1.0.0".into()
}

/// A DC charger's power stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcSpec {
    /// Number of power modules in the cabinet.
    pub module_count: u32,
    /// Rated power of one module, kW.
    pub module_power_kw: f64,
    /// Lowest output voltage, V.
    pub output_voltage_min_v: f64,
    /// Highest output voltage, V.
    pub output_voltage_max_v: f64,
    /// Highest output current per gun, A (GB/T 27930-2015 can express ≤ 400 A).
    pub output_current_max_a: f64,
    /// Lowest output current the modules regulate, A.
    #[serde(default = "default_current_min")]
    pub output_current_min_a: f64,
    /// Output current slew rate, A/s.
    #[serde(default = "default_ramp")]
    pub ramp_a_per_s: f64,
    /// Efficiency against load: pairs of `[load_pct, efficiency_pct]`, load ascending.
    #[serde(default = "default_efficiency")]
    pub efficiency_curve: Vec<[f64; 2]>,
    /// How the guns share the modules.
    #[serde(default)]
    pub sharing: PowerSharing,
    /// Cabinet (grid connection) power limit, kW; defaults to all modules' power.
    #[serde(default)]
    pub cabinet_power_limit_kw: Option<f64>,
    /// Time to pre-charge the output to the battery voltage, ms.
    #[serde(default = "default_precharge")]
    pub precharge_ms: u64,
    /// AC input line-to-line voltage, V.
    #[serde(default = "default_ac_input")]
    pub ac_input_voltage_v: f64,
    /// AC input power factor at load.
    #[serde(default = "default_pf")]
    pub ac_input_power_factor: f64,
}

fn default_current_min() -> f64 {
    1.0
}
fn default_ramp() -> f64 {
    20.0
}
fn default_efficiency() -> Vec<[f64; 2]> {
    vec![[5.0, 85.0], [20.0, 93.0], [50.0, 95.5], [100.0, 95.0]]
}
fn default_precharge() -> u64 {
    300
}
fn default_ac_input() -> f64 {
    380.0
}
fn default_pf() -> f64 {
    0.99
}

/// An AC charger's supply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcSpec {
    /// 1 or 3 phases.
    pub phases: u8,
    /// Phase-to-neutral voltage, V.
    #[serde(default = "default_phase_voltage")]
    pub phase_voltage_v: f64,
    /// Highest current per phase the charger offers (sets the PWM duty), A.
    pub current_max_a: f64,
}

fn default_phase_voltage() -> f64 {
    220.0
}

/// The energy meter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterSpec {
    /// Register map; defaults to DJSF1352 for DC and DDSU666/DTSU666 for AC by phases.
    #[serde(default)]
    pub model: Option<MeterModel>,
    /// Accuracy class, % of reading (e.g. 0.5 or 1.0).
    #[serde(default = "default_accuracy")]
    pub accuracy_class_pct: f64,
}

fn default_accuracy() -> f64 {
    0.5
}

impl Default for MeterSpec {
    fn default() -> Self {
        MeterSpec {
            model: None,
            accuracy_class_pct: default_accuracy(),
        }
    }
}

/// The insulation monitor and the healthy insulation of the DC output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsulationSpec {
    /// Healthy DC+ to PE resistance, kΩ.
    #[serde(default = "default_riso")]
    pub resistance_pos_kohm: f64,
    /// Healthy DC− to PE resistance, kΩ.
    #[serde(default = "default_riso")]
    pub resistance_neg_kohm: f64,
    /// Time the insulation check takes during the handshake, ms.
    #[serde(default = "default_iso_check")]
    pub check_ms: u64,
}

fn default_riso() -> f64 {
    10_000.0
}
fn default_iso_check() -> u64 {
    3_000
}

impl Default for InsulationSpec {
    fn default() -> Self {
        InsulationSpec {
            resistance_pos_kohm: default_riso(),
            resistance_neg_kohm: default_riso(),
            check_ms: default_iso_check(),
        }
    }
}

/// The connector (gun) thermal model: a first-order rise with current squared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GunSpec {
    /// Rated current of the gun and cable, A.
    #[serde(default = "default_gun_rated")]
    pub rated_current_a: f64,
    /// Steady-state temperature rise over ambient at rated current, °C.
    #[serde(default = "default_gun_rise")]
    pub rise_at_rated_c: f64,
    /// Thermal time constant, s.
    #[serde(default = "default_gun_tau")]
    pub time_constant_s: f64,
    /// Temperature at which the charger stops for over-temperature, °C.
    #[serde(default = "default_gun_trip")]
    pub trip_c: f64,
}

fn default_gun_rated() -> f64 {
    250.0
}
fn default_gun_rise() -> f64 {
    40.0
}
fn default_gun_tau() -> f64 {
    600.0
}
fn default_gun_trip() -> f64 {
    90.0
}

impl Default for GunSpec {
    fn default() -> Self {
        GunSpec {
            rated_current_a: default_gun_rated(),
            rise_at_rated_c: default_gun_rise(),
            time_constant_s: default_gun_tau(),
            trip_c: default_gun_trip(),
        }
    }
}

impl ChargerProfile {
    /// Every problem in this profile.
    pub fn validate(&self, e: &mut Errors) {
        e.non_empty("name", &self.name);
        if !(1..=8).contains(&self.connectors) {
            e.push(
                "connectors",
                format!("{} is out of range 1..=8", self.connectors),
            );
        }
        match (self.kind, &self.dc, &self.ac) {
            (ChargerKind::Dc, None, _) => e.push("dc", "a DC charger needs a [dc] table"),
            (ChargerKind::Ac, _, None) => e.push("ac", "an AC charger needs an [ac] table"),
            (ChargerKind::Dc, Some(_), Some(_)) => e.push("ac", "a DC charger has no [ac] table"),
            (ChargerKind::Ac, Some(_), Some(_)) => e.push("dc", "an AC charger has no [dc] table"),
            _ => {}
        }
        if let Some(dc) = &self.dc {
            e.nested("dc", |e| dc.validate(e, self.connectors));
        }
        if let Some(ac) = &self.ac {
            e.nested("ac", |e| ac.validate(e));
        }
        e.nested("meter", |e| {
            e.range(
                "accuracy_class_pct",
                self.meter.accuracy_class_pct,
                0.0,
                5.0,
            );
            let dc_meter = matches!(self.meter.model, Some(MeterModel::Djsf1352));
            if self.meter.model.is_some() && dc_meter != (self.kind == ChargerKind::Dc) {
                e.push(
                    "model",
                    "the meter model does not match the charger kind (DC/AC)",
                );
            }
        });
        e.nested("insulation", |e| {
            e.positive("resistance_pos_kohm", self.insulation.resistance_pos_kohm);
            e.positive("resistance_neg_kohm", self.insulation.resistance_neg_kohm);
            e.range("check_ms", self.insulation.check_ms as f64, 0.0, 60_000.0);
        });
        e.nested("gun", |e| {
            e.positive("rated_current_a", self.gun.rated_current_a);
            e.range("rise_at_rated_c", self.gun.rise_at_rated_c, 0.0, 150.0);
            e.positive("time_constant_s", self.gun.time_constant_s);
            e.range("trip_c", self.gun.trip_c, 40.0, 200.0);
        });
    }

    /// The meter model, with the default for the charger kind.
    pub fn meter_model(&self) -> MeterModel {
        self.meter.model.unwrap_or(match (self.kind, &self.ac) {
            (ChargerKind::Dc, _) => MeterModel::Djsf1352,
            (ChargerKind::Ac, Some(ac)) if ac.phases == 3 => MeterModel::Dtsu666,
            (ChargerKind::Ac, _) => MeterModel::Ddsu666,
        })
    }
}

impl DcSpec {
    fn validate(&self, e: &mut Errors, connectors: u8) {
        if self.module_count == 0 || self.module_count > 256 {
            e.push(
                "module_count",
                format!("{} is out of range 1..=256", self.module_count),
            );
        }
        if self.sharing == PowerSharing::Fixed && self.module_count < u32::from(connectors) {
            e.push(
                "module_count",
                "fixed sharing needs at least one module per connector",
            );
        }
        e.range("module_power_kw", self.module_power_kw, 1.0, 100.0);
        e.range(
            "output_voltage_min_v",
            self.output_voltage_min_v,
            50.0,
            1000.0,
        );
        e.range(
            "output_voltage_max_v",
            self.output_voltage_max_v,
            100.0,
            1500.0,
        );
        if self.output_voltage_min_v >= self.output_voltage_max_v {
            e.push("output_voltage_min_v", "must be below output_voltage_max_v");
        }
        e.range(
            "output_current_max_a",
            self.output_current_max_a,
            1.0,
            400.0,
        );
        e.range("output_current_min_a", self.output_current_min_a, 0.0, 50.0);
        e.range("ramp_a_per_s", self.ramp_a_per_s, 0.1, 10_000.0);
        if self.efficiency_curve.is_empty() {
            e.push(
                "efficiency_curve",
                "needs at least one [load_pct, efficiency_pct] point",
            );
        }
        let mut last_load = -1.0;
        for (i, [load, eff]) in self.efficiency_curve.iter().copied().enumerate() {
            let field = format!("efficiency_curve[{i}]");
            if !(load > last_load && load <= 100.0) {
                e.push(&field, "load_pct must ascend and stay ≤ 100");
            }
            if !(50.0..=100.0).contains(&eff) {
                e.push(
                    &field,
                    format!("efficiency {eff}% is out of range 50..=100"),
                );
            }
            last_load = load;
        }
        if let Some(limit) = self.cabinet_power_limit_kw {
            e.range("cabinet_power_limit_kw", limit, 1.0, 10_000.0);
        }
        e.range("precharge_ms", self.precharge_ms as f64, 0.0, 60_000.0);
        e.range("ac_input_voltage_v", self.ac_input_voltage_v, 100.0, 1000.0);
        e.range(
            "ac_input_power_factor",
            self.ac_input_power_factor,
            0.5,
            1.0,
        );
    }

    /// The cabinet's power limit in W: the configured limit or all modules together.
    pub fn cabinet_power_w(&self) -> f64 {
        let modules_w = f64::from(self.module_count) * self.module_power_kw * 1000.0;
        self.cabinet_power_limit_kw
            .map_or(modules_w, |kw| (kw * 1000.0).min(modules_w))
    }
}

impl AcSpec {
    fn validate(&self, e: &mut Errors) {
        if self.phases != 1 && self.phases != 3 {
            e.push("phases", format!("{} phases: must be 1 or 3", self.phases));
        }
        e.range("phase_voltage_v", self.phase_voltage_v, 100.0, 300.0);
        e.range("current_max_a", self.current_max_a, 6.0, 80.0);
    }

    /// Rated power in W.
    pub fn power_w(&self) -> f64 {
        f64::from(self.phases) * self.phase_voltage_v * self.current_max_a
    }
}
