//! Safety monitoring objects (DB4403/T 77-2020 chapter 7): alarms, BMS process data, events
//! and video access parameters.
//!
//! The standard's own spellings are kept on the wire (`TatalVoltage`, `TemptureH/L`); variants
//! seen in practice are accepted as aliases (`TotalVoltage`, `TempureH` from the §9.11 example,
//! `EventString` from the §9.12 example, `Videolink`/`VideoAhtcCode` from §9.19).

use serde::{Deserialize, Serialize};

use super::enums::{AlarmStatus, VideoType};
use super::station::org_code;
use crate::tcec::codes::{AlarmCode, AlarmLevel, AlarmType, EventCode, EventType};
use crate::tcec::lenient::de;
use crate::tcec::validate::{Len, TimeFormat, Validate, Validator};

/// `AlarmInfo` 告警信息 (DB4403 表19).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmInfo {
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
    /// `EquipmentOwnerID`, 9 characters.
    #[serde(
        rename = "EquipmentOwnerID",
        alias = "EquipmentOwnerId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_owner_id: String,
    /// `StationName`, ≤50 characters.
    #[serde(rename = "StationName", default, deserialize_with = "de")]
    pub station_name: String,
    /// `EquipmentID`, ≤23 characters.
    #[serde(
        rename = "EquipmentID",
        alias = "EquipmentId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_id: String,
    /// `ConnectorID`, ≤26 characters.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `AlarmStatus`: raised or cleared.
    #[serde(rename = "AlarmStatus", deserialize_with = "de")]
    pub alarm_status: AlarmStatus,
    /// `AlarmCode` (表B.3).
    #[serde(rename = "AlarmCode", deserialize_with = "de")]
    pub alarm_code: AlarmCode,
    /// `AlarmType` (表B.1).
    #[serde(rename = "AlarmType", deserialize_with = "de")]
    pub alarm_type: AlarmType,
    /// `AlarmLevel` (表B.2).
    #[serde(rename = "AlarmLevel", deserialize_with = "de")]
    pub alarm_level: AlarmLevel,
    /// `AlarmTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "AlarmTime", default, deserialize_with = "de")]
    pub alarm_time: String,
    /// `NoteString`: remark, ≤255 characters.
    #[serde(
        rename = "NoteString",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub note: Option<String>,
    /// `BmsInfo`: vehicle data, present for DC charging faults (reported every <10 s).
    #[serde(rename = "BmsInfo", default, skip_serializing_if = "Option::is_none")]
    pub bms_info: Option<BmsInfo>,
}

