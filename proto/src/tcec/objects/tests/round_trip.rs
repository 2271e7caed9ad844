//! Every object survives serialize → decode unchanged, and every fixture validates.

use core::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::fixtures::*;
use crate::tcec::envelope::decode_data;
use crate::tcec::interfaces::Dialect;
use crate::tcec::objects::*;
use crate::tcec::validate::Validate;

/// Round-trips `v` through strict serde_json and through the lenient Data decoder, and checks
/// that it validates under both dialects.
fn check<T>(v: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug + Validate,
{
    let text = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, v, "strict round trip of {text}");
    let lenient: T = decode_data(text.as_bytes()).unwrap();
    assert_eq!(&lenient, v, "lenient round trip of {text}");
    v.validate().unwrap_or_else(|e| panic!("{e} in {text}"));
    v.validate_for(Dialect::Tcec)
        .unwrap_or_else(|e| panic!("T/CEC: {e} in {text}"));
}

#[test]
fn db4403_information_objects() {
    check(&operator_info());
    check(&station_info());
    check(&equipment_info());
    check(&connector_info());
    check(&connector_status_info());
    check(&station_status_info());
    check(&charge_stats());
    check(&discharge_stats());
    check(&tcec_stats());
    check(&dis_equipment_info());
    check(&dis_equipment_status());
    check(&bms_info());
    check(&alarm_info());
    check(&event_info());
    check(&video_info());
}

#[test]
fn db4403_interface_payloads() {
    check(&StatusAck {
        status: AckStatus::Accepted,
    });
    check(&StationInfoNotification {
        station_info: station_info(),
    });
    check(&QueryStationsInfoRequest {
        last_query_time: Some("2020-01-01 00:00:00".into()),
        page_no: Some(2),
        page_size: Some(50),
    });
    check(&QueryStationsInfoRequest::default());
    check(&QueryStationsInfoResponse {
        page_no: 1,
        page_count: 1,
        item_size: 1,
        station_infos: vec![station_info()],
    });
    check(&StationStatusNotification {
        connector_status_info: connector_status_info(),
    });
    check(&StationIdsRequest {
        station_ids: vec![STATION.into()],
    });
    check(&StationStatusResponse {
        total: Some(1),
        station_status_infos: vec![station_status_info()],
    });
    let stats_req = StatsQueryRequest {
        station_id: STATION.into(),
        start_time: "2015-10-01".into(),
        end_time: "2015-10-02".into(),
    };
    check(&stats_req);
    check(&StationChargeStatsResponse {
        station_stats: charge_stats(),
    });
    check(&StationDischargeStatsResponse {
        station_stats: discharge_stats(),
    });
    check(&ConnectorIdRequest {
        connector_id: CONNECTOR.into(),
    });
    let report = BmsInfoReport {
        connector_id: CONNECTOR.into(),
        status: ConnectorStatus::OccupiedCharging,
        bms_info: Some(bms_info()),
    };
    check(&report);
    check(&QueryAlarmInfoRequest {
        station_id: STATION.into(),
        operator_id: OP.into(),
        equipment_id: EQUIPMENT.into(),
    });
    check(&AlarmInfos {
        alarm_infos: vec![alarm_info()],
    });
    let events = QueryEventInfoRequest {
        station_id: STATION.into(),
        operator_id: OP.into(),
        start_time: "2017-08-01".into(),
        end_time: "2017-08-31".into(),
    };
    check(&events);
    check(&EventInfos {
        event_infos: vec![event_info()],
    });
    check(&QueryFrequencyRequest {
        para_frequency_s: 30,
    });
    check(&QueryDisEquipmentStatusRequest {
        station_id: STATION.into(),
        operator_id: OP.into(),
        disequipment_id: "D1".into(),
    });
    check(&DisEquipmentStatusInfos {
        dis_equipment_status_infos: vec![dis_equipment_status()],
    });
    check(&StationRefRequest {
        operator_id: OP.into(),
        station_id: STATION.into(),
    });
    check(&VideoInfos {
        video_infos: vec![video_info()],
    });
    check(&supplement_request(SupplementInterface::AlarmInfo));
    let resp = SupplementCollectResponse::new(
        supplement_request(SupplementInterface::AlarmInfo),
        &[alarm_info(), alarm_info()],
    )
    .unwrap();
    check(&resp);
    assert_eq!(
        resp.typed_objects().unwrap(),
        SupplementObjects::AlarmInfo(vec![alarm_info(), alarm_info()])
    );
    let intact_req = BmsIntactRequest {
        operator_id: OP.into(),
        station_id: STATION.into(),
        connector_id: CONNECTOR.into(),
        equipment_id: EQUIPMENT.into(),
        missing_time: "2020-01-22 10:10:10".into(),
    };
    check(&intact_req);
    check(&BmsIntactResponse {
        charge_start_time: "2020-01-22 10:10:10".into(),
        charge_end_time: "2020-01-22 11:10:10".into(),
        bms_record_num: 120,
        report_frequency_s: 30,
    });
}

