//! The BMS's receive path: address filter, TP answers, decoding and the reaction to each
//! charger message.

use proto::can::CanFrame;
use proto::gbt27930::id::{Node, Pgn};
use proto::gbt27930::msg::{Ccs, Cem, Cml, Crm, Cro, Csd, Cst, GbtMessage, Readiness, Recognition};
use proto::time::Instant;

use super::{BmsErrorCause, BmsEvent, BmsPhase, BmsSession, BmsStopCause, Timer, Tx};

/// Classifies, filters and dispatches one received frame.
pub(super) fn handle_frame(s: &mut BmsSession, now: Instant, frame: &CanFrame) {
    let Some(pgn) = s.counters.accept(frame, Node::Bms) else {
        return;
    };
    if s.phase == BmsPhase::Off {
        return;
    }
    if pgn.is_transport() {
        // The charger only answers our transfers (CTS, EndOfMsgAck, Abort). What the
        // answer lets the sender send is either queued now (an abort) or a TP.DT due at
        // its deadline, which `poll_transmit` checks anyway.
        if s.tp.handle_frame(now, frame).is_err() {
            s.counters.malformed_frames += 1;
        }
        s.tp_output |= s.tp.has_queued_frames();
        s.drain_tp(now);
        return;
    }
    let data = frame.data();
    let ok = match pgn {
        Pgn::Chm => {
            data.len() >= 3 && {
                // A 2011 BMS does not know CHM (it predates the handshake).
                if s.is_2015() {
                    s.on_chm(now);
                }
                true
            }
        }
        Pgn::Crm => decode(data).map(|m| on_crm(s, now, m)).is_some(),
        Pgn::Cts => data.is_empty() || decode::<proto::gbt27930::msg::Cts>(data).is_some(),
        Pgn::Cml => decode(data).map(|m| on_cml(s, now, m)).is_some(),
        Pgn::Cro => decode(data)
            .map(|m: Cro| on_cro(s, now, m.readiness))
            .is_some(),
        Pgn::Ccs => decode(data).map(|m| on_ccs(s, now, m)).is_some(),
        Pgn::Cst => decode(data).map(|m| on_cst(s, now, m)).is_some(),
        Pgn::Csd => decode(data).map(|m| on_csd(s, now, m)).is_some(),
        Pgn::Cem => decode(data).map(|m| on_cem(s, now, m)).is_some(),
        _ => false,
    };
    if ok {
        s.counters.messages_rx.bump(pgn);
    } else {
        s.counters.malformed_frames += 1;
    }
}

fn decode<M: GbtMessage>(data: &[u8]) -> Option<M> {
    M::decode(data).ok()
}

fn on_crm(s: &mut BmsSession, now: Instant, crm: Crm) {
    s.charger.crm = Some(crm);
    let fresh = matches!(s.phase, BmsPhase::ExpectChm | BmsPhase::ExpectCrm);
    match crm.recognition {
        Recognition::NotRecognized if fresh => {
            s.push(BmsEvent::ChargerIdentified(crm));
            s.start_identification(now);
        }
        Recognition::NotRecognized if s.phase == BmsPhase::ErrorWaitCrm => {
            s.retry(now);
        }
        Recognition::Recognized if fresh || s.phase == BmsPhase::ExpectCrmRecognized => {
            if fresh {
                s.push(BmsEvent::ChargerIdentified(crm));
            }
            s.start_parameters(now);
        }
        _ => {}
    }
}

fn on_cml(s: &mut BmsSession, now: Instant, cml: Cml) {
    // The reference's advice: take min/max of the magnitudes ([T2] swaps them).
    let cml = cml.normalized();
    if s.phase == BmsPhase::ExpectCml {
        s.charger.cml = Some(cml);
        s.push(BmsEvent::ChargerLimits(cml));
        s.start_ready(now);
    }
}

fn on_cro(s: &mut BmsSession, now: Instant, readiness: Readiness) {
    if s.phase != BmsPhase::ExpectCroReady || !s.bro_ready {
        return;
    }
    if readiness == Readiness::Ready {
        s.start_charging(now);
    } else {
        s.timers.set(Timer::Cro as usize, now + s.cfg.timeouts.cro);
    }
}

fn on_ccs(s: &mut BmsSession, now: Instant, ccs: Ccs) {
    if s.phase != BmsPhase::Charging {
        return;
    }
    s.timers.set(Timer::Ccs as usize, now + s.cfg.timeouts.ccs);
    if !s.ccs_seen {
        // Annex D: BSM starts with the first CCS.
        s.ccs_seen = true;
        s.tx.start(Tx::Bsm as usize, now);
    }
    if s.charger_output_events && s.charger.ccs != Some(ccs) {
        s.push(BmsEvent::ChargerOutput(ccs));
    }
    s.charger.ccs = Some(ccs);
}

fn on_cst(s: &mut BmsSession, now: Instant, cst: Cst) {
    if s.phase.in_session() {
        s.charger.cst = Some(cst);
        s.begin_stop(now, BmsStopCause::ChargerStopped);
    } else if s.phase == BmsPhase::ExpectCst {
        s.charger.cst.get_or_insert(cst);
        s.cst_seen = true;
        s.timers.clear(Timer::Cst as usize);
        s.maybe_finish_stop(now);
    }
}

fn on_csd(s: &mut BmsSession, _now: Instant, csd: Csd) {
    if matches!(s.phase, BmsPhase::ExpectCsd | BmsPhase::ExpectCst) && s.cst_seen {
        s.charger.csd = Some(csd);
        let cause = s.stop_cause.unwrap_or(BmsStopCause::ChargerStopped);
        s.end(cause, BmsPhase::Ended);
    }
}

fn on_cem(s: &mut BmsSession, now: Instant, cem: Cem) {
    s.charger.cem = Some(cem);
    if s.phase.in_session() {
        s.error(now, BmsErrorCause::CemReceived(cem));
    }
}
