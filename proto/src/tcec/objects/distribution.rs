//! Power distribution equipment (配电设备) description and status (DB4403/T 77-2020 §6.18–6.19).
//!
//! The seed tables spell `manufacturerID`, `equipmentModel` and `productionDate` in lower camel
//! case, unlike every other object; they are written in PascalCase and the table spellings are
//! accepted as aliases. The humidity fields are written `EnvHumi1/2` as in the §9.15 example and
//! the Shenzhen platform's schema (表18 says `EnvHum1/2`, accepted too).

use serde::{Deserialize, Serialize};

use super::enums::AlarmFlag;
use crate::tcec::lenient::de;
use crate::tcec::validate::{Len, TimeFormat, Validate, Validator, Violation};

/// `DisEquipmentInfo` 配电设备信息 (DB4403 表17).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisEquipmentInfo {
    /// `DisequipmentID`: operator-unique code, ≤23 characters.
    #[serde(
        rename = "DisequipmentID",
        alias = "DisEquipmentID",
        default,
        deserialize_with = "de"
    )]
    pub disequipment_id: String,
    /// `ManufacturerID`: 9-character organisation code.
    #[serde(
        rename = "ManufacturerID",
        alias = "manufacturerID",
        default,
        deserialize_with = "de"
    )]
    pub manufacturer_id: String,
    /// `ManufacturerName`, ≤30 characters.
    #[serde(
        rename = "ManufacturerName",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub manufacturer_name: Option<String>,
    /// `EquipmentModel`, ≤20 characters.
    #[serde(
        rename = "EquipmentModel",
        alias = "equipmentModel",
        default,
        deserialize_with = "de"
    )]
    pub equipment_model: String,
    /// `ProductionDate`, `yyyy-MM-dd`.
    #[serde(
        rename = "ProductionDate",
        alias = "productionDate",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub production_date: Option<String>,
    /// `RatedInVoltage`: rated input voltage, kV.
    #[serde(rename = "RatedInVoltage", deserialize_with = "de")]
    pub rated_input_voltage_kv: f64,
    /// `RatedOutVoltage`: rated output voltage, V.
    #[serde(rename = "RatedOutVoltage", deserialize_with = "de")]
    pub rated_output_voltage_v: f64,
    /// `RatedPower`: rated capacity, kVA.
    #[serde(rename = "RatedPower", deserialize_with = "de")]
    pub rated_power_kva: f64,
    /// `FeedNum`: number of feeder switches.
    #[serde(rename = "FeedNum", deserialize_with = "de")]
    pub feed_num: u32,
}

