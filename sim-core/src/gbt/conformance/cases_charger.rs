//! The 43 cases with a charger under test (DP/DN); chargestorm plays the BMS.
//!
//! Titles and expectations follow gbt27930.md §5 (\[EQ\]\[SA\]\[ZQ\]\[P3\]). DN.2010, DP.3002,
//! DP.3004 and DN.3003–DN.3008 have no title in the reference; theirs are derived from the
//! charger state machine (§4.2) and marked so.

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

/// The tester BMS: the real LFP car of \[T1\], adjusted by `f`.
fn bms_with(f: impl FnOnce(&mut BmsConfig)) -> PeerConfig {
    let mut cfg = BmsConfig::lfp();
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
fn cem_after_first(tr: &Trace, spn: u16, reference: Key, nominal: Duration, n: &mut Notes) -> Check {
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
    let mut all = phase1();
    all.extend(phase2());
    all.extend(phase3());
    all.extend(phase4());
    all
}

fn phase1() -> Vec<Case> {
    vec![
        case(
            "DP.1001",
            "CHM transmission",
            "The tester BMS answers CHM with BHM. The charger sends CHM `01 01 00` (3 bytes) every 250 ms until it starts CRM.",
            || base(30).until_dut(CRM_00, millis(100)),
            |tr| {
                judge(|n| {
                    lengths(tr, CHM, &[3], n)?;
                    let chm = first(tr, CHM)?;
                    ensure(chm.frame.data() == [1, 1, 0], || {
                        format!("CHM carries {}, expected 01 01 00", hex(chm.frame.data()))
                    })?;
                    let to = tr.first_dut(CRM_00).map_or(end(tr), |r| r.at);
                    period(tr, CHM, 250, tr.start(), to, n)
                })
            },
        ),
        case(
            "DP.1002",
            "CRM(0x00) transmission",
            "The tester BMS holds BRM back for 1.5 s after the first CRM. The charger sends CRM with SPN2560 = 0x00 (8 bytes) every 250 ms, then CRM(0xAA) once BRM arrives.",
            || {
                base(40)
                    .rule(
                        Window {
                            from: Trigger::on_dut(CRM_00),
                            until: Trigger::Dut(CRM_00, millis(1500)),
                        },
                        Key::Msg(Pgn::Brm),
                        Effect::Mute,
                    )
                    .until_dut(CRM_AA, millis(200))
            },
            |tr| {
                judge(|n| {
                    lengths(tr, CRM_00, &[8], n)?;
                    let t0 = first(tr, CRM_00)?.at;
                    let t1 = first(tr, CRM_AA)?.at;
                    ensure(tr.count_dut(CRM_00) >= 4, || "fewer than 4 CRM(0x00)".into())?;
                    period(tr, CRM_00, 250, t0, t1, n)
                })
            },
        ),
        case(
            "DP.1003",
            "CRM(0xAA) transmission",
            "After a complete BRM the tester holds BCP back for 1.5 s. The charger sends CRM(0xAA) (8 bytes) every 250 ms and stops CRM once BCP is complete.",
            || {
                base(40)
                    .rule(
                        Window {
                            from: Trigger::on_dut(CRM_AA),
                            until: Trigger::Dut(CRM_AA, millis(1500)),
                        },
                        Key::Msg(Pgn::Bcp),
                        Effect::Mute,
                    )
                    .until_dut(CML, millis(600))
            },
            |tr| {
                judge(|n| {
                    lengths(tr, CRM_AA, &[8], n)?;
                    let t0 = first(tr, CRM_AA)?.at;
                    let t_cml = first(tr, CML)?.at;
                    period(tr, CRM_AA, 250, t0, t_cml, n)?;
                    none_between(tr, CRM, t_cml + millis(1), end(tr) + millis(1))
                })
            },
        ),
        case(
            "DN.1001",
            "BRM timeout (nothing received)",
            "The tester BMS never sends BRM. The charger keeps sending CRM(0x00) and raises CEM SPN3921 5 s after the first CRM(0x00) (5 s by analogy with DN.2001).",
            || base(30).mute(Key::Msg(Pgn::Brm)).until_dut(CEM, millis(500)),
            |tr| {
                judge(|n| {
                    cem_after_first(tr, 3921, CRM_00, secs(5), n)?;
                    let t0 = first(tr, CRM_00)?.at;
                    period(tr, CRM_00, 250, t0, error_with(tr, 3921)?.at, n)
                })
            },
        ),
        case(
            "DN.1002",
            "BRM transport-protocol abnormal",
            "Every BRM transfer carries a wrong TP.DT sequence number, so no BRM completes. The charger raises CEM SPN3921 5 s after the first CRM(0x00) and never sends CRM(0xAA).",
            || {
                base(30)
                    .rule(Window::ALWAYS, Key::Msg(Pgn::Brm), Effect::CorruptTpSequence)
                    .until_dut(CEM, millis(500))
            },
            |tr| {
                judge(|n| {
                    cem_after_first(tr, 3921, CRM_00, secs(5), n)?;
                    none_between(tr, CRM_AA, tr.start(), end(tr) + millis(1))
                })
            },
        ),
        case(
            "DN.1003",
            "BHM keeps arriving while CRM(0x00) is sent",
            "After CRM(0x00) the tester keeps sending BHM every 250 ms and no BRM. The charger raises CEM SPN3921 5 s after the first CRM(0x00).",
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Brm))
                    .inject(after(CRM_00, Duration::ZERO), millis(250), bhm_frame())
                    .until_dut(CEM, millis(500))
            },
            |tr| judge(|n| cem_after_first(tr, 3921, CRM_00, secs(5), n)),
        ),
        case(
            "DN.1004",
            "BRM keeps arriving while CRM(0xAA) is sent",
            "After CRM(0xAA) the tester keeps sending BRM every 250 ms and no BCP. The charger raises CEM SPN3922 5 s after the first CRM(0xAA).",
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Bcp))
                    .inject(after(CRM_AA, Duration::ZERO), millis(250), payload(Pgn::Brm))
                    .until_dut(CEM, millis(500))
            },
            |tr| judge(|n| cem_after_first(tr, 3922, CRM_AA, secs(5), n)),
        ),
    ]
}

