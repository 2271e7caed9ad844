//! Sloppy input that real peers send must still decode (tcec-http.md §5).

use serde_json::json;

use super::fixtures::*;
use crate::tcec::codes::*;
use crate::tcec::envelope::{TcecError, decode_data};
use crate::tcec::objects::*;

#[test]
fn numbers_as_strings_and_strings_as_numbers() {
    let text = json!({
        "ConnectorID": 1,
        "Status": "3",
        "ParkStatus": "10",
        "CurrentA": "120",
        "VoltageA": 450.0,
        "SOC": " 55 ",
        "ChargeElectricity": "10.15",
        "DischargeElectricity": 0,
    })
    .to_string();
    let s: ConnectorStatusInfo = decode_data(text.as_bytes()).unwrap();
    assert_eq!(s.connector_id, "1");
    assert_eq!(s.status, ConnectorStatus::OccupiedCharging);
    assert_eq!(s.park_status, Some(ParkStatus::Free));
    assert_eq!(s.ext.phase_a_current_a, Some(120));
    assert_eq!(s.ext.phase_a_voltage_v, Some(450));
    assert_eq!(s.ext.soc_percent, Some(55));
    assert_eq!(s.ext.charged_energy_kwh, Some(10.15));
}

#[test]
fn padded_keys_unknown_fields_and_trailing_commas() {
    let text = br#"{" ConnectorStatusInfo ": {" ConnectorID ": "1", "Status": 4, "Brand": "x", "Extra": {"a": [1,2,]},},}"#;
    let n: StationStatusNotification = decode_data(text).unwrap();
    assert_eq!(n.connector_status_info.connector_id, "1");
    assert_eq!(n.connector_status_info.status, ConnectorStatus::Reserved);
}

#[test]
fn misspellings_seen_in_practice() {
    let text = json!({
        "StartChargeSeq": SEQ27, "StartChargeSeqStat": 2, "ConnectorID": CONNECTOR, "ConnectorStatus": 3,
        "CurrentA": 1, "VoltageA": 2, "SOC": 50, "StartTime": "2017-08-08 18:18:18", "EndTime": "2017-08-08 18:28:18",
        "TotalPower": 5, "ElectMoney": 1.5, "ServiceMoney": 0.5, "TotalMoney": 2.0,
        "ChargeDetails": [{"DetailStartTime": "2017-08-08 18:18:18", "DetailEndTime": "2017-08-08 18:28:18",
            "ServicePrice": 0.8, "DetailPower": 5, "DetailServiceMoney": 0.5}],
    })
    .to_string();
    let s: EquipChargeStatus = decode_data(text.as_bytes()).unwrap();
    assert_eq!(
        (s.elec_money_yuan, s.service_money_yuan),
        (Some(1.5), Some(0.5))
    );
    assert_eq!(s.soc_percent, 50.0);
    let detail = &s.charge_details.unwrap()[0];
    assert_eq!(
        (
            detail.service_price_yuan_per_kwh,
            detail.detail_service_money_yuan
        ),
        (Some(0.8), Some(0.5))
    );

    let bms = json!({"MaxChargeCurrent": 60, "MaxChargeCellVoltage": 4.2, "MaxTemp": 55, "RatedCapacity": 60,
        "TotalVoltage": 380, "TotalCurrent": 60, "SOC": 90, "VoltageH": 4.2, "TempureH": 55, "TempureL": 45});
    let b: BmsInfo = decode_data(bms.to_string().as_bytes()).unwrap();
    assert_eq!(
        (
            b.total_voltage_v,
            b.soc_percent,
            b.cell_temp_max_c,
            b.cell_temp_min_c
        ),
        (380.0, 90, 55, 45)
    );

    let dis = json!({"DisEquipmentID": "D1", "manufacturerID": "987654321", "equipmentModel": "m", "productionDate": "2019-01-01",
        "RatedInVoltage": 10, "RatedOutVoltage": 400, "RatedPower": 630, "FeedNum": "4"});
    let d: DisEquipmentInfo = decode_data(dis.to_string().as_bytes()).unwrap();
    assert_eq!(
        (
            d.disequipment_id.as_str(),
            d.manufacturer_id.as_str(),
            d.feed_num
        ),
        ("D1", "987654321", 4)
    );

    let auth = json!({"equipAuthSeq": SEQ27, "ConnectorID": CONNECTOR});
    let a: QueryEquipAuthRequest = decode_data(auth.to_string().as_bytes()).unwrap();
    assert_eq!(a.equip_auth_seq, SEQ27);

    let intact = json!({"chargeStartTime": "2020-01-22 10:10:10", "chargeEndTime": "2020-01-22 11:10:10", "bmsRecordNum": "120", "ReportFrequency": "30"});
    let i: BmsIntactResponse = decode_data(intact.to_string().as_bytes()).unwrap();
    assert_eq!((i.bms_record_num, i.report_frequency_s), (120, 30));

    let station = json!({"StationId": "1", "StationType": 1, "StationStatus": 50, "ParkNums": 0, "StationLng": 1, "StationLat": 1,
        "Construction": 1, "OperatorType": 2, "BusinessHours": "24h"});
    let st: StationInfo = decode_data(station.to_string().as_bytes()).unwrap();
    assert_eq!(st.station_id, "1");
    assert_eq!(st.ext.operation_type, Some(OperationType::OperatedOnBehalf));
    assert_eq!(st.business_hours.as_deref(), Some("24h"));
}

