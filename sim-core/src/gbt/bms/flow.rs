//! The BMS's transitions and timers.

use proto::gbt27930::id::Pgn;
use proto::gbt27930::msg::{Bem, Status2};
use proto::gbt27930::tp::TpSender;
use proto::time::Instant;

use super::{
    BatteryStatus, BmsErrorCause, BmsEvent, BmsPhase, BmsSession, BmsStopCause, BsmOverrides,
    ChargerData, Timer, Tx,
};

impl BmsSession {
    /// Changes phase and emits `PhaseChanged`.
    pub(super) fn enter(&mut self, phase: BmsPhase) {
        if self.phase == phase {
            return;
        }
        self.phase = phase;
        if phase <= BmsPhase::Ended && phase > self.furthest {
            self.furthest = phase;
        }
        self.push(BmsEvent::PhaseChanged(phase));
    }

    /// Aux power on: wake up and wait for the charger (CHM, or CRM from a 2011 one).
    pub(super) fn power_on(&mut self, now: Instant) {
        if self.phase != BmsPhase::Off {
            return;
        }
        self.charger = ChargerData::default();
        self.attempt = 1;
        self.bro_ready = false;
        self.ccs_seen = false;
        self.cst_seen = false;
        self.bst_sent = 0;
        self.stop_cause = None;
        self.bst = None;
        self.bem = Bem::default();
        self.furthest = BmsPhase::Off;
        self.timers.set(
            Timer::CrmWithoutChm as usize,
            now + self.cfg.timeouts.crm_without_chm,
        );
        if self.is_2015() {
            self.enter(BmsPhase::ExpectChm);
        } else {
            self.enter(BmsPhase::ExpectCrm);
        }
    }

    /// Aux power off (or unplugged): everything stops.
    pub(super) fn power_off(&mut self, _now: Instant) {
        if self.phase == BmsPhase::Off {
            return;
        }
        if !matches!(self.phase, BmsPhase::Ended | BmsPhase::Failed) {
            self.push(BmsEvent::Stopped {
                cause: self.stop_cause.unwrap_or(BmsStopCause::PowerLost),
                bst: self.bst,
                cst: self.charger.cst,
                statistics: self.charger.csd,
            });
        }
        self.open_contactors();
        self.tx.stop_all();
        self.timers.clear_all();
        self.tp = TpSender::new(self.cfg.tp);
        self.overrides = BsmOverrides::NONE;
        self.enter(BmsPhase::Off);
    }

    /// B1: BHM every 250 ms (2015 BMS), CRM due within 30 s of the first CHM.
    pub(super) fn on_chm(&mut self, now: Instant) {
        self.charger.chm_seen = true;
        if self.phase != BmsPhase::ExpectChm {
            return;
        }
        self.timers.clear(Timer::CrmWithoutChm as usize);
        self.timers
            .set(Timer::Crm as usize, now + self.cfg.timeouts.crm_after_chm);
        self.tx.start(Tx::Bhm as usize, now);
        self.enter(BmsPhase::ExpectCrm);
    }

    /// B2: BRM every 250 ms; CRM(0xAA) due within 5 s.
    pub(super) fn start_identification(&mut self, now: Instant) {
        self.tx.stop_all();
        self.timers.clear_all();
        self.bem = Bem::default();
        self.bro_ready = false;
        self.ccs_seen = false;
        self.cst_seen = false;
        self.charger.cst = None;
        self.charger.csd = None;
        self.tx.start(Tx::Brm as usize, now);
        self.timers.set(
            Timer::CrmRecognized as usize,
            now + self.cfg.timeouts.crm_recognized,
        );
        self.enter(BmsPhase::ExpectCrmRecognized);
    }

    /// B3: BCP every 500 ms; CML due within 5 s.
    pub(super) fn start_parameters(&mut self, now: Instant) {
        self.tx.stop_all();
        self.timers.clear_all();
        self.tx.start(Tx::Bcp as usize, now);
        self.timers
            .set(Timer::Cml as usize, now + self.cfg.timeouts.cml);
        self.enter(BmsPhase::ExpectCml);
    }

