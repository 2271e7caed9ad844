//! Station, equipment and connector descriptions (DB4403/T 77-2020 §6.3–6.8; T/CEC 102.2).
//!
//! The DB4403 "extension" objects (StationInfoExt, EquipmentInfoExt, ConnectorInfoExt) are not
//! nested on the wire: their fields sit beside the base fields (see the §9.2 example), so they
//! are `#[serde(flatten)]`ed here. Their fields are optional when decoding (T/CEC peers never
//! send them) and required by [`Validate`] under [`Dialect::Db4403`](crate::tcec::Dialect).
//!
//! Required string fields decode as `""` when absent so that decoding stays lenient; validation
//! reports them as missing. Fields that the standard marks required but that its own examples
//! omit (StationTel, EquipmentName, equipment Power) are `Option`s for the same reason.

use serde::{Deserialize, Serialize};

use super::enums::*;
use crate::tcec::lenient::de;
use crate::tcec::validate::{Len, TimeFormat, Validate, Validator};

/// `StationInfo` 充电站信息 (DB4403 表2 + 表3; T/CEC 102.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationInfo {
    /// `StationID`: operator-defined unique code, ≤20 characters (zero-padded on the left).
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `OperatorID`: 9-character organisation code of the operator.
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `EquipmentOwnerID`: 9-character organisation code of the equipment owner.
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
    /// `CountryCode`, 2 characters (`CN`).
    #[serde(rename = "CountryCode", default, deserialize_with = "de")]
    pub country_code: String,
    /// `AreaCode`: GB/T 2260 administrative division code, ≤20 characters.
    #[serde(rename = "AreaCode", default, deserialize_with = "de")]
    pub area_code: String,
    /// `Address`, ≤200 characters.
    #[serde(rename = "Address", default, deserialize_with = "de")]
    pub address: String,
    /// `StationTel`: phone of the station's safety officer, ≤32 characters (required).
    #[serde(
        rename = "StationTel",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub station_tel: Option<String>,
    /// `ServiceTel`: platform service phone, ≤30 characters.
    #[serde(rename = "ServiceTel", default, deserialize_with = "de")]
    pub service_tel: String,
    /// `StationType`.
    #[serde(rename = "StationType", deserialize_with = "de")]
    pub station_type: StationType,
    /// `StationStatus`.
    #[serde(rename = "StationStatus", deserialize_with = "de")]
    pub station_status: StationStatus,
    /// `ParkNums`: parking spaces that can charge, 0 = unknown.
    #[serde(rename = "ParkNums", deserialize_with = "de")]
    pub park_nums: u32,
    /// `StationLng`: GCJ-02 longitude, degrees (6 decimals).
    #[serde(rename = "StationLng", deserialize_with = "de")]
    pub station_lng_deg: f64,
    /// `StationLat`: GCJ-02 latitude, degrees (6 decimals).
    #[serde(rename = "StationLat", deserialize_with = "de")]
    pub station_lat_deg: f64,
    /// `SiteGuide`: directions to the charging bays, ≤100 characters.
    #[serde(
        rename = "SiteGuide",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub site_guide: Option<String>,
    /// `Construction`: kind of site.
    #[serde(rename = "Construction", deserialize_with = "de")]
    pub construction: Construction,
    /// `Pictures`: photo URLs (jpg, <100 KB).
    #[serde(rename = "Pictures", default, deserialize_with = "de")]
    pub pictures: Vec<String>,
    /// `MatchCars`: vehicle types served, ≤100 characters.
    #[serde(
        rename = "MatchCars",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub match_cars: Option<String>,
    /// `ParkInfo`: parking floors and counts, ≤100 characters.
    #[serde(
        rename = "ParkInfo",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub park_info: Option<String>,
    /// `BusineHours` (the standard's spelling): opening hours, ≤100 characters.
    #[serde(
        rename = "BusineHours",
        alias = "BusinessHours",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub business_hours: Option<String>,
    /// `ElectricityFee`: energy tariff description, ≤256 characters.
    #[serde(
        rename = "ElectricityFee",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub electricity_fee: Option<String>,
    /// `ServiceFee`: service fee description, ≤256 characters.
    #[serde(
        rename = "ServiceFee",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_fee: Option<String>,
    /// `ParkFee`: parking fee description, ≤100 characters.
    #[serde(
        rename = "ParkFee",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub park_fee: Option<String>,
    /// `Payment`: payment methods (刷卡、线上、现金), ≤20 characters.
    #[serde(
        rename = "Payment",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment: Option<String>,
    /// `SupportOrder`: whether reservation is required (default 0).
    #[serde(
        rename = "SupportOrder",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub support_order: Option<YesNo>,
    /// `Remark`, ≤100 characters.
    #[serde(
        rename = "Remark",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub remark: Option<String>,
    /// `EquipmentInfos`: every charger of the station.
    #[serde(rename = "EquipmentInfos", default)]
    pub equipment_infos: Vec<EquipmentInfo>,
    /// DB4403 `StationInfoExt` fields (表3), flattened.
    #[serde(flatten)]
    pub ext: StationInfoExt,
}

