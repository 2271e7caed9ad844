//! One bench connector: chargestorm's side of a GB/T session (charger or BMS), a minimal
//! plant, the simulated energy meter and the bench signals, driven sans-IO.
//!
//! The shell calls [`BenchConnector::start`] once, then feeds received frames
//! ([`BenchConnector::handle_frame`]), wakes it at [`BenchConnector::poll_timeout`]
//! ([`BenchConnector::handle_timeout`]), sends what [`BenchConnector::poll_transmit`]
//! returns and writes what [`BenchConnector::poll_event`] returns to the trace.
//!
//! Plug-in sequence (bench model, meters-and-can-hil.md §0): CC1 goes 12 V → 6 V (plug
//! going in, S pressed) → 4 V after [`LATCH_TIME`]; the session starts at the latch. After
//! the session ends the plug comes out: 6 V, then 12 V after [`LATCH_TIME`].
//!
//! Plant: the charger's output follows its setpoint at the battery voltage of BCP once
//! K1/K2 are closed (charger role); in the BMS role the output is what the charger under
//! test reports in CCS. The meter integrates that output between any two calls.

use super::battery::BenchBattery;
use super::signals::{BenchEvent, BenchRole, BenchSignals, Cc1State};
use crate::fleet::plant::VehicleModel;
use crate::gbt::bms::{BmsConfig, BmsEvent, BmsPhase, BmsSession, BmsStopCause};
use crate::gbt::charger::{
    ChargerConfig, ChargerEvent, ChargerFaultKind, ChargerPhase, ChargerSession, ChargerStopCause,
    InsulationLevel, InsulationPolicy, OutputStatus,
};
use crate::physics::{EnergyMeter, MeterFault, MeterParams, MeterReading};
use crate::time::{Duration, Instant};
use proto::can::CanFrame;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// Time from the plug going in (6 V) to the latch (4 V), and from unlatching to out.
pub const LATCH_TIME: Duration = Duration::from_millis(300);

/// How often the meter is integrated while nothing else happens.
const PHYSICS_TICK: Duration = Duration::from_millis(200);

/// What happens on the bench during a run, relative to [`BenchConnector::start`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BenchPlan {
    /// End the session normally after charging this long.
    pub stop_after_charging: Option<Duration>,
    /// Inject this insulation resistance (Ω) at this time.
    pub insulation: Option<(Duration, f64)>,
    /// Press the emergency stop at this time.
    pub emergency_stop_at: Option<Duration>,
    /// Freeze the simulated meter at this time.
    pub meter_stuck_at: Option<Duration>,
    /// Drift of the simulated meter's import energy from the start, Wh/h.
    pub meter_drift_wh_per_h: f64,
}

/// Everything a [`BenchConnector`] needs up front.
#[derive(Debug, Clone)]
pub struct BenchConnectorConfig {
    /// chargestorm's side.
    pub role: BenchRole,
    /// The charger's configuration (charger role); its insulation policy is replaced by
    /// the bench's insulation model.
    pub charger: ChargerConfig,
    /// The BMS's configuration (BMS role).
    pub bms: BmsConfig,
    /// How long the charger's insulation check takes.
    pub insulation_check: Duration,
    /// The simulated meter.
    pub meter: MeterParams,
    /// Seed of the meter's noise.
    pub meter_seed: u64,
    /// The bench's timeline.
    pub plan: BenchPlan,
    /// BMS role: the vehicle whose pack and BMS controller answer the charger (SOC,
    /// demand, cell voltages follow the physics); `None` keeps the BMS configuration's
    /// fixed battery.
    pub vehicle: Option<VehicleModel>,
    /// BMS role with a vehicle: state of charge on arrival, %.
    pub arrival_soc_pct: f64,
}

impl BenchConnectorConfig {
    /// A DC connector in `role` with default sessions, a DC meter and an empty plan.
    pub fn new(role: BenchRole) -> Self {
        BenchConnectorConfig {
            role,
            charger: ChargerConfig::default(),
            bms: BmsConfig::lfp(),
            insulation_check: Duration::from_secs(5),
            meter: MeterParams::dc(),
            meter_seed: 1,
            plan: BenchPlan::default(),
            vehicle: None,
            arrival_soc_pct: 20.0,
        }
    }
}

