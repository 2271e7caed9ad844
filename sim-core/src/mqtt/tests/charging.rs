//! Charging service flows: remote start/stop, plug timing, charging modes, monitoring cadence,
//! billing.

use proto::mqtt::pb;
use proto::mqtt::{Message, MessageCode};

use super::*;
use crate::mqtt::charger::IdToken;

fn plan(mode: pb::ChargingMode) -> pb::ChargingPlan {
    pb::ChargingPlan {
        mode: mode as i32,
        ..Default::default()
    }
}

#[test]
fn remote_start_then_remote_stop_books_the_order() {
    let auto = AutoPilot {
        session_duration: None,
        ..AutoPilot::default()
    };
    let mut h = online(1, Some(auto));
    let id = dev(&h, 0);
    let order = h
        .with_backend(|b, now| {
            b.remote_start(now, &id, 1, "app-user", plan(pb::ChargingMode::Full), 60)
        })
        .unwrap();
    h.run_for(Duration::from_secs(300));
    let started: Vec<u32> = h
        .backend_events()
        .filter_map(|e| match e {
            BackendEvent::TransactionStarted { transaction_id, .. } => Some(*transaction_id),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 1);
    let tx = started[0];
    h.with_backend(|b, now| b.remote_stop(now, &id, tx))
        .unwrap();
    h.run_for(Duration::from_secs(5));
    let entry = h.backend().ledger().get(&id, tx).cloned().unwrap();
    assert_eq!(entry.reason, pb::StopReason::Remote);
    assert_eq!(entry.order_id, order);
    assert_eq!(entry.id_tag, "app-user");
    // 7.2 kW for 300 s = 600 Wh.
    assert!(
        (595..=605).contains(&entry.energy_wh()),
        "{}",
        entry.energy_wh()
    );
    let stops: Vec<pb::RemoteStartStopStatus> =
        responses(&h, MessageCode::RemoteStopTransactionReq)
            .into_iter()
            .filter_map(|m| match m {
                Message::RemoteStopTransactionConf(c) => Some(c.status()),
                _ => None,
            })
            .collect();
    assert_eq!(stops, [pb::RemoteStartStopStatus::Accepted]);
    assert!(
        h.metrics()
            .latency_series()
            .any(|(n, _)| n == "mqtt.RemoteStartTransactionReq")
    );
    assert!(
        h.metrics()
            .latency_series()
            .any(|(n, _)| n == "mqtt.StartTransactionReq")
    );
}

#[test]
fn remote_start_on_a_busy_connector_is_rejected() {
    let mut h = online(1, Some(AutoPilot::default()));
    let id = dev(&h, 0);
    h.with_backend(|b, now| b.remote_start(now, &id, 1, "a", plan(pb::ChargingMode::Full), 60))
        .unwrap();
    h.run_for(Duration::from_secs(2));
    h.with_backend(|b, now| b.remote_start(now, &id, 1, "b", plan(pb::ChargingMode::Full), 60))
        .unwrap();
    h.with_backend(|b, now| b.remote_start(now, &id, 9, "c", plan(pb::ChargingMode::Full), 60))
        .unwrap();
    h.run_for(Duration::from_secs(2));
    let statuses: Vec<(pb::RemoteStartStopStatus, String)> =
        responses(&h, MessageCode::RemoteStartTransactionReq)
            .into_iter()
            .filter_map(|m| match m {
                Message::RemoteStartTransactionConf(c) => Some((c.status(), c.reason)),
                _ => None,
            })
            .collect();
    use pb::RemoteStartStopStatus::*;
    assert_eq!(
        statuses,
        [
            (Accepted, String::new()),
            (Rejected, "connector occupied".into()),
            (Rejected, "no such connector".into())
        ]
    );
}

#[test]
fn scan_then_plug_times_out_when_the_cable_never_comes() {
    let auto = AutoPilot {
        plugged: false,
        ..AutoPilot::default()
    };
    let mut h = online(1, Some(auto));
    let id = dev(&h, 0);
    let order = h
        .with_backend(|b, now| b.remote_start(now, &id, 1, "u", plan(pb::ChargingMode::Full), 30))
        .unwrap();
    h.run_for(Duration::from_secs(29));
    assert!(!events(&h, 0).contains(&ClientEvent::RemoteStartExpired { connector: 1 }));
    h.run_for(Duration::from_secs(2));
    assert!(events(&h, 0).contains(&ClientEvent::RemoteStartExpired { connector: 1 }));
    h.run_for(Duration::from_secs(15));
    assert!(h.backend_events().any(
        |e| matches!(e, BackendEvent::RemoteStartExpired { order_id, .. } if *order_id == order)
    ));
    assert!(h.backend().ledger().is_empty());
    // The connector is free again.
    h.with_backend(|b, now| b.remote_start(now, &id, 1, "u2", plan(pb::ChargingMode::Full), 30))
        .unwrap();
    h.run_for(Duration::from_secs(1));
    let last = responses(&h, MessageCode::RemoteStartTransactionReq).pop();
    assert!(
        matches!(last, Some(Message::RemoteStartTransactionConf(c)) if c.status() == pb::RemoteStartStopStatus::Accepted)
    );
}

#[test]
fn scan_then_plug_starts_when_the_cable_comes_in_time() {
    let auto = AutoPilot {
        plugged: false,
        ..AutoPilot::default()
    };
    let mut h = online(1, Some(auto));
    let id = dev(&h, 0);
    let order = h
        .with_backend(|b, now| b.remote_start(now, &id, 1, "u", pb::ChargingPlan::default(), 60))
        .unwrap();
    h.run_for(Duration::from_secs(20));
    // The user plugs in after 20 s; the application starts the session then.
    let record = h
        .with_charger(0, |c, now| {
            c.start_transaction(
                now,
                1,
                IdToken::App("u".into()),
                0.0,
                pb::ChargingPlan::default(),
            )
        })
        .unwrap();
    h.run_for(Duration::from_secs(120));
    assert!(!events(&h, 0).contains(&ClientEvent::RemoteStartExpired { connector: 1 }));
    assert!(
        !h.backend_events()
            .any(|e| matches!(e, BackendEvent::RemoteStartExpired { .. }))
    );
    h.with_charger(0, |c, now| {
        c.stop_transaction(now, record, 100.0, pb::StopReason::EvDisconnected)
    })
    .unwrap();
    h.run_for(Duration::from_secs(2));
    let entry = h.backend().ledger().entries().next().cloned().unwrap();
    assert_eq!(entry.order_id, order);
    assert_eq!(entry.reason, pb::StopReason::EvDisconnected);
}

/// Runs one remote-started session with `plan` and returns its ledger entry.
fn run_mode(
    plan: pb::ChargingPlan,
    stop_after: Option<Duration>,
) -> crate::mqtt::backend::LedgerEntry {
    let auto = AutoPilot {
        session_duration: stop_after,
        sample_interval: Duration::from_secs(5),
        ..AutoPilot::default()
    };
    let mut h = online(1, Some(auto));
    let id = dev(&h, 0);
    h.with_backend(|b, now| b.remote_start(now, &id, 1, "u", plan, 60))
        .unwrap();
    h.run_for(Duration::from_secs(4 * 3600));
    assert_eq!(h.backend().ledger().len(), 1);
    assert_eq!(h.charger(0).outbox().count(), 0);
    h.backend().ledger().entries().next().cloned().unwrap()
}

#[test]
fn every_charging_mode_stops_at_its_target() {
    // By energy: 5 kWh at 7.2 kW.
    let e = run_mode(
        pb::ChargingPlan {
            mode: pb::ChargingMode::Energy as i32,
            energy_wh: 5_000,
            ..Default::default()
        },
        None,
    );
    assert_eq!(e.reason, pb::StopReason::EnergyTargetReached);
    assert!(
        (5_000..=5_011).contains(&e.energy_wh()),
        "{}",
        e.energy_wh()
    );
    // By amount: 3 yuan at 1.6 yuan/kWh = 1.875 kWh.
    let a = run_mode(
        pb::ChargingPlan {
            mode: pb::ChargingMode::Amount as i32,
            amount_milliyuan: 3_000,
            ..Default::default()
        },
        None,
    );
    assert_eq!(a.reason, pb::StopReason::AmountExhausted);
    assert!(
        (3_000..=3_020).contains(&a.cost.total_cost_milliyuan),
        "{:?}",
        a.cost
    );
    // By time: 20 minutes.
    let t = run_mode(
        pb::ChargingPlan {
            mode: pb::ChargingMode::Time as i32,
            duration_s: 1_200,
            ..Default::default()
        },
        None,
    );
    assert_eq!(t.reason, pb::StopReason::TimeTargetReached);
    assert_eq!(t.stop_unix_s - t.start_unix_s, 1_200);
    assert_eq!(t.energy_wh(), 2_400);
    // Until full: the vehicle (here: the autopilot's session length) ends it.
    let f = run_mode(
        plan(pb::ChargingMode::Full),
        Some(Duration::from_secs(1_800)),
    );
    assert_eq!(f.reason, pb::StopReason::Local);
    assert_eq!(f.energy_wh(), 3_600);
}

#[test]
fn charging_info_and_telemetry_follow_their_intervals() {
    let auto = AutoPilot {
        session_duration: Some(Duration::from_secs(600)),
        ..AutoPilot::default()
    };
    let mut cfg = config(1, Some(auto));
    cfg.chargers[0].1.charging_info_interval = Duration::from_secs(15);
    cfg.chargers[0].1.telemetry_interval = Duration::from_secs(60);
    let mut h = online_with(cfg);
    let id = dev(&h, 0);
    h.with_backend(|b, now| b.remote_start(now, &id, 1, "u", plan(pb::ChargingMode::Full), 60))
        .unwrap();
    let t0 = h.backend().stats();
    h.run_for(Duration::from_secs(600));
    let t1 = h.backend().stats();
    // 600 s / 15 s = 40 ChargingInfoReq (the first one 15 s into the login period).
    let infos = t1.charging_info - t0.charging_info;
    assert!((39..=41).contains(&infos), "{infos}");
    assert_eq!(t1.charging_info_before_start, 0);
    // Periodic telemetry: 10 periods x (1 connector + 1 system), plus the status changes.
    let telemetry = t1.telemetry - t0.telemetry;
    assert!((20..=32).contains(&telemetry), "{telemetry}");
    assert_eq!(h.charger(0).stats().charging_infos, t1.charging_info);
}

#[test]
fn dc_charging_info_carries_the_bms_block() {
    let mut cfg = config(1, None);
    cfg.chargers[0].0.kind = pb::ChargerKind::Dc;
    let mut h = online_with(cfg);
    let id = dev(&h, 0);
    let bms = pb::DcChargingInfo {
        charging: Some(pb::BmsCharging {
            soc_percent: 55,
            demand_voltage_mv: 400_000,
            ..Default::default()
        }),
        ..Default::default()
    };
    h.with_charger(0, |c, _| c.set_bms_info(1, bms)).unwrap();
    h.with_charger(0, |c, now| {
        c.start_transaction(
            now,
            1,
            IdToken::App("u".into()),
            0.0,
            pb::ChargingPlan::default(),
        )
    })
    .unwrap();
    h.run_for(Duration::from_secs(16));
    let info = h.backend().last_charging_info(&id).cloned().unwrap();
    assert_eq!(info.connector_id, 1);
    assert_ne!(info.transaction_id, 0);
    let soc = info.dc.and_then(|dc| dc.charging).map(|c| c.soc_percent);
    assert_eq!(soc, Some(55));
    assert_eq!(h.backend().stats().charging_info_before_start, 0);
}

#[test]
fn the_bill_matches_an_independent_calculation() {
    // A time-of-day tariff from the backend, a session 06:30-08:10 at 7.2 kW with samples
    // every 7 s: 30 min valley at 0.255 + 70 min flat at 0.699, service 1.000 throughout.
    let mut cfg = config(
        1,
        Some(AutoPilot {
            session_duration: Some(Duration::from_secs(100 * 60)),
            sample_interval: Duration::from_secs(7),
            ..AutoPilot::default()
        }),
    );
    let mut req = pb::SetTariffReq {
        tariff_id: 5,
        ..Default::default()
    };
    for (s, e, tag, p) in [
        (0, 420, "valley", 255),
        (420, 1380, "flat", 699),
        (1380, 1440, "valley", 255),
    ] {
        req.tariff_charge.push(pb::TariffCharge {
            time_start_min_of_day: s,
            time_end_min_of_day: e,
            tag: tag.into(),
            elec_price_milliyuan_per_kwh: p,
            service_price_milliyuan_per_kwh: 1000,
        });
    }
    cfg.backend.tariff = Some(Tariff::from_pb(&req).unwrap());
    let mut h = online_with(cfg);
    h.run_until(crate::time::Instant::from_secs(6 * 3600 + 1800));
    h.with_charger(0, |c, now| c.authorize(now, 1, IdToken::App("u".into())))
        .unwrap();
    h.run_for(Duration::from_secs(2 * 3600));
    let e = h.backend().ledger().entries().next().cloned().unwrap();
    // Independent: 0.5 h x 7.2 kW = 3.6 kWh valley, 70/60 h x 7.2 = 8.4 kWh flat. The
    // session starts at the authorization's answer, a few ms after 06:30:00.
    let valley_elec = 3_600.0 * 0.255;
    let flat_elec = 8_400.0 * 0.699;
    let service = 12_000.0;
    let expected = valley_elec + flat_elec + service;
    let got = f64::from(e.cost.total_cost_milliyuan);
    assert!(
        (got - expected).abs() <= 3.0,
        "got {got}, expected {expected}, {:?}",
        e.cost
    );
    assert_eq!(e.cost.tariff_id, 5);
    let tags: Vec<&str> = e.cost.segments.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(tags, ["valley", "flat"]);
}

#[test]
fn scheduled_remote_start_fires_at_its_time() {
    let mut h = online(1, Some(AutoPilot::default()));
    let id = dev(&h, 0);
    let at = h.now() + Duration::from_secs(120);
    let req = pb::RemoteStartTransactionReq {
        connector_id: 1,
        id_tag: "later".into(),
        ..Default::default()
    };
    h.with_backend(|b, _| b.schedule(at, &id, req.into()))
        .unwrap();
    h.run_until(at - Duration::from_secs(1));
    assert!(h.charger(0).active_transaction(1).is_none());
    h.run_for(Duration::from_secs(2));
    assert!(h.charger(0).active_transaction(1).is_some());
    assert!(
        h.with_backend(|b, now| b.schedule(
            now,
            "DUNKNOWN",
            pb::GetConfigurationReq::default().into()
        ))
        .is_err()
    );
}
