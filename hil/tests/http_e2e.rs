//! Every interface end to end over real HTTP on 127.0.0.1: chargestorm's operator platform,
//! the reference monitoring platform and a roaming eMSP, each on its own free port.
//!
//! The tests play the fleet engine through `Shared::with` and wait (bounded) for the
//! effects to arrive on the other side.

mod http_common;

use http_common::wait_for;
use std::time::Duration as StdDuration;

use hil::http::loopback::{Loopback, LoopbackConfig};
use sim_core::tcec::demo;
use sim_core::tcec::harness::OPERATOR_ID;
use sim_core::tcec::operator::{AlarmInput, ConnectorIdx, EventInput, FleetCommand, SessionStats};
use sim_core::tcec::platform::PlatformFaults;
use sim_core::tcec::roaming_client::SessionState;
use sim_core::tcec::wire::Interface;
use sim_core::tcec::wire::objects::*;
use sim_core::tcec::{ConnectorSnapshot, PeerId};
use sim_core::time::Duration;

fn charging(current_a: f64, energy_kwh: f64) -> ConnectorSnapshot {
    ConnectorSnapshot {
        status: ConnectorStatus::OccupiedCharging,
        current_a: [current_a, 0.0, 0.0],
        voltage_v: [400.0, 0.0, 0.0],
        soc_percent: Some(50.0),
        charged_energy_kwh: energy_kwh,
        ..ConnectorSnapshot::idle()
    }
}

fn plugged() -> ConnectorSnapshot {
    ConnectorSnapshot {
        status: ConnectorStatus::OccupiedNotCharging,
        ..ConnectorSnapshot::idle()
    }
}

/// Adds `n` stations to the operator and returns their connectors.
fn add_stations(lb: &Loopback, n: u32) -> Vec<ConnectorIdx> {
    lb.operator.shared().with(|op, _, now| {
        (0..n)
            .flat_map(|i| {
                let h = op.add_station(now, demo::station(OPERATOR_ID, i, 2, 2, true));
                op.set_videos(h.station, vec![demo::video(OPERATOR_ID, i)]);
                op.dis_equipment_status(now, h.station, demo::dis_equipment_status(OPERATOR_ID, i));
                h.connectors
            })
            .collect()
    })
}

