//! Every timeout of §2/§4: the right CEM/BEM bit, the re-handshake, the final stop.

use proto::gbt27930::id::{Node, Pgn};
use proto::gbt27930::msg::{Bem, Cem, Status2};
use proto::time::{Duration, Instant};

use super::harness::Harness;
use crate::gbt::bms::{BmsConfig, BmsErrorCause, BmsEvent, BmsPhase, BmsStopCause};
use crate::gbt::charger::{
    ChargerConfig, ChargerErrorCause, ChargerEvent, ChargerPhase, ChargerStopCause,
};
use crate::gbt::faults::{GbtFault, WireFault};

const LONG: Duration = Duration::from_secs(400);

/// Whether `later - earlier` is at least `d`, less the wire time of the first frame
/// (tap times are delivery times; timers run from the send time).
fn at_least(later: Instant, earlier: Instant, d: Duration) -> bool {
    later + Duration::from_millis(2) - earlier >= d
}

fn harness() -> Harness {
    let mut bms = BmsConfig::lfp();
    bms.target_soc_pct = 99.0;
    Harness::new(ChargerConfig::default(), bms, 50.0)
}

fn silence(h: &mut Harness, from: Node, pgn: Pgn) {
    h.pair
        .apply_fault(h.now, GbtFault::Wire(WireFault::Silence { from, pgn }));
}

/// The charger's errors so far: (time, cause, CEM, attempt).
fn charger_errors(h: &Harness) -> Vec<(Instant, ChargerErrorCause, Cem, u8)> {
    h.log
        .iter()
        .filter_map(|(t, e)| match e {
            crate::gbt::pair::PairEvent::Charger(ChargerEvent::Error {
                cause,
                cem,
                attempt,
            }) => Some((*t, *cause, *cem, *attempt)),
            _ => None,
        })
        .collect()
}

/// The BMS's errors so far: (time, cause, BEM, attempt).
fn bms_errors(h: &Harness) -> Vec<(Instant, BmsErrorCause, Bem, u8)> {
    h.log
        .iter()
        .filter_map(|(t, e)| match e {
            crate::gbt::pair::PairEvent::Bms(BmsEvent::Error {
                cause,
                bem,
                attempt,
            }) => Some((*t, *cause, *bem, *attempt)),
            _ => None,
        })
        .collect()
}

/// The first CEM on the wire, as bytes.
fn cem_on_wire(h: &Harness) -> Vec<u8> {
    h.first_data(Node::Charger, Pgn::Cem)
        .expect("a CEM on the wire")
}

/// A charger timeout in the handshake: CEM bit, three attempts, give up.
fn handshake_timeout(pgn: Pgn, expected_cem: [u8; 4]) {
    let mut h = harness();
    silence(&mut h, Node::Bms, pgn);
    h.plug_in();
    h.until_charger(ChargerPhase::Failed, LONG);
    let errors = charger_errors(&h);
    let timeouts: Vec<_> = errors
        .iter()
        .filter(|e| e.1 == ChargerErrorCause::Timeout(pgn))
        .collect();
    assert_eq!(timeouts.len(), 3, "{pgn}: {errors:?}");
    assert_eq!(
        timeouts.iter().map(|e| e.3).collect::<Vec<_>>(),
        [1, 2, 3],
        "one error per attempt"
    );
    assert_eq!(cem_on_wire(&h), expected_cem, "{pgn}");
    assert!(h.charger_events().any(|e| *e == ChargerEvent::GaveUp));
    assert!(h.charger_events().any(|e| matches!(
        e,
        ChargerEvent::Stopped {
            cause: ChargerStopCause::CommunicationTimeout,
            ..
        }
    )));
    // Each retry starts over with CRM(0x00).
    let crm00 = h
        .frames(Node::Charger, Pgn::Crm)
        .iter()
        .filter(|r| r.frame.data()[0] == 0)
        .count();
    assert!(crm00 >= 3);
    assert!(h.pair.charger.report().cem_sent > 0);
}

