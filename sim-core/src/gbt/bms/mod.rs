//! The vehicle BMS's side of a GB/T 27930 session, sans-IO.
//!
//! ```text
//!  Off ──aux on──▶ ExpectChm ──CHM──▶ ExpectCrm ──CRM(00)──▶ ExpectCrmRecognized ──CRM(AA)──▶
//!                 60 s no CRM: 3901   BHM/250ms             BRM(TP)/250ms
//!                 (2011 BMS: straight 30 s: BEM 3901        5 s: BEM 3902
//!                  to ExpectCrm, no BHM)
//!  ExpectCml ──CML──▶ ExpectCroReady ──CRO(AA)──▶ Charging ──own stop / CST──▶ ExpectCst
//!   BCP(TP)/500ms     BRO(00)…K5/K6…BRO(AA)       BCL/50ms, BCS(TP)/250ms       BST/10ms
//!   5 s: BEM 3903     5 s / 60 s: BEM 3904        BSM/250ms after the 1st CCS   5 s: 3906
//!                                                 BMV/BMT/BSP/10s, CCS 1 s: 3905
//!  ExpectCst ──CST and ≤ 5 A──▶ ExpectCsd ──CSD──▶ Ended
//!                               BSD/250ms, 10 s after BST: BEM 3907
//!
//!  any timeout or CEM in session ──▶ ErrorWaitCrm (BEM/250ms, K5/K6 open)
//!      ──CRM(00) within 30 s──▶ ExpectCrmRecognized (attempt + 1)   else ──▶ Failed
//! ```
//!
//! Same shape as [`ChargerSession`](super::charger::ChargerSession): `handle_*` and the
//! plant inputs (`aux_power`, `update_battery`, `contactors_closed`, `request_stop`,
//! `unplug`) feed it; `poll_transmit`, `poll_event`, `poll_timeout` drain it. Messages above
//! 8 bytes go through one [`TpSender`], one session at a time; a message whose period
//! comes while another is in flight waits for it, and an aborted one is sent again after
//! `tp_retry_delay`.

mod build;
mod config;
mod flow;
mod rx;

pub use config::{
    BatteryStatus, BmsConfig, BmsErrorCause, BmsEvent, BmsPhase, BmsStopCause, BmsTimeouts, Demand,
    DemandMode, identity,
};

use std::collections::VecDeque;

use proto::can::CanFrame;
use proto::gbt27930::id::Pgn;
use proto::gbt27930::msg::{
    Bcl, Bcs, Bem, Bsm, Bst, Ccs, Cml, Crm, Csd, Cst, Level2, Status2, spec,
};
use proto::gbt27930::tp::{TpEvent, TpSender};
use proto::time::{Duration, Instant};

use super::Version;
use super::common::{Counters, FrameCache, Schedule, Timers, deadline, or_never, push_bounded};
use crate::gbt::faults::BmsFault;

/// The messages the BMS sends periodically, in priority order; TP messages last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Tx {
    Bem,
    Bst,
    Bro,
    Bcl,
    Bhm,
    Bsm,
    Bsd,
    Brm,
    Bcp,
    Bcs,
    Bmv,
    Bmt,
    Bsp,
}

/// Number of [`Tx`] entries.
const TX_COUNT: usize = 13;
/// The first [`Tx`] entry sent with the transport protocol.
const FIRST_TP: usize = Tx::Brm as usize;
/// The PGN of each [`Tx`] entry.
const TX_PGNS: [Pgn; TX_COUNT] = [
    Pgn::Bem,
    Pgn::Bst,
    Pgn::Bro,
    Pgn::Bcl,
    Pgn::Bhm,
    Pgn::Bsm,
    Pgn::Bsd,
    Pgn::Brm,
    Pgn::Bcp,
    Pgn::Bcs,
    Pgn::Bmv,
    Pgn::Bmt,
    Pgn::Bsp,
];

/// The BMS's timers: one per monitored charger message plus its own delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Timer {
    CrmWithoutChm,
    Crm,
    CrmRecognized,
    Cml,
    Cro,
    CroReady,
    Ccs,
    Cst,
    Csd,
    ReadyDelay,
    ErrorWait,
}

