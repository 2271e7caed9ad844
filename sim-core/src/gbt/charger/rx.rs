//! The charger's receive path: address filter, TP reassembly, decoding and the reaction
//! to each BMS message.

use proto::can::CanFrame;
use proto::gbt27930::id::{Node, Pgn};
use proto::gbt27930::msg::{
    Bcl, Bcp, Bcs, Bem, Bhm, Brm, Bro, Bsd, Bsm, Bst, ChargingPermit, GbtMessage, Level2,
    Readiness, Status2,
};
use proto::gbt27930::tp::TpEvent;
use proto::time::Instant;

use super::{
    ChargerErrorCause, ChargerEvent, ChargerPhase, ChargerSession, ChargerStopCause, Timer,
};

/// Classifies, filters and dispatches one received frame.
pub(super) fn handle_frame(s: &mut ChargerSession, now: Instant, frame: &CanFrame) {
    let Some(pgn) = s.counters.accept(frame, Node::Charger) else {
        return;
    };
    if matches!(s.phase, ChargerPhase::Idle) {
        return;
    }
    if pgn.is_transport() {
        s.tp_output = true;
        if s.tp.handle_frame(now, frame).is_err() {
            s.counters.malformed_frames += 1;
        }
        s.drain_tp(now);
        return;
    }
    on_payload(s, now, pgn, frame.data());
}

impl ChargerSession {
    /// Takes completed and aborted TP sessions from the receiver.
    pub(super) fn drain_tp(&mut self, now: Instant) {
        while let Some(event) = self.tp.poll_event() {
            let (pgn, data) = match event {
                TpEvent::Received { pgn, data } => (pgn, data),
                TpEvent::Aborted { .. } => {
                    self.counters.tp_aborts += 1;
                    continue;
                }
                TpEvent::Delivered { .. } => continue,
            };
            // A completed payload borrows the receiver's buffer; copy it to the stack
            // first (only here: most calls find no completed message).
            let mut buf = [0u8; 512];
            let len = data.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..len), data.get(..len)) {
                dst.copy_from_slice(src);
            }
            match Pgn::from_value(pgn) {
                Some(p) if !p.is_transport() => {
                    on_payload(self, now, p, buf.get(..len).unwrap_or(&[]));
                }
                _ => self.counters.malformed_frames += 1,
            }
        }
    }
}

/// Decodes `data` as `pgn` (counting failures) and reacts to it.
fn on_payload(s: &mut ChargerSession, now: Instant, pgn: Pgn, data: &[u8]) {
    let ok = match pgn {
        Pgn::Bhm => decode(data).map(|m| on_bhm(s, now, m)),
        Pgn::Brm => decode(data).map(|m| on_brm(s, now, m)),
        Pgn::Bcp => decode(data).map(|m| on_bcp(s, now, m)),
        Pgn::Bro => decode(data).map(|m: Bro| on_bro(s, now, m.readiness)),
        Pgn::Bcl => decode(data).map(|m| on_bcl(s, now, m)),
        Pgn::Bcs => decode(data).map(|m| on_bcs(s, now, m)),
        Pgn::Bsm => decode(data).map(|m| on_bsm(s, now, m)),
        Pgn::Bst => decode(data).map(|m| on_bst(s, now, m)),
        Pgn::Bsd => decode(data).map(|m| on_bsd(s, now, m)),
        Pgn::Bem => decode(data).map(|m| on_bem(s, now, m)),
        // Optional data (no timeout, §3.13): counted only, nothing to decode into.
        Pgn::Bmv | Pgn::Bmt | Pgn::Bsp => Some(()),
        _ => None,
    };
    if ok.is_some() {
        s.counters.messages_rx.bump(pgn);
    } else {
        s.counters.malformed_frames += 1;
    }
}

fn decode<M: GbtMessage>(data: &[u8]) -> Option<M> {
    M::decode(data).ok()
}

fn on_bhm(s: &mut ChargerSession, now: Instant, bhm: Bhm) {
    s.bms.bhm = Some(bhm);
    match s.phase {
        ChargerPhase::ExpectBhm => {
            s.timers.clear(Timer::Bhm as usize);
            s.start_insulation(now);
        }
        ChargerPhase::ExpectInsulationResult if !s.legacy_bms => {
            s.timers.set(Timer::Bhm as usize, now + s.cfg.timeouts.bhm);
        }
        _ => {}
    }
}

fn on_brm(s: &mut ChargerSession, now: Instant, brm: Brm) {
    if s.phase != ChargerPhase::ExpectBrm {
        return;
    }
    s.bms.brm = Some(brm);
    s.crm_recognized = true;
    s.timers.clear(Timer::Brm as usize);
    s.timers.set(Timer::Bcp as usize, now + s.cfg.timeouts.bcp);
    s.push(ChargerEvent::VehicleIdentified(Box::new(brm)));
    s.enter(now, ChargerPhase::ExpectBcp);
    // CRM(0xAA) goes out at once ([T1]: 1.6 ms after EndOfMsgAck).
    s.tx.send_now(super::Tx::Crm as usize, now);
}

fn on_bcp(s: &mut ChargerSession, now: Instant, bcp: Bcp) {
    if s.phase != ChargerPhase::ExpectBcp {
        return;
    }
    s.bms.bcp = Some(bcp);
    s.timers.clear(Timer::Bcp as usize);
    s.push(ChargerEvent::ParametersReceived(bcp));
    // §4.2 C4: the battery must fit the charger's range.
    let limits = s.cfg.limits;
    let fits = bcp.battery_voltage_v <= bcp.max_total_voltage_v
        && bcp.battery_voltage_v <= limits.max_voltage_v
        && limits.min_voltage_v <= bcp.max_total_voltage_v;
    if !fits {
        s.begin_stop(now, ChargerStopCause::ParameterMismatch);
        return;
    }
    s.tx.stop(super::Tx::Crm as usize);
    s.tx.start(super::Tx::Cts as usize, now);
    s.tx.start(super::Tx::Cml as usize, now);
    s.timers.set(Timer::Bro as usize, now + s.cfg.timeouts.bro);
    s.timers
        .set(Timer::BroReady as usize, now + s.cfg.timeouts.bro_ready);
    s.enter(now, ChargerPhase::ExpectBroReady);
}

