//! The session logic of every connector: arrivals, the start, the GB/T 27930 link or the
//! direct coupling, physics ticks, stops and unplugging.

use super::{Connector, EntityKind, KEPT_SAMPLES, Key, Phase, World, earliest, round2};
use crate::fleet::events::{FleetEvent, GbtEvent, StopReason};
use crate::fleet::gbt_link::{GbtLink, HANDSHAKE_LIMIT, LinkOutcome, MAX_OUTCOMES};
use crate::fleet::plant::{Ev, MAX_CONNECTORS, SessionSlot, TickResult};
use crate::fleet::traffic::Arrival;
use crate::gbt::charger::ChargerStopCause;
use crate::rng::{self, Domain};
use crate::time::{Duration, Instant};
use crate::trace::Entity;
use profiles::ChargerKind;
use rand::RngExt;

/// The scheduler's entities other than chargers and the sampler: a link never runs ahead
/// past their next event, since any of them may look at or change a connector. (The
/// sampler only reads session energies; a charger running past a sample keeps its
/// energies at the sample's time for it.)
const BARRIERS: [Key; 4] = [
    Key {
        kind: EntityKind::Timeline,
        index: 0,
    },
    Key {
        kind: EntityKind::Network,
        index: 0,
    },
    Key {
        kind: EntityKind::Server,
        index: 0,
    },
    Key {
        kind: EntityKind::Server,
        index: 1,
    },
];

impl World {
    pub(super) fn start_connectors(&mut self, occupancy: f64) {
        for ci in 0..self.connectors.len() {
            let c = &mut self.connectors[ci];
            let occupied = occupancy > 0.0 && c.rng.random::<f64>() < occupancy;
            if occupied {
                self.arrive(ci, Instant::ZERO);
            } else {
                let traffic = &self.groups[c.group].traffic;
                let next = traffic.next_arrival(Instant::ZERO, &self.clock, &mut c.rng);
                c.phase = Phase::Idle { next_arrival: next };
            }
        }
        for k in 0..self.chargers.len() {
            if self.mqtt.is_some() {
                self.flush_client(k);
            }
            self.rearm(k);
        }
        self.arm_mqtt();
        if self.http.is_some() {
            for ci in 0..self.connectors.len() {
                self.http_status(ci);
            }
            self.wake_http();
        }
        self.sched
            .arm(super::SAMPLER, Some(self.sampler.deadline()));
    }

    fn key(k: usize) -> Key {
        Key {
            kind: EntityKind::Charger,
            index: k as u32,
        }
    }

    /// Re-reads the link deadlines of charger `k`'s connectors (anything may have changed
    /// them), then re-arms it.
    pub(super) fn rearm(&mut self, k: usize) {
        for ci in self.chargers[k].connectors.clone() {
            self.sync_link(ci);
        }
        self.rearm_cached(k);
    }

    /// Copies connector `ci`'s link deadline into the dense table; called after every
    /// change to the link.
    fn sync_link(&mut self, ci: usize) {
        let due = self.connectors[ci]
            .link
            .as_ref()
            .and_then(|l| l.poll_timeout());
        self.link_due[ci] = due.unwrap_or(Instant::FAR_FUTURE);
    }

    /// Re-arms charger `k` from the cached link deadlines.
    fn rearm_cached(&mut self, k: usize) {
        let charger = &self.chargers[k];
        let mut deadline = charger.next_tick;
        if let Some(m) = &self.mqtt {
            deadline = earliest(deadline, m.deadline(k));
        }
        for ci in charger.connectors.clone() {
            deadline = earliest(deadline, self.connectors[ci].phase.deadline());
            let due = self.link_due[ci];
            deadline = earliest(deadline, (due != Instant::FAR_FUTURE).then_some(due));
        }
        // Nothing may be scheduled in the past: a deadline already passed runs now.
        let deadline = deadline.map(|d| d.max(self.now));
        self.sched.arm(Self::key(k), deadline);
    }

    pub(super) fn wake_charger(&mut self, k: usize) {
        let now = self.now;
        self.wake_client(k);
        if self.mqtt.is_some() {
            // The MQTT client may have stopped a session through its link.
            for ci in self.chargers[k].connectors.clone() {
                self.sync_link(ci);
            }
        }
        if self.chargers[k].next_tick.is_some_and(|t| t <= now) {
            self.physics_tick(k);
        }
        for ci in self.chargers[k].connectors.clone() {
            self.step_link(ci, k);
            // A transition may create a deadline that is already due (zero delays);
            // bounded, because every phase has a positive or absent next deadline.
            for _ in 0..8 {
                match self.connectors[ci].phase.deadline() {
                    Some(d) if d <= now => {
                        self.advance(ci, k);
                        self.sync_link(ci);
                    }
                    _ => break,
                }
            }
        }
        self.run_charger_ahead(k);
        if self.mqtt.is_some() {
            self.flush_client(k);
            self.rearm(k);
        } else {
            self.rearm_cached(k);
        }
    }

