//! BMS cases of the handshake and parameter phases (BP/BN.1xxx, BP/BN.2xxx).

use super::*;

pub(super) fn phase1_positive() -> Vec<Case> {
    vec![
        case(
            "BP.1001",
            "BHM transmission",
            derived!(
                "After CHM the BMS sends BHM (2 bytes) every 250 ms and stops it once CRM arrives. Applies to vehicles powered by the charger's auxiliary supply (Amendment 1 lists BN.1001/BN.1002/BP.4003; BHM depends on the same supply)."
            ),
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
            derived!(
                "After CRM(0x00) the BMS sends BRM by transport protocol, 49 bytes, every 250 ms (the tester holds CRM(0xAA) back 1.5 s), and stops BRM after CRM(0xAA)."
            ),
            || {
                base(30)
                    .rule(
                        between(RTS_BRM, Duration::ZERO, millis(1500)),
                        CRM_AA,
                        Effect::Mute,
                    )
                    .until_dut(RTS_BCP, millis(100))
            },
            |tr| {
                judge(|n| {
                    tp_lengths(tr, Pgn::Brm, 49, n)?;
                    let aa = tr
                        .first_tester(CRM_AA)
                        .ok_or("the tester sent no CRM(0xAA)")?
                        .at;
                    tp_period(tr, Pgn::Brm, 250, tr.start(), aa, n)?;
                    none_between(tr, RTS_BRM, aa + millis(10), end(tr) + millis(1))
                })
            },
        ),
        case(
            "BP.1003",
            "BCP transmission",
            derived!(
                "After CRM(0xAA) the BMS sends BCP by transport protocol, 13 bytes, every 500 ms (the tester holds CML back 2 s), and stops BCP after CML."
            ),
            || {
                base(30)
                    .rule(
                        between(RTS_BCP, Duration::ZERO, secs(2)),
                        Key::Msg(Pgn::Cml),
                        Effect::Mute,
                    )
                    .until_dut(BRO, millis(100))
            },
            |tr| {
                judge(|n| {
                    tp_lengths(tr, Pgn::Bcp, 13, n)?;
                    let cml = tr
                        .first_tester(Key::Msg(Pgn::Cml))
                        .ok_or("the tester sent no CML")?
                        .at;
                    tp_period(tr, Pgn::Bcp, 500, tr.start(), cml, n)?;
                    none_between(tr, RTS_BCP, cml + millis(10), end(tr) + millis(1))
                })
            },
        ),
    ]
}

