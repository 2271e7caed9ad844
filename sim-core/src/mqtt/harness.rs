//! [`SimHarness`]: chargers, the reference backend and a [`SimBroker`] wired together on
//! virtual time, with an optional [`AutoPilot`] playing the connectors (constant-power
//! sessions, see [`crate::mqtt::autopilot`]). It is what the protocol tests and protocol-level load runs use, and the
//! reference for the fleet engine's own wiring:
//!
//! 1. due broker deliveries go to `Backend::handle_publish` (up) or
//!    `ChargerClient::handle_publish` (down); dropped links go to `handle_disconnected`;
//! 2. due timers fire (`handle_timeout`);
//! 3. every touched charger is drained: `poll_publish` → `SimBroker::send`, `poll_transport`
//!    → `SimBroker::connect`/`disconnect` → `handle_connected`/`handle_connect_failed`/
//!    `handle_disconnected`, `poll_event` → the application; then the backend's
//!    `poll_publish` → `SimBroker::send` routed by topic id;
//! 4. every deadline is re-armed in one [`Scheduler`], so simultaneous events fire in a fixed
//!    order and a run is a pure function of its seed.

use std::collections::BTreeMap;
use std::sync::Arc;

use proto::mqtt::topic::{Direction, TopicClass};

use crate::metrics::Metrics;
pub use crate::mqtt::autopilot::AutoPilot;
use crate::mqtt::autopilot::Pilot;
use crate::mqtt::backend::{Backend, BackendConfig, BackendEvent, BackendFaults};
use crate::mqtt::charger::{
    ChargerClient, ChargerIdentity, ClientConfig, ClientEvent, TransportCommand,
};
use crate::mqtt::metrics::MqttMetricIds;
use crate::mqtt::simnet::{LinkId, SimBroker, SimBrokerConfig};
use crate::rng::{Domain, derive};
use crate::sched::{EntityKind, Key, Scheduler};
use crate::time::{Duration, Instant};

/// Everything a harness is built from.
#[derive(Debug, Clone)]
pub struct HarnessConfig {
    /// One entry per charger (link `i` is charger `i`).
    pub chargers: Vec<(ChargerIdentity, ClientConfig)>,
    /// The backend.
    pub backend: BackendConfig,
    /// Backend faults.
    pub faults: BackendFaults,
    /// The broker and links.
    pub broker: SimBrokerConfig,
    /// The root seed.
    pub seed: u64,
    /// The connector model, if any.
    pub autopilot: Option<AutoPilot>,
    /// Keep every client and backend event (tests); off for large runs.
    pub keep_events: bool,
}

/// The wired simulation. See the module documentation.
#[derive(Debug)]
pub struct SimHarness {
    now: Instant,
    /// The broker (faults: `restart`, `cut`, link models).
    pub broker: SimBroker,
    backend: Backend,
    chargers: Vec<ChargerClient>,
    sched: Scheduler,
    dirty: Vec<usize>,
    is_dirty: Vec<bool>,
    routes: BTreeMap<Arc<str>, LinkId>,
    keep_events: bool,
    client_events: Vec<(usize, Instant, ClientEvent)>,
    backend_events: Vec<(Instant, BackendEvent)>,
    metrics: Metrics,
    ids: MqttMetricIds,
    pilot: Option<Pilot>,
    unroutable: u64,
}

const NETWORK: Key = Key {
    kind: EntityKind::Network,
    index: 0,
};
const SERVER: Key = Key {
    kind: EntityKind::Server,
    index: 0,
};