fn phase2() -> Vec<Case> {
    let mut v = phase2_positive();
    v.extend(phase2_negative());
    v
}

fn phase2_positive() -> Vec<Case> {
    vec![
        case(
            "DP.2001",
            "CML and CTS transmission",
            "The tester BMS stays in BRO(0x00) for 3 s. After the complete BCP the charger stops CRM(0xAA) and sends CML (8 bytes, 250 ms) and CTS (7 bytes, 500 ms).",
            || Script::new(bms_with(|c| c.ready_delay = secs(3)), secs(40)).until_dut(CRO_00, millis(200)),
            |tr| {
                judge(|n| {
                    lengths(tr, CML, &[8], n)?;
                    lengths(tr, CTS, &[7], n)?;
                    let t0 = first(tr, CML)?.at;
                    let t1 = first(tr, CRO_00)?.at;
                    period(tr, CML, 250, t0, t1, n)?;
                    period(tr, CTS, 500, t0, t1, n)?;
                    none_between(tr, CRM, t0 + millis(1), end(tr) + millis(1))
                })
            },
        ),
        case(
            "DP.2002",
            "BRO(0x00) handling",
            "The tester BMS sends BRO(0x00) for 10 s before BRO(0xAA). The charger keeps sending CML without CRO or CEM while BRO is 0x00, then sends CRO once BRO(0xAA) arrives.",
            || Script::new(bms_with(|c| c.ready_delay = secs(10)), secs(60)).until_dut(CRO_AA, millis(300)),
            |tr| {
                judge(|n| {
                    let t0 = tr.first_tester(BRO_00).ok_or("the tester sent no BRO(0x00)")?.at;
                    let t1 = tr.first_tester(BRO_AA).ok_or("the tester sent no BRO(0xAA)")?.at;
                    none_between(tr, CRO, t0, t1)?;
                    none_between(tr, CEM, t0, end(tr) + millis(1))?;
                    period(tr, CML, 250, t0, t1, n)?;
                    let cro = first_after(tr, CRO, t1)?;
                    ensure(cro.at <= t1 + secs(1), || "CRO came more than 1 s after BRO(0xAA)".into())
                })
            },
        ),
        case(
            "DP.2003",
            "CRO(0x00) transmission",
            "After BRO(0xAA) the charger stops CML/CTS and sends CRO(0x00) (1 byte, 250 ms) while it pre-charges, then CRO(0xAA) until both BCL and BCS arrive (the tester holds BCS back 1 s).",
            || {
                base(40)
                    .rule(
                        Window {
                            from: Trigger::on_dut(CRO_AA),
                            until: Trigger::Dut(CRO_AA, secs(1)),
                        },
                        Key::Msg(Pgn::Bcs),
                        Effect::Mute,
                    )
                    .until_dut(CCS, millis(300))
            },
            |tr| {
                judge(|n| {
                    lengths(tr, CRO, &[1], n)?;
                    let bro = tr.first_tester(BRO_AA).ok_or("the tester sent no BRO(0xAA)")?.at;
                    let cro0 = first(tr, CRO_00)?.at;
                    ensure(cro0 >= bro, || "CRO(0x00) before BRO(0xAA)".into())?;
                    let croaa = first(tr, CRO_AA)?.at;
                    ensure(croaa >= cro0, || "CRO(0xAA) before CRO(0x00)".into())?;
                    none_between(tr, CML, cro0 + millis(1), end(tr) + millis(1))?;
                    let ccs = first(tr, CCS)?.at;
                    period(tr, CRO, 250, cro0, ccs, n)?;
                    none_between(tr, CRO, ccs + millis(1), end(tr) + millis(1))
                })
            },
        ),
    ]
}

