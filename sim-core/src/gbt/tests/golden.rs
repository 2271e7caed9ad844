//! Frame-exact regression: whole sessions hashed frame by frame.
//!
//! Each case runs a session on the harness with the tap on and hashes every frame the
//! segment saw (delivery time, sender, identifier, bytes, fate, attributed message) and
//! every event with its time. The constants were captured from the unoptimized machines,
//! so a performance change that moves one frame by one microsecond, changes one byte or
//! reorders two messages fails here. `BmsStatus` events are left out of the event hash:
//! they carry no decision, only a copy of the BCS just received, so how often they are
//! emitted is not part of the session's behaviour.

use proto::gbt27930::id::{Node, Pgn};
use proto::time::Duration;

use super::harness::Harness;
use crate::gbt::Version;
use crate::gbt::bms::{BmsConfig, BmsEvent, BmsPhase, BmsStopCause};
use crate::gbt::charger::{ChargerConfig, ChargerEvent, ChargerPhase};
use crate::gbt::faults::{BmsFault, GbtFault, TpCorruption, WireFault};
use crate::gbt::pair::PairEvent;
use crate::gbt::segment::Fate;

/// The frame hash and the event hash of a run, as hex.
fn digests(h: &Harness) -> (String, String) {
    let mut frames = blake3::Hasher::new();
    for r in &h.records {
        frames.update(&r.at.as_micros().to_le_bytes());
        frames.update(&[u8::from(r.from == Node::Bms)]);
        frames.update(&r.frame.id().to_le_bytes());
        frames.update(&[u8::from(r.frame.is_extended()), r.frame.len()]);
        frames.update(r.frame.data());
        let fate = match r.fate {
            Fate::Delivered => 0u8,
            Fate::Duplicate => 1,
            Fate::Dropped => 2,
            Fate::Silenced => 3,
            Fate::Overrun => 4,
        };
        frames.update(&[fate]);
        frames.update(&r.message.map_or(0, Pgn::value).to_le_bytes());
    }
    let mut events = blake3::Hasher::new();
    for (at, e) in &h.log {
        if matches!(e, PairEvent::Charger(ChargerEvent::BmsStatus { .. })) {
            continue;
        }
        events.update(&at.as_micros().to_le_bytes());
        events.update(format!("{e:?}").as_bytes());
    }
    (
        frames.finalize().to_hex().to_string(),
        events.finalize().to_hex().to_string(),
    )
}

/// Checks a run against its captured digests, naming the case on failure.
fn check(name: &str, h: &Harness, frames: &str, events: &str) {
    assert!(h.records.len() > 100, "{name}: too few frames to mean much");
    let (f, e) = digests(h);
    assert_eq!(
        (f.as_str(), e.as_str()),
        (frames, events),
        "{name}: {} frames, {} events differ from the captured session",
        h.records.len(),
        h.log.len()
    );
}

const LIMIT: Duration = Duration::from_secs(900);

#[test]
fn lfp_session_with_optional_messages_is_frame_exact() {
    let bms = BmsConfig {
        send_optional: true,
        ..BmsConfig::lfp()
    };
    let mut h = Harness::standard(bms, 80.0, 82.0);
    h.plug_in();
    h.until_both_ended(LIMIT);
    h.run_for(Duration::from_secs(2));
    check(
        "lfp",
        &h,
        "434992118fd164e9a9864ca07c74577579e94fa61b67e0d91422a9dfb0e3620c",
        "dabd08f28ab351e3aecc25a3863d3169e68ee9b6aa4af60107ea9a937e5b7fe6",
    );
}

#[test]
fn ncm_session_is_frame_exact() {
    let mut h = Harness::standard(BmsConfig::ncm(), 60.0, 61.0);
    h.plug_in();
    h.until_both_ended(LIMIT);
    h.run_for(Duration::from_secs(2));
    check(
        "ncm",
        &h,
        "7ad4cce5947489cebf274838389d7288d5fdbd3b63aae2456e76b23249170d79",
        "36772ae22f9d40a267c38b625fb90cbedb0213eb8e639d12ed252c51f7632854",
    );
}

#[test]
fn bms_2011_session_is_frame_exact() {
    let bms = BmsConfig {
        version: Version::V2011,
        ..BmsConfig::ncm()
    };
    let mut h = Harness::standard(bms, 70.0, 71.0);
    h.plug_in();
    h.until_both_ended(LIMIT);
    h.run_for(Duration::from_secs(2));
    check(
        "bms-2011",
        &h,
        "6382fd06ad62be321d3441f154ee207267ab29ca323827efe41d1addf586ecf7",
        "273a34ea72d643cb00ef1453b0f61a22bdca9d1eddd7a8635c46c386cf138aea",
    );
}

#[test]
fn all_2011_session_is_frame_exact() {
    let bms = BmsConfig {
        version: Version::V2011,
        target_soc_pct: 51.0,
        ..BmsConfig::lfp()
    };
    let charger = ChargerConfig {
        version: Version::V2011,
        ..ChargerConfig::default()
    };
    let mut h = Harness::new(charger, bms, 50.0);
    h.plug_in();
    h.until_both_ended(LIMIT);
    check(
        "all-2011",
        &h,
        "bddc3437cc0c31f2d2cb5aed69e2daf8572df8ac90707b3152a65b1e08836947",
        "43b8131e029b35137c266049a2b4d9fb653e01f0b6043bbb3185d2fd78ca0d83",
    );
}

