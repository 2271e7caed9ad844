//! The scenario timeline's executor: `[[timeline]]` entries fire at their time or when
//! their condition first holds, driven by the world's scheduler (the `Timeline` key, which
//! fires before every other entity at equal deadlines). Each action goes through the fault
//! hooks and is traced, so a run's timeline is part of its digest; temporary faults are
//! restored after their `duration`.
//!
//! Conditions and the `no_stuck_state` watch are sampled every [`POLL`] of virtual time
//! while they are needed: the outcome is deterministic, and a condition is seen at most
//! one poll after it starts to hold.

use super::expect::Journal;
use super::external::{DEFAULT_BROKER_DOWNTIME, ExternalAction, apply_backend, apply_platform};
use super::{Fault, Phase, World};
use crate::fleet::events::ConnectorState;
use crate::gbt::faults::{GbtFault, WireFault};
use crate::mqtt::backend::BackendFaults;
use crate::rng::{self, Domain};
use crate::sched::{EntityKind, Key};
use crate::time::{Duration, Instant};
use crate::trace::{Entity, TraceEvent, TraceLevel};
use profiles::timeline::{Action, Condition, Expectation, Scope, Subject, TimelineEntry};
use proto::gbt27930::id::{Node, Pgn};
use proto::mqtt::MessageCode;
use rand::RngExt;
use serde::Serialize;

/// How often conditions and stuck states are sampled.
pub(super) const POLL: Duration = Duration::SECOND;

/// Steps of a load ramp (the multiplier changes in equal steps).
const RAMP_STEPS: u32 = 10;

const KEY: Key = Key {
    kind: EntityKind::Timeline,
    index: 0,
};

/// A traced timeline action.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// A `[[timeline]]` entry fired.
    ActionFired {
        /// Index of the entry in the scenario.
        entry: u32,
        /// Its label.
        label: String,
        /// The action.
        action: &'static str,
        /// Connectors (or, for fleet actions, services) it reached.
        reached: u32,
    },
    /// A temporary fault ended and the setting before it was restored.
    ActionEnded {
        /// Index of the entry in the scenario.
        entry: u32,
        /// Its label.
        label: String,
    },
    /// The arrival rate multiplier changed.
    LoadFactor {
        /// The new multiplier.
        factor: f64,
    },
}

impl TraceEvent for TimelineEvent {
    fn level(&self) -> TraceLevel {
        TraceLevel::Session
    }
}

/// What the entry's message names, resolved when the world is built.
#[derive(Debug, Clone, Copy)]
enum Resolved {
    None,
    Can(Node, Pgn),
    Mqtt(MessageCode),
}

/// The setting a temporary fault replaced.
#[derive(Debug, Clone)]
enum Saved {
    Backend(BackendFaults),
    Platform(crate::tcec::platform::PlatformFaults),
    InvalidCard(f64),
    Load(f64),
    /// Local connectors whose meter a `meter_stuck` or `meter_drift` broke.
    Meter(Vec<usize>),
    /// Local chargers a network fault (or, for a real peer, any charger action) hit.
    Net(Vec<usize>, Action),
}

/// One entry and what happened to it.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) spec: TimelineEntry,
    condition: Option<Condition>,
    resolved: Resolved,
    /// When it fired.
    pub(super) fired: Option<Instant>,
    /// The connectors (fleet ids) a connector or charger action reached.
    pub(super) hits: Vec<u32>,
    saved: Option<Saved>,
    /// Handed to the I/O shell (a real peer): its ending goes there too.
    external: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Fire,
    Revert,
    Ramp(u32),
}

/// The timeline of a world: its entries, pending jobs and the journal expectations read.
#[derive(Debug)]
pub(super) struct TimelineSide {
    pub(super) entries: Vec<Entry>,
    pub(super) expects: Vec<Expectation>,
    /// Pending jobs: (time, entry, job), fired in that order.
    jobs: Vec<(Instant, usize, Job)>,
    /// The arrival rate multiplier in effect.
    load: f64,
    pub(super) journal: Journal,
}

