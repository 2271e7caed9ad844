//! Real time: drives a GB/T session or a conformance case on a [`CanBus`], mapping the
//! wall clock to the machines' virtual time, and measures message periods on the bus.
//!
//! This is the only CAN code that reads a clock: time zero is the start of the run and
//! `now` is the elapsed wall time in microseconds.

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use proto::can::CanFrame;
use proto::gbt27930::id::Pgn;
use proto::gbt27930::msg::spec;
use proto::time::Instant;
use sim_core::gbt::bms::{BmsPhase, BmsSession, BmsStopCause};
use sim_core::gbt::charger::{
    ChargerEvent, ChargerPhase, ChargerSession, ChargerStopCause, OutputStatus,
};
use sim_core::gbt::conformance::{Case, CaseReport, CaseRun, DutAction, TestBus};
use sim_core::gbt::{PGN_SLOTS, SLOT_PGNS, pgn_slot};
use tokio::time::Duration;

use super::{CanBus, CanError};

/// The clock of a run: elapsed wall time as a virtual [`Instant`].
#[derive(Debug, Clone, Copy)]
struct Clock(tokio::time::Instant);

impl Clock {
    fn start() -> Clock {
        Clock(tokio::time::Instant::now())
    }

    fn now(&self) -> Instant {
        let us = self.0.elapsed().as_micros();
        Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    fn wall(&self, at: Instant) -> tokio::time::Instant {
        self.0 + Duration::from_micros(at.as_micros())
    }
}

/// Direction of a measured frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent by this node.
    Tx,
    /// Received from the bus.
    Rx,
}

/// One message's measured period.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PeriodRow {
    /// Message code.
    pub code: &'static str,
    /// Sent or received.
    pub direction: Direction,
    /// The standard's period.
    pub nominal_ms: u32,
    /// Frames measured (transport messages: transfers).
    pub count: u64,
    /// Median gap.
    pub median_ms: f64,
    /// 99th percentile gap.
    pub p99_ms: f64,
    /// Shortest gap.
    pub min_ms: f64,
    /// Longest gap.
    pub max_ms: f64,
    /// Whether the median is within ±10 % of the nominal period.
    pub within_tolerance: bool,
}

/// Gap histograms per message and direction, allocated once.
#[derive(Debug)]
pub struct PeriodMeter {
    last: [[Option<Instant>; PGN_SLOTS]; 2],
    gaps: Vec<Histogram<u64>>,
}

impl Default for PeriodMeter {
    fn default() -> Self {
        let gaps = (0..2 * PGN_SLOTS)
            .filter_map(|_| Histogram::new_with_bounds(1, 600_000_000, 3).ok())
            .collect();
        PeriodMeter {
            last: [[None; PGN_SLOTS]; 2],
            gaps,
        }
    }
}

impl PeriodMeter {
    /// Notes a frame seen at `now`. Transport messages count once per RTS.
    pub fn record(&mut self, now: Instant, direction: Direction, frame: &CanFrame) {
        if !frame.is_extended() {
            return;
        }
        let Some(mut pgn) = Pgn::from_pdu_format((frame.id() >> 16) as u8) else {
            return;
        };
        let d = frame.data();
        if pgn == Pgn::TpDt {
            return;
        }
        if pgn == Pgn::TpCm {
            let carried = match (d.first(), d.get(5), d.get(6), d.get(7)) {
                (Some(0x10), Some(&a), Some(&b), Some(&c)) => {
                    Pgn::from_value(u32::from_le_bytes([a, b, c, 0]))
                }
                _ => None,
            };
            match carried {
                Some(p) => pgn = p,
                None => return,
            }
        }
        let dir = usize::from(direction == Direction::Rx);
        let slot = pgn_slot(pgn);
        let Some(last) = self.last.get_mut(dir).and_then(|l| l.get_mut(slot)) else {
            return;
        };
        if let Some(prev) = last.replace(now)
            && let Some(h) = self.gaps.get_mut(dir * PGN_SLOTS + slot)
        {
            let _ = h.record(now.saturating_since(prev).as_micros().max(1));
        }
    }

    /// Every message with at least one measured gap.
    pub fn report(&self) -> Vec<PeriodRow> {
        let mut rows = Vec::new();
        for (dir, direction) in [(0, Direction::Tx), (1, Direction::Rx)] {
            for (slot, pgn) in SLOT_PGNS.iter().enumerate() {
                let Some(h) = self.gaps.get(dir * PGN_SLOTS + slot) else {
                    continue;
                };
                let Some(nominal_ms) = spec(*pgn).map(|s| s.period_ms) else {
                    continue;
                };
                if h.is_empty() {
                    continue;
                }
                let ms = |us: u64| us as f64 / 1000.0;
                let median = ms(h.value_at_quantile(0.5));
                let tol = f64::from(nominal_ms) * 0.1;
                rows.push(PeriodRow {
                    code: pgn.code(),
                    direction,
                    nominal_ms,
                    count: h.len() + 1,
                    median_ms: median,
                    p99_ms: ms(h.value_at_quantile(0.99)),
                    min_ms: ms(h.min()),
                    max_ms: ms(h.max()),
                    within_tolerance: (median - f64::from(nominal_ms)).abs() <= tol.max(2.0),
                });
            }
        }
        rows
    }
}