/// `StationInfoExt` 充电站拓展信息 (DB4403 表3), sent inline in StationInfo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StationInfoExt {
    /// `ParkOwner`: owner of the car park.
    #[serde(
        rename = "ParkOwner",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub park_owner: Option<String>,
    /// `ParkManager`: manager of the car park.
    #[serde(
        rename = "ParkManager",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub park_manager: Option<String>,
    /// `OpenAllDay`: open 24 hours.
    #[serde(
        rename = "OpenAllDay",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub open_all_day: Option<YesNo>,
    /// `ParkFree`: parking is free.
    #[serde(
        rename = "ParkFree",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub park_free: Option<YesNo>,
    /// `OpratorType` (the standard's spelling): self-operated or on behalf (required in DB4403).
    #[serde(
        rename = "OpratorType",
        alias = "OperatorType",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub operation_type: Option<OperationType>,
}

/// `EquipmentInfo` 充电设备信息 (DB4403 表4 + 表5; T/CEC 102.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentInfo {
    /// `EquipmentID`: operator-unique charger code, ≤23 characters.
    #[serde(
        rename = "EquipmentID",
        alias = "EquipmentId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_id: String,
    /// `ManufacturerID`: 9-character organisation code of the manufacturer.
    #[serde(
        rename = "ManufacturerID",
        alias = "ManufacturerId",
        default,
        deserialize_with = "de"
    )]
    pub manufacturer_id: String,
    /// `EquipmentModel`, ≤20 characters.
    #[serde(rename = "EquipmentModel", default, deserialize_with = "de")]
    pub equipment_model: String,
    /// `ProductionDate`, `yyyy-MM-dd`.
    #[serde(
        rename = "ProductionDate",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub production_date: Option<String>,
    /// `EquipmentType`.
    #[serde(rename = "EquipmentType", deserialize_with = "de")]
    pub equipment_type: EquipmentType,
    /// `ConnectorInfos`: every connector (gun) of the charger.
    #[serde(rename = "ConnectorInfos", default)]
    pub connector_infos: Vec<ConnectorInfo>,
    /// `EquipmentLng`: GCJ-02 longitude, degrees.
    #[serde(
        rename = "EquipmentLng",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub equipment_lng_deg: Option<f64>,
    /// `EquipmentLat`: GCJ-02 latitude, degrees.
    #[serde(
        rename = "EquipmentLat",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub equipment_lat_deg: Option<f64>,
    /// `EquipmentName`, e.g. "xxx站06#桩", ≤30 characters (required in DB4403).
    #[serde(
        rename = "EquipmentName",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub equipment_name: Option<String>,
    /// `Power`: total power, kW (1 decimal; required).
    #[serde(
        rename = "Power",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub power_kw: Option<f64>,
    /// `ManufacturerName`, ≤30 characters.
    #[serde(
        rename = "ManufacturerName",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub manufacturer_name: Option<String>,
    /// DB4403 `EquipmentInfoExt` fields (表5), flattened.
    #[serde(flatten)]
    pub ext: EquipmentInfoExt,
}

