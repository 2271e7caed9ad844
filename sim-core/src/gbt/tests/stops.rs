//! Every stop cause from both sides: the right CST/BST bits on the wire.

use proto::gbt27930::id::{Node, Pgn};
use proto::gbt27930::msg::ChargingPermit;
use proto::time::Duration;

use super::harness::Harness;
use crate::gbt::bms::{BmsConfig, BmsPhase, BmsStopCause};
use crate::gbt::charger::{
    ChargerConfig, ChargerEvent, ChargerFaultKind, ChargerPhase, ChargerStopCause, InsulationLevel,
    InsulationOutcome, InsulationPolicy,
};
use crate::gbt::faults::{BmsFault, ChargerFault, GbtFault};

const LONG: Duration = Duration::from_secs(120);

fn charging() -> Harness {
    let mut bms = BmsConfig::lfp();
    bms.target_soc_pct = 99.0;
    let mut h = Harness::new(ChargerConfig::default(), bms, 50.0);
    h.plug_in();
    h.until_charger(ChargerPhase::Charging, LONG);
    h.run_for(Duration::from_secs(1));
    h
}

/// The first CST and BST on the wire after the stop.
fn stop_frames(h: &mut Harness) -> (Vec<u8>, Vec<u8>) {
    h.until_both_ended(LONG);
    let cst = h.first_data(Node::Charger, Pgn::Cst).unwrap();
    let bst = h.first_data(Node::Bms, Pgn::Bst).unwrap();
    (cst, bst)
}

#[test]
fn charger_stop_causes_send_their_cst_and_the_bms_answers_charger_stopped() {
    let cases: [(ChargerStopCause, [u8; 4]); 6] = [
        (ChargerStopCause::Manual, [0x04, 0x00, 0xF0, 0xF0]),
        (ChargerStopCause::ConditionReached, [0x01, 0x00, 0xF0, 0xF0]),
        (ChargerStopCause::CurrentMismatch, [0x10, 0x00, 0xF0, 0xF1]),
        (ChargerStopCause::VoltageAbnormal, [0x10, 0x00, 0xF0, 0xF4]),
        (
            ChargerStopCause::Fault(ChargerFaultKind::Connector),
            [0x10, 0x04, 0xF0, 0xF0],
        ),
        (
            ChargerStopCause::Fault(ChargerFaultKind::InternalOverTemperature),
            [0x10, 0x10, 0xF0, 0xF0],
        ),
    ];
    for (cause, wire) in cases {
        let mut h = charging();
        h.pair.charger.request_stop(h.now, cause);
        let (cst, bst) = stop_frames(&mut h);
        assert_eq!(cst, wire, "{cause:?}");
        assert_eq!(bst, [0x40, 0x00, 0x00, 0xF0], "{cause:?}");
        assert!(h.charger_events().any(|e| matches!(
            e,
            ChargerEvent::Stopped { cause: c, statistics: Some(_), .. } if *c == cause
        )));
    }
}

#[test]
fn charger_fault_hooks_stop_with_fault_bits() {
    let cases: [(ChargerFault, [u8; 4]); 4] = [
        (ChargerFault::ModuleFailure, [0x10, 0x40, 0xF0, 0xF0]),
        (ChargerFault::OverTemperature, [0x10, 0x01, 0xF0, 0xF0]),
        (ChargerFault::EmergencyStop, [0x10, 0x00, 0xF1, 0xF0]),
        (ChargerFault::ContactorWelded, [0x10, 0x00, 0xF4, 0xF0]),
    ];
    for (fault, wire) in cases {
        let mut h = charging();
        h.pair.apply_fault(h.now, GbtFault::Charger(fault));
        let (cst, _) = stop_frames(&mut h);
        assert_eq!(cst, wire, "{fault:?}");
        // DP.3003: output current goes to zero at once.
        assert_eq!(h.pair.charger.setpoint().current_a, 0.0);
    }
}