    /// B4: BRO(0x00) every 250 ms; K5/K6 close after `ready_delay`.
    pub(super) fn start_ready(&mut self, now: Instant) {
        self.tx.stop(Tx::Bcp as usize);
        self.timers.clear(Timer::Cml as usize);
        self.bro_ready = false;
        self.tx.start(Tx::Bro as usize, now);
        self.timers
            .set(Timer::ReadyDelay as usize, now + self.cfg.ready_delay);
        self.enter(BmsPhase::ExpectCroReady);
    }

    /// K5/K6 are closed: BRO(0xAA) at once; CRO due within 5 s, CRO(0xAA) within 60 s.
    pub(super) fn bms_ready(&mut self, now: Instant) {
        if self.bro_ready {
            return;
        }
        self.bro_ready = true;
        self.tx.send_now(Tx::Bro as usize, now);
        self.timers
            .set(Timer::Cro as usize, now + self.cfg.timeouts.cro);
        self.timers
            .set(Timer::CroReady as usize, now + self.cfg.timeouts.cro_ready);
    }

    /// B5: BCL/BCS (and the optional messages); CCS due within 1 s.
    pub(super) fn start_charging(&mut self, now: Instant) {
        self.tx.stop(Tx::Bro as usize);
        self.timers.clear(Timer::Cro as usize);
        self.timers.clear(Timer::CroReady as usize);
        self.tx.start(Tx::Bcl as usize, now);
        self.tx.start(Tx::Bcs as usize, now);
        if self.cfg.send_optional {
            self.tx.start(Tx::Bmv as usize, now);
            self.tx.start(Tx::Bmt as usize, now);
            self.tx.start(Tx::Bsp as usize, now);
        }
        self.timers
            .set(Timer::Ccs as usize, now + self.cfg.timeouts.ccs);
        self.enter(BmsPhase::Charging);
    }

    /// The stop conditions of the battery status (with `auto_stop`).
    pub(super) fn stop_condition(&self, b: &BatteryStatus) -> Option<BmsStopCause> {
        if b.stop_request.is_some() {
            return b.stop_request;
        }
        if !self.cfg.auto_stop {
            return None;
        }
        let bcp = &self.cfg.bcp;
        if !b.insulation_ok {
            Some(BmsStopCause::InsulationFault)
        } else if b.max_temperature_c > bcp.max_temperature_c {
            Some(BmsStopCause::BatteryOverTemperature)
        } else if b.max_cell_voltage_v >= bcp.max_cell_voltage_v {
            Some(BmsStopCause::CellVoltageReached)
        } else if b.pack_voltage_v >= bcp.max_total_voltage_v {
            Some(BmsStopCause::TotalVoltageReached)
        } else if b.soc_pct >= self.cfg.target_soc_pct {
            Some(BmsStopCause::SocTargetReached)
        } else {
            None
        }
    }

    /// B6: decide to stop. In session BST goes out every 10 ms; CST is due within 5 s
    /// and CSD within 10 s of the first BST.
    pub(super) fn begin_stop(&mut self, now: Instant, cause: BmsStopCause) {
        match self.phase {
            BmsPhase::ExpectChm | BmsPhase::ExpectCrm | BmsPhase::ErrorWaitCrm => {
                self.end(cause, BmsPhase::Ended);
                return;
            }
            p if p.in_session() => {}
            _ => return,
        }
        self.stop_cause = Some(cause);
        self.bst = Some(cause.bst());
        self.cst_seen = self.charger.cst.is_some();
        self.bst_sent = 0;
        self.tx.stop_all();
        self.timers.clear_all();
        self.tx.start(Tx::Bst as usize, now);
        if !self.cst_seen {
            self.timers
                .set(Timer::Cst as usize, now + self.cfg.timeouts.cst);
        }
        self.timers
            .set(Timer::Csd as usize, now + self.cfg.timeouts.csd);
        self.enter(BmsPhase::ExpectCst);
    }

    /// B6 → B7 once CST arrived, a BST went out and the current is at most 5 A: K5/K6
    /// open, BSD every 250 ms.
    pub(super) fn maybe_finish_stop(&mut self, now: Instant) {
        let low = self.battery.is_none_or(|b| b.pack_current_a.abs() <= 5.0);
        if self.phase != BmsPhase::ExpectCst || !self.cst_seen || self.bst_sent == 0 || !low {
            return;
        }
        self.open_contactors();
        self.tx.stop(Tx::Bst as usize);
        self.tx.start(Tx::Bsd as usize, now);
        self.enter(BmsPhase::ExpectCsd);
    }

