//! The chargers' MQTT side: one [`ChargerClient`] per charger, either on the in-process
//! broker with the reference backend (deterministic, virtual time) or handed to the I/O
//! shell for a real broker. The glue between a charger's connectors and its client lives
//! here too: connector status, authorization, transactions, samples, remote commands.

use super::recent::RecentApdu;
use super::{Phase, World};
use crate::fleet::events::{MqttEvent, StopReason};
use crate::gbt::charger::ChargerStopCause;
use crate::metrics::{ErrorId, LatencyId};
use crate::mqtt::backend::{Backend, BackendConfig, BackendFaults};
use crate::mqtt::charger::{
    ChargerClient, ChargerIdentity, ClientConfig, ClientEvent, IdToken, RecordId, Sample,
    TransportCommand,
};
use crate::mqtt::clock::WallClock;
use crate::mqtt::metrics::MqttMetricIds;
use crate::mqtt::simnet::{LinkId, LinkModel, SimBroker, SimBrokerConfig};
use crate::mqtt::tariff::{EnergySegment, Tariff};
use crate::rng::{self, Domain};
use crate::sched::{EntityKind, Key};
use crate::time::{Duration, Instant};
use crate::trace::Entity;
use proto::mqtt::MessageCode;
use proto::mqtt::apdu::Apdu;
use proto::mqtt::pb;
use proto::mqtt::topic::{Direction, QoS, Topic, TopicClass};
use rand::RngExt;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How long a driver waits for an authorization or a remote start before giving up.
const AUTHORIZE_TIMEOUT: Duration = Duration::from_secs(90);

const NETWORK: Key = Key {
    kind: EntityKind::Network,
    index: 0,
};
const SERVER: Key = Key {
    kind: EntityKind::Server,
    index: 0,
};

/// What the I/O shell must do for the chargers on a real broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttOut {
    /// Open charger `charger`'s connection (its client id is its serial).
    Connect {
        /// Local charger index.
        charger: usize,
    },
    /// Close it.
    Disconnect {
        /// Local charger index.
        charger: usize,
    },
    /// Subscribe to the charger's downlink topics.
    Subscribe {
        /// Local charger index.
        charger: usize,
        /// Topic filters (`/D/R/<serial>`, `/D/C/<device id>`, `/D/M/<device id>`).
        topics: Vec<String>,
    },
    /// Publish an APDU.
    Publish {
        /// Local charger index.
        charger: usize,
        /// Full topic.
        topic: String,
        /// QoS 0 or 2.
        qos: QoS,
        /// The APDU.
        payload: Vec<u8>,
    },
}

enum Net {
    /// The in-process broker and the reference backend.
    Memory {
        broker: Box<SimBroker>,
        backend: Box<Backend>,
    },
    /// A real broker reached through the I/O shell.
    External { out: Vec<MqttOut> },
}

/// A connector's MQTT transaction.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tx {
    pub(super) record: RecordId,
}

/// The MQTT side of a world.
pub(super) struct MqttSide {
    clients: Vec<ChargerClient>,
    /// Global charger index of each local charger (link ids and seeds use it).
    global: Vec<u32>,
    /// When each charger may first connect (the connection ramp); `None` once it may.
    ramp_at: Vec<Option<Instant>>,
    /// A connect the client asked for before its ramp time.
    ramp_waiting: Vec<bool>,
    /// When each charger's pending real connection attempt was due (CONNECT → CONNACK
    /// latency is measured from it, so a slow ramp shows up, not only a slow broker).
    connect_due: Vec<Option<Instant>>,
    /// The `mqtt.CONNECT` latency series (real transports only: in memory it is instant).
    connect_latency: LatencyId,
    /// Each charger's last APDUs, for the connector view.
    pub(super) recent: Vec<super::recent::RecentApdus>,
    net: Net,
    ids: MqttMetricIds,
    routes: BTreeMap<Arc<str>, usize>,
    cards: Vec<String>,
    vins: Vec<String>,
    pub(super) invalid_card_ratio: f64,
    errors: MqttErrors,
    /// Transactions confirmed by the backend.
    pub(super) confirmed: u64,
}

struct MqttErrors {
    client_api: ErrorId,
    unroutable: ErrorId,
}

/// Settings of the MQTT side taken from the scenario.
pub(super) struct MqttBuild<'a> {
    pub spec: &'a profiles::scenario::MqttSpec,
    pub clock: WallClock,
    pub memory: bool,
    pub total_chargers: u32,
}