/// The DN.2007–DN.2009 check: CEM SPN3923 5 s after the tester's last BRO(0xAA), CRO
/// stays 0x00 and keeps its period meanwhile.
fn cro_interrupted(tr: &Trace) -> Verdict {
    judge(|n| {
        cem_after_last_tester(tr, 3923, BRO_AA, secs(5), n)?;
        let cem = error_with(tr, 3923)?.at;
        let cro0 = first(tr, CRO_00)?.at;
        none_between(tr, CRO_AA, tr.start(), end(tr) + millis(1))?;
        period(tr, CRO, 250, cro0, cem, n)
    })
}

/// A script that interrupts BRO(0xAA) once CRO(0x00) started and sends `instead`.
fn interrupt_bro(instead: Option<InjectWhat>) -> Script {
    let mut s = base(40)
        .bench(Bench::HoldPrecharge)
        .rule(after(CRO_00, Duration::ZERO), Key::Msg(Pgn::Bro), Effect::Mute)
        .until_dut(CEM, millis(500));
    if let Some(what) = instead {
        s = s.inject(after(CRO_00, Duration::ZERO), millis(250), what);
    }
    s
}

fn phase2_negative() -> Vec<Case> {
    vec![
        case(
            "DN.2001",
            "BCP timeout (nothing received)",
            "The tester never sends BCP. The charger sends CRM(0xAA) every 250 ms and raises CEM SPN3922 5 s after the first CRM(0xAA).",
            || base(30).mute(Key::Msg(Pgn::Bcp)).until_dut(CEM, millis(500)),
            |tr| {
                judge(|n| {
                    cem_after_first(tr, 3922, CRM_AA, secs(5), n)?;
                    let t0 = first(tr, CRM_AA)?.at;
                    period(tr, CRM_AA, 250, t0, error_with(tr, 3922)?.at, n)
                })
            },
        ),
        case(
            "DN.2002",
            "BCP transport-protocol abnormal",
            "Every BCP transfer carries a wrong TP.DT sequence number. As DN.2001: CEM SPN3922 5 s after the first CRM(0xAA).",
            || {
                base(30)
                    .rule(Window::ALWAYS, Key::Msg(Pgn::Bcp), Effect::CorruptTpSequence)
                    .until_dut(CEM, millis(500))
            },
            |tr| judge(|n| cem_after_first(tr, 3922, CRM_AA, secs(5), n)),
        ),
        case(
            "DN.2003",
            "BRO timeout, nothing received",
            "The tester never sends BRO. The charger raises CEM SPN3923 5 s after it started CML.",
            || base(30).mute(Key::Msg(Pgn::Bro)).until_dut(CEM, millis(500)),
            |tr| judge(|n| cem_after_first(tr, 3923, CML, secs(5), n)),
        ),
        case(
            "DN.2004",
            "BRO timeout, wrong message type",
            "Instead of BRO the tester sends BCL every 250 ms. The charger raises CEM SPN3923 5 s after it started CML.",
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Bro))
                    .inject(after(CML, Duration::ZERO), millis(250), bcl_frame())
                    .until_dut(CEM, millis(500))
            },
            |tr| judge(|n| cem_after_first(tr, 3923, CML, secs(5), n)),
        ),
        case(
            "DN.2005",
            "BRO(0xAA) timeout",
            "The tester sends BRO(0x00) only. The charger sends CML every 250 ms for 60 s and raises CEM SPN3923 60 s after the first CML.",
            || {
                Script::new(bms_with(|c| c.ready_delay = secs(1000)), secs(90))
                    .until_dut(CEM, millis(500))
            },
            |tr| {
                judge(|n| {
                    cem_after_first(tr, 3923, CML, secs(60), n)?;
                    let t0 = first(tr, CML)?.at;
                    period(tr, CML, 250, t0, error_with(tr, 3923)?.at, n)?;
                    none_between(tr, CRO, tr.start(), end(tr) + millis(1))
                })
            },
        ),
        case(
            "DN.2006",
            "BCP keeps arriving while CTS/CML are sent",
            "After CML started the tester keeps sending BCP every 500 ms and no BRO. The charger sends CML for 5 s and raises CEM SPN3923.",
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Bro))
                    .inject(after(CML, Duration::ZERO), millis(500), payload(Pgn::Bcp))
                    .until_dut(CEM, millis(500))
            },
            |tr| {
                judge(|n| {
                    cem_after_first(tr, 3923, CML, secs(5), n)?;
                    let t0 = first(tr, CML)?.at;
                    period(tr, CML, 250, t0, error_with(tr, 3923)?.at, n)
                })
            },
        ),
        case(
            "DN.2007",
            "BRO(0xAA) interrupted during CRO(0x00)",
            "The bench holds the pre-charge; once CRO(0x00) starts the tester stops BRO. Within 5 s of the last BRO(0xAA) the charger keeps CRO(0x00) every 250 ms, then raises CEM SPN3923 without CRO(0xAA) (Amendment 1).",
            || interrupt_bro(None),
            cro_interrupted,
        ),
        case(
            "DN.2008",
            "wrong-type message instead of BRO(0xAA) during CRO(0x00)",
            "As DN.2007, but the tester sends BCL every 250 ms instead of BRO. CEM SPN3923 5 s after the last BRO(0xAA), CRO stays 0x00.",
            || interrupt_bro(Some(bcl_frame())),
            cro_interrupted,
        ),
        case(
            "DN.2009",
            "BRO(0x00) received while CRO(0x00) is sent",
            "As DN.2007, but the tester falls back to BRO(0x00) every 250 ms. CEM SPN3923 5 s after the last BRO(0xAA), CRO stays 0x00.",
            || interrupt_bro(Some(frame(Pgn::Bro, &[0x00]))),
            cro_interrupted,
        ),
        case(
            "DN.2010",
            "no BCL/BCS after CRO(0xAA)",
            "Title derived from the expected behaviour in the reference (CRO(0xAA), then CEM SPN3925) and §4.2 C7. The tester sends neither BCL nor BCS. The charger sends CRO(0xAA), no CCS, and raises CEM SPN3925 1 s after the first CRO(0xAA).",
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Bcl))
                    .mute(Key::Msg(Pgn::Bcs))
                    .until_dut(CEM, millis(500))
            },
            |tr| {
                judge(|n| {
                    cem_after_first(tr, 3925, CRO_AA, secs(1), n)?;
                    none_between(tr, CCS, tr.start(), end(tr) + millis(1))
                })
            },
        ),
    ]
}

