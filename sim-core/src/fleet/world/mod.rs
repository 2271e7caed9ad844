//! The world: every charger of a run, one scheduler, one trace.

mod candump;
mod control;
mod expect;
mod external;
mod faults;
mod http;
mod meter;
mod mqtt;
mod netfault;
mod recent;
mod session;
mod timeline;
mod view;

pub use control::ControlEvent;
pub use external::ExternalAction;
pub use faults::{Fault, FaultEvent, FaultTarget};
pub use http::{ExternalOperator, http_configs, operator_config};
pub use mqtt::{MqttOut, driver_cards, reference_backend, reference_tariff, vehicle_vins};
pub use recent::RecentApdu;
pub use timeline::TimelineEvent;
pub use view::ConnectorView;

use super::events::{ConnectorState, FleetEvent};
use super::gbt_link::{ChargerSide, GbtLink, output_limits};
use super::plant::{CabinetPlant, ConnectorPlant, Ev, StepInvariants, VehicleModel};
use super::traffic::{CivilClock, Traffic};
use crate::gbt::{PGN_SLOTS, SLOT_PGNS};
use crate::metrics::{ErrorId, MessageId, Metrics};
use crate::report::{Assertion, ConnectorCounts, GbtDetails, Report, ReportDetails, Verdict};
use crate::rng::{self, Domain, EntityRng};
use crate::sched::{EntityKind, Key, Scheduler};
use crate::series::{Sampler, Series};
use crate::time::{Duration, Instant};
use crate::trace::{Entity, Trace, TraceLevel};
use profiles::{ChargerKind, ResolvedScenario};
use std::ops::Range;

/// Which part of the fleet this world runs: the stations whose fleet index `s` satisfies
/// `s % count == index` (a station's chargers always run together, so no two processes
/// report the same station). Ids, seeds and behaviour are the same in every split.
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

    fn includes(self, station: u32) -> bool {
        self.count <= 1 || station % self.count == self.index
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
    /// The operator platform will be served on real HTTP: hold it without a network until
    /// the I/O shell takes it ([`World::take_http_operator`]).
    pub http_external: bool,
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
    /// Index in the whole fleet.
    global_index: u32,
    /// Station (site) index in the whole fleet.
    station: u32,
    /// Its group.
    group: usize,
    connectors: Range<usize>,
    plant: CabinetPlant,
    /// The GB/T 27930 charger side, for DC chargers with CAN enabled.
    gbt: Option<ChargerSide>,
    /// Next physics tick, while any connector is charging.
    next_tick: Option<Instant>,
}

struct Connector {
    global_id: u32,
    group: usize,
    /// Local index of its charger.
    charger: usize,
    /// Its number at the charger (1-based).
    gun: u32,
    /// How the driver identified (MQTT authorization and transaction).
    token: Option<crate::mqtt::charger::IdToken>,
    /// A VIN authorization is in flight while the GB/T handshake runs.
    auth_pending: bool,
    /// The backend refused the VIN: the stop that follows is a refusal.
    refused: bool,
    /// The MQTT transaction of the session.
    tx: Option<mqtt::Tx>,
    /// Why a stop requested through GB/T was asked for (remote stop, reset).
    stop_reason: Option<super::events::StopReason>,
    /// When ChargingInfo's BMS block was last refreshed.
    bms_info_at: Instant,
    /// The last physics tick's output: voltage, current, gun temperature.
    last_tick: (f64, f64, f64),
    /// AC phases (1 or 3; DC counts as 1).
    phases: u8,
    rng: EntityRng,
    sessions: u32,
    phase: Phase,
    plant: ConnectorPlant,
    /// The session's GB/T 27930 link (DC with CAN enabled, from start to unplug).
    link: Option<Box<GbtLink>>,
    /// Its energy meter as the charger reads it (injected meter faults).
    meter: meter::MeterState,
    /// The session energies at the next samples, kept when the charger ran ahead past
    /// their times.
    energy_at_samples: KeptEnergies,
}

/// How many samples ahead a charger may run: it keeps its session energy at each for the
/// sampler. Paced runs let a charger run [`KEPT_SAMPLES`] − 1 intervals ahead per
/// wake-up, so the sample barrier never cuts a run short: chargers cut at the same
/// barrier would wake together after it, and that burst is scheduler lag.
pub const KEPT_SAMPLES: usize = 4;

