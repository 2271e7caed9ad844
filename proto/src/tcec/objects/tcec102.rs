//! Data of the T/CEC 102.2 (Icomm) and 102.3 (Iserv) interfaces that DB4403 does not share.
//!
//! Field lists follow tcec-http.md §6 (draft 102.2/102.3 cross-checked against public SDKs).
//! The CEC tables spell `Sevice…` (SevicePrice, SeviceMoney, TotalSeviceMoney,
//! DetailSeviceMoney); that spelling is written and `Service…` is accepted, as is the Xiaoju
//! `ElectMoney`. Sequence numbers (`StartChargeSeq`, `EquipAuthSeq`, …) are
//! "OperatorID + unique number", 27 characters. Money is in yuan, energy in kWh.

use serde::{Deserialize, Serialize};

use super::enums::*;
use super::stats::StationStatsInfo;
use crate::tcec::lenient::de;
use crate::tcec::validate::{Len, TimeFormat, Validate, Validator};

/// Length of every T/CEC 102.3 sequence number (S1d 定稿修改).
pub const SEQ_ID_LEN: usize = 27;

/// `query_station_stats` response (T/CEC 102.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationStatsResponse {
    /// `StationStats`.
    #[serde(rename = "StationStats")]
    pub station_stats: StationStatsInfo,
}

/// `query_equip_auth` request (the draft writes `equipAuthSeq` in lower camel; accepted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryEquipAuthRequest {
    /// `EquipAuthSeq`, 27 characters.
    #[serde(
        rename = "EquipAuthSeq",
        alias = "equipAuthSeq",
        default,
        deserialize_with = "de"
    )]
    pub equip_auth_seq: String,
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        alias = "connectorID",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
}

/// `query_equip_auth` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryEquipAuthResponse {
    /// `EquipAuthSeq`, echoed.
    #[serde(
        rename = "EquipAuthSeq",
        alias = "equipAuthSeq",
        default,
        deserialize_with = "de"
    )]
    pub equip_auth_seq: String,
    /// `ConnectorID`, echoed.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        alias = "connectorID",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `SuccStat`.
    #[serde(rename = "SuccStat", alias = "succStat", deserialize_with = "de")]
    pub succ_stat: SuccStat,
    /// `FailReason`.
    #[serde(rename = "FailReason", alias = "failReason", deserialize_with = "de")]
    pub fail_reason: EquipAuthFailReason,
}

/// `query_equip_business_policy` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryEquipBusinessPolicyRequest {
    /// `EquipBizSeq`, 27 characters.
    #[serde(rename = "EquipBizSeq", default, deserialize_with = "de")]
    pub equip_biz_seq: String,
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
}

/// One price period of a business policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyInfo {
    /// `StartTime`: period start, `HHmmss`.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `ElecPrice`: energy price, yuan/kWh (4 decimals).
    #[serde(rename = "ElecPrice", deserialize_with = "de")]
    pub elec_price_yuan_per_kwh: f64,
    /// `SevicePrice` (the CEC spelling): service price, yuan/kWh.
    #[serde(
        rename = "SevicePrice",
        alias = "ServicePrice",
        deserialize_with = "de"
    )]
    pub service_price_yuan_per_kwh: f64,
}

/// `query_equip_business_policy` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryEquipBusinessPolicyResponse {
    /// `EquipBizSeq`, echoed.
    #[serde(rename = "EquipBizSeq", default, deserialize_with = "de")]
    pub equip_biz_seq: String,
    /// `ConnectorID`, echoed.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `SuccStat`.
    #[serde(rename = "SuccStat", deserialize_with = "de")]
    pub succ_stat: SuccStat,
    /// `FailReason`.
    #[serde(rename = "FailReason", deserialize_with = "de")]
    pub fail_reason: GenericFailReason,
    /// `SumPeriod`: number of periods, 0–32.
    #[serde(rename = "SumPeriod", deserialize_with = "de")]
    pub sum_period: u8,
    /// `PolicyInfos`.
    #[serde(rename = "PolicyInfos", default)]
    pub policy_infos: Vec<PolicyInfo>,
}

/// `query_start_charge` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryStartChargeRequest {
    /// `StartChargeSeq`, 27 characters.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `QRCode`: the scanned `hlht://` URI.
    #[serde(rename = "QRCode", alias = "QrCode", default, deserialize_with = "de")]
    pub qr_code: String,
}