#[test]
fn undefined_codes_decode_as_other() {
    let text = json!({"ConnectorID": "1", "Status": 9});
    let s: ConnectorStatusInfo = decode_data(text.to_string().as_bytes()).unwrap();
    assert_eq!(s.status, ConnectorStatus::Other(9));
    assert_eq!(
        serde_json::to_value(&s).unwrap()["Status"],
        9,
        "Other re-encodes its code"
    );
    let mut alarm = serde_json::to_value(alarm_info()).unwrap();
    alarm["AlarmCode"] = json!("999");
    let a: AlarmInfo = decode_data(alarm.to_string().as_bytes()).unwrap();
    assert_eq!(a.alarm_code, AlarmCode::Other(999));
}

#[test]
fn empty_and_null_optionals() {
    let text =
        json!({"ConnectorID": "1", "Status": 1, "ParkStatus": "", "LockStatus": null, "SOC": ""});
    let s: ConnectorStatusInfo = decode_data(text.to_string().as_bytes()).unwrap();
    assert_eq!(
        (s.park_status, s.lock_status, s.ext.soc_percent),
        (None, None, None)
    );
    let req: QueryStationsInfoRequest =
        decode_data(br#"{"LastQueryTime":"","PageNo":"","PageSize":"20"}"#).unwrap();
    assert_eq!(
        (req.page_no_or_default(), req.page_size_or_default()),
        (1, 20)
    );
    let ids: StationIdsRequest = decode_data(br#"{"StationIDs":"0001"}"#).unwrap();
    assert_eq!(ids.station_ids, vec!["0001".to_owned()]);
}

#[test]
fn missing_required_numbers_fail_with_their_name() {
    let text = json!({"ConnectorID": "1"});
    let err = decode_data::<ConnectorStatusInfo>(text.to_string().as_bytes()).unwrap_err();
    match err {
        TcecError::DataJson { reason, .. } => assert!(reason.contains("Status"), "{reason}"),
        other => panic!("unexpected {other:?}"),
    }
    let bad = json!({"StationStatusInfos": [{"StationID": "1", "ConnectorStatusInfos": [{"ConnectorID": "1", "Status": "busy"}]}]});
    let err = decode_data::<StationStatusResponse>(bad.to_string().as_bytes()).unwrap_err();
    match err {
        TcecError::DataJson { path, .. } => {
            assert_eq!(path, "StationStatusInfos[0].ConnectorStatusInfos[0].Status")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn supplement_names_and_missing_times() {
    assert_eq!(
        SupplementInterface::from_name("Supplement_bmsInfo"),
        SupplementInterface::BmsInfo
    );
    assert_eq!(
        SupplementInterface::from_name("x"),
        SupplementInterface::Other("x".into())
    );
    assert_eq!(
        missing_times("{2020-01-22 10:10:10, 2020-01-22 10:10:15}"),
        vec!["2020-01-22 10:10:10", "2020-01-22 10:10:15"]
    );
    assert_eq!(
        missing_times("2020-01-22 10:10:10"),
        vec!["2020-01-22 10:10:10"]
    );
    assert!(missing_times("{}").is_empty());
    let resp = SupplementCollectResponse::new(
        supplement_request(SupplementInterface::StationStatus),
        &[json!({"ConnectorID": "1"})],
    )
    .unwrap();
    match resp.typed_objects().unwrap_err() {
        TcecError::DataJson { path, .. } => assert!(path.starts_with("Object[0]"), "{path}"),
        other => panic!("unexpected {other:?}"),
    }
}