/// A connector's session energy at consecutive sample times, kept while it runs ahead.
#[derive(Debug, Clone, Copy, Default)]
struct KeptEnergies {
    /// The first kept sample's time.
    first_at: Instant,
    /// How many samples, from `first_at` at the sampler's interval, are kept.
    count: u8,
    /// Their session energies.
    energy_wh: [f64; KEPT_SAMPLES],
}

impl KeptEnergies {
    /// Keeps `energy_wh` for sample `index` counted from `first_at` (index 0 starts over).
    fn keep(&mut self, first_at: Instant, index: usize, energy_wh: f64) {
        if index == 0 {
            self.first_at = first_at;
        }
        self.energy_wh[index] = energy_wh;
        self.count = index as u8 + 1;
    }

    /// The energy kept for the sample at `at`, if any.
    fn at(&self, at: Instant, interval: Duration) -> Option<f64> {
        let since = at.as_micros().checked_sub(self.first_at.as_micros())?;
        let step = interval.as_micros().max(1);
        let index = (since / step) as usize;
        (since % step == 0 && index < self.count as usize).then(|| self.energy_wh[index])
    }
}

/// A connector's session phase; the data in each variant is what is valid there.
enum Phase {
    Idle {
        next_arrival: Option<Instant>,
    },
    /// A vehicle is plugged in; the driver starts at `start_at`.
    Plugged {
        ev: Box<Ev>,
        start_at: Instant,
    },
    /// Waiting for the backend: an authorization or a remote start.
    Authorizing {
        ev: Box<Ev>,
        deadline: Instant,
    },
    /// The charger is setting up: a GB/T handshake, or the direct start delay.
    Starting {
        ev: Box<Ev>,
        deadline: Instant,
    },
    /// Energy flows; the driver stops at `dwell_end` unless something else does first.
    Charging {
        ev: Box<Ev>,
        since: Instant,
        dwell_end: Option<Instant>,
    },
    /// Charging has ended; the driver unplugs at `unplug_at`.
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
            Phase::Plugged { .. } | Phase::Authorizing { .. } | Phase::Starting { .. } => {
                ConnectorState::Plugged
            }
            Phase::Charging { .. } => ConnectorState::Charging,
            Phase::Finishing { .. } => ConnectorState::Finishing,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            Phase::Idle { next_arrival } => *next_arrival,
            Phase::Plugged { start_at, .. } => Some(*start_at),
            Phase::Authorizing { deadline, .. } => Some(*deadline),
            Phase::Starting { deadline, .. } => Some(*deadline),
            Phase::Charging { dwell_end, .. } => *dwell_end,
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
    /// Sessions left out of the energy check because their meter had an injected fault.
    energy_excluded: u64,
}