/// A session to drive.
#[derive(Debug)]
pub enum Session {
    /// A charger (a minimal plant: the output follows the setpoint at BCP's voltage).
    Charger(Box<ChargerSession>),
    /// A BMS (battery status from its configuration).
    Bms(Box<BmsSession>),
}

/// How a real-time session run goes.
#[derive(Debug, Clone, Copy)]
pub struct SessionPlan {
    /// Longest run.
    pub limit: Duration,
    /// Stop (manual on a charger, SOC target on a BMS) after charging this long.
    pub stop_after_charging: Option<Duration>,
}

/// What a real-time session run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionOutcome {
    /// Whether the session reached its normal end (Ended) before the limit.
    pub completed: bool,
    /// The final phase, as text.
    pub final_phase: String,
    /// Frames sent and received.
    pub frames_tx: u64,
    /// Frames received.
    pub frames_rx: u64,
    /// Wall time taken.
    pub elapsed_ms: u64,
    /// Measured periods.
    pub periods: Vec<PeriodRow>,
}

/// Plant state of a charger session.
#[derive(Debug, Default)]
struct ChargerPlant {
    setpoint_a: f64,
    closed: bool,
    battery_v: f64,
}

impl Session {
    fn start(&mut self, now: Instant) {
        match self {
            Session::Charger(c) => c.plug_in(now),
            Session::Bms(b) => b.aux_power(now, true),
        }
    }