/// Number of [`Timer`] entries.
const TIMER_COUNT: usize = 11;
/// Every [`Timer`], by index.
const TIMERS: [Timer; TIMER_COUNT] = [
    Timer::CrmWithoutChm,
    Timer::Crm,
    Timer::CrmRecognized,
    Timer::Cml,
    Timer::Cro,
    Timer::CroReady,
    Timer::Ccs,
    Timer::Cst,
    Timer::Csd,
    Timer::ReadyDelay,
    Timer::ErrorWait,
];

/// Status flags a fault hook forces into BSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BsmOverrides {
    cell_voltage: Level2,
    over_current: Status2,
    over_temperature: Status2,
    insulation: Status2,
    output_connector: Status2,
    suspended: bool,
}

impl BsmOverrides {
    const NONE: BsmOverrides = BsmOverrides {
        cell_voltage: Level2::Normal,
        over_current: Status2::Normal,
        over_temperature: Status2::Normal,
        insulation: Status2::Normal,
        output_connector: Status2::Normal,
        suspended: false,
    };
}

/// The latest messages decoded from the charger.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChargerData {
    /// Whether a CHM arrived (a 2015 charger).
    pub chm_seen: bool,
    /// Latest CRM.
    pub crm: Option<Crm>,
    /// CML of this session, normalized.
    pub cml: Option<Cml>,
    /// Latest CCS.
    pub ccs: Option<Ccs>,
    /// CST of this session.
    pub cst: Option<Cst>,
    /// CSD of this session.
    pub csd: Option<Csd>,
    /// Latest CEM.
    pub cem: Option<proto::gbt27930::msg::Cem>,
}

/// A summary of one BMS session for reports.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BmsReport {
    /// Current phase.
    pub phase: BmsPhase,
    /// The furthest phase of the normal flow reached.
    pub furthest_phase: BmsPhase,
    /// Handshake attempt in progress (1-based).
    pub attempt: u8,
    /// BEM frames sent.
    pub bem_sent: u64,
    /// CEM frames received.
    pub cem_received: u64,
    /// Frame and message counters.
    pub counters: Counters,
}

/// The BMS's session state machine (see the module documentation).
#[derive(Debug)]
pub struct BmsSession {
    cfg: BmsConfig,
    phase: BmsPhase,
    furthest: BmsPhase,
    attempt: u8,
    timers: Timers<TIMER_COUNT>,
    tx: Schedule<TX_COUNT>,
    tp: TpSender,
    /// The TP sender may have frames queued (set when it is fed or started, cleared when
    /// it has nothing to send), so an idle `poll_transmit` need not ask it.
    tp_output: bool,
    events: VecDeque<BmsEvent>,
    counters: Counters,
    charger: ChargerData,
    battery: Option<BatteryStatus>,
    bro_ready: bool,
    contactors_commanded: bool,
    contactors_closed: bool,
    ccs_seen: bool,
    cst_seen: bool,
    bst_sent: u32,
    stop_cause: Option<BmsStopCause>,
    bst: Option<Bst>,
    bem: Bem,
    /// Whether the error state accepts a re-handshake; else it ends after the wait.
    retry_allowed: bool,
    /// Whether the error came after the stop was decided.
    error_while_stopping: bool,
    overrides: BsmOverrides,
    /// The last BCL and BSM frames, sent again while their content stays the same.
    frames: Frames,
    /// The BCL frame of the current battery snapshot: BCL goes out at 20 Hz and the
    /// snapshot changes at the plant's 10 Hz, so every other BCL is this frame again.
    /// Cleared by [`update_battery`](Self::update_battery).
    bcl_frame: Option<CanFrame>,
    /// Whether a changed CCS raises [`BmsEvent::ChargerOutput`] (an owner that ignores
    /// it turns it off).
    charger_output_events: bool,
}

/// The frame caches of the BMS's 8-byte periodic messages.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Frames {
    bcl: FrameCache<Bcl>,
    bsm: FrameCache<Bsm>,
}

