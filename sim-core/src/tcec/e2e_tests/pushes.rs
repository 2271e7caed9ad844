//! Pushes: every push arrives with the right content for the simulated state.

use super::{charging, harness, harness_with, plugged};
use crate::tcec::demo;
use crate::tcec::exchange::PeerId;
use crate::tcec::harness::HarnessConfig;
use crate::tcec::operator::{AlarmInput, EventInput, SessionStats};
use crate::tcec::snapshot::ConnectorSnapshot;
use crate::time::{Duration, Instant};
use proto::tcec::Interface;
use proto::tcec::objects::{AlarmStatus, ConnectorStatus, QueryFrequencyRequest, StopReason};

#[test]
fn initial_station_pushes_and_tokens() {
    let h = harness(3);
    let counts = h.platform.counts();
    assert_eq!(counts.station_info, 3, "{counts:?}");
    assert_eq!(counts.tokens_issued, 1);
    assert_eq!(h.platform.store().stations.len(), 3);
    let stored = h.platform.store().stations.values().next().unwrap();
    assert_eq!(stored.equipment_infos.len(), 2);
    assert_eq!(h.operator.stats().pushes_failed, 0);
    assert!(h.operator.is_idle());
    let lat = h
        .metrics
        .latency_series()
        .find(|(n, _)| *n == "http.notification_stationInfo");
    let (_, series) = lat.expect("latency recorded per interface");
    assert_eq!(series.corrected_us.len(), 3);
    // Two 20 ms link delays, measured from the intended send time (the first push waited for
    // the token: 40 ms more).
    assert!(
        series.corrected_us.max() >= 40_000,
        "{}",
        series.corrected_us.max()
    );
}

#[test]
fn a_connector_that_starts_charging_is_pushed_with_status_3_and_its_currents() {
    let mut h = harness(1);
    let c = h.connectors()[1];
    let id = h.operator.connector_id(c).unwrap().to_owned();
    h.set_connector(c, &plugged());
    h.run_for(Duration::from_secs(1));
    h.set_connector(c, &charging(125.4, 40.0, 0.5));
    h.run_for(Duration::from_secs(1));
    let view = h.platform.connector(PeerId(0), &id).unwrap();
    let latest = view.latest().unwrap();
    assert_eq!(latest.status, ConnectorStatus::OccupiedCharging);
    assert_eq!(latest.ext.phase_a_current_a, Some(125));
    assert_eq!(latest.ext.phase_a_voltage_v, Some(400));
    assert_eq!(latest.ext.soc_percent, Some(40));
    assert_eq!(view.statuses.len(), 2, "plugged, then charging");
    // The T/CEC partner got the reduced object (no electrical fields).
    let tcec = h.emsp.pushed_status(&id).unwrap();
    assert_eq!(tcec.status, ConnectorStatus::OccupiedCharging);
    assert_eq!(tcec.ext.phase_a_current_a, None);
    // A change of currents alone is not pushed at once (DB4403 §8.4 b).
    h.operator
        .connector_status(h.now(), c, &charging(130.0, 41.0, 0.7));
    h.run_for(Duration::from_secs(1));
    assert_eq!(
        h.platform.connector(PeerId(0), &id).unwrap().statuses.len(),
        2
    );
    h.run_for(Duration::from_secs(15));
    let report = h.platform.correctness();
    assert_eq!((report.checked, report.correct), (2, 2), "{report:?}");
}

#[test]
fn charging_connectors_are_refreshed_every_ten_minutes() {
    let mut h = harness(1);
    let c = h.connectors()[0];
    let id = h.operator.connector_id(c).unwrap().to_owned();
    h.set_connector(c, &charging(100.0, 20.0, 0.0));
    h.run_for(Duration::from_secs(1));
    h.operator
        .connector_status(h.now(), c, &charging(90.0, 60.0, 20.0));
    h.run_for(Duration::from_secs(601));
    let latest = h
        .platform
        .connector(PeerId(0), &id)
        .unwrap()
        .latest()
        .unwrap()
        .clone();
    assert_eq!(latest.ext.phase_a_current_a, Some(90));
    assert_eq!(latest.ext.charged_energy_kwh, Some(20.0));
}

#[test]
fn bms_is_pushed_every_period_and_query_frequency_applies_live() {
    let mut h = harness(1);
    let c = h.connectors()[0];
    let id = h.operator.connector_id(c).unwrap().to_owned();
    h.set_connector(c, &charging(100.0, 20.0, 0.0));
    h.operator
        .bms_sample(h.now(), c, demo::bms_sample(20, 100.0, 400.0));
    h.run_for(Duration::from_secs(185));
    assert_eq!(h.platform.counts().bms, 3, "60 s default period");
    let bms = h
        .platform
        .connector(PeerId(0), &id)
        .unwrap()
        .bms
        .clone()
        .unwrap();
    let info = bms.bms_info.unwrap();
    assert_eq!(info.connector_id.as_deref(), Some(id.as_str()));
    assert!(info.start_charging_time.is_some() && info.fresh_time.is_some());
    assert_eq!(info.charging_session_s, Some(180));
    let now = h.now();
    h.platform.request(
        now,
        PeerId(0),
        Interface::QueryFrequency,
        &QueryFrequencyRequest {
            para_frequency_s: 10,
        },
    );
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.operator.bms_period(), Duration::from_secs(10));
    let before = h.platform.counts().bms;
    h.run_for(Duration::from_secs(60));
    let pushed = h.platform.counts().bms - before;
    assert!((5..=7).contains(&pushed), "{pushed} pushes in 60 s at 10 s");
    // Charging stops: BMS pushes stop.
    h.set_connector(c, &plugged());
    h.run_for(Duration::from_secs(1));
    let before = h.platform.counts().bms;
    h.run_for(Duration::from_secs(60));
    assert_eq!(h.platform.counts().bms, before);
}

