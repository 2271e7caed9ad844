//! The charger's transitions: each function moves the machine from one phase to the next
//! and sets the transmit schedule and the timers that phase needs.

use proto::gbt27930::id::Pgn;
use proto::gbt27930::msg::{Cem, Status2};
use proto::time::{Duration, Instant};

use super::{
    AfterError, BmsData, ChargerErrorCause, ChargerEvent, ChargerPhase, ChargerSession,
    ChargerStopCause, InsulationPolicy, PrechargePolicy, RX_TIMERS, Setpoint, Timer, Tx,
};

impl ChargerSession {
    /// Changes phase, emits `PhaseChanged` and keeps the charging-time clock.
    pub(super) fn enter(&mut self, now: Instant, phase: ChargerPhase) {
        if self.phase == phase {
            return;
        }
        if self.phase == ChargerPhase::Charging
            && let Some(since) = self.charging_since.take()
        {
            self.charging_time += now.saturating_since(since);
        }
        self.phase = phase;
        if phase <= ChargerPhase::SendingStatistics && phase > self.furthest {
            self.furthest = phase;
        }
        self.push(ChargerEvent::PhaseChanged(phase));
    }

    /// Forgets everything learned in the previous session.
    pub(super) fn reset_session(&mut self) {
        self.bms = BmsData::default();
        self.legacy_bms = false;
        self.crm_recognized = false;
        self.bcl_seen = false;
        self.bcs_seen = false;
        self.paused = false;
        self.setpoint = Setpoint::default();
        self.energy_wh = 0.0;
        self.charging_since = None;
        self.charging_time = Duration::ZERO;
        self.stop_cause = None;
        self.cst = None;
        self.cem = Cem::default();
        self.csd_left = 0;
        self.furthest = ChargerPhase::Idle;
    }

    /// C2: start the insulation check at min(BHM max voltage, charger max).
    pub(super) fn start_insulation(&mut self, now: Instant) {
        let max_v = self.cfg.limits.max_voltage_v;
        let test_voltage_v = self
            .bms
            .bhm
            .map_or(max_v, |b| b.max_charging_voltage_v.min(max_v));
        if self.legacy_bms {
            self.timers.clear(Timer::Bhm as usize);
        } else {
            self.timers
                .set(Timer::Bhm as usize, now + self.cfg.timeouts.bhm);
        }
        if let InsulationPolicy::Simulated { duration, .. } = self.cfg.insulation {
            self.timers
                .set(Timer::InsulationDone as usize, now + duration);
        }
        self.push(ChargerEvent::StartInsulationCheck { test_voltage_v });
        self.enter(now, ChargerPhase::ExpectInsulationResult);
    }

    /// C3: CRM(0x00) every 250 ms; BRM due within 5 s.
    pub(super) fn start_recognition(&mut self, now: Instant) {
        self.tx.stop_all();
        self.timers.clear_all();
        self.crm_recognized = false;
        self.bcl_seen = false;
        self.bcs_seen = false;
        self.paused = false;
        self.cem = Cem::default();
        self.bms.brm = None;
        self.bms.bcp = None;
        self.bms.bst = None;
        self.bms.bsd = None;
        self.tx.start(Tx::Crm as usize, now);
        self.timers
            .set(Timer::Brm as usize, now + self.cfg.timeouts.brm);
        self.enter(now, ChargerPhase::ExpectBrm);
    }

    /// C6 → C7: K1/K2 close, CRO(0xAA) goes out at once; BCL and BCS are now due.
    pub(super) fn output_ready(&mut self, now: Instant) {
        self.timers.clear(Timer::Precharge as usize);
        self.timers.clear(Timer::Bro as usize);
        if !self.contactors_closed {
            self.contactors_closed = true;
            self.push(ChargerEvent::CloseContactors);
        }
        self.bcl_seen = false;
        self.bcs_seen = false;
        self.timers
            .set(Timer::Bcl as usize, now + self.cfg.timeouts.bcl);
        self.timers
            .set(Timer::Bcs as usize, now + self.cfg.timeouts.bcs);
        self.enter(now, ChargerPhase::ExpectBclBcs);
        self.tx.send_now(Tx::Cro as usize, now);
    }

    /// C5 → C6: BRO(0xAA): CTS/CML stop, CRO(0x00) starts and the pre-charge runs.
    pub(super) fn start_precharge(&mut self, now: Instant) {
        self.tx.stop(Tx::Cts as usize);
        self.tx.stop(Tx::Cml as usize);
        self.timers.clear(Timer::BroReady as usize);
        self.timers
            .set(Timer::Bro as usize, now + self.cfg.timeouts.bro);
        self.tx.start(Tx::Cro as usize, now);
        self.enter(now, ChargerPhase::ExpectPrecharge);
        let Some(bcp) = self.bms.bcp else {
            return;
        };
        // §4.2 C6: the battery voltage at the gun must be within the tolerance of BCP's
        // value and inside the charger's range (checked when the plant reports it).
        let measured = self
            .output
            .map(|o| o.battery_side_voltage_v)
            .filter(|v| *v > 0.0);
        let target = measured.unwrap_or(bcp.battery_voltage_v);
        let limits = self.cfg.limits;
        let tolerance = self.cfg.precharge_tolerance * bcp.battery_voltage_v;
        if measured.is_some_and(|v| {
            (v - bcp.battery_voltage_v).abs() > tolerance
                || v < limits.min_voltage_v
                || v > limits.max_voltage_v
        }) {
            self.begin_stop(now, ChargerStopCause::VoltageAbnormal);
            return;
        }
        self.timers
            .set(Timer::Precharge as usize, now + self.cfg.timeouts.precharge);
        if let PrechargePolicy::Simulated { duration } = self.cfg.precharge {
            self.timers
                .set(Timer::PrechargeDone as usize, now + duration);
        }
        self.push(ChargerEvent::StartPrecharge {
            target_voltage_v: target,
        });
    }

