//! The 42 cases with a BMS under test (BP/BN); chargestorm plays the charger.
//!
//! The reference has only the ids of these cases (gbt27930.md §5), plus Amendment 1's
//! note that BN.1001, BN.1002 and BP.4003 apply only to vehicles powered by the charger's
//! auxiliary supply. Every title here is derived from the BMS state machine's timeouts and
//! stop rules (§4.3, §4.4, Annex A times of §4.5) and each description says so.

use proto::can::CanFrame;
use proto::gbt27930::id::{Node, Pgn};
use proto::time::{Duration, Instant};

use super::checks::{
    Check, Notes, ensure, error_with, field2, first, first_after, hex, judge, lengths,
    none_between, period, timeout_window, tp_period,
};
use super::key::{BRO_00, BRO_AA, CRM_00, CRM_AA, CRO_AA, Key};
use super::script::{
    DutAction, Effect, InjectWhat, PeerConfig, Script, TesterAction, Trigger, Window,
};
use super::tester::frame_of;
use super::trace::Trace;
use super::{Case, Verdict};
use crate::gbt::bms::BmsStopCause;
use crate::gbt::charger::{ChargerConfig, ChargerStopCause, PrechargePolicy};
use crate::gbt::faults::ChargerFault;

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const fn millis(m: u64) -> Duration {
    Duration::from_millis(m)
}

const BHM: Key = Key::Msg(Pgn::Bhm);
const BRO: Key = Key::Msg(Pgn::Bro);
const BCL: Key = Key::Msg(Pgn::Bcl);
const BSM: Key = Key::Msg(Pgn::Bsm);
const BST: Key = Key::Msg(Pgn::Bst);
const BSD: Key = Key::Msg(Pgn::Bsd);
const BEM: Key = Key::Msg(Pgn::Bem);
const RTS_BRM: Key = Key::Rts(Pgn::Brm);
const RTS_BCP: Key = Key::Rts(Pgn::Bcp);
const RTS_BCS: Key = Key::Rts(Pgn::Bcs);

/// A note every description ends with.
macro_rules! derived {
    ($text:literal) => {
        concat!(
            $text,
            " Title derived from the BMS state machine (gbt27930.md §4.3/§4.4); the reference gives no title."
        )
    };
}

/// The tester charger, adjusted by `f`. It is patient: its own receive timeouts are
/// 10 min, so that only the DUT's timeouts act in a run.
fn charger_with(f: impl FnOnce(&mut ChargerConfig)) -> PeerConfig {
    let mut cfg = ChargerConfig::default();
    let patient = secs(600);
    let t = &mut cfg.timeouts;
    for d in [
        &mut t.brm,
        &mut t.bcp,
        &mut t.bro,
        &mut t.bro_ready,
        &mut t.bcl,
        &mut t.bcs,
        &mut t.bst,
        &mut t.bsd,
    ] {
        *d = patient;
    }
    f(&mut cfg);
    PeerConfig::Charger(Box::new(cfg))
}

/// A script with the default tester charger, at most `max_s` seconds long.
fn base(max_s: u64) -> Script {
    Script::new(charger_with(|_| {}), secs(max_s))
}

/// A tester charger with the standard timeouts: it gives up on a silent BMS and starts
/// a new handshake from CRM(0x00) (the re-handshake cases need that).
fn impatient(max_s: u64) -> Script {
    Script::new(PeerConfig::Charger(Box::default()), secs(max_s))
}

/// A tester charger whose pre-charge never completes (CRO stays 0x00).
fn holding_charger(max_s: u64) -> Script {
    Script::new(
        charger_with(|c| {
            c.precharge = PrechargePolicy::External;
            c.timeouts.precharge = secs(600);
        }),
        secs(max_s),
    )
}

/// After the tester's first CRM(0x00). A tester that keeps sending CRM(0x00) in phase
/// with the BMS's 5 s timer would make the timeout and the next CRM(0x00) coincide, and a
/// BMS may then re-handshake before its BEM leaves; the cases that measure SPN3902 send
/// one CRM(0x00) only (or shift the repeats by half a period).
fn after_first_crm() -> Window {
    Window::from(Trigger::Tester(CRM_00, millis(1)))
}

/// `d` into charging (after the DUT's first BCL).
fn charging(d: Duration) -> Trigger {
    Trigger::Dut(BCL, d)
}

/// From the DUT's first `key` plus `from` to plus `until`.
fn between(key: Key, from: Duration, until: Duration) -> Window {
    Window {
        from: Trigger::Dut(key, from),
        until: Trigger::Dut(key, until),
    }
}

/// A frame from the tester charger.
fn charger_frame(pgn: Pgn, data: &[u8]) -> Option<CanFrame> {
    frame_of(pgn, Node::Charger, data)
}

