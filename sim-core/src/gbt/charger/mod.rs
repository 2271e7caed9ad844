//! The off-board charger's side of a GB/T 27930 session, sans-IO.
//!
//! ```text
//!  Idle ──plug_in──▶ ExpectBhm ──BHM──▶ ExpectInsulationResult ──ok──▶ ExpectBrm
//!   (aux on)      CHM/250ms  │ 5 s no BHM: 2011 BMS ──┘   CHM        CRM(00)/250ms
//!                            └─ 2011 charger: no CHM, straight to the check
//!  ExpectBrm ──BRM(TP)──▶ ExpectBcp ──BCP(TP)──▶ ExpectBroReady ──BRO(AA)──▶ ExpectPrecharge
//!    5 s: CEM 3921       CRM(AA)  5 s: CEM 3922   CTS/500 CML/250            CRO(00)/250
//!                                                 5 s / 60 s: CEM 3923       precharge_done
//!  ExpectPrecharge ──K1/K2 closed──▶ ExpectBclBcs ──BCL and BCS──▶ Charging ──BST / stop──▶
//!                                    CRO(AA)/250    1 s: 3925        CCS/50ms
//!                                                   5 s: 3924        BSM pause ≤ 10 min
//!  ExpectBstBsd ──BSD──▶ SendingStatistics ──n × CSD──▶ Ended (aux off) ──unplug──▶ Idle
//!    CST/10ms               CSD/250ms
//!    5 s no BST: CEM 3926; 10 s no BSD: CEM 3927
//!
//!  any timeout or BEM in ExpectBrm..Charging ──▶ ErrorBackoff (CEM/250ms, output off)
//!      ──retry_delay──▶ ExpectBrm (attempt + 1)   or, after max_attempts, ──▶ Failed
//! ```
//!
//! The API follows quinn: `handle_frame` / `handle_timeout` and the plant inputs
//! (`plug_in`, `insulation_result`, `precharge_done`, `update_output`, `request_stop`,
//! `unplug`) feed it; `poll_transmit`, `poll_event` and `poll_timeout` drain it. After any
//! input, drain `poll_transmit` and `poll_event`, then sleep until `poll_timeout`. Inputs
//! must come in non-decreasing `now`. Timers are a table (one per monitored PGN); periodic
//! messages run on the machine's own schedule; frames are built on the stack.

mod accessors;
mod config;
mod flow;
mod rx;
mod types;

pub use config::{
    CcsLength, ChargerConfig, ChargerTimeouts, InsulationLevel, InsulationOutcome,
    InsulationPolicy, OutputLimits, PrechargePolicy,
};
pub use types::{
    ChargerErrorCause, ChargerEvent, ChargerFaultKind, ChargerPhase, ChargerStopCause,
    OutputStatus, Setpoint,
};

use std::collections::VecDeque;

use proto::can::CanFrame;
use proto::gbt27930::id::{Node, Pgn};
use proto::gbt27930::msg::{
    Bcl, Bcp, Bcs, Bem, Bhm, Brm, Bsd, Bsm, Bst, Cem, ChargingPermit, Chm, Cml, Crm, Cro, Csd, Cst,
    Cts, ProtocolVersion, Readiness, Recognition, spec,
};
use proto::gbt27930::tp::TpReceiver;
use proto::time::{Duration, Instant};

use super::Version;
use super::common::{
    Counters, FrameCache, Schedule, Timers, deadline, encode_frame, or_never, push_bounded,
};
use crate::gbt::faults::ChargerFault;

/// The messages the charger sends periodically, in priority order (schedule indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Tx {
    Cem,
    Cst,
    Cro,
    Ccs,
    Chm,
    Crm,
    Cml,
    Cts,
    Csd,
}

/// Number of [`Tx`] entries.
const TX_COUNT: usize = 9;
/// The PGN of each [`Tx`] entry.
const TX_PGNS: [Pgn; TX_COUNT] = [
    Pgn::Cem,
    Pgn::Cst,
    Pgn::Cro,
    Pgn::Ccs,
    Pgn::Chm,
    Pgn::Crm,
    Pgn::Cml,
    Pgn::Cts,
    Pgn::Csd,
];

