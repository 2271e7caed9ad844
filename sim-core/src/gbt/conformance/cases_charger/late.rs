//! Charger cases of the charging and end phases (DP/DN.3xxx, DP/DN.4xxx).

use super::*;

pub(super) fn phase3() -> Vec<Case> {
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
                    ensure(t0 >= bcl.max(bcs), || {
                        "CCS started before BCL and BCS".into()
                    })?;
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
                        ensure(!window.is_empty(), || {
                            "no CCS while checking the demand".into()
                        })?;
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
                    .act(
                        charging(secs(2)),
                        TesterAction::Dut(DutAction::ChargerFault(ChargerFault::ModuleFailure)),
                    )
                    .until_dut(CSD, secs(1))
            },
            |tr| {
                judge(|n| {
                    let r = cst_reason(tr, n)?;
                    ensure(r == [0, 0, 1, 0], || {
                        format!("CST reason fields {r:?}, expected [0, 0, 1, 0]")
                    })?;
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
                    .act(
                        charging(secs(2)),
                        TesterAction::BmsFault(BmsFault::OverTemperature { stop: false }),
                    )
                    .until_dut(CST, secs(1))
            },
            |tr| {
                judge(|n| {
                    let t0 = first(tr, CCS)?.at + secs(2);
                    let cst = first(tr, CST)?.at;
                    ensure(cst >= t0 && cst <= t0 + millis(1300), || {
                        format!(
                            "CST {} ms after the abnormal BSM",
                            cst.saturating_since(t0).as_millis()
                        )
                    })?;
                    let r = cst_reason(tr, n)?;
                    ensure(r[2] == 1, || {
                        format!("CST fault-stop field is {}, expected 01", r[2])
                    })
                })
            },
        ),
        case(
            "DP.3005",
            "BSM SPN3096 = 00 pauses the output",
            "2 s into charging the tester BMS sets BSM SPN3096 = 00 (pause) for 3 s. The charger reports CCS SPN3929 = 00 and no current while paused, sends no CST, and resumes (SPN3929 = 01, current back) when SPN3096 = 01.",
            || {
                base(40)
                    .act(
                        charging(secs(2)),
                        TesterAction::BmsFault(BmsFault::Suspend(true)),
                    )
                    .act(
                        charging(secs(5)),
                        TesterAction::BmsFault(BmsFault::Suspend(false)),
                    )
                    .until_dut(CCS, secs(8))
            },
            |tr| {
                judge(|n| {
                    let t0 = first(tr, CCS)?.at;
                    none_between(tr, CST, tr.start(), end(tr) + millis(1))?;
                    let v = ccs_values(tr);
                    let paused = v
                        .iter()
                        .filter(|(t, _, _)| *t >= t0 + millis(3000) && *t < t0 + millis(5000));
                    let resumed = v.iter().filter(|(t, _, _)| *t >= t0 + millis(6500));
                    let (mut np, mut nr) = (0, 0);
                    for (_, a, p) in paused {
                        np += 1;
                        ensure(*p == Some(0) && *a <= 1.0, || {
                            format!("CCS while paused: {a:.1} A, SPN3929 {p:?}")
                        })?;
                    }
                    for (_, a, p) in resumed {
                        nr += 1;
                        ensure(*p == Some(1) && *a > 1.0, || {
                            format!("CCS after resume: {a:.1} A, SPN3929 {p:?}")
                        })?;
                    }
                    n.add(format!("{np} paused and {nr} resumed CCS frames"));
                    ensure(np > 0 && nr > 0, || {
                        "no CCS in the pause or resume window".into()
                    })
                })
            },
        ),
        case(
            "DP.3006",
            "vehicle-initiated stop",
            "2 s into charging the tester BMS stops (SOC target reached, BST). The charger answers with CST `00,00,x,01` (BMS stopped) and ends with CSD.",
            || {
                base(40)
                    .act(
                        charging(secs(2)),
                        TesterAction::BmsStop(BmsStopCause::SocTargetReached),
                    )
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
            "2 s into charging the operator presses stop on the charger. It sends CST `00,01,00,00` (manual, 4 bytes) and ends with CSD after BSD (the CST period is checked in DN.3009).",
            || {
                base(40)
                    .act(charging(secs(2)), TesterAction::Dut(DutAction::ManualStop))
                    .until_dut(CSD, secs(1))
            },
            |tr| {
                judge(|n| {
                    let r = cst_reason(tr, n)?;
                    ensure(r == [0, 1, 0, 0], || {
                        format!("CST reason fields {r:?}, expected [0, 1, 0, 0]")
                    })?;
                    lengths(tr, CST, &[4], n)?;
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
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Bcs))
                    .until_dut(CEM, millis(500))
            },
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
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Bcl))
                    .until_dut(CEM, millis(500))
            },
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
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Bcs))
                    .until_dut(CEM, millis(500))
            },
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
            || {
                base(30)
                    .mute(Key::Msg(Pgn::Bcl))
                    .until_dut(CEM, millis(500))
            },
            |tr| {
                judge(|n| {
                    cem_after_first(tr, 3925, CRO_AA, secs(1), n)?;
                    ensure(tr.count_dut(CRO_AA) >= 3, || {
                        "fewer than 3 CRO(0xAA) before the CEM".into()
                    })
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
        ensure(r == [0, 1, 0, 0], || {
            format!("CST reason fields {r:?}, expected manual")
        })?;
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
                ensure(*got == want, || {
                    format!("CST reason fields {r:?}, expected {reason:?}")
                })?;
            }
        }
        cem_after_first(tr, 3927, CST, secs(10), n)?;
        let t0 = first(tr, CST)?.at;
        let cem = error_with(tr, 3927)?.at;
        // Amendment 1 for DN.4002: CST every 10 ms within 10 s of the first CST.
        period(tr, CST, 10, t0, cem.min(t0 + secs(10)), n)
    })
}