/// `query_start_charge_with_car` request (draft extension).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryStartChargeWithCarRequest {
    /// `StartChargeSeq`, 27 characters.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `PlateNum`: licence plate.
    #[serde(rename = "PlateNum", default, deserialize_with = "de")]
    pub plate_num: String,
}

/// `query_start_charge` (and `…_with_car`) response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryStartChargeResponse {
    /// `StartChargeSeq`, echoed.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `StartChargeSeqStat`.
    #[serde(rename = "StartChargeSeqStat", deserialize_with = "de")]
    pub start_charge_seq_stat: StartChargeSeqStat,
    /// `ConnectorID`, echoed.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `SuccStat`.
    #[serde(rename = "SuccStat", deserialize_with = "de")]
    pub succ_stat: SuccStat,
    /// `FailReason`.
    #[serde(rename = "FailReason", deserialize_with = "de")]
    pub fail_reason: StartChargeFailReason,
}

/// `notification_start_charge_result` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartChargeResultNotification {
    /// `StartChargeSeq`.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `StartChargeSeqStat`.
    #[serde(rename = "StartChargeSeqStat", deserialize_with = "de")]
    pub start_charge_seq_stat: StartChargeSeqStat,
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `StartTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `IdentCode`: optional identification code.
    #[serde(
        rename = "IdentCode",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub ident_code: Option<String>,
}

/// `{StartChargeSeq, SuccStat, FailReason}`: acknowledgement of
/// `notification_start_charge_result` and `notification_stop_charge_result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationResultAck {
    /// `StartChargeSeq`, echoed.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `SuccStat`.
    #[serde(rename = "SuccStat", deserialize_with = "de")]
    pub succ_stat: SuccStat,
    /// `FailReason`.
    #[serde(rename = "FailReason", deserialize_with = "de")]
    pub fail_reason: GenericFailReason,
}

/// `{StartChargeSeq}`: `query_equip_charge_status` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartChargeSeqRequest {
    /// `StartChargeSeq`.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
}

/// One time-of-use segment of a session's bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeDetail {
    /// `DetailStartTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "DetailStartTime", default, deserialize_with = "de")]
    pub detail_start_time: String,
    /// `DetailEndTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "DetailEndTime", default, deserialize_with = "de")]
    pub detail_end_time: String,
    /// `ElecPrice`: energy price, yuan/kWh (optional since the final text).
    #[serde(
        rename = "ElecPrice",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub elec_price_yuan_per_kwh: Option<f64>,
    /// `SevicePrice`: service price, yuan/kWh (optional since the final text).
    #[serde(
        rename = "SevicePrice",
        alias = "ServicePrice",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_price_yuan_per_kwh: Option<f64>,
    /// `DetailPower`: energy in the segment, kWh.
    #[serde(rename = "DetailPower", deserialize_with = "de")]
    pub detail_energy_kwh: f64,
    /// `DetailElecMoney`: energy cost, yuan.
    #[serde(
        rename = "DetailElecMoney",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub detail_elec_money_yuan: Option<f64>,
    /// `DetailSeviceMoney`: service cost, yuan.
    #[serde(
        rename = "DetailSeviceMoney",
        alias = "DetailServiceMoney",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub detail_service_money_yuan: Option<f64>,
}