impl TimelineSide {
    /// The timeline of `scenario`; `None` when it has neither entries nor expectations.
    pub(super) fn new(
        scenario: &profiles::Scenario,
        connectors: usize,
    ) -> Result<Option<TimelineSide>, String> {
        if scenario.timeline.is_empty() && scenario.expect.is_empty() {
            return Ok(None);
        }
        let mut entries = Vec::with_capacity(scenario.timeline.len());
        let mut jobs = Vec::new();
        for (i, spec) in scenario.timeline.iter().enumerate() {
            let resolved = resolve(spec).map_err(|m| format!("timeline[{i}].message: {m}"))?;
            let at = spec.at.map_or(Instant::ZERO, |d| {
                Instant::ZERO + Duration::from_micros(d.0.micros)
            });
            if spec.when.is_none() {
                jobs.push((at, i, Job::Fire));
            }
            entries.push(Entry {
                condition: spec.condition(),
                spec: spec.clone(),
                resolved,
                fired: None,
                hits: Vec::new(),
                saved: None,
                external: false,
            });
        }
        let stuck = scenario
            .expect
            .iter()
            .any(|x| x.kind == profiles::timeline::ExpectKind::NoStuckState);
        let mut journal = Journal::new(connectors, stuck);
        if scenario
            .expect
            .iter()
            .any(|x| x.kind == profiles::timeline::ExpectKind::DataCompleted)
        {
            journal.watch_data();
        }
        // A StopTransaction may need a timeout and a re-send before its confirmation.
        journal.settle = Duration::from_secs(2 * u64::from(scenario.mqtt.response_timeout_s) + 10);
        Ok(Some(TimelineSide {
            entries,
            expects: scenario.expect.clone(),
            jobs,
            load: 1.0,
            journal,
        }))
    }

    /// Whether something must be sampled every poll at `now`.
    fn polling(&self, now: Instant) -> bool {
        self.journal.watches_states()
            || self
                .entries
                .iter()
                .any(|e| e.fired.is_none() && e.condition.is_some() && self.armed(e, now))
    }

    fn armed(&self, e: &Entry, now: Instant) -> bool {
        e.spec
            .at
            .is_none_or(|d| Instant::ZERO + Duration::from_micros(d.0.micros) <= now)
    }

    /// The next time the executor must run after handling `now`.
    fn deadline(&self, now: Instant) -> Option<Instant> {
        let job = self.jobs.iter().map(|j| j.0).min();
        let watch_from = self
            .entries
            .iter()
            .filter(|e| e.fired.is_none() && e.condition.is_some())
            .filter_map(|e| {
                e.spec
                    .at
                    .map(|d| Instant::ZERO + Duration::from_micros(d.0.micros))
            })
            .filter(|t| *t > now)
            .min();
        let poll = self.polling(now).then_some(now + POLL);
        [job, watch_from, poll].into_iter().flatten().min()
    }
}

fn resolve(spec: &TimelineEntry) -> Result<Resolved, String> {
    let Some(name) = spec.message.as_deref() else {
        return Ok(Resolved::None);
    };
    match spec.action {
        Action::CanSilence | Action::CanDrop | Action::CanDelay | Action::CanCorrupt => {
            let pgn = Pgn::MESSAGES
                .iter()
                .copied()
                .find(|p| p.code().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!("{name:?} is not a GB/T 27930 message (e.g. BCL, BCS, BRM)")
                })?;
            let from = pgn
                .sender()
                .ok_or_else(|| format!("{name:?} has no single sender"))?;
            Ok(Resolved::Can(from, pgn))
        }
        _ => MessageCode::ALL
            .iter()
            .copied()
            .find(|c| c.name() == name)
            .map(Resolved::Mqtt)
            .ok_or_else(|| {
                format!("{name:?} is not a charger protocol message (e.g. StopTransactionReq)")
            }),
    }
}

impl World {
    /// Arms the timeline's next deadline.
    pub(super) fn arm_timeline(&mut self) {
        let now = self.now;
        let next = self.timeline.as_ref().and_then(|t| t.deadline(now));
        self.sched.arm(KEY, next);
    }

    /// Runs the jobs due now, checks conditions, samples states.
    pub(super) fn wake_timeline(&mut self) {
        let now = self.now;
        let Some(t) = self.timeline.as_mut() else {
            return;
        };
        t.jobs.sort();
        let due: Vec<(Instant, usize, Job)> =
            t.jobs.iter().copied().filter(|j| j.0 <= now).collect();
        t.jobs.retain(|j| j.0 > now);
        for (_, i, job) in due {
            match job {
                Job::Fire => self.fire(i),
                Job::Revert => self.revert(i),
                Job::Ramp(step) => self.ramp(i, step),
            }
        }
        self.check_conditions();
        self.sample_states();
        self.arm_timeline();
    }

