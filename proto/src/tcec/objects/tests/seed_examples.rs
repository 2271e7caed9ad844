//! The JSON examples of DB4403/T 77-2020 chapter 9, transcribed with their quirks (trailing
//! commas, codes as strings, misspelt keys, a duplicated key). The OCR's broken brackets were
//! repaired; everything else is as printed.

use super::fixtures::OP;
use crate::tcec::codes::*;
use crate::tcec::envelope::decode_data;
use crate::tcec::objects::*;
use crate::tcec::validate::{Validate, Violation};

/// §9.2 notification_stationInfo (the two OCR fragments joined).
const STATION_INFO: &str = r#"{
    "StationInfo": {
        "StationID": "0000000000000001",
        "OperatorID": "123456789",
        "EquipmentOwnerID": "123456789",
        "StationName": "\u5145\u7535\u7ad9\u540d\u79f0",
        "CountryCode": "CN",
        "AreaCode": "441781",
        "Address": "\u5730\u5740",
        "StationTel": "123456789",
        "ServiceTel": "123456789",
        "StationType": 1,
        "StationStatus": 50,
        "ParkNums": 3,
        "StationLng": 119.97049,
        "StationLat": 31.717877,
        "SiteGuide": "111111",
        "OpenAllDay": 1,
        "Construction": 0,
        "ParkFree": 1,
        "Pictures": [
            "http://www.xxx.com/uploads/plugs/e5/eb/cd/f0469308d9bbd99496618d6d87",
            "http://www.xxx.com/uploads/plugs/7c/0c/81/a8ed867ffdfb597abaf9982b2c"],
        "Payment": "线上",
        "SupportOrder": 1,
        "EquipmentInfos": [
            {
                "EquipmentID": "10000000000000000000003",
                "EquipmentName": "充电桩 001",
                "ManufacturerID": "123456789",
                "EquipmentModel": "p3",
                "ProductionDate": "2016-04-26",
                "EquipmentType": 3,
                "Power": 60,
                "EquipmentStatus": 50,
                "EquipmentPower": 3.3,
                "NewNationalStandard": 1,
                "ConnectorInfos": [
                    {
                        "ConnectorID": "1",
                        "ConnectorName": "枪 1",
                        "ConnectorType": 1,
                        "VoltageUpperLimits": 220,
                        "VoltageLowerLimits": 220,
                        "Current": 15,
                        "Power": 3.3,
                        "Voltage": 220,
                        "BMSPowerType": 1
                    }
                ]
            }
        ]
    }
}"#;

#[test]
fn station_info_example() {
    let n: StationInfoNotification = decode_data(STATION_INFO.as_bytes()).unwrap();
    let s = &n.station_info;
    assert_eq!(s.station_type, StationType::Public);
    assert_eq!(s.ext.open_all_day, Some(YesNo::Yes));
    assert_eq!(s.pictures.len(), 2);
    let e = &s.equipment_infos[0];
    assert_eq!(
        (e.equipment_type, e.power_kw, e.ext.equipment_power_kw),
        (EquipmentType::AcDc, Some(60.0), Some(3.3))
    );
    assert_eq!(
        e.connector_infos[0].ext.bms_power_type,
        Some(BmsPowerType::V12)
    );
    // The example itself breaks the tables: Construction 0 is undefined, OpratorType is absent.
    let err = n.validate().unwrap_err();
    assert_eq!(err.path, "StationInfo.Construction");
    assert_eq!(err.violation, Violation::UnknownCode { code: 0 });
}

#[test]
fn connector_status_example() {
    let text = r#"{
  "ConnectorStatusInfo": {
    "ConnectorID": "1",
    "Status": 4,
    "CurrentA": 0, "CurrentB": 0, "CurrentC": 0,
    "VoltageA": 0, "VoltageB": 0, "VoltageC": 0,
    "ParkStatus": 10,
    "LockStatus": 10,
    "SOC": 10,
    "ChargeElectricity": 10.15,
    "DischargeElectricity": 4.35
  }
}"#;
    let n: StationStatusNotification = decode_data(text.as_bytes()).unwrap();
    let s = &n.connector_status_info;
    assert_eq!(
        (s.status, s.lock_status),
        (ConnectorStatus::Reserved, Some(LockStatus::Unlocked))
    );
    assert_eq!(s.ext.discharged_energy_kwh, Some(4.35));
    n.validate().unwrap();
    let ack: StatusAck = decode_data(b"{\n    \"Status\": 0,\n}").unwrap();
    assert_eq!(ack.status, AckStatus::Accepted);
}

