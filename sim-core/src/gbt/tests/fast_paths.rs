//! The receive fast path ([`accept_standard`]) against the full identifier check
//! ([`classify`]) on every frame of whole sessions: the machines take the fast path for
//! every frame their peer builds, and wherever it answers, it answers what `classify`
//! does, so the frame path's results cannot change.

use proto::can::CanFrame;
use proto::gbt27930::id::{Inbound, Node, Pgn, accept_standard, classify};
use proto::time::Duration;

use super::harness::Harness;
use crate::gbt::bms::BmsConfig;
use crate::gbt::charger::{ChargerConfig, ChargerPhase, ChargerStopCause};
use crate::gbt::faults::{GbtFault, TpCorruption, WireFault};
use crate::gbt::segment::{Fate, TapRecord};

const LONG: Duration = Duration::from_secs(120);

/// What the receiver of `frame` makes of its identifier through the full check: the
/// accepted PGN, or `None` for a foreign or malformed frame.
fn classified(frame: &CanFrame, own: Node) -> Option<Pgn> {
    match classify(frame, own) {
        Ok(Inbound::Accepted(id)) => Some(id.pgn()),
        Ok(Inbound::Foreign(_)) | Err(_) => None,
    }
}

/// Checks every delivered frame; returns how many took the fast path.
fn check(records: &[TapRecord]) -> usize {
    let delivered = records
        .iter()
        .filter(|r| matches!(r.fate, Fate::Delivered | Fate::Duplicate));
    let mut fast = 0;
    for r in delivered {
        let to = r.from.peer();
        if let Some(pgn) = accept_standard(&r.frame, to) {
            fast += 1;
            assert_eq!(classified(&r.frame, to), Some(pgn), "{r:?}");
        }
    }
    fast
}

/// A session from plug-in to the end of the statistics, with TP (BRM, BCP, BCS).
fn full_session(bms: BmsConfig, charger: ChargerConfig) -> Harness {
    let mut h = Harness::new(charger, bms, 50.0);
    h.plug_in();
    h.until_charger(ChargerPhase::Charging, LONG);
    h.run_for(Duration::from_secs(12));
    h.pair.charger.request_stop(h.now, ChargerStopCause::Manual);
    h.until_both_ended(LONG);
    h
}

#[test]
fn every_frame_of_clean_sessions_takes_the_fast_path() {
    for bms in [BmsConfig::lfp(), BmsConfig::ncm()] {
        let h = full_session(bms, ChargerConfig::default());
        let delivered = h
            .records
            .iter()
            .filter(|r| r.fate == Fate::Delivered)
            .count();
        assert!(delivered > 500, "{delivered} frames");
        // Single frames of both sides and TP traffic (BRM, BCP, BCS) both went through it.
        for (from, pgn) in [
            (Node::Bms, Pgn::TpCm),
            (Node::Bms, Pgn::TpDt),
            (Node::Charger, Pgn::TpCm),
            (Node::Bms, Pgn::Bcl),
            (Node::Charger, Pgn::Ccs),
            (Node::Charger, Pgn::Csd),
        ] {
            assert!(!h.frames(from, pgn).is_empty(), "{from:?} {pgn}");
        }
        assert_eq!(check(&h.records), delivered);
    }
}

#[test]
fn faulty_sessions_and_foreign_identifiers_agree_with_the_full_check() {
    // Corrupted TP frames and a BMS that goes silent (timeouts, BEM/CEM, retries).
    let faults = [
        WireFault::CorruptTp {
            pgn: Pgn::Bcs,
            corruption: TpCorruption::Sequence,
            ratio: 0.5,
        },
        WireFault::CorruptTp {
            pgn: Pgn::Brm,
            corruption: TpCorruption::Size,
            ratio: 1.0,
        },
        WireFault::Silence {
            from: Node::Bms,
            pgn: Pgn::Bcl,
        },
    ];
    for fault in faults {
        let mut h = Harness::new(ChargerConfig::default(), BmsConfig::lfp(), 50.0);
        h.pair.apply_fault(h.now, GbtFault::Wire(fault));
        h.plug_in();
        h.run_for(Duration::from_secs(40));
        assert!(check(&h.records) > 0, "{fault:?}");
    }
    // Frames no machine builds: other priorities, other addresses, standard frames.
    for raw in [
        0x0C10_56F4,
        0x1810_57F4,
        0x1810_56F5,
        0x18FE_56F4,
        0x1C00_56F4,
    ] {
        let frame = CanFrame::new(raw, &[0; 8]).unwrap();
        for own in [Node::Charger, Node::Bms] {
            assert_eq!(accept_standard(&frame, own), None, "{raw:#x}");
        }
    }
}
