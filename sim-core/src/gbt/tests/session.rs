//! Full sessions: LFP and NCM packs, both protocol editions, the golden message order of
//! the real session (§4.1), periods and the setpoint rule.

use proto::gbt27930::id::{Node, Pgn};
use proto::gbt27930::msg::{Bcl, GbtMessage};
use proto::time::Duration;

use super::harness::Harness;
use crate::gbt::Version;
use crate::gbt::bms::{BmsConfig, BmsEvent, BmsPhase, BmsStopCause};
use crate::gbt::charger::{ChargerConfig, ChargerEvent, ChargerPhase, ChargerStopCause};

const MINUTES_10: Duration = Duration::from_secs(600);

/// Runs a whole session and checks both sides' view of the end.
fn full_session(bms: BmsConfig, soc: f64, target: f64) -> Harness {
    let mut h = Harness::standard(bms, soc, target);
    h.plug_in();
    h.until_both_ended(MINUTES_10);
    let stopped = h
        .charger_events()
        .find_map(|e| match e {
            ChargerEvent::Stopped {
                cause,
                cst,
                bst,
                statistics,
            } => Some((*cause, *cst, *bst, *statistics)),
            _ => None,
        })
        .unwrap();
    assert_eq!(stopped.0, ChargerStopCause::BmsStopped);
    assert_eq!(stopped.1, Some(ChargerStopCause::BmsStopped.cst()));
    assert_eq!(stopped.2, Some(BmsStopCause::SocTargetReached.bst()));
    let bsd = stopped.3.unwrap();
    assert!(
        f64::from(bsd.soc_pct) >= target - 1.0,
        "BSD SOC {}",
        bsd.soc_pct
    );
    let bms_stop = h
        .bms_events()
        .find_map(|e| match e {
            BmsEvent::Stopped {
                cause, statistics, ..
            } => Some((*cause, *statistics)),
            _ => None,
        })
        .unwrap();
    assert_eq!(bms_stop.0, BmsStopCause::SocTargetReached);
    let csd = bms_stop.1.unwrap();
    assert_eq!(csd.charger_number, 1);
    let report = h.pair.charger.report();
    assert_eq!(report.furthest_phase, ChargerPhase::SendingStatistics);
    assert_eq!(
        (report.cem_sent, report.bem_received, report.attempt),
        (0, 0, 1)
    );
    assert!(report.energy_kwh > 0.1, "energy {}", report.energy_kwh);
    assert_eq!(h.pair.bms.report().bem_sent, 0);
    assert_eq!(h.pair.stalls(), 0);
    assert!(
        h.charger_events()
            .any(|e| *e == ChargerEvent::AuxPower(false))
    );
    h
}

#[test]
fn lfp_session_from_handshake_to_statistics() {
    let h = full_session(BmsConfig::lfp(), 80.0, 82.0);
    let vin = h
        .charger_events()
        .find_map(|e| match e {
            ChargerEvent::VehicleIdentified(brm) => brm.details.map(|d| d.vin.to_string()),
            _ => None,
        })
        .unwrap();
    assert_eq!(vin, "L1NSPGH98NA196202");
    let counters = h.pair.charger.counters();
    assert!(counters.messages_rx.get(Pgn::Bcl) > 100);
    assert_eq!(counters.messages_rx.get(Pgn::Brm), 1);
    assert_eq!(counters.malformed_frames + counters.foreign_frames, 0);
}

#[test]
fn ncm_session_from_handshake_to_statistics() {
    let mut bms = BmsConfig::ncm();
    bms.send_optional = true;
    let h = full_session(bms, 60.0, 61.0);
    // The optional messages went out via TP and were counted, not decoded.
    assert!(h.pair.charger.counters().messages_rx.get(Pgn::Bmv) >= 1);
    assert!(h.pair.charger.counters().messages_rx.get(Pgn::Bmt) >= 1);
    assert!(h.pair.charger.counters().messages_rx.get(Pgn::Bsp) >= 1);
}