#[test]
fn token_payloads_round_trip_without_printing_secrets() {
    let req = token_request();
    let text = serde_json::to_string(&req).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"OperatorID": OP, "OperatorSecret": "0123456789ABCDEF"})
    );
    let back: QueryTokenRequest = decode_data(text.as_bytes()).unwrap();
    assert_eq!(
        (back.operator_id.as_str(), back.operator_secret.expose()),
        (OP, "0123456789ABCDEF")
    );
    req.validate().unwrap();
    assert!(!format!("{req:?}").contains("0123456789ABCDEF"));

    let resp = token_response();
    let text = serde_json::to_string(&resp).unwrap();
    let back: QueryTokenResponse = decode_data(text.as_bytes()).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
    assert_eq!(back.access_token.expose(), "tok-0123");
    resp.validate().unwrap();
    assert!(!format!("{resp:?}").contains("tok-0123"));
}

#[test]
fn tcec_business_payloads() {
    check(&StationStatsResponse {
        station_stats: tcec_stats(),
    });
    check(&QueryEquipAuthRequest {
        equip_auth_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
    });
    check(&QueryEquipAuthResponse {
        equip_auth_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
        succ_stat: SuccStat::Failure,
        fail_reason: EquipAuthFailReason::NotPluggedIn,
    });
    check(&QueryEquipBusinessPolicyRequest {
        equip_biz_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
    });
    check(&QueryEquipBusinessPolicyResponse {
        equip_biz_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
        succ_stat: SuccStat::Success,
        fail_reason: GenericFailReason::NoFailure,
        sum_period: 2,
        policy_infos: vec![
            PolicyInfo {
                start_time: "000000".into(),
                elec_price_yuan_per_kwh: 0.5,
                service_price_yuan_per_kwh: 0.8,
            },
            PolicyInfo {
                start_time: "080000".into(),
                elec_price_yuan_per_kwh: 1.1,
                service_price_yuan_per_kwh: 0.8,
            },
        ],
    });
    check(&QueryStartChargeRequest {
        start_charge_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
        qr_code: format!("hlht://{CONNECTOR}.{OP}/"),
    });
    check(&QueryStartChargeWithCarRequest {
        start_charge_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
        plate_num: "粤B12345".into(),
    });
    check(&QueryStartChargeResponse {
        start_charge_seq: SEQ27.into(),
        start_charge_seq_stat: StartChargeSeqStat::Starting,
        connector_id: CONNECTOR.into(),
        succ_stat: SuccStat::Success,
        fail_reason: StartChargeFailReason::NoFailure,
    });
    check(&StartChargeResultNotification {
        start_charge_seq: SEQ27.into(),
        start_charge_seq_stat: StartChargeSeqStat::Charging,
        connector_id: CONNECTOR.into(),
        start_time: "2017-08-08 18:18:18".into(),
        ident_code: Some("ABC123".into()),
    });
    check(&NotificationResultAck {
        start_charge_seq: SEQ27.into(),
        succ_stat: SuccStat::Success,
        fail_reason: GenericFailReason::NoFailure,
    });
    check(&StartChargeSeqRequest {
        start_charge_seq: SEQ27.into(),
    });
    check(&equip_charge_status());
    check(&ChargeStatusAck {
        start_charge_seq: SEQ27.into(),
        succ_stat: SuccStat::Success,
    });
    check(&QueryStopChargeRequest {
        start_charge_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
    });
    check(&QueryStopChargeResponse {
        start_charge_seq: SEQ27.into(),
        start_charge_seq_stat: StartChargeSeqStat::Stopping,
        succ_stat: SuccStat::Failure,
        fail_reason: StopChargeFailReason::AlreadyStopped,
    });
    check(&StopChargeResultNotification {
        start_charge_seq: SEQ27.into(),
        start_charge_seq_stat: StartChargeSeqStat::Finished,
        connector_id: CONNECTOR.into(),
        succ_stat: SuccStat::Success,
        fail_reason: StopChargeFailReason::NoFailure,
    });
    check(&charge_order_info());
    check(&ChargeOrderInfoAck {
        start_charge_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
        confirm_result: ConfirmResult::Agreed,
    });
    check(&check_orders_request());
    check(&check_orders_response());
}