/// Injects `frame` (if it could be built) every `period` in `window`.
fn inject(s: Script, window: Window, period: Duration, frame: Option<CanFrame>) -> Script {
    match frame {
        Some(f) => s.inject(window, period, InjectWhat::Frame(f)),
        None => s,
    }
}

/// CEM with SPN3922 (BCP timeout) set; the rest idle (`FC F0 C0 FC` with 2.1–2.2 = 01).
const CEM_BCP: [u8; 4] = [0xFC, 0xF1, 0xC0, 0xFC];
/// CEM with SPN3925 (BCL timeout) set (`FC F0 C4 FC`, gbt27930.md §3.19).
const CEM_BCL: [u8; 4] = [0xFC, 0xF0, 0xC4, 0xFC];
/// CEM with SPN3921 (BRM timeout) set.
const CEM_BRM: [u8; 4] = [0xFD, 0xF0, 0xC0, 0xFC];
/// CRM(0x00) of charger number 1, no region code.
const CRM_00_DATA: [u8; 8] = [0x00, 0x01, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF];
/// A TP.CM connection abort for BRM (PGN 0x000200), reason byte 0xFF as real chargers send.
const ABORT_BRM: [u8; 8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x02, 0x00];

fn end(tr: &Trace) -> Instant {
    tr.records().last().map_or(tr.start(), |r| r.at)
}

/// BEM `spn` comes `nominal` after the tester's first frame of `reference`.
fn bem_after_tester(
    tr: &Trace,
    spn: u16,
    reference: Key,
    nominal: Duration,
    n: &mut Notes,
) -> Check {
    let bem = error_with(tr, spn)?;
    let t_ref = tr
        .first_tester(reference)
        .ok_or_else(|| format!("the tester never sent {reference:?}"))?
        .at;
    timeout_window(&format!("BEM SPN{spn}"), t_ref, bem.at, nominal, n)
}

/// BEM `spn` comes `nominal` after the tester's last frame of `reference` before it.
fn bem_after_last_tester(
    tr: &Trace,
    spn: u16,
    reference: Key,
    nominal: Duration,
    n: &mut Notes,
) -> Check {
    let bem = error_with(tr, spn)?;
    let t_ref = tr
        .last_tester_before(reference, bem.at)
        .ok_or_else(|| format!("the tester never sent {reference:?}"))?
        .at;
    timeout_window(&format!("BEM SPN{spn}"), t_ref, bem.at, nominal, n)
}

/// BEM `spn` comes `nominal` after the DUT's own first frame of `reference`.
fn bem_after_dut(tr: &Trace, spn: u16, reference: Key, nominal: Duration, n: &mut Notes) -> Check {
    let bem = error_with(tr, spn)?;
    let t_ref = first(tr, reference)?.at;
    timeout_window(&format!("BEM SPN{spn}"), t_ref, bem.at, nominal, n)
}

/// The BST reason byte's four 2-bit fields (SOC, total V, cell V, charger stopped).
fn bst_reason(tr: &Trace, n: &mut Notes) -> Result<[u8; 4], String> {
    let bst = first(tr, BST)?;
    n.add(format!("first BST {}", hex(bst.frame.data())));
    ensure(bst.frame.len() >= 4, || {
        format!("BST has {} bytes, expected 4", bst.frame.len())
    })?;
    let f = |shift| field2(&bst.frame, 0, shift).unwrap_or(0xFF);
    Ok([f(0), f(2), f(4), f(6)])
}

/// The DUT's reassembled multi-packet messages of `pgn` all have `len` bytes.
fn tp_lengths(tr: &Trace, pgn: Pgn, len: usize, n: &mut Notes) -> Check {
    let msgs: Vec<_> = tr
        .dut_tp_messages()
        .into_iter()
        .filter(|(_, p, _)| *p == pgn)
        .collect();
    ensure(!msgs.is_empty(), || {
        format!("no complete {} from the DUT", pgn.code())
    })?;
    for (_, _, data) in &msgs {
        ensure(data.len() == len, || {
            format!("{} of {} bytes, expected {len}", pgn.code(), data.len())
        })?;
    }
    n.add(format!("{} × {} of {len} bytes", msgs.len(), pgn.code()));
    Ok(())
}

fn case(
    id: &'static str,
    title: &'static str,
    description: &'static str,
    script: fn() -> Script,
    check: fn(&Trace) -> Verdict,
) -> Case {
    Case {
        id,
        title,
        description,
        role_under_test: Node::Bms,
        title_from_reference: false,
        script,
        check,
    }
}

/// Every BMS case.
pub(super) fn cases() -> Vec<Case> {
    let mut all = early::phase1_positive();
    all.extend(early::phase1_negative());
    all.extend(early::phase1_recovery());
    all.extend(early::phase2());
    all.extend(late::phase3_positive());
    all.extend(late::phase3_negative());
    all.extend(late::phase4());
    all
}

// After the `derived!` macro, which the case modules use.
mod early;
mod late;