#[test]
fn brm_timeout_raises_cem_3921_and_retries_three_times() {
    handshake_timeout(Pgn::Brm, [0xFD, 0xF0, 0xC0, 0xFC]);
    // DN.1001: the CEM comes 5 s after the first CRM(0x00).
    let mut h = harness();
    silence(&mut h, Node::Bms, Pgn::Brm);
    h.plug_in();
    h.until_charger(ChargerPhase::ErrorBackoff, LONG);
    let first_crm = h.frames(Node::Charger, Pgn::Crm)[0].at;
    let err = charger_errors(&h)[0].0;
    assert!(at_least(err, first_crm, Duration::from_secs(5)));
    assert!(err - first_crm < Duration::from_millis(5_300));
}

#[test]
fn bcp_timeout_raises_cem_3922() {
    handshake_timeout(Pgn::Bcp, [0xFC, 0xF1, 0xC0, 0xFC]);
}

#[test]
fn bro_timeout_raises_cem_3923() {
    handshake_timeout(Pgn::Bro, [0xFC, 0xF4, 0xC0, 0xFC]);
}

#[test]
fn bro_ready_timeout_is_sixty_seconds() {
    // DN.2005: the BMS keeps sending BRO(0x00); CEM SPN3923 ≥ 60 s after the first CML.
    let mut bms = BmsConfig::lfp();
    bms.external_contactors = true;
    let mut h = Harness::new(ChargerConfig::default(), bms, 50.0);
    h.plug_in();
    h.until_charger(ChargerPhase::ErrorBackoff, LONG);
    let first_cml = h.frames(Node::Charger, Pgn::Cml)[0].at;
    let (t, cause, cem, _) = charger_errors(&h)[0];
    assert_eq!(cause, ChargerErrorCause::Timeout(Pgn::Bro));
    assert_eq!(cem.bro_timeout, Status2::Active);
    assert!(at_least(t, first_cml, Duration::from_secs(60)));
}

#[test]
fn bcl_and_bcs_timeouts_before_charging_never_start_ccs() {
    // DN.3002: BCS without BCL → CEM SPN3925; DN.3001: BCL without BCS → SPN3924.
    for (pgn, bit) in [
        (Pgn::Bcl, [0xFC, 0xF0, 0xC4, 0xFC]),
        (Pgn::Bcs, [0xFC, 0xF0, 0xC1, 0xFC]),
    ] {
        // A patient BMS, so that the charger's own timer fires first.
        let mut bms = BmsConfig::lfp();
        bms.timeouts.ccs = Duration::from_secs(30);
        let mut h = Harness::new(ChargerConfig::default(), bms, 50.0);
        silence(&mut h, Node::Bms, pgn);
        h.plug_in();
        h.until_charger(ChargerPhase::ErrorBackoff, LONG);
        assert_eq!(cem_on_wire(&h), bit, "{pgn}");
        assert!(h.frames(Node::Charger, Pgn::Ccs).is_empty(), "{pgn}");
    }
}

#[test]
fn bcl_timeout_while_charging_stops_output_and_recovers_on_retry() {
    let mut h = harness();
    h.plug_in();
    h.until_charger(ChargerPhase::Charging, LONG);
    h.run_for(Duration::from_secs(3));
    let at = h.now;
    silence(&mut h, Node::Bms, Pgn::Bcl);
    h.until_charger(ChargerPhase::ErrorBackoff, LONG);
    let (t, cause, cem, attempt) = charger_errors(&h)[0];
    assert_eq!((cause, attempt), (ChargerErrorCause::Timeout(Pgn::Bcl), 1));
    assert_eq!(cem.bcl_timeout, Status2::Active);
    assert!(
        t - at <= Duration::from_millis(1_100),
        "CEM 1 s after the last BCL"
    );
    assert_eq!(h.pair.charger.setpoint().current_a, 0.0);
    // The wire heals: the re-handshake (attempt 2) leads back to charging.
    h.pair.segment.clear_faults();
    h.until_charger(ChargerPhase::Charging, LONG);
    assert_eq!(h.pair.charger.attempt(), 2);
    assert_eq!(h.pair.bms.phase(), BmsPhase::Charging);
    assert!(h.pair.bms.attempt() >= 2);
}