/// `EquipmentInfoExt` 充电设备拓展信息 (DB4403 表5), sent inline in EquipmentInfo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EquipmentInfoExt {
    /// `EquipmentStatus`.
    #[serde(
        rename = "EquipmentStatus",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub equipment_status: Option<EquipmentStatus>,
    /// `EquipmentPower`: rated power, kW (1 decimal).
    #[serde(
        rename = "EquipmentPower",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub equipment_power_kw: Option<f64>,
    /// `NewNationalStandard`: supported GB/T edition.
    #[serde(
        rename = "NewNationalStandard",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub new_national_standard: Option<NationalStandard>,
}

/// `ConnectorInfo` 充电设备接口信息 (DB4403 表6 + 表7; T/CEC 102.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    /// `ConnectorID`: EquipmentID + 3-character extension, ≤26 characters.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `ConnectorName`, e.g. "01#", ≤30 characters.
    #[serde(rename = "ConnectorName", default, deserialize_with = "de")]
    pub connector_name: String,
    /// `ConnectorType`.
    #[serde(rename = "ConnectorType", deserialize_with = "de")]
    pub connector_type: ConnectorType,
    /// `VoltageUpperLimits`: highest output voltage, V.
    #[serde(rename = "VoltageUpperLimits", deserialize_with = "de")]
    pub voltage_upper_limit_v: u32,
    /// `VoltageLowerLimits`: lowest output voltage, V.
    #[serde(rename = "VoltageLowerLimits", deserialize_with = "de")]
    pub voltage_lower_limit_v: u32,
    /// `Current`: rated current, A.
    #[serde(rename = "Current", deserialize_with = "de")]
    pub current_a: u32,
    /// `Power`: rated power, kW (1 decimal).
    #[serde(rename = "Power", deserialize_with = "de")]
    pub power_kw: f64,
    /// `ParkNo`: parking bay number, ≤10 characters.
    #[serde(
        rename = "ParkNo",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub park_no: Option<String>,
    /// `NationalStandard` (T/CEC 102.2 only): supported GB/T edition.
    #[serde(
        rename = "NationalStandard",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub national_standard: Option<NationalStandard>,
    /// DB4403 `ConnectorInfoExt` fields (表7), flattened.
    #[serde(flatten)]
    pub ext: ConnectorInfoExt,
}

/// `ConnectorInfoExt` 充电设备接口扩展信息 (DB4403 表7), sent inline in ConnectorInfo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfoExt {
    /// `Voltage`: rated voltage, V.
    #[serde(
        rename = "Voltage",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub voltage_v: Option<u32>,
    /// `BMSPowerType`: BMS auxiliary supply voltage.
    #[serde(
        rename = "BMSPowerType",
        alias = "BmsPowerType",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub bms_power_type: Option<BmsPowerType>,
}

/// Checks a 9-character organisation code (OperatorID, EquipmentOwnerID, ManufacturerID).
pub(crate) fn org_code(v: &mut Validator, field: &str, value: &str) {
    v.req_str(field, value, Len::Exact(9));
}

/// Checks a GCJ-02 coordinate pair.
pub(crate) fn coordinates(
    v: &mut Validator,
    lng: (&str, Option<f64>),
    lat: (&str, Option<f64>),
    required: bool,
) {
    v.range(lng.0, lng.1, required, -180.0, 180.0);
    v.range(lat.0, lat.1, required, -90.0, 90.0);
}