#[test]
fn wire_names_are_the_standards() {
    let v = serde_json::to_value(station_info()).unwrap();
    for key in [
        "StationID",
        "OperatorID",
        "EquipmentOwnerID",
        "StationLng",
        "BusineHours",
        "OpratorType",
        "OpenAllDay",
        "EquipmentInfos",
    ] {
        assert!(v.get(key).is_some(), "StationInfo lacks {key}: {v}");
    }
    assert!(v.get("ext").is_none(), "extension fields are flattened");
    let e = &v["EquipmentInfos"][0];
    for key in [
        "EquipmentID",
        "ManufacturerID",
        "Power",
        "EquipmentStatus",
        "EquipmentPower",
        "NewNationalStandard",
    ] {
        assert!(e.get(key).is_some(), "EquipmentInfo lacks {key}");
    }
    let c = &e["ConnectorInfos"][0];
    for key in [
        "ConnectorID",
        "VoltageUpperLimits",
        "VoltageLowerLimits",
        "Current",
        "Power",
        "Voltage",
        "BMSPowerType",
    ] {
        assert!(c.get(key).is_some(), "ConnectorInfo lacks {key}");
    }
    assert_eq!(c["ConnectorType"], 4, "codes are integers");
    let s = serde_json::to_value(connector_status_info()).unwrap();
    for key in [
        "CurrentA",
        "VoltageC",
        "SOC",
        "ConnectorTemp",
        "ConnectorLock",
        "ChargeElectricity",
        "DischargeElectricity",
    ] {
        assert!(s.get(key).is_some(), "ConnectorStatusInfo lacks {key}");
    }
    let b = serde_json::to_value(bms_info()).unwrap();
    for key in [
        "VINCode",
        "BMSCode",
        "BMSVer",
        "TatalVoltage",
        "TemptureH",
        "TemptureLNumIndex",
        "Soc",
        "ChargingSessionMin",
    ] {
        assert!(b.get(key).is_some(), "BmsInfo lacks {key}");
    }
    let d = serde_json::to_value(dis_equipment_status()).unwrap();
    for key in [
        "DisequipmentID",
        "FoPEnergy",
        "AVoltage",
        "CurSPower",
        "EnvHumi1",
        "SmokAlam1",
        "TranOverTemAlam",
    ] {
        assert!(d.get(key).is_some(), "DisEquipmentStatusInfo lacks {key}");
    }
    let o = serde_json::to_value(charge_order_info()).unwrap();
    for key in ["TotalSeviceMoney", "StopReason", "ChargeDetails"] {
        assert!(o.get(key).is_some(), "ChargeOrderInfo lacks {key}");
    }
    assert!(o["ChargeDetails"][0].get("DetailSeviceMoney").is_some());
    let sc = serde_json::to_value(supplement_request(SupplementInterface::BmsInfo)).unwrap();
    assert_eq!(sc["InterfaceName"], "supplement_bmsInfo");
    let resp = SupplementCollectResponse::new(
        supplement_request(SupplementInterface::EventInfo),
        &[event_info()],
    )
    .unwrap();
    assert!(serde_json::to_value(resp).unwrap().get("Object").is_some());
}

