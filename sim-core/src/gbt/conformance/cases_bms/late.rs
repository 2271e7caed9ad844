//! BMS cases of the charging and end phases (BP/BN.3xxx, BP/BN.4xxx).

use super::*;

pub(super) fn phase3_positive() -> Vec<Case> {
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
            derived!(
                "During charging the BMS sends BCS by transport protocol, 9 bytes, every 250 ms."
            ),
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
            derived!(
                "The tester holds CCS back 600 ms into charging. The BMS sends no BSM before the first CCS, then BSM (7 bytes) every 250 ms (Annex D)."
            ),
            || {
                base(30)
                    .rule(
                        between(BCL, Duration::ZERO, millis(600)),
                        Key::Msg(Pgn::Ccs),
                        Effect::Mute,
                    )
                    .until_dut(BCL, secs(4))
            },
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
            derived!(
                "2 s into charging the tester stops (manual CST). The BMS answers with BST (4 bytes) carrying \"charger stopped\" (SPN3511 bits 7–8 = 01), stops BCL and sends BSD."
            ),
            || {
                base(30)
                    .act(
                        charging(secs(2)),
                        TesterAction::ChargerStop(ChargerStopCause::Manual),
                    )
                    .until_dut(BSD, secs(1))
            },
            |tr| {
                judge(|n| {
                    let cst = tr.first_tester(Key::Msg(Pgn::Cst)).ok_or("no CST")?.at;
                    let r = bst_reason(tr, n)?;
                    ensure(r[3] == 1, || {
                        format!("BST reason fields {r:?}, expected charger stopped")
                    })?;
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
            derived!(
                "2 s into charging the vehicle reaches its SOC target. The BMS sends BST with \"SOC target reached\", stops BCL, and sends BSD after CST."
            ),
            || {
                base(30)
                    .act(
                        charging(secs(2)),
                        TesterAction::Dut(DutAction::VehicleStop(BmsStopCause::SocTargetReached)),
                    )
                    .until_dut(BSD, secs(1))
            },
            |tr| {
                judge(|n| {
                    let r = bst_reason(tr, n)?;
                    ensure(r[0] == 1 && r[3] == 0, || {
                        format!("BST reason fields {r:?}, expected SOC target reached")
                    })?;
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
    base(30)
        .rule(Window::from(charging(secs(2))), Key::Msg(pgn), effect)
        .until_dut(BEM, millis(500))
}

pub(super) fn phase3_negative() -> Vec<Case> {
    vec![
        case(
            "BN.3001",
            "CCS timeout, nothing received",
            derived!(
                "The tester never sends CCS. The BMS raises BEM SPN3905 1 s after it started charging (its first BCL)."
            ),
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Ccs))
                    .until_dut(BEM, millis(500))
            },
            |tr| judge(|n| bem_after_dut(tr, 3905, BCL, secs(1), n)),
        ),
        case(
            "BN.3002",
            "CCS stops during charging",
            derived!(
                "2 s into charging the tester stops CCS. The BMS raises BEM SPN3905 1 s after the last CCS and stops BCL (\"end charging immediately\")."
            ),
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
            derived!(
                "2 s into charging the tester sends only every 30th CCS (1.5 s apart). The BMS raises BEM SPN3905 1 s after a CCS."
            ),
            || in_charging(Pgn::Ccs, Effect::Thin(30)),
            |tr| judge(|n| bem_after_last_tester(tr, 3905, Key::Msg(Pgn::Ccs), secs(1), n)),
        ),
        case(
            "BN.3004",
            "CEM received while charging",
            derived!(
                "2 s into charging the tester sends CEM (SPN3925) for 1 s. The BMS stops charging: no BCL from 500 ms after the first CEM."
            ),
            || {
                inject(
                    base(30),
                    between(BCL, secs(2), secs(3)),
                    millis(250),
                    charger_frame(Pgn::Cem, &CEM_BCL),
                )
                .until_dut(BCL, secs(6))
            },
            |tr| {
                judge(|n| {
                    let cem = tr.first_tester(Key::Msg(Pgn::Cem)).ok_or("no CEM")?.at;
                    let last = tr
                        .dut_frames(BCL)
                        .take_while(|r| r.at < cem + secs(5))
                        .last()
                        .ok_or("no BCL")?
                        .at;
                    n.add(format!(
                        "last BCL {} ms after CEM",
                        last.saturating_since(cem).as_millis()
                    ));
                    none_between(tr, BCL, cem + millis(500), end(tr) + millis(1))
                })
            },
        ),
        case(
            "BN.3005",
            "CCS with a wrong length",
            derived!(
                "Every CCS the tester sends has 3 bytes (too short to decode). The BMS must not accept it: BEM SPN3905 1 s after charging started."
            ),
            || {
                base(30)
                    .rule(Window::ALWAYS, Key::Msg(Pgn::Ccs), Effect::Truncate(3))
                    .until_dut(BEM, millis(500))
            },
            |tr| judge(|n| bem_after_dut(tr, 3905, BCL, secs(1), n)),
        ),
        case(
            "BN.3006",
            "BCS transfer stalls, BCL keeps its period",
            derived!(
                "1 s into charging the tester stops answering BCS's RTS. The BMS keeps sending BCL every 50 ms (a stalled transfer must not block single frames), gaps at most 100 ms."
            ),
            || {
                base(30)
                    .rule(
                        Window::from(charging(secs(1))),
                        Key::Cts(Pgn::Bcs),
                        Effect::Mute,
                    )
                    .until_dut(BCL, millis(4500))
            },
            |tr| {
                judge(|n| {
                    let t0 = first(tr, BCL)?.at;
                    period(tr, BCL, 50, t0 + millis(1500), t0 + millis(4500), n)?;
                    let st = tr
                        .periods(BCL, t0 + millis(1500), t0 + millis(4500))
                        .ok_or("no BCL")?;
                    ensure(st.max <= millis(100), || "a BCL gap above 100 ms".into())
                })
            },
        ),
        case(
            "BN.3007",
            "CST timeout after BST",
            derived!(
                "2 s into charging the vehicle stops; the tester never sends CST. The BMS sends BST every 10 ms and raises BEM SPN3906 5 s after its first BST."
            ),
            || {
                base(30)
                    .act(
                        charging(secs(2)),
                        TesterAction::Dut(DutAction::VehicleStop(BmsStopCause::SocTargetReached)),
                    )
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
            derived!(
                "2 s into charging the tester charger has an emergency stop (CST fault). The BMS answers with BST \"charger stopped\" and sends BSD."
            ),
            || {
                base(30)
                    .act(
                        charging(secs(2)),
                        TesterAction::ChargerFault(ChargerFault::EmergencyStop),
                    )
                    .until_dut(BSD, secs(1))
            },
            |tr| {
                judge(|n| {
                    let r = bst_reason(tr, n)?;
                    ensure(r[3] == 1, || {
                        format!("BST reason fields {r:?}, expected charger stopped")
                    })?;
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

pub(super) fn phase4() -> Vec<Case> {
    vec![
        case(
            "BP.4001",
            "BSD transmission",
            derived!(
                "After the tester's CST the BMS sends BSD (7 bytes) every 250 ms until CSD (the tester holds CSD back 600 ms)."
            ),
            || {
                base(30)
                    .act(
                        charging(secs(2)),
                        TesterAction::ChargerStop(ChargerStopCause::Manual),
                    )
                    .rule(
                        between(BSD, Duration::ZERO, millis(600)),
                        Key::Msg(Pgn::Csd),
                        Effect::Mute,
                    )
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
            derived!(
                "The tester stops and sends CSD after BSD. The BMS stops BSD within 300 ms of CSD and raises no BEM."
            ),
            || {
                base(30)
                    .act(
                        charging(secs(2)),
                        TesterAction::ChargerStop(ChargerStopCause::Manual),
                    )
                    .until_dut(BSD, secs(3))
            },
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
            derived!(
                "After the session the tester (the bench) switches the auxiliary supply off. The BMS sends nothing more from 100 ms later. Applies only to vehicles powered by the charger's auxiliary supply (Amendment 1)."
            ),
            || {
                base(30)
                    .act(
                        charging(secs(2)),
                        TesterAction::ChargerStop(ChargerStopCause::Manual),
                    )
                    .aux_off_at_end()
                    .until_dut(BSD, secs(4))
            },
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
            derived!(
                "The vehicle stops; the tester answers CST but never CSD. The BMS raises BEM SPN3907 10 s after its first BST."
            ),
            || {
                stop_without_csd(
                    TesterAction::Dut(DutAction::VehicleStop(BmsStopCause::SocTargetReached)),
                    Effect::Mute,
                )
            },
            |tr| judge(|n| bem_after_dut(tr, 3907, BST, secs(10), n)),
        ),
        case(
            "BN.4002",
            "CSD timeout after a charger stop",
            derived!(
                "The tester stops (manual CST) and never sends CSD. The BMS raises BEM SPN3907 10 s after its first BST."
            ),
            || {
                stop_without_csd(
                    TesterAction::ChargerStop(ChargerStopCause::Manual),
                    Effect::Mute,
                )
            },
            |tr| judge(|n| bem_after_dut(tr, 3907, BST, secs(10), n)),
        ),
        case(
            "BN.4003",
            "CSD with a wrong length",
            derived!(
                "The tester stops and its CSD frames carry 2 bytes, so no valid CSD arrives. BEM SPN3907 10 s after the first BST."
            ),
            || {
                stop_without_csd(
                    TesterAction::ChargerStop(ChargerStopCause::Manual),
                    Effect::Truncate(2),
                )
            },
            |tr| judge(|n| bem_after_dut(tr, 3907, BST, secs(10), n)),
        ),
    ]
}
