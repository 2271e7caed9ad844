//! The world: every charger of a run, one scheduler, one trace.

use super::events::{ConnectorState, FleetEvent, StopReason};
use super::plant::{CabinetPlant, ConnectorPlant, Ev, PlantStop, StepInvariants, VehicleModel};
use super::traffic::{Arrival, CivilClock, Traffic};
use crate::metrics::Metrics;
use crate::report::{Assertion, ConnectorCounts, Report, ReportDetails, Verdict};
use crate::rng::{self, Domain, EntityRng};
use crate::sched::{EntityKind, Key, Scheduler};
use crate::series::{Sampler, Series};
use crate::time::{Duration, Instant};
use crate::trace::{Entity, Trace, TraceLevel};
use profiles::{ChargerKind, ResolvedScenario};
use rand::RngExt;
use std::ops::Range;

/// Which part of the fleet this world runs: chargers whose fleet index `i` satisfies
/// `i % count == index`. Ids, seeds and behaviour are the same in every split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// The whole fleet in one world.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    fn includes(self, charger: u32) -> bool {
        self.count <= 1 || charger % self.count == self.index
    }
}

/// How to build a world.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    /// The root seed.
    pub seed: u64,
    /// Overrides the scenario's duration.
    pub duration: Option<Duration>,
    /// Which trace lines to buffer for writing (`None`: digest only).
    pub trace_level: Option<TraceLevel>,
    /// Which chargers to run.
    pub shard: Shard,
    /// Time-series sampling interval (`None`: 1/500 of the run, at least 1 s).
    pub sample_interval: Option<Duration>,
}

/// Why a world could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The shard selection is impossible.
    #[error("invalid shard {index}/{count}: need index < count")]
    InvalidShard {
        /// Requested index.
        index: u32,
        /// Requested count.
        count: u32,
    },
    /// A profile could not be turned into a physical model.
    #[error("profile {profile}: {message}")]
    Model {
        /// The profile.
        profile: String,
        /// What was wrong.
        message: String,
    },
}

/// Per-group data shared by its chargers.
struct Group {
    traffic: Traffic,
    vehicles: Vec<VehicleModel>,
    kind: ChargerKind,
}

struct Charger {
    connectors: Range<usize>,
    plant: CabinetPlant,
    /// Next physics tick, while any connector is charging.
    next_tick: Option<Instant>,
}

struct Connector {
    global_id: u32,
    group: usize,
    rng: EntityRng,
    sessions: u32,
    phase: Phase,
    plant: ConnectorPlant,
}

/// A connector's session phase; the data in each variant is what is valid there.
enum Phase {
    Idle {
        next_arrival: Option<Instant>,
    },
    Plugged {
        ev: Box<Ev>,
        start_at: Instant,
    },
    Starting {
        ev: Box<Ev>,
        charging_at: Instant,
    },
    Charging {
        ev: Box<Ev>,
        since: Instant,
        dwell_end: Instant,
    },
    Finishing {
        ev: Box<Ev>,
        unplug_at: Instant,
    },
    /// Only while a transition moves the vehicle between phases.
    Moving,
}

impl Phase {
    fn state(&self) -> ConnectorState {
        match self {
            Phase::Idle { .. } | Phase::Moving => ConnectorState::Idle,
            Phase::Plugged { .. } | Phase::Starting { .. } => ConnectorState::Plugged,
            Phase::Charging { .. } => ConnectorState::Charging,
            Phase::Finishing { .. } => ConnectorState::Finishing,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            Phase::Idle { next_arrival } => *next_arrival,
            Phase::Plugged { start_at, .. } => Some(*start_at),
            Phase::Starting { charging_at, .. } => Some(*charging_at),
            Phase::Charging { dwell_end, .. } => Some(*dwell_end),
            Phase::Finishing { unplug_at, .. } => Some(*unplug_at),
            Phase::Moving => None,
        }
    }
}

/// Invariant monitors that become report assertions.
#[derive(Debug, Default)]
struct Checks {
    invariants: StepInvariants,
    energy_sessions: u64,
    energy_max_rel_err: f64,
    energy_worst_session: Option<(u32, u32)>,
}

/// A fleet-wide snapshot for progress lines and the dashboard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Virtual time.
    pub now: Instant,
    /// Run end.
    pub end: Instant,
    /// Connectors by state, indexed like [`ConnectorState::ALL`].
    pub states: [u64; 6],
    /// Sessions started, completed, failed.
    pub sessions: (u64, u64, u64),
    /// Energy delivered, kWh.
    pub energy_kwh: f64,
    /// Scheduler events processed.
    pub events: u64,
}

