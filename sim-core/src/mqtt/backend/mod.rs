//! The reference backend of the seed-004 protocol, sans-IO: one [`Backend`] serves every
//! charger through one MQTT connection (topics `/U/+/+` in, `/D/<class>/<id>` out).
//!
//! It validates registration codes and assigns device ids, accepts logins, authorizes from a
//! card list, answers the charger's tariff request and pushes tariffs and configuration,
//! issues remote starts and stops (now or scheduled), ingests offline orders and keeps a
//! [`Ledger`] of every transaction it confirmed, exactly once by (charger, transaction id).
//! Transaction ids are a function of the charger id and that charger's own counter, so one
//! charger's ids do not depend on the others.
//!
//! Fault modes ([`BackendFaults`], seeded): slow responses, rejected logins, dropped
//! responses, malformed payloads, and codes it never answers.
//!
//! Inputs: [`Backend::handle_publish`], [`Backend::set_charger_online`],
//! [`Backend::handle_timeout`]; commands (`commands.rs`); outputs: [`Backend::poll_publish`],
//! [`Backend::poll_event`], [`Backend::poll_timeout`]; metrics through
//! [`Backend::drain_metrics`].

mod commands;
mod ledger;
mod load;
mod pending;
mod uplink;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;

use proto::mqtt::pb;
use proto::mqtt::topic::{Direction, QoS, TopicClass};
use proto::mqtt::{Message, MessageCode, Seq};
use rand::Rng;

use crate::metrics::Metrics;
use crate::mqtt::clock::WallClock;
use crate::mqtt::metrics::{ErrorKind, MetricLog, MetricRecord, MqttMetricIds, Side};
use crate::mqtt::tariff::Tariff;
use crate::rng::EntityRng;
use crate::time::{Duration, Instant};

pub use commands::BackendError;
pub use ledger::{Ledger, LedgerEntry};

/// Backend settings.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// Unix time of virtual time.
    pub clock: WallClock,
    /// Valid registration codes (seed 注册码); empty accepts any code.
    pub registration_codes: Vec<String>,
    /// Retry interval sent with a rejected login.
    pub boot_retry_interval_s: u32,
    /// How long a backend-initiated request waits for its confirmation.
    pub response_timeout: Duration,
    /// The tariff answered to chargers' requests and pushed by `push_tariff`.
    pub tariff: Option<Tariff>,
    /// Extra wait after a remote start's plug-in timeout before the order is closed.
    pub remote_start_grace: Duration,
    /// Largest inbound payload accepted.
    pub max_payload_len: usize,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            clock: WallClock::default(),
            registration_codes: Vec::new(),
            boot_retry_interval_s: 10,
            response_timeout: Duration::from_secs(30),
            tariff: None,
            remote_start_grace: Duration::from_secs(10),
            max_payload_len: proto::mqtt::apdu::DEFAULT_MAX_PAYLOAD_LEN,
        }
    }
}

/// Fault injection, driven by the backend's seeded random stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackendFaults {
    /// Added to every response.
    pub response_delay: Duration,
    /// Uniform extra delay, 0..jitter, on top of `response_delay`.
    pub response_jitter: Duration,
    /// Fraction of logins rejected (BootNotificationConf REJECTED).
    pub reject_boot_ratio: f64,
    /// Fraction of responses silently not sent.
    pub drop_response_ratio: f64,
    /// Fraction of responses replaced by bytes that do not decode.
    pub malformed_ratio: f64,
    /// Requests never answered.
    pub never_answer: Vec<MessageCode>,
}

/// A message for one charger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downlink {
    /// The topic id: the serial for class R, the device id for C and M.
    pub charger_id: Arc<str>,
    /// The topic class.
    pub class: TopicClass,
    /// The QoS.
    pub qos: QoS,
    /// The encoded APDU.
    pub payload: Vec<u8>,
}