fn phase3() -> Vec<Case> {
    let mut v = phase3_positive();
    v.extend(phase3_negative());
    v
}

/// Decoded CCS frames of the DUT: (time, current, permit field).
fn ccs_values(tr: &Trace) -> Vec<(Instant, f64, Option<u8>)> {
    tr.dut_frames(CCS)
        .filter_map(|r| {
            let ccs = Ccs::decode(r.frame.data()).ok()?;
            Some((r.at, ccs.current_a, field2(&r.frame, 6, 0)))
        })
        .collect()
}

fn phase3_positive() -> Vec<Case> {
    vec![
        case(
            "DP.3001",
            "CCS transmission",
            "Normal charging for 5 s. The charger starts CCS only after both BCL and BCS and sends it every 50 ms with 7 or 8 bytes ([ZQ] 7, [SA] 7 or 8).",
            || base(40).until_dut(CCS, secs(5)),
            |tr| {
                judge(|n| {
                    lengths(tr, CCS, &[7, 8], n)?;
                    let t0 = first(tr, CCS)?.at;
                    let bcl = tr.first_tester(Key::Msg(Pgn::Bcl)).ok_or("no BCL")?.at;
                    let bcs = tr.first_tester(Key::Msg(Pgn::Bcs)).ok_or("no BCS")?.at;
                    ensure(t0 >= bcl.max(bcs), || "CCS started before BCL and BCS".into())?;
                    period(tr, CCS, 50, t0, end(tr), n)
                })
            },
        ),
        case(
            "DP.3002",
            "output current follows the BCL demand",
            "Title derived from §4.2 C8 and §7.3 (I = min(BCL, BCP max, charger max)). During charging the tester lowers the BCL current demand to 100 A, then 50 A. Within 1.5 s the CCS current is at most the demand (+1 A) and above zero.",
            || {
                base(40)
                    .act(charging(secs(2)), TesterAction::BmsDemand(100.0))
                    .act(charging(secs(5)), TesterAction::BmsDemand(50.0))
                    .until_dut(CCS, secs(8))
            },
            |tr| {
                judge(|n| {
                    let t0 = first(tr, CCS)?.at;
                    let v = ccs_values(tr);
                    for (from, to, limit) in [(3500, 5000, 100.0), (6500, 8000, 50.0)] {
                        let window: Vec<f64> = v
                            .iter()
                            .filter(|(t, _, _)| *t >= t0 + millis(from) && *t < t0 + millis(to))
                            .map(|(_, a, _)| *a)
                            .collect();
                        ensure(!window.is_empty(), || "no CCS while checking the demand".into())?;
                        let max = window.iter().copied().fold(0.0, f64::max);
                        n.add(format!("CCS current ≤ {max:.1} A for a {limit} A demand"));
                        ensure(max <= limit + 1.0 && max > 0.0, || {
                            format!("CCS current {max:.1} A does not follow the {limit} A demand")
                        })?;
                    }
                    Ok(())
                })
            },
        ),
        case(
            "DP.3003",
            "charger fault stop",
            "2 s into charging the charger gets a fault (power module failure). It sends CST with reason `00,00,01,00` (fault stop) and, after BSD, CSD.",
            || {
                base(40)
                    .act(charging(secs(2)), TesterAction::Dut(DutAction::ChargerFault(ChargerFault::ModuleFailure)))
                    .until_dut(CSD, secs(1))
            },
            |tr| {
                judge(|n| {
                    let r = cst_reason(tr, n)?;
                    ensure(r == [0, 0, 1, 0], || format!("CST reason fields {r:?}, expected [0, 0, 1, 0]"))?;
                    lengths(tr, CST, &[4], n)?;
                    first(tr, CSD).map(|_| ())
                })
            },
        ),
        case(
            "DP.3004",
            "abnormal BSM status stops the charge",
            "Title derived from the BSM rules under table 20 (§3.12, §4.2 C8). 2 s into charging the tester BMS reports battery over-temperature in BSM (without stopping itself). The charger sends CST with the fault-stop field within 1 s.",
            || {
                base(40)
                    .act(charging(secs(2)), TesterAction::BmsFault(BmsFault::OverTemperature { stop: false }))
                    .until_dut(CST, secs(1))
            },
            |tr| {
                judge(|n| {
                    let t0 = first(tr, CCS)?.at + secs(2);
                    let cst = first(tr, CST)?.at;
                    ensure(cst >= t0 && cst <= t0 + millis(1300), || {
                        format!("CST {} ms after the abnormal BSM", cst.saturating_since(t0).as_millis())
                    })?;
                    let r = cst_reason(tr, n)?;
                    ensure(r[2] == 1, || format!("CST fault-stop field is {}, expected 01", r[2]))
                })
            },
        ),
        case(
            "DP.3005",
            "BSM SPN3096 = 00 pauses the output",
            "2 s into charging the tester BMS sets BSM SPN3096 = 00 (pause) for 3 s. The charger reports CCS SPN3929 = 00 and no current while paused, sends no CST, and resumes (SPN3929 = 01, current back) when SPN3096 = 01.",
            || {
                base(40)
                    .act(charging(secs(2)), TesterAction::BmsFault(BmsFault::Suspend(true)))
                    .act(charging(secs(5)), TesterAction::BmsFault(BmsFault::Suspend(false)))
                    .until_dut(CCS, secs(8))
            },
            |tr| {
                judge(|n| {
                    let t0 = first(tr, CCS)?.at;
                    none_between(tr, CST, tr.start(), end(tr) + millis(1))?;
                    let v = ccs_values(tr);
                    let paused = v.iter().filter(|(t, _, _)| *t >= t0 + millis(3000) && *t < t0 + millis(5000));
                    let resumed = v.iter().filter(|(t, _, _)| *t >= t0 + millis(6500));
                    let (mut np, mut nr) = (0, 0);
                    for (_, a, p) in paused {
                        np += 1;
                        ensure(*p == Some(0) && *a <= 1.0, || format!("CCS while paused: {a:.1} A, SPN3929 {p:?}"))?;
                    }
                    for (_, a, p) in resumed {
                        nr += 1;
                        ensure(*p == Some(1) && *a > 1.0, || format!("CCS after resume: {a:.1} A, SPN3929 {p:?}"))?;
                    }
                    n.add(format!("{np} paused and {nr} resumed CCS frames"));
                    ensure(np > 0 && nr > 0, || "no CCS in the pause or resume window".into())
                })
            },
        ),
        case(
            "DP.3006",
            "vehicle-initiated stop",
            "2 s into charging the tester BMS stops (SOC target reached, BST). The charger answers with CST `00,00,x,01` (BMS stopped) and ends with CSD.",
            || {
                base(40)
                    .act(charging(secs(2)), TesterAction::BmsStop(BmsStopCause::SocTargetReached))
                    .until_dut(CSD, secs(1))
            },
            |tr| {
                judge(|n| {
                    let r = cst_reason(tr, n)?;
                    ensure(r[0] == 0 && r[1] == 0 && r[3] == 1, || {
                        format!("CST reason fields {r:?}, expected [0, 0, x, 1]")
                    })?;
                    first(tr, CSD).map(|_| ())
                })
            },
        ),
        case(
            "DP.3007",
            "manual stop",
            "2 s into charging the operator presses stop on the charger. It sends CST `00,01,00,00` (manual) every 10 ms and ends with CSD after BSD.",
            || {
                base(40)
                    .act(charging(secs(2)), TesterAction::Dut(DutAction::ManualStop))
                    .until_dut(CSD, secs(1))
            },
            |tr| {
                judge(|n| {
                    let r = cst_reason(tr, n)?;
                    ensure(r == [0, 1, 0, 0], || format!("CST reason fields {r:?}, expected [0, 1, 0, 0]"))?;
                    let t0 = first(tr, CST)?.at;
                    let bsd = tr.first_tester(Key::Msg(Pgn::Bsd)).ok_or("the tester sent no BSD")?.at;
                    period(tr, CST, 10, t0, bsd, n)?;
                    first(tr, CSD).map(|_| ())
                })
            },
        ),
    ]
}