/// Metric handles registered once when the world is built.
struct Ids {
    can: [MessageId; PGN_SLOTS],
    cem: ErrorId,
    bem: ErrorId,
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
    /// Each connector's GB/T link deadline (`FAR_FUTURE` without a link), kept next to
    /// each other so a charger's wake-up need not load the links it does not step (each
    /// link is several KiB, and a fleet's links do not fit the cache).
    link_due: Vec<Instant>,
    /// Whether links may run ahead of the scheduler between the world's own events
    /// ([`World::set_run_ahead`]).
    run_ahead: bool,
    /// The limit of the `run_until` in progress: nothing runs ahead past it unless
    /// nobody looks between chunks (`unobserved`).
    run_limit: Instant,
    /// Nobody looks at connectors between `run_until` calls ([`World::set_unobserved`]).
    unobserved: bool,
    /// How far one wake-up may run a charger ahead ([`World::set_run_ahead_horizon`]).
    run_ahead_horizon: Option<Duration>,
    trace: Trace,
    metrics: Metrics,
    ids: Ids,
    events: u64,
    checks: Checks,
    gbt: GbtDetails,
    sampler: Sampler,
    mqtt: Option<mqtt::MqttSide>,
    http: Option<http::HttpSide>,
    /// The candump recorder, when recording ([`World::record_can`]).
    can_log: Option<Box<candump::CanLog>>,
    /// The scenario's `[[timeline]]` and `[[expect]]`, when it has any.
    timeline: Option<Box<timeline::TimelineSide>>,
    /// Timeline actions on real peers waiting for the I/O shell.
    external: Vec<external::ExternalAction>,
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
        let mut metrics = Metrics::new();
        let ids = Ids {
            can: SLOT_PGNS.map(|pgn| metrics.message_id("can", pgn.code())),
            cem: metrics.error_id("gbt.cem"),
            bem: metrics.error_id("gbt.bem"),
        };
        let sample_every = config
            .sample_interval
            .unwrap_or(Duration::from_micros(duration.as_micros() / 500).max(Duration::SECOND));
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
            link_due: Vec::new(),
            run_ahead: true,
            run_limit: Instant::ZERO,
            unobserved: false,
            run_ahead_horizon: None,
            trace: Trace::new(config.trace_level),
            metrics,
            ids,
            events: 0,
            checks: Checks::default(),
            gbt: GbtDetails::default(),
            sampler: Sampler::new(duration, sample_every),
            mqtt: None,
            http: None,
            can_log: None,
            timeline: None,
            external: Vec::new(),
        };
        let identities = world.build_fleet(scenario, config.shard)?;
        world.link_due = vec![Instant::FAR_FUTURE; world.connectors.len()];
        let spec = &scenario.scenario.mqtt;
        if spec.enabled {
            let build = mqtt::MqttBuild {
                spec,
                clock: crate::mqtt::clock::WallClock {
                    epoch_unix_s: start_unix_s,
                    utc_offset_min,
                },
                memory: spec.transport == profiles::scenario::MqttTransport::Memory,
                total_chargers: scenario.charger_count() as u32,
            };
            let side = mqtt::MqttSide::new(&mut world, &build, identities).map_err(|message| {
                BuildError::Model {
                    profile: "[mqtt]".into(),
                    message,
                }
            })?;
            world.mqtt = Some(side);
        }
        let http_spec = &scenario.scenario.http;
        if http_spec.enabled {
            let epoch = proto::tcec::CivilEpoch {
                unix_secs_at_zero: start_unix_s.max(0) as u64,
                utc_offset_s: utc_offset_min * 60,
            };
            let side = http::HttpSide::new(&world, http_spec, epoch, config.http_external)
                .map_err(|message| BuildError::Model {
                    profile: "[http]".into(),
                    message,
                })?;
            world.http = Some(side);
            world.http_register_stations(http_spec, &scenario.groups);
        }
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
        world.start_connectors(scenario.scenario.traffic.initial_occupancy);
        world.timeline = timeline::TimelineSide::new(&scenario.scenario, world.connectors.len())
            .map_err(|message| BuildError::Model {
                profile: "[[timeline]]".into(),
                message,
            })?
            .map(Box::new);
        world.arm_timeline();
        Ok(world)
    }

    /// Builds chargers and connectors; returns each charger's MQTT identity (with its
    /// global index).
    fn build_fleet(
        &mut self,
        scenario: &ResolvedScenario,
        shard: Shard,
    ) -> Result<Vec<(u32, crate::mqtt::charger::ChargerIdentity)>, BuildError> {
        let can = &scenario.scenario.can;
        let prefix = &scenario.scenario.fleet.serial_prefix;
        let registration_code = &scenario.scenario.mqtt.registration_code;
        let mut identities = Vec::new();
        let mut charger_index: u32 = 0;
        let mut connector_id: u32 = 0;
        let mut station_base: u32 = 0;
        for (gi, g) in scenario.groups.iter().enumerate() {
            let per_station = g.chargers_per_station.max(1);
            let model_error = |message| BuildError::Model {
                profile: g.name.clone(),
                message,
            };
            let vehicles = g
                .vehicle_mix
                .iter()
                .map(|(v, _)| VehicleModel::from_profile(v))
                .collect::<Result<Vec<_>, _>>()
                .map_err(model_error)?;
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
            for in_group in 0..g.count {
                let station = station_base + in_group / per_station;
                if shard.includes(station) {
                    let plant = CabinetPlant::from_profile(&g.charger).map_err(|message| {
                        BuildError::Model {
                            profile: g.charger.name.clone(),
                            message,
                        }
                    })?;
                    let gbt = match (&g.charger.dc, can.enabled) {
                        (Some(dc), true) => Some(ChargerSide::new(
                            charger_index + 1,
                            output_limits(dc),
                            can.bitrate_bps,
                        )),
                        _ => None,
                    };
                    let first = self.connectors.len();
                    let local = self.chargers.len();
                    identities.push((
                        charger_index,
                        identity(&g.charger, prefix, charger_index, registration_code),
                    ));
                    for gun in 0..per_charger {
                        let id = connector_id + gun;
                        self.connectors.push(Connector {
                            global_id: id,
                            group: gi,
                            charger: local,
                            gun: gun + 1,
                            token: None,
                            auth_pending: false,
                            refused: false,
                            tx: None,
                            stop_reason: None,
                            bms_info_at: Instant::ZERO,
                            last_tick: (0.0, 0.0, 25.0),
                            phases: g.charger.ac.as_ref().map_or(1, |a| a.phases),
                            rng: rng::stream(self.seed, Domain::ConnectorUsers, u64::from(id)),
                            sessions: 0,
                            phase: Phase::Idle { next_arrival: None },
                            plant: ConnectorPlant::new(
                                &g.charger,
                                rng::derive(self.seed, Domain::Meter, u64::from(id)),
                            ),
                            link: None,
                            meter: meter::MeterState::default(),
                            energy_at_samples: KeptEnergies::default(),
                        });
                    }
                    self.chargers.push(Charger {
                        global_index: charger_index,
                        station,
                        group: gi,
                        connectors: first..self.connectors.len(),
                        plant,
                        gbt,
                        next_tick: None,
                    });
                }
                charger_index += 1;
                connector_id += per_charger;
            }
            station_base += g.count.div_ceil(per_station);
        }
        Ok(identities)
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

    /// Unix time and UTC offset of virtual time zero.
    pub fn wall_clock(&self) -> crate::mqtt::clock::WallClock {
        crate::mqtt::clock::WallClock {
            epoch_unix_s: self.clock.start_unix_s,
            utc_offset_min: self.clock.utc_offset_min,
        }
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.sched.peek().map(|(at, _)| at)
    }

    /// Processes every event due at or before `limit` (capped at the run's end), then
    /// sets the time to that limit. Chunking never changes the outcome.
    pub fn run_until(&mut self, limit: Instant) {
        let limit = limit.min(self.end);
        self.run_limit = limit;
        while let Some((at, key)) = self.sched.pop_due(limit) {
            self.now = at;
            self.events += 1;
            match key.kind {
                EntityKind::Charger => self.wake_charger(key.index as usize),
                EntityKind::Sampler => self.take_sample(),
                EntityKind::Network => self.wake_network(),
                EntityKind::Server if key.index == 1 => self.wake_http(),
                EntityKind::Server => self.wake_server(),
                EntityKind::Timeline => self.wake_timeline(),
            }
        }
        self.now = self.now.max(limit);
    }

    /// Lets GB/T links run ahead of the scheduler (the default) or not. A link runs
    /// ahead only through the frames, timers and plant steps of its own that nothing else
    /// can see or change before its connector's next physics tick or phase deadline, the
    /// next timeline, network or sampler event, and the end of the current `run_until`;
    /// never with MQTT, HTTP or CAN recording on. Either way the trace, the report and
    /// every frame count are the same; only `details.scheduler_events` (wake-ups) drops.
    pub fn set_run_ahead(&mut self, on: bool) {
        self.run_ahead = on;
    }

    /// Tells the world that nothing looks at its connectors between `run_until` calls
    /// (no dashboard, metrics endpoint or CAN recording; trace lines are fine, since a
    /// link running ahead records nothing before its time). Links may then run ahead
    /// past the end of the current chunk, which matters when the pacer runs one chunk per
    /// deadline (real time). Results are the same either way; only snapshots taken
    /// between chunks may include physics ticks a little ahead of `now`.
    pub fn set_unobserved(&mut self, unobserved: bool) {
        self.unobserved = unobserved;
    }

    /// Bounds how far one wake-up may run a charger ahead (`None`: up to the next
    /// barrier). A paced run wants a short horizon: chargers that all stopped at the same
    /// barrier (a sample) would otherwise all run a whole second ahead at once, and that
    /// burst is scheduler lag; with a horizon each does a slice of it at its own time.
    /// Results are the same either way.
    pub fn set_run_ahead_horizon(&mut self, horizon: Option<Duration>) {
        self.run_ahead_horizon = horizon;
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
        let snap = self.snapshot_at(true);
        let (now, sampler, metrics) = (self.now, &mut self.sampler, &mut self.metrics);
        match self.http.as_ref().and_then(|h| h.external_operator()) {
            Some(ext) => ext.with(&mut |_, extra, _| {
                sampler.sample(now, snap.states, snap.energy_kwh, metrics, Some(extra));
            }),
            None => sampler.sample(now, snap.states, snap.energy_kwh, metrics, None),
        }
        self.sched.arm(SAMPLER, Some(self.sampler.deadline()));
    }

    /// The time series sampled so far.
    pub fn series(&self) -> &Series {
        self.sampler.series()
    }

    /// A fleet-wide snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_at(false)
    }

    /// A fleet-wide snapshot; `for_sample`: as of `now` exactly, reading the session
    /// energy a charger that ran ahead past `now` kept for this sample.
    fn snapshot_at(&self, for_sample: bool) -> Snapshot {
        let mut states = [0u64; 6];
        let mut in_progress_wh = 0.0;
        for c in &self.connectors {
            let offline = self.mqtt.as_ref().is_some_and(|m| !m.online(c.charger));
            let state = if offline {
                ConnectorState::Offline
            } else {
                c.phase.state()
            };
            states[state as usize] += 1;
            if let Phase::Charging { .. } = c.phase {
                let kept = for_sample
                    .then(|| c.energy_at_samples.at(self.now, self.sampler.interval()))
                    .flatten();
                in_progress_wh += kept.unwrap_or_else(|| c.plant.session_energy_wh());
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

    /// Ends the run: sessions in progress are closed for the energy count (not as
    /// completed or failed), invariant assertions are evaluated, and the report assembled.
    pub fn finish(mut self, wall_s: f64) -> Report {
        let now = self.now;
        for ci in 0..self.connectors.len() {
            let c = &mut self.connectors[ci];
            if let Phase::Charging { ev, .. } = &mut c.phase {
                let energy = c.plant.finish_session(now, ev);
                self.metrics.energy_wh += energy.meter_wh;
            }
            if let Some(mut link) = self.connectors[ci].link.take() {
                self.can_log_end(self.connectors[ci].global_id, &mut link);
                self.account_link(&link);
            }
        }
        let expectations = self.timeline_assertions();
        self.mqtt_close();
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
                gbt: (self.gbt.sessions > 0).then(|| self.gbt.clone()),
                ..Default::default()
            },
        };
        report.assertions.extend(expectations);
        report.fill_from_metrics(&self.metrics);
        report.decide();
        report
    }

    /// Adds a finished (or cut-off) GB/T session's frame counts and phase to the metrics.
    fn account_link(&mut self, link: &GbtLink) {
        for side in link.frame_counts() {
            for (slot, (_, n)) in side.iter().enumerate() {
                if n > 0 {
                    self.metrics.add_messages(self.ids.can[slot], n);
                }
            }
        }
        let r = link.pair.charger.report();
        self.gbt.sessions += 1;
        self.gbt.cem_sent += r.cem_sent;
        self.gbt.bem_sent += link.pair.bms.report().bem_sent;
        let phase = serde_json::to_value(r.furthest_phase)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        *self.gbt.furthest_phase.entry(phase).or_default() += 1;
    }

    fn invariant_assertions(&self) -> Vec<Assertion> {
        let mut out = self.physics_assertions();
        out.extend(self.http_assertions());
        if let (Some((booked, duplicates)), Some(m)) = (self.mqtt_ledger(), self.mqtt.as_ref()) {
            out.push(Assertion {
                name: "mqtt.transactions_booked_once".into(),
                passed: booked == m.confirmed,
                detail: format!(
                    "{} transactions confirmed to chargers, {booked} booked in the reference backend's ledger ({duplicates} re-sent copies recognised and not booked again)",
                    m.confirmed
                ),
            });
        }
        out
    }

    fn physics_assertions(&self) -> Vec<Assertion> {
        let c = &self.checks;
        let inv = &c.invariants;
        let worst = c
            .energy_worst_session
            .map(|(id, s)| format!(", worst: connector {id} session {s}"))
            .unwrap_or_default();
        vec![
            Assertion {
                name: "physics.energy_conservation".into(),
                passed: c.energy_max_rel_err <= 0.005,
                detail: format!(
                    "meter energy vs battery energy gained + losses over {} sessions: max error {:.4} % (limit 0.5 %){worst}{}",
                    c.energy_sessions,
                    c.energy_max_rel_err * 100.0,
                    if c.energy_excluded > 0 {
                        format!(
                            "; {} sessions with an injected meter fault (meter_stuck, meter_drift) left out: their meter misreads by design",
                            c.energy_excluded
                        )
                    } else {
                        String::new()
                    }
                ),
            },
            Assertion {
                name: "physics.soc_bounded_and_monotone".into(),
                passed: inv.soc_violations == 0,
                detail: format!(
                    "{} physics steps checked; {} with SOC above 100 % or falling while charging",
                    inv.steps, inv.soc_violations
                ),
            },
            Assertion {
                name: "physics.temperatures_bounded".into(),
                passed: inv.temperature_violations == 0,
                detail: format!(
                    "{} physics steps checked; {} with a temperature outside −40…150 °C",
                    inv.steps, inv.temperature_violations
                ),
            },
            Assertion {
                name: "physics.ac_current_within_pwm".into(),
                passed: inv.pwm_violations == 0,
                detail: format!(
                    "{} AC steps checked; {} drew more than the PWM-allowed current",
                    inv.ac_steps, inv.pwm_violations
                ),
            },
        ]
    }
}

