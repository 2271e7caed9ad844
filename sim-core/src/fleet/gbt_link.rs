//! The GB/T 27930 link of one DC charging session: the charger and BMS state machines on
//! their own in-process CAN segment, coupled to the plant.
//!
//! The charger machine asks the plant for the insulation check and the pre-charge (each
//! takes its physical time, then the result goes back), closes and opens K1/K2, and sets the
//! power stage's voltage ceiling and current. The BMS machine reads the battery model every
//! physics tick (pack voltage, current, SOC, cell and temperature extremes, the demand) and
//! sends it as BCL/BCS/BSM.

use super::events::StopReason;
use super::plant::{ConnectorPlant, Ev, PlantStop, TickResult};
use crate::gbt::bms::{BatteryStatus, BmsConfig, BmsStopCause, Demand, DemandMode, identity};
use crate::gbt::charger::{
    ChargerConfig, ChargerFaultKind, ChargerStopCause, InsulationOutcome, InsulationPolicy,
    OutputLimits, OutputStatus, PrechargePolicy,
};
use crate::gbt::pair::Pair;
use crate::gbt::segment::SegmentConfig;
use crate::gbt::{NEVER, deadline};
use crate::gbt::{PgnCounts, Version};
use crate::physics::{BmsStopReason, ChargeMode, Chemistry};
use crate::rng::EntityRng;
use crate::time::{Duration, Instant};
use proto::gbt27930::msg::{BatteryType, Bcp, FixedAscii, round_half_away};
use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Charger-side parameters shared by every session of one connector.
#[derive(Debug, Clone)]
pub struct ChargerSide {
    /// The charger machine's configuration (limits from the profile).
    pub config: ChargerConfig,
    /// Bus bit rate.
    pub bitrate_bps: u32,
}

impl ChargerSide {
    /// The charger side of a DC charger with these output limits.
    pub fn new(charger_number: u32, limits: OutputLimits, bitrate_bps: u32) -> Self {
        let config = ChargerConfig {
            charger_number,
            region_code: FixedAscii::from_text("440"),
            limits,
            // The plant runs both and answers after their physical time.
            insulation: InsulationPolicy::External,
            precharge: PrechargePolicy::External,
            ..ChargerConfig::default()
        };
        ChargerSide {
            config,
            bitrate_bps,
        }
    }
}

/// A plant step the charger machine asked for, due at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PlantTask {
    Insulation { at: Instant, test_voltage_v: f64 },
    Precharge { at: Instant },
}

/// The GB/T 27930 session of one DC charging session.
#[derive(Debug)]
pub struct GbtLink {
    /// Both machines and their segment.
    pub pair: Pair,
    task: Option<PlantTask>,
    /// The time of `task`, `NEVER` for none: every step checks it (twice), and a plain
    /// comparison is cheaper than matching the option.
    task_at: Instant,
    setpoint: (f64, f64),
    bms_stop: Option<BmsStopCause>,
    stop_requested: bool,
    /// The next deadline, recomputed whenever the link's state changes: the scheduler
    /// asks for it far more often than it changes.
    deadline: Option<Instant>,
    /// Outcomes of a step taken ahead of the world ([`GbtLink::run_ahead`]), with the
    /// time they happened at; the owner takes them at that time.
    pending: Pending,
    /// Outcomes of the step in progress, in order; `emitted` of them are set. Kept here
    /// rather than on the stack: almost every step has none, and a stack array would be
    /// set up on every step.
    emitted_outcomes: [Option<LinkOutcome>; MAX_OUTCOMES],
    emitted: usize,
}

/// Most outcomes one step produces (a handful in practice).
pub const MAX_OUTCOMES: usize = 16;

/// Outcomes kept from a step run ahead, for the owner to act on at `at`.
#[derive(Debug, Clone, Copy)]
struct Pending {
    at: Option<Instant>,
    outcomes: [Option<LinkOutcome>; MAX_OUTCOMES],
}

impl Pending {
    const NONE: Pending = Pending {
        at: None,
        outcomes: [None; MAX_OUTCOMES],
    };
}

/// What the link reports to the connector after handling events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinkOutcome {
    /// The charger reached the charging phase: energy may flow.
    ChargingStarted,
    /// The session ended, with the fleet's stop reason.
    Stopped(StopReason),
    /// A timeout or BEM/CEM: recorded as an error.
    Error {
        /// CEM (charger detected) or BEM (BMS detected).
        side: &'static str,
        /// The handshake attempt.
        attempt: u8,
    },
}