/// `BmsInfo` 车辆充放电过程信息 (DB4403 表20).
///
/// 表20 lists `TatalVoltage`/`TotalCurrent` twice (pack and charger side); one JSON object can
/// carry each key once, so there is one field each. `VoltageL` is not in 表20 but is in every
/// example and in the platform schema. Identification fields the examples omit are optional
/// when decoding and required by validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BmsInfo {
    /// `VINCode`: 17-character VIN, or OperatorID + 8 unique characters.
    #[serde(
        rename = "VINCode",
        alias = "VinCode",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub vin_code: Option<String>,
    /// `BMSCode`, ≤50 characters.
    #[serde(
        rename = "BMSCode",
        alias = "BmsCode",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub bms_code: Option<String>,
    /// `BMSVer`, ≤50 characters.
    #[serde(
        rename = "BMSVer",
        alias = "BmsVer",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub bms_version: Option<String>,
    /// `ConnectorID`, ≤26 characters.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub connector_id: Option<String>,
    /// `MaxChargeCurrent`: highest allowed charging current, A.
    #[serde(rename = "MaxChargeCurrent", deserialize_with = "de")]
    pub max_charge_current_a: f64,
    /// `MaxChargeCellVoltage`: highest allowed cell voltage, V.
    #[serde(rename = "MaxChargeCellVoltage", deserialize_with = "de")]
    pub max_charge_cell_voltage_v: f64,
    /// `MaxTemp`: highest allowed temperature, °C.
    #[serde(rename = "MaxTemp", deserialize_with = "de")]
    pub max_temp_c: i32,
    /// `RatedCapacity`: rated battery capacity, kWh (an integer on the wire).
    #[serde(rename = "RatedCapacity", deserialize_with = "de")]
    pub rated_capacity_kwh: u32,
    /// `TatalVoltage` (the standard's spelling): total voltage, V.
    #[serde(
        rename = "TatalVoltage",
        alias = "TotalVoltage",
        deserialize_with = "de"
    )]
    pub total_voltage_v: f64,
    /// `TotalCurrent`: total current, A.
    #[serde(rename = "TotalCurrent", deserialize_with = "de")]
    pub total_current_a: f64,
    /// `Soc`: state of charge, % (0–100).
    #[serde(rename = "Soc", alias = "SOC", deserialize_with = "de")]
    pub soc_percent: i32,
    /// `VoltageH`: highest cell voltage, V.
    #[serde(rename = "VoltageH", deserialize_with = "de")]
    pub cell_voltage_max_v: f64,
    /// `VoltageHNumIndex`: index of the highest cell, 1–1000.
    #[serde(
        rename = "VoltageHNumIndex",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub cell_voltage_max_index: Option<u32>,
    /// `VoltageL`: lowest cell voltage, V.
    #[serde(
        rename = "VoltageL",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub cell_voltage_min_v: Option<f64>,
    /// `TemptureH` (the standard's spelling): highest cell temperature, °C.
    #[serde(
        rename = "TemptureH",
        alias = "TempureH",
        alias = "TemperatureH",
        deserialize_with = "de"
    )]
    pub cell_temp_max_c: i32,
    /// `TemptureHNumIndex`: index of the hottest probe, 1–1000.
    #[serde(
        rename = "TemptureHNumIndex",
        alias = "TemperatureHNumIndex",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub cell_temp_max_index: Option<u32>,
    /// `TemptureL`: lowest cell temperature, °C.
    #[serde(
        rename = "TemptureL",
        alias = "TempureL",
        alias = "TemperatureL",
        deserialize_with = "de"
    )]
    pub cell_temp_min_c: i32,
    /// `TemptureLNumIndex`: index of the coldest probe, 1–1000.
    #[serde(
        rename = "TemptureLNumIndex",
        alias = "TemperatureLNumIndex",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub cell_temp_min_index: Option<u32>,
    /// `CurrentCapacity`: energy change on the charging side, kWh (3 decimals).
    #[serde(
        rename = "CurrentCapacity",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub energy_change_kwh: Option<f64>,
    /// `FreshTime`: sample time, `yyyy-MM-dd HH:mm:ss`.
    #[serde(
        rename = "FreshTime",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub fresh_time: Option<String>,
    /// `StartChargingTime`: session start, `yyyy-MM-dd HH:mm:ss`.
    #[serde(
        rename = "StartChargingTime",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_charging_time: Option<String>,
    /// `ChargingSessionMin`: session duration — in **seconds** despite the name (表20 单位: 秒).
    #[serde(
        rename = "ChargingSessionMin",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub charging_session_s: Option<u32>,
}

/// `EventInfo` 事件信息 (DB4403 表21).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInfo {
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
    /// `EquipmentOwnerID`, 9 characters.
    #[serde(
        rename = "EquipmentOwnerID",
        alias = "EquipmentOwnerId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_owner_id: String,
    /// `StationName`, ≤50 characters.
    #[serde(rename = "StationName", default, deserialize_with = "de")]
    pub station_name: String,
    /// `EventType`.
    #[serde(rename = "EventType", deserialize_with = "de")]
    pub event_type: EventType,
    /// `EventCode` (表B.4).
    #[serde(rename = "EventCode", deserialize_with = "de")]
    pub event_code: EventCode,
    /// `EventTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "EventTime", default, deserialize_with = "de")]
    pub event_time: String,
    /// `NoteString`: remark, ≤255 characters.
    #[serde(
        rename = "NoteString",
        alias = "EventString",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub note: Option<String>,
}