impl SimHarness {
    /// Builds the harness; chargers connect at time zero.
    pub fn new(config: HarnessConfig) -> Self {
        let n = config.chargers.len();
        let mut metrics = Metrics::new();
        let ids = MqttMetricIds::register(&mut metrics);
        let backend_seed = derive(config.seed, Domain::Backend, 0);
        let chargers: Vec<ChargerClient> = config
            .chargers
            .into_iter()
            .enumerate()
            .map(|(i, (identity, cfg))| {
                ChargerClient::new(
                    identity,
                    cfg,
                    derive(config.seed, Domain::Protocol, i as u64),
                )
            })
            .collect();
        let pilot = config
            .autopilot
            .map(|auto| Pilot::new(auto, chargers.iter().map(|c| c.identity().connectors)));
        let mut h = SimHarness {
            now: Instant::ZERO,
            broker: SimBroker::new(config.broker, n, config.seed),
            backend: Backend::new(config.backend, config.faults, backend_seed),
            chargers,
            sched: Scheduler::with_capacity(n * 2 + 4),
            dirty: (0..n).rev().collect(),
            is_dirty: vec![true; n],
            routes: BTreeMap::new(),
            keep_events: config.keep_events,
            client_events: Vec::new(),
            backend_events: Vec::new(),
            metrics,
            ids,
            pilot,
            unroutable: 0,
        };
        h.flush();
        h
    }

    /// Virtual time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Charger `i`.
    pub fn charger(&self, i: usize) -> &ChargerClient {
        &self.chargers[i]
    }

    /// Number of chargers.
    pub fn len(&self) -> usize {
        self.chargers.len()
    }

