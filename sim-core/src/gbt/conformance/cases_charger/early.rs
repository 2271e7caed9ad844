//! Charger cases of the handshake and parameter phases (DP/DN.1xxx, DP/DN.2xxx).

use super::*;

pub(super) fn phase1() -> Vec<Case> {
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
                    ensure(tr.count_dut(CRM_00) >= 4, || {
                        "fewer than 4 CRM(0x00)".into()
                    })?;
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
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Brm))
                    .until_dut(CEM, millis(500))
            },
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
                    .rule(
                        Window::ALWAYS,
                        Key::Msg(Pgn::Brm),
                        Effect::CorruptTpSequence,
                    )
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
                    .inject(
                        after(CRM_AA, Duration::ZERO),
                        millis(250),
                        payload(Pgn::Brm),
                    )
                    .until_dut(CEM, millis(500))
            },
            |tr| judge(|n| cem_after_first(tr, 3922, CRM_AA, secs(5), n)),
        ),
    ]
}

pub(super) fn phase2() -> Vec<Case> {
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
            || {
                Script::new(bms_with(|c| c.ready_delay = secs(3)), secs(40))
                    .until_dut(CRO_00, millis(200))
            },
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
            || {
                Script::new(bms_with(|c| c.ready_delay = secs(10)), secs(60))
                    .until_dut(CRO_AA, millis(300))
            },
            |tr| {
                judge(|n| {
                    let t0 = tr
                        .first_tester(BRO_00)
                        .ok_or("the tester sent no BRO(0x00)")?
                        .at;
                    let t1 = tr
                        .first_tester(BRO_AA)
                        .ok_or("the tester sent no BRO(0xAA)")?
                        .at;
                    none_between(tr, CRO, t0, t1)?;
                    none_between(tr, CEM, t0, end(tr) + millis(1))?;
                    period(tr, CML, 250, t0, t1, n)?;
                    let cro = first_after(tr, CRO, t1)?;
                    ensure(cro.at <= t1 + secs(1), || {
                        "CRO came more than 1 s after BRO(0xAA)".into()
                    })
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
                    let bro = tr
                        .first_tester(BRO_AA)
                        .ok_or("the tester sent no BRO(0xAA)")?
                        .at;
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
        .rule(
            after(CRO_00, Duration::ZERO),
            Key::Msg(Pgn::Bro),
            Effect::Mute,
        )
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
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Bcp))
                    .until_dut(CEM, millis(500))
            },
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
                    .rule(
                        Window::ALWAYS,
                        Key::Msg(Pgn::Bcp),
                        Effect::CorruptTpSequence,
                    )
                    .until_dut(CEM, millis(500))
            },
            |tr| judge(|n| cem_after_first(tr, 3922, CRM_AA, secs(5), n)),
        ),
        case(
            "DN.2003",
            "BRO timeout, nothing received",
            "The tester never sends BRO. The charger raises CEM SPN3923 5 s after it started CML.",
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Bro))
                    .until_dut(CEM, millis(500))
            },
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