fn on_bro(s: &mut ChargerSession, now: Instant, readiness: Readiness) {
    s.bms.bro = Some(readiness);
    match (s.phase, readiness) {
        (ChargerPhase::ExpectBroReady, Readiness::Ready) => s.start_precharge(now),
        (ChargerPhase::ExpectBroReady, _) => {
            s.timers.set(Timer::Bro as usize, now + s.cfg.timeouts.bro);
        }
        // DN.2007–DN.2009: only BRO(0xAA) keeps the pre-charge alive; BRO(0x00) or
        // silence for 5 s raises CEM SPN3923.
        (ChargerPhase::ExpectPrecharge, Readiness::Ready) => {
            s.timers.set(Timer::Bro as usize, now + s.cfg.timeouts.bro);
        }
        _ => {}
    }
}

fn on_bcl(s: &mut ChargerSession, now: Instant, bcl: Bcl) {
    s.bms.bcl = Some(bcl);
    match s.phase {
        ChargerPhase::ExpectBclBcs => {
            s.bcl_seen = true;
            s.timers.set(Timer::Bcl as usize, now + s.cfg.timeouts.bcl);
            s.maybe_start_charging(now);
        }
        ChargerPhase::Charging => {
            s.timers.set(Timer::Bcl as usize, now + s.cfg.timeouts.bcl);
            s.update_setpoint();
        }
        _ => {}
    }
}

fn on_bcs(s: &mut ChargerSession, now: Instant, bcs: Bcs) {
    s.bms.bcs = Some(bcs);
    match s.phase {
        ChargerPhase::ExpectBclBcs => {
            s.bcs_seen = true;
            s.timers.set(Timer::Bcs as usize, now + s.cfg.timeouts.bcs);
            s.maybe_start_charging(now);
        }
        ChargerPhase::Charging => {
            s.timers.set(Timer::Bcs as usize, now + s.cfg.timeouts.bcs);
            if s.bms_status_events {
                let bsm = s.bms.bsm;
                s.push(ChargerEvent::BmsStatus { bcs, bsm });
            }
        }
        _ => {}
    }
}

/// The BSM rules under table 20: any abnormal status stops, a forbidden permission with
/// everything normal pauses (≤ 10 min), permitted resumes; untrusted values are ignored
/// (Annex C.3).
fn on_bsm(s: &mut ChargerSession, now: Instant, bsm: Bsm) {
    s.bms.bsm = Some(bsm);
    if s.phase != ChargerPhase::Charging {
        return;
    }
    let levels = [bsm.cell_voltage, bsm.soc];
    let flags = [
        bsm.over_current,
        bsm.over_temperature,
        bsm.insulation,
        bsm.output_connector,
    ];
    let abnormal = levels
        .iter()
        .any(|l| matches!(l, Level2::TooHigh | Level2::TooLow))
        || flags.contains(&Status2::Active);
    if abnormal {
        s.begin_stop(now, ChargerStopCause::BmsStatusAbnormal);
        return;
    }
    match bsm.charging_permitted {
        ChargingPermit::Paused if !s.paused => {
            s.paused = true;
            s.timers
                .set(Timer::Pause as usize, now + s.cfg.timeouts.pause);
            s.update_setpoint();
        }
        ChargingPermit::Permitted if s.paused => {
            s.paused = false;
            s.timers.clear(Timer::Pause as usize);
            s.update_setpoint();
        }
        _ => {}
    }
}

fn on_bst(s: &mut ChargerSession, now: Instant, bst: Bst) {
    if s.phase.in_session() {
        s.bms.bst = Some(bst);
        s.begin_stop(now, ChargerStopCause::BmsStopped);
    } else if s.phase == ChargerPhase::ExpectBstBsd {
        s.bms.bst.get_or_insert(bst);
        s.timers.clear(Timer::Bst as usize);
    }
}

fn on_bsd(s: &mut ChargerSession, now: Instant, bsd: Bsd) {
    if s.phase != ChargerPhase::ExpectBstBsd {
        return;
    }
    s.bms.bsd = Some(bsd);
    s.timers.clear(Timer::Bst as usize);
    s.timers.clear(Timer::Bsd as usize);
    s.timers.clear(Timer::StopCurrent as usize);
    s.open_contactors();
    s.tx.stop(super::Tx::Cst as usize);
    s.tx.start(super::Tx::Csd as usize, now);
    s.csd_left = s.cfg.csd_repeats.max(1);
    s.push(ChargerEvent::Stopped {
        cause: s.stop_cause.unwrap_or(ChargerStopCause::BmsStopped),
        cst: s.cst,
        bst: s.bms.bst,
        statistics: Some(bsd),
    });
    s.enter(now, ChargerPhase::SendingStatistics);
}

/// A BEM ends the attempt once the BMS has answered it (BRM received). Before that, a
/// BEM is the BMS still reporting the previous attempt's failure: it stops sending BEM
/// when our CRM(0x00) arrives.
fn on_bem(s: &mut ChargerSession, now: Instant, bem: Bem) {
    s.bms.bem = Some(bem);
    if s.phase.in_session() && s.phase != ChargerPhase::ExpectBrm {
        s.error(now, ChargerErrorCause::BemReceived(bem));
    }
}