impl GbtLink {
    /// A link for `ev` at a connector whose charger side is `side`; `rng` seeds the
    /// segment's fault layer.
    pub fn new(side: &ChargerSide, ev: &Ev, version: Version, rng_seed: u64) -> GbtLink {
        let bms = bms_config(ev, version, rng_seed);
        let segment = SegmentConfig {
            bitrate_bps: side.bitrate_bps,
            ..SegmentConfig::default()
        };
        let mut pair = Pair::new(
            side.config.clone(),
            bms,
            segment,
            ChaCha8Rng::seed_from_u64(rng_seed),
        );
        // `handle_event` ignores the charger's BMS status and the BMS's charger output
        // events (the world reads the machines' data when it needs it).
        pair.charger.set_bms_status_events(false);
        pair.bms.set_charger_output_events(false);
        GbtLink {
            pair,
            task: None,
            task_at: NEVER,
            setpoint: (0.0, 0.0),
            bms_stop: None,
            stop_requested: false,
            deadline: None,
            pending: Pending::NONE,
            emitted_outcomes: [None; MAX_OUTCOMES],
            emitted: 0,
        }
    }

    /// The vehicle is plugged in and the session starts (aux power, CHM).
    pub fn plug_in(&mut self, now: Instant) {
        self.pair.plug_in(now);
        self.refresh();
    }

    /// The vehicle is unplugged.
    pub fn unplug(&mut self, now: Instant) {
        self.pair.unplug(now);
        self.refresh();
    }

    fn refresh(&mut self) {
        self.refresh_with(self.pair.poll_timeout());
    }

