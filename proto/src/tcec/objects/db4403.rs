//! Request and response Data of the DB4403/T 77-2020 interfaces (chapter 9, Appendix C), plus
//! the payloads T/CEC 102 shares with it (`query_token`, `query_stations_info`, push acks).
//!
//! Which type goes with which interface is listed on [`Interface`](crate::tcec::Interface).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::distribution::DisEquipmentStatusInfo;
use super::enums::*;
use super::safety::{AlarmInfo, BmsInfo, EventInfo, VideoInfo};
use super::station::{StationInfo, org_code};
use super::stats::{StationChargeStatsInfo, StationDischargeStatsInfo};
use super::status::{ConnectorStatusInfo, StationStatusInfo};
use crate::tcec::crypto::{Secret, secret_serde};
use crate::tcec::envelope::TcecError;
use crate::tcec::lenient::de;
use crate::tcec::validate::{Len, TimeFormat, Validate, Validator};

/// `query_token` request (DB4403 表C.1; T/CEC 102.4 附录A).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryTokenRequest {
    /// `OperatorID` of the caller.
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `OperatorSecret` (redacted in `Debug`).
    #[serde(rename = "OperatorSecret", with = "secret_serde", default)]
    pub operator_secret: Secret,
}

/// `query_token` response (DB4403 表C.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryTokenResponse {
    /// `OperatorID` of the caller.
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `SuccStat`.
    #[serde(rename = "SuccStat", deserialize_with = "de")]
    pub succ_stat: SuccStat,
    /// `AccessToken`: the bearer credential (redacted in `Debug`).
    #[serde(rename = "AccessToken", with = "secret_serde", default)]
    pub access_token: Secret,
    /// `TokenAvailableTime`: validity in seconds (≤ 7 days).
    #[serde(rename = "TokenAvailableTime", default, deserialize_with = "de")]
    pub token_available_time_s: u32,
    /// `FailReason`.
    #[serde(rename = "FailReason", deserialize_with = "de")]
    pub fail_reason: TokenFailReason,
}

/// The longest token lifetime the standard allows (10.2.3: 最长不应超过7天), seconds.
pub const MAX_TOKEN_LIFETIME_S: u32 = 7 * 24 * 3600;

/// `{Status}` acknowledgement of every `notification_*` push and of `query_frequency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusAck {
    /// `Status`: 0 accepted, 1 dropped (do not retry).
    #[serde(rename = "Status", deserialize_with = "de")]
    pub status: AckStatus,
}

/// `{StationInfo}`: `notification_stationInfo` request and `supplement_stationInfo` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationInfoNotification {
    /// `StationInfo`.
    #[serde(rename = "StationInfo")]
    pub station_info: StationInfo,
}

/// `query_stations_info` request (DB4403 表30; T/CEC 102.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryStationsInfoRequest {
    /// `LastQueryTime`, `yyyy-MM-dd HH:mm:ss`; absent or empty means every station.
    #[serde(
        rename = "LastQueryTime",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_query_time: Option<String>,
    /// `PageNo`, default 1.
    #[serde(
        rename = "PageNo",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub page_no: Option<u32>,
    /// `PageSize`, default 10.
    #[serde(
        rename = "PageSize",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub page_size: Option<u32>,
}

impl QueryStationsInfoRequest {
    /// PageNo with the standard's default of 1.
    pub fn page_no_or_default(&self) -> u32 {
        self.page_no.unwrap_or(1)
    }

    /// PageSize with the standard's default of 10.
    pub fn page_size_or_default(&self) -> u32 {
        self.page_size.unwrap_or(10)
    }
}

/// `query_stations_info` response (DB4403 表31).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryStationsInfoResponse {
    /// `PageNo`: the page returned (the requested one even past the end).
    #[serde(rename = "PageNo", deserialize_with = "de")]
    pub page_no: u32,
    /// `PageCount`: number of pages.
    #[serde(rename = "PageCount", deserialize_with = "de")]
    pub page_count: u32,
    /// `ItemSize`: number of matching stations.
    #[serde(rename = "ItemSize", deserialize_with = "de")]
    pub item_size: u32,
    /// `StationInfos`.
    #[serde(rename = "StationInfos", default)]
    pub station_infos: Vec<StationInfo>,
}