impl MqttSide {
    pub(super) fn new(
        world: &mut World,
        build: &MqttBuild<'_>,
        identities: Vec<(u32, ChargerIdentity)>,
    ) -> Result<MqttSide, String> {
        let spec = build.spec;
        let seed = world.seed;
        let config = ClientConfig {
            clock: build.clock,
            response_timeout: Duration::from_secs(u64::from(spec.response_timeout_s)),
            heartbeat_interval: Duration::from_secs(u64::from(spec.heartbeat_interval_s)),
            telemetry_interval: telemetry_interval(spec),
            charging_info_interval: Duration::from_secs(u64::from(spec.charging_info_interval_s)),
            ..ClientConfig::default()
        };
        let ramp = spec.connect_ramp_per_s;
        let mut clients = Vec::with_capacity(identities.len());
        let mut global = Vec::with_capacity(identities.len());
        let mut ramp_at = Vec::with_capacity(identities.len());
        let mut routes = BTreeMap::new();
        for (local, (g, identity)) in identities.into_iter().enumerate() {
            routes.insert(Arc::<str>::from(identity.serial.as_str()), local);
            clients.push(ChargerClient::new(
                identity,
                config.clone(),
                rng::derive(seed, Domain::Protocol, u64::from(g)),
            ));
            global.push(g);
            ramp_at.push(
                (ramp > 0.0).then(|| Instant::ZERO + Duration::from_secs_f64(f64::from(g) / ramp)),
            );
        }
        let cards = driver_cards(seed, spec.cards);
        let vins = vehicle_vins(seed, spec.cards);
        let net = if build.memory {
            let link = LinkModel {
                latency: Duration::from_secs_f64(spec.latency_ms / 1000.0),
                jitter: Duration::from_secs_f64(spec.jitter_ms / 1000.0),
                qos0_loss: spec.qos0_loss_pct / 100.0,
                ..LinkModel::default()
            };
            let broker = SimBroker::new(
                SimBrokerConfig {
                    link,
                    persistent_sessions: false,
                },
                build.total_chargers as usize,
                seed,
            );
            let backend = reference_backend(spec, build.clock, seed)?;
            Net::Memory {
                broker: Box::new(broker),
                backend: Box::new(backend),
            }
        } else {
            Net::External { out: Vec::new() }
        };
        let ids = MqttMetricIds::register(&mut world.metrics);
        let errors = MqttErrors {
            client_api: world.metrics.error_id("mqtt.client_api"),
            unroutable: world.metrics.error_id("mqtt.unroutable"),
        };
        let connect_latency = world.metrics.latency_id("mqtt.CONNECT");
        Ok(MqttSide {
            ramp_waiting: vec![false; clients.len()],
            connect_due: vec![None; clients.len()],
            recent: vec![super::recent::RecentApdus::default(); clients.len()],
            connect_latency,
            clients,
            global,
            ramp_at,
            net,
            ids,
            routes,
            cards,
            vins,
            invalid_card_ratio: spec.invalid_card_ratio,
            errors,
            confirmed: 0,
        })
    }