impl Validate for StationInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("StationID", &self.station_id, Len::Max(20));
        org_code(v, "OperatorID", &self.operator_id);
        org_code(v, "EquipmentOwnerID", &self.equipment_owner_id);
        v.req_str("StationName", &self.station_name, Len::Max(50));
        v.req_str("CountryCode", &self.country_code, Len::Exact(2));
        v.req_str("AreaCode", &self.area_code, Len::Max(20));
        v.req_str("Address", &self.address, Len::Max(200));
        v.string(
            "StationTel",
            self.station_tel.as_deref(),
            true,
            Len::Max(32),
        );
        v.req_str("ServiceTel", &self.service_tel, Len::Max(30));
        v.req_code("StationType", &self.station_type);
        v.req_code("StationStatus", &self.station_status);
        coordinates(
            v,
            ("StationLng", Some(self.station_lng_deg)),
            ("StationLat", Some(self.station_lat_deg)),
            true,
        );
        v.opt_str("SiteGuide", self.site_guide.as_ref(), Len::Max(100));
        v.req_code("Construction", &self.construction);
        if v.db4403() && self.pictures.is_empty() {
            v.fail("Pictures", crate::tcec::validate::Violation::Missing);
        }
        for (field, value, max) in [
            ("MatchCars", &self.match_cars, 100),
            ("ParkInfo", &self.park_info, 100),
            ("BusineHours", &self.business_hours, 100),
            ("ElectricityFee", &self.electricity_fee, 256),
            ("ServiceFee", &self.service_fee, 256),
            ("ParkFee", &self.park_fee, 100),
            ("Payment", &self.payment, 20),
            ("Remark", &self.remark, 100),
        ] {
            v.opt_str(field, value.as_ref(), Len::Max(max));
        }
        v.code("SupportOrder", self.support_order.as_ref(), false);
        self.ext.check(v);
        v.list("EquipmentInfos", &self.equipment_infos, 1, usize::MAX);
    }
}

impl Validate for StationInfoExt {
    fn check(&self, v: &mut Validator) {
        v.code("OpenAllDay", self.open_all_day.as_ref(), false);
        v.code("ParkFree", self.park_free.as_ref(), false);
        v.code("OpratorType", self.operation_type.as_ref(), v.db4403());
    }
}

impl Validate for EquipmentInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("EquipmentID", &self.equipment_id, Len::Max(23));
        org_code(v, "ManufacturerID", &self.manufacturer_id);
        v.req_str("EquipmentModel", &self.equipment_model, Len::Max(20));
        v.time(
            "ProductionDate",
            self.production_date.as_deref(),
            false,
            TimeFormat::Date,
        );
        v.req_code("EquipmentType", &self.equipment_type);
        coordinates(
            v,
            ("EquipmentLng", self.equipment_lng_deg),
            ("EquipmentLat", self.equipment_lat_deg),
            false,
        );
        v.string(
            "EquipmentName",
            self.equipment_name.as_deref(),
            v.db4403(),
            Len::Max(30),
        );
        v.range("Power", self.power_kw, true, 0.0, f64::MAX);
        v.opt_str(
            "ManufacturerName",
            self.manufacturer_name.as_ref(),
            Len::Max(30),
        );
        self.ext.check(v);
        v.list("ConnectorInfos", &self.connector_infos, 1, usize::MAX);
    }
}

impl Validate for EquipmentInfoExt {
    fn check(&self, v: &mut Validator) {
        let required = v.db4403();
        v.code("EquipmentStatus", self.equipment_status.as_ref(), required);
        v.range(
            "EquipmentPower",
            self.equipment_power_kw,
            required,
            0.0,
            f64::MAX,
        );
        v.code(
            "NewNationalStandard",
            self.new_national_standard.as_ref(),
            required,
        );
    }
}

impl Validate for ConnectorInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("ConnectorID", &self.connector_id, Len::Max(26));
        v.req_str("ConnectorName", &self.connector_name, Len::Max(30));
        v.req_code("ConnectorType", &self.connector_type);
        v.range(
            "VoltageLowerLimits",
            Some(self.voltage_lower_limit_v),
            true,
            0,
            self.voltage_upper_limit_v,
        );
        v.range("Power", Some(self.power_kw), true, 0.0, f64::MAX);
        v.opt_str("ParkNo", self.park_no.as_ref(), Len::Max(10));
        v.code("NationalStandard", self.national_standard.as_ref(), false);
        self.ext.check(v);
    }
}

impl Validate for ConnectorInfoExt {
    fn check(&self, v: &mut Validator) {
        let required = v.db4403();
        v.present("Voltage", self.voltage_v.as_ref(), required);
        v.code("BMSPowerType", self.bms_power_type.as_ref(), required);
    }
}