/// `{ConnectorStatusInfo}`: `notification_stationStatus` request (DB4403 表33; T/CEC 102.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationStatusNotification {
    /// `ConnectorStatusInfo`.
    #[serde(rename = "ConnectorStatusInfo")]
    pub connector_status_info: ConnectorStatusInfo,
}

/// `{StationIDs}`: `query_stations_status` (DB4403 表36) / `query_station_status` (T/CEC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationIdsRequest {
    /// `StationIDs`: at most 50.
    #[serde(
        rename = "StationIDs",
        alias = "StationIds",
        default,
        deserialize_with = "de"
    )]
    pub station_ids: Vec<String>,
}

/// Station status query response (DB4403 表37; T/CEC 102.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationStatusResponse {
    /// `Total`: present in the examples, not in the tables.
    #[serde(
        rename = "Total",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub total: Option<u32>,
    /// `StationStatusInfos`.
    #[serde(rename = "StationStatusInfos", default)]
    pub station_status_infos: Vec<StationStatusInfo>,
}

/// `{StationID, StartTime, EndTime}`: every statistics query (DB4403 表39/42; T/CEC 102.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsQueryRequest {
    /// `StationID`.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `StartTime`, `yyyy-MM-dd`.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `EndTime`, `yyyy-MM-dd`.
    #[serde(rename = "EndTime", default, deserialize_with = "de")]
    pub end_time: String,
}

/// `query_station_charge_stats` response (DB4403 表40).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationChargeStatsResponse {
    /// `StationStats`.
    #[serde(rename = "StationStats")]
    pub station_stats: StationChargeStatsInfo,
}

/// `query_station_discharge_stats` response (DB4403 表43). The wire key is `StationStats`
/// per the seed; `StationDisStats` (the platform schema's node name) is accepted too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationDischargeStatsResponse {
    /// `StationStats`.
    #[serde(rename = "StationStats", alias = "StationDisStats")]
    pub station_stats: StationDischargeStatsInfo,
}

/// `{ConnectorID}`: `query_bms_info` request (DB4403 表48).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorIdRequest {
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
}

/// `{ConnectorID, Status, BmsInfo}`: `query_bms_info` response and `notification_bmsInfo`
/// request (DB4403 表45/49).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BmsInfoReport {
    /// `ConnectorID`.
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
    /// `BmsInfo`: present while the connector is charging or discharging (Status 3).
    #[serde(rename = "BmsInfo", default, skip_serializing_if = "Option::is_none")]
    pub bms_info: Option<BmsInfo>,
}

/// `query_alarm_info` request (DB4403 表51).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryAlarmInfoRequest {
    /// `StationID`.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `OperatorID`.
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `EquipmentID`.
    #[serde(
        rename = "EquipmentID",
        alias = "EquipmentId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_id: String,
}

/// `{AlarmInfos}`: `query_alarm_info` response and `notification_alarmInfo` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmInfos {
    /// `AlarmInfos`.
    #[serde(rename = "AlarmInfos", alias = "AlarmInfo", default)]
    pub alarm_infos: Vec<AlarmInfo>,
}

/// `query_event_info` request (DB4403 表57).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryEventInfoRequest {
    /// `StationID`.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `OperatorID`.
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `StartTime`, `yyyy-MM-dd`.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `EndTime`, `yyyy-MM-dd`.
    #[serde(rename = "EndTime", default, deserialize_with = "de")]
    pub end_time: String,
}

/// `{EventInfos}`: `query_event_info` response and `notification_eventInfo` request (表60
/// names the key `EventInfo`, the examples `EventInfos`; both are accepted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInfos {
    /// `EventInfos`.
    #[serde(rename = "EventInfos", alias = "EventInfo", default)]
    pub event_infos: Vec<EventInfo>,
}

/// `query_frequency` request (DB4403 表63).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryFrequencyRequest {
    /// `ParaFrequency`: reporting period, 5–60 s.
    #[serde(rename = "ParaFrequency", deserialize_with = "de")]
    pub para_frequency_s: u32,
}