    /// C7 → C8 once both BCL and BCS arrived (Annex D: not on one of them alone).
    pub(super) fn maybe_start_charging(&mut self, now: Instant) {
        if self.phase != ChargerPhase::ExpectBclBcs || !self.bcl_seen || !self.bcs_seen {
            return;
        }
        self.tx.stop(Tx::Cro as usize);
        self.tx.start(Tx::Ccs as usize, now);
        self.charging_since = Some(now);
        self.output_at.get_or_insert(now);
        self.enter(now, ChargerPhase::Charging);
        self.update_setpoint();
    }

    /// The setpoint rule of §7.3: I = min(BCL, BCP max, charger max), V ≤ min(BCL V,
    /// BCP max V, charger max V); no current when paused or not charging.
    pub(super) fn update_setpoint(&mut self) {
        let (Some(bcl), Some(bcp)) = (self.bms.bcl, self.bms.bcp) else {
            return;
        };
        let limits = self.cfg.limits;
        let voltage = bcl
            .voltage_demand_v
            .min(bcp.max_total_voltage_v)
            .min(limits.max_voltage_v)
            .max(0.0);
        let current = bcl
            .current_demand_a
            .min(bcp.max_current_a.abs())
            .min(limits.max_current_a)
            .max(0.0);
        let current = if self.paused || self.phase != ChargerPhase::Charging {
            0.0
        } else {
            current
        };
        self.set_setpoint(voltage, current);
    }

    /// Emits a `Setpoint` event when the setpoint changes.
    pub(super) fn set_setpoint(&mut self, voltage_v: f64, current_a: f64) {
        let next = Setpoint {
            voltage_v,
            current_a,
        };
        if next != self.setpoint {
            self.setpoint = next;
            self.push(ChargerEvent::Setpoint(next));
        }
    }

    /// Opens K1/K2 if they were commanded closed.
    pub(super) fn open_contactors(&mut self) {
        if self.contactors_closed {
            self.contactors_closed = false;
            self.push(ChargerEvent::OpenContactors);
        }
    }

    /// A stop from a fault hook: CST in session, a plain end before it.
    pub(super) fn fault_stop(&mut self, now: Instant, cause: ChargerStopCause) {
        self.begin_stop(now, cause);
    }

    /// Ends the session before any CST could mean anything (before CRM, or in C-Err).
    pub(super) fn end_before_session(
        &mut self,
        now: Instant,
        cause: ChargerStopCause,
        to: ChargerPhase,
    ) {
        self.tx.stop_all();
        self.timers.clear_all();
        self.set_setpoint(self.setpoint.voltage_v, 0.0);
        self.open_contactors();
        self.push(ChargerEvent::Stopped {
            cause,
            cst: None,
            bst: self.bms.bst,
            statistics: self.bms.bsd,
        });
        self.push(ChargerEvent::AuxPower(false));
        self.enter(now, to);
    }

    /// C9: decide to stop for `cause`. In session, CST goes out every 10 ms, the output
    /// goes to zero and K1/K2 open at ≤ 5 A or after 100 ms; BST is due within 5 s and
    /// BSD within 10 s of the first CST.
    pub(super) fn begin_stop(&mut self, now: Instant, cause: ChargerStopCause) {
        match self.phase {
            ChargerPhase::ExpectBhm | ChargerPhase::ExpectInsulationResult => {
                self.end_before_session(now, cause, ChargerPhase::Ended);
                return;
            }
            ChargerPhase::ErrorBackoff => {
                self.end_before_session(now, cause, ChargerPhase::Failed);
                return;
            }
            p if p.in_session() => {}
            _ => return,
        }
        let cst = cause.cst();
        self.stop_cause = Some(cause);
        self.cst = Some(cst);
        self.tx.stop_all();
        for t in RX_TIMERS {
            self.timers.clear(t as usize);
        }
        self.tx.start(super::Tx::Cst as usize, now);
        self.set_setpoint(self.setpoint.voltage_v, 0.0);
        if self.contactors_closed {
            self.timers.set(
                Timer::StopCurrent as usize,
                now + self.cfg.timeouts.stop_current,
            );
        }
        if self.bms.bst.is_none() {
            self.timers
                .set(Timer::Bst as usize, now + self.cfg.timeouts.bst);
        }
        self.timers
            .set(Timer::Bsd as usize, now + self.cfg.timeouts.bsd);
        self.enter(now, ChargerPhase::ExpectBstBsd);
    }

