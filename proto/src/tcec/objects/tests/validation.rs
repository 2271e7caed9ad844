//! Validation errors name the offending field by its wire path.

use super::fixtures::*;
use crate::tcec::codes::AlarmCode;
use crate::tcec::interfaces::Dialect;
use crate::tcec::objects::*;
use crate::tcec::ret::Ret;
use crate::tcec::validate::{Validate, Violation};

fn path_of<T: Validate>(v: &T) -> String {
    v.validate().unwrap_err().path
}

#[test]
fn nested_station_paths() {
    let mut s = station_info();
    s.equipment_infos[0].connector_infos[0].connector_id = "1".repeat(27);
    let err = StationInfoNotification { station_info: s }
        .validate()
        .unwrap_err();
    assert_eq!(
        err.path,
        "StationInfo.EquipmentInfos[0].ConnectorInfos[0].ConnectorID"
    );
    assert_eq!(err.violation, Violation::TooLong { max: 26, len: 27 });
    assert_eq!(err.ret(), Ret::BusinessParamInvalid);

    let mut s = station_info();
    s.operator_id = "12345678".into();
    assert_eq!(
        s.validate().unwrap_err().violation,
        Violation::WrongLength {
            expected: 9,
            len: 8
        }
    );

    let mut s = station_info();
    s.station_name.clear();
    let err = s.validate().unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.violation),
        ("StationName", Violation::Missing)
    );

    let mut s = station_info();
    s.station_lat_deg = 91.0;
    assert_eq!(path_of(&s), "StationLat");

    let mut s = station_info();
    s.equipment_infos.clear();
    assert_eq!(path_of(&s), "EquipmentInfos");

    let mut s = station_info();
    s.equipment_infos[0].production_date = Some("2016/04/26".into());
    assert_eq!(path_of(&s), "EquipmentInfos[0].ProductionDate");

    let resp = QueryStationsInfoResponse {
        page_no: 1,
        page_count: 1,
        item_size: 2,
        station_infos: vec![station_info(), {
            let mut s = station_info();
            s.station_type = StationType::Other(7);
            s
        }],
    };
    let err = resp.validate().unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.violation),
        (
            "StationInfos[1].StationType",
            Violation::UnknownCode { code: 7 }
        )
    );
}

#[test]
fn extension_fields_required_only_in_db4403() {
    let mut s = station_info();
    s.ext = StationInfoExt::default();
    s.equipment_infos[0].ext = EquipmentInfoExt::default();
    s.equipment_infos[0].connector_infos[0].ext = ConnectorInfoExt::default();
    s.equipment_infos[0].equipment_name = None;
    assert_eq!(path_of(&s), "OpratorType");
    s.validate_for(Dialect::Tcec).unwrap();

    let mut c = connector_status_info();
    c.ext = ConnectorStatusInfoExt::default();
    assert_eq!(path_of(&c), "CurrentA");
    c.validate_for(Dialect::Tcec).unwrap();
    c.ext.soc_percent = Some(101);
    assert!(matches!(
        c.validate_for(Dialect::Tcec).unwrap_err().violation,
        Violation::OutOfRange { .. }
    ));
}

#[test]
fn safety_object_rules() {
    let mut a = alarm_info();
    a.alarm_code = AlarmCode::Other(999);
    assert_eq!(path_of(&a), "AlarmCode");
    let mut a = alarm_info();
    a.alarm_time = "2017-08-08T18:18:18Z".into();
    assert_eq!(path_of(&a), "AlarmTime");
    let mut a = alarm_info();
    if let Some(b) = a.bms_info.as_mut() {
        b.soc_percent = 120;
    }
    assert_eq!(path_of(&a), "BmsInfo.Soc");
    let mut a = alarm_info();
    if let Some(b) = a.bms_info.as_mut() {
        b.cell_temp_max_index = Some(0);
    }
    assert_eq!(path_of(&a), "BmsInfo.TemptureHNumIndex");

    let report = BmsInfoReport {
        connector_id: CONNECTOR.into(),
        status: ConnectorStatus::OccupiedCharging,
        bms_info: None,
    };
    assert_eq!(path_of(&report), "BmsInfo");
    let idle = BmsInfoReport {
        status: ConnectorStatus::Idle,
        ..report
    };
    idle.validate().unwrap();

    let mut d = dis_equipment_status();
    d.feed_state = "10x1".into();
    assert_eq!(path_of(&d), "FeedState");
}