/// The order of the real session [T1] (§4.1), as first appearances on the wire.
#[test]
fn golden_timeline_matches_the_real_session_order() {
    let h = full_session(BmsConfig::lfp(), 80.0, 80.5);
    // (sender, PGN, first data byte to match or None) in the order §4.1 shows them.
    let golden: [(Node, Pgn, Option<u8>); 19] = [
        (Node::Charger, Pgn::Chm, None),
        (Node::Bms, Pgn::Bhm, None),
        (Node::Charger, Pgn::Crm, Some(0x00)),
        (Node::Bms, Pgn::TpCm, Some(0x10)), // BRM RTS
        (Node::Charger, Pgn::Crm, Some(0xAA)),
        (Node::Charger, Pgn::Cts, None),
        (Node::Charger, Pgn::Cml, None),
        (Node::Bms, Pgn::Bro, Some(0x00)),
        (Node::Bms, Pgn::Bro, Some(0xAA)),
        (Node::Charger, Pgn::Cro, Some(0x00)),
        (Node::Charger, Pgn::Cro, Some(0xAA)),
        (Node::Bms, Pgn::Bcl, None),
        (Node::Charger, Pgn::Ccs, None),
        (Node::Bms, Pgn::Bsm, None),
        (Node::Bms, Pgn::Bst, None),
        (Node::Charger, Pgn::Cst, None),
        (Node::Bms, Pgn::Bsd, None),
        (Node::Charger, Pgn::Csd, None),
        (Node::Charger, Pgn::Csd, None),
    ];
    let mut cursor = 0usize;
    for (from, pgn, first) in golden {
        let pos = h.records[cursor..]
            .iter()
            .position(|r| {
                r.from == from
                    && (r.frame.id() >> 16) as u8 == pgn.pdu_format()
                    && first.is_none_or(|b| r.frame.data().first() == Some(&b))
            })
            .unwrap_or_else(|| panic!("{pgn} from {from:?} missing after record {cursor}"));
        cursor += pos;
    }
    // CHM stops once CRM starts; CRO stops once CCS starts; CST stops once BSD arrives.
    let last_chm = h.frames(Node::Charger, Pgn::Chm).last().unwrap().at;
    let first_crm = h.frames(Node::Charger, Pgn::Crm).first().unwrap().at;
    assert!(last_chm < first_crm);
    let last_cro = h.frames(Node::Charger, Pgn::Cro).last().unwrap().at;
    let first_ccs = h.frames(Node::Charger, Pgn::Ccs).first().unwrap().at;
    assert!(last_cro < first_ccs);
    // Lengths of the real session / the [SA] tester: CHM 3, BHM 2, BCL 5, BSM 7, CCS 8.
    for (from, pgn, len) in [
        (Node::Charger, Pgn::Chm, 3),
        (Node::Bms, Pgn::Bhm, 2),
        (Node::Bms, Pgn::Bcl, 5),
        (Node::Bms, Pgn::Bsm, 7),
        (Node::Charger, Pgn::Ccs, 8),
        (Node::Charger, Pgn::Cml, 8),
        (Node::Bms, Pgn::Bst, 4),
        (Node::Charger, Pgn::Cst, 4),
        (Node::Charger, Pgn::Csd, 8),
    ] {
        assert_eq!(h.first_data(from, pgn).unwrap().len(), len, "{pgn}");
    }
}

/// Median spacing of a message's frames, in ms.
fn median_period_ms(h: &Harness, from: Node, pgn: Pgn, first: Option<u8>) -> Option<f64> {
    let times: Vec<f64> = h
        .frames(from, pgn)
        .iter()
        .filter(|r| first.is_none_or(|b| r.frame.data().first() == Some(&b)))
        .map(|r| r.at.as_micros() as f64 / 1000.0)
        .collect();
    let mut gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    if gaps.len() < 3 {
        return None;
    }
    gaps.sort_by(f64::total_cmp);
    Some(gaps[gaps.len() / 2])
}

#[test]
fn periods_are_within_ten_percent_of_the_standard() {
    let mut bms = BmsConfig::ncm();
    // A slow BMS keeps the ready phase long enough to measure BRO and CML.
    bms.ready_delay = Duration::from_secs(2);
    let mut h = Harness::standard(bms, 50.0, 51.0);
    h.plug_in();
    // Stop from the charger so that CST runs until BSD.
    h.until_charger(ChargerPhase::Charging, Duration::from_secs(60));
    h.run_for(Duration::from_secs(20));
    h.pair.charger.request_stop(h.now, ChargerStopCause::Manual);
    h.until_both_ended(Duration::from_secs(30));
    let cases: [(Node, Pgn, Option<u8>, f64); 13] = [
        (Node::Charger, Pgn::Chm, None, 250.0),
        (Node::Bms, Pgn::Bhm, None, 250.0),
        (Node::Charger, Pgn::Cml, None, 250.0),
        (Node::Charger, Pgn::Cts, None, 500.0),
        (Node::Bms, Pgn::Bro, Some(0x00), 250.0),
        (Node::Bms, Pgn::Bcl, None, 50.0),
        (Node::Charger, Pgn::Ccs, None, 50.0),
        (Node::Bms, Pgn::Bsm, None, 250.0),
        // BCS as TP: one RTS per period.
        (Node::Bms, Pgn::TpCm, Some(0x10), 250.0),
        (Node::Charger, Pgn::Cst, None, 10.0),
        (Node::Bms, Pgn::Bsd, None, 250.0),
        (Node::Charger, Pgn::Csd, None, 250.0),
        (Node::Charger, Pgn::Crm, None, 250.0),
    ];
    for (from, pgn, first, expected) in cases {
        let Some(got) = median_period_ms(&h, from, pgn, first) else {
            // CRM runs a few frames only, BSD stops at the first CSD: too few samples.
            assert!(
                matches!(pgn, Pgn::Crm | Pgn::Bsd),
                "{pgn} has too few frames"
            );
            continue;
        };
        assert!(
            (got - expected).abs() <= expected * 0.1,
            "{pgn} period {got} ms, expected {expected} ms"
        );
    }
}