pub(super) fn phase1_negative() -> Vec<Case> {
    vec![
        case(
            "BN.1001",
            "no charger handshake after aux power-up",
            derived!(
                "The tester switches the auxiliary supply on but sends neither CHM nor CRM. The BMS sends no BHM and raises BEM SPN3901 60 s after power-up (Annex A.6). Applies only to vehicles powered by the charger's auxiliary supply (Amendment 1)."
            ),
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
            derived!(
                "The tester sends CHM but never CRM. The BMS answers with BHM and raises BEM SPN3901 30 s after the first CHM. Applies only to vehicles powered by the charger's auxiliary supply (Amendment 1)."
            ),
            || {
                base(60)
                    .mute(Key::Msg(Pgn::Crm))
                    .until_dut(BEM, millis(500))
            },
            |tr| judge(|n| bem_after_tester(tr, 3901, Key::Msg(Pgn::Chm), secs(30), n)),
        ),
        case(
            "BN.1003",
            "CRM(0xAA) timeout",
            derived!(
                "The tester never sends CRM(0xAA). The BMS keeps sending BRM and raises BEM SPN3902 5 s after CRM(0x00)."
            ),
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
            derived!(
                "The tester keeps sending CRM(0x00) every 250 ms (shifted half a period from the BMS's timer) and never CRM(0xAA). Repeated CRM(0x00) must not restart the BMS's timer: BEM SPN3902 5 s after the first CRM(0x00)."
            ),
            || {
                inject(
                    base(30)
                        .mute(CRM_AA)
                        .rule(after_first_crm(), CRM_00, Effect::Mute),
                    Window::from(Trigger::Tester(CRM_00, millis(125))),
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
            derived!(
                "The tester sends one CRM(0x00) and never answers BRM's RTS. The BMS retries the transfer (J1939 T3) and raises BEM SPN3902 5 s after CRM(0x00)."
            ),
            || {
                base(30)
                    .mute(Key::Cts(Pgn::Brm))
                    .rule(after_first_crm(), CRM_00, Effect::Mute)
                    .until_dut(BEM, millis(500))
            },
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
            derived!(
                "The tester sends one CRM(0x00) and answers every BRM RTS with a connection abort. The BMS starts the transfer again and raises BEM SPN3902 5 s after CRM(0x00)."
            ),
            || {
                let s = base(30)
                    .mute(Key::Cts(Pgn::Brm))
                    .rule(after_first_crm(), CRM_00, Effect::Mute)
                    .until_dut(BEM, millis(500));
                match frame_of(Pgn::TpCm, Node::Charger, &ABORT_BRM) {
                    Some(frame) => s.inject(
                        Window::ALWAYS,
                        Duration::ZERO,
                        InjectWhat::Reply { on: RTS_BRM, frame },
                    ),
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
            derived!(
                "After the first BRM the tester sends CEM for 1 s and holds CRM(0xAA) back. The BMS stops BRM (error state, Annex A.11), sends no BCP, and identifies again after the next CRM(0x00)."
            ),
            || {
                inject(
                    impatient(40).rule(
                        between(RTS_BRM, Duration::ZERO, secs(3)),
                        CRM_AA,
                        Effect::Mute,
                    ),
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
    let cem = tr
        .first_tester(Key::Msg(Pgn::Cem))
        .ok_or("the tester sent no CEM")?
        .at;
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

pub(super) fn phase1_recovery() -> Vec<Case> {
    vec![
        case(
            "BN.1008",
            "foreign frames on the bus during the handshake",
            derived!(
                "The tester adds frames of another ECU (0x0070F4B5 as in [T1]) and standard 11-bit frames every 100 ms. The BMS filters on SA/DA (§1.1) and completes the handshake into charging."
            ),
            || {
                let s = base(40).until_dut(BCL, millis(500));
                let s = inject(
                    s,
                    Window::ALWAYS,
                    millis(100),
                    CanFrame::new(0x0070_F4B5, &[0x11; 8]).ok(),
                );
                inject(
                    s,
                    Window::ALWAYS,
                    millis(100),
                    CanFrame::new_standard(0x123, &[0x01, 0x02]).ok(),
                )
            },
            |tr| {
                judge(|n| {
                    none_between(tr, BEM, tr.start(), end(tr) + millis(1))?;
                    let bcl = first(tr, BCL)?.at;
                    n.add(format!(
                        "charging after {} ms",
                        bcl.saturating_since(tr.start()).as_millis()
                    ));
                    Ok(())
                })
            },
        ),
        case(
            "BN.1009",
            "CRM with a wrong length is not accepted",
            derived!(
                "Every CRM the tester sends has no data bytes. The BMS must not take it for a recognition: no BRM, BEM SPN3901 30 s after the first CHM."
            ),
            || {
                base(60)
                    .rule(Window::ALWAYS, Key::Msg(Pgn::Crm), Effect::Truncate(0))
                    .until_dut(BEM, millis(500))
            },
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
            derived!(
                "The tester holds CRM(0xAA) back until the BMS's first BEM (SPN3902), then handshakes again from CRM(0x00). The BMS accepts the new CRM(0x00) within its 30 s wait (Annex A.12), sends BRM again and reaches BCP."
            ),
            || {
                base(60)
                    .rule(
                        Window {
                            from: Trigger::NOW,
                            until: Trigger::on_dut(BEM),
                        },
                        CRM_AA,
                        Effect::Mute,
                    )
                    .until_dut(RTS_BCP, millis(300))
            },
            |tr| {
                judge(|n| {
                    bem_after_tester(tr, 3902, CRM_00, secs(5), n)?;
                    let bem = error_with(tr, 3902)?.at;
                    let crm = tr
                        .of(false, CRM_00)
                        .find(|r| r.at > bem)
                        .ok_or("no new CRM(0x00)")?
                        .at;
                    let brm = first_after(tr, RTS_BRM, crm)?.at;
                    first_after(tr, RTS_BCP, brm).map(|_| ())
                })
            },
        ),
    ]
}

pub(super) fn phase2() -> Vec<Case> {
    vec![
        case(
            "BP.2001",
            "BRO transmission",
            derived!(
                "After CML the BMS sends BRO (1 byte) every 250 ms: 0x00 while it closes K5/K6, then 0xAA, until CRO(0xAA)."
            ),
            || base(30).until_dut(BCL, millis(100)),
            |tr| {
                judge(|n| {
                    lengths(tr, BRO, &[1], n)?;
                    let cml = tr.first_tester(Key::Msg(Pgn::Cml)).ok_or("no CML")?.at;
                    let b0 = first(tr, BRO_00)?.at;
                    let baa = first(tr, BRO_AA)?.at;
                    ensure(cml <= b0 && b0 <= baa, || {
                        "BRO order is not CML, BRO(0x00), BRO(0xAA)".into()
                    })?;
                    let cro = tr.first_tester(CRO_AA).ok_or("no CRO(0xAA)")?.at;
                    period(tr, BRO_00, 250, b0, cro, n)
                })
            },
        ),
        case(
            "BP.2002",
            "BCP stops after CML",
            derived!(
                "Once CML arrives the BMS starts no further BCP transfer and starts BRO within 500 ms."
            ),
            || base(30).until_dut(BRO_AA, millis(300)),
            |tr| {
                judge(|n| {
                    let cml = tr.first_tester(Key::Msg(Pgn::Cml)).ok_or("no CML")?.at;
                    none_between(tr, RTS_BCP, cml + millis(10), end(tr) + millis(1))?;
                    let bro = first(tr, BRO)?.at;
                    n.add(format!(
                        "BRO {} ms after CML",
                        bro.saturating_since(cml).as_millis()
                    ));
                    ensure(bro <= cml + millis(500), || {
                        "BRO more than 500 ms after CML".into()
                    })
                })
            },
        ),
        case(
            "BP.2003",
            "charging messages start after CRO(0xAA)",
            derived!(
                "Once CRO(0xAA) arrives the BMS stops BRO and starts BCL and BCS within 500 ms (Annex D)."
            ),
            || base(30).until_dut(BCL, secs(1)),
            |tr| {
                judge(|n| {
                    let cro = tr.first_tester(CRO_AA).ok_or("no CRO(0xAA)")?.at;
                    none_between(tr, BRO, cro + millis(10), end(tr) + millis(1))?;
                    none_between(tr, BCL, tr.start(), cro)?;
                    let bcl = first(tr, BCL)?.at;
                    let bcs = first(tr, RTS_BCS)?.at;
                    n.add(format!(
                        "BCL {} ms, BCS {} ms after CRO(0xAA)",
                        bcl.saturating_since(cro).as_millis(),
                        bcs.saturating_since(cro).as_millis()
                    ));
                    ensure(bcl <= cro + millis(500) && bcs <= cro + millis(500), || {
                        "BCL/BCS later than 500 ms".into()
                    })
                })
            },
        ),
        case(
            "BN.2001",
            "CTS/CML timeout",
            derived!(
                "The tester sends neither CTS nor CML. The BMS raises BEM SPN3903 5 s after CRM(0xAA)."
            ),
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Cml))
                    .mute(Key::Msg(Pgn::Cts))
                    .until_dut(BEM, millis(500))
            },
            |tr| judge(|n| bem_after_tester(tr, 3903, CRM_AA, secs(5), n)),
        ),
        case(
            "BN.2002",
            "CTS without CML",
            derived!(
                "The tester sends CTS but never CML. CTS alone is not enough: BEM SPN3903 5 s after CRM(0xAA)."
            ),
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Cml))
                    .until_dut(BEM, millis(500))
            },
            |tr| judge(|n| bem_after_tester(tr, 3903, CRM_AA, secs(5), n)),
        ),
        case(
            "BN.2003",
            "CRO timeout, nothing received",
            derived!(
                "The tester never sends CRO. The BMS raises BEM SPN3904 5 s after its BRO(0xAA)."
            ),
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Cro))
                    .until_dut(BEM, millis(500))
            },
            |tr| judge(|n| bem_after_dut(tr, 3904, BRO_AA, secs(5), n)),
        ),
        case(
            "BN.2004",
            "CRO(0xAA) timeout",
            derived!(
                "The tester's pre-charge never completes, so it sends CRO(0x00) only. The BMS waits 60 s for CRO(0xAA) and raises BEM SPN3904."
            ),
            || holding_charger(100).until_dut(BEM, millis(500)),
            |tr| judge(|n| bem_after_dut(tr, 3904, BRO_AA, secs(60), n)),
        ),
        case(
            "BN.2005",
            "CRO interrupted",
            derived!(
                "The tester sends CRO(0x00) for 2 s after BRO(0xAA), then nothing. The BMS raises BEM SPN3904 5 s after the last CRO."
            ),
            || {
                holding_charger(40)
                    .rule(
                        Window::from(Trigger::Dut(BRO_AA, secs(2))),
                        Key::Msg(Pgn::Cro),
                        Effect::Mute,
                    )
                    .until_dut(BEM, millis(500))
            },
            |tr| judge(|n| bem_after_last_tester(tr, 3904, Key::Msg(Pgn::Cro), secs(5), n)),
        ),
        case(
            "BN.2006",
            "CEM received during parameter configuration",
            derived!(
                "During BCP the tester sends CEM (SPN3922) for 1 s and holds CML back. The BMS stops BCP (error state), sends no BRO, and identifies again after the next CRM(0x00)."
            ),
            || {
                inject(
                    impatient(40).rule(
                        between(RTS_BCP, Duration::ZERO, secs(3)),
                        Key::Msg(Pgn::Cml),
                        Effect::Mute,
                    ),
                    between(RTS_BCP, millis(50), millis(1050)),
                    millis(250),
                    charger_frame(Pgn::Cem, &CEM_BCP),
                )
                .until_dut(BRO, millis(100))
            },
            |tr| {
                judge(|n| {
                    let cem = tr.first_tester(Key::Msg(Pgn::Cem)).ok_or("no CEM")?.at;
                    let crm = tr
                        .of(false, CRM_00)
                        .find(|r| r.at > cem)
                        .ok_or("no new CRM(0x00)")?
                        .at;
                    none_between(tr, BRO, cem, crm)?;
                    stops_then_retries(tr, RTS_BCP, n)
                })
            },
        ),
        case(
            "BN.2007",
            "CML with maximum and minimum current swapped",
            derived!(
                "The tester's CML carries its current limits swapped, as a real charger did ([T2] candump2). The BMS takes the magnitudes (§6.3) and goes on to BRO(0xAA) without BEM."
            ),
            || {
                base(30)
                    .rule(Window::ALWAYS, Key::Msg(Pgn::Cml), Effect::SwapCmlCurrents)
                    .until_dut(BRO_AA, millis(300))
            },
            |tr| {
                judge(|_| {
                    none_between(tr, BEM, tr.start(), end(tr) + millis(1))?;
                    first(tr, BRO_AA).map(|_| ())
                })
            },
        ),
    ]
}