pub(super) fn phase4() -> Vec<Case> {
    vec![
        case(
            "DP.4001",
            "end phase",
            "The tester BMS stops (SOC target reached). The charger sends CST with the vehicle-stop content, stops CST once BSD arrives and sends CSD (8 bytes, 250 ms).",
            || {
                base(40)
                    .act(
                        charging(secs(2)),
                        TesterAction::BmsStop(BmsStopCause::SocTargetReached),
                    )
                    .until_dut(CSD, secs(2))
            },
            |tr| {
                judge(|n| {
                    let r = cst_reason(tr, n)?;
                    ensure(r[3] == 1, || {
                        format!("CST reason fields {r:?}, expected BMS stopped")
                    })?;
                    let bsd = tr
                        .first_tester(Key::Msg(Pgn::Bsd))
                        .ok_or("the tester sent no BSD")?
                        .at;
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
                    .act(
                        charging(secs(2)),
                        TesterAction::Dut(DutAction::ChargerFault(ChargerFault::EmergencyStop)),
                    )
                    .inject(after(CSD, secs(1)), millis(250), bhm_frame())
                    .until_dut(CSD, secs(12))
            },
            |tr| {
                judge(|n| {
                    let r = cst_reason(tr, n)?;
                    ensure(r[2] == 1, || {
                        format!("CST reason fields {r:?}, expected fault stop")
                    })?;
                    let csd = first(tr, CSD)?.at;
                    for key in [CHM, CRM, CRO, CCS] {
                        none_between(tr, key, csd, end(tr) + millis(1))?;
                    }
                    n.add(format!(
                        "silent for {} ms after CSD",
                        end(tr).saturating_since(csd).as_millis()
                    ));
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
                    .act(
                        charging(secs(2)),
                        TesterAction::BmsStop(BmsStopCause::SocTargetReached),
                    )
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
                    .act(
                        charging(secs(2)),
                        TesterAction::BmsStop(BmsStopCause::InsulationFault),
                    )
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