/// The charger's timers: one per monitored PGN plus the plant and error timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Timer {
    Bhm,
    Brm,
    Bcp,
    Bro,
    BroReady,
    Bcl,
    Bcs,
    Bst,
    Bsd,
    Pause,
    Precharge,
    StopCurrent,
    Backoff,
    InsulationDone,
    PrechargeDone,
}

/// Number of [`Timer`] entries.
const TIMER_COUNT: usize = 15;
/// Every [`Timer`], by index.
const TIMERS: [Timer; TIMER_COUNT] = [
    Timer::Bhm,
    Timer::Brm,
    Timer::Bcp,
    Timer::Bro,
    Timer::BroReady,
    Timer::Bcl,
    Timer::Bcs,
    Timer::Bst,
    Timer::Bsd,
    Timer::Pause,
    Timer::Precharge,
    Timer::StopCurrent,
    Timer::Backoff,
    Timer::InsulationDone,
    Timer::PrechargeDone,
];

/// The receive timers that belong to the communication session (cleared on a stop or
/// an error).
const RX_TIMERS: [Timer; 10] = [
    Timer::Bhm,
    Timer::Brm,
    Timer::Bcp,
    Timer::Bro,
    Timer::BroReady,
    Timer::Bcl,
    Timer::Bcs,
    Timer::Pause,
    Timer::Precharge,
    Timer::PrechargeDone,
];

/// What follows the error state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterError {
    /// Re-handshake from CRM(0x00).
    Retry,
    /// Attempts exhausted: give up.
    GiveUp,
    /// The error happened after the stop was decided: end the session.
    End,
}

/// The latest messages decoded from the BMS.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BmsData {
    /// Latest BHM.
    pub bhm: Option<Bhm>,
    /// BRM of this session.
    pub brm: Option<Brm>,
    /// BCP of this session.
    pub bcp: Option<Bcp>,
    /// Latest BRO readiness.
    pub bro: Option<Readiness>,
    /// Latest BCL.
    pub bcl: Option<Bcl>,
    /// Latest BCS.
    pub bcs: Option<Bcs>,
    /// Latest BSM.
    pub bsm: Option<Bsm>,
    /// BST of this session.
    pub bst: Option<Bst>,
    /// BSD of this session.
    pub bsd: Option<Bsd>,
    /// Latest BEM.
    pub bem: Option<Bem>,
}

/// A summary of one charger session for reports.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ChargerReport {
    /// Current phase.
    pub phase: ChargerPhase,
    /// The furthest phase of the normal flow reached.
    pub furthest_phase: ChargerPhase,
    /// Handshake attempt in progress (1-based).
    pub attempt: u8,
    /// CEM frames sent.
    pub cem_sent: u64,
    /// BEM frames received.
    pub bem_received: u64,
    /// Energy delivered, kWh (integrated from `update_output`).
    pub energy_kwh: f64,
    /// Frame and message counters.
    pub counters: Counters,
}

/// The charger's session state machine (see the module documentation).
#[derive(Debug)]
pub struct ChargerSession {
    cfg: ChargerConfig,
    phase: ChargerPhase,
    furthest: ChargerPhase,
    attempt: u8,
    timers: Timers<TIMER_COUNT>,
    tx: Schedule<TX_COUNT>,
    tp: TpReceiver,
    /// The TP receiver may have answers queued (set when it is fed, cleared when it has
    /// nothing to send), so an idle `poll_transmit` need not ask it.
    tp_output: bool,
    events: VecDeque<ChargerEvent>,
    counters: Counters,
    bms: BmsData,
    legacy_bms: bool,
    crm_recognized: bool,
    bcl_seen: bool,
    bcs_seen: bool,
    paused: bool,
    contactors_closed: bool,
    setpoint: Setpoint,
    output: Option<OutputStatus>,
    output_at: Option<Instant>,
    energy_wh: f64,
    charging_since: Option<Instant>,
    charging_time: Duration,
    stop_cause: Option<ChargerStopCause>,
    cst: Option<Cst>,
    cem: Cem,
    after_error: AfterError,
    csd_left: u8,
    /// A fault that forbids a restart without re-plugging (DP.4002).
    locked_out: bool,
    fault_stuck_open: bool,
    fault_insulation: bool,
    /// The last CCS frame, sent again while its content stays the same.
    ccs_frame: FrameCache<proto::gbt27930::msg::Ccs>,
    /// Whether a BCS in the charging phase raises [`ChargerEvent::BmsStatus`] (an owner
    /// that reads the BMS's data with [`bms_data`](Self::bms_data) turns it off).
    bms_status_events: bool,
}