/// `query_disequipmentstatus_info` request (DB4403 表66).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryDisEquipmentStatusRequest {
    /// `StationID`.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `OperatorID`.
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `DisequipmentID`.
    #[serde(
        rename = "DisequipmentID",
        alias = "DisEquipmentID",
        default,
        deserialize_with = "de"
    )]
    pub disequipment_id: String,
}

/// `{DisEquipmentStatusInfos}`: `query_disequipmentstatus_info` response (DB4403 表67).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisEquipmentStatusInfos {
    /// `DisEquipmentStatusInfos`.
    #[serde(rename = "DisEquipmentStatusInfos", default)]
    pub dis_equipment_status_infos: Vec<DisEquipmentStatusInfo>,
}

/// `{OperatorID, StationID}`: `supplement_stationInfo` (表72) and `query_video_info` (表78).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationRefRequest {
    /// `OperatorID`.
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `StationID`.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
}

/// `{VideoInfos}`: `query_video_info` response (表79; its example's `EventInfos` key is a copy
/// error of the seed and is accepted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfos {
    /// `VideoInfos`.
    #[serde(rename = "VideoInfos", alias = "EventInfos", default)]
    pub video_infos: Vec<VideoInfo>,
}

/// `InterfaceName` of `supplement_collect`: which push is re-collected (DB4403 表69).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SupplementInterface {
    /// `supplement_stationStatus`: returns ConnectorStatusInfo objects.
    StationStatus,
    /// `supplement_bmsInfo`: returns BmsInfoReport objects.
    BmsInfo,
    /// `supplement_alarmInfo`: returns AlarmInfo objects.
    AlarmInfo,
    /// `supplement_eventInfo`: returns EventInfo objects.
    EventInfo,
    /// A name not in 表69.
    Other(String),
}

impl SupplementInterface {
    /// The wire name.
    pub fn name(&self) -> &str {
        match self {
            SupplementInterface::StationStatus => "supplement_stationStatus",
            SupplementInterface::BmsInfo => "supplement_bmsInfo",
            SupplementInterface::AlarmInfo => "supplement_alarmInfo",
            SupplementInterface::EventInfo => "supplement_eventInfo",
            SupplementInterface::Other(s) => s,
        }
    }

    /// Parses a wire name, ignoring ASCII case (表69 writes `Supplement_bmsInfo` once).
    pub fn from_name(name: &str) -> Self {
        [
            Self::StationStatus,
            Self::BmsInfo,
            Self::AlarmInfo,
            Self::EventInfo,
        ]
        .into_iter()
        .find(|k| k.name().eq_ignore_ascii_case(name.trim()))
        .unwrap_or_else(|| SupplementInterface::Other(name.to_owned()))
    }
}

impl Serialize for SupplementInterface {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for SupplementInterface {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de::<D, String>(d).map(|s| SupplementInterface::from_name(&s))
    }
}

/// `supplement_collect` request (DB4403 表69).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplementCollectRequest {
    /// `OperatorID` (required).
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `StationID` (required to re-collect station status).
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `ConnectorID` (required to re-collect BMS data and station status).
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `EquipmentID`.
    #[serde(
        rename = "EquipmentID",
        alias = "EquipmentId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_id: String,
    /// `MissingTime`: `{yyyy-MM-dd HH:mm:ss, yyyy-MM-dd HH:mm:ss}`, see [`missing_times`].
    #[serde(rename = "MissingTime", default, deserialize_with = "de")]
    pub missing_time: String,
    /// `InterfaceName`.
    #[serde(rename = "InterfaceName")]
    pub interface_name: SupplementInterface,
}