    /// Steps the physics of every charging connector of charger `k`.
    fn physics_tick(&mut self, k: usize) {
        let now = self.now;
        let range = self.chargers[k].connectors.clone();
        let mut results: [Option<TickResult>; MAX_CONNECTORS] = [None; MAX_CONNECTORS];
        {
            let charger = &mut self.chargers[k];
            let conns = &mut self.connectors[range.clone()];
            let mut sessions: [Option<SessionSlot<'_>>; MAX_CONNECTORS] = Default::default();
            for (slot, c) in sessions.iter_mut().zip(conns.iter_mut()) {
                if let Phase::Charging { ev, .. } = &mut c.phase {
                    *slot = Some(SessionSlot {
                        setpoint: c.link.as_ref().map(|l| l.setpoint()),
                        plant: &mut c.plant,
                        ev: ev.as_mut(),
                    });
                }
            }
            // Only the charger's own slots (profiles allow at most MAX_CONNECTORS).
            let n = range.len().min(MAX_CONNECTORS);
            charger.plant.step(
                now,
                &mut sessions[..n],
                &mut results[..n],
                &mut self.checks.invariants,
            );
        }
        for (i, ci) in range.clone().enumerate() {
            let Some(tick) = results[i] else { continue };
            self.connectors[ci].last_tick =
                (tick.voltage_v, tick.current_a, tick.gun_temperature_c);
            if self.mqtt.is_some() {
                self.sample_to_mqtt(ci, &tick);
            }
            if self.http.is_some() {
                self.http_tick(ci);
            }
            let c = &mut self.connectors[ci];
            match (&mut c.link, &c.phase) {
                (Some(link), Phase::Charging { ev, .. }) => {
                    link.feed(now, ev, &tick);
                    self.sync_link(ci);
                }
                (None, _) => {
                    if let Some(stop) = tick.stop {
                        self.stop_charging(ci, stop.into());
                    }
                }
                (Some(_), _) => {}
            }
        }
        let any_charging = range
            .into_iter()
            .any(|ci| matches!(self.connectors[ci].phase, Phase::Charging { .. }));
        self.chargers[k].next_tick = any_charging.then(|| now + self.tick);
    }

    /// Runs connector `ci`'s GB/T link to `now` and acts on what it reports (first what a
    /// step run ahead to `now` reported). True if the link was due.
    fn step_link(&mut self, ci: usize, k: usize) -> bool {
        let now = self.now;
        if self.link_due[ci] > now {
            return false;
        }
        let mut outcomes = [None; MAX_OUTCOMES];
        let mut n = 0;
        let ahead;
        {
            let Connector {
                link, plant, phase, ..
            } = &mut self.connectors[ci];
            let Some(link) = link.as_mut() else {
                return false;
            };
            let ev = match phase {
                Phase::Starting { ev, .. }
                | Phase::Charging { ev, .. }
                | Phase::Finishing { ev, .. } => ev,
                _ => return false,
            };
            ahead = link.take_pending(now);
            if link.poll_timeout().is_some_and(|t| t <= now) {
                link.step(now, plant, ev, &mut |o| {
                    if n < MAX_OUTCOMES {
                        outcomes[n] = Some(o);
                        n += 1;
                    }
                });
            }
        }
        self.sync_link(ci);
        for outcome in ahead.into_iter().chain(outcomes).flatten() {
            self.handle_link_outcome(ci, k, outcome);
        }
        true
    }

    /// Runs charger `k` ahead of the scheduler: the wake-ups the scheduler would give it
    /// next (physics ticks and its links' own frames and timers), for as long as they
    /// can only touch this charger: up to the first phase deadline of its connectors,
    /// the next timeline, network or sampler event and the end of the current
    /// `run_until`, and only until a link reports an outcome (kept for its time, when the
    /// scheduler wakes the charger for it). See [`World::set_run_ahead`].
    fn run_charger_ahead(&mut self, k: usize) {
        if !self.run_ahead || self.mqtt.is_some() || self.http.is_some() || self.can_log.is_some() {
            return;
        }
        let mut until = if self.unobserved {
            self.end
        } else {
            self.run_limit.min(self.end)
        };
        for key in BARRIERS {
            if let Some(t) = self.sched.deadline(key) {
                until = until.min(t);
            }
        }
        if let Some(h) = self.run_ahead_horizon {
            until = until.min(self.now + h);
        }
        // The sampler reads session energies: a charger may run past KEPT_SAMPLES
        // samples, keeping its energies at their times, but not past the next.
        let sample_at = self.sampler.deadline();
        let interval = self.sampler.interval();
        until = until.min(sample_at + interval.saturating_mul(KEPT_SAMPLES as u64));
        // The next sample whose energies are not kept yet (none once all are).
        let mut next_sample = Some(sample_at);
        let mut kept_samples = 0;
        let range = self.chargers[k].connectors.clone();
        let mut ticks = true;
        for c in &self.connectors[range.clone()] {
            if let Some(t) = c.phase.deadline() {
                until = until.min(t);
            }
            // A session without a link stops through the world on a tick.
            ticks &= c.link.is_some() || !matches!(c.phase, Phase::Charging { .. });
            if c.link.as_ref().is_some_and(|l| l.has_pending()) {
                return;
            }
        }
        let woken_at = self.now;
        loop {
            let tick = self.chargers[k].next_tick;
            let mut next = tick.unwrap_or(Instant::FAR_FUTURE);
            if !ticks {
                until = until.min(next);
            }
            for ci in range.clone() {
                next = next.min(self.link_due[ci]);
            }
            if next >= until {
                break;
            }
            while let Some(sample) = next_sample.filter(|&s| next > s) {
                // A sample runs after every charger event at its time.
                for c in &mut self.connectors[range.clone()] {
                    let energy_wh = c.plant.session_energy_wh();
                    c.energy_at_samples.keep(sample_at, kept_samples, energy_wh);
                }
                kept_samples += 1;
                next_sample = (kept_samples < KEPT_SAMPLES).then(|| sample + interval);
            }
            // The wake-up at `next`, as `wake_charger` runs it with nothing else due.
            self.now = next;
            if tick.is_some_and(|t| t <= next) {
                self.physics_tick(k);
            }
            let mut kept = false;
            // A link stops just past the next sample, whose energies are kept first.
            let bound = next_sample.map_or(until, |s| until.min(s + Duration::from_micros(1)));
            for ci in range.clone() {
                if self.link_due[ci] <= next {
                    kept |= self.run_link_ahead(k, ci, next, bound);
                }
            }
            if kept {
                break;
            }
        }
        self.now = woken_at;
    }

    /// Steps link `ci` at `at`, then through its own next deadlines while each comes
    /// strictly before `bound` and charger `k`'s next physics tick, until a step keeps
    /// outcomes (true): the same steps as one turn of the run-ahead loop per deadline
    /// ([`GbtLink::run_ahead`]).
    ///
    /// Between two physics ticks the links of one charger touch nothing they share (each
    /// its own machines, segment, plant and vehicle; outcomes wait for the world), so
    /// each runs up to the tick on its own, without interleaving with the others: fewer
    /// turns of the loop in `run_charger_ahead`, and one link's state stays in cache
    /// while it runs. With no tick scheduled, a link's outcome (charging started) may
    /// schedule one, so the others stop at its deadline as well.
    fn run_link_ahead(&mut self, k: usize, ci: usize, at: Instant, bound: Instant) -> bool {
        let mut bound = bound;
        match self.chargers[k].next_tick {
            Some(tick) => bound = bound.min(tick),
            None => {
                for other in self.chargers[k].connectors.clone() {
                    if other != ci {
                        bound = bound.min(self.link_due[other]);
                    }
                }
            }
        }
        let Connector {
            link, plant, phase, ..
        } = &mut self.connectors[ci];
        let (
            Some(link),
            Phase::Starting { ev, .. } | Phase::Charging { ev, .. } | Phase::Finishing { ev, .. },
        ) = (link, phase)
        else {
            return false;
        };
        let kept = link.step_and_run_ahead(at, bound, plant, ev);
        self.sync_link(ci);
        kept
    }

    fn handle_link_outcome(&mut self, ci: usize, k: usize, outcome: LinkOutcome) {
        let now = self.now;
        let id = self.connectors[ci].global_id;
        match outcome {
            LinkOutcome::ChargingStarted => {
                if let Phase::Starting { .. } = self.connectors[ci].phase {
                    self.begin_charging(ci, k);
                }
            }
            LinkOutcome::Stopped(reason) => {
                let c = &mut self.connectors[ci];
                let reason = if std::mem::take(&mut c.refused) {
                    StopReason::Refused
                } else {
                    c.stop_reason.take().unwrap_or(reason)
                };
                match self.connectors[ci].phase {
                    Phase::Charging { .. } => self.stop_charging(ci, reason),
                    Phase::Starting { .. } => self.abort_session(ci, reason),
                    _ => {}
                }
            }
            LinkOutcome::Error { side, attempt } => {
                let (error, text) = match side {
                    "bem" => (self.ids.bem, "BMS sent BEM"),
                    _ => (self.ids.cem, "charger sent CEM"),
                };
                self.metrics.count_error(error, now, text);
                self.trace.record(
                    now,
                    Entity::Connector(id),
                    &GbtEvent::Error { side, attempt },
                );
            }
        }
    }

    /// Handles connector `ci`'s due phase deadline.
    fn advance(&mut self, ci: usize, k: usize) {
        let now = self.now;
        match std::mem::replace(&mut self.connectors[ci].phase, Phase::Moving) {
            Phase::Idle { .. } => self.arrive(ci, now),
            Phase::Plugged { ev, .. } => {
                if let Err(ev) = self.mqtt_start(ci, k, ev) {
                    self.start(ci, k, ev);
                }
            }
            Phase::Authorizing { ev, deadline } => {
                // Nobody answered: the driver gives up.
                self.connectors[ci].phase = Phase::Starting { ev, deadline };
                self.abort_session(ci, StopReason::Refused);
            }
            Phase::Starting { ev, deadline } => {
                self.connectors[ci].phase = Phase::Starting { ev, deadline };
                if self.connectors[ci].link.is_some() {
                    // The handshake never finished: a wedged session, not a timeout the
                    // machines know about.
                    self.abort_session(ci, StopReason::CommunicationLost);
                } else {
                    self.begin_charging(ci, k);
                }
            }
            Phase::Charging { ev, since, .. } => {
                // The driver's time is up.
                self.connectors[ci].phase = Phase::Charging {
                    ev,
                    since,
                    dwell_end: None,
                };
                match self.connectors[ci].link.as_mut() {
                    Some(link) => link.request_stop(now, ChargerStopCause::Manual),
                    None => self.stop_charging(ci, StopReason::UserStopped),
                }
            }
            Phase::Finishing { ev, .. } => self.unplug(ci, &ev),
            Phase::Moving => {}
        }
    }

    /// The charger starts the session: a GB/T handshake for DC with CAN, else the direct
    /// start delay.
    pub(super) fn start(&mut self, ci: usize, k: usize, ev: Box<Ev>) {
        let now = self.now;
        let c = &mut self.connectors[ci];
        let group = &self.groups[c.group];
        let deadline = match (&self.chargers[k].gbt, group.kind) {
            (Some(side), ChargerKind::Dc) => {
                let version = group.vehicles[ev.arrival.vehicle].gbt_version;
                let seed = rng::derive(
                    self.seed,
                    Domain::CanSegment,
                    rng::session_key(c.global_id, c.sessions),
                );
                let mut link = Box::new(GbtLink::new(side, &ev, version, seed));
                if let Some(log) = &self.can_log
                    && log.wants(c.global_id)
                {
                    link.pair.segment.set_recording(true);
                }
                link.plug_in(now);
                c.link = Some(link);
                now + HANDSHAKE_LIMIT
            }
            _ => now + c.plant.start_delay(group.kind),
        };
        c.phase = Phase::Starting { ev, deadline };
    }

    fn begin_charging(&mut self, ci: usize, k: usize) {
        let now = self.now;
        let c = &mut self.connectors[ci];
        let Phase::Starting { mut ev, .. } = std::mem::replace(&mut c.phase, Phase::Moving) else {
            return;
        };
        if c.link.is_some() {
            c.plant.begin_accounting(now, &ev);
        } else {
            c.plant.begin_session(now, &mut ev);
        }
        let dwell_end = (ev.plugged_at + ev.arrival.dwell).max(now);
        let session = ev.session;
        c.phase = Phase::Charging {
            ev,
            since: now,
            dwell_end: Some(dwell_end),
        };
        self.meter_session_started(ci);
        let meter_wh = self.reported_meter_wh(ci);
        let c = &mut self.connectors[ci];
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
        if self.mqtt.is_some() {
            self.mqtt_begin_transaction(ci, meter_wh);
        }
        if self.http.is_some() {
            self.http_status(ci);
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
        let mut ev = Ev::new(vehicle, arrival, session, now, &mut vrng);
        if let Some(m) = &self.mqtt {
            ev.vin = m.vin(vrng.random());
        }
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
        if self.mqtt.is_some() {
            self.report_status(ci, proto::mqtt::pb::ConnectorStatus::Preparing);
        }
        if self.http.is_some() {
            self.http_status(ci);
        }
    }

    /// Ends connector `ci`'s charging for `reason`.
    pub(super) fn stop_charging(&mut self, ci: usize, reason: StopReason) {
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
        if c.meter.faulted_session {
            self.checks.energy_excluded += 1;
        } else if energy.meter_wh > 100.0 {
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
        let meter_wh = self.reported_meter_wh(ci);
        let reported_wh = self.reported_session_wh(ci, energy.meter_wh);
        self.timeline_energy(ci, energy.meter_wh, reported_wh);
        self.timeline_stop(ci, reason, false);
        if self.mqtt.is_some() {
            self.mqtt_end_transaction(ci, meter_wh, reason);
        }
        if self.http.is_some() {
            self.http_session_end(ci, reason, reported_wh / 1000.0);
        }
    }

    /// The session ended before energy flowed (refused, handshake failed).
    pub(super) fn abort_session(&mut self, ci: usize, reason: StopReason) {
        let now = self.now;
        let c = &mut self.connectors[ci];
        let Phase::Starting { ev, .. } = std::mem::replace(&mut c.phase, Phase::Moving) else {
            return;
        };
        self.metrics.sessions.failed += 1;
        self.trace.record(
            now,
            Entity::Connector(c.global_id),
            &FleetEvent::SessionAborted {
                session: ev.session,
                reason,
            },
        );
        let unplug_at = now + ev.arrival.stop_to_unplug;
        c.phase = Phase::Finishing { ev, unplug_at };
        self.timeline_stop(ci, reason, true);
        if self.mqtt.is_some() {
            self.report_status(ci, proto::mqtt::pb::ConnectorStatus::Finishing);
        }
        if self.http.is_some() {
            self.http_status(ci);
        }
    }

    /// The driver unplugs and leaves; the next arrival is drawn.
    fn unplug(&mut self, ci: usize, ev: &Ev) {
        let now = self.now;
        if let Some(mut link) = self.connectors[ci].link.take() {
            link.unplug(now);
            self.can_log_end(self.connectors[ci].global_id, &mut link);
            self.account_link(&link);
        }
        let c = &mut self.connectors[ci];
        c.plant.end_session(now);
        let next = self.groups[c.group]
            .traffic
            .next_arrival(now, &self.clock, &mut c.rng);
        c.phase = Phase::Idle { next_arrival: next };
        let id = c.global_id;
        c.token = None;
        c.auth_pending = false;
        c.refused = false;
        c.stop_reason = None;
        self.trace.record(
            now,
            Entity::Connector(id),
            &FleetEvent::Unplugged {
                session: ev.session,
            },
        );
        if self.mqtt.is_some() {
            self.report_status(ci, proto::mqtt::pb::ConnectorStatus::Available);
        }
        if self.http.is_some() {
            self.http_status(ci);
        }
    }

    /// Passes a physics tick to the charger's MQTT client (samples; the DC BMS block every
    /// 10 s).
    fn sample_to_mqtt(&mut self, ci: usize, tick: &TickResult) {
        let now = self.now;
        let c = &self.connectors[ci];
        let Phase::Charging { ev, .. } = &c.phase else {
            return;
        };
        let sample = crate::mqtt::charger::Sample {
            voltage_v: tick.voltage_v,
            current_a: tick.current_a,
            power_w: tick.voltage_v * tick.current_a,
            energy_wh: self.reported_meter_wh(ci),
            soc_pct: Some(ev.soc_pct()),
            temperature_c: tick.gun_temperature_c,
            contactor_closed: tick.contactors_closed,
            remaining_s: ev
                .bms()
                .remaining_time_s(ev.pack(), ev.target_soc())
                .map(|s| s.clamp(0.0, 86_400.0) as u32),
        };
        let info = match &c.link {
            Some(link) if now >= c.bms_info_at => {
                Some(crate::fleet::gbt_pb::dc_charging_info(link, now))
            }
            _ => None,
        };
        self.mqtt_sample(ci, sample);
        if let Some(info) = info {
            self.connectors[ci].bms_info_at = now + crate::time::Duration::from_secs(10);
            self.mqtt_bms_info(ci, info);
        }
    }
}
