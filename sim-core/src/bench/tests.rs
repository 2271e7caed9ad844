//! Two bench connectors, one per role, on an ideal in-process bus in virtual time.

use super::*;
use crate::gbt::charger::InsulationLevel;
use crate::time::{Duration, Instant};
use std::collections::VecDeque;

/// Drives both connectors until both are finished or `limit` passes; returns the events
/// of each side.
fn run(
    charger: &mut BenchConnector,
    bms: &mut BenchConnector,
    limit: Duration,
) -> (Vec<BenchEvent>, Vec<BenchEvent>) {
    let mut now = Instant::ZERO;
    let end = now + limit;
    charger.start(now);
    bms.start(now);
    let mut to_bms = VecDeque::new();
    let mut to_charger = VecDeque::new();
    let (mut ce, mut be) = (Vec::new(), Vec::new());
    while now < end && !(charger.is_finished() && bms.is_finished()) {
        charger.handle_timeout(now);
        bms.handle_timeout(now);
        while let Some(f) = charger.poll_transmit(now) {
            to_bms.push_back(f);
        }
        while let Some(f) = bms.poll_transmit(now) {
            to_charger.push_back(f);
        }
        while let Some(f) = to_bms.pop_front() {
            bms.handle_frame(now, &f);
        }
        while let Some(f) = to_charger.pop_front() {
            charger.handle_frame(now, &f);
        }
        ce.extend(std::iter::from_fn(|| charger.poll_event()));
        be.extend(std::iter::from_fn(|| bms.poll_event()));
        now += Duration::from_millis(1);
    }
    (ce, be)
}

fn pair(charger_plan: BenchPlan, bms_plan: BenchPlan) -> (BenchConnector, BenchConnector) {
    let mut c = BenchConnectorConfig::new(BenchRole::Charger);
    c.plan = charger_plan;
    c.insulation_check = Duration::from_millis(500);
    let mut b = BenchConnectorConfig::new(BenchRole::Bms);
    b.plan = bms_plan;
    (
        BenchConnector::new(c).unwrap(),
        BenchConnector::new(b).unwrap(),
    )
}

fn cc1_states(events: &[BenchEvent]) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            BenchEvent::Cc1 { voltage_v, .. } => Some(*voltage_v),
            _ => None,
        })
        .collect()
}

#[test]
fn a_full_session_walks_cc1_and_aux_power() {
    let plan = BenchPlan {
        stop_after_charging: Some(Duration::from_secs(3)),
        ..BenchPlan::default()
    };
    let (mut c, mut b) = pair(plan, BenchPlan::default());
    let (ce, be) = run(&mut c, &mut b, Duration::from_secs(60));
    let (cr, br) = (c.report(), b.report());
    assert!(cr.completed, "{cr:?}");
    assert!(br.completed, "{br:?}");
    assert!(cr.charged && br.charged);
    for p in ["ExpectBhm", "Charging", "SendingStatistics", "Ended"] {
        assert!(cr.phases_reached.iter().any(|x| x == p), "{p}: {cr:?}");
    }
    for p in ["ExpectCrm", "Charging", "ExpectCsd", "Ended"] {
        assert!(br.phases_reached.iter().any(|x| x == p), "{p}: {br:?}");
    }
    // 12 V at rest is the start state; the trace shows 6 → 4 → 6 → 12.
    assert_eq!(cc1_states(&ce), [6.0, 4.0, 6.0, 12.0]);
    assert_eq!(cc1_states(&be), [6.0, 4.0, 6.0, 12.0]);
    let aux: Vec<bool> = ce
        .iter()
        .filter_map(|e| match e {
            BenchEvent::AuxPower { on } => Some(*on),
            _ => None,
        })
        .collect();
    assert_eq!(aux, [true, false]);
    assert!(ce.iter().any(|e| matches!(
        e,
        BenchEvent::InsulationChecked {
            level: InsulationLevel::Normal,
            ..
        }
    )));
    // Both meters saw the energy: the charger's own output, and the BMS side from CCS.
    assert!(cr.meter_energy_wh > 10.0, "{cr:?}");
    let rel = (br.meter_energy_wh - cr.meter_energy_wh).abs() / cr.meter_energy_wh;
    assert!(
        rel < 0.1,
        "{} vs {}",
        br.meter_energy_wh,
        cr.meter_energy_wh
    );
}