/// Splits a `MissingTime` value such as `{2020-01-22 10:10:10, 2020-01-22 10:10:15}` into its
/// times (braces and brackets optional).
pub fn missing_times(missing_time: &str) -> Vec<&str> {
    missing_time
        .trim()
        .trim_start_matches(['{', '['])
        .trim_end_matches(['}', ']'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// `supplement_collect` response (DB4403 表70): the request echoed plus `Object`, the
/// re-sent payloads in MissingTime order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupplementCollectResponse {
    /// The request fields, echoed.
    #[serde(flatten)]
    pub request: SupplementCollectRequest,
    /// `Object`: one entry per missing time; the type depends on `InterfaceName`.
    #[serde(rename = "Object", alias = "Objects", default)]
    pub objects: Vec<serde_json::Value>,
}

/// The typed `Object` list of a [`SupplementCollectResponse`].
#[derive(Debug, Clone, PartialEq)]
pub enum SupplementObjects {
    /// For `supplement_stationStatus`.
    StationStatus(Vec<ConnectorStatusInfo>),
    /// For `supplement_bmsInfo`.
    BmsInfo(Vec<BmsInfoReport>),
    /// For `supplement_alarmInfo`.
    AlarmInfo(Vec<AlarmInfo>),
    /// For `supplement_eventInfo`.
    EventInfo(Vec<EventInfo>),
    /// For an unknown interface name: left untyped.
    Other(Vec<serde_json::Value>),
}

fn decode_all<T: DeserializeOwned>(objects: &[serde_json::Value]) -> Result<Vec<T>, TcecError> {
    objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            serde_path_to_error::deserialize(o).map_err(|e| TcecError::DataJson {
                path: format!("Object[{i}].{}", e.path()),
                reason: e.inner().to_string(),
            })
        })
        .collect()
}

impl SupplementCollectResponse {
    /// Builds a response echoing `request` with `objects` serialized.
    pub fn new<T: Serialize>(
        request: SupplementCollectRequest,
        objects: &[T],
    ) -> Result<Self, TcecError> {
        let objects = objects
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()
            .map_err(|e| TcecError::Encode {
                reason: e.to_string(),
            })?;
        Ok(SupplementCollectResponse { request, objects })
    }

    /// Decodes `Object` according to `InterfaceName`.
    pub fn typed_objects(&self) -> Result<SupplementObjects, TcecError> {
        Ok(match self.request.interface_name {
            SupplementInterface::StationStatus => {
                SupplementObjects::StationStatus(decode_all(&self.objects)?)
            }
            SupplementInterface::BmsInfo => SupplementObjects::BmsInfo(decode_all(&self.objects)?),
            SupplementInterface::AlarmInfo => {
                SupplementObjects::AlarmInfo(decode_all(&self.objects)?)
            }
            SupplementInterface::EventInfo => {
                SupplementObjects::EventInfo(decode_all(&self.objects)?)
            }
            SupplementInterface::Other(_) => SupplementObjects::Other(self.objects.clone()),
        })
    }
}

/// BMS-record completeness check request, `supplement_query_bms_intact` /
/// `supply_query_bms_intact` (DB4403 表75).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BmsIntactRequest {
    /// `OperatorID`.
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `StationID`.
    #[serde(
        rename = "StationID",
        alias = "StationId",
        default,
        deserialize_with = "de"
    )]
    pub station_id: String,
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `EquipmentID`.
    #[serde(
        rename = "EquipmentID",
        alias = "EquipmentId",
        default,
        deserialize_with = "de"
    )]
    pub equipment_id: String,
    /// `MissingTime`: start of the charging session whose BMS data is missing.
    #[serde(rename = "MissingTime", default, deserialize_with = "de")]
    pub missing_time: String,
}

/// BMS-record completeness check response (DB4403 表76). Keys are PascalCase as the platform
/// reads them; 表76's lower-camel spellings are accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BmsIntactResponse {
    /// `ChargeStartTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(
        rename = "ChargeStartTime",
        alias = "chargeStartTime",
        default,
        deserialize_with = "de"
    )]
    pub charge_start_time: String,
    /// `ChargeEndTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(
        rename = "ChargeEndTime",
        alias = "chargeEndTime",
        default,
        deserialize_with = "de"
    )]
    pub charge_end_time: String,
    /// `BmsRecordNum`: BMS records held for the session.
    #[serde(
        rename = "BmsRecordNum",
        alias = "bmsRecordNum",
        deserialize_with = "de"
    )]
    pub bms_record_num: u32,
    /// `ReportFrequency`: BMS reporting period, seconds.
    #[serde(
        rename = "ReportFrequency",
        alias = "reportFrequency",
        deserialize_with = "de"
    )]
    pub report_frequency_s: u32,
}

