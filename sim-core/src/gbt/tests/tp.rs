//! Transport protocol through the session: out of order, missing, duplicate, aborts,
//! timeouts.

use proto::can::CanFrame;
use proto::gbt27930::id::{Node, Pgn};
use proto::gbt27930::msg::{GbtMessage, Status2};
use proto::time::{Duration, Instant};

use super::harness::Harness;
use crate::gbt::Version;
use crate::gbt::bms::BmsConfig;
use crate::gbt::charger::{
    ChargerConfig, ChargerErrorCause, ChargerEvent, ChargerPhase, ChargerSession,
    InsulationOutcome, InsulationPolicy,
};
use crate::gbt::faults::{GbtFault, TpCorruption, WireFault};

const LONG: Duration = Duration::from_secs(200);

fn wire(h: &mut Harness, fault: WireFault) {
    h.pair.apply_fault(h.now, GbtFault::Wire(fault));
}

fn first_cem_cause(h: &Harness) -> Option<ChargerErrorCause> {
    h.charger_events().find_map(|e| match e {
        ChargerEvent::Error { cause, .. } => Some(*cause),
        _ => None,
    })
}

#[test]
fn lossy_and_duplicating_wire_still_completes_the_session() {
    for fault in [
        WireFault::Drop {
            from: Node::Bms,
            pgn: Pgn::Brm,
            ratio: 0.3,
        },
        WireFault::Duplicate {
            from: Node::Bms,
            pgn: Pgn::Bcs,
            ratio: 0.2,
        },
        WireFault::Drop {
            from: Node::Charger,
            pgn: Pgn::Bcp,
            ratio: 0.7,
        },
    ] {
        let mut bms = BmsConfig::ncm();
        bms.target_soc_pct = 50.3;
        let mut h = Harness::new(ChargerConfig::default(), bms, 50.0);
        wire(&mut h, fault);
        h.plug_in();
        h.until_charger(ChargerPhase::Charging, LONG);
        h.run_for(Duration::from_secs(5));
        h.pair.segment.clear_faults();
        h.until_both_ended(LONG);
        let s = h.pair.segment.stats();
        assert!(s.dropped + s.duplicated > 0, "{fault:?} never hit");
    }
}

#[test]
fn corrupted_tp_aborts_and_the_charger_times_out() {
    // DN.2002: BCP transport abnormal → CEM SPN3922; DN.1002: BRM → SPN3921.
    for (pgn, corruption) in [
        (Pgn::Bcp, TpCorruption::Size),
        (Pgn::Brm, TpCorruption::Sequence),
    ] {
        let mut h = Harness::new(ChargerConfig::default(), BmsConfig::lfp(), 50.0);
        wire(
            &mut h,
            WireFault::CorruptTp {
                pgn,
                corruption,
                ratio: 1.0,
            },
        );
        h.plug_in();
        h.until_charger(ChargerPhase::ErrorBackoff, LONG);
        assert_eq!(first_cem_cause(&h), Some(ChargerErrorCause::Timeout(pgn)));
        assert!(h.pair.charger.counters().tp_aborts > 0, "{pgn}");
        // The BMS saw the aborts and re-sent (RTS more than once).
        assert!(h.pair.bms.counters().tp_aborts > 1, "{pgn}");
    }
}

#[test]
fn missing_cts_times_the_sender_out_and_it_retries() {
    let mut h = Harness::new(ChargerConfig::default(), BmsConfig::lfp(), 50.0);
    // The charger's CTS for BRM never arrives: T3 (1.25 s) then a new RTS.
    wire(
        &mut h,
        WireFault::Silence {
            from: Node::Charger,
            pgn: Pgn::Brm,
        },
    );
    h.plug_in();
    h.until_charger(ChargerPhase::ErrorBackoff, LONG);
    assert_eq!(
        first_cem_cause(&h),
        Some(ChargerErrorCause::Timeout(Pgn::Brm))
    );
    let rts = h
        .frames(Node::Bms, Pgn::TpCm)
        .iter()
        .filter(|r| r.frame.data()[0] == 0x10)
        .count();
    assert!(rts >= 3, "{rts} RTS");
    assert!(h.pair.bms.counters().tp_aborts >= 2);
    assert_eq!(h.pair.charger.cem().brm_timeout, Status2::Active);
}