    fn handle_frame(&mut self, now: Instant, f: &CanFrame) {
        match self {
            Session::Charger(c) => c.handle_frame(now, f),
            Session::Bms(b) => b.handle_frame(now, f),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Session::Charger(c) if c.poll_timeout().is_some_and(|t| t <= now) => {
                c.handle_timeout(now);
            }
            Session::Bms(b) if b.poll_timeout().is_some_and(|t| t <= now) => b.handle_timeout(now),
            _ => {}
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<CanFrame> {
        match self {
            Session::Charger(c) => c.poll_transmit(now),
            Session::Bms(b) => b.poll_transmit(now),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Session::Charger(c) => c.poll_timeout(),
            Session::Bms(b) => b.poll_timeout(),
        }
    }

    fn charging(&self) -> bool {
        match self {
            Session::Charger(c) => c.phase() == ChargerPhase::Charging,
            Session::Bms(b) => b.phase() == BmsPhase::Charging,
        }
    }

    fn request_stop(&mut self, now: Instant) {
        match self {
            Session::Charger(c) => c.request_stop(now, ChargerStopCause::Manual),
            Session::Bms(b) => b.request_stop(now, BmsStopCause::SocTargetReached),
        }
    }

    /// (over, ended normally, phase text)
    fn state(&self) -> (bool, bool, String) {
        match self {
            Session::Charger(c) => {
                let p = c.phase();
                (
                    matches!(p, ChargerPhase::Ended | ChargerPhase::Failed),
                    p == ChargerPhase::Ended,
                    format!("{p:?}"),
                )
            }
            Session::Bms(b) => {
                let p = b.phase();
                (
                    matches!(p, BmsPhase::Ended | BmsPhase::Failed),
                    p == BmsPhase::Ended,
                    format!("{p:?}"),
                )
            }
        }
    }

    fn drain_events(&mut self, now: Instant, plant: &mut ChargerPlant) {
        match self {
            Session::Charger(c) => {
                let mut changed = false;
                while let Some(e) = c.poll_event() {
                    match e {
                        ChargerEvent::Setpoint(s) => plant.setpoint_a = s.current_a,
                        ChargerEvent::CloseContactors => plant.closed = true,
                        ChargerEvent::OpenContactors => plant.closed = false,
                        ChargerEvent::ParametersReceived(bcp) => {
                            plant.battery_v = bcp.battery_voltage_v;
                        }
                        _ => continue,
                    }
                    changed = true;
                }
                if changed {
                    c.update_output(
                        now,
                        OutputStatus {
                            voltage_v: if plant.closed { plant.battery_v } else { 0.0 },
                            current_a: if plant.closed { plant.setpoint_a } else { 0.0 },
                            battery_side_voltage_v: plant.battery_v,
                            contactors_closed: plant.closed,
                            gun_temperature_c: 30.0,
                        },
                    );
                }
            }
            Session::Bms(b) => while b.poll_event().is_some() {},
        }
    }
}

/// Drives `session` on `bus` in real time until it ends or `plan.limit` passes.
pub async fn run_session<B: CanBus>(
    bus: &mut B,
    session: &mut Session,
    plan: SessionPlan,
) -> Result<SessionOutcome, CanError> {
    let clock = Clock::start();
    let mut meter = PeriodMeter::default();
    let mut plant = ChargerPlant::default();
    let (mut tx, mut rx) = (0u64, 0u64);
    let mut charging_since: Option<Instant> = None;
    let mut stop_requested = false;
    let limit = clock.0 + plan.limit;
    session.start(clock.now());
    loop {
        let now = clock.now();
        session.handle_timeout(now);
        while let Some(f) = session.poll_transmit(now) {
            meter.record(now, Direction::Tx, &f);
            tx += 1;
            bus.send(f).await?;
        }
        session.drain_events(now, &mut plant);
        if session.charging() {
            let since = *charging_since.get_or_insert(now);
            if let Some(after) = plan.stop_after_charging
                && !stop_requested
                && now.saturating_since(since).as_micros() >= after.as_micros() as u64
            {
                stop_requested = true;
                session.request_stop(now);
                continue;
            }
        }
        let (over, _, _) = session.state();
        if over || tokio::time::Instant::now() >= limit {
            break;
        }
        let wake = session
            .poll_timeout()
            .map_or(limit, |t| clock.wall(t).min(limit));
        let stop_check = charging_since
            .filter(|_| !stop_requested)
            .and_then(|s| plan.stop_after_charging.map(|d| clock.wall(s) + d));
        let wake = stop_check.map_or(wake, |s| s.min(wake));
        tokio::select! {
            f = bus.recv() => {
                let f = f?;
                let now = clock.now();
                meter.record(now, Direction::Rx, &f);
                rx += 1;
                session.handle_frame(now, &f);
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
    let (_, completed, final_phase) = session.state();
    Ok(SessionOutcome {
        completed,
        final_phase,
        frames_tx: tx,
        frames_rx: rx,
        elapsed_ms: u64::try_from(clock.0.elapsed().as_millis()).unwrap_or(u64::MAX),
        periods: meter.report(),
    })
}

/// The tester's side of a real bus for a [`CaseRun`]: received frames wait in a queue
/// with their arrival times, sent frames in another until the driver flushes them.
struct RealTestBus<'a> {
    inbox: VecDeque<(Instant, CanFrame)>,
    outbox: Vec<CanFrame>,
    operator: &'a mut (dyn FnMut(DutAction) -> bool + Send),
}

impl TestBus for RealTestBus<'_> {
    fn send(&mut self, _now: Instant, frame: CanFrame) {
        self.outbox.push(frame);
    }

    fn poll_receive(&mut self, now: Instant) -> Option<(Instant, CanFrame)> {
        match self.inbox.front() {
            Some((t, _)) if *t <= now => self.inbox.pop_front(),
            _ => None,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn advance(&mut self, _now: Instant) {}

    fn act(&mut self, _now: Instant, action: DutAction) -> bool {
        (self.operator)(action)
    }
}

/// Runs a conformance case against a real DUT on `bus`, in real time. `operator` carries
/// out DUT actions (start, stop button, faults) and returns whether it could.
pub async fn run_case<B: CanBus>(
    case: Case,
    bus: &mut B,
    operator: &mut (dyn FnMut(DutAction) -> bool + Send),
) -> Result<(CaseReport, Vec<PeriodRow>), CanError> {
    let clock = Clock::start();
    let mut meter = PeriodMeter::default();
    let mut run = CaseRun::new(case, Instant::ZERO);
    let mut tb = RealTestBus {
        inbox: VecDeque::with_capacity(256),
        outbox: Vec::with_capacity(64),
        operator,
    };
    loop {
        let now = clock.now();
        for _ in 0..1024 {
            if !run.step(now, &mut tb) {
                break;
            }
        }
        for f in tb.outbox.drain(..) {
            meter.record(now, Direction::Tx, &f);
            bus.send(f).await?;
        }
        if run.is_finished() {
            break;
        }
        let wake = run
            .poll_timeout()
            .map_or(clock.0 + Duration::from_millis(10), |t| clock.wall(t));
        tokio::select! {
            f = bus.recv() => {
                let f = f?;
                let at = clock.now();
                meter.record(at, Direction::Rx, &f);
                tb.inbox.push_back((at, f));
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
    Ok((run.report(), meter.report()))
}