/// Mutes `pgn` from `d` into charging.
fn stop_sending_in_charging(pgn: Pgn, effect: Effect) -> Script {
    base(40)
        .rule(Window::from(charging(secs(2))), Key::Msg(pgn), effect)
        .until_dut(CEM, millis(500))
}

fn phase3_negative() -> Vec<Case> {
    vec![
        case(
            "DN.3001",
            "only BCL during CRO(0xAA), no BCS",
            "The tester sends BCL but never BCS. The charger must not start CCS and raises CEM SPN3924 5 s after CRO(0xAA).",
            || base(30).mute(Key::Msg(Pgn::Bcs)).until_dut(CEM, millis(500)),
            |tr| {
                judge(|n| {
                    none_between(tr, CCS, tr.start(), end(tr) + millis(1))?;
                    cem_after_first(tr, 3924, CRO_AA, secs(5), n)
                })
            },
        ),
        case(
            "DN.3002",
            "only BCS, no BCL",
            "The tester sends BCS but never BCL. The charger must not start CCS and raises CEM SPN3925 1 s after CRO(0xAA).",
            || base(30).mute(Key::Msg(Pgn::Bcl)).until_dut(CEM, millis(500)),
            |tr| {
                judge(|n| {
                    none_between(tr, CCS, tr.start(), end(tr) + millis(1))?;
                    cem_after_first(tr, 3925, CRO_AA, secs(1), n)
                })
            },
        ),
        case(
            "DN.3003",
            "BCS timeout while CRO(0xAA)",
            "Title derived from the reference (BCS-timeout variant with CRO = AA) and §4.2 C7. No BCS ever: the charger keeps CRO(0xAA) every 250 ms and raises CEM SPN3924 5 s after the first CRO(0xAA).",
            || base(30).mute(Key::Msg(Pgn::Bcs)).until_dut(CEM, millis(500)),
            |tr| {
                judge(|n| {
                    cem_after_first(tr, 3924, CRO_AA, secs(5), n)?;
                    let t0 = first(tr, CRO_AA)?.at;
                    period(tr, CRO_AA, 250, t0, error_with(tr, 3924)?.at, n)
                })
            },
        ),
        case(
            "DN.3004",
            "BCL timeout while CRO(0xAA)",
            "Title derived from the reference (BCL-timeout variant with CRO = AA) and §4.2 C7. No BCL ever: the charger sends CRO(0xAA) and raises CEM SPN3925 1 s after the first CRO(0xAA).",
            || base(30).mute(Key::Msg(Pgn::Bcl)).until_dut(CEM, millis(500)),
            |tr| {
                judge(|n| {
                    cem_after_first(tr, 3925, CRO_AA, secs(1), n)?;
                    ensure(tr.count_dut(CRO_AA) >= 3, || "fewer than 3 CRO(0xAA) before the CEM".into())
                })
            },
        ),
        case(
            "DN.3005",
            "BCS stops during charging",
            "Title derived from §4.2 C8 (BCS 5 s). 2 s into charging the tester stops BCS. The charger raises CEM SPN3924 5 s after the last BCS and stops CCS.",
            || stop_sending_in_charging(Pgn::Bcs, Effect::Mute),
            |tr| {
                judge(|n| {
                    cem_after_last_tester(tr, 3924, Key::Msg(Pgn::Bcs), secs(5), n)?;
                    let cem = error_with(tr, 3924)?.at;
                    none_between(tr, CCS, cem + millis(1), end(tr) + millis(1))
                })
            },
        ),
        case(
            "DN.3006",
            "BCL stops during charging",
            "Title derived from §4.2 C8 (BCL 1 s, \"end charging immediately\"). 2 s into charging the tester stops BCL. The charger raises CEM SPN3925 1 s after the last BCL and stops CCS.",
            || stop_sending_in_charging(Pgn::Bcl, Effect::Mute),
            |tr| {
                judge(|n| {
                    cem_after_last_tester(tr, 3925, Key::Msg(Pgn::Bcl), secs(1), n)?;
                    let cem = error_with(tr, 3925)?.at;
                    none_between(tr, CCS, cem + millis(1), end(tr) + millis(1))
                })
            },
        ),
        case(
            "DN.3007",
            "BCS transport-protocol abnormal during charging",
            "Title derived from §4.2 C8 and §1.4. 2 s into charging every BCS transfer carries a wrong TP.DT sequence number. The charger raises CEM SPN3924 5 s after the last complete BCS.",
            || stop_sending_in_charging(Pgn::Bcs, Effect::CorruptTpSequence),
            |tr| {
                judge(|n| {
                    let cem = error_with(tr, 3924)?;
                    let done = tr
                        .dut_frames(Key::EndOfMsgAck(Pgn::Bcs))
                        .take_while(|r| r.at < cem.at)
                        .last()
                        .ok_or("the charger never acknowledged a BCS")?;
                    timeout_window("CEM SPN3924", done.at, cem.at, secs(5), n)
                })
            },
        ),
        case(
            "DN.3008",
            "BCL period too long during charging",
            "Title derived from §4.2 C8 (BCL 1 s). 2 s into charging the tester sends only every 30th BCL (1.5 s apart). The charger raises CEM SPN3925 1 s after a BCL.",
            || stop_sending_in_charging(Pgn::Bcl, Effect::Thin(30)),
            |tr| judge(|n| cem_after_last_tester(tr, 3925, Key::Msg(Pgn::Bcl), secs(1), n)),
        ),
        case(
            "DN.3009",
            "BST timeout after CST",
            "2 s into charging the operator stops the charger; the tester never answers with BST or BSD. The charger sends CST (manual) every 10 ms and raises CEM SPN3926 5 s after the first CST.",
            || {
                base(40)
                    .act(charging(secs(2)), TesterAction::Dut(DutAction::ManualStop))
                    .rule(after(CST, Duration::ZERO), Key::Msg(Pgn::Bst), Effect::Mute)
                    .rule(after(CST, Duration::ZERO), Key::Msg(Pgn::Bsd), Effect::Mute)
                    .until_dut(CEM, millis(500))
            },
            bst_timeout,
        ),
        case(
            "DN.3010",
            "BST timeout after CST, BMS silent",
            "As DN.3009, but the tester BMS goes completely silent at the first CST. CST (manual) every 10 ms, CEM SPN3926 5 s after the first CST.",
            || {
                base(40)
                    .act(charging(secs(2)), TesterAction::Dut(DutAction::ManualStop))
                    .rule(after(CST, Duration::ZERO), Key::Any, Effect::Mute)
                    .until_dut(CEM, millis(500))
            },
            bst_timeout,
        ),
    ]
}