impl Validate for QueryTokenRequest {
    fn check(&self, v: &mut Validator) {
        org_code(v, "OperatorID", &self.operator_id);
        v.req_str(
            "OperatorSecret",
            self.operator_secret.expose(),
            Len::Max(64),
        );
    }
}

impl Validate for QueryTokenResponse {
    fn check(&self, v: &mut Validator) {
        org_code(v, "OperatorID", &self.operator_id);
        v.req_code("SuccStat", &self.succ_stat);
        if self.succ_stat == SuccStat::Success {
            v.req_str("AccessToken", self.access_token.expose(), Len::Any);
            v.range(
                "TokenAvailableTime",
                Some(self.token_available_time_s),
                true,
                1,
                MAX_TOKEN_LIFETIME_S,
            );
        }
        v.range("FailReason", Some(self.fail_reason.code()), true, 0, 99);
    }
}

impl Validate for StatusAck {
    fn check(&self, v: &mut Validator) {
        v.req_code("Status", &self.status);
    }
}

impl Validate for StationInfoNotification {
    fn check(&self, v: &mut Validator) {
        v.nested("StationInfo", &self.station_info);
    }
}

impl Validate for QueryStationsInfoRequest {
    fn check(&self, v: &mut Validator) {
        v.time(
            "LastQueryTime",
            self.last_query_time.as_deref(),
            false,
            TimeFormat::DateTime,
        );
        v.range("PageNo", self.page_no, false, 1, u32::MAX);
        v.range("PageSize", self.page_size, false, 1, u32::MAX);
    }
}

impl Validate for QueryStationsInfoResponse {
    fn check(&self, v: &mut Validator) {
        v.range("PageNo", Some(self.page_no), true, 1, u32::MAX);
        v.list("StationInfos", &self.station_infos, 0, usize::MAX);
    }
}

impl Validate for StationStatusNotification {
    fn check(&self, v: &mut Validator) {
        v.nested("ConnectorStatusInfo", &self.connector_status_info);
    }
}

impl Validate for StationIdsRequest {
    fn check(&self, v: &mut Validator) {
        v.count("StationIDs", self.station_ids.len(), 1, 50);
        for (i, id) in self.station_ids.iter().enumerate() {
            v.req_str(&format!("StationIDs[{i}]"), id, Len::Max(20));
        }
    }
}

impl Validate for StationStatusResponse {
    fn check(&self, v: &mut Validator) {
        v.list(
            "StationStatusInfos",
            &self.station_status_infos,
            0,
            usize::MAX,
        );
    }
}

impl Validate for StatsQueryRequest {
    fn check(&self, v: &mut Validator) {
        v.req_str("StationID", &self.station_id, Len::Max(20));
        v.time("StartTime", Some(&self.start_time), true, TimeFormat::Date);
        v.time("EndTime", Some(&self.end_time), true, TimeFormat::Date);
    }
}

impl Validate for StationChargeStatsResponse {
    fn check(&self, v: &mut Validator) {
        v.nested("StationStats", &self.station_stats);
    }
}

impl Validate for StationDischargeStatsResponse {
    fn check(&self, v: &mut Validator) {
        v.nested("StationStats", &self.station_stats);
    }
}

impl Validate for ConnectorIdRequest {
    fn check(&self, v: &mut Validator) {
        v.req_str("ConnectorID", &self.connector_id, Len::Max(26));
    }
}

impl Validate for BmsInfoReport {
    fn check(&self, v: &mut Validator) {
        v.req_str("ConnectorID", &self.connector_id, Len::Max(26));
        v.req_code("Status", &self.status);
        let charging = self.status == ConnectorStatus::OccupiedCharging;
        v.present("BmsInfo", self.bms_info.as_ref(), charging);
        if let Some(bms) = &self.bms_info {
            v.nested("BmsInfo", bms);
        }
    }
}

impl Validate for QueryAlarmInfoRequest {
    fn check(&self, v: &mut Validator) {
        v.req_str("StationID", &self.station_id, Len::Max(20));
        org_code(v, "OperatorID", &self.operator_id);
        v.string("EquipmentID", Some(&self.equipment_id), false, Len::Max(23));
    }
}

impl Validate for AlarmInfos {
    fn check(&self, v: &mut Validator) {
        v.list("AlarmInfos", &self.alarm_infos, 0, usize::MAX);
    }
}