#[test]
fn an_insulation_fault_before_the_check_stops_the_charger() {
    let plan = BenchPlan {
        insulation: Some((Duration::ZERO, 40_000.0)),
        ..BenchPlan::default()
    };
    let (mut c, mut b) = pair(plan, BenchPlan::default());
    let (ce, _) = run(&mut c, &mut b, Duration::from_secs(30));
    assert!(ce.iter().any(|e| matches!(
        e,
        BenchEvent::InsulationChecked {
            level: InsulationLevel::Fault,
            resistance_ohm,
            ..
        } if *resistance_ohm == 40_000.0
    )));
    let r = c.report();
    assert!(!r.charged && !r.completed, "{r:?}");
    assert_eq!(r.stop_cause.as_deref(), Some("InsulationFault"));
}

#[test]
fn the_emergency_stop_ends_a_charging_session() {
    let plan = BenchPlan {
        emergency_stop_at: Some(Duration::from_secs(12)),
        ..BenchPlan::default()
    };
    let (mut c, mut b) = pair(plan, BenchPlan::default());
    let (ce, _) = run(&mut c, &mut b, Duration::from_secs(60));
    assert!(ce.contains(&BenchEvent::EmergencyStop { pressed: true }));
    let r = c.report();
    assert!(r.charged, "{r:?}");
    assert!(
        r.stop_cause
            .as_deref()
            .is_some_and(|s| s.contains("EmergencyStop")),
        "{r:?}"
    );
}

#[test]
fn a_stuck_meter_freezes_what_the_connector_serves() {
    let plan = BenchPlan {
        meter_stuck_at: Some(Duration::from_secs(10)),
        stop_after_charging: Some(Duration::from_secs(10)),
        ..BenchPlan::default()
    };
    let (mut c, mut b) = pair(plan, BenchPlan::default());
    run(&mut c, &mut b, Duration::from_secs(60));
    let at_end = c.meter_reading(Instant::ZERO + Duration::from_secs(61));
    let again = c.meter_reading(Instant::ZERO + Duration::from_secs(62));
    assert_eq!(at_end, again);
    assert!(at_end.import_energy_wh < c.report().meter_energy_wh - 1.0);
}

#[test]
fn profiles_map_onto_session_configs() {
    let lib = profiles::Library::bundled().unwrap();
    let v = &lib.vehicles["ncm-800v-90kwh"];
    let bms = bms_config_for(v);
    assert_eq!(bms.bcp.max_total_voltage_v, v.max_pack_voltage_v());
    assert!(bms.bcp.battery_voltage_v < bms.bcp.max_total_voltage_v);
    let c = charger_config_for(&lib.chargers["dc-60kw-single"]).unwrap();
    assert!(c.limits.max_current_a > 0.0 && c.limits.max_current_a <= 400.0);
    assert!(charger_config_for(&lib.chargers["ac-7kw-1ph"]).is_none());
    // A session between the two completes.
    let mut cc = BenchConnectorConfig::new(BenchRole::Charger);
    cc.charger = c;
    cc.plan.stop_after_charging = Some(Duration::from_secs(2));
    let mut bc = BenchConnectorConfig::new(BenchRole::Bms);
    bc.bms = bms;
    let (mut charger, mut b) = (
        BenchConnector::new(cc).unwrap(),
        BenchConnector::new(bc).unwrap(),
    );
    run(&mut charger, &mut b, Duration::from_secs(60));
    assert!(charger.report().completed, "{:?}", charger.report());
    assert!(b.report().completed, "{:?}", b.report());
}

#[test]
fn a_bms_with_a_vehicle_charges_its_pack() {
    let lib = profiles::Library::bundled().unwrap();
    let vehicle =
        crate::fleet::plant::VehicleModel::from_profile(&lib.vehicles["lfp-car-60kwh"]).unwrap();
    let mut cc = BenchConnectorConfig::new(BenchRole::Charger);
    cc.plan.stop_after_charging = Some(Duration::from_secs(60));
    cc.insulation_check = Duration::from_millis(500);
    let mut bc = BenchConnectorConfig::new(BenchRole::Bms);
    bc.bms = bms_config_for(&lib.vehicles["lfp-car-60kwh"]);
    bc.vehicle = Some(vehicle);
    bc.arrival_soc_pct = 30.0;
    let (mut charger, mut bms) = (
        BenchConnector::new(cc).unwrap(),
        BenchConnector::new(bc).unwrap(),
    );
    run(&mut charger, &mut bms, Duration::from_secs(120));
    let (c, b) = (charger.report(), bms.report());
    assert!(c.completed && b.completed, "{c:?} {b:?}");
    // A minute at the pack's demand adds about that much energy to the pack.
    let soc = b.soc_pct.unwrap();
    let added_pct = b.meter_energy_wh / 1000.0 / 55.0 * 100.0;
    assert!(
        soc > 30.0 + added_pct * 0.8 && soc < 30.0 + added_pct * 1.2,
        "{soc} {added_pct}"
    );
    assert!(b.meter_energy_wh > 500.0, "{b:?}");
    assert_eq!(c.soc_pct, None);
}