/// What the backend observed, for tests, reports and scenario scripts.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BackendEvent {
    /// A device registered (or re-registered and got its id back).
    Registered {
        /// The serial number.
        serial: String,
        /// Its device id.
        charger: Arc<str>,
    },
    /// A registration was refused.
    RegistrationRefused {
        /// The serial number.
        serial: String,
        /// Why.
        status: pb::RegistrationStatus,
    },
    /// A login was answered.
    Booted {
        /// The device id.
        charger: Arc<str>,
        /// Whether it was accepted.
        accepted: bool,
        /// The reason the charger gave.
        reason: pb::BootReason,
        /// The firmware version it reported.
        firmware_version: String,
    },
    /// StartTransactionReq was confirmed.
    TransactionStarted {
        /// The device id.
        charger: Arc<str>,
        /// The transaction id.
        transaction_id: u32,
        /// The charger's record.
        record_id: u32,
        /// A re-send of a start already known.
        repeat: bool,
    },
    /// A transaction end was confirmed.
    TransactionEnded {
        /// The device id.
        charger: Arc<str>,
        /// The transaction id.
        transaction_id: u32,
        /// Reported as an offline order.
        offline_order: bool,
        /// Already booked (answered, not booked again).
        duplicate: bool,
    },
    /// A confirmation of a backend request arrived.
    Response {
        /// The device id.
        charger: Arc<str>,
        /// The request it answers.
        request: MessageCode,
        /// The confirmation.
        message: Message,
    },
    /// A backend request got no confirmation in time.
    RequestTimedOut {
        /// The device id.
        charger: Arc<str>,
        /// The request.
        request: MessageCode,
    },
    /// The charger answered with MessageError.
    MessageErrorReceived {
        /// The device id.
        charger: Arc<str>,
        /// The error.
        error: pb::MessageError,
    },
    /// A status notification (firmware or diagnostics) or warning arrived.
    Notification {
        /// The device id.
        charger: Arc<str>,
        /// The message.
        message: Message,
    },
    /// A remote start was not followed by StartTransactionReq in time (seed wait-for-plug).
    RemoteStartExpired {
        /// The device id.
        charger: Arc<str>,
        /// The order.
        order_id: String,
    },
}

/// Counters of the backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendStats {
    /// APDUs received.
    pub received: u64,
    /// APDUs published.
    pub published: u64,
    /// TelemetryReq received.
    pub telemetry: u64,
    /// ChargingInfoReq received.
    pub charging_info: u64,
    /// ChargingInfoReq for a record whose start was not confirmed since the charger's login
    /// (breaks seed 离线约定 1).
    pub charging_info_before_start: u64,
    /// Responses dropped by the fault model.
    pub dropped_responses: u64,
    /// Responses replaced by garbage by the fault model.
    pub malformed_responses: u64,
    /// Logins rejected by the fault model.
    pub rejected_boots: u64,
    /// MessageError replies sent.
    pub errors_sent: u64,
}

/// An open transaction (started, not yet booked).
#[derive(Debug, Clone)]
struct OpenTx {
    meter_start_wh: u64,
    start_unix_s: i64,
    offline_start: bool,
    order_id: String,
}

/// A remote start waiting for its StartTransactionReq.
#[derive(Debug, Clone)]
struct Order {
    order_id: String,
    seq: Seq,
    /// The plug-in timeout the charger was given.
    wait: Duration,
    /// Set when the charger accepted the remote start.
    deadline: Option<Instant>,
}

/// What the backend knows about one charger.
#[derive(Debug, Clone)]
struct ChargerEntry {
    id: Arc<str>,
    logged_in: bool,
    online: bool,
    firmware_version: String,
    next_seq: Seq,
    tx_counter: u32,
    /// record id -> transaction id, for every start or offline order seen.
    records: BTreeMap<u32, u32>,
    open: BTreeMap<u32, OpenTx>,
    /// Records whose start was confirmed since the last login.
    started_this_login: Vec<u32>,
    orders: Vec<Order>,
    warnings: BTreeMap<u32, pb::WarningRecord>,
    last_charging_info: Option<pb::ChargingInfoReq>,
}