    /// Charger `k`'s next deadline (client timers and its ramp slot).
    pub(super) fn deadline(&self, k: usize) -> Option<Instant> {
        let client = self.clients[k].poll_timeout();
        let ramp = self.ramp_at[k].filter(|_| self.ramp_waiting[k]);
        match (client, ramp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether charger `k` is logged in (its connectors are not offline).
    pub(super) fn online(&self, k: usize) -> bool {
        self.clients[k].phase() == crate::mqtt::charger::Phase::Online
    }

    /// Charger `k`'s protocol client, for read-only views.
    pub(super) fn client(&self, k: usize) -> Option<&ChargerClient> {
        self.clients.get(k)
    }

    /// A VIN the backend knows, for a vehicle drawn with `u`.
    pub(super) fn vin(&self, u: f64) -> String {
        pick(&self.vins, u)
    }

    /// The reference backend, when it runs in-process.
    pub(super) fn backend(&self) -> Option<&Backend> {
        match &self.net {
            Net::Memory { backend, .. } => Some(backend),
            Net::External { .. } => None,
        }
    }

    /// The reference backend to act on, when it runs in-process.
    pub(super) fn backend_mut(&mut self) -> Option<&mut Backend> {
        match &mut self.net {
            Net::Memory { backend, .. } => Some(backend),
            Net::External { .. } => None,
        }
    }

    /// The in-process broker (its links carry the network faults at `--speed max`) and
    /// the global charger index of each local charger (its link id).
    pub(super) fn sim_broker_mut(&mut self) -> Option<(&mut SimBroker, &[u32])> {
        match &mut self.net {
            Net::Memory { broker, .. } => Some((broker, &self.global)),
            Net::External { .. } => None,
        }
    }

    /// Charger `k`'s heartbeat interval (its MQTT keep-alive on a real broker).
    pub(super) fn keep_alive(&self, k: usize) -> Option<Duration> {
        self.clients.get(k).map(|c| c.config().heartbeat_interval)
    }

    /// Charger `k`'s device id (its command topic id), once registered.
    pub(super) fn device_id(&self, k: usize) -> Option<String> {
        self.clients[k]
            .topic_id(TopicClass::Command)
            .map(str::to_owned)
    }
}

/// The ID cards of the drivers of a run with root `seed` (the reference backend knows them).
pub fn driver_cards(seed: u64, n: u32) -> Vec<String> {
    pool(seed, 0xCA4D, n, "C")
}

/// The VINs of the vehicles of a run with root `seed` (the reference backend knows them).
pub fn vehicle_vins(seed: u64, n: u32) -> Vec<String> {
    pool(seed, 0x0B17, n, "LSVCS")
}

/// The telemetry period of a scenario: `telemetry_interval_ms` when given, else
/// `telemetry_interval_s`.
pub fn telemetry_interval(spec: &profiles::scenario::MqttSpec) -> Duration {
    spec.telemetry_interval_ms.map_or_else(
        || Duration::from_secs(u64::from(spec.telemetry_interval_s)),
        |ms| Duration::from_millis(u64::from(ms)),
    )
}

/// The reference backend of a scenario: its registration code, the drivers' cards and
/// vehicles' VINs, the reference tariff and the configured faults.
pub fn reference_backend(
    spec: &profiles::scenario::MqttSpec,
    clock: WallClock,
    seed: u64,
) -> Result<Backend, String> {
    let mut backend = Backend::new(
        BackendConfig {
            clock,
            registration_codes: vec![spec.registration_code.clone()],
            tariff: Some(reference_tariff()),
            ..BackendConfig::default()
        },
        backend_faults(&spec.backend_faults)?,
        rng::derive(seed, Domain::Backend, 0),
    );
    for tag in driver_cards(seed, spec.cards)
        .iter()
        .chain(&vehicle_vins(seed, spec.cards))
    {
        backend.add_card(tag, pb::AuthorizationStatus::Accepted, 0);
    }
    backend.set_command_load(spec.command_rate_per_s);
    Ok(backend)
}

fn pool(seed: u64, salt: u64, n: u32, prefix: &str) -> Vec<String> {
    let mut rng = rng::stream(seed, Domain::Backend, salt);
    (0..n.max(1))
        .map(|_| {
            let x: u64 = rng.random_range(0..1_000_000_000_000);
            format!("{prefix}{x:012}")
        })
        .collect()
}

fn pick(pool: &[String], u: f64) -> String {
    let i = ((u * pool.len() as f64) as usize).min(pool.len().saturating_sub(1));
    pool.get(i).cloned().unwrap_or_default()
}

/// A time-of-use tariff like Shenzhen's: valley at night, peaks late morning and evening.
pub fn reference_tariff() -> Tariff {
    let seg = |start_h: u32, end_h: u32, tag: &str, elec: u32| EnergySegment {
        start_min: start_h * 60,
        end_min: end_h * 60,
        tag: tag.to_owned(),
        elec_milliyuan_per_kwh: elec,
        service_milliyuan_per_kwh: 800,
    };
    Tariff {
        id: 1,
        energy: vec![
            seg(0, 8, "valley", 300),
            seg(8, 10, "flat", 700),
            seg(10, 12, "peak", 1100),
            seg(12, 14, "flat", 700),
            seg(14, 19, "peak", 1100),
            seg(19, 21, "tip", 1300),
            seg(21, 24, "flat", 700),
        ],
        time: Vec::new(),
        occupancy: None,
    }
}

fn backend_faults(spec: &profiles::scenario::BackendFaultSpec) -> Result<BackendFaults, String> {
    let mut never_answer = Vec::new();
    for name in &spec.never_answer {
        let code = MessageCode::ALL
            .iter()
            .copied()
            .find(|c| c.name() == name)
            .ok_or_else(|| format!("mqtt.backend_faults.never_answer: unknown message {name:?}"))?;
        never_answer.push(code);
    }
    Ok(BackendFaults {
        response_delay: Duration::from_secs_f64(spec.response_delay_ms / 1000.0),
        response_jitter: Duration::from_secs_f64(spec.response_jitter_ms / 1000.0),
        reject_boot_ratio: spec.reject_boot_ratio,
        drop_response_ratio: spec.drop_response_ratio,
        malformed_ratio: spec.malformed_ratio,
        never_answer,
    })
}

/// The charger protocol's stop reason for a fleet stop reason.
pub(super) fn pb_stop_reason(reason: StopReason) -> pb::StopReason {
    match reason {
        StopReason::TargetSocReached => pb::StopReason::BmsSocTarget,
        StopReason::BatteryFull => pb::StopReason::Full,
        StopReason::UserStopped => pb::StopReason::Local,
        StopReason::RemoteStop => pb::StopReason::Remote,
        StopReason::RunEnded => pb::StopReason::Other,
        StopReason::InsulationFault => pb::StopReason::BmsInsulationFault,
        StopReason::OverTemperature => pb::StopReason::ChargerOverTemperature,
        StopReason::ChargerFault => pb::StopReason::ChargerFault,
        StopReason::BmsFault => pb::StopReason::BmsOtherFault,
        StopReason::CommunicationLost => pb::StopReason::Other,
        StopReason::Refused => pb::StopReason::DeAuthorized,
        StopReason::EmergencyStop => pb::StopReason::EmergencyStop,
        StopReason::Reset => pb::StopReason::HardReset,
    }
}

impl World {
    /// Arms the network and backend deadlines.
    pub(super) fn arm_mqtt(&mut self) {
        let Some(m) = &self.mqtt else { return };
        if let Net::Memory { broker, backend } = &m.net {
            self.sched.arm(NETWORK, broker.poll_timeout());
            self.sched.arm(SERVER, backend.poll_timeout());
        }
    }

    /// The in-process broker's deliveries and dropped links.
    pub(super) fn wake_network(&mut self) {
        let now = self.now;
        let Some(m) = self.mqtt.as_mut() else { return };
        let Net::Memory { broker, backend } = &mut m.net else {
            return;
        };
        let mut touched = Vec::new();
        broker.handle_timeout(now);
        while let Some(down) = broker.poll_link_down() {
            let Some(k) = local_of(&m.global, down.link) else {
                continue;
            };
            m.clients[k].handle_disconnected(now);
            if let Some(id) = m.clients[k].topic_id(TopicClass::Command) {
                backend.set_charger_online(now, id, false);
            }
            self.trace.record(
                now,
                Entity::Charger(m.global[k]),
                &MqttEvent::MqttLink { up: false },
            );
            touched.push(k);
        }
        while let Some(d) = broker.poll_delivery(now) {
            let Some(k) = local_of(&m.global, d.link) else {
                continue;
            };
            match d.direction {
                Direction::Up => {
                    if let Some(id) = m.clients[k].topic_id(d.class) {
                        backend.handle_publish(now, id, d.class, &d.payload);
                    }
                    backend.recycle(d.payload);
                }
                Direction::Down => {
                    let (code, seq) = apdu_head(&d.payload);
                    self.trace.record(
                        now,
                        Entity::Charger(m.global[k]),
                        &MqttEvent::MqttDown { code, seq },
                    );
                    m.recent[k].push(RecentApdu {
                        at: now,
                        code,
                        seq,
                        up: false,
                    });
                    m.clients[k].handle_publish(now, d.class, &d.payload);
                    m.clients[k].recycle(d.payload);
                    touched.push(k);
                }
            }
        }
        for k in touched {
            self.flush_client(k);
        }
        self.flush_backend();
    }

    /// The reference backend's timers.
    pub(super) fn wake_server(&mut self) {
        let now = self.now;
        if let Some(MqttSide {
            net: Net::Memory { backend, .. },
            ..
        }) = self.mqtt.as_mut()
        {
            backend.handle_timeout(now);
        }
        self.flush_backend();
    }

    /// Sends the backend's downlinks and drains its metrics.
    pub(super) fn flush_backend(&mut self) {
        let now = self.now;
        let Some(m) = self.mqtt.as_mut() else { return };
        let Net::Memory { broker, backend } = &mut m.net else {
            return;
        };
        while let Some(d) = backend.poll_publish() {
            match m.routes.get(&d.charger_id) {
                Some(&k) => {
                    broker.send(now, m.global[k], Direction::Down, d.class, d.payload);
                }
                None => self.metrics.count_error(
                    m.errors.unroutable,
                    now,
                    "backend downlink for an unknown charger",
                ),
            }
        }
        while backend.poll_event().is_some() {}
        backend.drain_metrics(&m.ids, &mut self.metrics);
        self.arm_mqtt();
    }

    /// Charger `k`'s client timers and ramp slot, at its wake.
    pub(super) fn wake_client(&mut self, k: usize) {
        let now = self.now;
        let Some(m) = self.mqtt.as_mut() else { return };
        if m.clients[k].poll_timeout().is_some_and(|t| t <= now) {
            m.clients[k].handle_timeout(now);
        }
        if m.ramp_at[k].is_some_and(|t| t <= now) {
            m.ramp_at[k] = None;
            if std::mem::take(&mut m.ramp_waiting[k]) {
                self.transport_connect(k);
            }
        }
    }

    fn transport_connect(&mut self, k: usize) {
        let now = self.now;
        let Some(m) = self.mqtt.as_mut() else { return };
        if m.ramp_at[k].is_some() {
            m.ramp_waiting[k] = true;
            return;
        }
        match &mut m.net {
            Net::Memory { broker, .. } => match broker.connect(now, m.global[k]) {
                Ok(()) => {
                    m.clients[k].handle_connected(now);
                    self.trace.record(
                        now,
                        Entity::Charger(m.global[k]),
                        &MqttEvent::MqttLink { up: true },
                    );
                }
                Err(_) => m.clients[k].handle_connect_failed(now),
            },
            Net::External { out } => {
                out.push(MqttOut::Connect { charger: k });
                m.connect_due[k] = Some(now);
            }
        }
    }

    /// Drains charger `k`'s client: publishes, transport commands, events; until quiet.
    pub(super) fn flush_client(&mut self, k: usize) {
        // Bounded: each round handles what the previous one produced; a client settles
        // within a few rounds.
        for _ in 0..64 {
            let mut moved = self.flush_publishes(k);
            while let Some(cmd) = self
                .mqtt
                .as_mut()
                .and_then(|m| m.clients[k].poll_transport())
            {
                moved = true;
                match cmd {
                    TransportCommand::Connect => self.transport_connect(k),
                    TransportCommand::Disconnect => self.transport_disconnect(k),
                }
            }
            while let Some(event) = self.mqtt.as_mut().and_then(|m| m.clients[k].poll_event()) {
                moved = true;
                self.react(k, event);
            }
            if !moved {
                break;
            }
        }
        if let Some(m) = self.mqtt.as_mut() {
            m.clients[k].drain_metrics(&m.ids, &mut self.metrics);
        }
        self.flush_backend();
    }

    fn flush_publishes(&mut self, k: usize) -> bool {
        let now = self.now;
        let Some(m) = self.mqtt.as_mut() else {
            return false;
        };
        let mut moved = false;
        while let Some(out) = m.clients[k].poll_publish() {
            moved = true;
            self.trace.record(
                now,
                Entity::Charger(m.global[k]),
                &MqttEvent::MqttUp {
                    code: out.code.name(),
                    seq: out.seq,
                },
            );
            m.recent[k].push(RecentApdu {
                at: now,
                code: out.code.name(),
                seq: out.seq,
                up: true,
            });
            match &mut m.net {
                Net::Memory { broker, .. } => {
                    broker.send(now, m.global[k], Direction::Up, out.class, out.payload);
                }
                Net::External { out: queue } => {
                    let id = m.clients[k].topic_id(out.class).unwrap_or_default();
                    let mut topic = String::new();
                    if let Ok(t) = Topic::new(Direction::Up, out.class, id) {
                        t.write_into(&mut topic);
                    }
                    queue.push(MqttOut::Publish {
                        charger: k,
                        topic,
                        qos: out.qos,
                        payload: out.payload,
                    });
                }
            }
        }
        moved
    }

    fn transport_disconnect(&mut self, k: usize) {
        let now = self.now;
        let Some(m) = self.mqtt.as_mut() else { return };
        match &mut m.net {
            Net::Memory { broker, backend } => {
                broker.disconnect(m.global[k]);
                m.clients[k].handle_disconnected(now);
                if let Some(id) = m.clients[k].topic_id(TopicClass::Command) {
                    backend.set_charger_online(now, id, false);
                }
            }
            Net::External { out } => out.push(MqttOut::Disconnect { charger: k }),
        }
        self.trace.record(
            now,
            Entity::Charger(m.global[k]),
            &MqttEvent::MqttLink { up: false },
        );
    }

    /// Acts on one client event.
    fn react(&mut self, k: usize, event: ClientEvent) {
        let now = self.now;
        match event {
            ClientEvent::Registered { device_id } => {
                if let Some(m) = self.mqtt.as_mut() {
                    m.routes.insert(Arc::from(device_id.as_str()), k);
                    if let Net::External { out } = &mut m.net {
                        let topics = [TopicClass::Command, TopicClass::Telemetry]
                            .iter()
                            .filter_map(|&c| {
                                Topic::new(Direction::Down, c, &device_id)
                                    .ok()
                                    .map(|t| t.to_string())
                            })
                            .collect();
                        // The login that follows the registration is already queued:
                        // subscribe before it goes out, or the backend's answer can reach
                        // the broker before the subscription does and be lost.
                        let at = out
                            .iter()
                            .position(
                                |o| matches!(o, MqttOut::Publish { charger, .. } if *charger == k),
                            )
                            .unwrap_or(out.len());
                        out.insert(at, MqttOut::Subscribe { charger: k, topics });
                    }
                }
            }
            ClientEvent::Authorized {
                connector,
                accepted,
                ..
            } => {
                if let Some(ci) = self.connector_of(k, connector) {
                    self.authorized(ci, k, accepted);
                }
            }
            ClientEvent::RemoteStart {
                connector, id_tag, ..
            } => {
                if let Some(ci) = self.connector_of(k, connector) {
                    self.remote_start(ci, k, id_tag);
                }
            }
            ClientEvent::RemoteStop { connector, .. }
            | ClientEvent::StopRequested { connector, .. } => {
                if let Some(ci) = self.connector_of(k, connector) {
                    self.request_session_stop(ci, StopReason::RemoteStop);
                }
            }
            ClientEvent::Reset { .. } => {
                for ci in self.chargers[k].connectors.clone() {
                    self.request_session_stop(ci, StopReason::Reset);
                }
            }
            ClientEvent::TransactionConfirmed { record_id, .. } => {
                self.timeline_tx_confirmed(k, record_id);
                self.metrics.transactions.confirmed += 1;
                if let Some(m) = self.mqtt.as_mut() {
                    m.confirmed += 1;
                }
            }
            _ => {}
        }
        let _ = now;
    }

    fn connector_of(&self, k: usize, connector: u32) -> Option<usize> {
        let range = self.chargers[k].connectors.clone();
        let ci = range.start + (connector as usize).checked_sub(1)?;
        range.contains(&ci).then_some(ci)
    }

    /// Reports connector `ci`'s status to its charger's client.
    pub(super) fn report_status(&mut self, ci: usize, status: pb::ConnectorStatus) {
        let now = self.now;
        let (k, gun) = (self.connectors[ci].charger, self.connectors[ci].gun);
        if let Some(m) = self.mqtt.as_mut()
            && m.clients[k].set_connector_status(now, gun, status).is_err()
        {
            self.metrics
                .count_error(m.errors.client_api, now, "set_connector_status refused");
        }
        self.flush_client(k);
    }

    /// The driver starts a session over MQTT: card swipe, app (remote start) or VIN.
    /// Returns false when the protocol is off (start directly).
    pub(super) fn mqtt_start(
        &mut self,
        ci: usize,
        k: usize,
        ev: Box<crate::fleet::plant::Ev>,
    ) -> Result<(), Box<crate::fleet::plant::Ev>> {
        use crate::fleet::traffic::StartMethod;
        let now = self.now;
        let Some(m) = self.mqtt.as_mut() else {
            return Err(ev);
        };
        let gun = self.connectors[ci].gun;
        let method = ev.arrival.start_method;
        let device_id = m.clients[k]
            .topic_id(TopicClass::Command)
            .map(str::to_owned);
        let app_possible = matches!(m.net, Net::Memory { .. }) && device_id.is_some();
        let u: f64 = self.connectors[ci].rng.random();
        let token = match method {
            StartMethod::Vin => {
                // The charger reads the VIN over GB/T 27930 and asks the backend; the
                // handshake goes on meanwhile, so start it now.
                let vin = ev.vin.clone();
                self.connectors[ci].token = Some(IdToken::Vin(vin.clone()));
                if let Some(m) = self.mqtt.as_mut() {
                    let _ = m.clients[k].authorize(now, gun, IdToken::Vin(vin));
                }
                self.start(ci, k, ev);
                self.connectors[ci].auth_pending = true;
                self.flush_client(k);
                return Ok(());
            }
            StartMethod::App if app_possible => {
                let tag = format!("APP{:08}", (u * 1e8) as u64);
                let plan = pb::ChargingPlan {
                    mode: pb::ChargingMode::Full as i32,
                    ..Default::default()
                };
                if let Net::Memory { backend, .. } = &mut m.net
                    && let Some(id) = &device_id
                {
                    let _ = backend.remote_start(now, id, gun, &tag, plan, 60);
                }
                self.connectors[ci].phase = Phase::Authorizing {
                    ev,
                    deadline: now + AUTHORIZE_TIMEOUT,
                };
                self.flush_backend();
                return Ok(());
            }
            // Cards, and app starts against a backend chargestorm cannot reach directly.
            _ => {
                let invalid = u < m.invalid_card_ratio;
                let v: f64 = self.connectors[ci].rng.random();
                let card = if invalid {
                    format!("X{:011}", (v * 1e11) as u64)
                } else {
                    pick(&m.cards, v)
                };
                IdToken::Card(card)
            }
        };
        if let Some(m) = self.mqtt.as_mut()
            && m.clients[k].authorize(now, gun, token.clone()).is_err()
        {
            self.metrics
                .count_error(m.errors.client_api, now, "authorize refused");
        }
        self.connectors[ci].token = Some(token);
        self.connectors[ci].phase = Phase::Authorizing {
            ev,
            deadline: now + AUTHORIZE_TIMEOUT,
        };
        self.flush_client(k);
        Ok(())
    }

    fn authorized(&mut self, ci: usize, k: usize, accepted: bool) {
        let now = self.now;
        match std::mem::replace(&mut self.connectors[ci].phase, Phase::Moving) {
            Phase::Authorizing { ev, deadline } => {
                if accepted {
                    self.start(ci, k, ev);
                } else {
                    self.connectors[ci].phase = Phase::Starting { ev, deadline };
                    self.abort_session(ci, StopReason::Refused);
                }
            }
            other => {
                self.connectors[ci].phase = other;
                if self.connectors[ci].auth_pending {
                    self.connectors[ci].auth_pending = false;
                    if !accepted && let Some(link) = self.connectors[ci].link.as_mut() {
                        link.request_stop(now, ChargerStopCause::Manual);
                        self.connectors[ci].refused = true;
                    }
                }
            }
        }
    }

    fn remote_start(&mut self, ci: usize, k: usize, id_tag: String) {
        if let Phase::Authorizing { .. } = self.connectors[ci].phase {
            self.connectors[ci].token = Some(IdToken::App(id_tag));
            if let Phase::Authorizing { ev, .. } =
                std::mem::replace(&mut self.connectors[ci].phase, Phase::Moving)
            {
                self.start(ci, k, ev);
            }
        }
    }

    /// Opens connector `ci`'s transaction as energy starts to flow.
    pub(super) fn mqtt_begin_transaction(&mut self, ci: usize, meter_wh: f64) {
        let now = self.now;
        let (k, gun) = (self.connectors[ci].charger, self.connectors[ci].gun);
        let Some(m) = self.mqtt.as_mut() else { return };
        let token = self.connectors[ci]
            .token
            .clone()
            .unwrap_or_else(|| IdToken::Card(pick(&m.cards, 0.0)));
        let plan = pb::ChargingPlan {
            mode: pb::ChargingMode::Full as i32,
            ..Default::default()
        };
        match m.clients[k].start_transaction(now, gun, token, meter_wh, plan) {
            Ok(record) => {
                self.connectors[ci].tx = Some(Tx { record });
                self.metrics.transactions.started += 1;
            }
            Err(e) => self
                .metrics
                .count_error(m.errors.client_api, now, &e.to_string()),
        }
        self.report_status(ci, pb::ConnectorStatus::Charging);
    }

    /// Closes connector `ci`'s transaction.
    pub(super) fn mqtt_end_transaction(&mut self, ci: usize, meter_wh: f64, reason: StopReason) {
        let now = self.now;
        let k = self.connectors[ci].charger;
        if let (Some(m), Some(tx)) = (self.mqtt.as_mut(), self.connectors[ci].tx.take()) {
            match m.clients[k].stop_transaction(now, tx.record, meter_wh, pb_stop_reason(reason)) {
                Ok(_) => self.timeline_tx_stop(ci, tx.record, reason),
                Err(e) => self
                    .metrics
                    .count_error(m.errors.client_api, now, &e.to_string()),
            }
        }
        if self.mqtt.is_some() {
            self.report_status(ci, pb::ConnectorStatus::Finishing);
        }
    }

    /// Feeds a physics sample to connector `ci`'s client.
    pub(super) fn mqtt_sample(&mut self, ci: usize, sample: Sample) {
        let now = self.now;
        let (k, gun) = (self.connectors[ci].charger, self.connectors[ci].gun);
        if let Some(m) = self.mqtt.as_mut() {
            let _ = m.clients[k].sample(now, gun, sample);
        }
    }

    /// Feeds the DC session's BMS data for ChargingInfoReq.
    pub(super) fn mqtt_bms_info(&mut self, ci: usize, info: pb::DcChargingInfo) {
        let (k, gun) = (self.connectors[ci].charger, self.connectors[ci].gun);
        if let Some(m) = self.mqtt.as_mut() {
            let _ = m.clients[k].set_bms_info(gun, info);
        }
    }

    /// Stops connector `ci`'s session for `reason`, through GB/T when it runs one.
    pub(super) fn request_session_stop(&mut self, ci: usize, reason: StopReason) {
        let now = self.now;
        match &self.connectors[ci].phase {
            Phase::Charging { .. } => {
                let c = &mut self.connectors[ci];
                match c.link.as_mut() {
                    Some(link) => {
                        link.request_stop(now, ChargerStopCause::Manual);
                        c.stop_reason = Some(reason);
                    }
                    None => self.stop_charging(ci, reason),
                }
            }
            Phase::Authorizing { .. } | Phase::Starting { .. } => {
                if let Phase::Authorizing { ev, deadline } =
                    std::mem::replace(&mut self.connectors[ci].phase, Phase::Moving)
                {
                    self.connectors[ci].phase = Phase::Starting { ev, deadline };
                }
                if let Some(link) = self.connectors[ci].link.as_mut() {
                    link.request_stop(now, ChargerStopCause::Manual);
                    self.connectors[ci].stop_reason = Some(reason);
                } else {
                    self.abort_session(ci, reason);
                }
            }
            _ => {}
        }
    }

    /// Transactions still running, and finished ones the backend never confirmed.
    pub(super) fn mqtt_close(&mut self) {
        let Some(m) = self.mqtt.as_ref() else { return };
        let running: u64 = self.connectors.iter().filter(|c| c.tx.is_some()).count() as u64;
        let outbox: u64 = m.clients.iter().map(|c| c.outbox().count() as u64).sum();
        let unconfirmed = outbox.saturating_sub(running);
        self.metrics.transactions.open = running;
        if unconfirmed > 0 {
            self.metrics.transactions.lost = unconfirmed;
            self.metrics.transactions.lost_reasons.insert(
                "no confirmation from the backend before the run ended".into(),
                unconfirmed,
            );
        }
    }

    /// The in-process backend's ledger size and duplicate count, for assertions.
    pub(super) fn mqtt_ledger(&self) -> Option<(u64, u64)> {
        let b = self.mqtt.as_ref()?.backend()?;
        Some((b.ledger().len() as u64, b.ledger().duplicates()))
    }

    // ---- The I/O shell's side (real broker). ----

    /// Takes what the I/O shell must do for the chargers' real connections.
    pub fn take_mqtt_out(&mut self, into: &mut Vec<MqttOut>) {
        if let Some(MqttSide {
            net: Net::External { out },
            ..
        }) = self.mqtt.as_mut()
        {
            into.append(out);
        }
    }

    /// The serial number of local charger `k`, when chargers run the MQTT protocol.
    pub(super) fn mqtt_serial(&self, k: usize) -> Option<String> {
        self.mqtt
            .as_ref()
            .map(|m| m.clients[k].identity().serial.clone())
    }

    /// MQTT client ids (serials) of the chargers, by local index.
    pub fn mqtt_client_ids(&self) -> Vec<String> {
        self.mqtt
            .as_ref()
            .map(|m| {
                m.clients
                    .iter()
                    .map(|c| c.identity().serial.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The real connection of charger `k` came up.
    pub fn mqtt_connected(&mut self, k: usize) {
        let now = self.now;
        if let Some(m) = self.mqtt.as_mut()
            && k < m.clients.len()
        {
            m.clients[k].handle_connected(now);
            if let Some(due) = m.connect_due[k].take() {
                self.metrics
                    .record_latency(m.connect_latency, due, due, now);
            }
            let serial = m.clients[k].identity().serial.clone();
            if let Net::External { out } = &mut m.net {
                let mut topics = vec![format!("/D/R/{serial}")];
                if let Some(id) = m.clients[k].topic_id(TopicClass::Command) {
                    topics.push(format!("/D/C/{id}"));
                    topics.push(format!("/D/M/{id}"));
                }
                out.push(MqttOut::Subscribe { charger: k, topics });
            }
            self.trace.record(
                now,
                Entity::Charger(m.global[k]),
                &MqttEvent::MqttLink { up: true },
            );
            self.flush_client(k);
            self.rearm(k);
        }
    }

    /// A real connection attempt of charger `k` failed.
    pub fn mqtt_connect_failed(&mut self, k: usize) {
        let now = self.now;
        if let Some(m) = self.mqtt.as_mut()
            && k < m.clients.len()
        {
            m.clients[k].handle_connect_failed(now);
            // A failed attempt is counted as an error by the client, not as a latency.
            m.connect_due[k] = None;
            self.flush_client(k);
            self.rearm(k);
        }
    }

    /// The real connection of charger `k` dropped.
    pub fn mqtt_disconnected(&mut self, k: usize) {
        let now = self.now;
        if let Some(m) = self.mqtt.as_mut()
            && k < m.clients.len()
        {
            m.clients[k].handle_disconnected(now);
            self.trace.record(
                now,
                Entity::Charger(m.global[k]),
                &MqttEvent::MqttLink { up: false },
            );
            self.flush_client(k);
            self.rearm(k);
        }
    }

    /// A publish arrived on charger `k`'s real connection.
    pub fn mqtt_inbound(&mut self, k: usize, topic: &str, payload: &[u8]) {
        let now = self.now;
        let Ok(t) = Topic::parse(topic) else { return };
        if let Some(m) = self.mqtt.as_mut()
            && k < m.clients.len()
        {
            let (code, seq) = apdu_head(payload);
            self.trace.record(
                now,
                Entity::Charger(m.global[k]),
                &MqttEvent::MqttDown { code, seq },
            );
            m.recent[k].push(RecentApdu {
                at: now,
                code,
                seq,
                up: false,
            });
            m.clients[k].handle_publish(now, t.class, payload);
            self.flush_client(k);
            self.rearm(k);
        }
    }
}

fn local_of(global: &[u32], link: LinkId) -> Option<usize> {
    global.binary_search(&link).ok()
}

fn apdu_head(payload: &[u8]) -> (&'static str, u32) {
    match Apdu::decode(payload) {
        Ok(a) => (a.code.name(), a.seq),
        Err(_) => ("undecodable", 0),
    }
}

impl World {
    /// Kills the in-process broker and restarts it without persistence after `downtime`:
    /// every connection drops and everything in flight is lost. Returns false when the
    /// chargers use a real broker (restart that one instead).
    pub fn restart_broker(&mut self, downtime: Duration) -> bool {
        let now = self.now;
        let Some(MqttSide {
            net: Net::Memory { broker, .. },
            ..
        }) = self.mqtt.as_mut()
        else {
            return false;
        };
        broker.restart(now, downtime);
        self.wake_network();
        true
    }

    /// Delays every answer of the in-process reference backend by `delay`; false when the
    /// backend is not in-process.
    pub fn slow_down_backend(&mut self, delay: Duration) -> bool {
        let Some(MqttSide {
            net: Net::Memory { backend, .. },
            ..
        }) = self.mqtt.as_mut()
        else {
            return false;
        };
        let mut faults = backend.faults().clone();
        faults.response_delay = delay;
        backend.set_faults(faults);
        true
    }

    /// Cuts the in-process broker link of the charger with global index `charger`
    /// (in-flight messages are lost; the charger reconnects with back-off). Returns false
    /// when the charger is not in this world or uses a real broker.
    pub fn cut_charger_link(&mut self, charger: u32) -> bool {
        let now = self.now;
        let Some(MqttSide {
            net: Net::Memory { broker, .. },
            global,
            ..
        }) = self.mqtt.as_mut()
        else {
            return false;
        };
        if global.binary_search(&charger).is_err() {
            return false;
        }
        broker.cut(now, charger);
        self.wake_network();
        true
    }

    /// Partitions the charger with global index `charger` from the in-process broker for
    /// `duration`: its link is cut and reconnects fail until the partition ends. Returns
    /// false when the charger is not in this world or uses a real broker.
    pub fn partition_charger(&mut self, charger: u32, duration: Duration) -> bool {
        let now = self.now;
        let Some(MqttSide {
            net: Net::Memory { broker, .. },
            global,
            ..
        }) = self.mqtt.as_mut()
        else {
            return false;
        };
        if global.binary_search(&charger).is_err() {
            return false;
        }
        broker.partition(now, charger, now + duration);
        self.wake_network();
        true
    }
}