impl Validate for QueryEventInfoRequest {
    fn check(&self, v: &mut Validator) {
        v.req_str("StationID", &self.station_id, Len::Max(20));
        org_code(v, "OperatorID", &self.operator_id);
        v.time("StartTime", Some(&self.start_time), true, TimeFormat::Date);
        v.time("EndTime", Some(&self.end_time), true, TimeFormat::Date);
    }
}

impl Validate for EventInfos {
    fn check(&self, v: &mut Validator) {
        v.list("EventInfos", &self.event_infos, 0, usize::MAX);
    }
}

impl Validate for QueryFrequencyRequest {
    fn check(&self, v: &mut Validator) {
        v.range("ParaFrequency", Some(self.para_frequency_s), true, 5, 60);
    }
}

impl Validate for QueryDisEquipmentStatusRequest {
    fn check(&self, v: &mut Validator) {
        v.req_str("StationID", &self.station_id, Len::Max(20));
        org_code(v, "OperatorID", &self.operator_id);
        v.string(
            "DisequipmentID",
            Some(&self.disequipment_id),
            false,
            Len::Max(26),
        );
    }
}

impl Validate for DisEquipmentStatusInfos {
    fn check(&self, v: &mut Validator) {
        v.list(
            "DisEquipmentStatusInfos",
            &self.dis_equipment_status_infos,
            0,
            usize::MAX,
        );
    }
}

impl Validate for StationRefRequest {
    fn check(&self, v: &mut Validator) {
        org_code(v, "OperatorID", &self.operator_id);
        v.req_str("StationID", &self.station_id, Len::Max(20));
    }
}

impl Validate for VideoInfos {
    fn check(&self, v: &mut Validator) {
        v.list("VideoInfos", &self.video_infos, 0, usize::MAX);
    }
}

fn check_missing_time(v: &mut Validator, missing_time: &str) {
    let times = missing_times(missing_time);
    if times.is_empty() {
        v.fail("MissingTime", crate::tcec::validate::Violation::Missing);
    }
    for t in times {
        v.time("MissingTime", Some(t), true, TimeFormat::DateTime);
    }
}

impl Validate for SupplementCollectRequest {
    fn check(&self, v: &mut Validator) {
        org_code(v, "OperatorID", &self.operator_id);
        let status = self.interface_name == SupplementInterface::StationStatus;
        let bms = self.interface_name == SupplementInterface::BmsInfo;
        v.string("StationID", Some(&self.station_id), status, Len::Max(20));
        v.string(
            "ConnectorID",
            Some(&self.connector_id),
            status || bms,
            Len::Max(26),
        );
        v.string("EquipmentID", Some(&self.equipment_id), false, Len::Max(23));
        check_missing_time(v, &self.missing_time);
        if let SupplementInterface::Other(name) = &self.interface_name {
            let mut value = name.clone();
            crate::tcec::lenient::truncate_for_error(&mut value);
            v.fail(
                "InterfaceName",
                crate::tcec::validate::Violation::BadFormat {
                    format: "supplement_* name of 表69",
                    value,
                },
            );
        }
    }
}

impl Validate for SupplementCollectResponse {
    fn check(&self, v: &mut Validator) {
        self.request.check(v);
    }
}

impl Validate for BmsIntactRequest {
    fn check(&self, v: &mut Validator) {
        org_code(v, "OperatorID", &self.operator_id);
        v.req_str("StationID", &self.station_id, Len::Max(20));
        v.req_str("ConnectorID", &self.connector_id, Len::Max(26));
        v.req_str("EquipmentID", &self.equipment_id, Len::Max(23));
        check_missing_time(v, &self.missing_time);
    }
}

impl Validate for BmsIntactResponse {
    fn check(&self, v: &mut Validator) {
        v.time(
            "ChargeStartTime",
            Some(&self.charge_start_time),
            true,
            TimeFormat::DateTime,
        );
        v.time(
            "ChargeEndTime",
            Some(&self.charge_end_time),
            true,
            TimeFormat::DateTime,
        );
        v.range(
            "ReportFrequency",
            Some(self.report_frequency_s),
            true,
            1,
            u32::MAX,
        );
    }
}
