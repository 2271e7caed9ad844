//! [`FleetDriver`]: runs [`ChargerClient`]s over an [`MqttFleet`] in real time.
//!
//! One loop owns every charger: it takes the transport's batch of events, feeds them to the
//! chargers (`handle_connected`, `handle_publish`, ...), fires due timers from one
//! [`Scheduler`] keyed by charger (so a thousand idle chargers cost nothing), drains each
//! touched charger's outputs into rumqttc, and sleeps until the next deadline or the next
//! batch. Virtual time is the wall clock ([`RealClock`]). A publish rumqttc cannot take now
//! (request channel full) waits in the charger's backlog and is retried, never dropped.

use std::collections::VecDeque;

use proto::mqtt::topic::{Direction, QoS, Topic, TopicClass};
use rumqttc::SubscribeFilter;
use sim_core::metrics::Metrics;
use sim_core::mqtt::autopilot::Pilot;
use sim_core::mqtt::charger::{ChargerClient, ClientEvent, Outbound, TransportCommand};
use sim_core::mqtt::metrics::{ErrorKind, MqttMetricIds, Side};
use sim_core::sched::{EntityKind, Key, Scheduler};
use sim_core::time::Instant;

use super::{MqttFleet, RealClock, TransportEvent};

/// Counters of the driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// APDUs handed to rumqttc.
    pub published: u64,
    /// Hand-offs refused because rumqttc's request channel was full (retried later).
    pub publish_retries: u64,
    /// APDUs delivered to chargers.
    pub delivered: u64,
    /// Publishes on a topic that is not a charger's downlink.
    pub foreign: u64,
}

/// Which of its topics a connection has subscribed to since it connected.
#[derive(Debug, Clone, Copy, Default)]
struct Subs {
    registration: bool,
    device: bool,
}

/// Drives chargers over real MQTT connections. See the module documentation.
pub struct FleetDriver {
    fleet: MqttFleet,
    clients: Vec<ChargerClient>,
    pilot: Option<Pilot>,
    sched: Scheduler,
    clock: RealClock,
    metrics: Metrics,
    ids: MqttMetricIds,
    backlog: Vec<VecDeque<Outbound>>,
    subs: Vec<Subs>,
    batch: Vec<TransportEvent>,
    dirty: Vec<usize>,
    is_dirty: Vec<bool>,
    stats: DriverStats,
    events: Vec<(usize, Instant, ClientEvent)>,
    keep_events: bool,
}