/// Random wire faults (drawn from the segment's RNG), a lost BCP that costs an attempt,
/// then a BMS over-temperature stop mid-charge.
#[test]
fn faulty_session_is_frame_exact() {
    let mut h = Harness::standard(BmsConfig::lfp(), 40.0, 90.0);
    let faults = [
        WireFault::Silence {
            from: Node::Bms,
            pgn: Pgn::Bcp,
        },
        WireFault::Drop {
            from: Node::Bms,
            pgn: Pgn::Bcl,
            ratio: 0.2,
        },
        WireFault::Duplicate {
            from: Node::Charger,
            pgn: Pgn::Ccs,
            ratio: 0.3,
        },
        WireFault::Delay {
            from: Node::Charger,
            pgn: Pgn::Cml,
            delay: Duration::from_millis(30),
        },
        WireFault::CorruptTp {
            pgn: Pgn::Bcs,
            corruption: TpCorruption::Payload,
            ratio: 0.1,
        },
    ];
    for f in faults {
        h.pair.apply_fault(h.now, GbtFault::Wire(f));
    }
    h.plug_in();
    h.until_charger(ChargerPhase::ErrorBackoff, LIMIT);
    // BCP gets through on the retry; the rest of the faults stay.
    let keep: Vec<WireFault> = h.pair.segment.faults()[1..].to_vec();
    h.pair.segment.clear_faults();
    for f in keep {
        h.pair.segment.add_fault(f);
    }
    h.until_charger(ChargerPhase::Charging, LIMIT);
    h.run_for(Duration::from_secs(20));
    h.pair.apply_fault(
        h.now,
        GbtFault::Bms(BmsFault::OverTemperature { stop: true }),
    );
    h.run_until(LIMIT, |h| {
        matches!(h.pair.bms.phase(), BmsPhase::Ended | BmsPhase::Failed)
            && matches!(
                h.pair.charger.phase(),
                ChargerPhase::Ended | ChargerPhase::Failed
            )
    });
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.pair.charger.report().attempt, 2);
    assert!(h.bms_events().any(|e| matches!(
        e,
        BmsEvent::Stopped {
            cause: BmsStopCause::BatteryOverTemperature,
            ..
        }
    )));
    check(
        "faulty",
        &h,
        "b094e8a6dc159fef432411a00103aec01a7efc50ea3a6bddbe23967f98985874",
        "03a35c2aa9b3d436c74e3176f702a075504871948d7c54818b5fbc72d9f0e659",
    );
}

/// The fleet's links turn the charger's `BmsStatus` events off (they ignore them): the
/// session must stay frame-exact and raise the same other events, and none of those.
#[test]
fn sessions_without_bms_status_events_are_frame_exact() {
    let mut h = Harness::standard(BmsConfig::ncm(), 60.0, 61.0);
    h.pair.charger.set_bms_status_events(false);
    h.plug_in();
    h.until_both_ended(LIMIT);
    h.run_for(Duration::from_secs(2));
    assert!(
        !h.log
            .iter()
            .any(|(_, e)| matches!(e, PairEvent::Charger(ChargerEvent::BmsStatus { .. })))
    );
    check(
        "ncm without status events",
        &h,
        "7ad4cce5947489cebf274838389d7288d5fdbd3b63aae2456e76b23249170d79",
        "36772ae22f9d40a267c38b625fb90cbedb0213eb8e639d12ed252c51f7632854",
    );
}

/// The events an owner may turn off, left out when sessions with them on and off are
/// compared.
fn is_optional(e: &PairEvent) -> bool {
    matches!(
        e,
        PairEvent::Charger(ChargerEvent::BmsStatus { .. })
            | PairEvent::Bms(BmsEvent::ChargerOutput(_))
    )
}

/// With both optional events off (as the fleet's links run), every frame is the same,
/// at the same time, and every other event is raised at the same time, for a plain
/// session and one with BMS faults.
#[test]
fn optional_events_off_change_no_frame_and_no_other_event() {
    let run = |bms: BmsConfig, on: bool, fault: bool| {
        let mut h = Harness::standard(bms, 60.0, 63.0);
        h.pair.charger.set_bms_status_events(on);
        h.pair.bms.set_charger_output_events(on);
        h.plug_in();
        if fault {
            h.until_charger(ChargerPhase::Charging, LIMIT);
            h.run_for(Duration::from_secs(3));
            let now = h.now;
            h.pair
                .apply_fault(now, GbtFault::Bms(BmsFault::Suspend(true)));
            h.run_for(Duration::from_secs(2));
            let now = h.now;
            h.pair
                .apply_fault(now, GbtFault::Bms(BmsFault::Suspend(false)));
        }
        h.until_both_ended(LIMIT);
        h.run_for(Duration::from_secs(2));
        h
    };
    for (bms, fault) in [
        (BmsConfig::ncm(), false),
        (BmsConfig::lfp(), false),
        (BmsConfig::ncm(), true),
    ] {
        let on = run(bms.clone(), true, fault);
        let off = run(bms, false, fault);
        assert!(on.records.len() > 100);
        assert_eq!(on.records, off.records);
        assert!(on.log.iter().any(|(_, e)| is_optional(e)));
        assert!(!off.log.iter().any(|(_, e)| is_optional(e)));
        let kept: Vec<_> = on.log.iter().filter(|(_, e)| !is_optional(e)).collect();
        let off_log: Vec<_> = off.log.iter().collect();
        assert_eq!(kept, off_log);
    }
}