/// `query_equip_charge_status` response and `notification_equip_charge_status` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipChargeStatus {
    /// `StartChargeSeq`.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `StartChargeSeqStat`.
    #[serde(rename = "StartChargeSeqStat", deserialize_with = "de")]
    pub start_charge_seq_stat: StartChargeSeqStat,
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `ConnectorStatus`.
    #[serde(rename = "ConnectorStatus", deserialize_with = "de")]
    pub connector_status: ConnectorStatus,
    /// `CurrentA`: phase A (or DC) current, A.
    #[serde(rename = "CurrentA", default, deserialize_with = "de")]
    pub phase_a_current_a: f64,
    /// `CurrentB`: phase B current, A.
    #[serde(rename = "CurrentB", default, deserialize_with = "de")]
    pub phase_b_current_a: f64,
    /// `CurrentC`: phase C current, A.
    #[serde(rename = "CurrentC", default, deserialize_with = "de")]
    pub phase_c_current_a: f64,
    /// `VoltageA`: phase A (or DC) voltage, V.
    #[serde(rename = "VoltageA", default, deserialize_with = "de")]
    pub phase_a_voltage_v: f64,
    /// `VoltageB`: phase B voltage, V.
    #[serde(rename = "VoltageB", default, deserialize_with = "de")]
    pub phase_b_voltage_v: f64,
    /// `VoltageC`: phase C voltage, V.
    #[serde(rename = "VoltageC", default, deserialize_with = "de")]
    pub phase_c_voltage_v: f64,
    /// `Soc`: state of charge, %.
    #[serde(rename = "Soc", alias = "SOC", default, deserialize_with = "de")]
    pub soc_percent: f64,
    /// `StartTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `EndTime`: time of this sample, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "EndTime", default, deserialize_with = "de")]
    pub end_time: String,
    /// `TotalPower`: energy so far, kWh.
    #[serde(rename = "TotalPower", deserialize_with = "de")]
    pub total_energy_kwh: f64,
    /// `ElecMoney`: energy cost so far, yuan.
    #[serde(
        rename = "ElecMoney",
        alias = "ElectMoney",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub elec_money_yuan: Option<f64>,
    /// `SeviceMoney`: service cost so far, yuan.
    #[serde(
        rename = "SeviceMoney",
        alias = "ServiceMoney",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_money_yuan: Option<f64>,
    /// `TotalMoney`: total cost so far, yuan.
    #[serde(
        rename = "TotalMoney",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_money_yuan: Option<f64>,
    /// `SumPeriod`: number of ChargeDetails, 0–32.
    #[serde(
        rename = "SumPeriod",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub sum_period: Option<u8>,
    /// `ChargeDetails`.
    #[serde(
        rename = "ChargeDetails",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub charge_details: Option<Vec<ChargeDetail>>,
}

/// `{StartChargeSeq, SuccStat}`: acknowledgement of `notification_equip_charge_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeStatusAck {
    /// `StartChargeSeq`, echoed.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `SuccStat`.
    #[serde(rename = "SuccStat", deserialize_with = "de")]
    pub succ_stat: SuccStat,
}

/// `query_stop_charge` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryStopChargeRequest {
    /// `StartChargeSeq`.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
}

/// `query_stop_charge` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryStopChargeResponse {
    /// `StartChargeSeq`, echoed.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `StartChargeSeqStat`.
    #[serde(rename = "StartChargeSeqStat", deserialize_with = "de")]
    pub start_charge_seq_stat: StartChargeSeqStat,
    /// `SuccStat`.
    #[serde(rename = "SuccStat", deserialize_with = "de")]
    pub succ_stat: SuccStat,
    /// `FailReason`.
    #[serde(rename = "FailReason", deserialize_with = "de")]
    pub fail_reason: StopChargeFailReason,
}

/// `notification_stop_charge_result` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopChargeResultNotification {
    /// `StartChargeSeq`.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `StartChargeSeqStat`.
    #[serde(rename = "StartChargeSeqStat", deserialize_with = "de")]
    pub start_charge_seq_stat: StartChargeSeqStat,
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `SuccStat`.
    #[serde(rename = "SuccStat", deserialize_with = "de")]
    pub succ_stat: SuccStat,
    /// `FailReason`.
    #[serde(rename = "FailReason", deserialize_with = "de")]
    pub fail_reason: StopChargeFailReason,
}

/// `notification_charge_order_info` request: the finished session's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeOrderInfo {
    /// `StartChargeSeq`.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `ConnectorID`.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `StartTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `EndTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "EndTime", default, deserialize_with = "de")]
    pub end_time: String,
    /// `TotalPower`: energy, kWh.
    #[serde(rename = "TotalPower", deserialize_with = "de")]
    pub total_energy_kwh: f64,
    /// `TotalElecMoney`: energy cost, yuan.
    #[serde(
        rename = "TotalElecMoney",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_elec_money_yuan: Option<f64>,
    /// `TotalSeviceMoney`: service cost, yuan.
    #[serde(
        rename = "TotalSeviceMoney",
        alias = "TotalServiceMoney",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_service_money_yuan: Option<f64>,
    /// `TotalMoney`: total cost, yuan.
    #[serde(
        rename = "TotalMoney",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_money_yuan: Option<f64>,
    /// `StopReason`.
    #[serde(rename = "StopReason", deserialize_with = "de")]
    pub stop_reason: StopReason,
    /// `SumPeriod`: number of ChargeDetails, 0–32.
    #[serde(
        rename = "SumPeriod",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub sum_period: Option<u8>,
    /// `ChargeDetails`.
    #[serde(
        rename = "ChargeDetails",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub charge_details: Option<Vec<ChargeDetail>>,
}