fn bst_timeout(tr: &Trace) -> Verdict {
    judge(|n| {
        let r = cst_reason(tr, n)?;
        ensure(r == [0, 1, 0, 0], || format!("CST reason fields {r:?}, expected manual"))?;
        cem_after_first(tr, 3926, CST, secs(5), n)?;
        let t0 = first(tr, CST)?.at;
        period(tr, CST, 10, t0, error_with(tr, 3926)?.at, n)
    })
}

fn bsd_timeout(tr: &Trace, reason: [Option<u8>; 4]) -> Verdict {
    judge(|n| {
        let r = cst_reason(tr, n)?;
        for (got, want) in r.iter().zip(reason) {
            if let Some(want) = want {
                ensure(*got == want, || format!("CST reason fields {r:?}, expected {reason:?}"))?;
            }
        }
        cem_after_first(tr, 3927, CST, secs(10), n)?;
        let t0 = first(tr, CST)?.at;
        let cem = error_with(tr, 3927)?.at;
        // Amendment 1 for DN.4002: CST every 10 ms within 10 s of the first CST.
        period(tr, CST, 10, t0, cem.min(t0 + secs(10)), n)
    })
}

fn phase4() -> Vec<Case> {
    vec![
        case(
            "DP.4001",
            "end phase",
            "The tester BMS stops (SOC target reached). The charger sends CST with the vehicle-stop content, stops CST once BSD arrives and sends CSD (8 bytes, 250 ms).",
            || {
                base(40)
                    .act(charging(secs(2)), TesterAction::BmsStop(BmsStopCause::SocTargetReached))
                    .until_dut(CSD, secs(2))
            },
            |tr| {
                judge(|n| {
                    let r = cst_reason(tr, n)?;
                    ensure(r[3] == 1, || format!("CST reason fields {r:?}, expected BMS stopped"))?;
                    let bsd = tr.first_tester(Key::Msg(Pgn::Bsd)).ok_or("the tester sent no BSD")?.at;
                    none_between(tr, CST, bsd + millis(50), end(tr) + millis(1))?;
                    lengths(tr, CSD, &[8], n)?;
                    let t0 = first(tr, CSD)?.at;
                    ensure(t0 >= bsd, || "CSD before BSD".into())?;
                    if tr.count_dut(CSD) >= 2 {
                        period(tr, CSD, 250, t0, end(tr) + millis(1), n)?;
                    }
                    Ok(())
                })
            },
        ),
        case(
            "DP.4002",
            "fault end",
            "An emergency stop ends the charge. After CSD the tester BMS keeps sending BHM as if it wanted to charge again; the charger must not start a new handshake (CHM/CRM) without a re-plug.",
            || {
                base(60)
                    .act(charging(secs(2)), TesterAction::Dut(DutAction::ChargerFault(ChargerFault::EmergencyStop)))
                    .inject(after(CSD, secs(1)), millis(250), bhm_frame())
                    .until_dut(CSD, secs(12))
            },
            |tr| {
                judge(|n| {
                    let r = cst_reason(tr, n)?;
                    ensure(r[2] == 1, || format!("CST reason fields {r:?}, expected fault stop"))?;
                    let csd = first(tr, CSD)?.at;
                    for key in [CHM, CRM, CRO, CCS] {
                        none_between(tr, key, csd, end(tr) + millis(1))?;
                    }
                    n.add(format!("silent for {} ms after CSD", end(tr).saturating_since(csd).as_millis()));
                    Ok(())
                })
            },
        ),
        case(
            "DN.4001",
            "BSD timeout after a vehicle stop",
            "The tester BMS stops (SOC target) but never sends BSD. The charger sends CST (BMS stopped) every 10 ms for up to 10 s and raises CEM SPN3927 10 s after the first CST.",
            || {
                base(60)
                    .act(charging(secs(2)), TesterAction::BmsStop(BmsStopCause::SocTargetReached))
                    .mute(Key::Msg(Pgn::Bsd))
                    .until_dut(CEM, millis(500))
            },
            |tr| bsd_timeout(tr, [Some(0), Some(0), None, Some(1)]),
        ),
        case(
            "DN.4002",
            "BSD timeout after a vehicle fault stop",
            "The tester BMS stops for an insulation fault and never sends BSD. Within 10 s of the first CST the charger sends CST every 10 ms (Amendment 1), then CEM SPN3927.",
            || {
                base(60)
                    .act(charging(secs(2)), TesterAction::BmsStop(BmsStopCause::InsulationFault))
                    .mute(Key::Msg(Pgn::Bsd))
                    .until_dut(CEM, millis(500))
            },
            |tr| bsd_timeout(tr, [None, None, None, Some(1)]),
        ),
        case(
            "DN.4003",
            "BSD timeout after a manual stop",
            "The operator stops the charger; the tester answers BST but never BSD. CST `00,01,00,00` every 10 ms, CEM SPN3927 10 s after the first CST.",
            || {
                base(60)
                    .act(charging(secs(2)), TesterAction::Dut(DutAction::ManualStop))
                    .mute(Key::Msg(Pgn::Bsd))
                    .until_dut(CEM, millis(500))
            },
            |tr| bsd_timeout(tr, [Some(0), Some(1), Some(0), Some(0)]),
        ),
        case(
            "DN.4004",
            "BSD with a wrong length after a manual stop",
            "The operator stops the charger; the tester's BSD frames carry only 3 bytes, so no valid BSD arrives. CST (manual) every 10 ms, CEM SPN3927 10 s after the first CST.",
            || {
                base(60)
                    .act(charging(secs(2)), TesterAction::Dut(DutAction::ManualStop))
                    .rule(Window::ALWAYS, Key::Msg(Pgn::Bsd), Effect::Truncate(3))
                    .until_dut(CEM, millis(500))
            },
            |tr| bsd_timeout(tr, [Some(0), Some(1), Some(0), Some(0)]),
        ),
    ]
}
