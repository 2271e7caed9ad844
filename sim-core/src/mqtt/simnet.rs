//! [`SimBroker`]: the MQTT broker and the chargers' links on virtual time, for `--speed max`.
//!
//! Every charger has one link (its MQTT connection); the backend's own connection is taken as
//! ideal, so a message's path charger ⇄ broker ⇄ backend is modelled as one hop on the
//! charger's link with that link's latency, jitter and loss ([`LinkModel`], seeded per link
//! from `rng::Domain::NetworkLink`). Messages on one link in one direction stay in order (one
//! TCP connection). QoS 0 may be lost; QoS 2 is delivered exactly once unless a fault says
//! otherwise (`qos2_loss`, `qos2_duplicate`, a link cut, a broker restart).
//!
//! Disconnects: a graceful close (the client's DISCONNECT) still delivers what it already sent
//! up; a cut ([`SimBroker::cut`]) loses everything in flight on the link. With persistent
//! sessions (clean session off), QoS 2 messages for an offline client wait in its session.
//! [`SimBroker::restart`] models a broker killed and restarted without persistence: every link
//! drops, every session and in-flight message is lost, and connects fail until it is back.
//!
//! Deliveries come out in (time, link, send order) order, so a run is reproducible. A message
//! costs no allocation beyond its payload, which is moved in and out.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use proto::mqtt::topic::{Direction, QoS, TopicClass};
use rand::{Rng, SeedableRng};

use crate::rng::{Domain, EntityRng, derive};
use crate::time::{Duration, Instant};

/// A link's index (the charger's index).
pub type LinkId = u32;

/// Latency, jitter and loss of one link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkModel {
    /// Fixed one-way latency.
    pub latency: Duration,
    /// Uniform extra latency, 0..jitter.
    pub jitter: Duration,
    /// Probability that a QoS 0 message is lost.
    pub qos0_loss: f64,
    /// Fault: probability that a QoS 2 message is lost anyway.
    pub qos2_loss: f64,
    /// Fault: probability that a QoS 2 message is delivered twice (as rumqttc hands a DUP
    /// re-send to the application again).
    pub qos2_duplicate: f64,
}

impl Default for LinkModel {
    /// 5 ms ± 2 ms, no loss.
    fn default() -> Self {
        LinkModel {
            latency: Duration::from_millis(5),
            jitter: Duration::from_millis(2),
            qos0_loss: 0.0,
            qos2_loss: 0.0,
            qos2_duplicate: 0.0,
        }
    }
}

/// Broker settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimBrokerConfig {
    /// The model of every link (change one with [`SimBroker::set_link_model`]).
    pub link: LinkModel,
    /// Clean session off: QoS 2 messages for an offline client are kept until it reconnects
    /// (not across a restart: the broker keeps no persistence).
    pub persistent_sessions: bool,
}

/// A message arriving at its destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// When it arrives.
    pub at: Instant,
    /// The charger's link.
    pub link: LinkId,
    /// Up = to the backend, Down = to the charger.
    pub direction: Direction,
    /// The topic class.
    pub class: TopicClass,
    /// The APDU.
    pub payload: Vec<u8>,
}

/// A connection the broker dropped (restart or cut), to tell the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkDown {
    /// The link.
    pub link: LinkId,
    /// When.
    pub at: Instant,
}

/// What became of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// In flight.
    Queued,
    /// Kept in the offline client's session.
    Stored,
    /// Dropped: the broker is down.
    BrokerDown,
    /// Dropped: the link is not connected.
    NotConnected,
    /// Dropped by the loss model.
    Lost,
}

/// Why a connect failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimNetError {
    /// The broker is restarting.
    #[error("broker is down until {until}")]
    BrokerDown {
        /// When it will accept connections again.
        until: Instant,
    },
    /// The link is partitioned from the broker.
    #[error("link {link} cannot reach the broker until {until}")]
    Unreachable {
        /// The link.
        link: LinkId,
        /// When the partition ends.
        until: Instant,
    },
    /// The link is dead (a half-open fault without an end).
    #[error("link {link} is dead")]
    Dead {
        /// The link.
        link: LinkId,
    },
    /// No such link.
    #[error("no link {link}")]
    NoSuchLink {
        /// The link asked for.
        link: LinkId,
    },
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimNetStats {
    /// Sends accepted.
    pub sent: u64,
    /// Deliveries made.
    pub delivered: u64,
    /// Lost by the loss model.
    pub lost: u64,
    /// Dropped because a link or the broker was down at send time.
    pub dropped_offline: u64,
    /// In flight when a link was cut or the broker restarted.
    pub dropped_in_flight: u64,
    /// Extra copies made by the duplicate fault.
    pub duplicated: u64,
    /// Broker restarts.
    pub restarts: u64,
}