    /// [`refresh`](GbtLink::refresh) with the pair's next deadline already known.
    fn refresh_with(&mut self, pair_deadline: Option<Instant>) {
        let task = deadline(self.task_at);
        self.deadline = match (pair_deadline, task) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// The power-stage setpoint `(voltage_v, current_a)` the charger machine asks for.
    pub fn setpoint(&self) -> (f64, f64) {
        self.setpoint
    }

    /// The next time the link has something to do: a deadline of its own, or outcomes of
    /// a step run ahead that the owner must act on.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.deadline, self.pending.at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Steps the link through its own deadlines strictly before `until`, one step per
    /// deadline, exactly as an owner woken at each of them would call [`GbtLink::step`],
    /// and stops after the first step that produced outcomes: those are kept, and
    /// [`poll_timeout`](GbtLink::poll_timeout) is their time until the owner takes them
    /// with [`take_pending`](GbtLink::take_pending) at that time.
    ///
    /// The owner must make sure nothing else touches this link, its plant or its vehicle
    /// before `until` (no physics tick, phase deadline, fault, network or observer); then
    /// running ahead changes nothing but how often the owner is woken.
    pub fn run_ahead(&mut self, until: Instant, plant: &mut ConnectorPlant, ev: &mut Ev) {
        while self.pending.at.is_none()
            && let Some(at) = self.deadline
            && at < until
        {
            self.step_from(at, until, plant, ev);
        }
    }

    /// [`step_ahead`](GbtLink::step_ahead) at `at`, then, unless it kept outcomes,
    /// [`run_ahead`](GbtLink::run_ahead) to `until`; true if outcomes are pending.
    pub fn step_and_run_ahead(
        &mut self,
        at: Instant,
        until: Instant,
        plant: &mut ConnectorPlant,
        ev: &mut Ev,
    ) -> bool {
        self.step_from(at, until, plant, ev) || {
            self.run_ahead(until, plant, ev);
            self.has_pending()
        }
    }

    /// A step at `at` ahead of the owner, as [`step_ahead`](GbtLink::step_ahead); true if
    /// it kept outcomes. With no plant task due before `until`, the pair goes on by itself
    /// through its next steps that produce no events (almost all), and this link finishes
    /// the last one, exactly as `step_ahead` at each of them would.
    fn step_from(
        &mut self,
        at: Instant,
        until: Instant,
        plant: &mut ConnectorPlant,
        ev: &mut Ev,
    ) -> bool {
        if self.task_due(at) {
            return self.step_ahead(at, plant, ev);
        }
        let (last, settled) = self.pair.run_quiet(at, until.min(self.task_at));
        self.finish_step(last, settled, plant, ev);
        self.keep_emitted(last)
    }

    /// One [`step`](GbtLink::step) at `at` ahead of the owner, whose outcomes are kept for
    /// the owner to take at `at` ([`take_pending`](GbtLink::take_pending)); true if there
    /// were any. Nothing must be pending.
    pub fn step_ahead(&mut self, at: Instant, plant: &mut ConnectorPlant, ev: &mut Ev) -> bool {
        self.step_collect(at, plant, ev);
        self.keep_emitted(at)
    }

    /// Keeps the outcomes the step at `at` emitted as pending; true if there were any.
    fn keep_emitted(&mut self, at: Instant) -> bool {
        if self.emitted == 0 {
            return false;
        }
        self.emitted = 0;
        self.pending = Pending {
            at: Some(at),
            outcomes: std::mem::replace(&mut self.emitted_outcomes, [None; MAX_OUTCOMES]),
        };
        true
    }

    /// Whether outcomes of a step run ahead wait for the owner.
    pub fn has_pending(&self) -> bool {
        self.pending.at.is_some()
    }

    /// The outcomes of a step run ahead, once their time `now` has come (in the order
    /// they happened); none otherwise.
    pub fn take_pending(&mut self, now: Instant) -> [Option<LinkOutcome>; MAX_OUTCOMES] {
        match self.pending.at {
            Some(at) if at <= now => std::mem::replace(&mut self.pending, Pending::NONE).outcomes,
            _ => [None; MAX_OUTCOMES],
        }
    }

    /// Feeds the tick's plant readings to both machines.
    pub fn feed(&mut self, now: Instant, ev: &Ev, tick: &TickResult) {
        self.pair.charger.update_output(
            now,
            OutputStatus {
                voltage_v: tick.voltage_v,
                current_a: tick.current_a,
                battery_side_voltage_v: ev.pack().terminal_voltage_v(tick.current_a),
                contactors_closed: tick.contactors_closed,
                gun_temperature_c: tick.gun_temperature_c,
            },
        );
        let stop_request = tick.stop.and_then(|s| match s {
            PlantStop::Bms(reason) => Some(bms_cause(reason)),
            _ => None,
        });
        self.pair
            .bms
            .update_battery(now, battery_status(ev, tick, stop_request));
        match tick.stop {
            Some(PlantStop::GunOverTemperature) => {
                self.request_stop(
                    now,
                    ChargerStopCause::Fault(ChargerFaultKind::OverTemperature),
                );
            }
            Some(PlantStop::Insulation) | Some(PlantStop::Contactors) => {
                self.request_stop(now, ChargerStopCause::Fault(ChargerFaultKind::Other));
            }
            _ => {}
        }
        self.refresh();
    }

    /// Asks the charger to stop (once).
    pub fn request_stop(&mut self, now: Instant, cause: ChargerStopCause) {
        if !self.stop_requested {
            self.stop_requested = true;
            self.pair.charger.request_stop(now, cause);
            self.refresh();
        }
    }

    /// Runs everything due at `now`, carrying out the charger's plant requests on
    /// `plant`; returns what the connector must act on, in order, via `out`.
    pub fn step(
        &mut self,
        now: Instant,
        plant: &mut ConnectorPlant,
        ev: &mut Ev,
        out: &mut impl FnMut(LinkOutcome),
    ) {
        self.step_collect(now, plant, ev);
        let n = std::mem::take(&mut self.emitted);
        for slot in self.emitted_outcomes.iter_mut().take(n) {
            if let Some(o) = slot.take() {
                out(o);
            }
        }
    }

    /// [`step`](GbtLink::step), keeping the outcomes in `emitted_outcomes` (the first
    /// [`MAX_OUTCOMES`]; a step produces a handful at most).
    fn step_collect(&mut self, now: Instant, plant: &mut ConnectorPlant, ev: &mut Ev) {
        // A plant task is due a few times per session: the check stays inline, the work
        // out of line.
        if self.task_due(now) {
            self.run_due_task(now, plant, ev);
        }
        let settled = self.pair.step_settled(now);
        self.finish_step(now, settled, plant, ev);
    }

    /// The rest of a step at `now` after the pair's first `step_settled` (which returned
    /// `settled`): acts on the pair's events, runs the plant tasks and pair steps they
    /// cause at `now`, and refreshes the deadline.
    fn finish_step(
        &mut self,
        now: Instant,
        mut settled: Option<Instant>,
        plant: &mut ConnectorPlant,
        ev: &mut Ev,
    ) {
        // Bounded: every round either completes a plant task or drains the pair.
        for round in 1..=16 {
            let mut any = false;
            while let Some(event) = self.pair.poll_event() {
                any = true;
                self.handle_event(now, event, plant, ev);
            }
            // Events touch the plant and this link, never the pair: a settled pair has
            // nothing more to do at `now` unless a plant task came due.
            if ((!any || settled.is_some()) && !self.task_due(now)) || round == 16 {
                break;
            }
            if self.task_due(now) {
                self.run_due_task(now, plant, ev);
            }
            settled = self.pair.step_settled(now);
        }
        match settled {
            Some(next) => self.refresh_with(deadline(next)),
            None => self.refresh(),
        }
    }

    #[inline]
    fn task_due(&self, now: Instant) -> bool {
        self.task_at <= now
    }

    #[cold]
    #[inline(never)]
    fn run_due_task(&mut self, now: Instant, plant: &mut ConnectorPlant, ev: &mut Ev) {
        match self.task {
            Some(PlantTask::Insulation { at, test_voltage_v }) if at <= now => {
                self.set_task(None);
                let ohm = plant.insulation_check(test_voltage_v);
                plant.open_contactors();
                let outcome = InsulationOutcome::classify(ohm, test_voltage_v);
                self.pair.charger.insulation_result(now, outcome);
            }
            Some(PlantTask::Precharge { at }) if at <= now => {
                self.set_task(None);
                let ok = plant.finish_precharge(ev);
                self.pair.charger.precharge_done(now, ok);
            }
            _ => {}
        }
    }

    /// Sets the plant task and its time.
    fn set_task(&mut self, task: Option<PlantTask>) {
        self.task = task;
        self.task_at = match task {
            Some(PlantTask::Insulation { at, .. } | PlantTask::Precharge { at }) => at,
            None => NEVER,
        };
    }

    /// Acts on one event of the pair. Out of line: a step has an event a few times per
    /// second, and inlined it would make every step set up its locals.
    #[inline(never)]
    fn handle_event(
        &mut self,
        now: Instant,
        event: crate::gbt::pair::PairEvent,
        plant: &mut ConnectorPlant,
        ev: &mut Ev,
    ) {
        use crate::gbt::bms::BmsEvent;
        use crate::gbt::charger::{ChargerEvent, ChargerPhase};
        use crate::gbt::pair::PairEvent;
        match event {
            PairEvent::Charger(ChargerEvent::StartInsulationCheck { test_voltage_v }) => {
                plant.insulation_check(test_voltage_v);
                self.set_task(Some(PlantTask::Insulation {
                    at: now + plant.insulation_check_time(),
                    test_voltage_v,
                }));
            }
            PairEvent::Charger(ChargerEvent::StartPrecharge { target_voltage_v }) => {
                plant.start_precharge(target_voltage_v);
                self.set_task(Some(PlantTask::Precharge {
                    at: now + plant.precharge_time(),
                }));
            }
            PairEvent::Charger(ChargerEvent::CloseContactors) => {
                plant.close_contactors(ev);
            }
            PairEvent::Charger(ChargerEvent::OpenContactors) => {
                self.setpoint = (0.0, 0.0);
                plant.open_contactors();
            }
            PairEvent::Charger(ChargerEvent::Setpoint(sp)) => {
                self.setpoint = (sp.voltage_v, sp.current_a);
            }
            PairEvent::Charger(ChargerEvent::PhaseChanged(ChargerPhase::Charging)) => {
                self.emit(LinkOutcome::ChargingStarted);
            }
            PairEvent::Charger(ChargerEvent::Stopped { cause, .. }) => {
                self.setpoint = (0.0, 0.0);
                self.emit(LinkOutcome::Stopped(stop_reason(cause, self.bms_stop)));
            }
            PairEvent::Charger(ChargerEvent::Error { attempt, .. }) => {
                self.emit(LinkOutcome::Error {
                    side: "cem",
                    attempt,
                });
            }
            PairEvent::Charger(ChargerEvent::GaveUp) => {
                self.setpoint = (0.0, 0.0);
                self.emit(LinkOutcome::Stopped(StopReason::CommunicationLost));
            }
            PairEvent::Bms(BmsEvent::Stopped { cause, .. }) => self.bms_stop = Some(cause),
            PairEvent::Bms(BmsEvent::Error { attempt, .. }) => {
                self.emit(LinkOutcome::Error {
                    side: "bem",
                    attempt,
                });
            }
            PairEvent::Charger(_) | PairEvent::Bms(_) => {}
        }
    }

    /// Records an outcome of the step in progress.
    fn emit(&mut self, outcome: LinkOutcome) {
        if let Some(slot) = self.emitted_outcomes.get_mut(self.emitted) {
            *slot = Some(outcome);
            self.emitted += 1;
        }
    }

    /// Frames sent on the segment so far, by carried message, charger then BMS.
    pub fn frame_counts(&self) -> &[PgnCounts; 2] {
        &self.pair.segment.stats().by_message
    }
}

fn bms_cause(reason: BmsStopReason) -> BmsStopCause {
    match reason {
        BmsStopReason::SocTargetReached => BmsStopCause::SocTargetReached,
        BmsStopReason::Full => BmsStopCause::TotalVoltageReached,
        BmsStopReason::CellOverVoltage => BmsStopCause::CellVoltageReached,
        BmsStopReason::OverTemperature => BmsStopCause::BatteryOverTemperature,
    }
}

/// The fleet's stop reason for a charger stop cause (and the BMS's own cause when the
/// charger stopped because the BMS did).
fn stop_reason(cause: ChargerStopCause, bms: Option<BmsStopCause>) -> StopReason {
    match cause {
        ChargerStopCause::BmsStopped | ChargerStopCause::ConditionReached => match bms {
            Some(BmsStopCause::SocTargetReached) => StopReason::TargetSocReached,
            Some(BmsStopCause::TotalVoltageReached | BmsStopCause::CellVoltageReached) => {
                StopReason::BatteryFull
            }
            Some(BmsStopCause::InsulationFault) => StopReason::InsulationFault,
            Some(
                BmsStopCause::BatteryOverTemperature
                | BmsStopCause::ConnectorOverTemperature
                | BmsStopCause::ComponentOverTemperature,
            ) => StopReason::OverTemperature,
            Some(BmsStopCause::CommunicationTimeout) => StopReason::CommunicationLost,
            Some(BmsStopCause::ChargerStopped) | None => StopReason::TargetSocReached,
            Some(_) => StopReason::BmsFault,
        },
        ChargerStopCause::Manual => StopReason::UserStopped,
        ChargerStopCause::Fault(
            ChargerFaultKind::OverTemperature | ChargerFaultKind::InternalOverTemperature,
        ) => StopReason::OverTemperature,
        ChargerStopCause::Fault(ChargerFaultKind::EmergencyStop) => StopReason::EmergencyStop,
        ChargerStopCause::InsulationFault => StopReason::InsulationFault,
        ChargerStopCause::CommunicationTimeout => StopReason::CommunicationLost,
        ChargerStopCause::ParameterMismatch => StopReason::Refused,
        ChargerStopCause::Unplugged => StopReason::UserStopped,
        ChargerStopCause::Fault(_)
        | ChargerStopCause::CurrentMismatch
        | ChargerStopCause::VoltageAbnormal
        | ChargerStopCause::BmsStatusAbnormal
        | ChargerStopCause::PauseTimeout
        | ChargerStopCause::PrechargeFailed => StopReason::ChargerFault,
    }
}

/// The BMS's configuration for the vehicle of `ev`.
fn bms_config(ev: &Ev, version: Version, seed: u64) -> BmsConfig {
    let pack = ev.pack();
    let limits = pack.limits();
    let battery_type = match pack.chemistry() {
        Chemistry::Lfp => BatteryType::LithiumIronPhosphate,
        Chemistry::Ncm => BatteryType::Ternary,
    };
    let vin = vin(&mut EntityRng::seed_from_u64(seed));
    let brm = identity(
        battery_type,
        limits.rated_capacity_ah,
        limits.rated_voltage_v,
        &vin,
    );
    let bcp = Bcp {
        max_cell_voltage_v: limits.max_cell_voltage_v,
        max_current_a: limits.max_charge_current_a.min(400.0),
        nominal_energy_kwh: limits.nominal_energy_wh / 1000.0,
        max_total_voltage_v: limits.max_charge_voltage_v,
        max_temperature_c: round_half_away(limits.max_temperature_c) as i16,
        soc_pct: pack.soc() * 100.0,
        battery_voltage_v: pack.terminal_voltage_v(0.0),
    };
    let mut config = match pack.chemistry() {
        Chemistry::Lfp => BmsConfig::lfp(),
        Chemistry::Ncm => BmsConfig::ncm(),
    };
    config.version = version;
    config.brm = brm;
    config.bcp = bcp;
    config.target_soc_pct = ev.target_soc() * 100.0;
    // The battery model decides when to stop; the machine sends what it is told.
    config.auto_stop = false;
    config.cells = pack.cells_series().clamp(1, 256);
    config.temperature_probes = pack.temperature_probes().max(1);
    config
}

/// A plausible 17-character VIN (WMI of a Chinese maker, digits and letters without I/O/Q).
fn vin(rng: &mut EntityRng) -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
    let mut v = String::from("LSV");
    for _ in 0..14 {
        v.push(char::from(CHARS[rng.random_range(0..CHARS.len())]));
    }
    v
}