/// `notification_charge_order_info` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeOrderInfoAck {
    /// `StartChargeSeq`, echoed.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `ConnectorID`, echoed.
    #[serde(
        rename = "ConnectorID",
        alias = "ConnectorId",
        default,
        deserialize_with = "de"
    )]
    pub connector_id: String,
    /// `ConfirmResult`.
    #[serde(rename = "ConfirmResult", deserialize_with = "de")]
    pub confirm_result: ConfirmResult,
}

/// One order of a reconciliation batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeOrder {
    /// `StartChargeSeq`.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `TotalPower`: energy, kWh.
    #[serde(rename = "TotalPower", deserialize_with = "de")]
    pub total_energy_kwh: f64,
    /// `TotalMoney`: total cost, yuan.
    #[serde(rename = "TotalMoney", deserialize_with = "de")]
    pub total_money_yuan: f64,
}

/// `check_charge_orders` request: a reconciliation batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckChargeOrdersRequest {
    /// `CheckOrderSeq`, 27 characters.
    #[serde(rename = "CheckOrderSeq", default, deserialize_with = "de")]
    pub check_order_seq: String,
    /// `StartTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `EndTime`, `yyyy-MM-dd HH:mm:ss`.
    #[serde(rename = "EndTime", default, deserialize_with = "de")]
    pub end_time: String,
    /// `OrderCount`.
    #[serde(rename = "OrderCount", deserialize_with = "de")]
    pub order_count: u32,
    /// `TotalOrderPower`: energy of all orders, kWh.
    #[serde(rename = "TotalOrderPower", deserialize_with = "de")]
    pub total_order_energy_kwh: f64,
    /// `TotalOrderMoney`: money of all orders, yuan.
    #[serde(rename = "TotalOrderMoney", deserialize_with = "de")]
    pub total_order_money_yuan: f64,
    /// `ChargeOrders`.
    #[serde(rename = "ChargeOrders", default)]
    pub charge_orders: Vec<ChargeOrder>,
}

/// One disputed order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisputeOrder {
    /// `StartChargeSeq`.
    #[serde(rename = "StartChargeSeq", default, deserialize_with = "de")]
    pub start_charge_seq: String,
    /// `TotalPower`: energy, kWh.
    #[serde(rename = "TotalPower", deserialize_with = "de")]
    pub total_energy_kwh: f64,
    /// `TotalMoney`: total cost, yuan.
    #[serde(rename = "TotalMoney", deserialize_with = "de")]
    pub total_money_yuan: f64,
    /// `DisputeReason`.
    #[serde(rename = "DisputeReason", deserialize_with = "de")]
    pub dispute_reason: DisputeReason,
}

/// `check_charge_orders` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckChargeOrdersResponse {
    /// `CheckOrderSeq`, echoed.
    #[serde(rename = "CheckOrderSeq", default, deserialize_with = "de")]
    pub check_order_seq: String,
    /// `StartTime`, echoed.
    #[serde(rename = "StartTime", default, deserialize_with = "de")]
    pub start_time: String,
    /// `EndTime`, echoed.
    #[serde(rename = "EndTime", default, deserialize_with = "de")]
    pub end_time: String,
    /// `TotalDisputeOrder`: number of disputed orders.
    #[serde(rename = "TotalDisputeOrder", deserialize_with = "de")]
    pub total_dispute_order: u32,
    /// `TotalDisputePower`: disputed energy, kWh.
    #[serde(rename = "TotalDisputePower", deserialize_with = "de")]
    pub total_dispute_energy_kwh: f64,
    /// `TotalDisputeMoney`: disputed money, yuan.
    #[serde(rename = "TotalDisputeMoney", deserialize_with = "de")]
    pub total_dispute_money_yuan: f64,
    /// `DisputeOrders`.
    #[serde(rename = "DisputeOrders", default)]
    pub dispute_orders: Vec<DisputeOrder>,
}