#[derive(Debug)]
struct Link {
    connected: bool,
    /// Incremented on every disconnect; in-flight messages carry the epoch they left in.
    epoch: u32,
    /// Uplink messages of this epoch survive (the client closed gracefully).
    surviving_up_epoch: Option<u32>,
    rng: EntityRng,
    model: LinkModel,
    last_at: [Instant; 2],
    session: Vec<(TopicClass, Vec<u8>)>,
    /// A network partition: connects fail until then.
    unreachable_until: Option<Instant>,
    /// Network faults of the fault-proxy kind (bandwidth, stalls, dead links).
    net: NetFaultState,
}

/// A link's network faults, as the TCP fault proxy applies them in real time.
#[derive(Debug, Default)]
struct NetFaultState {
    /// Bandwidth limit of each direction, bytes per second.
    bandwidth_bytes_per_s: Option<u64>,
    /// When each direction's sender is done with what it has queued (bandwidth limit).
    tx_free_at: [Instant; 2],
    /// A stall or a dead link: nothing leaves before then (`Some(None)`: never).
    held: Option<Option<Instant>>,
}

/// Bytes of MQTT fixed header, topic and TCP/IP headers counted on top of a payload when
/// a bandwidth limit applies.
const WIRE_OVERHEAD_BYTES: u64 = 80;

#[derive(Debug)]
struct InFlight {
    at: Instant,
    link: LinkId,
    order: u64,
    epoch: u32,
    broker_epoch: u32,
    direction: Direction,
    class: TopicClass,
    payload: Vec<u8>,
}

impl InFlight {
    fn key(&self) -> (Instant, LinkId, u64) {
        (self.at, self.link, self.order)
    }
}
impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// The in-memory broker. See the module documentation.
#[derive(Debug)]
pub struct SimBroker {
    config: SimBrokerConfig,
    root_seed: u64,
    links: Vec<Link>,
    heap: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    broker_epoch: u32,
    down_until: Option<Instant>,
    link_events: VecDeque<LinkDown>,
    /// Dead links the client will notice (keep-alive), by when.
    detections: BinaryHeap<Reverse<(Instant, LinkId)>>,
    stats: SimNetStats,
}

impl SimBroker {
    /// A broker with `links` links, each seeded from `root_seed`.
    pub fn new(config: SimBrokerConfig, links: usize, root_seed: u64) -> Self {
        let mut broker = SimBroker {
            config,
            root_seed,
            links: Vec::with_capacity(links),
            heap: BinaryHeap::with_capacity(links.saturating_mul(4).max(16)),
            order: 0,
            broker_epoch: 0,
            down_until: None,
            link_events: VecDeque::new(),
            detections: BinaryHeap::new(),
            stats: SimNetStats::default(),
        };
        for _ in 0..links {
            broker.add_link();
        }
        broker
    }

    /// Adds a link (disconnected); returns its id.
    pub fn add_link(&mut self) -> LinkId {
        let id = self.links.len() as LinkId;
        let seed = derive(self.root_seed, Domain::NetworkLink, u64::from(id));
        self.links.push(Link {
            connected: false,
            epoch: 0,
            surviving_up_epoch: None,
            rng: EntityRng::seed_from_u64(seed),
            model: self.config.link.clone(),
            last_at: [Instant::ZERO; 2],
            session: Vec::new(),
            unreachable_until: None,
            net: NetFaultState::default(),
        });
        id
    }

    /// `link`'s current model (`None` for an unknown link).
    pub fn link_model(&self, link: LinkId) -> Option<&LinkModel> {
        self.links.get(link as usize).map(|l| &l.model)
    }

    /// The model every link started with.
    pub fn default_link_model(&self) -> &LinkModel {
        &self.config.link
    }