    fn check_conditions(&mut self) {
        let now = self.now;
        let Some(t) = self.timeline.as_ref() else {
            return;
        };
        let ready: Vec<(usize, Condition)> = t
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.fired.is_none() && t.armed(e, now))
            .filter_map(|(i, e)| e.condition.map(|c| (i, c)))
            .collect();
        for (i, c) in ready {
            if self.holds(c) {
                self.fire(i);
            }
        }
    }

    /// Connector `ci`'s state as reports count it.
    pub(super) fn connector_state(&self, ci: usize) -> ConnectorState {
        let c = &self.connectors[ci];
        if self.mqtt.as_ref().is_some_and(|m| !m.online(c.charger)) {
            ConnectorState::Offline
        } else {
            c.phase.state()
        }
    }

    fn holds(&self, c: Condition) -> bool {
        let is = |ci: usize| self.connector_state(ci).name() == c.state;
        let n = self.connectors.len();
        match c.subject {
            Subject::Connector(id) => {
                (0..n).any(|ci| self.connectors[ci].global_id == id && is(ci))
            }
            Subject::Any => (0..n).any(is),
            Subject::All => n > 0 && (0..n).all(is),
            Subject::AtLeast(k) => (0..n).filter(|&ci| is(ci)).count() >= k as usize,
        }
    }

    fn sample_states(&mut self) {
        let now = self.now;
        if !self
            .timeline
            .as_ref()
            .is_some_and(|t| t.journal.watches_states())
        {
            return;
        }
        let states: Vec<(u32, ConnectorState)> = (0..self.connectors.len())
            .map(|ci| (self.connectors[ci].global_id, self.connector_state(ci)))
            .collect();
        if let Some(t) = self.timeline.as_mut() {
            for (ci, (id, s)) in states.into_iter().enumerate() {
                t.journal.state_seen(now, ci, id, s);
            }
        }
    }

    /// The local connectors entry `i` targets.
    fn targets(&self, i: usize) -> Vec<usize> {
        let Some(t) = self.timeline.as_ref() else {
            return Vec::new();
        };
        let s = &t.entries[i].spec;
        let sub_seed = rng::derive(self.seed, Domain::Faults, i as u64);
        (0..self.connectors.len())
            .filter(|&ci| {
                let c = &self.connectors[ci];
                let ch = &self.chargers[c.charger];
                if let Some(id) = s.connector {
                    return c.global_id == id;
                }
                if let Some(ids) = &s.connectors {
                    return ids.contains(&c.global_id);
                }
                if let Some(k) = s.charger {
                    return ch.global_index == k;
                }
                if let Some(st) = s.station {
                    return ch.station == st;
                }
                if let Some(share) = s.fraction {
                    let mut r = rng::stream(sub_seed, Domain::Faults, u64::from(c.global_id));
                    return r.random::<f64>() < share;
                }
                s.all
            })
            .collect()
    }

    fn fire(&mut self, i: usize) {
        let now = self.now;
        let Some(t) = self.timeline.as_mut() else {
            return;
        };
        if t.entries[i].fired.is_some() {
            return;
        }
        t.entries[i].fired = Some(now);
        let spec = t.entries[i].spec.clone();
        let resolved = t.entries[i].resolved;
        if self.is_external_action(spec.action) {
            self.fire_external(i, spec, resolved);
            return;
        }
        let reached = match spec.action.scope() {
            Scope::Connector => self.fire_connectors(i, &spec, resolved),
            Scope::Charger => self.fire_chargers(i, &spec),
            Scope::Fleet => self.fire_fleet(i, &spec, resolved),
        };
        if let Some(d) = spec.duration
            && !matches!(
                spec.action,
                Action::RestartBroker
                    | Action::LoadRamp
                    | Action::MqttDisconnect
                    | Action::NetCut
                    | Action::NetReset
            )
            && let Some(t) = self.timeline.as_mut()
        {
            t.jobs
                .push((now + Duration::from_micros(d.0.micros), i, Job::Revert));
        }
        self.trace.record(
            now,
            Entity::Fleet,
            &TimelineEvent::ActionFired {
                entry: i as u32,
                label: spec.label().to_owned(),
                action: spec.action.name(),
                reached,
            },
        );
    }

    fn fire_connectors(&mut self, i: usize, spec: &TimelineEntry, resolved: Resolved) -> u32 {
        let fault = match connector_fault(spec, resolved) {
            Some(f) => f,
            None => return 0,
        };
        let mut hits = Vec::new();
        let mut local = Vec::new();
        for ci in self.targets(i) {
            if self.inject_at(ci, &fault) {
                hits.push(self.connectors[ci].global_id);
                local.push(ci);
            }
        }
        let n = hits.len() as u32;
        if let Some(t) = self.timeline.as_mut() {
            t.entries[i].hits = hits;
            if matches!(fault, Fault::MeterStuck | Fault::MeterDrift { .. }) {
                t.entries[i].saved = Some(Saved::Meter(local));
            }
        }
        n
    }

    fn fire_chargers(&mut self, i: usize, spec: &TimelineEntry) -> u32 {
        let now = self.now;
        let mut chargers: Vec<usize> = self
            .targets(i)
            .into_iter()
            .map(|ci| self.connectors[ci].charger)
            .collect();
        chargers.dedup();
        let mut hits = Vec::new();
        let mut netted = Vec::new();
        for k in chargers {
            let ok = match spec.action {
                Action::MqttDisconnect => {
                    let g = self.chargers[k].global_index;
                    match spec.duration {
                        Some(d) => self.partition_charger(g, Duration::from_micros(d.0.micros)),
                        None => self.cut_charger_link(g),
                    }
                }
                Action::Reboot | Action::FirmwareUpdate => self.backend_command(k, spec, now),
                a if a.is_network() => self.net_fault(k, spec),
                _ => false,
            };
            if ok {
                let range = self.chargers[k].connectors.clone();
                hits.extend(range.map(|ci| self.connectors[ci].global_id));
                netted.push(k);
            }
        }
        self.flush_backend();
        let n = hits.len() as u32;
        if let Some(t) = self.timeline.as_mut() {
            t.entries[i].hits = hits;
            if spec.action.is_network() {
                t.entries[i].saved = Some(Saved::Net(netted, spec.action));
            }
        }
        n
    }

    /// The reference backend resets charger `k` or sends it a firmware update.
    fn backend_command(&mut self, k: usize, spec: &TimelineEntry, now: Instant) -> bool {
        let Some(m) = self.mqtt.as_mut() else {
            return false;
        };
        let Some(device) = m.device_id(k) else {
            return false;
        };
        let Some(backend) = m.backend_mut() else {
            return false;
        };
        let sent = if spec.action == Action::Reboot {
            backend.reset(now, &device, proto::mqtt::control::ResetKind::Program)
        } else {
            let wrong_md5 = spec
                .fail
                .unwrap_or(false)
                .then_some("00000000000000000000000000000000");
            backend.update_firmware(now, &device, "chargestorm-fw.bin", "9.9.9", wrong_md5)
        };
        sent.is_ok()
    }

    fn fire_fleet(&mut self, i: usize, spec: &TimelineEntry, resolved: Resolved) -> u32 {
        let (saved, ok) = match spec.action {
            Action::RestartBroker => {
                let down = spec.duration.map_or(DEFAULT_BROKER_DOWNTIME, |d| {
                    Duration::from_micros(d.0.micros)
                });
                (None, self.restart_broker(down))
            }
            Action::BackendSlowdown
            | Action::BackendDropResponses
            | Action::BackendMalformed
            | Action::BackendNeverAnswer => self.change_backend(|f| {
                apply_backend(spec, mqtt_message(resolved), f);
            }),
            Action::Platform500
            | Action::PlatformTimeout
            | Action::PlatformExpiredToken
            | Action::PlatformWrongSignature => self.change_platform(|f| apply_platform(spec, f)),
            Action::InvalidCard => match self.mqtt.as_mut() {
                Some(m) => {
                    let old =
                        std::mem::replace(&mut m.invalid_card_ratio, spec.ratio.unwrap_or(1.0));
                    (Some(Saved::InvalidCard(old)), true)
                }
                None => (None, false),
            },
            Action::LoadStep | Action::LoadSpike => {
                let old = self.timeline.as_ref().map_or(1.0, |t| t.load);
                self.set_load(spec.factor.unwrap_or(1.0));
                (Some(Saved::Load(old)), true)
            }
            Action::LoadRamp => {
                self.ramp(i, 0);
                (None, true)
            }
            _ => (None, false),
        };
        if let Some(t) = self.timeline.as_mut() {
            t.entries[i].saved = saved;
        }
        u32::from(ok)
    }

    /// Hands entry `i` to the I/O shell: its peer is real. Its `action_fired` is traced
    /// when the shell reports its reach; an ending is queued after its duration.
    fn fire_external(&mut self, i: usize, spec: TimelineEntry, resolved: Resolved) {
        let now = self.now;
        let mut chargers: Vec<usize> = Vec::new();
        if spec.action.scope() == Scope::Charger {
            chargers = self
                .targets(i)
                .into_iter()
                .map(|ci| self.connectors[ci].charger)
                .collect();
            chargers.dedup();
        }
        let devices = match spec.action {
            Action::Reboot | Action::FirmwareUpdate => {
                let m = self.mqtt.as_ref();
                chargers
                    .iter()
                    .filter_map(|&k| m.and_then(|m| m.device_id(k)))
                    .collect()
            }
            _ => Vec::new(),
        };
        let action = ExternalAction {
            entry: i as u32,
            spec,
            message: mqtt_message(resolved),
            chargers,
            devices,
            ending: false,
        };
        // A partition's hold is the shell's; other durations end here.
        let end = (action.spec.action != Action::MqttDisconnect)
            .then(|| action.duration())
            .flatten();
        if let Some(t) = self.timeline.as_mut() {
            t.entries[i].external = true;
            // The ending must reach the same links.
            t.entries[i].saved = Some(Saved::Net(action.chargers.clone(), action.spec.action));
            if let Some(d) = end {
                t.jobs.push((now + d, i, Job::Revert));
            }
        }
        self.queue_external(action);
    }

    /// The connectors (fleet ids) entry `i` reached, for expectations that follow it.
    pub(super) fn set_timeline_hits(&mut self, i: usize, hits: Vec<u32>) {
        if let Some(e) = self.timeline.as_mut().and_then(|t| t.entries.get_mut(i)) {
            e.hits = hits;
        }
    }

    fn change_backend(&mut self, f: impl FnOnce(&mut BackendFaults)) -> (Option<Saved>, bool) {
        let Some(backend) = self.mqtt.as_mut().and_then(|m| m.backend_mut()) else {
            return (None, false);
        };
        let old = backend.faults().clone();
        let mut new = old.clone();
        f(&mut new);
        backend.set_faults(new);
        (Some(Saved::Backend(old)), true)
    }

    fn change_platform(
        &mut self,
        f: impl FnOnce(&mut crate::tcec::platform::PlatformFaults),
    ) -> (Option<Saved>, bool) {
        let Some(old) = self.platform_faults() else {
            return (None, false);
        };
        let mut new = old;
        f(&mut new);
        let ok = self.set_platform_faults(new);
        (Some(Saved::Platform(old)), ok)
    }

    fn revert(&mut self, i: usize) {
        let now = self.now;
        let Some(t) = self.timeline.as_mut() else {
            return;
        };
        let label = t.entries[i].spec.label().to_owned();
        if t.entries[i].external {
            let spec = t.entries[i].spec.clone();
            let message = mqtt_message(t.entries[i].resolved);
            let chargers = match t.entries[i].saved.take() {
                Some(Saved::Net(chargers, _)) => chargers,
                _ => Vec::new(),
            };
            self.queue_external(ExternalAction {
                entry: i as u32,
                spec,
                message,
                chargers,
                devices: Vec::new(),
                ending: true,
            });
            return;
        }
        match t.entries[i].saved.take() {
            Some(Saved::Backend(f)) => {
                if let Some(b) = self.mqtt.as_mut().and_then(|m| m.backend_mut()) {
                    b.set_faults(f);
                }
            }
            Some(Saved::Platform(f)) => {
                self.set_platform_faults(f);
            }
            Some(Saved::InvalidCard(r)) => {
                if let Some(m) = self.mqtt.as_mut() {
                    m.invalid_card_ratio = r;
                }
            }
            Some(Saved::Load(f)) => self.set_load(f),
            Some(Saved::Meter(cis)) => {
                for ci in cis {
                    self.repair_meter(ci);
                }
            }
            Some(Saved::Net(chargers, action)) => self.net_fault_end(&chargers, action),
            None => return,
        }
        self.trace.record(
            now,
            Entity::Fleet,
            &TimelineEvent::ActionEnded {
                entry: i as u32,
                label,
            },
        );
    }

    /// Step `step` of entry `i`'s load ramp: the multiplier moves from where it was to
    /// `factor` in [`RAMP_STEPS`] equal steps over `duration`.
    fn ramp(&mut self, i: usize, step: u32) {
        let now = self.now;
        let Some(t) = self.timeline.as_mut() else {
            return;
        };
        let spec = &t.entries[i].spec;
        let target = spec.factor.unwrap_or(1.0);
        let total = spec.duration.map_or(0, |d| d.0.micros);
        if step == 0 {
            t.entries[i].saved = Some(Saved::Load(t.load));
        }
        let from = match t.entries[i].saved {
            Some(Saved::Load(f)) => f,
            _ => t.load,
        };
        let next = step + 1;
        let factor = from + (target - from) * f64::from(next) / f64::from(RAMP_STEPS);
        if next < RAMP_STEPS {
            let at = Instant::ZERO
                + Duration::from_micros(
                    t.entries[i].fired.map_or(0, |f| f.as_micros())
                        + total * u64::from(next) / u64::from(RAMP_STEPS),
                );
            t.jobs.push((at.max(now), i, Job::Ramp(next)));
        } else {
            t.entries[i].saved = None;
        }
        self.set_load(factor);
    }

    /// Sets the arrival rate multiplier and re-draws the idle connectors' next arrivals.
    fn set_load(&mut self, factor: f64) {
        let now = self.now;
        if let Some(t) = self.timeline.as_mut() {
            t.load = factor;
        }
        for g in &mut self.groups {
            g.traffic.set_load_factor(factor);
        }
        for ci in 0..self.connectors.len() {
            let c = &mut self.connectors[ci];
            if let Phase::Idle { next_arrival } = &mut c.phase {
                *next_arrival =
                    self.groups[c.group]
                        .traffic
                        .next_arrival(now, &self.clock, &mut c.rng);
                let k = c.charger;
                self.rearm(k);
            }
        }
        self.trace
            .record(now, Entity::Fleet, &TimelineEvent::LoadFactor { factor });
    }
}