impl ChargerSession {
    /// A charger with nothing plugged in.
    pub fn new(cfg: ChargerConfig) -> ChargerSession {
        let period = TX_PGNS
            .map(|pgn| Duration::from_millis(u64::from(spec(pgn).map_or(250, |s| s.period_ms))));
        ChargerSession {
            tp: TpReceiver::new(cfg.tp),
            tp_output: false,
            cfg,
            phase: ChargerPhase::Idle,
            furthest: ChargerPhase::Idle,
            attempt: 0,
            timers: Timers::new(),
            tx: Schedule::new(period),
            events: VecDeque::with_capacity(8),
            counters: Counters::default(),
            bms: BmsData::default(),
            legacy_bms: false,
            crm_recognized: false,
            bcl_seen: false,
            bcs_seen: false,
            paused: false,
            contactors_closed: false,
            setpoint: Setpoint::default(),
            output: None,
            output_at: None,
            energy_wh: 0.0,
            charging_since: None,
            charging_time: Duration::ZERO,
            stop_cause: None,
            cst: None,
            cem: Cem::default(),
            after_error: AfterError::End,
            csd_left: 0,
            locked_out: false,
            fault_stuck_open: false,
            fault_insulation: false,
            ccs_frame: FrameCache::new(),
            bms_status_events: true,
        }
    }

    /// Whether a BCS received while charging raises [`ChargerEvent::BmsStatus`] (on by
    /// default). An owner that ignores that event turns it off: the event is the one the
    /// charger raises several times a second, and nothing else changes.
    pub fn set_bms_status_events(&mut self, on: bool) {
        self.bms_status_events = on;
    }

    /// The configuration in use.
    pub fn config(&self) -> &ChargerConfig {
        &self.cfg
    }

    /// The current phase.
    pub fn phase(&self) -> ChargerPhase {
        self.phase
    }

    /// The handshake attempt in progress (1-based; 0 before the first plug-in).
    pub fn attempt(&self) -> u8 {
        self.attempt
    }

    /// Whether the BMS was taken for a 2011 one (no BHM within the timeout).
    pub fn legacy_bms(&self) -> bool {
        self.legacy_bms
    }

    /// The latest data decoded from the BMS (for ChargingInfo / BmsInfo reports).
    pub fn bms_data(&self) -> &BmsData {
        &self.bms
    }

    /// The current power-stage setpoint.
    pub fn setpoint(&self) -> Setpoint {
        self.setpoint
    }

    /// The CEM being (or last) sent.
    pub fn cem(&self) -> Cem {
        self.cem
    }

    /// The CST of the current stop, if one was decided.
    pub fn cst(&self) -> Option<Cst> {
        self.cst
    }

    /// Frame and message counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Energy delivered in this session, kWh (integrated from `update_output`).
    pub fn energy_kwh(&self) -> f64 {
        self.energy_wh / 1000.0
    }

    /// A summary for reports.
    pub fn report(&self) -> ChargerReport {
        ChargerReport {
            phase: self.phase,
            furthest_phase: self.furthest,
            attempt: self.attempt,
            cem_sent: self.counters.frames_tx.get(Pgn::Cem),
            bem_received: self.counters.frames_rx.get(Pgn::Bem),
            energy_kwh: self.energy_kwh(),
            counters: self.counters,
        }
    }