    /// Ends the session: report and go quiet.
    pub(super) fn end(&mut self, cause: BmsStopCause, to: BmsPhase) {
        self.tx.stop_all();
        self.timers.clear_all();
        self.open_contactors();
        self.push(BmsEvent::Stopped {
            cause,
            bst: self.bst,
            cst: self.charger.cst,
            statistics: self.charger.csd,
        });
        self.enter(to);
    }

    /// Opens K5/K6 if they were commanded closed.
    pub(super) fn open_contactors(&mut self) {
        if self.contactors_commanded {
            self.contactors_commanded = false;
            self.contactors_closed = false;
            self.push(BmsEvent::OpenContactors);
        }
    }

    /// B-Err: stop drawing current, BEM every 250 ms (for a timeout), wait for a new
    /// CRM(0x00).
    pub(super) fn error(&mut self, now: Instant, cause: BmsErrorCause) {
        if let BmsErrorCause::CemReceived(cem) = cause {
            self.charger.cem = Some(cem);
        }
        self.error_while_stopping = matches!(self.phase, BmsPhase::ExpectCst | BmsPhase::ExpectCsd);
        self.retry_allowed = !self.error_while_stopping && self.attempt < self.cfg.max_attempts;
        self.counters.errors += 1;
        self.tx.stop_all();
        self.timers.clear_all();
        self.open_contactors();
        if matches!(cause, BmsErrorCause::Timeout(_)) {
            self.tx.start(Tx::Bem as usize, now);
        }
        self.timers.set(
            Timer::ErrorWait as usize,
            now + self.cfg.timeouts.error_wait,
        );
        self.push(BmsEvent::Error {
            cause,
            bem: self.bem,
            attempt: self.attempt,
        });
        self.enter(BmsPhase::ErrorWaitCrm);
    }

    /// A new CRM(0x00) in the error state: re-handshake if allowed.
    pub(super) fn retry(&mut self, now: Instant) {
        if self.retry_allowed {
            self.attempt = self.attempt.saturating_add(1);
            self.start_identification(now);
        }
    }

    /// Fires one expired timer.
    pub(super) fn on_timer(&mut self, now: Instant, timer: Timer) {
        let on = Status2::Active;
        let timeout = |pgn| BmsErrorCause::Timeout(pgn);
        match timer {
            Timer::CrmWithoutChm | Timer::Crm => {
                self.bem.crm_00_timeout = on;
                self.error(now, timeout(Pgn::Crm));
            }
            Timer::CrmRecognized => {
                self.bem.crm_aa_timeout = on;
                self.error(now, timeout(Pgn::Crm));
            }
            Timer::Cml => {
                self.bem.cts_cml_timeout = on;
                self.error(now, timeout(Pgn::Cml));
            }
            Timer::Cro | Timer::CroReady => {
                self.bem.cro_timeout = on;
                self.error(now, timeout(Pgn::Cro));
            }
            Timer::Ccs => {
                self.bem.ccs_timeout = on;
                self.error(now, timeout(Pgn::Ccs));
            }
            Timer::Cst => {
                self.bem.cst_timeout = on;
                self.error(now, timeout(Pgn::Cst));
            }
            Timer::Csd => {
                self.bem.csd_timeout = on;
                self.error(now, timeout(Pgn::Csd));
            }
            Timer::ReadyDelay => {
                if self.phase == BmsPhase::ExpectCroReady {
                    self.contactors_commanded = true;
                    self.push(BmsEvent::CloseContactors);
                    if !self.cfg.external_contactors {
                        self.contactors_closed = true;
                        self.bms_ready(now);
                    }
                }
            }
            Timer::ErrorWait => {
                if self.error_while_stopping {
                    let cause = self
                        .stop_cause
                        .unwrap_or(BmsStopCause::CommunicationTimeout);
                    self.end(cause, BmsPhase::Ended);
                } else {
                    self.push(BmsEvent::GaveUp);
                    self.end(BmsStopCause::CommunicationTimeout, BmsPhase::Failed);
                }
            }
        }
    }
}