/// The charger protocol message an entry names, if any.
fn mqtt_message(resolved: Resolved) -> Option<MessageCode> {
    match resolved {
        Resolved::Mqtt(code) => Some(code),
        _ => None,
    }
}

/// The per-connector fault of a connector-scope entry.
fn connector_fault(spec: &TimelineEntry, resolved: Resolved) -> Option<Fault> {
    let wire = |w: WireFault| Some(Fault::Gbt(GbtFault::Wire(w)));
    let (from, pgn) = match resolved {
        Resolved::Can(from, pgn) => (from, pgn),
        _ => (Node::Bms, Pgn::Bcl),
    };
    let ratio = spec.ratio.unwrap_or(1.0);
    match spec.action {
        Action::BmsTimeout => Some(Fault::BmsTimeout),
        Action::InsulationFault => Some(Fault::InsulationFault {
            resistance_kohm: spec.resistance_kohm.unwrap_or(50.0),
        }),
        Action::OverTemperature => Some(Fault::OverTemperature),
        Action::EmergencyStop => Some(Fault::EmergencyStop),
        Action::ContactorStuck => Some(Fault::ContactorStuck),
        Action::ModuleFailure => Some(Fault::ModuleFailure),
        Action::MeterFailure => Some(Fault::MeterFailure),
        Action::UnplugMidSession => Some(Fault::UnplugMidSession),
        Action::MeterStuck => Some(Fault::MeterStuck),
        Action::MeterDrift => Some(Fault::MeterDrift {
            wh_per_h: spec.wh_per_h.unwrap_or(0.0),
        }),
        Action::CanSilence => wire(WireFault::Silence { from, pgn }),
        Action::CanDrop => wire(WireFault::Drop { from, pgn, ratio }),
        Action::CanDelay => wire(WireFault::Delay {
            from,
            pgn,
            delay: Duration::from_secs_f64(spec.delay_ms.unwrap_or(0.0) / 1000.0),
        }),
        Action::CanCorrupt => wire(WireFault::Corrupt {
            from,
            pgn,
            byte: 0,
            xor: 0xFF,
            ratio,
        }),
        _ => None,
    }
}