#[test]
fn bst_and_bsd_timeouts_after_cst() {
    // DN.3009: no BST after CST → CEM SPN3926 ≥ 5 s after the first CST; no retry.
    let mut h = harness();
    h.plug_in();
    h.until_charger(ChargerPhase::Charging, LONG);
    silence(&mut h, Node::Bms, Pgn::Bst);
    silence(&mut h, Node::Bms, Pgn::Bsd);
    h.pair.charger.request_stop(h.now, ChargerStopCause::Manual);
    h.until_charger(ChargerPhase::Ended, LONG);
    let first_cst = h.frames(Node::Charger, Pgn::Cst)[0].at;
    let (t, _, cem, _) = charger_errors(&h)[0];
    assert_eq!(cem.bst_timeout, Status2::Active);
    assert_eq!(cem.bsd_timeout, Status2::Normal);
    assert!(at_least(t, first_cst, Duration::from_secs(5)));
    // CST ran every 10 ms until then.
    let csts = h.frames(Node::Charger, Pgn::Cst).len();
    assert!((480..=510).contains(&csts), "{csts} CST frames in 5 s");
    assert_eq!(charger_errors(&h).len(), 1);
    // DN.4001: BST arrives but no BSD → CEM SPN3927 ≥ 10 s after the first CST.
    let mut h = harness();
    h.plug_in();
    h.until_charger(ChargerPhase::Charging, LONG);
    silence(&mut h, Node::Bms, Pgn::Bsd);
    h.pair.charger.request_stop(h.now, ChargerStopCause::Manual);
    h.until_charger(ChargerPhase::Ended, LONG);
    let first_cst = h.frames(Node::Charger, Pgn::Cst)[0].at;
    let (t, _, cem, _) = charger_errors(&h)[0];
    assert_eq!(cem.bsd_timeout, Status2::Active);
    assert_eq!(cem.bst_timeout, Status2::Normal);
    assert!(at_least(t, first_cst, Duration::from_secs(10)));
    assert_eq!(cem_on_wire(&h), [0xFC, 0xF0, 0xC0, 0xFD]);
}

/// Runs until the BMS is in `phase`, silences `pgn` from the charger, and returns the
/// BMS's first error.
fn bms_timeout_after(phase: BmsPhase, pgn: Pgn) -> (Harness, Instant, BmsErrorCause, Bem) {
    let mut h = harness();
    if pgn == Pgn::Cro {
        // Keep the charger in its pre-charge (CRO 0x00) so that only the BMS times out.
        let charger = ChargerConfig {
            precharge: crate::gbt::charger::PrechargePolicy::External,
            ..ChargerConfig::default()
        };
        h = Harness::new(charger, h.pair.bms.config().clone(), 50.0);
    }
    if phase == BmsPhase::Off {
        silence(&mut h, Node::Charger, pgn);
    }
    h.plug_in();
    if phase != BmsPhase::Off {
        h.until_bms(phase, LONG);
        silence(&mut h, Node::Charger, pgn);
    }
    assert!(
        h.run_until(LONG, |h| !bms_errors(h).is_empty()),
        "no BEM for {pgn}"
    );
    let (t, cause, bem, _) = bms_errors(&h)[0];
    assert_eq!(cause, BmsErrorCause::Timeout(pgn), "{phase:?}");
    (h, t, cause, bem)
}

#[test]
fn bms_timeouts_raise_the_right_bem_bits() {
    // (phase to reach first, message silenced, BEM bit check, wire bytes)
    type Check = fn(&Bem) -> Status2;
    let cases: [(BmsPhase, Pgn, Check, [u8; 4]); 6] = [
        (
            BmsPhase::Off,
            Pgn::Crm,
            |b| b.crm_00_timeout,
            [0xF1, 0xF0, 0xF0, 0xFC],
        ),
        (
            BmsPhase::ExpectCrmRecognized,
            Pgn::Crm,
            |b| b.crm_aa_timeout,
            [0xF4, 0xF0, 0xF0, 0xFC],
        ),
        (
            BmsPhase::ExpectCml,
            Pgn::Cml,
            |b| b.cts_cml_timeout,
            [0xF0, 0xF1, 0xF0, 0xFC],
        ),
        (
            BmsPhase::ExpectCroReady,
            Pgn::Cro,
            |b| b.cro_timeout,
            [0xF0, 0xF4, 0xF0, 0xFC],
        ),
        (
            BmsPhase::Charging,
            Pgn::Ccs,
            |b| b.ccs_timeout,
            [0xF0, 0xF0, 0xF1, 0xFC],
        ),
        (
            BmsPhase::ExpectCst,
            Pgn::Cst,
            |b| b.cst_timeout,
            [0xF0, 0xF0, 0xF4, 0xFC],
        ),
    ];
    for (phase, pgn, bit, wire) in cases {
        let (h, _, _, bem) = if phase == BmsPhase::ExpectCst {
            cst_timeout_case()
        } else {
            bms_timeout_after(phase, pgn)
        };
        assert_eq!(bit(&bem), Status2::Active, "{phase:?}/{pgn}");
        assert_eq!(
            h.first_data(Node::Bms, Pgn::Bem).unwrap(),
            wire,
            "{phase:?}/{pgn}"
        );
    }
}