/// `VideoInfo` 视频参数信息 (DB4403 表22).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
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
    /// `EquipmentOwnerID`, 9 characters.
    #[serde(
        rename = "EquipmentOwnerID",
        alias = "EquipmentOwnerId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_owner_id: String,
    /// `StationName`, ≤50 characters.
    #[serde(rename = "StationName", default, deserialize_with = "de")]
    pub station_name: String,
    /// `VideoLink`: remote video URL, ≤500 characters.
    #[serde(
        rename = "VideoLink",
        alias = "Videolink",
        default,
        deserialize_with = "de"
    )]
    pub video_link: String,
    /// `VideoType`: live or playback.
    #[serde(rename = "VideoType", deserialize_with = "de")]
    pub video_type: VideoType,
    /// `VideoUser`: authorised user (the standard says "加密", encrypted by the operator).
    #[serde(rename = "VideoUser", default, deserialize_with = "de")]
    pub video_user: String,
    /// `VideoAuthCode`: access password, ≤255 characters (encrypted by the operator).
    #[serde(
        rename = "VideoAuthCode",
        alias = "VideoAhtcCode",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub video_auth_code: Option<String>,
}

impl Validate for AlarmInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("StationID", &self.station_id, Len::Max(20));
        org_code(v, "OperatorID", &self.operator_id);
        org_code(v, "EquipmentOwnerID", &self.equipment_owner_id);
        v.req_str("StationName", &self.station_name, Len::Max(50));
        v.req_str("EquipmentID", &self.equipment_id, Len::Max(23));
        v.req_str("ConnectorID", &self.connector_id, Len::Max(26));
        v.req_code("AlarmStatus", &self.alarm_status);
        v.req_code("AlarmCode", &self.alarm_code);
        v.req_code("AlarmType", &self.alarm_type);
        v.req_code("AlarmLevel", &self.alarm_level);
        v.time(
            "AlarmTime",
            Some(&self.alarm_time),
            true,
            TimeFormat::DateTime,
        );
        v.opt_str("NoteString", self.note.as_ref(), Len::Max(255));
        if let Some(bms) = &self.bms_info {
            v.nested("BmsInfo", bms);
        }
    }
}

impl Validate for BmsInfo {
    fn check(&self, v: &mut Validator) {
        let required = v.db4403();
        v.string(
            "VINCode",
            self.vin_code.as_deref(),
            required,
            Len::Exact(17),
        );
        v.string("BMSCode", self.bms_code.as_deref(), required, Len::Max(50));
        v.string(
            "BMSVer",
            self.bms_version.as_deref(),
            required,
            Len::Max(50),
        );
        v.string(
            "ConnectorID",
            self.connector_id.as_deref(),
            required,
            Len::Max(26),
        );
        v.range("Soc", Some(self.soc_percent), true, 0, 100);
        v.range(
            "VoltageHNumIndex",
            self.cell_voltage_max_index,
            required,
            1,
            1000,
        );
        v.range(
            "TemptureHNumIndex",
            self.cell_temp_max_index,
            required,
            1,
            1000,
        );
        v.range(
            "TemptureLNumIndex",
            self.cell_temp_min_index,
            required,
            1,
            1000,
        );
        v.present("CurrentCapacity", self.energy_change_kwh.as_ref(), required);
        v.time(
            "FreshTime",
            self.fresh_time.as_deref(),
            required,
            TimeFormat::DateTime,
        );
        v.time(
            "StartChargingTime",
            self.start_charging_time.as_deref(),
            required,
            TimeFormat::DateTime,
        );
        v.present(
            "ChargingSessionMin",
            self.charging_session_s.as_ref(),
            required,
        );
    }
}

impl Validate for EventInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("StationID", &self.station_id, Len::Max(20));
        org_code(v, "OperatorID", &self.operator_id);
        org_code(v, "EquipmentOwnerID", &self.equipment_owner_id);
        v.req_str("StationName", &self.station_name, Len::Max(50));
        v.req_code("EventType", &self.event_type);
        v.req_code("EventCode", &self.event_code);
        v.time(
            "EventTime",
            Some(&self.event_time),
            true,
            TimeFormat::DateTime,
        );
        v.opt_str("NoteString", self.note.as_ref(), Len::Max(255));
    }
}

impl Validate for VideoInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("StationID", &self.station_id, Len::Max(20));
        org_code(v, "OperatorID", &self.operator_id);
        org_code(v, "EquipmentOwnerID", &self.equipment_owner_id);
        v.req_str("StationName", &self.station_name, Len::Max(50));
        v.req_str("VideoLink", &self.video_link, Len::Max(500));
        v.req_code("VideoType", &self.video_type);
        v.req_str("VideoUser", &self.video_user, Len::Any);
        v.opt_str(
            "VideoAuthCode",
            self.video_auth_code.as_ref(),
            Len::Max(255),
        );
    }
}
