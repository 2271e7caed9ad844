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
use super::script::{DutAction, Effect, InjectWhat, PeerConfig, Script, TesterAction, Trigger, Window};
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

/// The tester charger, adjusted by `f`.
fn charger_with(f: impl FnOnce(&mut ChargerConfig)) -> PeerConfig {
    let mut cfg = ChargerConfig::default();
    f(&mut cfg);
    PeerConfig::Charger(Box::new(cfg))
}

/// A script with the default tester charger, at most `max_s` seconds long.
fn base(max_s: u64) -> Script {
    Script::new(charger_with(|_| {}), secs(max_s))
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
fn bem_after_tester(tr: &Trace, spn: u16, reference: Key, nominal: Duration, n: &mut Notes) -> Check {
    let bem = error_with(tr, spn)?;
    let t_ref = tr
        .first_tester(reference)
        .ok_or_else(|| format!("the tester never sent {reference:?}"))?
        .at;
    timeout_window(&format!("BEM SPN{spn}"), t_ref, bem.at, nominal, n)
}

/// BEM `spn` comes `nominal` after the tester's last frame of `reference` before it.
fn bem_after_last_tester(tr: &Trace, spn: u16, reference: Key, nominal: Duration, n: &mut Notes) -> Check {
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
    ensure(bst.frame.len() >= 4, || format!("BST has {} bytes, expected 4", bst.frame.len()))?;
    let f = |shift| field2(&bst.frame, 0, shift).unwrap_or(0xFF);
    Ok([f(0), f(2), f(4), f(6)])
}

/// The DUT's reassembled multi-packet messages of `pgn` all have `len` bytes.
fn tp_lengths(tr: &Trace, pgn: Pgn, len: usize, n: &mut Notes) -> Check {
    let msgs: Vec<_> = tr.dut_tp_messages().into_iter().filter(|(_, p, _)| *p == pgn).collect();
    ensure(!msgs.is_empty(), || format!("no complete {} from the DUT", pgn.code()))?;
    for (_, _, data) in &msgs {
        ensure(data.len() == len, || format!("{} of {} bytes, expected {len}", pgn.code(), data.len()))?;
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
    let mut all = phase1_positive();
    all.extend(phase1_negative());
    all.extend(phase1_recovery());
    all.extend(phase2());
    all.extend(phase3_positive());
    all.extend(phase3_negative());
    all.extend(phase4());
    all
}

fn phase1_positive() -> Vec<Case> {
    vec![
        case(
            "BP.1001",
            "BHM transmission",
            derived!("After CHM the BMS sends BHM (2 bytes) every 250 ms and stops it once CRM arrives. Applies to vehicles powered by the charger's auxiliary supply (Amendment 1 lists BN.1001/BN.1002/BP.4003; BHM depends on the same supply)."),
            || base(30).until_dut(RTS_BRM, millis(100)),
            |tr| {
                judge(|n| {
                    lengths(tr, BHM, &[2], n)?;
                    let crm = tr.first_tester(CRM_00).ok_or("the tester sent no CRM")?.at;
                    period(tr, BHM, 250, tr.start(), crm, n)?;
                    none_between(tr, BHM, crm + millis(10), end(tr) + millis(1))
                })
            },
        ),
        case(
            "BP.1002",
            "BRM transmission",
            derived!("After CRM(0x00) the BMS sends BRM by transport protocol, 49 bytes, every 250 ms (the tester holds CRM(0xAA) back 1.5 s), and stops BRM after CRM(0xAA)."),
            || {
                base(30)
                    .rule(between(RTS_BRM, Duration::ZERO, millis(1500)), CRM_AA, Effect::Mute)
                    .until_dut(RTS_BCP, millis(100))
            },
            |tr| {
                judge(|n| {
                    tp_lengths(tr, Pgn::Brm, 49, n)?;
                    let aa = tr.first_tester(CRM_AA).ok_or("the tester sent no CRM(0xAA)")?.at;
                    tp_period(tr, Pgn::Brm, 250, tr.start(), aa, n)?;
                    none_between(tr, RTS_BRM, aa + millis(10), end(tr) + millis(1))
                })
            },
        ),
        case(
            "BP.1003",
            "BCP transmission",
            derived!("After CRM(0xAA) the BMS sends BCP by transport protocol, 13 bytes, every 500 ms (the tester holds CML back 2 s), and stops BCP after CML."),
            || {
                base(30)
                    .rule(between(RTS_BCP, Duration::ZERO, secs(2)), Key::Msg(Pgn::Cml), Effect::Mute)
                    .until_dut(BRO, millis(100))
            },
            |tr| {
                judge(|n| {
                    tp_lengths(tr, Pgn::Bcp, 13, n)?;
                    let cml = tr.first_tester(Key::Msg(Pgn::Cml)).ok_or("the tester sent no CML")?.at;
                    tp_period(tr, Pgn::Bcp, 500, tr.start(), cml, n)?;
                    none_between(tr, RTS_BCP, cml + millis(10), end(tr) + millis(1))
                })
            },
        ),
    ]
}

fn phase1_negative() -> Vec<Case> {
    vec![
        case(
            "BN.1001",
            "no charger handshake after aux power-up",
            derived!("The tester switches the auxiliary supply on but sends neither CHM nor CRM. The BMS sends no BHM and raises BEM SPN3901 60 s after power-up (Annex A.6). Applies only to vehicles powered by the charger's auxiliary supply (Amendment 1)."),
            || {
                base(90)
                    .mute(Key::Msg(Pgn::Chm))
                    .mute(Key::Msg(Pgn::Crm))
                    .until_dut(BEM, millis(500))
            },
            |tr| {
                judge(|n| {
                    none_between(tr, BHM, tr.start(), end(tr) + millis(1))?;
                    let bem = error_with(tr, 3901)?;
                    timeout_window("BEM SPN3901", tr.start(), bem.at, secs(60), n)
                })
            },
        ),
        case(
            "BN.1002",
            "CRM timeout after CHM",
            derived!("The tester sends CHM but never CRM. The BMS answers with BHM and raises BEM SPN3901 30 s after the first CHM. Applies only to vehicles powered by the charger's auxiliary supply (Amendment 1)."),
            || base(60).mute(Key::Msg(Pgn::Crm)).until_dut(BEM, millis(500)),
            |tr| judge(|n| bem_after_tester(tr, 3901, Key::Msg(Pgn::Chm), secs(30), n)),
        ),
        case(
            "BN.1003",
            "CRM(0xAA) timeout",
            derived!("The tester never sends CRM(0xAA). The BMS keeps sending BRM and raises BEM SPN3902 5 s after CRM(0x00)."),
            || base(30).mute(CRM_AA).until_dut(BEM, millis(500)),
            |tr| {
                judge(|n| {
                    bem_after_tester(tr, 3902, CRM_00, secs(5), n)?;
                    let bem = error_with(tr, 3902)?.at;
                    let crm = tr.first_tester(CRM_00).ok_or("no CRM(0x00)")?.at;
                    tp_period(tr, Pgn::Brm, 250, crm, bem, n)
                })
            },
        ),
        case(
            "BN.1004",
            "CRM(0x00) keeps arriving while BRM is sent",
            derived!("The tester keeps sending CRM(0x00) every 250 ms and never CRM(0xAA). Repeated CRM(0x00) must not restart the BMS's timer: BEM SPN3902 5 s after the first CRM(0x00)."),
            || {
                inject(
                    base(30).mute(CRM_AA),
                    Window::from(Trigger::Tester(CRM_00, millis(250))),
                    millis(250),
                    charger_frame(Pgn::Crm, &CRM_00_DATA),
                )
                .until_dut(BEM, millis(500))
            },
            |tr| judge(|n| bem_after_tester(tr, 3902, CRM_00, secs(5), n)),
        ),
        case(
            "BN.1005",
            "no CTS for the BRM transfer",
            derived!("The tester never answers BRM's RTS. The BMS retries the transfer (J1939 T3) and raises BEM SPN3902 5 s after CRM(0x00)."),
            || base(30).mute(Key::Cts(Pgn::Brm)).until_dut(BEM, millis(500)),
            |tr| {
                judge(|n| {
                    let rts = tr.count_dut(RTS_BRM);
                    n.add(format!("{rts} BRM RTS sent"));
                    ensure(rts >= 2, || "the BMS did not retry the BRM transfer".into())?;
                    bem_after_tester(tr, 3902, CRM_00, secs(5), n)
                })
            },
        ),
        case(
            "BN.1006",
            "the charger aborts the BRM transfer",
            derived!("The tester answers every BRM RTS with a connection abort. The BMS starts the transfer again and raises BEM SPN3902 5 s after CRM(0x00)."),
            || {
                let s = base(30).mute(Key::Cts(Pgn::Brm)).until_dut(BEM, millis(500));
                match frame_of(Pgn::TpCm, Node::Charger, &ABORT_BRM) {
                    Some(frame) => s.inject(Window::ALWAYS, Duration::ZERO, InjectWhat::Reply { on: RTS_BRM, frame }),
                    None => s,
                }
            },
            |tr| {
                judge(|n| {
                    let rts = tr.count_dut(RTS_BRM);
                    n.add(format!("{rts} BRM RTS sent"));
                    ensure(rts >= 2, || "the BMS did not retry after the abort".into())?;
                    bem_after_tester(tr, 3902, CRM_00, secs(5), n)
                })
            },
        ),
        case(
            "BN.1007",
            "CEM received during identification",
            derived!("After the first BRM the tester sends CEM for 1 s and holds CRM(0xAA) back. The BMS stops BRM (error state, Annex A.11), sends no BCP, and identifies again after the next CRM(0x00)."),
            || {
                inject(
                    base(40).rule(between(RTS_BRM, Duration::ZERO, secs(3)), CRM_AA, Effect::Mute),
                    between(RTS_BRM, millis(100), millis(1100)),
                    millis(250),
                    charger_frame(Pgn::Cem, &CEM_BRM),
                )
                .until_dut(RTS_BCP, millis(300))
            },
            |tr| judge(|n| stops_then_retries(tr, RTS_BRM, n)),
        ),
    ]
}

/// After the tester's first CEM the DUT stops `key` (within 500 ms) until the next
/// CRM(0x00), then identifies again (BRM) and reaches BCP.
fn stops_then_retries(tr: &Trace, key: Key, n: &mut Notes) -> Check {
    let cem = tr.first_tester(Key::Msg(Pgn::Cem)).ok_or("the tester sent no CEM")?.at;
    let crm = tr
        .of(false, CRM_00)
        .find(|r| r.at > cem)
        .ok_or("the tester sent no new CRM(0x00)")?
        .at;
    none_between(tr, key, cem + millis(500), crm)?;
    none_between(tr, RTS_BCP, cem + millis(500), crm)?;
    let brm = first_after(tr, RTS_BRM, crm)?.at;
    n.add(format!(
        "silent {} ms after CEM; BRM again {} ms after CRM(0x00)",
        crm.saturating_since(cem).as_millis(),
        brm.saturating_since(crm).as_millis()
    ));
    first_after(tr, RTS_BCP, brm).map(|_| ())
}

fn phase1_recovery() -> Vec<Case> {
    vec![
        case(
            "BN.1008",
            "foreign frames on the bus during the handshake",
            derived!("The tester adds frames of another ECU (0x0070F4B5 as in [T1]) and standard 11-bit frames every 100 ms. The BMS filters on SA/DA (§1.1) and completes the handshake into charging."),
            || {
                let s = base(40).until_dut(BCL, millis(500));
                let s = inject(s, Window::ALWAYS, millis(100), CanFrame::new(0x0070_F4B5, &[0x11; 8]).ok());
                inject(s, Window::ALWAYS, millis(100), CanFrame::new_standard(0x123, &[0x01, 0x02]).ok())
            },
            |tr| {
                judge(|n| {
                    none_between(tr, BEM, tr.start(), end(tr) + millis(1))?;
                    let bcl = first(tr, BCL)?.at;
                    n.add(format!("charging after {} ms", bcl.saturating_since(tr.start()).as_millis()));
                    Ok(())
                })
            },
        ),
        case(
            "BN.1009",
            "CRM with a wrong length is not accepted",
            derived!("Every CRM the tester sends has no data bytes. The BMS must not take it for a recognition: no BRM, BEM SPN3901 30 s after the first CHM."),
            || base(60).rule(Window::ALWAYS, Key::Msg(Pgn::Crm), Effect::Truncate(0)).until_dut(BEM, millis(500)),
            |tr| {
                judge(|n| {
                    none_between(tr, RTS_BRM, tr.start(), end(tr) + millis(1))?;
                    bem_after_tester(tr, 3901, Key::Msg(Pgn::Chm), secs(30), n)
                })
            },
        ),
        case(
            "BN.1010",
            "re-handshake after BEM",
            derived!("The tester holds CRM(0xAA) back until the BMS's first BEM (SPN3902), then handshakes again from CRM(0x00). The BMS accepts the new CRM(0x00) within its 30 s wait (Annex A.12), sends BRM again and reaches BCP."),
            || {
                base(60)
                    .rule(Window { from: Trigger::NOW, until: Trigger::on_dut(BEM) }, CRM_AA, Effect::Mute)
                    .until_dut(RTS_BCP, millis(300))
            },
            |tr| {
                judge(|n| {
                    bem_after_tester(tr, 3902, CRM_00, secs(5), n)?;
                    let bem = error_with(tr, 3902)?.at;
                    let crm = tr.of(false, CRM_00).find(|r| r.at > bem).ok_or("no new CRM(0x00)")?.at;
                    let brm = first_after(tr, RTS_BRM, crm)?.at;
                    first_after(tr, RTS_BCP, brm).map(|_| ())
                })
            },
        ),
    ]
}

fn phase2() -> Vec<Case> {
    vec![
        case(
            "BP.2001",
            "BRO transmission",
            derived!("After CML the BMS sends BRO (1 byte) every 250 ms: 0x00 while it closes K5/K6, then 0xAA, until CRO(0xAA)."),
            || base(30).until_dut(BCL, millis(100)),
            |tr| {
                judge(|n| {
                    lengths(tr, BRO, &[1], n)?;
                    let cml = tr.first_tester(Key::Msg(Pgn::Cml)).ok_or("no CML")?.at;
                    let b0 = first(tr, BRO_00)?.at;
                    let baa = first(tr, BRO_AA)?.at;
                    ensure(cml <= b0 && b0 <= baa, || "BRO order is not CML, BRO(0x00), BRO(0xAA)".into())?;
                    let cro = tr.first_tester(CRO_AA).ok_or("no CRO(0xAA)")?.at;
                    period(tr, BRO_00, 250, b0, cro, n)
                })
            },
        ),
        case(
            "BP.2002",
            "BCP stops after CML",
            derived!("Once CML arrives the BMS starts no further BCP transfer and starts BRO within 500 ms."),
            || base(30).until_dut(BRO_AA, millis(300)),
            |tr| {
                judge(|n| {
                    let cml = tr.first_tester(Key::Msg(Pgn::Cml)).ok_or("no CML")?.at;
                    none_between(tr, RTS_BCP, cml + millis(10), end(tr) + millis(1))?;
                    let bro = first(tr, BRO)?.at;
                    n.add(format!("BRO {} ms after CML", bro.saturating_since(cml).as_millis()));
                    ensure(bro <= cml + millis(500), || "BRO more than 500 ms after CML".into())
                })
            },
        ),
        case(
            "BP.2003",
            "charging messages start after CRO(0xAA)",
            derived!("Once CRO(0xAA) arrives the BMS stops BRO and starts BCL and BCS within 500 ms (Annex D)."),
            || base(30).until_dut(BCL, secs(1)),
            |tr| {
                judge(|n| {
                    let cro = tr.first_tester(CRO_AA).ok_or("no CRO(0xAA)")?.at;
                    none_between(tr, BRO, cro + millis(10), end(tr) + millis(1))?;
                    none_between(tr, BCL, tr.start(), cro)?;
                    let bcl = first(tr, BCL)?.at;
                    let bcs = first(tr, RTS_BCS)?.at;
                    n.add(format!("BCL {} ms, BCS {} ms after CRO(0xAA)", bcl.saturating_since(cro).as_millis(), bcs.saturating_since(cro).as_millis()));
                    ensure(bcl <= cro + millis(500) && bcs <= cro + millis(500), || "BCL/BCS later than 500 ms".into())
                })
            },
        ),
        case(
            "BN.2001",
            "CTS/CML timeout",
            derived!("The tester sends neither CTS nor CML. The BMS raises BEM SPN3903 5 s after CRM(0xAA)."),
            || base(30).mute(Key::Msg(Pgn::Cml)).mute(Key::Msg(Pgn::Cts)).until_dut(BEM, millis(500)),
            |tr| judge(|n| bem_after_tester(tr, 3903, CRM_AA, secs(5), n)),
        ),
        case(
            "BN.2002",
            "CTS without CML",
            derived!("The tester sends CTS but never CML. CTS alone is not enough: BEM SPN3903 5 s after CRM(0xAA)."),
            || base(30).mute(Key::Msg(Pgn::Cml)).until_dut(BEM, millis(500)),
            |tr| judge(|n| bem_after_tester(tr, 3903, CRM_AA, secs(5), n)),
        ),
        case(
            "BN.2003",
            "CRO timeout, nothing received",
            derived!("The tester never sends CRO. The BMS raises BEM SPN3904 5 s after its BRO(0xAA)."),
            || base(30).mute(Key::Msg(Pgn::Cro)).until_dut(BEM, millis(500)),
            |tr| judge(|n| bem_after_dut(tr, 3904, BRO_AA, secs(5), n)),
        ),
        case(
            "BN.2004",
            "CRO(0xAA) timeout",
            derived!("The tester's pre-charge never completes, so it sends CRO(0x00) only. The BMS waits 60 s for CRO(0xAA) and raises BEM SPN3904."),
            || holding_charger(100).until_dut(BEM, millis(500)),
            |tr| judge(|n| bem_after_dut(tr, 3904, BRO_AA, secs(60), n)),
        ),
        case(
            "BN.2005",
            "CRO interrupted",
            derived!("The tester sends CRO(0x00) for 2 s after BRO(0xAA), then nothing. The BMS raises BEM SPN3904 5 s after the last CRO."),
            || {
                holding_charger(40)
                    .rule(Window::from(Trigger::Dut(BRO_AA, secs(2))), Key::Msg(Pgn::Cro), Effect::Mute)
                    .until_dut(BEM, millis(500))
            },
            |tr| judge(|n| bem_after_last_tester(tr, 3904, Key::Msg(Pgn::Cro), secs(5), n)),
        ),
        case(
            "BN.2006",
            "CEM received during parameter configuration",
            derived!("During BCP the tester sends CEM (SPN3922) for 1 s and holds CML back. The BMS stops BCP (error state), sends no BRO, and identifies again after the next CRM(0x00)."),
            || {
                inject(
                    base(40).rule(between(RTS_BCP, Duration::ZERO, secs(3)), Key::Msg(Pgn::Cml), Effect::Mute),
                    between(RTS_BCP, millis(50), millis(1050)),
                    millis(250),
                    charger_frame(Pgn::Cem, &CEM_BCP),
                )
                .until_dut(BRO, millis(100))
            },
            |tr| {
                judge(|n| {
                    let cem = tr.first_tester(Key::Msg(Pgn::Cem)).ok_or("no CEM")?.at;
                    let crm = tr.of(false, CRM_00).find(|r| r.at > cem).ok_or("no new CRM(0x00)")?.at;
                    none_between(tr, BRO, cem, crm)?;
                    stops_then_retries(tr, RTS_BCP, n)
                })
            },
        ),
        case(
            "BN.2007",
            "CML with maximum and minimum current swapped",
            derived!("The tester's CML carries its current limits swapped, as a real charger did ([T2] candump2). The BMS takes the magnitudes (§6.3) and goes on to BRO(0xAA) without BEM."),
            || base(30).rule(Window::ALWAYS, Key::Msg(Pgn::Cml), Effect::SwapCmlCurrents).until_dut(BRO_AA, millis(300)),
            |tr| {
                judge(|_| {
                    none_between(tr, BEM, tr.start(), end(tr) + millis(1))?;
                    first(tr, BRO_AA).map(|_| ())
                })
            },
        ),
    ]
}

fn phase3_positive() -> Vec<Case> {
    vec![
        case(
            "BP.3001",
            "BCL transmission",
            derived!("During charging the BMS sends BCL (5 bytes) every 50 ms."),
            || base(30).until_dut(BCL, secs(5)),
            |tr| {
                judge(|n| {
                    lengths(tr, BCL, &[5], n)?;
                    let t0 = first(tr, BCL)?.at;
                    period(tr, BCL, 50, t0, end(tr), n)
                })
            },
        ),
        case(
            "BP.3002",
            "BCS transmission",
            derived!("During charging the BMS sends BCS by transport protocol, 9 bytes, every 250 ms."),
            || base(30).until_dut(BCL, secs(5)),
            |tr| {
                judge(|n| {
                    tp_lengths(tr, Pgn::Bcs, 9, n)?;
                    let t0 = first(tr, RTS_BCS)?.at;
                    tp_period(tr, Pgn::Bcs, 250, t0, end(tr), n)
                })
            },
        ),
        case(
            "BP.3003",
            "BSM transmission starts with CCS",
            derived!("The tester holds CCS back 600 ms into charging. The BMS sends no BSM before the first CCS, then BSM (7 bytes) every 250 ms (Annex D)."),
            || base(30).rule(between(BCL, Duration::ZERO, millis(600)), Key::Msg(Pgn::Ccs), Effect::Mute).until_dut(BCL, secs(4)),
            |tr| {
                judge(|n| {
                    let ccs = tr.first_tester(Key::Msg(Pgn::Ccs)).ok_or("no CCS")?.at;
                    none_between(tr, BSM, tr.start(), ccs)?;
                    lengths(tr, BSM, &[7], n)?;
                    period(tr, BSM, 250, ccs, end(tr), n)
                })
            },
        ),
        case(
            "BP.3004",
            "CST received: BST with charger stopped",
            derived!("2 s into charging the tester stops (manual CST). The BMS answers with BST (4 bytes) carrying \"charger stopped\" (SPN3511 bits 7–8 = 01), stops BCL and sends BSD."),
            || base(30).act(charging(secs(2)), TesterAction::ChargerStop(ChargerStopCause::Manual)).until_dut(BSD, secs(1)),
            |tr| {
                judge(|n| {
                    let cst = tr.first_tester(Key::Msg(Pgn::Cst)).ok_or("no CST")?.at;
                    let r = bst_reason(tr, n)?;
                    ensure(r[3] == 1, || format!("BST reason fields {r:?}, expected charger stopped"))?;
                    lengths(tr, BST, &[4], n)?;
                    let bst = first(tr, BST)?.at;
                    ensure(bst >= cst, || "BST before CST".into())?;
                    none_between(tr, BCL, bst + millis(10), end(tr) + millis(1))?;
                    first_after(tr, BSD, bst).map(|_| ())
                })
            },
        ),
        case(
            "BP.3005",
            "vehicle-initiated stop",
            derived!("2 s into charging the vehicle reaches its SOC target. The BMS sends BST with \"SOC target reached\", stops BCL, and sends BSD after CST."),
            || base(30).act(charging(secs(2)), TesterAction::Dut(DutAction::VehicleStop(BmsStopCause::SocTargetReached))).until_dut(BSD, secs(1)),
            |tr| {
                judge(|n| {
                    let r = bst_reason(tr, n)?;
                    ensure(r[0] == 1 && r[3] == 0, || format!("BST reason fields {r:?}, expected SOC target reached"))?;
                    let bst = first(tr, BST)?.at;
                    none_between(tr, BCL, bst + millis(10), end(tr) + millis(1))?;
                    let cst = tr.first_tester(Key::Msg(Pgn::Cst)).ok_or("no CST")?.at;
                    first_after(tr, BSD, cst).map(|_| ())
                })
            },
        ),
    ]
}

/// Mutes or damages the tester's `pgn` from 2 s into charging.
fn in_charging(pgn: Pgn, effect: Effect) -> Script {
    base(30).rule(Window::from(charging(secs(2))), Key::Msg(pgn), effect).until_dut(BEM, millis(500))
}

fn phase3_negative() -> Vec<Case> {
    vec![
        case(
            "BN.3001",
            "CCS timeout, nothing received",
            derived!("The tester never sends CCS. The BMS raises BEM SPN3905 1 s after it started charging (its first BCL)."),
            || base(30).mute(Key::Msg(Pgn::Ccs)).until_dut(BEM, millis(500)),
            |tr| judge(|n| bem_after_dut(tr, 3905, BCL, secs(1), n)),
        ),
        case(
            "BN.3002",
            "CCS stops during charging",
            derived!("2 s into charging the tester stops CCS. The BMS raises BEM SPN3905 1 s after the last CCS and stops BCL (\"end charging immediately\")."),
            || in_charging(Pgn::Ccs, Effect::Mute),
            |tr| {
                judge(|n| {
                    bem_after_last_tester(tr, 3905, Key::Msg(Pgn::Ccs), secs(1), n)?;
                    let bem = error_with(tr, 3905)?.at;
                    none_between(tr, BCL, bem + millis(1), end(tr) + millis(1))
                })
            },
        ),
        case(
            "BN.3003",
            "CCS period too long",
            derived!("2 s into charging the tester sends only every 30th CCS (1.5 s apart). The BMS raises BEM SPN3905 1 s after a CCS."),
            || in_charging(Pgn::Ccs, Effect::Thin(30)),
            |tr| judge(|n| bem_after_last_tester(tr, 3905, Key::Msg(Pgn::Ccs), secs(1), n)),
        ),
        case(
            "BN.3004",
            "CEM received while charging",
            derived!("2 s into charging the tester sends CEM (SPN3925) for 1 s. The BMS stops charging: no BCL from 500 ms after the first CEM."),
            || inject(base(30), between(BCL, secs(2), secs(3)), millis(250), charger_frame(Pgn::Cem, &CEM_BCL)).until_dut(BCL, secs(6)),
            |tr| {
                judge(|n| {
                    let cem = tr.first_tester(Key::Msg(Pgn::Cem)).ok_or("no CEM")?.at;
                    let last = tr.dut_frames(BCL).take_while(|r| r.at < cem + secs(5)).last().ok_or("no BCL")?.at;
                    n.add(format!("last BCL {} ms after CEM", last.saturating_since(cem).as_millis()));
                    none_between(tr, BCL, cem + millis(500), end(tr) + millis(1))
                })
            },
        ),
        case(
            "BN.3005",
            "CCS with a wrong length",
            derived!("Every CCS the tester sends has 3 bytes (too short to decode). The BMS must not accept it: BEM SPN3905 1 s after charging started."),
            || base(30).rule(Window::ALWAYS, Key::Msg(Pgn::Ccs), Effect::Truncate(3)).until_dut(BEM, millis(500)),
            |tr| judge(|n| bem_after_dut(tr, 3905, BCL, secs(1), n)),
        ),
        case(
            "BN.3006",
            "BCS transfer stalls, BCL keeps its period",
            derived!("1 s into charging the tester stops answering BCS's RTS. The BMS keeps sending BCL every 50 ms (a stalled transfer must not block single frames), gaps at most 100 ms."),
            || base(30).rule(Window::from(charging(secs(1))), Key::Cts(Pgn::Bcs), Effect::Mute).until_dut(BCL, millis(4500)),
            |tr| {
                judge(|n| {
                    let t0 = first(tr, BCL)?.at;
                    period(tr, BCL, 50, t0 + millis(1500), t0 + millis(4500), n)?;
                    let st = tr.periods(BCL, t0 + millis(1500), t0 + millis(4500)).ok_or("no BCL")?;
                    ensure(st.max <= millis(100), || "a BCL gap above 100 ms".into())
                })
            },
        ),
        case(
            "BN.3007",
            "CST timeout after BST",
            derived!("2 s into charging the vehicle stops; the tester never sends CST. The BMS sends BST every 10 ms and raises BEM SPN3906 5 s after its first BST."),
            || {
                base(30)
                    .act(charging(secs(2)), TesterAction::Dut(DutAction::VehicleStop(BmsStopCause::SocTargetReached)))
                    .mute(Key::Msg(Pgn::Cst))
                    .until_dut(BEM, millis(500))
            },
            |tr| {
                judge(|n| {
                    bem_after_dut(tr, 3906, BST, secs(5), n)?;
                    let t0 = first(tr, BST)?.at;
                    period(tr, BST, 10, t0, error_with(tr, 3906)?.at, n)
                })
            },
        ),
        case(
            "BN.3008",
            "charger emergency stop during charging",
            derived!("2 s into charging the tester charger has an emergency stop (CST fault). The BMS answers with BST \"charger stopped\" and sends BSD."),
            || base(30).act(charging(secs(2)), TesterAction::ChargerFault(ChargerFault::EmergencyStop)).until_dut(BSD, secs(1)),
            |tr| {
                judge(|n| {
                    let r = bst_reason(tr, n)?;
                    ensure(r[3] == 1, || format!("BST reason fields {r:?}, expected charger stopped"))?;
                    first(tr, BSD).map(|_| ())
                })
            },
        ),
    ]
}

fn stop_without_csd(action: TesterAction, effect: Effect) -> Script {
    base(40)
        .act(charging(secs(2)), action)
        .rule(Window::ALWAYS, Key::Msg(Pgn::Csd), effect)
        .until_dut(BEM, millis(500))
}

fn phase4() -> Vec<Case> {
    vec![
        case(
            "BP.4001",
            "BSD transmission",
            derived!("After the tester's CST the BMS sends BSD (7 bytes) every 250 ms until CSD (the tester holds CSD back 600 ms)."),
            || {
                base(30)
                    .act(charging(secs(2)), TesterAction::ChargerStop(ChargerStopCause::Manual))
                    .rule(between(BSD, Duration::ZERO, millis(600)), Key::Msg(Pgn::Csd), Effect::Mute)
                    .until_dut(BSD, secs(3))
            },
            |tr| {
                judge(|n| {
                    lengths(tr, BSD, &[7], n)?;
                    let t0 = first(tr, BSD)?.at;
                    let csd = tr.first_tester(Key::Msg(Pgn::Csd)).ok_or("no CSD")?.at;
                    period(tr, BSD, 250, t0, csd, n)
                })
            },
        ),
        case(
            "BP.4002",
            "CSD ends the session",
            derived!("The tester stops and sends CSD after BSD. The BMS stops BSD within 300 ms of CSD and raises no BEM."),
            || base(30).act(charging(secs(2)), TesterAction::ChargerStop(ChargerStopCause::Manual)).until_dut(BSD, secs(3)),
            |tr| {
                judge(|n| {
                    let csd = tr.first_tester(Key::Msg(Pgn::Csd)).ok_or("no CSD")?.at;
                    n.add(format!("CSD at {csd}"));
                    none_between(tr, BSD, csd + millis(300), end(tr) + millis(1))?;
                    none_between(tr, BEM, tr.start(), end(tr) + millis(1))
                })
            },
        ),
        case(
            "BP.4003",
            "silent after the auxiliary supply is switched off",
            derived!("After the session the tester (the bench) switches the auxiliary supply off. The BMS sends nothing more from 100 ms later. Applies only to vehicles powered by the charger's auxiliary supply (Amendment 1)."),
            || base(30).act(charging(secs(2)), TesterAction::ChargerStop(ChargerStopCause::Manual)).until_dut(BSD, secs(4)),
            |tr| {
                judge(|n| {
                    let last_csd = tr.of(false, Key::Msg(Pgn::Csd)).last().ok_or("no CSD")?.at;
                    n.add(format!("last CSD at {last_csd}"));
                    none_between(tr, Key::Any, last_csd + millis(100), end(tr) + millis(1))
                })
            },
        ),
        case(
            "BN.4001",
            "CSD timeout after a vehicle stop",
            derived!("The vehicle stops; the tester answers CST but never CSD. The BMS raises BEM SPN3907 10 s after its first BST."),
            || stop_without_csd(TesterAction::Dut(DutAction::VehicleStop(BmsStopCause::SocTargetReached)), Effect::Mute),
            |tr| judge(|n| bem_after_dut(tr, 3907, BST, secs(10), n)),
        ),
        case(
            "BN.4002",
            "CSD timeout after a charger stop",
            derived!("The tester stops (manual CST) and never sends CSD. The BMS raises BEM SPN3907 10 s after its first BST."),
            || stop_without_csd(TesterAction::ChargerStop(ChargerStopCause::Manual), Effect::Mute),
            |tr| judge(|n| bem_after_dut(tr, 3907, BST, secs(10), n)),
        ),
        case(
            "BN.4003",
            "CSD with a wrong length",
            derived!("The tester stops and its CSD frames carry 2 bytes, so no valid CSD arrives. BEM SPN3907 10 s after the first BST."),
            || stop_without_csd(TesterAction::ChargerStop(ChargerStopCause::Manual), Effect::Truncate(2)),
            |tr| judge(|n| bem_after_dut(tr, 3907, BST, secs(10), n)),
        ),
    ]
}