    /// Limits each direction of `link` to `bytes_per_s` (`None`: unlimited). A message
    /// then leaves when the ones before it have been sent, its payload plus 80 bytes of
    /// MQTT and TCP/IP headers at that rate, and arrives its latency later.
    pub fn set_link_bandwidth(&mut self, link: LinkId, bytes_per_s: Option<u64>) {
        if let Some(l) = self.links.get_mut(link as usize) {
            l.net.bandwidth_bytes_per_s = bytes_per_s.filter(|&b| b > 0);
        }
    }

    /// Holds everything sent on `link` in either direction until `until` (`None`: for
    /// good), as a stalled or half-open TCP link does, and makes new connections fail
    /// until then. The client notices a dead link by its keep-alive: if the hold lasts
    /// past `now + detect_after`, the link is cut then (what it held is lost) and the
    /// client is told.
    pub fn hold_link(
        &mut self,
        now: Instant,
        link: LinkId,
        until: Option<Instant>,
        detect_after: Duration,
    ) {
        let Some(l) = self.links.get_mut(link as usize) else {
            return;
        };
        l.net.held = Some(until);
        if let Some(u) = until {
            l.unreachable_until = Some(l.unreachable_until.map_or(u, |t| t.max(u)));
        } else {
            l.unreachable_until = None;
        }
        let detect_at = now + detect_after;
        if until.is_none_or(|u| u > detect_at) {
            self.detections.push(Reverse((detect_at, link)));
        }
    }

    /// Ends a hold of `link` now: what it held is delivered (if its link is still up),
    /// and new connections are accepted again.
    pub fn release_link(&mut self, now: Instant, link: LinkId) {
        if let Some(l) = self.links.get_mut(link as usize) {
            l.net.held = None;
            if l.unreachable_until.is_none_or(|t| t > now) {
                l.unreachable_until = None;
            }
        }
    }