/// Sends one request from the platform and waits for its answer.
async fn ask<Q: serde::Serialize>(
    lb: &Loopback,
    iface: Interface,
    data: &Q,
) -> sim_core::tcec::platform::ManualResponse {
    lb.platform
        .shared()
        .with(|p, _, now| p.request(now, PeerId(0), iface, data));
    let mut answer = None;
    wait_for(iface.name(), StdDuration::from_secs(10), || {
        answer = lb
            .platform
            .shared()
            .with(|p, _, _| p.take_responses().pop_front());
        answer.is_some()
    })
    .await;
    answer.expect("wait_for returned, so an answer is there")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_arrive_with_the_simulated_state() {
    let lb = Loopback::start(LoopbackConfig {
        bms_period: Duration::from_secs(5),
        ..Default::default()
    })
    .await
    .unwrap();
    let cs = add_stations(&lb, 3);
    let count = |lb: &Loopback| lb.platform.shared().with(|p, _, _| p.counts());
    wait_for("station pushes", StdDuration::from_secs(10), || {
        count(&lb).station_info == 3
    })
    .await;
    let c = cs[1];
    let id = lb
        .operator
        .shared()
        .with(|op, _, _| op.connector_id(c).unwrap().to_owned());
    lb.operator.shared().with(|op, _, now| {
        op.connector_status(now, c, &charging(125.4, 0.5));
        op.bms_sample(now, c, demo::bms_sample(50, 125.0, 400.0));
    });
    lb.platform
        .shared()
        .with(|p, _, now| p.ground_truth(now, PeerId(0), &id, &charging(125.4, 0.5)));
    wait_for("status push", StdDuration::from_secs(10), || {
        count(&lb).station_status == 1
    })
    .await;
    let latest = lb.platform.shared().with(|p, _, _| {
        p.connector(PeerId(0), &id)
            .unwrap()
            .latest()
            .unwrap()
            .clone()
    });
    assert_eq!(latest.status, ConnectorStatus::OccupiedCharging);
    assert_eq!(latest.ext.phase_a_current_a, Some(125));
    let tcec = lb
        .emsp
        .shared()
        .with(|e, _, _| e.pushed_status(&id).cloned());
    wait_for("T/CEC status push", StdDuration::from_secs(10), || {
        lb.emsp
            .shared()
            .with(|e, _, _| e.pushed_status(&id).is_some())
    })
    .await;
    drop(tcec);
    wait_for("a BMS push", StdDuration::from_secs(15), || {
        count(&lb).bms >= 1
    })
    .await;
    lb.operator.shared().with(|op, _, now| {
        op.alarm(
            now,
            AlarmInput {
                connector: c,
                code: demo::DEMO_ALARM,
                status: AlarmStatus::Occurred,
                level: None,
                note: None,
            },
        );
        op.event(
            now,
            EventInput {
                station: sim_core::tcec::operator::StationIdx(0),
                code: demo::DEMO_EVENT,
                note: None,
            },
        );
    });
    wait_for("alarm and event", StdDuration::from_secs(10), || {
        count(&lb).alarms == 1 && count(&lb).events == 1
    })
    .await;
    let alarm = lb
        .platform
        .shared()
        .with(|p, _, _| p.store().alarms[0].clone());
    assert!(alarm.bms_info.is_some());
    let (delivered, failed) = lb
        .operator
        .shared()
        .with(|op, _, _| (op.stats().pushes_delivered, op.stats().pushes_failed));
    assert!(delivered >= 7 && failed == 0, "{delivered} {failed}");
    let latency = lb.operator.shared().with(|_, m, _| {
        m.latency_series()
            .map(|(n, _)| n.to_owned())
            .collect::<Vec<_>>()
    });
    assert!(
        latency
            .iter()
            .any(|n| n == "http.notification_stationStatus"),
        "{latency:?}"
    );
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_interface_answers_over_http() {
    let lb = Loopback::start(LoopbackConfig::default()).await.unwrap();
    let cs = add_stations(&lb, 2);
    let c = cs[0];
    let id = lb.operator.shared().with(|op, _, now| {
        op.connector_status(now, c, &charging(80.0, 3.0));
        op.bms_sample(now, c, demo::bms_sample(40, 80.0, 400.0));
        op.alarm(
            now,
            AlarmInput {
                connector: c,
                code: demo::DEMO_ALARM,
                status: AlarmStatus::Occurred,
                level: None,
                note: None,
            },
        );
        op.session_finished(
            now,
            cs[1],
            SessionStats {
                charged_kwh: 4.0,
                discharged_kwh: 1.0,
                stop_reason: StopReason::BmsStopped,
            },
        );
        op.connector_id(c).unwrap().to_owned()
    });
    let today = lb
        .operator
        .shared()
        .with(|op, _, now| op.civil(now).format_date());
    let station = demo::station_id(0);
    let op_id = OPERATOR_ID.to_owned();
    let stats = StatsQueryRequest {
        station_id: station.clone(),
        start_time: today.clone(),
        end_time: today.clone(),
    };
    let sref = StationRefRequest {
        operator_id: op_id.clone(),
        station_id: station.clone(),
    };
    let calls: Vec<(Interface, serde_json::Value)> = vec![
        (
            Interface::QueryStationsInfo,
            serde_json::to_value(QueryStationsInfoRequest {
                page_no: Some(1),
                page_size: Some(1),
                ..Default::default()
            })
            .unwrap(),
        ),
        (
            Interface::QueryStationsStatus,
            serde_json::to_value(StationIdsRequest {
                station_ids: vec![station.clone()],
            })
            .unwrap(),
        ),
        (
            Interface::QueryStationChargeStats,
            serde_json::to_value(&stats).unwrap(),
        ),
        (
            Interface::QueryStationDischargeStats,
            serde_json::to_value(&stats).unwrap(),
        ),
        (
            Interface::QueryBmsInfo,
            serde_json::to_value(ConnectorIdRequest {
                connector_id: id.clone(),
            })
            .unwrap(),
        ),
        (
            Interface::QueryAlarmInfo,
            serde_json::to_value(QueryAlarmInfoRequest {
                station_id: station.clone(),
                operator_id: op_id.clone(),
                equipment_id: String::new(),
            })
            .unwrap(),
        ),
        (
            Interface::QueryEventInfo,
            serde_json::to_value(QueryEventInfoRequest {
                station_id: station.clone(),
                operator_id: op_id.clone(),
                start_time: today.clone(),
                end_time: today.clone(),
            })
            .unwrap(),
        ),
        (
            Interface::QueryFrequency,
            serde_json::to_value(QueryFrequencyRequest {
                para_frequency_s: 30,
            })
            .unwrap(),
        ),
        (
            Interface::QueryDisEquipmentStatusInfo,
            serde_json::to_value(QueryDisEquipmentStatusRequest {
                station_id: station.clone(),
                operator_id: op_id.clone(),
                disequipment_id: String::new(),
            })
            .unwrap(),
        ),
        (
            Interface::SupplementStationInfo,
            serde_json::to_value(&sref).unwrap(),
        ),
        (
            Interface::QueryVideoInfo,
            serde_json::to_value(&sref).unwrap(),
        ),
    ];
    for (iface, data) in calls {
        let answer = ask(&lb, iface, &data).await;
        assert!(
            matches!(answer.result, Ok(Some(_))),
            "{iface}: {:?}",
            answer.result
        );
    }
    let r = ask(
        &lb,
        Interface::QueryStationsInfo,
        &QueryStationsInfoRequest {
            page_no: Some(1),
            page_size: Some(1),
            ..Default::default()
        },
    )
    .await;
    let page: QueryStationsInfoResponse = r.decode().unwrap();
    assert_eq!((page.page_count, page.item_size), (2, 2));
    let r = ask(&lb, Interface::QueryStationChargeStats, &stats).await;
    let s: StationChargeStatsResponse = r.decode().unwrap();
    assert!((s.station_stats.station_charge_energy_kwh - 4.0).abs() < 1e-9);
    assert_eq!(
        lb.operator.shared().with(|op, _, _| op.bms_period()),
        Duration::from_secs(30)
    );
    let status_at = lb
        .operator
        .shared()
        .with(|op, _, now| op.civil(now).format_datetime());
    let supplement = SupplementCollectRequest {
        operator_id: op_id,
        station_id: station,
        connector_id: id,
        equipment_id: String::new(),
        missing_time: format!("{{{status_at}}}"),
        interface_name: SupplementInterface::StationStatus,
    };
    let r: SupplementCollectResponse = ask(&lb, Interface::SupplementCollect, &supplement)
        .await
        .decode()
        .unwrap();
    assert_eq!(r.objects.len(), 1);
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roaming_session_over_http() {
    let lb = Loopback::start(LoopbackConfig::default()).await.unwrap();
    let cs = add_stations(&lb, 1);
    let c = cs[0];
    let id = lb.operator.shared().with(|op, _, now| {
        op.connector_status(now, c, &plugged());
        op.connector_id(c).unwrap().to_owned()
    });
    let seq = lb
        .emsp
        .shared()
        .with(|e, _, now| e.start_session(now, PeerId(0), &id));
    let mut cmd = None;
    wait_for("start command", StdDuration::from_secs(10), || {
        cmd = lb.operator.shared().with(|op, _, _| op.poll_command());
        cmd.is_some()
    })
    .await;
    assert!(matches!(cmd, Some(FleetCommand::StartCharge { connector, .. }) if connector == c));
    lb.operator.shared().with(|op, _, now| {
        op.connector_status(now, c, &charging(100.0, 0.0));
        op.charge_started(now, c, Ok(()));
        op.connector_status(now, c, &charging(100.0, 6.0));
    });
    let state = |lb: &Loopback| {
        lb.emsp
            .shared()
            .with(|e, _, _| e.session(&seq).map(|s| s.state.clone()))
    };
    wait_for("charging", StdDuration::from_secs(10), || {
        state(&lb) == Some(SessionState::Charging)
    })
    .await;
    lb.emsp.shared().with(|e, _, now| e.stop_session(now, &seq));
    wait_for("stop command", StdDuration::from_secs(10), || {
        lb.operator
            .shared()
            .with(|op, _, _| matches!(op.poll_command(), Some(FleetCommand::StopCharge { .. })))
    })
    .await;
    lb.operator.shared().with(|op, _, now| {
        op.charge_stopped(now, c);
        op.connector_status(now, c, &plugged());
        op.session_finished(
            now,
            c,
            SessionStats {
                charged_kwh: 6.0,
                discharged_kwh: 0.0,
                stop_reason: StopReason::UserStopped,
            },
        );
    });
    wait_for("billed", StdDuration::from_secs(10), || {
        state(&lb) == Some(SessionState::Billed)
    })
    .await;
    let order = lb
        .emsp
        .shared()
        .with(|e, _, _| e.session(&seq).unwrap().order.clone().unwrap());
    assert!(
        (order.total_money_yuan.unwrap() - 10.8).abs() < 1e-9,
        "{order:?}"
    );
    let business = lb
        .emsp
        .shared()
        .with(|_, m, _| sim_core::tcec::indicators::assertions(m, None));
    assert!(business.iter().all(|a| a.passed), "{business:?}");
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_are_recovered_and_faults_retried() {
    let faults = PlatformFaults {
        expire_tokens_after: Some(Duration::from_millis(300)),
        busy_ratio: 0.2,
        ..Default::default()
    };
    let policy = sim_core::tcec::outbox::SendPolicy {
        initial_backoff: Duration::from_millis(50),
        ..Default::default()
    };
    let lb = Loopback::start(LoopbackConfig {
        faults,
        policy,
        ..Default::default()
    })
    .await
    .unwrap();
    let cs = add_stations(&lb, 2);
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    lb.operator.shared().with(|op, _, now| {
        for c in &cs {
            op.connector_status(now, *c, &plugged());
        }
    });
    let count = |lb: &Loopback| lb.platform.shared().with(|p, _, _| p.counts());
    wait_for("all status pushes", StdDuration::from_secs(20), || {
        count(&lb).station_status >= 8
    })
    .await;
    let errors = lb.operator.shared().with(|_, m, _| m.errors());
    assert!(
        errors.keys().any(|k| k.ends_with("ret_4002")),
        "{:?}",
        errors.keys()
    );
    assert_eq!(
        lb.operator
            .shared()
            .with(|op, _, _| op.stats().pushes_failed),
        0
    );
    lb.shutdown().await;
}
