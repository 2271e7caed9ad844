//! The 43 cases with a charger under test (DP/DN); chargestorm plays the BMS.
//!
//! Titles and expectations follow gbt27930.md §5 (\[EQ\]\[SA\]\[ZQ\]\[P3\]). DN.2010, DP.3002,
//! DP.3004 and DN.3003–DN.3008 have no title in the reference; theirs are derived from the
//! charger state machine (§4.2) and marked so.

mod early;
mod late;

use proto::gbt27930::id::{Node, Pgn};
use proto::gbt27930::msg::{Ccs, GbtMessage};
use proto::time::{Duration, Instant};

use super::checks::{
    Check, Notes, ensure, error_with, field2, first, first_after, hex, judge, lengths,
    none_between, period, timeout_window,
};
use super::key::{BRO_00, BRO_AA, CRM_00, CRM_AA, CRO_00, CRO_AA, Key};
use super::script::{
    Bench, DutAction, Effect, InjectWhat, PeerConfig, Script, TesterAction, Trigger, Window,
};
use super::tester::frame_of;
use super::trace::Trace;
use super::{Case, Verdict};
use crate::gbt::bms::{BmsConfig, BmsStopCause};
use crate::gbt::faults::{BmsFault, ChargerFault};

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const fn millis(m: u64) -> Duration {
    Duration::from_millis(m)
}

const CML: Key = Key::Msg(Pgn::Cml);
const CTS: Key = Key::Msg(Pgn::Cts);
const CCS: Key = Key::Msg(Pgn::Ccs);
const CST: Key = Key::Msg(Pgn::Cst);
const CSD: Key = Key::Msg(Pgn::Csd);
const CEM: Key = Key::Msg(Pgn::Cem);
const CHM: Key = Key::Msg(Pgn::Chm);
const CRO: Key = Key::Msg(Pgn::Cro);
const CRM: Key = Key::Msg(Pgn::Crm);

/// The tester BMS: the real LFP car of \[T1\], adjusted by `f`. It is patient: its own
/// receive timeouts are 10 min, so that only the DUT's timeouts act in a run.
fn bms_with(f: impl FnOnce(&mut BmsConfig)) -> PeerConfig {
    let mut cfg = BmsConfig::lfp();
    let patient = secs(600);
    let t = &mut cfg.timeouts;
    for d in [
        &mut t.crm_after_chm,
        &mut t.crm_without_chm,
        &mut t.crm_recognized,
        &mut t.cml,
        &mut t.cro,
        &mut t.cro_ready,
        &mut t.ccs,
        &mut t.cst,
        &mut t.csd,
    ] {
        *d = patient;
    }
    f(&mut cfg);
    PeerConfig::Bms(Box::new(cfg))
}

/// A script with the default tester BMS, at most `max_s` seconds long.
fn base(max_s: u64) -> Script {
    Script::new(bms_with(|_| {}), secs(max_s))
}

/// From the DUT's first frame of `key` plus `d` to the end.
fn after(key: Key, d: Duration) -> Window {
    Window::from(Trigger::Dut(key, d))
}

/// `Trigger::Dut(CCS, d)`: `d` into charging.
fn charging(d: Duration) -> Trigger {
    Trigger::Dut(CCS, d)
}

fn bhm_frame() -> InjectWhat {
    // BHM 426.1 V: 4261 = 0x10A5, LSB first.
    frame(Pgn::Bhm, &[0xA5, 0x10])
}

fn bcl_frame() -> InjectWhat {
    // BCL 426.1 V, 250.2 A charging (4000 − 2502 = 1498 = 0x05DA), constant current.
    frame(Pgn::Bcl, &[0xA5, 0x10, 0xDA, 0x05, 0x02])
}

fn frame(pgn: Pgn, data: &[u8]) -> InjectWhat {
    match frame_of(pgn, Node::Bms, data) {
        Some(f) => InjectWhat::Frame(f),
        None => InjectWhat::Transport {
            pgn,
            payload: data.to_vec(),
        },
    }
}

/// The tester BMS's BRM or BCP payload, for injections.
fn payload(pgn: Pgn) -> InjectWhat {
    let cfg = BmsConfig::lfp();
    let mut buf = [0u8; 64];
    let len = match pgn {
        Pgn::Brm => cfg.brm.encode(&mut buf),
        _ => cfg.bcp.encode(&mut buf),
    }
    .unwrap_or(0);
    InjectWhat::Transport {
        pgn,
        payload: buf.get(..len).unwrap_or(&[]).to_vec(),
    }
}

/// The end of the trace (time of the last record).
fn end(tr: &Trace) -> Instant {
    tr.records().last().map_or(tr.start(), |r| r.at)
}

/// A charger-side timeout: CEM `spn` comes `nominal` after the DUT's first `reference`.
fn cem_after_first(
    tr: &Trace,
    spn: u16,
    reference: Key,
    nominal: Duration,
    n: &mut Notes,
) -> Check {
    let cem = error_with(tr, spn)?;
    let t_ref = first(tr, reference)?.at;
    timeout_window(&format!("CEM SPN{spn}"), t_ref, cem.at, nominal, n)
}

/// A charger-side timeout measured from the tester's last frame of `reference` before
/// the CEM (a receive timer re-armed by every frame).
fn cem_after_last_tester(
    tr: &Trace,
    spn: u16,
    reference: Key,
    nominal: Duration,
    n: &mut Notes,
) -> Check {
    let cem = error_with(tr, spn)?;
    let t_ref = tr
        .last_tester_before(reference, cem.at)
        .ok_or_else(|| format!("the tester never sent {reference:?}"))?
        .at;
    timeout_window(&format!("CEM SPN{spn}"), t_ref, cem.at, nominal, n)
}

/// The CST reason byte's four 2-bit fields (condition, manual, fault, BMS stopped).
fn cst_reason(tr: &Trace, n: &mut Notes) -> Result<[u8; 4], String> {
    let cst = first(tr, CST)?;
    n.add(format!("first CST {}", hex(cst.frame.data())));
    ensure(cst.frame.len() >= 4, || {
        format!("CST has {} bytes, expected 4", cst.frame.len())
    })?;
    let f = |shift| field2(&cst.frame, 0, shift).unwrap_or(0xFF);
    Ok([f(0), f(2), f(4), f(6)])
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
        role_under_test: Node::Charger,
        title_from_reference: !description.contains("Title derived"),
        script,
        check,
    }
}

/// Every charger case.
pub(super) fn cases() -> Vec<Case> {
    let mut all = early::phase1();
    all.extend(early::phase2());
    all.extend(late::phase3());
    all.extend(late::phase4());
    all
}