    /// Cuts the dead links whose clients notice it by `now` (keep-alive).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, link))) = self.detections.peek() {
            if at > now {
                break;
            }
            self.detections.pop();
            let still_dead = self
                .links
                .get(link as usize)
                .is_some_and(|l| match l.net.held {
                    Some(Some(until)) => until > at,
                    Some(None) => true,
                    None => false,
                });
            if still_dead {
                self.cut(at, link);
            }
        }
    }

    /// Changes one link's model.
    pub fn set_link_model(&mut self, link: LinkId, model: LinkModel) {
        if let Some(l) = self.links.get_mut(link as usize) {
            l.model = model;
        }
    }

    /// Counters.
    pub fn stats(&self) -> SimNetStats {
        self.stats
    }

    /// Whether the broker accepts connections at `now`.
    pub fn is_up(&self, now: Instant) -> bool {
        self.down_until.is_none_or(|t| t <= now)
    }

    /// Whether `link` is connected.
    pub fn is_connected(&self, link: LinkId) -> bool {
        self.links.get(link as usize).is_some_and(|l| l.connected)
    }

    /// Opens `link`'s connection (the CONNACK is taken as immediate). With a persistent
    /// session, messages stored for it leave now.
    pub fn connect(&mut self, now: Instant, link: LinkId) -> Result<(), SimNetError> {
        if let Some(until) = self.down_until.filter(|&t| t > now) {
            return Err(SimNetError::BrokerDown { until });
        }
        let l = self
            .links
            .get_mut(link as usize)
            .ok_or(SimNetError::NoSuchLink { link })?;
        if let Some(until) = l.unreachable_until.filter(|&t| t > now) {
            return Err(SimNetError::Unreachable { link, until });
        }
        if l.net.held == Some(None) {
            return Err(SimNetError::Dead { link });
        }
        l.connected = true;
        let stored = std::mem::take(&mut l.session);
        for (class, payload) in stored {
            self.send(now, link, Direction::Down, class, payload);
        }
        Ok(())
    }

    /// The client closed its connection gracefully: what it sent up is still delivered.
    pub fn disconnect(&mut self, link: LinkId) {
        if let Some(l) = self.links.get_mut(link as usize)
            && l.connected
        {
            l.connected = false;
            l.surviving_up_epoch = Some(l.epoch);
            l.epoch = l.epoch.wrapping_add(1);
        }
    }

    /// The network cut `link`: everything in flight on it is lost and the client is told.
    pub fn cut(&mut self, now: Instant, link: LinkId) {
        if let Some(l) = self.links.get_mut(link as usize)
            && l.connected
        {
            l.connected = false;
            l.surviving_up_epoch = None;
            l.epoch = l.epoch.wrapping_add(1);
            self.link_events.push_back(LinkDown { link, at: now });
        }
    }

    /// A network partition: `link` is cut now and cannot connect again before `until`.
    pub fn partition(&mut self, now: Instant, link: LinkId, until: Instant) {
        if let Some(l) = self.links.get_mut(link as usize) {
            l.unreachable_until = Some(until);
        }
        self.cut(now, link);
    }

    /// The broker is killed and restarted without persistence, accepting connections again
    /// after `downtime`: every connection drops, every session and message in flight is lost.
    pub fn restart(&mut self, now: Instant, downtime: Duration) {
        self.stats.restarts += 1;
        self.broker_epoch = self.broker_epoch.wrapping_add(1);
        self.down_until = Some(now + downtime);
        for (i, l) in self.links.iter_mut().enumerate() {
            l.session.clear();
            if l.connected {
                l.connected = false;
                l.surviving_up_epoch = None;
                l.epoch = l.epoch.wrapping_add(1);
                self.link_events.push_back(LinkDown {
                    link: i as LinkId,
                    at: now,
                });
            }
        }
    }

    /// Publishes `payload` on `link` in `direction` (QoS from the class).
    pub fn send(
        &mut self,
        now: Instant,
        link: LinkId,
        direction: Direction,
        class: TopicClass,
        payload: Vec<u8>,
    ) -> SendOutcome {
        if !self.is_up(now) {
            self.stats.dropped_offline += 1;
            return SendOutcome::BrokerDown;
        }
        let persistent = self.config.persistent_sessions;
        let Some(l) = self.links.get_mut(link as usize) else {
            self.stats.dropped_offline += 1;
            return SendOutcome::NotConnected;
        };
        let qos2 = class.qos() == QoS::ExactlyOnce;
        if !l.connected {
            if direction == Direction::Down && persistent && qos2 {
                l.session.push((class, payload));
                return SendOutcome::Stored;
            }
            self.stats.dropped_offline += 1;
            return SendOutcome::NotConnected;
        }
        let loss = if qos2 {
            l.model.qos2_loss
        } else {
            l.model.qos0_loss
        };
        if loss > 0.0 && unit(&mut l.rng) < loss {
            self.stats.lost += 1;
            return SendOutcome::Lost;
        }
        let jitter = l.model.jitter.as_micros();
        let extra = if jitter > 0 {
            l.rng.next_u64() % jitter
        } else {
            0
        };
        let d = usize::from(direction == Direction::Down);
        let mut leaves = now;
        if let Some(rate) = l.net.bandwidth_bytes_per_s {
            let bytes = payload.len() as u64 + WIRE_OVERHEAD_BYTES;
            let start = now.max(l.net.tx_free_at[d]);
            let done = start + Duration::from_micros(bytes.saturating_mul(1_000_000) / rate);
            l.net.tx_free_at[d] = done;
            leaves = done;
        }
        match l.net.held {
            Some(Some(until)) => leaves = leaves.max(until),
            Some(None) => {
                // A link dead for good: the bytes sit in a socket buffer until the client
                // notices and closes it, and are lost then.
                self.stats.dropped_in_flight += 1;
                return SendOutcome::Queued;
            }
            None => {}
        }
        let at = (leaves + l.model.latency + Duration::from_micros(extra)).max(l.last_at[d]);
        l.last_at[d] = at;
        let duplicate =
            qos2 && l.model.qos2_duplicate > 0.0 && unit(&mut l.rng) < l.model.qos2_duplicate;
        let epoch = l.epoch;
        if duplicate {
            self.stats.duplicated += 1;
            self.push(at, link, epoch, direction, class, payload.clone());
        }
        self.push(at, link, epoch, direction, class, payload);
        self.stats.sent += 1;
        SendOutcome::Queued
    }

    fn push(
        &mut self,
        at: Instant,
        link: LinkId,
        epoch: u32,
        direction: Direction,
        class: TopicClass,
        payload: Vec<u8>,
    ) {
        self.order += 1;
        self.heap.push(Reverse(InFlight {
            at,
            link,
            order: self.order,
            epoch,
            broker_epoch: self.broker_epoch,
            direction,
            class,
            payload,
        }));
    }

    /// The next delivery time, or the end of a restart.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let next = self.heap.peek().map(|Reverse(m)| m.at);
        let detect = self.detections.peek().map(|Reverse((at, _))| *at);
        [next, self.down_until, detect].into_iter().flatten().min()
    }

    /// A connection the broker dropped, to report to its client.
    pub fn poll_link_down(&mut self) -> Option<LinkDown> {
        self.link_events.pop_front()
    }

    /// The next message due at or before `now`; messages whose link or broker died while they
    /// were in flight are dropped on the way (or, for a persistent session, stored).
    pub fn poll_delivery(&mut self, now: Instant) -> Option<Delivery> {
        if self.down_until.is_some_and(|t| t <= now) {
            self.down_until = None;
        }
        while self.heap.peek().is_some_and(|Reverse(m)| m.at <= now) {
            let Reverse(m) = self.heap.pop()?;
            match self.fate(&m) {
                Fate::Deliver => {
                    self.stats.delivered += 1;
                    return Some(Delivery {
                        at: m.at,
                        link: m.link,
                        direction: m.direction,
                        class: m.class,
                        payload: m.payload,
                    });
                }
                Fate::Store => {
                    // The broker never got the client's PUBREC: it keeps the message in the
                    // session and sends it again when the client is back.
                    if let Some(l) = self.links.get_mut(m.link as usize) {
                        l.session.push((m.class, m.payload));
                    }
                }
                Fate::Drop => self.stats.dropped_in_flight += 1,
            }
        }
        None
    }

    fn fate(&self, m: &InFlight) -> Fate {
        if m.broker_epoch != self.broker_epoch {
            return Fate::Drop;
        }
        let Some(l) = self.links.get(m.link as usize) else {
            return Fate::Drop;
        };
        let ok = match m.direction {
            Direction::Up => m.epoch == l.epoch || l.surviving_up_epoch == Some(m.epoch),
            Direction::Down => m.epoch == l.epoch && l.connected,
        };
        if ok {
            Fate::Deliver
        } else if m.direction == Direction::Down
            && self.config.persistent_sessions
            && m.class.qos() == QoS::ExactlyOnce
        {
            Fate::Store
        } else {
            Fate::Drop
        }
    }
}