#[test]
fn stats_examples() {
    let charge = r#"{"StationStats": {"StationID": "11111111111111", "StartTime": "2015-10-01", "EndTime": "2015-10-02",
        "StationChargeElectricity": 100, "EquipmentChargeStatsInfos": [{"EquipmentID": "10000000000000000000001",
        "EquipmentChargeElectricity": 100, "ConnectorChargeStatsInfos": [{"ConnectorID": "10000000000000000000001101",
        "ConnectorChargeElectricity": 100,}]}]}}"#;
    let c: StationChargeStatsResponse = decode_data(charge.as_bytes()).unwrap();
    assert_eq!(c.station_stats.station_charge_energy_kwh, 100.0);
    c.validate().unwrap();
    let discharge = r#"{"StationDisStats": {"StationID": "1111111111111111", "StartTime": "2015-10-01", "EndTime": "2015-10-02",
        "StationDischargeElectricity": 100, "EquipmentDischargeStatsInfos": [{"EquipmentID": "10000000000000000000001",
        "EquipmentDischargeElectricity": 100, "ConnectorDischargeStatsInfos": [{"ConnectorID": "10000000000000000000001101",
        "ConnectorDischargeElectricity": 100,}]}]}}"#;
    let d: StationDischargeStatsResponse = decode_data(discharge.as_bytes()).unwrap();
    assert_eq!(
        d.station_stats.equipment_discharge_stats_infos[0].connector_discharge_stats_infos[0]
            .connector_discharge_energy_kwh,
        Some(100.0)
    );
}

#[test]
fn bms_and_alarm_examples() {
    let bms = r#"{"ConnectorID": "1111111111111111", "Status": 3, "BmsInfo": {
        "MaxChargeCurrent": 60, "MaxChargeCellVoltage": 220, "MaxTemp": 55, "RatedCapacity": 60,
        "TatalVoltage": 380, "TotalCurrent": 60, "Soc": 90, "VoltageH": 4.20, "VoltageL": 3.70,
        "TemptureH": 55, "TemptureL": 45, "StartChargingTime": "2017-08-08 18:18:18", "ChargingSessionMin": 320}}"#;
    let r: BmsInfoReport = decode_data(bms.as_bytes()).unwrap();
    let b = r.bms_info.as_ref().unwrap();
    assert_eq!(
        (b.cell_voltage_min_v, b.charging_session_s),
        (Some(3.7), Some(320))
    );
    // The example omits VINCode, which 表20 requires.
    assert_eq!(r.validate().unwrap_err().path, "BmsInfo.VINCode");

    let alarm = r#"{"AlarmInfos": [{"StationID": "1111111111111111", "OperatorID": "987654321",
        "EquipmentOwnerID": "987654321", "StationName": "某某充电站", "EquipmentID": "10000000000000000000003",
        "ConnectorID": "10000000000000000000000101", "AlarmStatus": "1", "AlarmCode": "101", "AlarmType": "2",
        "AlarmLevel": "2", "AlarmTime": "2017-08-08 18:18:18", "NoteString": "注意内容：**停车场附近",
        "BmsInfo": {"MaxChargeCurrent": 60, "MaxChargeCellVoltage": 220, "MaxTemp": 55, "RatedCapacity": 60,
        "TatalVoltage": 380, "TotalCurrent": 60, "Soc": 90, "VoltageH": 4.20, "VoltageL": 3.70,
        "TempureH": 55, "TempureL": 45, "StartChargingTime": "2017-08-08 18:18:18", "ChargingSessionMin": 320}}]}"#;
    let a: AlarmInfos = decode_data(alarm.as_bytes()).unwrap();
    let a = &a.alarm_infos[0];
    assert_eq!(
        (a.alarm_status, a.alarm_code, a.alarm_type),
        (
            AlarmStatus::Occurred,
            AlarmCode::BmsCommTimeout,
            AlarmType::BatterySystem
        )
    );
    assert_eq!(a.bms_info.as_ref().unwrap().cell_temp_max_c, 55);
}

