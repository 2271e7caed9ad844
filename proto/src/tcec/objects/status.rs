//! Real-time connector and station status (DB4403/T 77-2020 §6.9–6.11; T/CEC 102.2).
//!
//! ConnectorStatusInfoExt (表9) travels inline with ConnectorStatusInfo. T/CEC's final text
//! removed the electrical fields (tcec-http.md §5 quirk 1), so they are optional when decoding
//! and required by validation only under DB4403.

use serde::{Deserialize, Serialize};

use super::enums::*;
use crate::tcec::lenient::de;
use crate::tcec::validate::{Len, Validate, Validator};

/// `ConnectorStatusInfo` 充电设备接口状态 (DB4403 表8 + 表9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStatusInfo {
    /// `ConnectorID`, ≤26 characters.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `Status`: connector state.
    #[serde(rename = "Status", deserialize_with = "de")]
    pub status: ConnectorStatus,
    /// `ParkStatus`: parking bay state.
    #[serde(
        rename = "ParkStatus",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub park_status: Option<ParkStatus>,
    /// `LockStatus`: ground lock state.
    #[serde(
        rename = "LockStatus",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub lock_status: Option<LockStatus>,
    /// DB4403 `ConnectorStatusInfoExt` fields (表9), flattened.
    #[serde(flatten)]
    pub ext: ConnectorStatusInfoExt,
}

/// `ConnectorStatusInfoExt` 充电设备接口状态扩展信息 (DB4403 表9).
///
/// Currents and voltages are integers on the wire; a DC charger reports its output on phase A.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStatusInfoExt {
    /// `CurrentA`: phase A (or DC output) current, A.
    #[serde(
        rename = "CurrentA",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub phase_a_current_a: Option<i32>,
    /// `CurrentB`: phase B current, A.
    #[serde(
        rename = "CurrentB",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub phase_b_current_a: Option<i32>,
    /// `CurrentC`: phase C current, A.
    #[serde(
        rename = "CurrentC",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub phase_c_current_a: Option<i32>,
    /// `VoltageA`: phase A (or DC output) voltage, V.
    #[serde(
        rename = "VoltageA",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub phase_a_voltage_v: Option<i32>,
    /// `VoltageB`: phase B voltage, V.
    #[serde(
        rename = "VoltageB",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub phase_b_voltage_v: Option<i32>,
    /// `VoltageC`: phase C voltage, V.
    #[serde(
        rename = "VoltageC",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub phase_c_voltage_v: Option<i32>,
    /// `SOC`: state of charge, % (DC only, default 0).
    #[serde(
        rename = "SOC",
        alias = "Soc",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub soc_percent: Option<i32>,
    /// `ConnectorTemp`: connector temperature, °C (mandatory for DC chargers).
    #[serde(
        rename = "ConnectorTemp",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub connector_temp_c: Option<i32>,
    /// `EquipmentTemp`: charger internal temperature, °C (mandatory for DC chargers).
    #[serde(
        rename = "EquipmentTemp",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub equipment_temp_c: Option<i32>,
    /// `ConnectorLock`: gun electronic lock state.
    #[serde(
        rename = "ConnectorLock",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub connector_lock: Option<ConnectorLock>,
    /// `ChargeElectricity`: energy charged in this session, kWh (≥1 decimal).
    #[serde(
        rename = "ChargeElectricity",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub charged_energy_kwh: Option<f64>,
    /// `DischargeElectricity`: energy discharged in this session, kWh (≥1 decimal).
    #[serde(
        rename = "DischargeElectricity",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub discharged_energy_kwh: Option<f64>,
}

/// `StationStatusInfo` 充电站状态信息 (DB4403 表10; T/CEC 102.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationStatusInfo {
    /// `StationID`, ≤20 characters.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `ConnectorStatusInfos`: every connector of the station.
    #[serde(rename = "ConnectorStatusInfos", default)]
    pub connector_status_infos: Vec<ConnectorStatusInfo>,
}

impl Validate for ConnectorStatusInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("ConnectorID", &self.connector_id, Len::Max(26));
        v.req_code("Status", &self.status);
        v.code("ParkStatus", self.park_status.as_ref(), false);
        v.code("LockStatus", self.lock_status.as_ref(), false);
        self.ext.check(v);
    }
}

impl Validate for ConnectorStatusInfoExt {
    fn check(&self, v: &mut Validator) {
        let required = v.db4403();
        for (field, value) in [
            ("CurrentA", self.phase_a_current_a),
            ("CurrentB", self.phase_b_current_a),
            ("CurrentC", self.phase_c_current_a),
            ("VoltageA", self.phase_a_voltage_v),
            ("VoltageB", self.phase_b_voltage_v),
            ("VoltageC", self.phase_c_voltage_v),
        ] {
            v.present(field, value.as_ref(), required);
        }
        v.range("SOC", self.soc_percent, required, 0, 100);
        v.code("ConnectorLock", self.connector_lock.as_ref(), false);
        v.range(
            "ChargeElectricity",
            self.charged_energy_kwh,
            required,
            0.0,
            f64::MAX,
        );
        v.range(
            "DischargeElectricity",
            self.discharged_energy_kwh,
            required,
            0.0,
            f64::MAX,
        );
    }
}

impl Validate for StationStatusInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("StationID", &self.station_id, Len::Max(20));
        v.list(
            "ConnectorStatusInfos",
            &self.connector_status_infos,
            0,
            usize::MAX,
        );
    }
}