#[test]
fn stuck_open_contactor_fails_the_precharge() {
    let mut h = Harness::new(ChargerConfig::default(), BmsConfig::ncm(), 50.0);
    h.pair
        .apply_fault(h.now, GbtFault::Charger(ChargerFault::ContactorStuckOpen));
    h.plug_in();
    h.until_charger(ChargerPhase::Ended, LONG);
    assert!(h.charger_events().any(|e| matches!(
        e,
        ChargerEvent::Stopped {
            cause: ChargerStopCause::PrechargeFailed,
            ..
        }
    )));
    assert_eq!(
        h.first_data(Node::Charger, Pgn::Cst).unwrap(),
        [0x10, 0x00, 0xF4, 0xF0]
    );
    assert!(h.frames(Node::Charger, Pgn::Ccs).is_empty());
}

#[test]
fn bms_stop_causes_send_their_bst_and_the_charger_answers_bms_stopped() {
    let cases: [(BmsStopCause, [u8; 4]); 7] = [
        (BmsStopCause::SocTargetReached, [0x01, 0x00, 0x00, 0xF0]),
        (BmsStopCause::TotalVoltageReached, [0x04, 0x00, 0x00, 0xF0]),
        (BmsStopCause::CellVoltageReached, [0x10, 0x00, 0x00, 0xF0]),
        (BmsStopCause::InsulationFault, [0x00, 0x01, 0x00, 0xF0]),
        (
            BmsStopCause::BatteryOverTemperature,
            [0x00, 0x00, 0x01, 0xF0],
        ),
        (BmsStopCause::ConnectorFault, [0x00, 0x40, 0x00, 0xF0]),
        (BmsStopCause::OverCurrent, [0x00, 0x00, 0x00, 0xF1]),
    ];
    for (cause, wire) in cases {
        let mut h = charging();
        h.pair.bms.request_stop(h.now, cause);
        let (cst, bst) = stop_frames(&mut h);
        assert_eq!(bst, wire, "{cause:?}");
        // [ZQ]/[SA] DP.3006: a vehicle-initiated stop is answered with `40 00 F0 F0`.
        assert_eq!(cst, [0x40, 0x00, 0xF0, 0xF0], "{cause:?}");
    }
}

#[test]
fn battery_limits_stop_the_bms_by_themselves() {
    // Total voltage: the pack reaches BCP's max total voltage.
    let mut h = charging();
    // A high internal resistance lifts the terminal voltage, not the cells.
    h.battery.resistance_ohm = 0.5;
    let (_, bst) = stop_frames(&mut h);
    assert_eq!(bst[0], 0x04, "total voltage reached");
    // Over-temperature.
    let mut h = charging();
    h.battery.temperature_c = 80;
    let (_, bst) = stop_frames(&mut h);
    assert_eq!(bst[2], 0x01);
}

#[test]
fn bms_fault_hooks_with_and_without_a_bms_stop() {
    // With stop: the BMS sends BST with the fault.
    let mut h = charging();
    h.pair.apply_fault(
        h.now,
        GbtFault::Bms(BmsFault::CellOverVoltage { stop: true }),
    );
    let (_, bst) = stop_frames(&mut h);
    assert_eq!(bst, [0x00, 0x00, 0x00, 0xF4]);
    // Without: BSM reports the fault and the charger stops on it (table 20 note).
    for fault in [
        BmsFault::OverTemperature { stop: false },
        BmsFault::Insulation { stop: false },
        BmsFault::Connector { stop: false },
        BmsFault::OverCurrent { stop: false },
    ] {
        let mut h = charging();
        h.pair.apply_fault(h.now, GbtFault::Bms(fault));
        h.until_charger(ChargerPhase::Ended, LONG);
        assert!(
            h.charger_events().any(|e| matches!(
                e,
                ChargerEvent::Stopped {
                    cause: ChargerStopCause::BmsStatusAbnormal,
                    ..
                }
            )),
            "{fault:?}"
        );
        assert_eq!(
            h.first_data(Node::Charger, Pgn::Cst).unwrap(),
            [0x10, 0x00, 0xF4, 0xF0]
        );
    }
}