/// Every charger of a run (or shard), driven by one scheduler in virtual time.
pub struct World {
    now: Instant,
    end: Instant,
    seed: u64,
    scenario: String,
    tick: Duration,
    clock: CivilClock,
    sched: Scheduler,
    groups: Vec<Group>,
    chargers: Vec<Charger>,
    connectors: Vec<Connector>,
    trace: Trace,
    metrics: Metrics,
    events: u64,
    checks: Checks,
    sampler: Sampler,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("now", &self.now)
            .field("seed", &self.seed)
            .field("chargers", &self.chargers.len())
            .finish_non_exhaustive()
    }
}

impl World {
    /// Builds the fleet of `scenario` (the chargers of `config.shard`).
    pub fn new(scenario: &ResolvedScenario, config: WorldConfig) -> Result<World, BuildError> {
        let Shard { index, count } = config.shard;
        if count == 0 || index >= count {
            return Err(BuildError::InvalidShard { index, count });
        }
        let meta = &scenario.scenario.scenario;
        let (start_unix_s, utc_offset_min) =
            profiles::civil::unix_seconds(&meta.start_at).unwrap_or((1_767_571_200, 480));
        let duration = config
            .duration
            .unwrap_or(Duration::from_micros(meta.duration.0.micros));
        let mut world = World {
            now: Instant::ZERO,
            end: Instant::ZERO + duration,
            seed: config.seed,
            scenario: meta.name.clone(),
            tick: Duration::from_millis(meta.physics_tick_ms.max(1)),
            clock: CivilClock {
                start_unix_s,
                utc_offset_min,
            },
            sched: Scheduler::with_capacity(scenario.charger_count() as usize / count as usize + 8),
            groups: Vec::with_capacity(scenario.groups.len()),
            chargers: Vec::new(),
            connectors: Vec::new(),
            trace: Trace::new(config.trace_level),
            metrics: Metrics::new(),
            events: 0,
            checks: Checks::default(),
            sampler: Sampler::new(
                duration,
                config.sample_interval.unwrap_or(
                    Duration::from_micros(duration.as_micros() / 500).max(Duration::SECOND),
                ),
            ),
        };
        world.build_fleet(scenario, config.shard)?;
        world.trace.record(
            Instant::ZERO,
            Entity::Fleet,
            &FleetEvent::RunStarted {
                seed: world.seed,
                scenario: world.scenario.clone(),
                chargers: world.chargers.len() as u32,
                connectors: world.connectors.len() as u32,
            },
        );
        world.start_connectors(scenario);
        Ok(world)
    }

