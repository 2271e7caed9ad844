//! Every query and supplement interface the operator serves, called by the platform.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{charging, harness, plugged};
use crate::tcec::demo;
use crate::tcec::exchange::PeerId;
use crate::tcec::harness::{Harness, OPERATOR_ID};
use crate::tcec::operator::{AlarmInput, EventInput, SessionStats};
use crate::tcec::outbox::SendFailure;
use crate::time::Duration;
use proto::tcec::objects::*;
use proto::tcec::{Interface, Ret};

/// Sends one request from the platform and returns the decoded answer.
fn ask<Q: Serialize, A: DeserializeOwned>(h: &mut Harness, iface: Interface, data: &Q) -> A {
    let now = h.now();
    h.platform.request(now, PeerId(0), iface, data);
    h.run_for(Duration::from_secs(1));
    let mut answers = h.platform.take_responses();
    assert_eq!(answers.len(), 1, "{iface}");
    let answer = answers.pop_front().unwrap();
    answer
        .decode()
        .unwrap_or_else(|| panic!("{iface}: {:?}", answer.result))
}

/// Sends one request that must be refused; returns the Ret.
fn refused<Q: Serialize>(h: &mut Harness, iface: Interface, data: &Q) -> Ret {
    let now = h.now();
    h.platform.request(now, PeerId(0), iface, data);
    h.run_for(Duration::from_secs(1));
    match h.platform.take_responses().pop_front().map(|a| a.result) {
        Some(Err(SendFailure::Ret(ret, _))) => ret,
        other => panic!("{iface}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn query_stations_info_pages_and_filters_by_modification_time() {
    let mut h = harness(5);
    let page = |h: &mut Harness, no, size, since: Option<String>| -> QueryStationsInfoResponse {
        let q = QueryStationsInfoRequest {
            last_query_time: since,
            page_no: Some(no),
            page_size: Some(size),
        };
        ask(h, Interface::QueryStationsInfo, &q)
    };
    let p1 = page(&mut h, 1, 2, None);
    assert_eq!(
        (
            p1.page_no,
            p1.page_count,
            p1.item_size,
            p1.station_infos.len()
        ),
        (1, 3, 5, 2)
    );
    let p3 = page(&mut h, 3, 2, None);
    assert_eq!(p3.station_infos.len(), 1);
    let p9 = page(&mut h, 9, 2, None);
    assert_eq!(
        (p9.page_no, p9.station_infos.len()),
        (9, 0),
        "past the end: requested page, empty"
    );
    let defaults: QueryStationsInfoResponse = ask(
        &mut h,
        Interface::QueryStationsInfo,
        &QueryStationsInfoRequest::default(),
    );
    assert_eq!(defaults.station_infos.len(), 5, "PageSize defaults to 10");
    h.run_for(Duration::from_secs(5));
    let since = h.operator.civil(h.now()).format_datetime();
    let mut changed = demo::station(OPERATOR_ID, 3, 2, 2, true);
    changed.station_name = "renamed".into();
    let now = h.now();
    h.operator.update_station(now, changed);
    let delta = page(&mut h, 1, 10, Some(since));
    assert_eq!(delta.item_size, 1);
    assert_eq!(delta.station_infos[0].station_name, "renamed");
    let bad = QueryStationsInfoRequest {
        last_query_time: Some("yesterday".into()),
        ..Default::default()
    };
    assert_eq!(
        refused(&mut h, Interface::QueryStationsInfo, &bad),
        Ret::BusinessParamInvalid
    );
}

#[test]
fn query_stations_status_answers_up_to_fifty_stations() {
    let mut h = harness(3);
    let c = h.connectors()[0];
    h.set_connector(c, &charging(80.0, 50.0, 1.0));
    h.run_for(Duration::from_secs(1));
    let ids: Vec<String> = (0..3)
        .map(demo::station_id)
        .chain(["nope".into()])
        .collect();
    let r: StationStatusResponse = ask(
        &mut h,
        Interface::QueryStationsStatus,
        &StationIdsRequest { station_ids: ids },
    );
    assert_eq!(r.station_status_infos.len(), 3, "unknown IDs are skipped");
    let first = &r.station_status_infos[0].connector_status_infos[0];
    assert_eq!(
        (first.status, first.ext.phase_a_current_a),
        (ConnectorStatus::OccupiedCharging, Some(80))
    );
    let too_many = StationIdsRequest {
        station_ids: (0..51).map(demo::station_id).collect(),
    };
    assert_eq!(
        refused(&mut h, Interface::QueryStationsStatus, &too_many),
        Ret::BusinessParamInvalid
    );
}

#[test]
fn statistics_by_date_range() {
    let mut h = harness(1);
    let cs = h.connectors();
    let now = h.now();
    h.operator.session_finished(
        now,
        cs[0],
        SessionStats {
            charged_kwh: 12.34,
            discharged_kwh: 0.0,
            stop_reason: StopReason::BmsStopped,
        },
    );
    h.operator.session_finished(
        now,
        cs[3],
        SessionStats {
            charged_kwh: 5.0,
            discharged_kwh: 2.0,
            stop_reason: StopReason::UserStopped,
        },
    );
    let today = h.operator.civil(now).format_date();
    let q = StatsQueryRequest {
        station_id: demo::station_id(0),
        start_time: today.clone(),
        end_time: today,
    };
    let charge: StationChargeStatsResponse = ask(&mut h, Interface::QueryStationChargeStats, &q);
    assert!((charge.station_stats.station_charge_energy_kwh - 17.3).abs() < 1e-9);
    assert_eq!(charge.station_stats.equipment_charge_stats_infos.len(), 2);
    let dis: StationDischargeStatsResponse = ask(&mut h, Interface::QueryStationDischargeStats, &q);
    assert!((dis.station_stats.station_discharge_energy_kwh - 2.0).abs() < 1e-9);
    let tcec: StationStatsResponse = ask(&mut h, Interface::QueryStationStats, &q);
    assert!((tcec.station_stats.station_energy_kwh - 17.3).abs() < 1e-9);
    let earlier = StatsQueryRequest {
        start_time: "2020-01-01".into(),
        end_time: "2020-01-02".into(),
        ..q.clone()
    };
    let none: StationChargeStatsResponse =
        ask(&mut h, Interface::QueryStationChargeStats, &earlier);
    assert_eq!(none.station_stats.station_charge_energy_kwh, 0.0);
}

#[test]
fn bms_alarm_event_video_and_distribution_queries() {
    let mut h = harness(1);
    let c = h.connectors()[0];
    let id = h.operator.connector_id(c).unwrap().to_owned();
    h.set_connector(c, &charging(100.0, 20.0, 0.0));
    h.operator
        .bms_sample(h.now(), c, demo::bms_sample(21, 100.0, 401.0));
    let bms: BmsInfoReport = ask(
        &mut h,
        Interface::QueryBmsInfo,
        &ConnectorIdRequest {
            connector_id: id.clone(),
        },
    );
    assert_eq!(bms.status, ConnectorStatus::OccupiedCharging);
    assert_eq!(bms.bms_info.unwrap().soc_percent, 21);
    let alarm = AlarmInput {
        connector: c,
        code: demo::DEMO_ALARM,
        status: AlarmStatus::Occurred,
        level: None,
        note: None,
    };
    h.operator.alarm(h.now(), alarm);
    h.operator.event(
        h.now(),
        EventInput {
            station: h.stations[0].station,
            code: demo::DEMO_EVENT,
            note: None,
        },
    );
    let q = QueryAlarmInfoRequest {
        station_id: demo::station_id(0),
        operator_id: OPERATOR_ID.into(),
        equipment_id: String::new(),
    };
    let alarms: AlarmInfos = ask(&mut h, Interface::QueryAlarmInfo, &q);
    assert_eq!(alarms.alarm_infos.len(), 1);
    let today = h.operator.civil(h.now()).format_date();
    let q = QueryEventInfoRequest {
        station_id: demo::station_id(0),
        operator_id: OPERATOR_ID.into(),
        start_time: today.clone(),
        end_time: today,
    };
    let events: EventInfos = ask(&mut h, Interface::QueryEventInfo, &q);
    assert_eq!(events.event_infos[0].event_code, demo::DEMO_EVENT);
    let r = StationRefRequest {
        operator_id: OPERATOR_ID.into(),
        station_id: demo::station_id(0),
    };
    let videos: VideoInfos = ask(&mut h, Interface::QueryVideoInfo, &r);
    assert_eq!(videos.video_infos.len(), 1);
    let info: StationInfoNotification = ask(&mut h, Interface::SupplementStationInfo, &r);
    assert_eq!(info.station_info.station_id, demo::station_id(0));
    let q = QueryDisEquipmentStatusRequest {
        station_id: demo::station_id(0),
        operator_id: OPERATOR_ID.into(),
        disequipment_id: String::new(),
    };
    let dis: DisEquipmentStatusInfos = ask(&mut h, Interface::QueryDisEquipmentStatusInfo, &q);
    assert_eq!(dis.dis_equipment_status_infos.len(), 1);
    let unknown = ConnectorIdRequest {
        connector_id: "missing".into(),
    };
    assert_eq!(
        refused(&mut h, Interface::QueryBmsInfo, &unknown),
        Ret::BusinessParamInvalid
    );
    let bad_freq = QueryFrequencyRequest {
        para_frequency_s: 61,
    };
    assert_eq!(
        refused(&mut h, Interface::QueryFrequency, &bad_freq),
        Ret::BusinessParamInvalid
    );
}

#[test]
fn supplement_collect_answers_from_history() {
    let mut h = harness(1);
    let c = h.connectors()[0];
    let id = h.operator.connector_id(c).unwrap().to_owned();
    h.set_connector(c, &plugged());
    let plugged_at = h.operator.civil(h.now());
    h.run_for(Duration::from_secs(3));
    h.set_connector(c, &charging(100.0, 20.0, 0.0));
    let start = h.operator.civil(h.now()).format_datetime();
    h.operator
        .bms_sample(h.now(), c, demo::bms_sample(20, 100.0, 400.0));
    h.operator.alarm(
        h.now(),
        AlarmInput {
            connector: c,
            code: demo::DEMO_ALARM,
            status: AlarmStatus::Occurred,
            level: None,
            note: None,
        },
    );
    let alarm_at = h.operator.civil(h.now()).format_datetime();
    h.run_for(Duration::from_secs(200));
    h.set_connector(c, &plugged());
    h.run_for(Duration::from_secs(1));
    let base = SupplementCollectRequest {
        operator_id: OPERATOR_ID.into(),
        station_id: demo::station_id(0),
        connector_id: id.clone(),
        equipment_id: String::new(),
        missing_time: format!("{{{}, {start}}}", plugged_at.format_datetime()),
        interface_name: SupplementInterface::StationStatus,
    };
    let r: SupplementCollectResponse = ask(&mut h, Interface::SupplementCollect, &base);
    let SupplementObjects::StationStatus(st) = r.typed_objects().unwrap() else {
        panic!()
    };
    assert_eq!(
        st.iter().map(|s| s.status).collect::<Vec<_>>(),
        [
            ConnectorStatus::OccupiedNotCharging,
            ConnectorStatus::OccupiedCharging
        ]
    );
    let bms = SupplementCollectRequest {
        missing_time: format!("{{{start}}}"),
        interface_name: SupplementInterface::BmsInfo,
        ..base.clone()
    };
    let r: SupplementCollectResponse = ask(&mut h, Interface::SupplementCollect, &bms);
    let SupplementObjects::BmsInfo(records) = r.typed_objects().unwrap() else {
        panic!()
    };
    assert!(
        records.len() >= 30,
        "{} (5 s period under the alarm)",
        records.len()
    );
    let alarms = SupplementCollectRequest {
        missing_time: format!("{{{alarm_at}}}"),
        interface_name: SupplementInterface::AlarmInfo,
        ..base.clone()
    };
    let r: SupplementCollectResponse = ask(&mut h, Interface::SupplementCollect, &alarms);
    assert_eq!(r.objects.len(), 1);
    let intact = BmsIntactRequest {
        operator_id: OPERATOR_ID.into(),
        station_id: demo::station_id(0),
        connector_id: id,
        equipment_id: "x".into(),
        missing_time: format!("{{{start}}}"),
    };
    let r: BmsIntactResponse = ask(&mut h, Interface::SupplementQueryBmsIntact, &intact);
    assert_eq!(r.bms_record_num as usize, records.len());
    assert_eq!(r.charge_start_time, start);
    assert_eq!(r.report_frequency_s, 60);
}