/// `DisEquipmentStatusInfo` 配电设备状态信息 (DB4403 表18; StationID and OperatorID from the
/// §9.15 example and the platform schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisEquipmentStatusInfo {
    /// `StationID`, ≤20 characters.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `OperatorID`, 9 characters.
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `DisequipmentID`, ≤26 characters.
    #[serde(
        rename = "DisequipmentID",
        alias = "DisEquipmentID",
        default,
        deserialize_with = "de"
    )]
    pub disequipment_id: String,
    /// `FoPEnergy`: forward active energy, kWh.
    #[serde(rename = "FoPEnergy", deserialize_with = "de")]
    pub forward_active_energy_kwh: f64,
    /// `RePEnergy`: reverse active energy, kWh.
    #[serde(rename = "RePEnergy", deserialize_with = "de")]
    pub reverse_active_energy_kwh: f64,
    /// `FoQEnergy`: forward reactive energy, kvarh.
    #[serde(rename = "FoQEnergy", deserialize_with = "de")]
    pub forward_reactive_energy_kvarh: f64,
    /// `ReQEnergy`: reverse reactive energy, kvarh.
    #[serde(rename = "ReQEnergy", deserialize_with = "de")]
    pub reverse_reactive_energy_kvarh: f64,
    /// `AVoltage`: phase A voltage, V.
    #[serde(rename = "AVoltage", deserialize_with = "de")]
    pub phase_a_voltage_v: f64,
    /// `BVoltage`: phase B voltage, V.
    #[serde(rename = "BVoltage", deserialize_with = "de")]
    pub phase_b_voltage_v: f64,
    /// `CVoltage`: phase C voltage, V.
    #[serde(rename = "CVoltage", deserialize_with = "de")]
    pub phase_c_voltage_v: f64,
    /// `ACurrent`: phase A current, A.
    #[serde(rename = "ACurrent", deserialize_with = "de")]
    pub phase_a_current_a: f64,
    /// `BCurrent`: phase B current, A.
    #[serde(rename = "BCurrent", deserialize_with = "de")]
    pub phase_b_current_a: f64,
    /// `CCurrent`: phase C current, A.
    #[serde(rename = "CCurrent", deserialize_with = "de")]
    pub phase_c_current_a: f64,
    /// `CurPPower`: instantaneous active power, kW.
    #[serde(rename = "CurPPower", deserialize_with = "de")]
    pub active_power_kw: f64,
    /// `CurQPower`: instantaneous reactive power, kvar.
    #[serde(rename = "CurQPower", deserialize_with = "de")]
    pub reactive_power_kvar: f64,
    /// `Factor`: total power factor, −1…1.
    #[serde(rename = "Factor", deserialize_with = "de")]
    pub power_factor: f64,
    /// `CurSPower`: apparent power, kVA.
    #[serde(rename = "CurSPower", deserialize_with = "de")]
    pub apparent_power_kva: f64,
    /// `Frequency`: grid frequency, Hz.
    #[serde(rename = "Frequency", deserialize_with = "de")]
    pub frequency_hz: f64,
    /// `FeedState`: one `0` (open) or `1` (closed) per AC feeder switch, ≤64 characters.
    #[serde(rename = "FeedState", default, deserialize_with = "de")]
    pub feed_state: String,
    /// `EnvTemp1`: ambient temperature 1, °C.
    #[serde(
        rename = "EnvTemp1",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub env_temp1_c: Option<i32>,
    /// `EnvTemp2`: ambient temperature 2, °C.
    #[serde(
        rename = "EnvTemp2",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub env_temp2_c: Option<i32>,
    /// `EnvHumi1`: ambient humidity 1, %.
    #[serde(
        rename = "EnvHumi1",
        alias = "EnvHum1",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub env_humidity1_percent: Option<i32>,
    /// `EnvHumi2`: ambient humidity 2, %.
    #[serde(
        rename = "EnvHumi2",
        alias = "EnvHum2",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub env_humidity2_percent: Option<i32>,
    /// `SmokAlam1` (the standard's spelling): smoke detector 1.
    #[serde(rename = "SmokAlam1", deserialize_with = "de")]
    pub smoke_alarm1: AlarmFlag,
    /// `SmokAlam2`: smoke detector 2.
    #[serde(rename = "SmokAlam2", deserialize_with = "de")]
    pub smoke_alarm2: AlarmFlag,
    /// `TranOverTemAlam`: transformer over-temperature alarm.
    #[serde(rename = "TranOverTemAlam", deserialize_with = "de")]
    pub transformer_over_temp_alarm: AlarmFlag,
}

impl Validate for DisEquipmentInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("DisequipmentID", &self.disequipment_id, Len::Max(23));
        v.req_str("ManufacturerID", &self.manufacturer_id, Len::Exact(9));
        v.opt_str(
            "ManufacturerName",
            self.manufacturer_name.as_ref(),
            Len::Max(30),
        );
        v.req_str("EquipmentModel", &self.equipment_model, Len::Max(20));
        v.time(
            "ProductionDate",
            self.production_date.as_deref(),
            false,
            TimeFormat::Date,
        );
        v.range(
            "RatedInVoltage",
            Some(self.rated_input_voltage_kv),
            true,
            0.0,
            f64::MAX,
        );
        v.range(
            "RatedOutVoltage",
            Some(self.rated_output_voltage_v),
            true,
            0.0,
            f64::MAX,
        );
        v.range(
            "RatedPower",
            Some(self.rated_power_kva),
            true,
            0.0,
            f64::MAX,
        );
    }
}

impl Validate for DisEquipmentStatusInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("StationID", &self.station_id, Len::Max(20));
        v.req_str("OperatorID", &self.operator_id, Len::Exact(9));
        v.req_str("DisequipmentID", &self.disequipment_id, Len::Max(26));
        v.range("Factor", Some(self.power_factor), true, -1.0, 1.0);
        v.range("Frequency", Some(self.frequency_hz), true, 0.0, f64::MAX);
        v.req_str("FeedState", &self.feed_state, Len::Max(64));
        if !self.feed_state.chars().all(|c| c == '0' || c == '1') {
            let mut value = self.feed_state.clone();
            crate::tcec::lenient::truncate_for_error(&mut value);
            v.fail(
                "FeedState",
                Violation::BadFormat {
                    format: "one 0/1 digit per feeder",
                    value,
                },
            );
        }
        v.range("EnvHumi1", self.env_humidity1_percent, false, 0, 100);
        v.range("EnvHumi2", self.env_humidity2_percent, false, 0, 100);
        v.req_code("SmokAlam1", &self.smoke_alarm1);
        v.req_code("SmokAlam2", &self.smoke_alarm2);
        v.req_code("TranOverTemAlam", &self.transformer_over_temp_alarm);
    }
}