    /// The gun is inserted and CC1 reads 4 V: lock, switch aux power on, start the
    /// handshake (CHM in 2015; the insulation check directly in 2011).
    pub fn plug_in(&mut self, now: Instant) {
        if self.phase != ChargerPhase::Idle {
            return;
        }
        self.reset_session();
        self.attempt = 1;
        self.push(ChargerEvent::AuxPower(true));
        match self.cfg.version {
            Version::V2015 => {
                self.tx.start(Tx::Chm as usize, now);
                self.timers
                    .set(Timer::Bhm as usize, now + self.cfg.timeouts.bhm);
                self.enter(now, ChargerPhase::ExpectBhm);
            }
            Version::V2011 => {
                self.legacy_bms = true;
                self.start_insulation(now);
            }
        }
    }

    /// The gun was pulled out (CC1 lost): output off at once (Annex A.10), everything
    /// stops, back to idle.
    pub fn unplug(&mut self, now: Instant) {
        if self.phase == ChargerPhase::Idle {
            return;
        }
        let ended = matches!(self.phase, ChargerPhase::Ended | ChargerPhase::Failed);
        self.set_setpoint(0.0, 0.0);
        self.open_contactors();
        if !ended {
            let cst = self
                .phase
                .in_session()
                .then(|| ChargerStopCause::Unplugged.cst());
            self.push(ChargerEvent::Stopped {
                cause: ChargerStopCause::Unplugged,
                cst,
                bst: self.bms.bst,
                statistics: self.bms.bsd,
            });
            self.push(ChargerEvent::AuxPower(false));
        }
        self.tx.stop_all();
        self.timers.clear_all();
        self.tp = TpReceiver::new(self.cfg.tp);
        self.locked_out = false;
        self.fault_stuck_open = false;
        self.fault_insulation = false;
        self.enter(now, ChargerPhase::Idle);
    }

    /// The plant's insulation check finished.
    pub fn insulation_result(&mut self, now: Instant, outcome: InsulationOutcome) {
        if self.phase != ChargerPhase::ExpectInsulationResult {
            return;
        }
        self.timers.clear(Timer::InsulationDone as usize);
        let failed = outcome.level == InsulationLevel::Fault || self.fault_insulation;
        if failed {
            self.locked_out = true;
            self.end_before_session(now, ChargerStopCause::InsulationFault, ChargerPhase::Failed);
        } else {
            self.start_recognition(now);
        }
    }

    /// The plant's pre-charge finished: on success K1/K2 close and CRO turns 0xAA.
    pub fn precharge_done(&mut self, now: Instant, ok: bool) {
        if self.phase != ChargerPhase::ExpectPrecharge {
            return;
        }
        self.timers.clear(Timer::PrechargeDone as usize);
        if ok && !self.fault_stuck_open {
            self.output_ready(now);
        } else {
            self.begin_stop(now, ChargerStopCause::PrechargeFailed);
        }
    }

    /// New measurements from the power stage; integrates the delivered energy and opens
    /// K1/K2 once the current has fallen to 5 A after a stop.
    pub fn update_output(&mut self, now: Instant, status: OutputStatus) {
        if let (Some(prev), Some(at)) = (self.output, self.output_at)
            && self.phase == ChargerPhase::Charging
        {
            let dt_h = now.saturating_since(at).as_secs_f64() / 3600.0;
            self.energy_wh += (prev.voltage_v * prev.current_a).max(0.0) * dt_h;
        }
        self.output = Some(status);
        self.output_at = Some(now);
        if self.phase == ChargerPhase::ExpectBstBsd
            && self.contactors_closed
            && status.current_a.abs() <= 5.0
        {
            self.timers.clear(Timer::StopCurrent as usize);
            self.open_contactors();
        }
    }

    /// Stops the session for `cause` (user, backend target, own fault): CST in session,
    /// a plain end before it.
    pub fn request_stop(&mut self, now: Instant, cause: ChargerStopCause) {
        self.begin_stop(now, cause);
    }