/// The MQTT identity of a charger built from `profile`.
fn identity(
    profile: &profiles::ChargerProfile,
    prefix: &str,
    index: u32,
    registration_code: &str,
) -> crate::mqtt::charger::ChargerIdentity {
    use proto::mqtt::pb;
    let rated_power_w = match (&profile.dc, &profile.ac) {
        (Some(dc), _) => dc.cabinet_power_w(),
        (None, Some(ac)) => ac.power_w(),
        (None, None) => 0.0,
    };
    crate::mqtt::charger::ChargerIdentity {
        serial: format!("{prefix}{:06}", index + 1),
        model: if profile.model.is_empty() {
            profile.name.clone()
        } else {
            profile.model.clone()
        },
        vendor: profile.vendor.clone(),
        registration_code: registration_code.to_owned(),
        firmware_version: profile.firmware_version.clone(),
        connectors: u32::from(profile.connectors),
        kind: match profile.kind {
            ChargerKind::Dc => pb::ChargerKind::Dc,
            ChargerKind::Ac => pb::ChargerKind::Ac,
        },
        rated_power_w: rated_power_w.round() as u32,
        device_id: None,
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

#[cfg(test)]
mod kept_energies_tests {
    use super::*;

    #[test]
    fn a_kept_energy_is_found_at_its_sample_time_only() {
        let interval = Duration::from_secs(2);
        let first = Instant::from_secs(10);
        let mut kept = KeptEnergies::default();
        for (index, energy_wh) in [1.5, 2.5, 3.5].into_iter().enumerate() {
            kept.keep(first, index, energy_wh);
        }
        assert_eq!(kept.at(Instant::from_secs(10), interval), Some(1.5));
        assert_eq!(kept.at(Instant::from_secs(14), interval), Some(3.5));
        // Beyond the kept samples, between them and before them: not kept.
        assert_eq!(kept.at(Instant::from_secs(16), interval), None);
        assert_eq!(kept.at(Instant::from_secs(11), interval), None);
        assert_eq!(kept.at(Instant::from_secs(8), interval), None);
        // Keeping index 0 again starts over from a new first sample.
        kept.keep(Instant::from_secs(20), 0, 9.0);
        assert_eq!(kept.at(Instant::from_secs(20), interval), Some(9.0));
        assert_eq!(kept.at(Instant::from_secs(12), interval), None);
    }
}