/// chargestorm's session.
#[derive(Debug)]
enum Side {
    Charger(Box<ChargerSession>),
    Bms(Box<BmsSession>),
}

/// The output the meter sees.
#[derive(Debug, Default, Clone, Copy)]
struct Plant {
    setpoint_a: f64,
    closed: bool,
    battery_v: f64,
    output_v: f64,
    output_a: f64,
}

/// Pending bench actions, as absolute times.
#[derive(Debug, Default, Clone, Copy)]
struct Timers {
    latch: Option<Instant>,
    unplug: Option<Instant>,
    insulation: Option<Instant>,
    emergency_stop: Option<Instant>,
    meter_stuck: Option<Instant>,
    /// The charger's insulation check result, with its test voltage.
    check: Option<(Instant, f64)>,
}

impl Timers {
    fn earliest(&self) -> Option<Instant> {
        [
            self.latch,
            self.unplug,
            self.insulation,
            self.emergency_stop,
            self.meter_stuck,
            self.check.map(|(t, _)| t),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// What a bench connector did, for the run report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BenchConnectorReport {
    /// chargestorm's side.
    pub role: BenchRole,
    /// Every phase entered, in order, without repeats of the same phase in a row.
    pub phases_reached: Vec<String>,
    /// The phase at the end.
    pub final_phase: String,
    /// Whether the session reached its normal end (Ended).
    pub completed: bool,
    /// Whether it ever charged.
    pub charged: bool,
    /// Why it stopped, if it did.
    pub stop_cause: Option<String>,
    /// The bench signals at the end.
    pub signals: BenchSignals,
    /// Energy through the meter (true, not the register), Wh.
    pub meter_energy_wh: f64,
    /// What the meter showed last (simulated, or the real meter read in its place), Wh.
    pub meter_register_wh: f64,
    /// BMS role with a vehicle: the pack's state of charge at the end, %.
    pub soc_pct: Option<f64>,
}

/// One bench connector; see the module doc.
#[derive(Debug)]
pub struct BenchConnector {
    role: BenchRole,
    side: Side,
    plan: BenchPlan,
    insulation_check: Duration,
    plant: Plant,
    meter: EnergyMeter,
    battery: Option<BenchBattery>,
    external_meter: Option<MeterReading>,
    signals: BenchSignals,
    timers: Timers,
    events: VecDeque<BenchEvent>,
    phases: Vec<String>,
    stop_cause: Option<String>,
    started_at: Option<Instant>,
    last_step: Option<Instant>,
    charging_since: Option<Instant>,
    stop_requested: bool,
    last_meter_register_wh: f64,
}

impl BenchConnector {
    /// A connector that has not started; fails on invalid meter or vehicle parameters.
    pub fn new(mut cfg: BenchConnectorConfig) -> Result<Self, String> {
        let meter = EnergyMeter::new(&cfg.meter, ChaCha8Rng::seed_from_u64(cfg.meter_seed))
            .map_err(|e| e.to_string())?;
        let battery = match (&cfg.vehicle, cfg.role) {
            (Some(v), BenchRole::Bms) => {
                let seed = cfg.meter_seed.wrapping_add(1);
                let b = BenchBattery::new(v, cfg.arrival_soc_pct, cfg.bms.target_soc_pct, seed)?;
                cfg.bms.bcp.battery_voltage_v = b.voltage_v();
                cfg.bms.bcp.soc_pct = b.soc_pct();
                Some(b)
            }
            _ => None,
        };
        cfg.charger.insulation = InsulationPolicy::External;
        let side = match cfg.role {
            BenchRole::Charger => Side::Charger(Box::new(ChargerSession::new(cfg.charger))),
            BenchRole::Bms => Side::Bms(Box::new(BmsSession::new(cfg.bms))),
        };
        Ok(BenchConnector {
            role: cfg.role,
            side,
            plan: cfg.plan,
            insulation_check: cfg.insulation_check,
            plant: Plant::default(),
            meter,
            battery,
            external_meter: None,
            signals: BenchSignals::default(),
            timers: Timers::default(),
            events: VecDeque::with_capacity(32),
            phases: Vec::with_capacity(16),
            stop_cause: None,
            started_at: None,
            last_step: None,
            charging_since: None,
            stop_requested: false,
            last_meter_register_wh: 0.0,
        })
    }

    /// chargestorm's side.
    pub fn role(&self) -> BenchRole {
        self.role
    }

    /// The bench signals now.
    pub fn signals(&self) -> BenchSignals {
        self.signals
    }

    /// Plugs the gun in at `now` (CC1 to 6 V; the session starts at the latch) and arms
    /// the bench plan.
    pub fn start(&mut self, now: Instant) {
        if self.started_at.is_some() {
            return;
        }
        self.started_at = Some(now);
        self.last_step = Some(now);
        self.set_cc1(Cc1State::Pressed);
        self.timers.latch = Some(now + LATCH_TIME);
        let at = |d: Duration| now + d;
        self.timers.insulation = self.plan.insulation.map(|(d, _)| at(d));
        self.timers.emergency_stop = self.plan.emergency_stop_at.map(at);
        self.timers.meter_stuck = self.plan.meter_stuck_at.map(at);
        if self.plan.meter_drift_wh_per_h != 0.0 {
            self.set_meter_fault(MeterFault {
                stuck: false,
                drift_wh_per_h: self.plan.meter_drift_wh_per_h,
            });
        }
    }

    /// A frame from the device under test.
    pub fn handle_frame(&mut self, now: Instant, frame: &CanFrame) {
        self.advance(now);
        match &mut self.side {
            Side::Charger(c) => c.handle_frame(now, frame),
            Side::Bms(b) => b.handle_frame(now, frame),
        }
        self.drain(now);
    }

    /// Runs whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.run_timers(now);
        match &mut self.side {
            Side::Charger(c) if c.poll_timeout().is_some_and(|t| t <= now) => {
                c.handle_timeout(now);
            }
            Side::Bms(b) if b.poll_timeout().is_some_and(|t| t <= now) => b.handle_timeout(now),
            _ => {}
        }
        self.drain(now);
        self.check_stop_after_charging(now);
    }

    /// The next frame to send at `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<CanFrame> {
        let frame = match &mut self.side {
            Side::Charger(c) => c.poll_transmit(now),
            Side::Bms(b) => b.poll_transmit(now),
        };
        self.drain(now);
        frame
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let session = match &self.side {
            Side::Charger(c) => c.poll_timeout(),
            Side::Bms(b) => b.poll_timeout(),
        };
        let tick = self.last_step.map(|t| t + PHYSICS_TICK);
        let stop = self
            .charging_since
            .filter(|_| !self.stop_requested)
            .and_then(|s| self.plan.stop_after_charging.map(|d| s + d));
        [session, self.timers.earliest(), tick, stop]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next bench trace event.
    pub fn poll_event(&mut self) -> Option<BenchEvent> {
        self.events.pop_front()
    }

    /// What the meter shows at `now`: the simulated meter (with its faults), or the real
    /// meter's last reading when one is read in its place.
    pub fn meter_reading(&mut self, now: Instant) -> MeterReading {
        self.advance(now);
        let reading = match self.external_meter {
            Some(r) => r,
            None => self.meter.reading(),
        };
        self.last_meter_register_wh = reading.import_energy_wh;
        reading
    }

    /// A real meter's reading, which replaces the simulated meter from now on.
    pub fn set_external_meter(&mut self, reading: MeterReading) {
        self.last_meter_register_wh = reading.import_energy_wh;
        self.external_meter = Some(reading);
    }

    /// Switches the simulated meter's faults.
    pub fn set_meter_fault(&mut self, fault: MeterFault) {
        self.meter.set_fault(fault);
        self.events.push_back(BenchEvent::MeterFault {
            stuck: fault.stuck,
            drift_wh_per_h: fault.drift_wh_per_h,
        });
    }

    /// Whether the session is over (ended or failed) and the plug is out.
    pub fn is_finished(&self) -> bool {
        let (over, _) = self.state();
        over && self.timers.unplug.is_none() && self.signals.cc1 == Cc1State::Unplugged
    }

    /// The run report.
    pub fn report(&self) -> BenchConnectorReport {
        let (_, completed) = self.state();
        BenchConnectorReport {
            role: self.role,
            phases_reached: self.phases.clone(),
            final_phase: self.phase_name(),
            completed,
            charged: self
                .phases
                .iter()
                .any(|p| p == &format!("{:?}", ChargerPhase::Charging)),
            stop_cause: self.stop_cause.clone(),
            signals: self.signals,
            meter_energy_wh: self.meter.import_energy_wh(),
            meter_register_wh: self.last_meter_register_wh,
            soc_pct: self.battery.as_ref().map(BenchBattery::soc_pct),
        }
    }

    fn phase_name(&self) -> String {
        match &self.side {
            Side::Charger(c) => format!("{:?}", c.phase()),
            Side::Bms(b) => format!("{:?}", b.phase()),
        }
    }

    /// (over, ended normally)
    fn state(&self) -> (bool, bool) {
        match &self.side {
            Side::Charger(c) => {
                let p = c.phase();
                (
                    matches!(p, ChargerPhase::Ended | ChargerPhase::Failed),
                    p == ChargerPhase::Ended,
                )
            }
            Side::Bms(b) => {
                let p = b.phase();
                (
                    matches!(p, BmsPhase::Ended | BmsPhase::Failed),
                    p == BmsPhase::Ended,
                )
            }
        }
    }

    /// Integrates the meter up to `now`.
    fn advance(&mut self, now: Instant) {
        let Some(last) = self.last_step else {
            return;
        };
        if now <= last {
            return;
        }
        let dt_s = now.saturating_since(last).as_micros() as f64 / 1e6;
        let (v, i) = if self.plant.closed {
            (self.plant.output_v, self.plant.output_a)
        } else {
            (self.plant.output_v, 0.0)
        };
        self.meter.step(dt_s, v, i);
        self.last_step = Some(now);
        if let (Some(battery), Side::Bms(b)) = (self.battery.as_mut(), &mut self.side) {
            battery.step(dt_s, i);
            b.update_battery(now, battery.status(i));
        }
    }

    fn set_cc1(&mut self, state: Cc1State) {
        self.signals.cc1 = state;
        self.events.push_back(BenchEvent::Cc1 {
            state,
            voltage_v: state.voltage_v(),
        });
    }

    fn set_aux(&mut self, on: bool) {
        if self.signals.aux_power_on != on {
            self.signals.aux_power_on = on;
            self.events.push_back(BenchEvent::AuxPower { on });
        }
    }

    fn due(slot: &mut Option<Instant>, now: Instant) -> bool {
        if slot.is_some_and(|t| t <= now) {
            *slot = None;
            true
        } else {
            false
        }
    }

    fn run_timers(&mut self, now: Instant) {
        if Self::due(&mut self.timers.latch, now) {
            self.latched(now);
        }
        if Self::due(&mut self.timers.unplug, now) {
            self.set_cc1(Cc1State::Unplugged);
        }
        if Self::due(&mut self.timers.insulation, now)
            && let Some((_, ohm)) = self.plan.insulation
        {
            self.inject_insulation(now, ohm);
        }
        if Self::due(&mut self.timers.emergency_stop, now) {
            self.press_emergency_stop(now);
        }
        if Self::due(&mut self.timers.meter_stuck, now) {
            let drift = self.meter.fault().drift_wh_per_h;
            self.set_meter_fault(MeterFault {
                stuck: true,
                drift_wh_per_h: drift,
            });
        }
        if let Some((at, test_voltage_v)) = self.timers.check
            && at <= now
        {
            self.timers.check = None;
            self.finish_insulation_check(now, test_voltage_v);
        }
    }

    /// CC1 reads 4 V: the session starts.
    fn latched(&mut self, now: Instant) {
        self.set_cc1(Cc1State::Latched);
        match &mut self.side {
            Side::Charger(c) => c.plug_in(now),
            Side::Bms(b) => {
                // The charger under test switches aux power on; the bench box sees it.
                b.aux_power(now, true);
                self.set_aux(true);
            }
        }
    }

    fn finish_insulation_check(&mut self, now: Instant, test_voltage_v: f64) {
        let outcome = self.signals.insulation_at(test_voltage_v);
        self.events.push_back(BenchEvent::InsulationChecked {
            resistance_ohm: outcome.resistance_ohm,
            test_voltage_v,
            level: outcome.level,
        });
        if let Side::Charger(c) = &mut self.side {
            c.insulation_result(now, outcome);
        }
    }

    /// The bench switches an insulation fault resistor in.
    pub fn inject_insulation(&mut self, now: Instant, resistance_ohm: f64) {
        self.advance(now);
        self.signals.insulation_ohm = Some(resistance_ohm);
        let voltage_v = self.plant.output_v.max(self.plant.battery_v).max(1.0);
        let level = self.signals.insulation_at(voltage_v).level;
        self.events.push_back(BenchEvent::InsulationInjected {
            resistance_ohm,
            level,
        });
        if level == InsulationLevel::Fault && self.plant.closed {
            match &mut self.side {
                Side::Charger(c) => {
                    c.request_stop(now, ChargerStopCause::Fault(ChargerFaultKind::Other));
                }
                Side::Bms(b) => b.request_stop(now, BmsStopCause::InsulationFault),
            }
        }
        self.drain(now);
    }

    /// The bench presses the emergency stop. As charger, chargestorm stops with CST's
    /// emergency-stop bit; as BMS, the button is the charger under test's, which must stop.
    pub fn press_emergency_stop(&mut self, now: Instant) {
        self.advance(now);
        self.signals.emergency_stop = true;
        self.events
            .push_back(BenchEvent::EmergencyStop { pressed: true });
        if let Side::Charger(c) = &mut self.side {
            c.request_stop(
                now,
                ChargerStopCause::Fault(ChargerFaultKind::EmergencyStop),
            );
        }
        self.drain(now);
    }

    fn check_stop_after_charging(&mut self, now: Instant) {
        let (Some(since), Some(after)) = (self.charging_since, self.plan.stop_after_charging)
        else {
            return;
        };
        if self.stop_requested || now.saturating_since(since) < after {
            return;
        }
        self.stop_requested = true;
        match &mut self.side {
            Side::Charger(c) => c.request_stop(now, ChargerStopCause::Manual),
            Side::Bms(b) => b.request_stop(now, BmsStopCause::SocTargetReached),
        }
        self.drain(now);
    }

    fn note_phase(&mut self, now: Instant, phase: String, charging: bool, over: bool) {
        if charging && self.charging_since.is_none() {
            self.charging_since = Some(now);
        }
        if self.phases.last() != Some(&phase) {
            self.phases.push(phase.clone());
            self.events.push_back(BenchEvent::Phase {
                role: self.role,
                phase,
            });
        }
        if over && self.timers.unplug.is_none() && self.signals.cc1 == Cc1State::Latched {
            if self.role == BenchRole::Bms {
                self.set_aux(false);
            }
            self.set_cc1(Cc1State::Pressed);
            self.timers.unplug = Some(now + LATCH_TIME);
        }
    }

    fn drain(&mut self, now: Instant) {
        match self.role {
            BenchRole::Charger => self.drain_charger(now),
            BenchRole::Bms => self.drain_bms(now),
        }
    }

    fn drain_charger(&mut self, now: Instant) {
        let Side::Charger(c) = &mut self.side else {
            return;
        };
        let mut changed = false;
        let mut happened = Vec::new();
        while let Some(e) = c.poll_event() {
            match e {
                ChargerEvent::Setpoint(s) => self.plant.setpoint_a = s.current_a,
                ChargerEvent::CloseContactors => self.plant.closed = true,
                ChargerEvent::OpenContactors => self.plant.closed = false,
                ChargerEvent::ParametersReceived(bcp) => {
                    self.plant.battery_v = bcp.battery_voltage_v;
                }
                other => {
                    happened.push(other);
                    continue;
                }
            }
            changed = true;
        }
        if changed {
            let p = &mut self.plant;
            p.output_v = if p.closed { p.battery_v } else { 0.0 };
            p.output_a = if p.closed { p.setpoint_a } else { 0.0 };
            c.update_output(
                now,
                OutputStatus {
                    voltage_v: p.output_v,
                    current_a: p.output_a,
                    battery_side_voltage_v: p.battery_v,
                    contactors_closed: p.closed,
                    gun_temperature_c: 30.0,
                },
            );
        }
        for e in happened {
            self.on_charger_event(now, e);
        }
    }

    fn on_charger_event(&mut self, now: Instant, event: ChargerEvent) {
        match event {
            ChargerEvent::AuxPower(on) => self.set_aux(on),
            ChargerEvent::StartInsulationCheck { test_voltage_v } => {
                self.timers.check = Some((now + self.insulation_check, test_voltage_v));
            }
            ChargerEvent::PhaseChanged(p) => {
                let over = matches!(p, ChargerPhase::Ended | ChargerPhase::Failed);
                self.note_phase(now, format!("{p:?}"), p == ChargerPhase::Charging, over);
            }
            ChargerEvent::Stopped { cause, .. } => self.stopped(format!("{cause:?}")),
            _ => {}
        }
    }

    fn drain_bms(&mut self, now: Instant) {
        let Side::Bms(b) = &mut self.side else {
            return;
        };
        let mut happened = Vec::new();
        while let Some(e) = b.poll_event() {
            happened.push(e);
        }
        for e in happened {
            match e {
                BmsEvent::CloseContactors => self.plant.closed = true,
                BmsEvent::OpenContactors => self.plant.closed = false,
                BmsEvent::ChargerOutput(ccs) => {
                    self.plant.output_v = ccs.voltage_v;
                    self.plant.output_a = ccs.current_a;
                }
                BmsEvent::PhaseChanged(p) => {
                    if !matches!(p, BmsPhase::Charging | BmsPhase::ExpectCroReady) {
                        // No CCS follows a stop: the vehicle's own current sensor would see
                        // the charger's output fall, which the bench takes as done.
                        self.plant.output_a = 0.0;
                    }
                    let over = matches!(p, BmsPhase::Ended | BmsPhase::Failed);
                    self.note_phase(now, format!("{p:?}"), p == BmsPhase::Charging, over);
                }
                BmsEvent::Stopped { cause, .. } => self.stopped(format!("{cause:?}")),
                _ => {}
            }
        }
    }

    fn stopped(&mut self, cause: String) {
        if self.stop_cause.is_none() {
            self.stop_cause = Some(cause.clone());
            self.events.push_back(BenchEvent::Stopped {
                role: self.role,
                cause,
            });
        }
    }
}

/// A BMS for a vehicle profile: its chemistry, pack limits and a nominal voltage of
/// 3.2 V (LFP) or 3.65 V (NCM) per cell, arriving at 20 % SOC.
pub fn bms_config_for(vehicle: &profiles::VehicleProfile) -> BmsConfig {
    let b = &vehicle.battery;
    let (mut cfg, battery_type, cell_nominal_v) = match b.chemistry {
        profiles::Chemistry::Lfp => (
            BmsConfig::lfp(),
            proto::gbt27930::msg::BatteryType::LithiumIronPhosphate,
            3.2,
        ),
        profiles::Chemistry::Ncm => (
            BmsConfig::ncm(),
            proto::gbt27930::msg::BatteryType::Ternary,
            3.65,
        ),
    };
    let series = f64::from(b.cells_series.max(1));
    let capacity_ah = b.cell_capacity_ah * f64::from(b.cells_parallel.max(1));
    let rated_v = series * cell_nominal_v;
    cfg.brm = crate::gbt::bms::identity(battery_type, capacity_ah, rated_v, "LCSBENCH000000001");
    cfg.bcp.max_cell_voltage_v = vehicle.bms.max_cell_voltage_v;
    cfg.bcp.max_current_a = vehicle.bms.max_charge_current_a.min(400.0);
    cfg.bcp.max_total_voltage_v = vehicle.max_pack_voltage_v();
    cfg.bcp.nominal_energy_kwh = vehicle.nominal_energy_kwh();
    cfg.bcp.max_temperature_c = vehicle.bms.max_temperature_c.round() as i16;
    cfg.bcp.soc_pct = 20.0;
    cfg.bcp.battery_voltage_v = rated_v * 0.95;
    cfg.cells = b.cells_series.clamp(1, 256) as u16;
    cfg.temperature_probes = b.temperature_probes.clamp(1, 128) as u8;
    cfg
}

/// A charger for a DC charger profile: its output limits (CML). `None` for AC profiles.
pub fn charger_config_for(charger: &profiles::ChargerProfile) -> Option<ChargerConfig> {
    let dc = charger.dc.as_ref()?;
    Some(ChargerConfig {
        limits: crate::fleet::gbt_link::output_limits(dc),
        ..ChargerConfig::default()
    })
}