    /// Applies a charger fault hook (see [`ChargerFault`]).
    pub fn inject_fault(&mut self, now: Instant, fault: ChargerFault) {
        match fault {
            ChargerFault::ModuleFailure => self.fault_stop(
                now,
                ChargerStopCause::Fault(ChargerFaultKind::EnergyUnavailable),
            ),
            ChargerFault::OverTemperature => self.fault_stop(
                now,
                ChargerStopCause::Fault(ChargerFaultKind::OverTemperature),
            ),
            ChargerFault::EmergencyStop => {
                self.locked_out = true;
                self.fault_stop(
                    now,
                    ChargerStopCause::Fault(ChargerFaultKind::EmergencyStop),
                );
            }
            ChargerFault::ContactorStuckOpen => self.fault_stuck_open = true,
            ChargerFault::ContactorWelded => {
                self.locked_out = true;
                self.fault_stop(now, ChargerStopCause::Fault(ChargerFaultKind::Other));
            }
            ChargerFault::InsulationFault => {
                self.fault_insulation = true;
                if self.phase.in_session() {
                    self.locked_out = true;
                    self.begin_stop(now, ChargerStopCause::InsulationFault);
                }
            }
        }
    }

    /// Feeds one frame from the bus. Frames from other nodes are counted and dropped;
    /// TP traffic is reassembled inside.
    pub fn handle_frame(&mut self, now: Instant, frame: &CanFrame) {
        rx::handle_frame(self, now, frame);
    }