mod props {
    use proptest::prelude::*;

    use super::*;
    use crate::tcec::codes::{AlarmCode, EventCode};

    fn opt<T: core::fmt::Debug + Clone + 'static>(
        s: impl Strategy<Value = T> + 'static,
    ) -> BoxedStrategy<Option<T>> {
        proptest::option::of(s).boxed()
    }

    prop_compose! {
        fn arb_connector_status()(
            id in "[0-9A-Za-z]{1,26}", status in any::<i32>(), park in opt(any::<i32>()), lock in opt(any::<i32>()),
            currents in proptest::array::uniform3(opt(-1000i32..1000)), soc in opt(0i32..=100),
            temp in opt(-40i32..150), energy in opt(0.0f64..1e6),
        ) -> ConnectorStatusInfo {
            ConnectorStatusInfo {
                connector_id: id,
                status: ConnectorStatus::from_code(status),
                park_status: park.map(ParkStatus::from_code),
                lock_status: lock.map(LockStatus::from_code),
                ext: ConnectorStatusInfoExt {
                    phase_a_current_a: currents[0],
                    phase_b_current_a: currents[1],
                    phase_c_current_a: currents[2],
                    phase_a_voltage_v: currents[0].map(|c| c.abs()),
                    phase_b_voltage_v: None,
                    phase_c_voltage_v: currents[2],
                    soc_percent: soc,
                    connector_temp_c: temp,
                    equipment_temp_c: temp,
                    connector_lock: None,
                    charged_energy_kwh: energy,
                    discharged_energy_kwh: energy.map(|e| e / 2.0),
                },
            }
        }
    }

    proptest! {
        #[test]
        fn code_enums_round_trip(code in any::<i32>()) {
            for text in [code.to_string(), format!("\"{code}\"")] {
                prop_assert_eq!(serde_json::from_str::<AlarmCode>(&text).unwrap().code(), code);
                prop_assert_eq!(serde_json::from_str::<EventCode>(&text).unwrap().code(), code);
                prop_assert_eq!(serde_json::from_str::<ConnectorStatus>(&text).unwrap().code(), code);
                prop_assert_eq!(serde_json::from_str::<StationType>(&text).unwrap().code(), code);
            }
            let s = ConnectorStatus::from_code(code);
            prop_assert_eq!(serde_json::to_string(&s).unwrap(), code.to_string());
        }

        #[test]
        fn connector_status_round_trips(s in arb_connector_status()) {
            let text = serde_json::to_string(&s).unwrap();
            let back: ConnectorStatusInfo = decode_data(text.as_bytes()).unwrap();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn bms_info_round_trips(soc in 0i32..=100, v in 0.0f64..1000.0, t in -40i32..120, idx in opt(1u32..=1000), secs in opt(any::<u32>())) {
            let b = BmsInfo { soc_percent: soc, total_voltage_v: v, cell_temp_max_c: t, cell_voltage_max_index: idx, charging_session_s: secs, ..bms_info() };
            let text = serde_json::to_string(&b).unwrap();
            prop_assert_eq!(decode_data::<BmsInfo>(text.as_bytes()).unwrap(), b);
        }

        #[test]
        fn arbitrary_json_never_panics_in_object_decoders(text in "\\PC{0,200}") {
            let _ = decode_data::<StationInfoNotification>(text.as_bytes());
            let _ = decode_data::<AlarmInfos>(text.as_bytes());
            let _ = decode_data::<EquipChargeStatus>(text.as_bytes());
        }
    }
}