/// A backend-initiated request waiting for its confirmation.
#[derive(Debug, Clone)]
struct Pending {
    charger: Arc<str>,
    seq: Seq,
    code: MessageCode,
    intended: Instant,
    sent: Instant,
    deadline: Instant,
}

/// A downlink held back by the response delay.
#[derive(Debug)]
struct Delayed {
    due: Instant,
    order: u64,
    downlink: Downlink,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.order).cmp(&(other.due, other.order))
    }
}

/// A command scheduled for later (e.g. a remote start at a scenario time).
#[derive(Debug, Clone)]
struct Scheduled {
    at: Instant,
    charger: Arc<str>,
    message: Message,
}

/// The reference backend. See the module documentation.
#[derive(Debug)]
pub struct Backend {
    config: BackendConfig,
    faults: BackendFaults,
    rng: EntityRng,
    /// Device id -> charger.
    chargers: BTreeMap<Arc<str>, ChargerEntry>,
    /// Serial -> device id.
    serials: BTreeMap<String, Arc<str>>,
    cards: BTreeMap<String, pb::IdTagInfo>,
    pending: pending::PendingRequests,
    delayed: BinaryHeap<Reverse<Delayed>>,
    delayed_order: u64,
    scheduled: Vec<Scheduled>,
    ready: VecDeque<Downlink>,
    events: VecDeque<BackendEvent>,
    ledger: Ledger,
    metrics: MetricLog,
    stats: BackendStats,
    last_now: Instant,
    pool: Vec<Vec<u8>>,
    /// Remote-start orders open over all chargers: when there are none (the usual case),
    /// the timer poll skips the scan of every charger.
    open_orders: usize,
    /// The steady command load, if one is set.
    load: Option<load::CommandLoad>,
}

impl Backend {
    /// A backend with no charger registered yet. `seed` drives the fault model.
    pub fn new(config: BackendConfig, faults: BackendFaults, seed: u64) -> Self {
        use rand::SeedableRng;
        Backend {
            config,
            faults,
            rng: EntityRng::seed_from_u64(seed),
            chargers: BTreeMap::new(),
            serials: BTreeMap::new(),
            cards: BTreeMap::new(),
            pending: pending::PendingRequests::default(),
            delayed: BinaryHeap::new(),
            delayed_order: 0,
            scheduled: Vec::new(),
            ready: VecDeque::new(),
            events: VecDeque::new(),
            ledger: Ledger::default(),
            metrics: MetricLog::default(),
            stats: BackendStats::default(),
            open_orders: 0,
            load: None,
            last_now: Instant::ZERO,
            pool: Vec::new(),
        }
    }

    /// Adds (or replaces) a card of the card list.
    pub fn add_card(&mut self, id_tag: &str, status: pb::AuthorizationStatus, expiry_unix_s: i64) {
        let info = pb::IdTagInfo {
            status: status as i32,
            expiry_unix_s,
            ..Default::default()
        };
        self.cards.insert(id_tag.to_owned(), info);
    }

    /// The current fault settings.
    pub fn faults(&self) -> &BackendFaults {
        &self.faults
    }

    /// Replaces the fault settings.
    pub fn set_faults(&mut self, faults: BackendFaults) {
        self.faults = faults;
    }

    /// Changes the tariff answered to chargers' requests.
    pub fn set_tariff(&mut self, tariff: Option<Tariff>) {
        self.config.tariff = tariff;
    }

    /// The ledger of confirmed transactions.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Counters.
    pub fn stats(&self) -> BackendStats {
        self.stats
    }

    /// The device id registered for `serial`.
    pub fn device_id(&self, serial: &str) -> Option<&Arc<str>> {
        self.serials.get(serial)
    }

    /// Whether `charger` (device id) is logged in.
    pub fn is_logged_in(&self, charger: &str) -> bool {
        self.chargers.get(charger).is_some_and(|c| c.logged_in)
    }

    /// Transactions started and not yet booked, over all chargers.
    pub fn open_transactions(&self) -> usize {
        self.chargers.values().map(|c| c.open.len()).sum()
    }