#[test]
fn event_example() {
    let text = r#"{"EventInfos": [{"StationID": "1111111111111111", "OperatorID": "987654321",
        "EquipmentOwnerID": "987654321", "StationName": "某某充电站", "EventType": "3", "EventCode": "3001",
        "EventTime": "2017-08-08 18:18:18", "EventString": "注意内容: **停车场附近",}]}"#;
    let e: EventInfos = decode_data(text.as_bytes()).unwrap();
    let e = &e.event_infos[0];
    assert_eq!(
        (e.event_type, e.event_code),
        (EventType::SafetyInspection, EventCode::InspectionScheduled)
    );
    assert_eq!(e.note.as_deref(), Some("注意内容: **停车场附近"));
    e.validate().unwrap();
}

#[test]
fn distribution_example() {
    // Note the duplicated "CurPPower" key and FeedState sent as a number.
    let text = r#"{"DisEquipmentStatusInfos": [{"StationID": "1111111111111111", "OperatorID": "987654321",
        "DisequipmentID": "987654321", "FoPEnergy": 60, "RePEnergy": 220, "FoQEnergy": 220, "ReQEnergy": 220,
        "AVoltage": 380, "BVoltage": 60, "CVoltage": 90, "ACurrent": 4.20, "BCurrent": 3.70, "CCurrent": 55,
        "CurPPower": 45, "CurQPower": 45, "Factor": 45, "CurSPower": 45, "CurPPower": 45, "Frequency": 45,
        "FeedState": 45, "EnvTemp1": 0, "EnvTemp2": 0, "EnvHumi1": 0, "EnvHumi2": 0, "SmokAlam1": 0,
        "SmokAlam2": 0, "TranOverTemAlam": 0}]}"#;
    let d: DisEquipmentStatusInfos = decode_data(text.as_bytes()).unwrap();
    let s = &d.dis_equipment_status_infos[0];
    assert_eq!(
        (s.feed_state.as_str(), s.env_humidity1_percent),
        ("45", Some(0))
    );
    // Factor 45 is outside −1…1.
    assert_eq!(
        d.validate().unwrap_err().path,
        "DisEquipmentStatusInfos[0].Factor"
    );
}

#[test]
fn video_example() {
    let text = r#"{"EventInfos": [{"StationID": "1111111111111111", "OperatorID": "987654321",
        "EquipmentOwnerID": "987654321", "StationName": "某某充电站", "VideoType": "1",
        "Videolink": "http://www.****.com/sort/video_indate_DESC_1.apsx", "VideoUser": "superior",
        "VideoAhtcCode": "@#¥%.....&&&",}]}"#;
    let v: VideoInfos = decode_data(text.as_bytes()).unwrap();
    let v = &v.video_infos[0];
    assert_eq!(v.video_type, VideoType::Live);
    assert!(v.video_link.starts_with("http://"));
    assert_eq!(v.video_auth_code.as_deref(), Some("@#¥%.....&&&"));
}

#[test]
fn token_example() {
    let req: QueryTokenRequest =
        decode_data(br#"{"OperatorID":"123456789","OperatorSecret":"1234567890abcdef"}"#).unwrap();
    assert_eq!(req.operator_id, OP);
    let resp: QueryTokenResponse = decode_data(
        br#"{"OperatorID":"123456789","SuccStat":1,"AccessToken":"","TokenAvailableTime":0,"FailReason":2}"#,
    )
    .unwrap();
    assert_eq!(
        (resp.succ_stat, resp.fail_reason),
        (SuccStat::Failure, TokenFailReason::WrongSecret)
    );
    resp.validate().unwrap();
}