    /// C-Err: output off, K1/K2 open, CEM every 250 ms; a re-handshake follows after
    /// `retry_delay` while attempts remain, else the session ends.
    pub(super) fn error(&mut self, now: Instant, cause: ChargerErrorCause) {
        if let ChargerErrorCause::Timeout(pgn) = cause {
            set_cem_bit(&mut self.cem, pgn);
        }
        if let ChargerErrorCause::BemReceived(bem) = cause {
            self.bms.bem = Some(bem);
        }
        let stopping = self.phase == ChargerPhase::ExpectBstBsd;
        self.after_error = if stopping {
            AfterError::End
        } else if self.attempt < self.cfg.max_attempts && !self.locked_out {
            AfterError::Retry
        } else {
            AfterError::GiveUp
        };
        self.counters.errors += 1;
        self.tx.stop_all();
        self.timers.clear_all();
        self.set_setpoint(self.setpoint.voltage_v, 0.0);
        self.open_contactors();
        if matches!(cause, ChargerErrorCause::Timeout(_)) {
            self.tx.start(Tx::Cem as usize, now);
        }
        self.timers
            .set(Timer::Backoff as usize, now + self.cfg.timeouts.retry_delay);
        self.push(ChargerEvent::Error {
            cause,
            cem: self.cem,
            attempt: self.attempt,
        });
        self.enter(now, ChargerPhase::ErrorBackoff);
    }

    /// The error state's delay is over: retry, give up or end.
    fn after_backoff(&mut self, now: Instant) {
        match self.after_error {
            AfterError::Retry => {
                self.attempt = self.attempt.saturating_add(1);
                self.start_recognition(now);
            }
            AfterError::GiveUp => {
                self.push(ChargerEvent::GaveUp);
                self.end_before_session(
                    now,
                    ChargerStopCause::CommunicationTimeout,
                    ChargerPhase::Failed,
                );
            }
            AfterError::End => {
                let cause = self
                    .stop_cause
                    .unwrap_or(ChargerStopCause::CommunicationTimeout);
                self.tx.stop_all();
                self.push(ChargerEvent::Stopped {
                    cause,
                    cst: self.cst,
                    bst: self.bms.bst,
                    statistics: self.bms.bsd,
                });
                self.push(ChargerEvent::AuxPower(false));
                self.enter(now, ChargerPhase::Ended);
            }
        }
    }

    /// Fires one expired timer.
    pub(super) fn on_timer(&mut self, now: Instant, timer: Timer) {
        let timeout = |pgn| ChargerErrorCause::Timeout(pgn);
        match timer {
            Timer::Bhm if self.phase == ChargerPhase::ExpectBhm => {
                // Forward compatibility (§4.6): no BHM means a 2011 BMS.
                self.legacy_bms = true;
                self.tx.stop(Tx::Chm as usize);
                self.start_insulation(now);
            }
            Timer::Bhm if self.phase == ChargerPhase::ExpectInsulationResult => {
                self.end_before_session(
                    now,
                    ChargerStopCause::CommunicationTimeout,
                    ChargerPhase::Ended,
                );
            }
            Timer::Brm => self.error(now, timeout(Pgn::Brm)),
            Timer::Bcp => self.error(now, timeout(Pgn::Bcp)),
            Timer::Bro | Timer::BroReady => self.error(now, timeout(Pgn::Bro)),
            Timer::Bcl => self.error(now, timeout(Pgn::Bcl)),
            Timer::Bcs => self.error(now, timeout(Pgn::Bcs)),
            Timer::Bst => self.error(now, timeout(Pgn::Bst)),
            Timer::Bsd => self.error(now, timeout(Pgn::Bsd)),
            Timer::Pause => self.begin_stop(now, ChargerStopCause::PauseTimeout),
            Timer::Precharge => self.begin_stop(now, ChargerStopCause::PrechargeFailed),
            Timer::StopCurrent => self.open_contactors(),
            Timer::Backoff => self.after_backoff(now),
            Timer::InsulationDone => {
                if let InsulationPolicy::Simulated { outcome, .. } = self.cfg.insulation {
                    self.insulation_result(now, outcome);
                }
            }
            Timer::PrechargeDone => self.precharge_done(now, true),
            Timer::Bhm => {}
        }
    }
}

/// Sets the CEM bit (SPN3921–3927) for a timed-out BMS message.
fn set_cem_bit(cem: &mut Cem, pgn: Pgn) {
    let on = Status2::Active;
    match pgn {
        Pgn::Brm => cem.brm_timeout = on,
        Pgn::Bcp => cem.bcp_timeout = on,
        Pgn::Bro => cem.bro_timeout = on,
        Pgn::Bcs => cem.bcs_timeout = on,
        Pgn::Bcl => cem.bcl_timeout = on,
        Pgn::Bst => cem.bst_timeout = on,
        Pgn::Bsd => cem.bsd_timeout = on,
        _ => {}
    }
}