impl BmsSession {
    /// A BMS with no aux power.
    pub fn new(cfg: BmsConfig) -> BmsSession {
        let period = TX_PGNS
            .map(|pgn| Duration::from_millis(u64::from(spec(pgn).map_or(250, |s| s.period_ms))));
        BmsSession {
            tp: TpSender::new(cfg.tp),
            tp_output: false,
            cfg,
            phase: BmsPhase::Off,
            furthest: BmsPhase::Off,
            attempt: 0,
            timers: Timers::new(),
            tx: Schedule::with_split(period, FIRST_TP),
            events: VecDeque::with_capacity(8),
            counters: Counters::default(),
            charger: ChargerData::default(),
            battery: None,
            bro_ready: false,
            contactors_commanded: false,
            contactors_closed: false,
            ccs_seen: false,
            cst_seen: false,
            bst_sent: 0,
            stop_cause: None,
            bst: None,
            bem: Bem::default(),
            retry_allowed: false,
            error_while_stopping: false,
            overrides: BsmOverrides::NONE,
            frames: Frames {
                bcl: FrameCache::new(),
                bsm: FrameCache::new(),
            },
            bcl_frame: None,
            charger_output_events: true,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &BmsConfig {
        &self.cfg
    }

    /// The current phase.
    pub fn phase(&self) -> BmsPhase {
        self.phase
    }

    /// The handshake attempt in progress (1-based; 0 before aux power).
    pub fn attempt(&self) -> u8 {
        self.attempt
    }

    /// The latest data decoded from the charger.
    pub fn charger_data(&self) -> &ChargerData {
        &self.charger
    }

    /// The latest battery status given.
    pub fn battery(&self) -> Option<&BatteryStatus> {
        self.battery.as_ref()
    }

    /// The BEM being (or last) sent.
    pub fn bem(&self) -> Bem {
        self.bem
    }

    /// The BST of the current stop, if one was decided.
    pub fn bst(&self) -> Option<Bst> {
        self.bst
    }

    /// Whether a CCS whose content changed raises [`BmsEvent::ChargerOutput`] (on by
    /// default). An owner that ignores that event turns it off: the charger's output
    /// changes with every plant step, so it is the event the BMS raises most often, and
    /// nothing else changes.
    pub fn set_charger_output_events(&mut self, on: bool) {
        self.charger_output_events = on;
    }

    /// Frame and message counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A summary for reports.
    pub fn report(&self) -> BmsReport {
        BmsReport {
            phase: self.phase,
            furthest_phase: self.furthest,
            attempt: self.attempt,
            bem_sent: self.counters.frames_tx.get(Pgn::Bem),
            cem_received: self.counters.frames_rx.get(Pgn::Cem),
            counters: self.counters,
        }
    }

    /// The charger's 12 V auxiliary supply switched on or off.
    pub fn aux_power(&mut self, now: Instant, on: bool) {
        if on {
            self.power_on(now);
        } else {
            self.power_off(now);
        }
    }

    /// The gun was pulled out: the same as losing aux power.
    pub fn unplug(&mut self, now: Instant) {
        self.power_off(now);
    }

    /// A new battery snapshot: feeds BCL/BCS/BSM/BSD and, with `auto_stop`, the stop
    /// conditions; after CST it lets K5/K6 open once the current has fallen to 5 A.
    pub fn update_battery(&mut self, now: Instant, status: BatteryStatus) {
        self.battery = Some(status);
        self.bcl_frame = None;
        match self.phase {
            BmsPhase::Charging => {
                if let Some(cause) = self.stop_condition(&status) {
                    self.begin_stop(now, cause);
                }
            }
            BmsPhase::ExpectCst => self.maybe_finish_stop(now),
            _ => {}
        }
    }

    /// K5/K6 report their state (with `external_contactors`).
    pub fn contactors_closed(&mut self, now: Instant, closed: bool) {
        self.contactors_closed = closed;
        if closed && self.phase == BmsPhase::ExpectCroReady && self.contactors_commanded {
            self.bms_ready(now);
        }
    }

    /// The vehicle ends the session for `cause` (BST in session).
    pub fn request_stop(&mut self, now: Instant, cause: BmsStopCause) {
        self.begin_stop(now, cause);
    }

    /// Applies a BMS fault hook (see [`BmsFault`]).
    pub fn inject_fault(&mut self, now: Instant, fault: BmsFault) {
        let on = Status2::Active;
        let (stop, cause) = match fault {
            BmsFault::CellOverVoltage { stop } => {
                self.overrides.cell_voltage = Level2::TooHigh;
                (stop, BmsStopCause::VoltageAbnormal)
            }
            BmsFault::OverTemperature { stop } => {
                self.overrides.over_temperature = on;
                (stop, BmsStopCause::BatteryOverTemperature)
            }
            BmsFault::Insulation { stop } => {
                self.overrides.insulation = on;
                (stop, BmsStopCause::InsulationFault)
            }
            BmsFault::Connector { stop } => {
                self.overrides.output_connector = on;
                (stop, BmsStopCause::ConnectorFault)
            }
            BmsFault::OverCurrent { stop } => {
                self.overrides.over_current = on;
                (stop, BmsStopCause::OverCurrent)
            }
            BmsFault::Suspend(on) => {
                self.overrides.suspended = on;
                (false, BmsStopCause::OtherFault)
            }
        };
        if stop {
            self.begin_stop(now, cause);
        }
    }

    /// Feeds one frame from the bus.
    pub fn handle_frame(&mut self, now: Instant, frame: &CanFrame) {
        rx::handle_frame(self, now, frame);
    }

    /// Fires every timer expired at `now` (its own and the TP sender's).
    pub fn handle_timeout(&mut self, now: Instant) {
        // The sender acts only once its own deadline has passed. Its deadline is also
        // when the next TP.DT falls due, which `poll_transmit` checks by itself: only an
        // abort the timeout queued needs the flag.
        if or_never(self.tp.poll_timeout()) <= now {
            self.tp.handle_timeout(now);
            self.tp_output |= self.tp.has_queued_frames();
        }
        self.drain_tp(now);
        while let Some(i) = self.timers.take_expired(now) {
            if let Some(&t) = TIMERS.get(i) {
                self.on_timer(now, t);
            }
        }
    }

    /// The next deadline. A TP message that is due while another is in flight waits for
    /// the sender, so its due time does not count until the sender is free.
    pub fn poll_timeout(&self) -> Option<Instant> {
        deadline(self.next_deadline())
    }

    /// [`poll_timeout`](Self::poll_timeout) as a plain instant, `NEVER` for none.
    pub(crate) fn next_deadline(&self) -> Instant {
        let next = self.timers.next_raw().min(self.next_periodic());
        next.min(or_never(self.tp.poll_timeout()))
    }

    /// When the next periodic message is due; TP messages count only while the sender
    /// is free.
    fn next_periodic(&self) -> Instant {
        self.tx.next_due_raw(self.tp.active_pgn().is_none())
    }

    /// Whether `handle_timeout`, `poll_transmit` or `poll_event` has anything to do at
    /// `now` (the owner's cheap "anything due" check).
    pub fn has_work(&self, now: Instant) -> bool {
        self.has_output() || self.next_deadline() <= now
    }

    /// Whether [`handle_timeout`](Self::handle_timeout) has anything to fire at `now` (a
    /// timer or the TP sender's deadline); the periodic messages are sent by `poll_transmit`.
    pub(crate) fn timer_due(&self, now: Instant) -> bool {
        self.timers.next_raw().min(or_never(self.tp.poll_timeout())) <= now
    }

    /// Whether TP frames may be queued or events are waiting (work due whatever the time).
    pub(crate) fn has_output(&self) -> bool {
        self.tp_output || !self.events.is_empty()
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<BmsEvent> {
        self.events.pop_front()
    }

    /// The next frame: TP frames of the session in flight first, then the periodic
    /// message that is due, in priority order (a due TP message starts a new session).
    #[inline]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<CanFrame> {
        // The owner polls until `None`: that last call is the common one, kept small.
        // A TP.DT falls due at the sender's timeout; CTS answers and aborts are queued.
        let tp_due = self.tp_output || or_never(self.tp.poll_timeout()) <= now;
        if !tp_due && self.next_periodic() > now {
            return None;
        }
        self.transmit(now, tp_due)
    }

    /// `poll_transmit` when something may be due.
    #[inline(never)]
    fn transmit(&mut self, now: Instant, tp_due: bool) -> Option<CanFrame> {
        if tp_due {
            if let Some(frame) = self.tp.poll_transmit(now) {
                self.count_tp_frame(&frame);
                return Some(frame);
            }
            self.tp_output = false;
        }
        let idle = self.tp.active_pgn().is_none();
        let i = self.tx.first_due(now, idle)?;
        let pgn = TX_PGNS.get(i).copied().unwrap_or(Pgn::Bem);
        self.tx.advance(i, now);
        let frame = if i >= FIRST_TP {
            self.start_tp(now, pgn)
        } else {
            self.build_single(pgn)
        };
        if let Some(f) = &frame {
            self.counters.messages_tx.bump(pgn);
            self.count_tp_frame(f);
        }
        self.after_sent(now, pgn);
        frame
    }

    /// Counts a sent frame under its PGN (TP.CM / TP.DT for transport frames).
    fn count_tp_frame(&mut self, frame: &CanFrame) {
        let pf = (frame.id() >> 16) as u8;
        if let Some(pgn) = Pgn::from_pdu_format(pf) {
            self.counters.frames_tx.bump(pgn);
        }
    }

    /// Starts a TP session for `pgn` (or sends it as one frame if it fits) and returns
    /// its first frame.
    fn start_tp(&mut self, now: Instant, pgn: Pgn) -> Option<CanFrame> {
        // BCS goes out four times a second: it is built in a buffer of its own size, not
        // in one large enough for a 256-cell BMV.
        if pgn == Pgn::Bcs {
            let mut buf = [0u8; Bcs::LEN];
            let len = self.build_payload(pgn, &mut buf);
            self.send_payload(now, pgn, buf.get(..len)?)
        } else {
            let mut buf = [0u8; build::PAYLOAD_MAX];
            let len = self.build_payload(pgn, &mut buf);
            self.send_payload(now, pgn, buf.get(..len)?)
        }
    }

    /// Sends a built payload: as one frame if it fits, else by starting a TP session;
    /// returns the first frame.
    fn send_payload(&mut self, now: Instant, pgn: Pgn, data: &[u8]) -> Option<CanFrame> {
        if data.len() <= 8 {
            return build::single_frame(pgn, data);
        }
        self.tp.start(now, pgn.value(), data).ok()?;
        // The RTS goes out now; anything else the sender queues sets the flag.
        let rts = self.tp.poll_transmit(now);
        self.tp_output |= self.tp.has_queued_frames();
        rts
    }

    /// Takes delivery and abort reports from the TP sender; an aborted message goes out
    /// again after `tp_retry_delay`.
    fn drain_tp(&mut self, now: Instant) {
        while let Some(event) = self.tp.poll_event() {
            if let TpEvent::Aborted { pgn, .. } = event {
                self.counters.tp_aborts += 1;
                let retry = now + self.cfg.tp_retry_delay;
                if let Some(i) = TX_PGNS.iter().position(|p| p.value() == pgn) {
                    self.tx.pull_in(i, retry);
                }
            }
        }
    }

    /// Bookkeeping after a periodic frame went out.
    fn after_sent(&mut self, now: Instant, pgn: Pgn) {
        if pgn == Pgn::Bst {
            self.bst_sent = self.bst_sent.saturating_add(1);
            self.maybe_finish_stop(now);
        }
    }

    fn push(&mut self, event: BmsEvent) {
        push_bounded(&mut self.events, event, &mut self.counters.events_dropped);
    }

    /// Whether this BMS speaks the 2015 edition.
    fn is_2015(&self) -> bool {
        self.cfg.version == Version::V2015
    }
}