#[test]
fn bsm_pause_resume_and_the_ten_minute_rule() {
    // DP.3005: BSM SPN3096 = 00 → CCS SPN3929 = 00 and no current; 01 resumes.
    let mut h = charging();
    let before = h.pair.charger.setpoint().current_a;
    assert!(before > 0.0);
    h.pair
        .apply_fault(h.now, GbtFault::Bms(BmsFault::Suspend(true)));
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.pair.charger.setpoint().current_a, 0.0);
    let permit = h.pair.bms.charger_data().ccs.unwrap().charging_permitted;
    assert_eq!(permit, Some(ChargingPermit::Paused));
    h.pair
        .apply_fault(h.now, GbtFault::Bms(BmsFault::Suspend(false)));
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.pair.charger.setpoint().current_a, before);
    // A pause of more than 10 min ends the session (Annex C note 1).
    h.pair
        .apply_fault(h.now, GbtFault::Bms(BmsFault::Suspend(true)));
    let paused_at = h.now;
    h.until_charger(ChargerPhase::Ended, Duration::from_secs(700));
    assert!(h.now - paused_at >= Duration::from_secs(600));
    assert!(h.charger_events().any(|e| matches!(
        e,
        ChargerEvent::Stopped {
            cause: ChargerStopCause::PauseTimeout,
            ..
        }
    )));
}

#[test]
fn insulation_fault_before_the_session_sends_nothing_and_locks_out() {
    let charger = ChargerConfig {
        insulation: InsulationPolicy::Simulated {
            duration: Duration::from_secs(2),
            outcome: InsulationOutcome {
                level: InsulationLevel::Fault,
                resistance_ohm: 20_000.0,
            },
        },
        ..ChargerConfig::default()
    };
    let mut h = Harness::new(charger, BmsConfig::lfp(), 50.0);
    h.plug_in();
    h.until_charger(ChargerPhase::Failed, LONG);
    assert!(h.frames(Node::Charger, Pgn::Crm).is_empty());
    assert!(h.charger_events().any(|e| matches!(
        e,
        ChargerEvent::Stopped {
            cause: ChargerStopCause::InsulationFault,
            cst: None,
            ..
        }
    )));
    // Only a re-plug restarts.
    h.pair.charger.plug_in(h.now);
    assert_eq!(h.pair.charger.phase(), ChargerPhase::Failed);
    h.pair.unplug(h.now);
    h.run_for(Duration::from_millis(1));
    assert_eq!(h.pair.charger.phase(), ChargerPhase::Idle);
}

#[test]
fn parameter_mismatch_stops_with_voltage_abnormal() {
    // A pack above the charger's range: BCP battery voltage > charger max.
    let mut charger = ChargerConfig::default();
    charger.limits.max_voltage_v = 300.0;
    let mut h = Harness::new(charger, BmsConfig::lfp(), 50.0);
    h.plug_in();
    h.until_charger(ChargerPhase::Ended, LONG);
    assert_eq!(
        h.first_data(Node::Charger, Pgn::Cst).unwrap(),
        [0x10, 0x00, 0xF0, 0xF4]
    );
    assert!(h.frames(Node::Charger, Pgn::Cml).is_empty());
    assert_eq!(h.pair.bms.report().furthest_phase, BmsPhase::Ended);
}

#[test]
fn unplug_mid_session_cuts_everything() {
    let mut h = charging();
    h.pair.unplug(h.now);
    h.run_for(Duration::from_millis(1));
    assert_eq!(h.pair.charger.phase(), ChargerPhase::Idle);
    assert_eq!(h.pair.bms.phase(), BmsPhase::Off);
    assert!(h.charger_events().any(|e| matches!(
        e,
        ChargerEvent::Stopped {
            cause: ChargerStopCause::Unplugged,
            ..
        }
    )));
    assert!(
        h.charger_events()
            .any(|e| *e == ChargerEvent::OpenContactors)
    );
    assert_eq!(h.pair.charger.poll_timeout(), None, "charger");
    assert_eq!(h.pair.bms.poll_timeout(), None, "bms {:?}", h.now);
}