#[test]
fn request_rules() {
    assert_eq!(
        path_of(&QueryFrequencyRequest {
            para_frequency_s: 4
        }),
        "ParaFrequency"
    );
    assert_eq!(
        path_of(&QueryFrequencyRequest {
            para_frequency_s: 61
        }),
        "ParaFrequency"
    );
    let too_many = StationIdsRequest {
        station_ids: vec![STATION.to_owned(); 51],
    };
    assert_eq!(
        too_many.validate().unwrap_err().violation,
        Violation::ItemCount {
            min: 1,
            max: 50,
            len: 51
        }
    );
    let stats = StatsQueryRequest {
        station_id: STATION.into(),
        start_time: "2015-10-01".into(),
        end_time: "20151002".into(),
    };
    assert_eq!(path_of(&stats), "EndTime");
    let mut charge = charge_stats();
    charge.end_time = "2015-09-30".into();
    assert!(matches!(
        charge.validate().unwrap_err().violation,
        Violation::OutOfRange { .. }
    ));
    let req = QueryStationsInfoRequest {
        page_no: Some(0),
        ..Default::default()
    };
    assert_eq!(path_of(&req), "PageNo");

    let mut sc = supplement_request(SupplementInterface::StationStatus);
    sc.station_id.clear();
    assert_eq!(path_of(&sc), "StationID");
    let mut sc = supplement_request(SupplementInterface::Other("supplement_x".into()));
    assert_eq!(path_of(&sc), "InterfaceName");
    sc.interface_name = SupplementInterface::AlarmInfo;
    sc.missing_time = "{2020-01-22 10:10:10, yesterday}".into();
    assert_eq!(path_of(&sc), "MissingTime");
}

#[test]
fn tcec_business_rules() {
    let req = QueryStartChargeRequest {
        start_charge_seq: "123".into(),
        connector_id: CONNECTOR.into(),
        qr_code: "hlht://1.123456789/".into(),
    };
    assert_eq!(
        req.validate().unwrap_err().violation,
        Violation::WrongLength {
            expected: 27,
            len: 3
        }
    );
    let mut status = equip_charge_status();
    status.sum_period = Some(2);
    assert_eq!(path_of(&status), "ChargeDetails");
    let mut order = charge_order_info();
    if let Some(d) = order.charge_details.as_mut() {
        d[0].detail_end_time = "bad".into();
    }
    assert_eq!(path_of(&order), "ChargeDetails[0].DetailEndTime");
    let mut check = check_orders_request();
    check.order_count = 2;
    assert_eq!(path_of(&check), "ChargeOrders");
    let policy = QueryEquipBusinessPolicyResponse {
        equip_biz_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
        succ_stat: SuccStat::Success,
        fail_reason: GenericFailReason::NoFailure,
        sum_period: 1,
        policy_infos: vec![PolicyInfo {
            start_time: "25:00:00".into(),
            elec_price_yuan_per_kwh: 1.0,
            service_price_yuan_per_kwh: 0.5,
        }],
    };
    assert_eq!(path_of(&policy), "PolicyInfos[0].StartTime");
    let ack = ChargeOrderInfoAck {
        start_charge_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
        confirm_result: ConfirmResult::Other(100),
    };
    assert_eq!(path_of(&ack), "ConfirmResult");
    let custom = ChargeOrderInfoAck {
        confirm_result: ConfirmResult::Other(42),
        ..ack
    };
    custom.validate().unwrap();
}

#[test]
fn token_rules() {
    let mut resp = token_response();
    resp.token_available_time_s = 8 * 24 * 3600;
    assert_eq!(path_of(&resp), "TokenAvailableTime");
    let mut req = token_request();
    req.operator_id = "1".into();
    let err = req.validate().unwrap_err();
    assert_eq!(err.path, "OperatorID");
    assert!(!err.to_string().contains("0123456789ABCDEF"));
}