impl std::fmt::Debug for FleetDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetDriver")
            .field("chargers", &self.clients.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl FleetDriver {
    /// Drives `clients` (charger `i` on connection `i` of `fleet`), with an optional pilot
    /// playing the connectors. `keep_events` records every client event (tests).
    pub fn new(
        fleet: MqttFleet,
        clients: Vec<ChargerClient>,
        pilot: Option<Pilot>,
        clock: RealClock,
        keep_events: bool,
    ) -> Self {
        let n = clients.len();
        let mut metrics = Metrics::new();
        let ids = MqttMetricIds::register(&mut metrics);
        FleetDriver {
            fleet,
            clients,
            pilot,
            sched: Scheduler::with_capacity(n * 2),
            clock,
            metrics,
            ids,
            backlog: vec![VecDeque::new(); n],
            subs: vec![Subs::default(); n],
            batch: Vec::new(),
            dirty: (0..n).rev().collect(),
            is_dirty: vec![true; n],
            stats: DriverStats::default(),
            events: Vec::new(),
            keep_events,
        }
    }

    /// Charger `i`.
    pub fn client(&self, i: usize) -> &ChargerClient {
        &self.clients[i]
    }

    /// Every charger.
    pub fn clients(&self) -> &[ChargerClient] {
        &self.clients
    }

    /// The pilot, if any.
    pub fn pilot(&self) -> Option<&Pilot> {
        self.pilot.as_ref()
    }

    /// The run's metrics (charger side).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Driver counters.
    pub fn stats(&self) -> DriverStats {
        self.stats
    }

    /// The transport's counters.
    pub fn transport_stats(&self) -> super::TransportStats {
        self.fleet.stats()
    }

    /// The events kept so far (with `keep_events`).
    pub fn events(&self) -> &[(usize, Instant, ClientEvent)] {
        &self.events
    }

    /// Calls `f` on charger `i` now (an application input), then sends its outputs.
    pub fn with_charger<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut ChargerClient, Instant) -> R,
    ) -> R {
        let now = self.clock.now();
        let r = f(&mut self.clients[i], now);
        self.mark(i);
        self.flush(now);
        r
    }

    /// Runs for `d` of wall-clock time.
    pub async fn run_for(&mut self, d: std::time::Duration) {
        let until = self.clock.now() + sim_core::time::Duration::from_std(d);
        self.run_until(until, |_| false).await;
    }

    /// Runs until `done` holds (checked after every step) or virtual time `until`; returns
    /// whether `done` held.
    pub async fn run_until(&mut self, until: Instant, mut done: impl FnMut(&Self) -> bool) -> bool {
        loop {
            let now = self.clock.now();
            self.step(now);
            if done(self) {
                return true;
            }
            if now >= until {
                return false;
            }
            let next = self.sched.peek().map_or(until, |(at, _)| at.min(until));
            // Retry a backlog soon, without spinning.
            let next = if self.backlog.iter().any(|b| !b.is_empty()) {
                next.min(now + sim_core::time::Duration::from_millis(5))
            } else {
                next
            };
            tokio::select! {
                () = self.fleet.wait() => {}
                () = tokio::time::sleep_until(self.clock.deadline(next)) => {}
            }
        }
    }

    /// One pass: transport events, due timers, outputs.
    fn step(&mut self, now: Instant) {
        let hold = self.fleet.batch();
        let mut batch = std::mem::take(&mut self.batch);
        self.fleet.drain(&mut batch);
        for event in batch.drain(..) {
            self.on_transport(now, event);
        }
        self.batch = batch;
        while let Some((_, key)) = self.sched.pop_due(now) {
            let i = key.index as usize;
            match key.kind {
                EntityKind::Charger => self.clients[i].handle_timeout(now),
                EntityKind::Sampler => {
                    if let Some(p) = &mut self.pilot {
                        p.tick(i, now, &mut self.clients[i]);
                    }
                }
                _ => {}
            }
            self.mark(i);
        }
        for i in 0..self.backlog.len() {
            if !self.backlog[i].is_empty() {
                self.send_backlog(i, now);
            }
        }
        self.flush(now);
        drop(hold);
    }

    fn on_transport(&mut self, now: Instant, event: TransportEvent) {
        match event {
            TransportEvent::Connected { conn, .. } => {
                self.subs[conn] = Subs::default();
                self.subscribe(conn);
                self.clients[conn].handle_connected(now);
                self.mark(conn);
            }
            TransportEvent::ConnectFailed { conn, .. } => {
                self.clients[conn].handle_connect_failed(now);
                self.mark(conn);
            }
            TransportEvent::Disconnected { conn, .. } => {
                self.subs[conn] = Subs::default();
                self.clients[conn].handle_disconnected(now);
                self.mark(conn);
            }
            TransportEvent::Publish { conn, publish } => {
                let class = match Topic::parse(&publish.topic) {
                    Ok(t) if t.direction == Direction::Down => t.class,
                    _ => {
                        self.stats.foreign += 1;
                        return;
                    }
                };
                self.stats.delivered += 1;
                self.clients[conn].handle_publish(now, class, &publish.payload);
                self.mark(conn);
            }
        }
    }

    /// Subscribes connection `i` to its registration topic and, once it has a device id, its
    /// command and telemetry topics (before anything is published on them).
    fn subscribe(&mut self, i: usize) {
        let c = &self.clients[i];
        let mut filters = Vec::new();
        if !self.subs[i].registration {
            let serial = c.topic_id(TopicClass::Registration).unwrap_or_default();
            filters.push(SubscribeFilter::new(
                format!("/D/R/{serial}"),
                rumqttc::QoS::ExactlyOnce,
            ));
        }
        if let (false, Some(id)) = (self.subs[i].device, c.topic_id(TopicClass::Command)) {
            filters.push(SubscribeFilter::new(
                format!("/D/C/{id}"),
                rumqttc::QoS::ExactlyOnce,
            ));
            filters.push(SubscribeFilter::new(
                format!("/D/M/{id}"),
                rumqttc::QoS::AtMostOnce,
            ));
        }
        if filters.is_empty() {
            return;
        }
        let device = filters.len() > 1 || self.subs[i].registration;
        if self.fleet.subscribe(i, filters).is_ok() {
            self.subs[i].registration = true;
            self.subs[i].device |= device;
        }
    }

    fn mark(&mut self, i: usize) {
        if !self.is_dirty[i] {
            self.is_dirty[i] = true;
            self.dirty.push(i);
        }
    }

    fn flush(&mut self, now: Instant) {
        let _batch = self.fleet.batch();
        while let Some(i) = self.dirty.pop() {
            self.is_dirty[i] = false;
            self.drain_client(i, now);
        }
    }

    fn drain_client(&mut self, i: usize, now: Instant) {
        loop {
            let mut moved = false;
            while let Some(out) = self.clients[i].poll_publish() {
                moved = true;
                self.backlog[i].push_back(out);
            }
            self.send_backlog(i, now);
            while let Some(cmd) = self.clients[i].poll_transport() {
                moved = true;
                match cmd {
                    TransportCommand::Connect => self.fleet.connect(i),
                    TransportCommand::Disconnect => self.fleet.disconnect(i),
                }
            }
            while let Some(event) = self.clients[i].poll_event() {
                moved = true;
                if let Some(p) = &mut self.pilot {
                    p.react(i, now, &event, &mut self.clients[i]);
                }
                if self.keep_events {
                    self.events.push((i, now, event));
                }
            }
            if !moved {
                break;
            }
        }
        self.clients[i].drain_metrics(&self.ids, &mut self.metrics);
        let charger = Key {
            kind: EntityKind::Charger,
            index: i as u32,
        };
        self.sched.arm(charger, self.clients[i].poll_timeout());
        let sampler = Key {
            kind: EntityKind::Sampler,
            index: i as u32,
        };
        let pilot_next = self.pilot.as_ref().and_then(|p| p.next_deadline(i));
        self.sched.arm(sampler, pilot_next);
    }

    /// Hands charger `i`'s queued APDUs to rumqttc, in order, until one is refused.
    fn send_backlog(&mut self, i: usize, now: Instant) {
        while let Some(out) = self.backlog[i].pop_front() {
            if out.class != TopicClass::Registration && !self.subs[i].device {
                self.subscribe(i);
            }
            let Some(id) = self.clients[i].topic_id(out.class) else {
                // A command before registration cannot be addressed; the charger never does it.
                continue;
            };
            let topic = format!("/U/{}/{id}", out.class.letter());
            let (class, wire_qos, seq, code) = (out.class, out.qos, out.seq, out.code);
            let qos = match out.qos {
                QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
                QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
            };
            match self.fleet.publish(i, topic, qos, out.payload) {
                Ok(()) => self.stats.published += 1,
                Err(refused) if refused.payload.is_empty() => {
                    let id = self.ids.error_id(Side::Charger, ErrorKind::PublishFailure);
                    self.metrics.count_error(id, now, &refused.error);
                }
                Err(refused) => {
                    self.stats.publish_retries += 1;
                    self.backlog[i].push_front(Outbound {
                        class,
                        qos: wire_qos,
                        seq,
                        code,
                        payload: refused.payload,
                    });
                    return;
                }
            }
        }
    }
}
