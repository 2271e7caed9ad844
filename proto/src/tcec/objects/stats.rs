//! Energy statistics per station, charger and connector.
//!
//! DB4403/T 77-2020 §6.12–6.17 splits charging (`…Charge…`) and discharging (`…Discharge…`)
//! statistics; T/CEC 102.2 has a single charge-only family (`StationElectricity`…). Ranges are
//! dates `yyyy-MM-dd`; energies are kWh with one decimal.

use serde::{Deserialize, Serialize};

use crate::tcec::lenient::de;
use crate::tcec::validate::{Len, TimeFormat, Validate, Validator};

fn range_and_id(v: &mut Validator, station_id: &str, start: &str, end: &str) {
    v.req_str("StationID", station_id, Len::Max(20));
    v.time("StartTime", Some(start), true, TimeFormat::Date);
    v.time("EndTime", Some(end), true, TimeFormat::Date);
    if end < start {
        let (value, min, max) = (end.to_owned(), start.to_owned(), "9999-12-31".to_owned());
        v.fail(
            "EndTime",
            crate::tcec::validate::Violation::OutOfRange { value, min, max },
        );
    }
}

fn energy(v: &mut Validator, field: &str, kwh: Option<f64>, required: bool) {
    v.range(field, kwh, required, 0.0, f64::MAX);
}

/// `StationChargeStatsInfo` 充电站充电统计信息 (DB4403 表11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationChargeStatsInfo {
    /// `StationID`.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `StartTime`: first day, `yyyy-MM-dd`.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `EndTime`: last day, `yyyy-MM-dd`.
    #[serde(rename = "EndTime", default, deserialize_with = "de")]
    pub end_time: String,
    /// `StationChargeElectricity`: energy charged, kWh.
    #[serde(rename = "StationChargeElectricity", deserialize_with = "de")]
    pub station_charge_energy_kwh: f64,
    /// `EquipmentChargeStatsInfos`: per charger.
    #[serde(rename = "EquipmentChargeStatsInfos", default)]
    pub equipment_charge_stats_infos: Vec<EquipmentChargeStatsInfo>,
}

/// `EquipmentChargeStatsInfo` 充电设备充电统计信息 (DB4403 表13).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentChargeStatsInfo {
    /// `EquipmentID`, ≤23 characters.
    #[serde(
        rename = "EquipmentID",
        alias = "EquipmentId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_id: String,
    /// `EquipmentChargeElectricity`: energy charged, kWh.
    #[serde(rename = "EquipmentChargeElectricity", deserialize_with = "de")]
    pub equipment_charge_energy_kwh: f64,
    /// `ConnectorChargeStatsInfos`: per connector.
    #[serde(rename = "ConnectorChargeStatsInfos", default)]
    pub connector_charge_stats_infos: Vec<ConnectorChargeStatsInfo>,
}

/// `ConnectorChargeStatsInfo` 充电设备接口充电统计信息 (DB4403 表15).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorChargeStatsInfo {
    /// `ConnectorID`, ≤26 characters.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `ConnectorChargeElectricity`: energy charged, kWh (optional in 表15).
    #[serde(
        rename = "ConnectorChargeElectricity",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub connector_charge_energy_kwh: Option<f64>,
}

/// `StationDischargeStatsInfo` 充电站放电统计信息 (DB4403 表12).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationDischargeStatsInfo {
    /// `StationID`.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `StartTime`: first day, `yyyy-MM-dd`.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `EndTime`: last day, `yyyy-MM-dd`.
    #[serde(rename = "EndTime", default, deserialize_with = "de")]
    pub end_time: String,
    /// `StationDischargeElectricity`: energy discharged, kWh.
    #[serde(rename = "StationDischargeElectricity", deserialize_with = "de")]
    pub station_discharge_energy_kwh: f64,
    /// `EquipmentDischargeStatsInfos`: per charger.
    #[serde(rename = "EquipmentDischargeStatsInfos", default)]
    pub equipment_discharge_stats_infos: Vec<EquipmentDischargeStatsInfo>,
}

/// `EquipmentDischargeStatsInfo` 充电设备放电统计信息 (DB4403 表14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentDischargeStatsInfo {
    /// `EquipmentID`, ≤23 characters.
    #[serde(
        rename = "EquipmentID",
        alias = "EquipmentId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_id: String,
    /// `EquipmentDischargeElectricity`: energy discharged, kWh.
    #[serde(rename = "EquipmentDischargeElectricity", deserialize_with = "de")]
    pub equipment_discharge_energy_kwh: f64,
    /// `ConnectorDischargeStatsInfos`: per connector.
    #[serde(rename = "ConnectorDischargeStatsInfos", default)]
    pub connector_discharge_stats_infos: Vec<ConnectorDischargeStatsInfo>,
}

/// `ConnectorDischargeStatsInfo` 充电设备接口放电统计信息 (DB4403 表16).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorDischargeStatsInfo {
    /// `ConnectorID`, ≤26 characters.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `ConnectorDischargeElectricity`: energy discharged, kWh (optional in 表16).
    #[serde(
        rename = "ConnectorDischargeElectricity",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub connector_discharge_energy_kwh: Option<f64>,
}