fn seq_id(v: &mut Validator, field: &str, value: &str) {
    v.req_str(field, value, Len::Exact(SEQ_ID_LEN));
}

fn connector(v: &mut Validator, value: &str) {
    v.req_str("ConnectorID", value, Len::Max(26));
}

fn money(v: &mut Validator, field: &str, yuan: Option<f64>) {
    v.range(field, yuan, false, 0.0, f64::MAX);
}

impl Validate for StationStatsResponse {
    fn check(&self, v: &mut Validator) {
        v.nested("StationStats", &self.station_stats);
    }
}

impl Validate for QueryEquipAuthRequest {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "EquipAuthSeq", &self.equip_auth_seq);
        connector(v, &self.connector_id);
    }
}

impl Validate for QueryEquipAuthResponse {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "EquipAuthSeq", &self.equip_auth_seq);
        connector(v, &self.connector_id);
        v.req_code("SuccStat", &self.succ_stat);
        v.range("FailReason", Some(self.fail_reason.code()), true, 0, 99);
    }
}

impl Validate for QueryEquipBusinessPolicyRequest {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "EquipBizSeq", &self.equip_biz_seq);
        connector(v, &self.connector_id);
    }
}

impl Validate for PolicyInfo {
    fn check(&self, v: &mut Validator) {
        v.time(
            "StartTime",
            Some(&self.start_time),
            true,
            TimeFormat::HhMmSs,
        );
        money(v, "ElecPrice", Some(self.elec_price_yuan_per_kwh));
        money(v, "SevicePrice", Some(self.service_price_yuan_per_kwh));
    }
}

impl Validate for QueryEquipBusinessPolicyResponse {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "EquipBizSeq", &self.equip_biz_seq);
        connector(v, &self.connector_id);
        v.req_code("SuccStat", &self.succ_stat);
        v.range("FailReason", Some(self.fail_reason.code()), true, 0, 99);
        v.range("SumPeriod", Some(self.sum_period), true, 0, 32);
        v.list(
            "PolicyInfos",
            &self.policy_infos,
            usize::from(self.sum_period),
            usize::from(self.sum_period),
        );
    }
}

impl Validate for QueryStartChargeRequest {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        connector(v, &self.connector_id);
        v.req_str("QRCode", &self.qr_code, Len::Any);
    }
}

impl Validate for QueryStartChargeWithCarRequest {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        connector(v, &self.connector_id);
        v.req_str("PlateNum", &self.plate_num, Len::Max(10));
    }
}

impl Validate for QueryStartChargeResponse {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        v.req_code("StartChargeSeqStat", &self.start_charge_seq_stat);
        connector(v, &self.connector_id);
        v.req_code("SuccStat", &self.succ_stat);
        v.range("FailReason", Some(self.fail_reason.code()), true, 0, 99);
    }
}

impl Validate for StartChargeResultNotification {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        v.req_code("StartChargeSeqStat", &self.start_charge_seq_stat);
        connector(v, &self.connector_id);
        v.time(
            "StartTime",
            Some(&self.start_time),
            true,
            TimeFormat::DateTime,
        );
    }
}

impl Validate for NotificationResultAck {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        v.req_code("SuccStat", &self.succ_stat);
        v.range("FailReason", Some(self.fail_reason.code()), true, 0, 99);
    }
}

impl Validate for StartChargeSeqRequest {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
    }
}

impl Validate for ChargeDetail {
    fn check(&self, v: &mut Validator) {
        v.time(
            "DetailStartTime",
            Some(&self.detail_start_time),
            true,
            TimeFormat::DateTime,
        );
        v.time(
            "DetailEndTime",
            Some(&self.detail_end_time),
            true,
            TimeFormat::DateTime,
        );
        money(v, "ElecPrice", self.elec_price_yuan_per_kwh);
        money(v, "SevicePrice", self.service_price_yuan_per_kwh);
        v.range(
            "DetailPower",
            Some(self.detail_energy_kwh),
            true,
            0.0,
            f64::MAX,
        );
        money(v, "DetailElecMoney", self.detail_elec_money_yuan);
        money(v, "DetailSeviceMoney", self.detail_service_money_yuan);
    }
}