    /// Whether there are no chargers.
    pub fn is_empty(&self) -> bool {
        self.chargers.is_empty()
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The run's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Backend downlinks whose charger id matched no charger.
    pub fn unroutable(&self) -> u64 {
        self.unroutable
    }

    /// Charger `i`'s device id.
    pub fn device_id(&self, i: usize) -> Option<String> {
        self.chargers[i].identity().device_id.clone()
    }

    /// Every event charger `i` emitted so far (with `keep_events`).
    pub fn client_events(&self, i: usize) -> impl Iterator<Item = &ClientEvent> {
        self.client_events
            .iter()
            .filter(move |(c, _, _)| *c == i)
            .map(|(_, _, e)| e)
    }

    /// Every backend event so far (with `keep_events`).
    pub fn backend_events(&self) -> impl Iterator<Item = &BackendEvent> {
        self.backend_events.iter().map(|(_, e)| e)
    }

    /// Calls `f` on charger `i` at the current time (an application input), then delivers
    /// its outputs.
    pub fn with_charger<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut ChargerClient, Instant) -> R,
    ) -> R {
        let r = f(&mut self.chargers[i], self.now);
        self.mark(i);
        self.flush();
        r
    }

    /// Calls `f` on the backend at the current time (a command), then delivers its outputs.
    pub fn with_backend<R>(&mut self, f: impl FnOnce(&mut Backend, Instant) -> R) -> R {
        let r = f(&mut self.backend, self.now);
        self.flush();
        r
    }

    /// Kills the broker and restarts it without persistence after `downtime`.
    pub fn restart_broker(&mut self, downtime: Duration) {
        self.broker.restart(self.now, downtime);
        self.deliver();
        self.flush();
    }

    /// Cuts charger `i`'s link (in-flight messages lost).
    pub fn cut_link(&mut self, i: usize) {
        self.broker.cut(self.now, i as LinkId);
        self.deliver();
        self.flush();
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Runs every event up to and including `until`.
    pub fn run_until(&mut self, until: Instant) {
        while let Some((at, key)) = self.sched.pop_due(until) {
            self.now = self.now.max(at);
            match key.kind {
                EntityKind::Network => self.deliver(),
                EntityKind::Server => self.backend.handle_timeout(self.now),
                EntityKind::Charger => {
                    let i = key.index as usize;
                    self.chargers[i].handle_timeout(self.now);
                    self.mark(i);
                }
                EntityKind::Sampler => self.auto_tick(key.index as usize),
                EntityKind::Timeline => {}
            }
            self.flush();
        }
        self.now = self.now.max(until);
    }

    fn mark(&mut self, i: usize) {
        if !self.is_dirty[i] {
            self.is_dirty[i] = true;
            self.dirty.push(i);
        }
    }

    /// Hands every due delivery and dropped link to its destination.
    fn deliver(&mut self) {
        let now = self.now;
        while let Some(down) = self.broker.poll_link_down() {
            let i = down.link as usize;
            self.chargers[i].handle_disconnected(now);
            if let Some(id) = self.chargers[i].topic_id(TopicClass::Command) {
                self.backend.set_charger_online(now, id, false);
            }
            self.mark(i);
        }
        while let Some(d) = self.broker.poll_delivery(now) {
            let i = d.link as usize;
            match d.direction {
                Direction::Up => {
                    let (chargers, backend) = (&self.chargers, &mut self.backend);
                    if let Some(id) = chargers[i].topic_id(d.class) {
                        backend.handle_publish(now, id, d.class, &d.payload);
                    }
                    backend.recycle(d.payload);
                }
                Direction::Down => {
                    self.chargers[i].handle_publish(now, d.class, &d.payload);
                    self.chargers[i].recycle(d.payload);
                    self.mark(i);
                }
            }
        }
    }

    /// Drains every output until nothing moves, then re-arms every deadline.
    fn flush(&mut self) {
        loop {
            let mut progress = false;
            while let Some(i) = self.dirty.pop() {
                self.is_dirty[i] = false;
                self.drain_charger(i);
                progress = true;
            }
            progress |= self.drain_backend();
            if !progress {
                break;
            }
        }
        self.sched.arm(NETWORK, self.broker.poll_timeout());
        self.sched.arm(SERVER, self.backend.poll_timeout());
    }

    fn drain_charger(&mut self, i: usize) {
        let now = self.now;
        let link = i as LinkId;
        loop {
            let mut moved = false;
            while let Some(out) = self.chargers[i].poll_publish() {
                self.broker
                    .send(now, link, Direction::Up, out.class, out.payload);
                moved = true;
            }
            while let Some(cmd) = self.chargers[i].poll_transport() {
                moved = true;
                match cmd {
                    TransportCommand::Connect => match self.broker.connect(now, link) {
                        Ok(()) => self.chargers[i].handle_connected(now),
                        Err(_) => self.chargers[i].handle_connect_failed(now),
                    },
                    TransportCommand::Disconnect => {
                        self.broker.disconnect(link);
                        self.chargers[i].handle_disconnected(now);
                        if let Some(id) = self.chargers[i].topic_id(TopicClass::Command) {
                            self.backend.set_charger_online(now, id, false);
                        }
                    }
                }
            }
            while let Some(event) = self.chargers[i].poll_event() {
                moved = true;
                self.react(i, &event);
                if self.keep_events {
                    self.client_events.push((i, now, event));
                }
            }
            if !moved {
                break;
            }
        }
        self.chargers[i].drain_metrics(&self.ids, &mut self.metrics);
        let key = Key {
            kind: EntityKind::Charger,
            index: i as u32,
        };
        self.sched.arm(key, self.chargers[i].poll_timeout());
        self.arm_auto(i);
    }

    fn drain_backend(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        while let Some(d) = self.backend.poll_publish() {
            moved = true;
            match self.route(&d.charger_id) {
                Some(link) => {
                    self.broker
                        .send(now, link, Direction::Down, d.class, d.payload);
                }
                None => self.unroutable += 1,
            }
        }
        while let Some(event) = self.backend.poll_event() {
            if self.keep_events {
                self.backend_events.push((now, event));
            }
        }
        self.backend.drain_metrics(&self.ids, &mut self.metrics);
        moved
    }

    fn route(&mut self, id: &Arc<str>) -> Option<LinkId> {
        if let Some(&link) = self.routes.get(id) {
            return Some(link);
        }
        let found = self.chargers.iter().position(|c| {
            c.topic_id(TopicClass::Registration) == Some(&**id)
                || c.topic_id(TopicClass::Command) == Some(&**id)
        })?;
        let link = found as LinkId;
        self.routes.insert(id.clone(), link);
        Some(link)
    }

    fn react(&mut self, i: usize, event: &ClientEvent) {
        if let Some(pilot) = &mut self.pilot {
            pilot.react(i, self.now, event, &mut self.chargers[i]);
        }
    }

    fn auto_tick(&mut self, i: usize) {
        if let Some(pilot) = &mut self.pilot {
            pilot.tick(i, self.now, &mut self.chargers[i]);
        }
        self.mark(i);
    }

    fn arm_auto(&mut self, i: usize) {
        let next = self.pilot.as_ref().and_then(|p| p.next_deadline(i));
        let key = Key {
            kind: EntityKind::Sampler,
            index: i as u32,
        };
        self.sched.arm(key, next);
    }
}