/// `StationStatsInfo` (T/CEC 102.2 `query_station_stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationStatsInfo {
    /// `StationID`.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `StartTime`: first day, `yyyy-MM-dd`.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `EndTime`: last day, `yyyy-MM-dd`.
    #[serde(rename = "EndTime", default, deserialize_with = "de")]
    pub end_time: String,
    /// `StationElectricity`: energy charged, kWh.
    #[serde(rename = "StationElectricity", deserialize_with = "de")]
    pub station_energy_kwh: f64,
    /// `EquipmentStatsInfos`: per charger.
    #[serde(rename = "EquipmentStatsInfos", default)]
    pub equipment_stats_infos: Vec<EquipmentStatsInfo>,
}

/// `EquipmentStatsInfo` (T/CEC 102.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentStatsInfo {
    /// `EquipmentID`.
    #[serde(
        rename = "EquipmentID",
        alias = "EquipmentId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_id: String,
    /// `EquipmentElectricity`: energy charged, kWh.
    #[serde(rename = "EquipmentElectricity", deserialize_with = "de")]
    pub equipment_energy_kwh: f64,
    /// `ConnectorStatsInfos`: per connector.
    #[serde(rename = "ConnectorStatsInfos", default)]
    pub connector_stats_infos: Vec<ConnectorStatsInfo>,
}

/// `ConnectorStatsInfo` (T/CEC 102.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStatsInfo {
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `ConnectorElectricity`: energy charged, kWh.
    #[serde(rename = "ConnectorElectricity", deserialize_with = "de")]
    pub connector_energy_kwh: f64,
}

impl Validate for StationChargeStatsInfo {
    fn check(&self, v: &mut Validator) {
        range_and_id(v, &self.station_id, &self.start_time, &self.end_time);
        energy(
            v,
            "StationChargeElectricity",
            Some(self.station_charge_energy_kwh),
            true,
        );
        v.list(
            "EquipmentChargeStatsInfos",
            &self.equipment_charge_stats_infos,
            0,
            usize::MAX,
        );
    }
}

impl Validate for EquipmentChargeStatsInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("EquipmentID", &self.equipment_id, Len::Max(23));
        energy(
            v,
            "EquipmentChargeElectricity",
            Some(self.equipment_charge_energy_kwh),
            true,
        );
        v.list(
            "ConnectorChargeStatsInfos",
            &self.connector_charge_stats_infos,
            0,
            usize::MAX,
        );
    }
}

impl Validate for ConnectorChargeStatsInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("ConnectorID", &self.connector_id, Len::Max(26));
        energy(
            v,
            "ConnectorChargeElectricity",
            self.connector_charge_energy_kwh,
            false,
        );
    }
}

impl Validate for StationDischargeStatsInfo {
    fn check(&self, v: &mut Validator) {
        range_and_id(v, &self.station_id, &self.start_time, &self.end_time);
        energy(
            v,
            "StationDischargeElectricity",
            Some(self.station_discharge_energy_kwh),
            true,
        );
        v.list(
            "EquipmentDischargeStatsInfos",
            &self.equipment_discharge_stats_infos,
            0,
            usize::MAX,
        );
    }
}

impl Validate for EquipmentDischargeStatsInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("EquipmentID", &self.equipment_id, Len::Max(23));
        energy(
            v,
            "EquipmentDischargeElectricity",
            Some(self.equipment_discharge_energy_kwh),
            true,
        );
        v.list(
            "ConnectorDischargeStatsInfos",
            &self.connector_discharge_stats_infos,
            0,
            usize::MAX,
        );
    }
}

impl Validate for ConnectorDischargeStatsInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("ConnectorID", &self.connector_id, Len::Max(26));
        energy(
            v,
            "ConnectorDischargeElectricity",
            self.connector_discharge_energy_kwh,
            false,
        );
    }
}

impl Validate for StationStatsInfo {
    fn check(&self, v: &mut Validator) {
        range_and_id(v, &self.station_id, &self.start_time, &self.end_time);
        energy(v, "StationElectricity", Some(self.station_energy_kwh), true);
        v.list(
            "EquipmentStatsInfos",
            &self.equipment_stats_infos,
            0,
            usize::MAX,
        );
    }
}

impl Validate for EquipmentStatsInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("EquipmentID", &self.equipment_id, Len::Max(23));
        energy(
            v,
            "EquipmentElectricity",
            Some(self.equipment_energy_kwh),
            true,
        );
        v.list(
            "ConnectorStatsInfos",
            &self.connector_stats_infos,
            0,
            usize::MAX,
        );
    }
}

impl Validate for ConnectorStatsInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("ConnectorID", &self.connector_id, Len::Max(26));
        energy(
            v,
            "ConnectorElectricity",
            Some(self.connector_energy_kwh),
            true,
        );
    }
}