#[test]
fn charger_2015_with_a_2011_bms_goes_on_without_bhm() {
    let mut bms = BmsConfig::lfp();
    bms.version = Version::V2011;
    bms.target_soc_pct = 80.5;
    let mut h = Harness::new(ChargerConfig::default(), bms, 80.0);
    h.plug_in();
    h.until_both_ended(MINUTES_10);
    assert!(h.pair.charger.legacy_bms());
    assert!(h.frames(Node::Bms, Pgn::Bhm).is_empty());
    // The 2011 BRM is 41 bytes: RTS size 0x29, 6 packets.
    let rts = h
        .frames(Node::Bms, Pgn::TpCm)
        .into_iter()
        .find(|r| r.frame.data()[5..8] == [0x00, 0x02, 0x00])
        .unwrap();
    assert_eq!(&rts.frame.data()[..4], &[0x10, 41, 0, 6]);
    let brm = h.pair.charger.bms_data().brm.unwrap();
    assert_eq!(brm.version, proto::gbt27930::msg::ProtocolVersion::V1_0);
}

#[test]
fn charger_2011_with_a_2015_bms_starts_with_crm() {
    let charger = ChargerConfig {
        version: Version::V2011,
        ..ChargerConfig::default()
    };
    let mut bms = BmsConfig::ncm();
    bms.target_soc_pct = 60.5;
    let mut h = Harness::new(charger, bms, 60.0);
    h.plug_in();
    h.until_both_ended(MINUTES_10);
    assert!(h.frames(Node::Charger, Pgn::Chm).is_empty());
    assert_eq!(h.first_data(Node::Charger, Pgn::Cml).unwrap().len(), 6);
    assert_eq!(h.first_data(Node::Charger, Pgn::Ccs).unwrap().len(), 6);
    assert_eq!(h.first_data(Node::Charger, Pgn::Csd).unwrap().len(), 5);
    assert!(!h.pair.bms.charger_data().chm_seen);
}

#[test]
fn setpoint_is_the_minimum_of_bcl_bcp_and_the_charger() {
    let mut bms = BmsConfig::lfp();
    bms.target_soc_pct = 99.0;
    let mut charger = ChargerConfig::default();
    charger.limits.max_current_a = 120.0;
    charger.limits.max_voltage_v = 420.0;
    let mut h = Harness::new(charger, bms, 40.0);
    // BCL asks more than BCP allows: 300 A at 500 V.
    h.battery.max_current_a = 300.0;
    h.battery.max_voltage_v = 500.0;
    h.plug_in();
    h.until_charger(ChargerPhase::Charging, Duration::from_secs(60));
    h.run_for(Duration::from_secs(2));
    let bcl = h.pair.charger.bms_data().bcl.unwrap();
    assert_eq!(bcl.current_demand_a, 300.0);
    let sp = h.pair.charger.setpoint();
    // I = min(300, 250.2, 120); V = min(500, 426.1, 420).
    assert_eq!((sp.voltage_v, sp.current_a), (420.0, 120.0));
    // The BMS lowers its demand below the charger limit: the setpoint follows it.
    h.battery.max_current_a = 80.0;
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.pair.charger.setpoint().current_a, 80.0);
    // With a generous charger the BCP limit is the binding one.
    let mut h2 = Harness::new(ChargerConfig::default(), BmsConfig::lfp(), 40.0);
    h2.battery.max_current_a = 300.0;
    h2.plug_in();
    h2.until_charger(ChargerPhase::Charging, Duration::from_secs(60));
    h2.run_for(Duration::from_secs(1));
    assert_eq!(h2.pair.charger.setpoint().current_a, 250.0_f64.min(250.2));
    // The BCL on the wire encodes the demand as sent (§3.9).
    let data = h2.first_data(Node::Bms, Pgn::Bcl).unwrap();
    let decoded = Bcl::decode(&data).unwrap();
    assert_eq!(decoded.current_demand_a, 300.0);
}

#[test]
fn bms_reports_and_phases() {
    let h = full_session(BmsConfig::ncm(), 70.0, 70.5);
    let phases: Vec<BmsPhase> = h
        .bms_events()
        .filter_map(|e| match e {
            BmsEvent::PhaseChanged(p) => Some(*p),
            _ => None,
        })
        .collect();
    assert_eq!(
        phases,
        [
            BmsPhase::ExpectChm,
            BmsPhase::ExpectCrm,
            BmsPhase::ExpectCrmRecognized,
            BmsPhase::ExpectCml,
            BmsPhase::ExpectCroReady,
            BmsPhase::Charging,
            BmsPhase::ExpectCst,
            BmsPhase::ExpectCsd,
            BmsPhase::Ended,
            BmsPhase::Off,
        ]
    );
    let report = h.pair.bms.report();
    assert_eq!(report.furthest_phase, BmsPhase::Ended);
    let json = serde_json::to_value(h.pair.charger.report()).unwrap();
    assert_eq!(json["phase"], "ended");
    assert!(json["counters"]["frames_rx"]["BCL"].as_u64().unwrap() > 10);
}