    /// Warnings received from `charger`, by warning id.
    pub fn warnings(&self, charger: &str) -> Vec<pb::WarningRecord> {
        self.chargers
            .get(charger)
            .map(|c| c.warnings.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The last ChargingInfoReq received from `charger`.
    pub fn last_charging_info(&self, charger: &str) -> Option<&pb::ChargingInfoReq> {
        self.chargers
            .get(charger)
            .and_then(|c| c.last_charging_info.as_ref())
    }

    /// The firmware version `charger` reported at its last login.
    pub fn firmware_version(&self, charger: &str) -> Option<&str> {
        self.chargers
            .get(charger)
            .map(|c| c.firmware_version.as_str())
    }

    /// The MQTT broker reports `charger` connected or gone (seed 连接保持: the backend learns
    /// online state from the broker). Going offline logs it out.
    pub fn set_charger_online(&mut self, now: Instant, charger: &str, online: bool) {
        self.tick(now);
        if let Some(c) = self.chargers.get_mut(charger) {
            c.online = online;
            if !online {
                c.logged_in = false;
            }
        }
    }

    /// The next downlink to publish.
    pub fn poll_publish(&mut self) -> Option<Downlink> {
        let d = self.ready.pop_front()?;
        self.stats.published += 1;
        Some(d)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<BackendEvent> {
        self.events.pop_front()
    }

    /// Gives a delivered payload buffer back for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < 64 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    /// Moves the buffered metric records into `metrics`.
    pub fn drain_metrics(&mut self, ids: &MqttMetricIds, metrics: &mut Metrics) {
        self.metrics.drain_into(Side::Backend, ids, metrics);
    }

    /// The earliest deadline: a delayed response, a scheduled command, a request timeout or a
    /// remote-start order.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let delayed = self.delayed.peek().map(|Reverse(d)| d.due);
        let scheduled = self.scheduled.iter().map(|s| s.at).min();
        let pending = self.pending.next_deadline();
        // The unit tests check the count against the orders on every poll.
        #[cfg(test)]
        assert_eq!(
            self.open_orders,
            self.chargers
                .values()
                .map(|c| c.orders.len())
                .sum::<usize>(),
            "open order count"
        );
        let orders = if self.open_orders == 0 {
            None
        } else {
            self.chargers
                .values()
                .flat_map(|c| c.orders.iter().filter_map(|o| o.deadline))
                .min()
        };
        [delayed, scheduled, pending, orders, self.load_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires everything due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        while self.delayed.peek().is_some_and(|Reverse(d)| d.due <= now) {
            if let Some(Reverse(d)) = self.delayed.pop() {
                self.ready.push_back(d.downlink);
            }
        }
        let (due, later): (Vec<Scheduled>, Vec<Scheduled>) = std::mem::take(&mut self.scheduled)
            .into_iter()
            .partition(|s| s.at <= now);
        self.scheduled = later;
        for s in due {
            // A scheduled command for a charger that is gone is counted, not fatal.
            if self.send_request(now, &s.charger, s.message).is_err() {
                self.metrics.error(ErrorKind::PublishFailure, None, now);
            }
        }
        self.run_load(now);
        self.expire_requests(now);
        self.expire_orders(now);
    }

    fn expire_requests(&mut self, now: Instant) {
        for p in self.pending.expire(now) {
            self.metrics.error(ErrorKind::Timeout, Some(p.code), now);
            self.events.push_back(BackendEvent::RequestTimedOut {
                charger: p.charger,
                request: p.code,
            });
        }
    }

    fn expire_orders(&mut self, now: Instant) {
        if self.open_orders == 0 {
            return;
        }
        for c in self.chargers.values_mut() {
            let online = c.online;
            let mut expired = Vec::new();
            let before = c.orders.len();
            c.orders.retain(|o| match o.deadline {
                // Seed: the order ends only if the charger is online at the timeout.
                Some(d) if d <= now && online => {
                    expired.push(o.order_id.clone());
                    false
                }
                _ => true,
            });
            self.open_orders -= before - c.orders.len();
            for order_id in expired {
                self.events.push_back(BackendEvent::RemoteStartExpired {
                    charger: c.id.clone(),
                    order_id,
                });
            }
            for o in &mut c.orders {
                if o.deadline.is_some_and(|d| d <= now) {
                    // Offline at the deadline: look again later.
                    o.deadline = Some(now + Duration::from_secs(30));
                }
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
    }

    /// A transaction id for `charger`'s `n`-th transaction: an odd-step walk from a hash of the
    /// charger id, injective in `n`, never 0.
    fn transaction_id(charger: &str, n: u32) -> u32 {
        let base = charger.bytes().fold(0x811C_9DC5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        base.wrapping_add(n.wrapping_mul(0x9E37_79B1))
    }

    fn next_transaction_id(c: &mut ChargerEntry) -> u32 {
        loop {
            c.tx_counter = c.tx_counter.wrapping_add(1);
            let id = Self::transaction_id(&c.id, c.tx_counter);
            if id != 0 {
                return id;
            }
        }
    }

    /// Encodes and queues a downlink, applying the response faults when `response` is true.
    fn queue(
        &mut self,
        now: Instant,
        charger: Arc<str>,
        seq: Seq,
        message: &Message,
        class: TopicClass,
        response: bool,
    ) {
        let code = message.code();
        let mut payload = self.pool.pop().unwrap_or_default();
        if message.encode_apdu(seq, &mut payload).is_err() {
            self.metrics
                .error(ErrorKind::PublishFailure, Some(code), now);
            return;
        }
        let mut delay = Duration::ZERO;
        if response {
            if self.faults.drop_response_ratio > 0.0 && self.chance(self.faults.drop_response_ratio)
            {
                self.stats.dropped_responses += 1;
                self.recycle(payload);
                return;
            }
            if self.faults.malformed_ratio > 0.0 && self.chance(self.faults.malformed_ratio) {
                self.stats.malformed_responses += 1;
                self.malform(&mut payload);
            }
            delay = self.faults.response_delay;
            let jitter = self.faults.response_jitter.as_micros();
            if jitter > 0 {
                delay += Duration::from_micros(self.rng.next_u64() % jitter);
            }
        }
        self.metrics.push(MetricRecord::Sent {
            code,
            direction: Direction::Down,
            class,
        });
        let downlink = Downlink {
            charger_id: charger,
            class,
            qos: class.qos(),
            payload,
        };
        if delay == Duration::ZERO {
            self.ready.push_back(downlink);
        } else {
            self.delayed_order += 1;
            self.delayed.push(Reverse(Delayed {
                due: now + delay,
                order: self.delayed_order,
                downlink,
            }));
        }
    }

    /// Replaces a payload with bytes that do not decode: a cut-off APDU, an unknown code, or
    /// random garbage.
    fn malform(&mut self, payload: &mut Vec<u8>) {
        match self.rng.next_u32() % 3 {
            0 => {
                let keep = payload.len() / 2;
                payload.truncate(keep.max(1));
                payload.push(0x1A);
                payload.push(0x7F);
            }
            1 => {
                payload.clear();
                payload.extend_from_slice(&[0x08, 0x02, 0x10, 0x01]);
            }
            _ => {
                let len = 1 + (self.rng.next_u32() % 48) as usize;
                payload.clear();
                payload.extend((0..len).map(|_| self.rng.next_u32() as u8));
            }
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        u < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_are_per_charger_and_injective() {
        let ids: Vec<u32> = (1..=1000)
            .map(|n| Backend::transaction_id("dev-A", n))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 1000);
        assert_ne!(
            Backend::transaction_id("dev-A", 1),
            Backend::transaction_id("dev-B", 1)
        );
        // Pinned: ids are part of the trace and must not drift.
        assert_eq!(
            Backend::transaction_id("dev-A", 1),
            Backend::transaction_id("dev-A", 1)
        );
    }
}