    fn build_fleet(&mut self, scenario: &ResolvedScenario, shard: Shard) -> Result<(), BuildError> {
        let mut charger_index: u32 = 0;
        let mut connector_id: u32 = 0;
        for (gi, g) in scenario.groups.iter().enumerate() {
            let vehicles = g
                .vehicle_mix
                .iter()
                .map(|(v, _)| VehicleModel::from_profile(v))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|message| BuildError::Model {
                    profile: g.name.clone(),
                    message,
                })?;
            let weights: Vec<f64> = g.vehicle_mix.iter().map(|(_, w)| *w).collect();
            self.groups.push(Group {
                traffic: Traffic::new(
                    &scenario.scenario.traffic,
                    g.arrivals_per_connector_per_h,
                    &weights,
                ),
                vehicles,
                kind: g.charger.kind,
            });
            let per_charger = u32::from(g.charger.connectors);
            for _ in 0..g.count {
                if shard.includes(charger_index) {
                    let plant = CabinetPlant::from_profile(&g.charger).map_err(|message| {
                        BuildError::Model {
                            profile: g.charger.name.clone(),
                            message,
                        }
                    })?;
                    let first = self.connectors.len();
                    for gun in 0..per_charger {
                        let id = connector_id + gun;
                        self.connectors.push(Connector {
                            global_id: id,
                            group: gi,
                            rng: rng::stream(self.seed, Domain::ConnectorUsers, u64::from(id)),
                            sessions: 0,
                            phase: Phase::Idle { next_arrival: None },
                            plant: ConnectorPlant::new(
                                &g.charger,
                                rng::derive(self.seed, Domain::Meter, u64::from(id)),
                            ),
                        });
                    }
                    self.chargers.push(Charger {
                        connectors: first..self.connectors.len(),
                        plant,
                        next_tick: None,
                    });
                }
                charger_index += 1;
                connector_id += per_charger;
            }
        }
        Ok(())
    }

    /// Draws every connector's first arrival (or a vehicle already plugged in).
    fn start_connectors(&mut self, scenario: &ResolvedScenario) {
        let occupancy = scenario.scenario.traffic.initial_occupancy;
        for ci in 0..self.connectors.len() {
            let c = &mut self.connectors[ci];
            let traffic = &self.groups[c.group].traffic;
            let occupied = occupancy > 0.0 && c.rng.random::<f64>() < occupancy;
            if occupied {
                let at = Instant::ZERO;
                self.arrive(ci, at);
            } else {
                let next = traffic.next_arrival(Instant::ZERO, &self.clock, &mut c.rng);
                c.phase = Phase::Idle { next_arrival: next };
            }
        }
        for k in 0..self.chargers.len() {
            self.rearm(k);
        }
        self.sched.arm(SAMPLER, Some(self.sampler.deadline()));
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time at which the run ends.
    pub fn end(&self) -> Instant {
        self.end
    }

    /// The root seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.sched.peek().map(|(at, _)| at)
    }

    /// Processes every event due at or before `limit` (capped at the run's end), then
    /// sets the time to that limit. Chunking never changes the outcome.
    pub fn run_until(&mut self, limit: Instant) {
        let limit = limit.min(self.end);
        while let Some((at, key)) = self.sched.pop_due(limit) {
            self.now = at;
            self.events += 1;
            match key.kind {
                EntityKind::Charger => self.wake_charger(key.index as usize),
                EntityKind::Sampler => self.take_sample(),
                EntityKind::Timeline | EntityKind::Network | EntityKind::Server => {}
            }
        }
        self.now = self.now.max(limit);
    }

    /// Whether the run has reached its end.
    pub fn is_finished(&self) -> bool {
        self.now >= self.end
    }

    /// The buffered trace lines (JSON lines), for the shell to write.
    pub fn take_trace_lines(&mut self) -> Vec<u8> {
        self.trace.take_pending()
    }

    /// The run's metrics so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn take_sample(&mut self) {
        let snap = self.snapshot();
        self.sampler
            .sample(self.now, snap.states, snap.energy_kwh, &mut self.metrics);
        self.sched.arm(SAMPLER, Some(self.sampler.deadline()));
    }

    /// The time series sampled so far.
    pub fn series(&self) -> &Series {
        self.sampler.series()
    }

    /// A fleet-wide snapshot.
    pub fn snapshot(&self) -> Snapshot {
        let mut states = [0u64; 6];
        let mut in_progress_wh = 0.0;
        for c in &self.connectors {
            states[c.phase.state() as usize] += 1;
            if let Phase::Charging { .. } = c.phase {
                in_progress_wh += c.plant.session_energy_wh();
            }
        }
        let s = self.metrics.sessions;
        Snapshot {
            now: self.now,
            end: self.end,
            states,
            sessions: (s.started, s.completed, s.failed),
            energy_kwh: (self.metrics.energy_wh + in_progress_wh) / 1000.0,
            events: self.events,
        }
    }

    fn key(k: usize) -> Key {
        Key {
            kind: EntityKind::Charger,
            index: k as u32,
        }
    }

    fn rearm(&mut self, k: usize) {
        let charger = &self.chargers[k];
        let mut deadline = charger.next_tick;
        for c in &self.connectors[charger.connectors.clone()] {
            deadline = earliest(deadline, c.phase.deadline());
        }
        // Nothing may be scheduled in the past: a deadline already passed runs now.
        let deadline = deadline.map(|d| d.max(self.now));
        self.sched.arm(Self::key(k), deadline);
    }

    fn wake_charger(&mut self, k: usize) {
        let now = self.now;
        if self.chargers[k].next_tick.is_some_and(|t| t <= now) {
            self.physics_tick(k);
        }
        for ci in self.chargers[k].connectors.clone() {
            // A transition may create a new deadline that is already due (zero delays);
            // bounded, because every phase has a positive or absent next deadline.
            for _ in 0..8 {
                match self.connectors[ci].phase.deadline() {
                    Some(d) if d <= now => self.advance(ci, k),
                    _ => break,
                }
            }
        }
        self.rearm(k);
    }

    /// Steps the physics of every charging connector of charger `k`.
    fn physics_tick(&mut self, k: usize) {
        let now = self.now;
        let range = self.chargers[k].connectors.clone();
        let mut stops: [Option<PlantStop>; 8] = [None; 8];
        {
            let charger = &mut self.chargers[k];
            let conns = &mut self.connectors[range.clone()];
            let mut sessions: [Option<(&mut ConnectorPlant, &mut Ev)>; 8] = Default::default();
            for (slot, c) in sessions.iter_mut().zip(conns.iter_mut()) {
                if let Phase::Charging { ev, .. } = &mut c.phase {
                    *slot = Some((&mut c.plant, ev.as_mut()));
                }
            }
            charger
                .plant
                .step(now, &mut sessions, &mut stops, &mut self.checks.invariants);
        }
        let mut any_charging = false;
        for (i, ci) in range.enumerate() {
            if let Some(stop) = stops[i] {
                self.stop_charging(ci, stop.into());
            }
            any_charging |= matches!(self.connectors[ci].phase, Phase::Charging { .. });
        }
        self.chargers[k].next_tick = any_charging.then(|| now + self.tick);
    }

    /// Handles connector `ci`'s due phase deadline.
    fn advance(&mut self, ci: usize, k: usize) {
        let now = self.now;
        match std::mem::replace(&mut self.connectors[ci].phase, Phase::Moving) {
            Phase::Idle { .. } => {
                self.arrive(ci, now);
            }
            Phase::Plugged { ev, .. } => {
                let ready = self.connectors[ci]
                    .plant
                    .start_delay(self.groups[self.connectors[ci].group].kind);
                self.connectors[ci].phase = Phase::Starting {
                    ev,
                    charging_at: now + ready,
                };
            }
            Phase::Starting { mut ev, .. } => {
                let c = &mut self.connectors[ci];
                c.plant.begin_session(now, &mut ev);
                let meter_wh = c.plant.meter_energy_wh();
                let dwell_end = ev.plugged_at + ev.arrival.dwell;
                let session = ev.session;
                c.phase = Phase::Charging {
                    ev,
                    since: now,
                    dwell_end: dwell_end.max(now),
                };
                self.metrics.sessions.started += 1;
                let id = c.global_id;
                self.trace.record(
                    now,
                    Entity::Connector(id),
                    &FleetEvent::ChargingStarted { session, meter_wh },
                );
                let charger = &mut self.chargers[k];
                if charger.next_tick.is_none() {
                    charger.next_tick = Some(now + self.tick);
                }
            }
            Phase::Charging {
                ev,
                since,
                dwell_end,
            } => {
                // The driver's time is up.
                self.connectors[ci].phase = Phase::Charging {
                    ev,
                    since,
                    dwell_end,
                };
                self.stop_charging(ci, StopReason::UserStopped);
            }
            Phase::Finishing { ev, .. } => {
                let c = &mut self.connectors[ci];
                c.plant.end_session(now);
                let next = self.groups[c.group]
                    .traffic
                    .next_arrival(now, &self.clock, &mut c.rng);
                c.phase = Phase::Idle { next_arrival: next };
                let id = c.global_id;
                self.trace.record(
                    now,
                    Entity::Connector(id),
                    &FleetEvent::Unplugged {
                        session: ev.session,
                    },
                );
            }
            Phase::Moving => {}
        }
    }

    /// A driver arrives at connector `ci` and plugs in.
    fn arrive(&mut self, ci: usize, now: Instant) {
        let c = &mut self.connectors[ci];
        let group = &self.groups[c.group];
        let arrival: Arrival = group
            .traffic
            .draw_arrival(&mut c.rng, group.kind == ChargerKind::Dc);
        c.sessions += 1;
        let session = c.sessions;
        let vehicle = &group.vehicles[arrival.vehicle];
        let mut vrng = rng::stream(
            self.seed,
            Domain::Vehicle,
            rng::session_key(c.global_id, session),
        );
        let ev = Ev::new(vehicle, arrival, session, now, &mut vrng);
        self.trace.record(
            now,
            Entity::Connector(c.global_id),
            &FleetEvent::Plugged {
                vehicle: vehicle.name.clone(),
                session,
                soc_pct: round2(ev.soc_pct()),
                target_soc_pct: round2(arrival.target_soc_pct),
                method: arrival.start_method,
            },
        );
        c.phase = Phase::Plugged {
            ev: Box::new(ev),
            start_at: now + arrival.plug_to_start,
        };
    }

    /// Ends connector `ci`'s charging for `reason`.
    fn stop_charging(&mut self, ci: usize, reason: StopReason) {
        let now = self.now;
        let c = &mut self.connectors[ci];
        let Phase::Charging { mut ev, since, .. } = std::mem::replace(&mut c.phase, Phase::Moving)
        else {
            return;
        };
        let energy = c.plant.finish_session(now, &mut ev);
        self.metrics.energy_wh += energy.meter_wh;
        if reason.is_normal() {
            self.metrics.sessions.completed += 1;
        } else {
            self.metrics.sessions.failed += 1;
        }
        if energy.meter_wh > 100.0 {
            let rel = energy.conservation_error_rel();
            self.checks.energy_sessions += 1;
            if rel > self.checks.energy_max_rel_err {
                self.checks.energy_max_rel_err = rel;
                self.checks.energy_worst_session = Some((c.global_id, ev.session));
            }
        }
        self.trace.record(
            now,
            Entity::Connector(c.global_id),
            &FleetEvent::ChargingStopped {
                session: ev.session,
                reason,
                energy_wh: round2(energy.meter_wh),
                soc_pct: round2(ev.soc_pct()),
                duration_s: round2((now - since).as_secs_f64()),
            },
        );
        let unplug_at = now + ev.arrival.stop_to_unplug;
        c.phase = Phase::Finishing { ev, unplug_at };
    }

    /// Ends the run: open sessions are closed for the energy count (not as completed or
    /// failed), invariant assertions are evaluated, and the report is assembled.
    pub fn finish(mut self, wall_s: f64) -> Report {
        let now = self.now;
        for ci in 0..self.connectors.len() {
            let c = &mut self.connectors[ci];
            if let Phase::Charging { ev, .. } = &mut c.phase {
                let energy = c.plant.finish_session(now, ev);
                self.metrics.energy_wh += energy.meter_wh;
            }
        }
        let mut connectors = ConnectorCounts {
            total: self.connectors.len() as u64,
            ..Default::default()
        };
        for c in &self.connectors {
            match self.groups[c.group].kind {
                ChargerKind::Dc => connectors.dc += 1,
                ChargerKind::Ac => connectors.ac += 1,
            }
            *connectors
                .final_states
                .entry(c.phase.state().name().to_owned())
                .or_default() += 1;
        }
        let mut report = Report {
            seed: self.seed,
            scenario: self.scenario.clone(),
            simulated_s: self.now.as_secs_f64(),
            wall_s,
            connectors,
            sessions: Default::default(),
            transactions: Default::default(),
            energy_kwh: 0.0,
            messages: Default::default(),
            latency_ms: Default::default(),
            errors: Default::default(),
            assertions: self.invariant_assertions(),
            digest: self.trace.digest(),
            verdict: Verdict::Pass,
            details: ReportDetails {
                trace_events: self.trace.events_digested(),
                scheduler_events: self.events,
                ..Default::default()
            },
        };
        report.fill_from_metrics(&self.metrics);
        report.decide();
        report
    }

    fn invariant_assertions(&self) -> Vec<Assertion> {
        let c = &self.checks;
        let inv = &c.invariants;
        let mut out = Vec::new();
        let worst = c
            .energy_worst_session
            .map(|(id, s)| format!(", worst: connector {id} session {s}"))
            .unwrap_or_default();
        out.push(Assertion {
            name: "physics.energy_conservation".into(),
            passed: c.energy_max_rel_err <= 0.005,
            detail: format!(
                "meter energy vs battery energy gained + losses over {} sessions: max error {:.4} % (limit 0.5 %){worst}",
                c.energy_sessions,
                c.energy_max_rel_err * 100.0
            ),
        });
        out.push(Assertion {
            name: "physics.soc_bounded_and_monotone".into(),
            passed: inv.soc_violations == 0,
            detail: format!(
                "{} physics steps checked; {} with SOC above 100 % or falling while charging",
                inv.steps, inv.soc_violations
            ),
        });
        out.push(Assertion {
            name: "physics.temperatures_bounded".into(),
            passed: inv.temperature_violations == 0,
            detail: format!(
                "{} physics steps checked; {} with a temperature outside −40…150 °C",
                inv.steps, inv.temperature_violations
            ),
        });
        out.push(Assertion {
            name: "physics.ac_current_within_pwm".into(),
            passed: inv.pwm_violations == 0,
            detail: format!(
                "{} AC steps checked; {} drew more than the PWM-allowed current",
                inv.ac_steps, inv.pwm_violations
            ),
        });
        out
    }
}

/// The sampler's scheduler key.
const SAMPLER: Key = Key {
    kind: EntityKind::Sampler,
    index: 0,
};

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Rounds to 2 decimals for trace fields (full precision stays in the model).
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