#[test]
fn alarms_are_pushed_within_the_deadline_with_bms_for_dc() {
    let mut h = harness(1);
    let c = h.connectors()[2];
    h.set_connector(c, &charging(100.0, 20.0, 0.0));
    h.operator
        .bms_sample(h.now(), c, demo::bms_sample(20, 100.0, 400.0));
    let raised = h.now();
    h.operator.alarm(
        raised,
        AlarmInput {
            connector: c,
            code: demo::DEMO_ALARM,
            status: AlarmStatus::Occurred,
            level: None,
            note: Some("gun at 95 °C".into()),
        },
    );
    h.run_for(Duration::from_secs(1));
    let store = h.platform.store();
    assert_eq!(store.alarms.len(), 1);
    let a = &store.alarms[0];
    assert_eq!(a.alarm_code, demo::DEMO_ALARM);
    assert_eq!(a.connector_id, h.operator.connector_id(c).unwrap());
    assert!(a.bms_info.is_some(), "DC alarms carry BmsInfo");
    assert_eq!(h.operator.stats().alarms_late, 0);
    // While the DC alarm is active, BMS goes out every 5 s instead of 60 s.
    let before = h.platform.counts().bms;
    h.run_for(Duration::from_secs(30));
    assert!(h.platform.counts().bms - before >= 4);
    let event = EventInput {
        station: h.stations[0].station,
        code: demo::DEMO_EVENT,
        note: None,
    };
    h.operator.event(h.now(), event);
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.platform.store().events.len(), 1);
    assert_eq!(h.platform.store().events[0].event_code, demo::DEMO_EVENT);
}

#[test]
fn large_stations_are_paged_at_100_chargers_per_push() {
    let h = harness_with(HarnessConfig {
        stations: 1,
        chargers: 230,
        connectors: 1,
        ..HarnessConfig::default()
    });
    assert_eq!(h.platform.counts().station_info, 3);
    let stored = h.platform.store().stations.values().next().unwrap();
    assert_eq!(stored.equipment_infos.len(), 230, "pages merged");
}

#[test]
fn a_thousand_stations_push_through_the_in_memory_network() {
    // The sans-IO half of the load run: 1,000 stations × 2 connectors start charging at
    // once; every status push and a minute of BMS pushes must arrive.
    let mut h = harness_with(HarnessConfig {
        stations: 1000,
        chargers: 1,
        connectors: 2,
        ..HarnessConfig::default()
    });
    for c in h.connectors() {
        h.set_connector(c, &charging(100.0, 30.0, 0.0));
        h.operator
            .bms_sample(h.now(), c, demo::bms_sample(30, 100.0, 400.0));
    }
    h.run_for(Duration::from_secs(61));
    let counts = h.platform.counts();
    assert_eq!(counts.station_info, 1000);
    assert_eq!(counts.station_status, 2000);
    assert_eq!(counts.bms, 2000);
    assert_eq!(h.operator.stats().pushes_failed, 0);
    let report = h.platform.correctness();
    assert_eq!((report.checked, report.correct), (2000, 2000));
    for c in h.connectors().into_iter().take(10) {
        h.operator.session_finished(
            h.now(),
            c,
            SessionStats {
                charged_kwh: 10.0,
                discharged_kwh: 0.0,
                stop_reason: StopReason::BmsStopped,
            },
        );
        h.set_connector(c, &ConnectorSnapshot::idle());
    }
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.platform.counts().station_status, 2010);
    assert!(h.now() > Instant::from_secs(60));
}

#[test]
fn runs_are_deterministic() {
    let run = || {
        let mut h = harness_with(HarnessConfig {
            link: crate::tcec::simnet::LinkModel {
                base: Duration::from_millis(5),
                jitter: Duration::from_millis(50),
                loss: 0.05,
            },
            faults: crate::tcec::platform::PlatformFaults {
                busy_ratio: 0.1,
                ..Default::default()
            },
            ..HarnessConfig::default()
        });
        for c in h.connectors() {
            h.set_connector(c, &charging(50.0, 10.0, 0.0));
        }
        h.run_for(Duration::from_secs(120));
        (
            h.platform.counts(),
            h.net.stats(),
            h.operator.stats(),
            h.metrics.errors(),
        )
    };
    assert_eq!(run(), run());
}