/// A 2011-style charger brought to ExpectBrm by itself, for hand-made TP frames.
fn charger_expecting_brm() -> (ChargerSession, Instant) {
    let cfg = ChargerConfig {
        version: Version::V2011,
        insulation: InsulationPolicy::Simulated {
            duration: Duration::from_millis(10),
            outcome: InsulationOutcome::classify(1e7, 500.0),
        },
        ..ChargerConfig::default()
    };
    let mut c = ChargerSession::new(cfg);
    let mut now = Instant::ZERO;
    c.plug_in(now);
    now += Duration::from_millis(10);
    c.handle_timeout(now);
    assert_eq!(c.phase(), ChargerPhase::ExpectBrm);
    while c.poll_transmit(now).is_some() {}
    (c, now)
}

fn bms_frame(id: u32, data: [u8; 8]) -> CanFrame {
    CanFrame::new(id, &data).unwrap()
}

#[test]
fn out_of_order_missing_and_duplicate_packets_reassemble() {
    let (mut c, mut now) = charger_expecting_brm();
    let mut brm = [0xFFu8; 49];
    BmsConfig::lfp().brm.encode(&mut brm).unwrap();
    let dt = |seq: u8| {
        let mut d = [0xFF; 8];
        d[0] = seq;
        let start = usize::from(seq - 1) * 7;
        for (i, b) in brm.iter().skip(start).take(7).enumerate() {
            d[i + 1] = *b;
        }
        bms_frame(0x1CEB56F4, d)
    };
    c.handle_frame(
        now,
        &bms_frame(0x1CEC56F4, [0x10, 49, 0, 7, 0xFF, 0x00, 0x02, 0x00]),
    );
    let cts = c.poll_transmit(now).unwrap();
    assert_eq!(cts.data(), [0x11, 7, 1, 0xFF, 0xFF, 0x00, 0x02, 0x00]);
    // 2, 1, 3, 3 (duplicate), 4, 5, 7: packet 6 missing.
    for seq in [2, 1, 3, 3, 4, 5, 7] {
        now += Duration::from_millis(10);
        c.handle_frame(now, &dt(seq));
    }
    let again = c.poll_transmit(now).unwrap();
    assert_eq!(again.data(), [0x11, 1, 6, 0xFF, 0xFF, 0x00, 0x02, 0x00]);
    now += Duration::from_millis(10);
    c.handle_frame(now, &dt(6));
    let eoma = c.poll_transmit(now).unwrap();
    assert_eq!(eoma.data(), [0x13, 49, 0, 7, 0xFF, 0x00, 0x02, 0x00]);
    assert_eq!(c.phase(), ChargerPhase::ExpectBcp);
    assert_eq!(c.bms_data().brm, Some(BmsConfig::lfp().brm));
    let crm = c.poll_transmit(now).unwrap();
    assert_eq!(crm.data()[0], 0xAA, "CRM(0xAA) at once");
}

#[test]
fn tp_receiver_timeout_aborts_inside_the_session() {
    let (mut c, mut now) = charger_expecting_brm();
    c.handle_frame(
        now,
        &bms_frame(0x1CEC56F4, [0x10, 49, 0, 7, 0xFF, 0x00, 0x02, 0x00]),
    );
    while c.poll_transmit(now).is_some() {}
    // No data packet follows: T2 (1.25 s) then an abort; the BRM timer keeps running.
    now += Duration::from_millis(1_250);
    assert!(c.poll_timeout().unwrap() <= now);
    c.handle_timeout(now);
    let abort = c.poll_transmit(now).unwrap();
    assert_eq!(abort.data()[0], 0xFF);
    assert_eq!(c.counters().tp_aborts, 1);
    assert_eq!(c.phase(), ChargerPhase::ExpectBrm);
    // A single-frame 8-byte BRM is accepted too (§6.3).
    let short = CanFrame::new(0x1C0256F4, &[1, 1, 0, 3, 0x40, 0x06, 0x40, 0x0E]).unwrap();
    c.handle_frame(now, &short);
    assert_eq!(c.phase(), ChargerPhase::ExpectBcp);
}