/// The BMS stops by itself but the charger's CST never arrives: BEM SPN3906.
fn cst_timeout_case() -> (Harness, Instant, BmsErrorCause, Bem) {
    let mut h = harness();
    h.plug_in();
    h.until_bms(BmsPhase::Charging, LONG);
    silence(&mut h, Node::Charger, Pgn::Cst);
    h.pair
        .bms
        .request_stop(h.now, BmsStopCause::BatteryOverTemperature);
    let at = h.now;
    assert!(h.run_until(LONG, |h| !bms_errors(h).is_empty()));
    let (t, cause, bem, _) = bms_errors(&h)[0];
    assert!(t - at >= Duration::from_secs(5));
    (h, t, cause, bem)
}

#[test]
fn crm_timeout_is_thirty_seconds_after_the_first_chm() {
    let mut h = harness();
    silence(&mut h, Node::Charger, Pgn::Crm);
    h.plug_in();
    assert!(h.run_until(LONG, |h| !bms_errors(h).is_empty()));
    let first_chm = h.frames(Node::Charger, Pgn::Chm)[0].at;
    let (t, cause, _, _) = bms_errors(&h)[0];
    assert_eq!(cause, BmsErrorCause::Timeout(Pgn::Crm));
    assert!(at_least(t, first_chm, Duration::from_secs(30)));
    assert!(t - first_chm < Duration::from_millis(30_300));
    assert_eq!(
        h.first_data(Node::Bms, Pgn::Bem).unwrap(),
        [0xF1, 0xF0, 0xF0, 0xFC]
    );
}

#[test]
fn csd_timeout_raises_bem_3907() {
    // A charger that keeps aux power on long after CSD, so the BMS lives to time out.
    let charger = ChargerConfig {
        csd_repeats: 200,
        ..ChargerConfig::default()
    };
    let mut h = Harness::new(charger, BmsConfig::lfp(), 50.0);
    h.plug_in();
    h.until_bms(BmsPhase::Charging, LONG);
    silence(&mut h, Node::Charger, Pgn::Csd);
    h.pair
        .bms
        .request_stop(h.now, BmsStopCause::SocTargetReached);
    let at = h.now;
    assert!(h.run_until(LONG, |h| !bms_errors(h).is_empty()));
    let (t, cause, bem, _) = bms_errors(&h)[0];
    assert_eq!(cause, BmsErrorCause::Timeout(Pgn::Csd));
    assert_eq!(bem.csd_timeout, Status2::Active);
    assert!(t - at >= Duration::from_secs(10));
    // After the stop there is no re-handshake: the session ends with its stop cause.
    h.until_bms(BmsPhase::Ended, LONG);
    assert!(h.bms_events().any(|e| matches!(
        e,
        BmsEvent::Stopped {
            cause: BmsStopCause::SocTargetReached,
            statistics: None,
            ..
        }
    )));
}

#[test]
fn bem_makes_the_charger_re_handshake() {
    // The BMS loses CCS (charger side silenced for 1.5 s): BEM SPN3905; the charger
    // stops its output on the BEM and starts over.
    let mut h = harness();
    h.plug_in();
    h.until_charger(ChargerPhase::Charging, LONG);
    silence(&mut h, Node::Charger, Pgn::Ccs);
    assert!(h.run_until(LONG, |h| !charger_errors(h).is_empty()));
    let (_, cause, _, _) = charger_errors(&h)[0];
    assert!(matches!(cause, ChargerErrorCause::BemReceived(b) if b.ccs_timeout == Status2::Active));
    h.pair.segment.clear_faults();
    h.until_charger(ChargerPhase::Charging, LONG);
    assert_eq!(h.pair.charger.attempt(), 2);
    assert!(h.pair.charger.report().bem_received >= 1);
}