fn details(v: &mut Validator, sum_period: Option<u8>, details: Option<&Vec<ChargeDetail>>) {
    v.range("SumPeriod", sum_period, false, 0, 32);
    if let Some(list) = details {
        let n = sum_period.map_or(list.len(), usize::from);
        v.list("ChargeDetails", list, n, n);
    }
}

impl Validate for EquipChargeStatus {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        v.req_code("StartChargeSeqStat", &self.start_charge_seq_stat);
        connector(v, &self.connector_id);
        v.req_code("ConnectorStatus", &self.connector_status);
        v.range("Soc", Some(self.soc_percent), true, 0.0, 100.0);
        v.time(
            "StartTime",
            Some(&self.start_time),
            true,
            TimeFormat::DateTime,
        );
        v.time("EndTime", Some(&self.end_time), true, TimeFormat::DateTime);
        v.range(
            "TotalPower",
            Some(self.total_energy_kwh),
            true,
            0.0,
            f64::MAX,
        );
        money(v, "ElecMoney", self.elec_money_yuan);
        money(v, "SeviceMoney", self.service_money_yuan);
        money(v, "TotalMoney", self.total_money_yuan);
        details(v, self.sum_period, self.charge_details.as_ref());
    }
}

impl Validate for ChargeStatusAck {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        v.req_code("SuccStat", &self.succ_stat);
    }
}

impl Validate for QueryStopChargeRequest {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        connector(v, &self.connector_id);
    }
}

impl Validate for QueryStopChargeResponse {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        v.req_code("StartChargeSeqStat", &self.start_charge_seq_stat);
        v.req_code("SuccStat", &self.succ_stat);
        v.range("FailReason", Some(self.fail_reason.code()), true, 0, 99);
    }
}

impl Validate for StopChargeResultNotification {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        v.req_code("StartChargeSeqStat", &self.start_charge_seq_stat);
        connector(v, &self.connector_id);
        v.req_code("SuccStat", &self.succ_stat);
        v.range("FailReason", Some(self.fail_reason.code()), true, 0, 99);
    }
}

impl Validate for ChargeOrderInfo {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        connector(v, &self.connector_id);
        v.time(
            "StartTime",
            Some(&self.start_time),
            true,
            TimeFormat::DateTime,
        );
        v.time("EndTime", Some(&self.end_time), true, TimeFormat::DateTime);
        v.range(
            "TotalPower",
            Some(self.total_energy_kwh),
            true,
            0.0,
            f64::MAX,
        );
        money(v, "TotalElecMoney", self.total_elec_money_yuan);
        money(v, "TotalSeviceMoney", self.total_service_money_yuan);
        money(v, "TotalMoney", self.total_money_yuan);
        v.range("StopReason", Some(self.stop_reason.code()), true, 0, 99);
        details(v, self.sum_period, self.charge_details.as_ref());
    }
}

impl Validate for ChargeOrderInfoAck {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        connector(v, &self.connector_id);
        v.range(
            "ConfirmResult",
            Some(self.confirm_result.code()),
            true,
            0,
            99,
        );
    }
}

impl Validate for ChargeOrder {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        v.range(
            "TotalPower",
            Some(self.total_energy_kwh),
            true,
            0.0,
            f64::MAX,
        );
        money(v, "TotalMoney", Some(self.total_money_yuan));
    }
}

impl Validate for CheckChargeOrdersRequest {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "CheckOrderSeq", &self.check_order_seq);
        v.time(
            "StartTime",
            Some(&self.start_time),
            true,
            TimeFormat::DateTime,
        );
        v.time("EndTime", Some(&self.end_time), true, TimeFormat::DateTime);
        let n = self.order_count as usize;
        v.list("ChargeOrders", &self.charge_orders, n, n);
    }
}

impl Validate for DisputeOrder {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "StartChargeSeq", &self.start_charge_seq);
        v.range(
            "DisputeReason",
            Some(self.dispute_reason.code()),
            true,
            1,
            99,
        );
    }
}

impl Validate for CheckChargeOrdersResponse {
    fn check(&self, v: &mut Validator) {
        seq_id(v, "CheckOrderSeq", &self.check_order_seq);
        let n = self.total_dispute_order as usize;
        v.list("DisputeOrders", &self.dispute_orders, n, n);
    }
}