fn battery_status(ev: &Ev, tick: &TickResult, stop_request: Option<BmsStopCause>) -> BatteryStatus {
    let remaining_s = ev.bms().remaining_time_s(ev.pack(), ev.target_soc());
    pack_status(
        ev.pack(),
        remaining_s,
        tick.current_a,
        &tick.demand,
        stop_request,
    )
}

/// What a BMS reports of `pack` (BCS/BSM/BCL fields) while `current_a` flows, with the
/// BMS controller's `demand` and its estimate of the time to full (`remaining_s`). Shared by
/// the fleet's links and the HIL bench's BMS.
pub(crate) fn pack_status(
    pack: &crate::physics::BatteryPack,
    remaining_s: Option<f64>,
    current_a: f64,
    demand: &crate::physics::ChargeDemand,
    stop_request: Option<BmsStopCause>,
) -> BatteryStatus {
    let x = pack.extremes();
    let remaining_min =
        remaining_s.map_or(0, |s| round_half_away(s / 60.0).clamp(0.0, 600.0) as u16);
    BatteryStatus {
        pack_voltage_v: pack.terminal_voltage_v(current_a),
        pack_current_a: current_a,
        soc_pct: (pack.soc() * 100.0).clamp(0.0, 100.0),
        remaining_min,
        max_cell_voltage_v: x.max_cell_voltage_v,
        max_cell_number: x.max_cell_index.saturating_add(1),
        max_cell_group: x.max_cell_group,
        min_cell_voltage_v: x.min_cell_voltage_v,
        max_temperature_c: round_half_away(x.max_temperature_c) as i16,
        max_temperature_probe: u16::from(x.max_temperature_probe).saturating_add(1),
        min_temperature_c: round_half_away(x.min_temperature_c) as i16,
        min_temperature_probe: u16::from(x.min_temperature_probe).saturating_add(1),
        insulation_ok: true,
        charging_permitted: true,
        demand: Demand {
            voltage_v: demand.voltage_v,
            current_a: demand.current_a.max(0.0),
            mode: match demand.mode {
                ChargeMode::ConstantCurrent => DemandMode::Cc,
                ChargeMode::ConstantVoltage => DemandMode::Cv,
            },
        },
        stop_request,
    }
}

/// Output limits (CML) of a DC charger profile.
pub fn output_limits(dc: &profiles::charger::DcSpec) -> OutputLimits {
    OutputLimits {
        max_voltage_v: dc.output_voltage_max_v,
        min_voltage_v: dc.output_voltage_min_v,
        max_current_a: dc.output_current_max_a.min(400.0),
        min_current_a: dc.output_current_min_a,
    }
}

/// How long a session may stay in the handshake before the connector gives up on it
/// (the machines' own timeouts end it much earlier; this only bounds a wedged session).
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(600);

impl GbtLink {
    /// Applies a GB/T fault hook (wire, BMS or charger) and re-arms.
    pub fn apply_fault(&mut self, now: Instant, fault: crate::gbt::faults::GbtFault) {
        self.pair.apply_fault(now, fault);
        self.refresh();
    }
}