/// What happens to a message that reached the head of the queue.
enum Fate {
    Deliver,
    Store,
    Drop,
}

fn unit(rng: &mut EntityRng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(b: &mut SimBroker, now: Instant) -> Vec<Delivery> {
        std::iter::from_fn(|| b.poll_delivery(now)).collect()
    }

    fn quiet() -> SimBrokerConfig {
        SimBrokerConfig {
            link: LinkModel {
                latency: Duration::from_millis(5),
                jitter: Duration::ZERO,
                ..LinkModel::default()
            },
            persistent_sessions: false,
        }
    }

    #[test]
    fn bandwidth_limit_spaces_messages_by_their_size() {
        let mut b = SimBroker::new(quiet(), 1, 1);
        b.connect(Instant::ZERO, 0).unwrap();
        // 920 + 80 bytes at 100,000 B/s: 10 ms each.
        b.set_link_bandwidth(0, Some(100_000));
        for i in 0..3u8 {
            b.send(
                Instant::ZERO,
                0,
                Direction::Up,
                TopicClass::Telemetry,
                vec![i; 920],
            );
        }
        let got = drain(&mut b, Instant::from_millis(100));
        let at: Vec<u64> = got.iter().map(|d| d.at.as_micros()).collect();
        assert_eq!(at, vec![15_000, 25_000, 35_000]);
        b.set_link_bandwidth(0, None);
        b.send(
            Instant::from_millis(100),
            0,
            Direction::Up,
            TopicClass::Telemetry,
            vec![0; 920],
        );
        let got = drain(&mut b, Instant::from_millis(200));
        assert_eq!(got[0].at, Instant::from_millis(105));
    }

    #[test]
    fn a_stall_shorter_than_detection_delivers_late_without_a_cut() {
        let mut b = SimBroker::new(quiet(), 1, 1);
        b.connect(Instant::ZERO, 0).unwrap();
        let until = Instant::from_millis(2_000);
        b.hold_link(Instant::ZERO, 0, Some(until), Duration::from_secs(90));
        b.send(
            Instant::from_millis(10),
            0,
            Direction::Down,
            TopicClass::Command,
            vec![1],
        );
        assert_eq!(b.poll_timeout(), Some(Instant::from_millis(2_005)));
        b.handle_timeout(Instant::from_millis(2_005));
        assert!(drain(&mut b, Instant::from_millis(2_004)).is_empty());
        let got = drain(&mut b, Instant::from_millis(2_005));
        assert_eq!(got.len(), 1);
        assert_eq!(b.poll_link_down(), None);
        assert!(b.is_connected(0));
    }

    #[test]
    fn a_dead_link_is_cut_when_the_client_notices_and_refuses_connects_until_healed() {
        let mut b = SimBroker::new(quiet(), 1, 1);
        b.connect(Instant::ZERO, 0).unwrap();
        let until = Instant::from_secs(300);
        b.hold_link(Instant::ZERO, 0, Some(until), Duration::from_secs(90));
        b.send(
            Instant::from_secs(1),
            0,
            Direction::Up,
            TopicClass::Command,
            vec![1],
        );
        assert_eq!(b.poll_timeout(), Some(Instant::from_secs(90)));
        b.handle_timeout(Instant::from_secs(90));
        assert_eq!(
            b.poll_link_down(),
            Some(LinkDown {
                link: 0,
                at: Instant::from_secs(90)
            })
        );
        assert_eq!(
            b.connect(Instant::from_secs(100), 0),
            Err(SimNetError::Unreachable { link: 0, until })
        );
        // What the dead link held is lost with it.
        assert!(drain(&mut b, Instant::from_secs(400)).is_empty());
        assert_eq!(b.stats().dropped_in_flight, 1);
        b.connect(Instant::from_secs(400), 0).unwrap();
    }

    #[test]
    fn a_link_dead_for_good_never_connects_until_released() {
        let mut b = SimBroker::new(quiet(), 1, 1);
        b.connect(Instant::ZERO, 0).unwrap();
        b.hold_link(Instant::ZERO, 0, None, Duration::from_secs(90));
        b.handle_timeout(Instant::from_secs(90));
        assert!(b.poll_link_down().is_some());
        assert_eq!(
            b.connect(Instant::from_secs(1_000), 0),
            Err(SimNetError::Dead { link: 0 })
        );
        b.release_link(Instant::from_secs(1_000), 0);
        b.connect(Instant::from_secs(1_000), 0).unwrap();
    }

    #[test]
    fn delivers_in_order_per_link_after_latency() {
        let mut b = SimBroker::new(SimBrokerConfig::default(), 2, 1);
        b.connect(Instant::ZERO, 0).unwrap();
        b.connect(Instant::ZERO, 1).unwrap();
        for i in 0..20u8 {
            b.send(
                Instant::ZERO,
                u32::from(i % 2),
                Direction::Up,
                TopicClass::Command,
                vec![i],
            );
        }
        assert!(drain(&mut b, Instant::from_millis(4)).is_empty());
        let got = drain(&mut b, Instant::from_millis(10));
        assert_eq!(got.len(), 20);
        for link in 0..2 {
            let seq: Vec<u8> = got
                .iter()
                .filter(|d| d.link == link)
                .map(|d| d.payload[0])
                .collect();
            let mut sorted = seq.clone();
            sorted.sort_unstable();
            assert_eq!(seq, sorted, "link {link} reordered");
        }
        assert!(
            got.windows(2)
                .all(|w| (w[0].at, w[0].link) <= (w[1].at, w[1].link))
        );
    }

    #[test]
    fn qos0_loss_spares_qos2() {
        let config = SimBrokerConfig {
            link: LinkModel {
                qos0_loss: 0.5,
                ..LinkModel::default()
            },
            ..Default::default()
        };
        let mut b = SimBroker::new(config, 1, 3);
        b.connect(Instant::ZERO, 0).unwrap();
        for _ in 0..200 {
            b.send(
                Instant::ZERO,
                0,
                Direction::Up,
                TopicClass::Telemetry,
                vec![0],
            );
            b.send(
                Instant::ZERO,
                0,
                Direction::Up,
                TopicClass::Command,
                vec![2],
            );
        }
        let got = drain(&mut b, Instant::from_secs(1));
        let qos2 = got.iter().filter(|d| d.payload[0] == 2).count();
        let qos0 = got.len() - qos2;
        assert_eq!(qos2, 200);
        assert!((60..140).contains(&qos0), "{qos0}");
    }

    #[test]
    fn restart_drops_everything_and_refuses_connects_until_back() {
        let config = SimBrokerConfig {
            persistent_sessions: true,
            ..Default::default()
        };
        let mut b = SimBroker::new(config, 2, 5);
        b.connect(Instant::ZERO, 0).unwrap();
        b.send(
            Instant::ZERO,
            0,
            Direction::Up,
            TopicClass::Command,
            vec![1],
        );
        b.send(
            Instant::ZERO,
            1,
            Direction::Down,
            TopicClass::Command,
            vec![2],
        );
        assert_eq!(
            b.send(
                Instant::ZERO,
                1,
                Direction::Up,
                TopicClass::Command,
                vec![3]
            ),
            SendOutcome::NotConnected
        );
        b.restart(Instant::from_millis(1), Duration::from_secs(2));
        assert_eq!(
            b.poll_link_down(),
            Some(LinkDown {
                link: 0,
                at: Instant::from_millis(1)
            })
        );
        assert_eq!(b.poll_link_down(), None);
        assert!(drain(&mut b, Instant::from_secs(1)).is_empty());
        assert!(b.connect(Instant::from_secs(1), 1).is_err());
        b.connect(Instant::from_secs(3), 1).unwrap();
        // The session stored for link 1 did not survive the restart.
        assert!(drain(&mut b, Instant::from_secs(4)).is_empty());
        assert_eq!(b.stats().dropped_in_flight, 1);
    }

    #[test]
    fn persistent_session_keeps_qos2_for_an_offline_client() {
        let config = SimBrokerConfig {
            persistent_sessions: true,
            ..Default::default()
        };
        let mut b = SimBroker::new(config, 1, 5);
        assert_eq!(
            b.send(
                Instant::ZERO,
                0,
                Direction::Down,
                TopicClass::Command,
                vec![7]
            ),
            SendOutcome::Stored
        );
        assert_eq!(
            b.send(
                Instant::ZERO,
                0,
                Direction::Down,
                TopicClass::Telemetry,
                vec![8]
            ),
            SendOutcome::NotConnected
        );
        b.connect(Instant::from_secs(1), 0).unwrap();
        let got = drain(&mut b, Instant::from_secs(2));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payload, [7]);
    }

    #[test]
    fn graceful_close_delivers_what_was_sent_but_a_cut_does_not() {
        let mut b = SimBroker::new(SimBrokerConfig::default(), 2, 5);
        b.connect(Instant::ZERO, 0).unwrap();
        b.connect(Instant::ZERO, 1).unwrap();
        b.send(
            Instant::ZERO,
            0,
            Direction::Up,
            TopicClass::Command,
            vec![1],
        );
        b.send(
            Instant::ZERO,
            1,
            Direction::Up,
            TopicClass::Command,
            vec![2],
        );
        b.disconnect(0);
        b.cut(Instant::ZERO, 1);
        let got = drain(&mut b, Instant::from_secs(1));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].link, 0);
        assert_eq!(b.poll_link_down().map(|d| d.link), Some(1));
    }

    #[test]
    fn same_seed_same_schedule() {
        let run = || {
            let mut b = SimBroker::new(SimBrokerConfig::default(), 3, 42);
            for l in 0..3 {
                b.connect(Instant::ZERO, l).unwrap();
            }
            for i in 0..30u8 {
                b.send(
                    Instant::from_micros(u64::from(i) * 100),
                    u32::from(i % 3),
                    Direction::Up,
                    TopicClass::Command,
                    vec![i],
                );
            }
            drain(&mut b, Instant::from_secs(1))
                .into_iter()
                .map(|d| (d.at, d.payload[0]))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