    /// Fires every timer expired at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // The receiver acts only once its own deadline has passed.
        if or_never(self.tp.poll_timeout()) <= now {
            self.tp.handle_timeout(now);
            self.tp_output = true;
        }
        self.drain_tp(now);
        while let Some(i) = self.timers.take_expired(now) {
            if let Some(&t) = TIMERS.get(i) {
                self.on_timer(now, t);
            }
        }
    }

    /// The next deadline: a timer, a periodic frame or a TP timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        deadline(self.next_deadline())
    }

    /// [`poll_timeout`](Self::poll_timeout) as a plain instant, `NEVER` for none.
    pub(crate) fn next_deadline(&self) -> Instant {
        let next = self.timers.next_raw().min(self.tx.next_due_raw(true));
        next.min(or_never(self.tp.poll_timeout()))
    }

    /// Whether `handle_timeout`, `poll_transmit` or `poll_event` has anything to do at
    /// `now` (the owner's cheap "anything due" check).
    pub fn has_work(&self, now: Instant) -> bool {
        self.has_output() || self.next_deadline() <= now
    }

    /// Whether [`handle_timeout`](Self::handle_timeout) has anything to fire at `now` (a
    /// timer or the TP receiver's deadline); the periodic messages are sent by `poll_transmit`.
    pub(crate) fn timer_due(&self, now: Instant) -> bool {
        self.timers.next_raw().min(or_never(self.tp.poll_timeout())) <= now
    }

    /// Whether TP frames may be queued or events are waiting (work due whatever the time).
    pub(crate) fn has_output(&self) -> bool {
        self.tp_output || !self.events.is_empty()
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<ChargerEvent> {
        self.events.pop_front()
    }

    /// The next frame to put on the bus: TP answers first, then the periodic message
    /// that is due, in priority order.
    #[inline]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<CanFrame> {
        // The owner polls until `None`: that last call is the common one, kept small.
        if !self.tp_output && self.tx.next_due_raw(true) > now {
            return None;
        }
        self.transmit(now)
    }

    /// `poll_transmit` when something may be due.
    #[inline(never)]
    fn transmit(&mut self, now: Instant) -> Option<CanFrame> {
        if self.tp_output {
            if let Some(frame) = self.tp.poll_transmit(now) {
                self.counters.frames_tx.bump(Pgn::TpCm);
                return Some(frame);
            }
            self.tp_output = false;
        }
        let i = self.tx.first_due(now, true)?;
        let pgn = TX_PGNS.get(i).copied().unwrap_or(Pgn::Cem);
        let frame = self.build(now, pgn);
        self.tx.advance(i, now);
        self.after_sent(now, pgn);
        if frame.is_some() {
            self.counters.frames_tx.bump(pgn);
            self.counters.messages_tx.bump(pgn);
        }
        frame
    }

    /// Builds the frame of `pgn` from the current state, on the stack.
    fn build(&mut self, now: Instant, pgn: Pgn) -> Option<CanFrame> {
        let from = Node::Charger;
        let v2011 = self.cfg.version == Version::V2011;
        let limits = &self.cfg.limits;
        match pgn {
            Pgn::Chm => encode_frame(
                &Chm {
                    version: ProtocolVersion::V1_1,
                },
                from,
                8,
            ),
            Pgn::Crm => {
                let recognition = if self.crm_recognized {
                    Recognition::Recognized
                } else {
                    Recognition::NotRecognized
                };
                let crm = Crm {
                    recognition,
                    charger_number: self.cfg.charger_number,
                    region_code: self.cfg.region_code,
                };
                encode_frame(&crm, from, 8)
            }
            Pgn::Cts => encode_frame(&Cts::NOT_PROVIDED, from, 8),
            Pgn::Cml => {
                let cml = Cml {
                    max_voltage_v: limits.max_voltage_v,
                    min_voltage_v: limits.min_voltage_v,
                    max_current_a: limits.max_current_a,
                    min_current_a: (!v2011).then_some(limits.min_current_a),
                };
                encode_frame(&cml, from, 8)
            }
            Pgn::Cro => {
                let readiness = if self.phase == ChargerPhase::ExpectBclBcs {
                    Readiness::Ready
                } else {
                    Readiness::NotReady
                };
                encode_frame(&Cro { readiness }, from, 8)
            }
            Pgn::Ccs => {
                let ccs = self.ccs(now);
                let len = self.ccs_len();
                self.ccs_frame.frame(ccs, from, len)
            }
            Pgn::Cst => encode_frame(&self.cst.unwrap_or_default(), from, 8),
            Pgn::Csd => {
                let csd = Csd {
                    charging_time_min: self.charging_minutes(now),
                    energy_kwh: self.energy_kwh(),
                    charger_number: self.cfg.charger_number,
                };
                encode_frame(&csd, from, if v2011 { Csd::LEN_2011 } else { Csd::LEN })
            }
            Pgn::Cem => encode_frame(&self.cem, from, 8),
            _ => None,
        }
    }

    fn ccs_len(&self) -> usize {
        match (self.cfg.version, self.cfg.ccs_length) {
            (Version::V2011, _) => 6,
            (Version::V2015, CcsLength::Standard) => 8,
            (Version::V2015, CcsLength::Short) => 7,
        }
    }

    fn ccs(&self, now: Instant) -> proto::gbt27930::msg::Ccs {
        let out = self.output.unwrap_or_default();
        let permit = if self.paused {
            ChargingPermit::Paused
        } else {
            ChargingPermit::Permitted
        };
        proto::gbt27930::msg::Ccs {
            voltage_v: out.voltage_v.max(0.0),
            current_a: out.current_a.max(0.0),
            charging_time_min: self.charging_minutes(now),
            charging_permitted: (self.cfg.version == Version::V2015).then_some(permit),
        }
    }

    /// Whole minutes of charging so far, capped at 600 (SPN3083).
    fn charging_minutes(&self, now: Instant) -> u16 {
        let running = self
            .charging_since
            .map_or(Duration::ZERO, |t| now.saturating_since(t));
        let minutes = (self.charging_time + running).as_millis() / 60_000;
        minutes.min(600) as u16
    }

    /// Bookkeeping after a periodic frame went out (CSD repeats end the session).
    fn after_sent(&mut self, now: Instant, pgn: Pgn) {
        if pgn == Pgn::Csd && self.phase == ChargerPhase::SendingStatistics {
            self.csd_left = self.csd_left.saturating_sub(1);
            if self.csd_left == 0 {
                self.tx.stop(Tx::Csd as usize);
                self.push(ChargerEvent::AuxPower(false));
                self.enter(now, ChargerPhase::Ended);
            }
        }
    }

    fn push(&mut self, event: ChargerEvent) {
        push_bounded(&mut self.events, event, &mut self.counters.events_dropped);
    }
}
