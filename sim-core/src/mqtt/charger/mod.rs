//! The charger side of the seed-004 protocol, sans-IO: one [`ChargerClient`] per charger.
//!
//! ```text
//!            handle_connected                  DeviceRegistrationConf
//!   Down ───────────────────────► Registering ───────────────────────┐
//!    ▲  ▲                          (no device id)                     ▼
//!    │  │ reconnect timer                                          Booting ──► BootNotificationConf
//!    │  │ (jittered back-off)        handle_connected (device id) ──▲   │      REJECTED/PENDING: retry
//!    │  └──────────── handle_disconnected ◄──────────────┐          │   │      after interval_s
//!    │                                                   │          │   ▼ ACCEPTED
//!  Rebooting ◄── Reset / firmware installed ─────────── Online ◄────┘
//!  (reboot timer, then Connect)                          │
//!                                                        └─ outbox replay, tariff request, status
//! ```
//!
//! Method families, after quinn-proto's `Connection`:
//! - transport inputs: [`ChargerClient::handle_connected`], [`ChargerClient::handle_connect_failed`],
//!   [`ChargerClient::handle_disconnected`], [`ChargerClient::handle_publish`];
//! - application inputs (`app.rs`): connector status, authorize, start/stop transaction,
//!   samples, BMS data, warnings;
//! - timers: [`ChargerClient::poll_timeout`] and [`ChargerClient::handle_timeout`];
//! - outputs, drained in this order after every input: [`ChargerClient::poll_publish`] (the
//!   APDUs to publish), [`ChargerClient::poll_transport`] (connect/disconnect), then
//!   [`ChargerClient::poll_event`] (what the application must do).
//!
//! Inputs must come in non-decreasing `now`. Metrics are buffered in a [`MetricLog`] and
//! drained with [`ChargerClient::drain_metrics`]: latency of every request/confirmation pair
//! (matched by seq) from its intended send time, errors by kind, messages sent by code and class.
//!
//! Transaction messages (StartTransactionReq, StopTransactionReq, TransactionReq) live in an
//! outbox (`outbox.rs`) until their confirmation arrives, and are re-sent after every login
//! whatever the broker kept: MQTT QoS and rumqttc's queue are not trusted with them.

mod app;
mod cache;
mod firmware;
mod inbound;
mod monitor;
mod outbox;
pub mod settings;
mod types;

use std::collections::VecDeque;

use proto::mqtt::pb;
use proto::mqtt::topic::{Direction, TopicClass};
use proto::mqtt::{Message, MessageCode, Seq};

use crate::metrics::Metrics;
use crate::mqtt::backoff::Backoff;
use crate::mqtt::metrics::{ErrorKind, MetricLog, MetricRecord, MqttMetricIds, Side};
use crate::mqtt::tariff::Tariff;
use crate::rng::EntityRng;
use crate::time::{Duration, Instant};

pub use cache::CardCache;
pub use firmware::{firmware_image, md5_hex};
pub use outbox::{OutboxStats, TxRecord};
pub use types::{
    ChargerIdentity, ClientConfig, ClientError, ClientEvent, IdToken, Outbound, RecordId, Sample,
    TransportCommand,
};

use firmware::{DiagnosticsProc, FirmwareProc};
use monitor::WarningLog;
use outbox::Outbox;

/// The login phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No connection; the reconnect timer runs.
    Down,
    /// Connected, waiting for DeviceRegistrationConf (or its retry).
    Registering,
    /// Connected and registered, waiting for BootNotificationConf (or its retry).
    Booting,
    /// Logged in: business messages flow.
    Online,
    /// Rebooting (Reset, firmware); off the network until the reboot timer fires.
    Rebooting,
}

/// The timers, as data: one deadline slot each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// Ask the transport to connect.
    Reconnect = 0,
    /// Re-send the registration or the login.
    LoginRetry = 1,
    /// The earliest confirmation deadline.
    Response = 2,
    /// The next outbox attempt.
    Outbox = 3,
    /// Periodic TelemetryReq.
    Telemetry = 4,
    /// Periodic ChargingInfoReq.
    ChargingInfo = 5,
    /// Per-connector deadlines: wait-for-plug, reservation expiry, time targets.
    Connector = 6,
    /// The next firmware-update step.
    Firmware = 7,
    /// The next diagnostics-upload step.
    Diagnostics = 8,
    /// End of a reboot.
    Reboot = 9,
}

const TIMERS: [Timer; 10] = [
    Timer::Reconnect,
    Timer::LoginRetry,
    Timer::Response,
    Timer::Outbox,
    Timer::Telemetry,
    Timer::ChargingInfo,
    Timer::Connector,
    Timer::Firmware,
    Timer::Diagnostics,
    Timer::Reboot,
];

/// What a pending request was for, to act on its confirmation, error or timeout.
#[derive(Debug, Clone, PartialEq)]
enum Purpose {
    Registration,
    Boot,
    Authorize { connector: u32, token: IdToken },
    Transaction { record_id: RecordId },
    TariffRequest,
    Warning,
    Notification,
}

/// A request waiting for its confirmation.
#[derive(Debug, Clone)]
struct Pending {
    seq: Seq,
    code: MessageCode,
    intended: Instant,
    sent: Instant,
    deadline: Instant,
    purpose: Purpose,
}

/// Per-connector state.
#[derive(Debug, Clone, Default)]
struct Connector {
    status: pb::ConnectorStatus,
    sample: Option<Sample>,
    /// A remote start waiting for `start_transaction`.
    pending_start: Option<PendingStart>,
    reservation: Option<Reservation>,
    /// The running transaction.
    active: Option<RecordId>,
    bms: Option<Box<pb::DcChargingInfo>>,
    warnings: proto::mqtt::warning::WarningBitmap,
}

#[derive(Debug, Clone)]
struct PendingStart {
    id_tag: String,
    plan: pb::ChargingPlan,
    order_id: String,
    reservation_id: u32,
    deadline: Instant,
}

#[derive(Debug, Clone)]
struct Reservation {
    id: u32,
    id_tag: String,
    expiry: Instant,
}

/// A fixed-size ring of recently seen keys (completed request seqs, handled inbound requests).
#[derive(Debug, Clone)]
struct Recent<T: Copy + PartialEq> {
    items: Vec<T>,
    next: usize,
}

impl<T: Copy + PartialEq> Recent<T> {
    const LEN: usize = 64;

    fn new() -> Self {
        Recent {
            items: Vec::with_capacity(Self::LEN),
            next: 0,
        }
    }

    fn contains(&self, item: &T) -> bool {
        self.items.contains(item)
    }

    fn insert(&mut self, item: T) {
        if self.items.len() < Self::LEN {
            self.items.push(item);
        } else if let Some(slot) = self.items.get_mut(self.next) {
            *slot = item;
        }
        self.next = (self.next + 1) % Self::LEN;
    }
}

/// Counters a test or report can read directly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// APDUs handed to the transport.
    pub published: u64,
    /// APDUs received.
    pub received: u64,
    /// Logins accepted.
    pub logins: u64,
    /// MessageError replies sent.
    pub errors_sent: u64,
    /// ChargingInfoReq sent.
    pub charging_infos: u64,
    /// TelemetryReq sent.
    pub telemetries: u64,
}

/// The charger side of the protocol for one charger. See the module documentation.
#[derive(Debug)]
pub struct ChargerClient {
    identity: ChargerIdentity,
    config: ClientConfig,
    rng: EntityRng,
    phase: Phase,
    connected: bool,
    boot_reason: pb::BootReason,
    backoff: Backoff,
    next_seq: Seq,
    pending: Vec<Pending>,
    recent_seqs: Recent<Seq>,
    recent_inbound: Recent<(MessageCode, Seq)>,
    timers: [Option<Instant>; 10],
    connectors: Vec<Connector>,
    outbox: Outbox,
    cache: CardCache,
    tariff: Option<Tariff>,
    warnings: WarningLog,
    firmware: FirmwareProc,
    diagnostics: DiagnosticsProc,
    out: VecDeque<Outbound>,
    events: VecDeque<ClientEvent>,
    transport: VecDeque<TransportCommand>,
    pool: Vec<Vec<u8>>,
    metrics: MetricLog,
    last_now: Instant,
    stats: ClientStats,
}

impl ChargerClient {
    /// A powered-up charger that has not connected yet: its first output is
    /// [`TransportCommand::Connect`]. `seed` drives its reconnect jitter (derive it with
    /// `rng::derive(root, Domain::Protocol, charger_index)`).
    pub fn new(identity: ChargerIdentity, config: ClientConfig, seed: u64) -> Self {
        use rand::SeedableRng;
        let connectors = vec![Connector::default(); identity.connectors as usize];
        let backoff = Backoff::new(config.reconnect_min, config.reconnect_max);
        let cache = CardCache::new(config.card_cache_capacity);
        let warnings = WarningLog::new(config.warning_log_capacity);
        let mut client = ChargerClient {
            identity,
            config,
            rng: EntityRng::seed_from_u64(seed),
            phase: Phase::Down,
            connected: false,
            boot_reason: pb::BootReason::PowerUp,
            backoff,
            next_seq: 1,
            pending: Vec::new(),
            recent_seqs: Recent::new(),
            recent_inbound: Recent::new(),
            timers: [None; 10],
            connectors,
            outbox: Outbox::default(),
            cache,
            tariff: None,
            warnings,
            firmware: FirmwareProc::default(),
            diagnostics: DiagnosticsProc::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            transport: VecDeque::new(),
            pool: Vec::new(),
            metrics: MetricLog::default(),
            last_now: Instant::ZERO,
            stats: ClientStats::default(),
        };
        for c in &mut client.connectors {
            c.status = pb::ConnectorStatus::Available;
        }
        client.transport.push_back(TransportCommand::Connect);
        client
    }

    // ---- getters -------------------------------------------------------------------------

    /// The identity (with the device id once registered).
    pub fn identity(&self) -> &ChargerIdentity {
        &self.identity
    }

    /// The id of the topics of `class`: the serial for R, the device id for C and M (`None`
    /// before registration).
    pub fn topic_id(&self, class: TopicClass) -> Option<&str> {
        match class {
            TopicClass::Registration => Some(&self.identity.serial),
            TopicClass::Command | TopicClass::Telemetry => self.identity.device_id.as_deref(),
        }
    }

    /// The current configuration (HeartbeatInterval is the MQTT keep-alive to use).
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The login phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the transport is connected.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The active tariff.
    pub fn tariff(&self) -> Option<&Tariff> {
        self.tariff.as_ref()
    }

    /// The ID-card cache.
    pub fn card_cache(&self) -> &CardCache {
        &self.cache
    }

    /// The transaction records not yet confirmed (running or finished).
    pub fn outbox(&self) -> impl Iterator<Item = &TxRecord> {
        self.outbox.records()
    }

    /// Outbox counters (records created, confirmed, re-sends).
    pub fn outbox_stats(&self) -> OutboxStats {
        self.outbox.stats()
    }

    /// Message counters.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// The status last set for `connector`.
    pub fn connector_status(&self, connector: u32) -> Option<pb::ConnectorStatus> {
        self.connector(connector).map(|c| c.status)
    }

    /// The running transaction of `connector`.
    pub fn active_transaction(&self, connector: u32) -> Option<RecordId> {
        self.connector(connector).and_then(|c| c.active)
    }

    /// Metric records not yet drained.
    pub fn metric_log(&self) -> &MetricLog {
        &self.metrics
    }

    // ---- transport inputs ----------------------------------------------------------------

    /// The MQTT connection is up (CONNACK received). Registers or logs in.
    pub fn handle_connected(&mut self, now: Instant) {
        self.tick(now);
        if self.connected || self.phase == Phase::Rebooting {
            return;
        }
        self.connected = true;
        self.backoff.reset();
        self.set_timer(Timer::Reconnect, None);
        if self.identity.device_id.is_none() {
            self.phase = Phase::Registering;
            self.send_registration(now, now);
        } else {
            self.phase = Phase::Booting;
            self.send_boot(now, now);
        }
    }

    /// A connection attempt failed; the next one is scheduled with back-off.
    pub fn handle_connect_failed(&mut self, now: Instant) {
        self.tick(now);
        self.metrics.error(ErrorKind::Disconnect, None, now);
        if !self.connected && self.phase == Phase::Down {
            self.schedule_reconnect(now);
        }
    }

    /// The MQTT connection dropped. Pending requests fail, finished-but-unconfirmed
    /// transactions become offline orders, and a reconnect is scheduled.
    pub fn handle_disconnected(&mut self, now: Instant) {
        self.tick(now);
        if !self.connected {
            return;
        }
        self.connected = false;
        if self.phase != Phase::Rebooting {
            self.metrics.error(ErrorKind::Disconnect, None, now);
        }
        self.go_offline(now);
        if self.phase != Phase::Rebooting {
            self.phase = Phase::Down;
            self.boot_reason = pb::BootReason::Reconnect;
            self.schedule_reconnect(now);
        }
    }

    fn go_offline(&mut self, now: Instant) {
        for p in std::mem::take(&mut self.pending) {
            self.recent_seqs.insert(p.seq);
            match p.purpose {
                Purpose::Authorize { connector, token } => {
                    self.authorize_offline(now, connector, &token);
                }
                Purpose::Warning => self.warnings.unsent_again(),
                _ => {}
            }
        }
        self.outbox.on_link_lost();
        for t in [
            Timer::LoginRetry,
            Timer::Response,
            Timer::Outbox,
            Timer::Telemetry,
            Timer::ChargingInfo,
        ] {
            self.set_timer(t, None);
        }
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        let delay = self.backoff.next_delay(&mut self.rng);
        self.set_timer(Timer::Reconnect, Some(now + delay));
    }

    // ---- outputs -------------------------------------------------------------------------

    /// The next APDU to publish.
    pub fn poll_publish(&mut self) -> Option<Outbound> {
        self.out.pop_front()
    }

    /// The next transport command (poll after `poll_publish`, so a reply queued before a
    /// reboot is published before the connection closes).
    pub fn poll_transport(&mut self) -> Option<TransportCommand> {
        self.transport.pop_front()
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Gives a published payload buffer back for reuse (keeps at most a few).
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < 8 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    /// Moves the buffered metric records into `metrics`.
    pub fn drain_metrics(&mut self, ids: &MqttMetricIds, metrics: &mut Metrics) {
        self.metrics.drain_into(Side::Charger, ids, metrics);
    }

    // ---- timers --------------------------------------------------------------------------

    /// The earliest deadline, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        for timer in TIMERS {
            let Some(deadline) = self.timers[timer as usize] else {
                continue;
            };
            if deadline > now {
                continue;
            }
            self.timers[timer as usize] = None;
            self.fire(timer, deadline, now);
        }
    }

    fn fire(&mut self, timer: Timer, deadline: Instant, now: Instant) {
        match timer {
            Timer::Reconnect => {
                if !self.connected && self.phase == Phase::Down {
                    self.transport.push_back(TransportCommand::Connect);
                }
            }
            Timer::LoginRetry => match self.phase {
                Phase::Registering if self.connected => self.send_registration(deadline, now),
                Phase::Booting if self.connected => self.send_boot(deadline, now),
                _ => {}
            },
            Timer::Response => self.expire_pending(now),
            Timer::Outbox => self.pump_outbox(now),
            Timer::Telemetry => self.periodic_telemetry(deadline, now),
            Timer::ChargingInfo => self.periodic_charging_info(deadline, now),
            Timer::Connector => self.connector_deadlines(now),
            Timer::Firmware => self.firmware_step(deadline, now),
            Timer::Diagnostics => self.diagnostics_step(deadline, now),
            Timer::Reboot => self.finish_reboot(now),
        }
    }

    fn set_timer(&mut self, timer: Timer, at: Option<Instant>) {
        self.timers[timer as usize] = at;
    }

    fn tick(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
    }

    // ---- login ---------------------------------------------------------------------------

    fn send_registration(&mut self, intended: Instant, now: Instant) {
        let req = pb::DeviceRegistrationReq {
            model: self.identity.model.clone(),
            serial_number: self.identity.serial.clone(),
            vendor_code: self.identity.vendor.clone(),
            registration_code: self.identity.registration_code.clone(),
        };
        self.send_request(now, intended, req.into(), Purpose::Registration);
    }

    fn boot_message(&self) -> pb::BootNotificationReq {
        pb::BootNotificationReq {
            vendor: self.identity.vendor.clone(),
            model: self.identity.model.clone(),
            serial_number: self.identity.serial.clone(),
            firmware_version: self.identity.firmware_version.clone(),
            connector_count: self.identity.connectors,
            charger_kind: self.identity.kind as i32,
            rated_power_w: self.identity.rated_power_w,
            protocol_version: settings::PROTOCOL_VERSION.to_owned(),
            reason: self.boot_reason as i32,
            ..Default::default()
        }
    }

    fn send_boot(&mut self, intended: Instant, now: Instant) {
        let req = self.boot_message();
        self.send_request(now, intended, req.into(), Purpose::Boot);
    }

    fn on_registration_conf(&mut self, now: Instant, conf: pb::DeviceRegistrationConf) {
        let kept = conf.status() == pb::RegistrationStatus::AlreadyRegistered
            && !conf.device_id.is_empty();
        let accepted = conf.status() == pb::RegistrationStatus::Accepted
            && proto::mqtt::topic::validate_id(&conf.device_id).is_ok();
        if self.phase != Phase::Registering {
            self.metrics.error(
                ErrorKind::Unexpected,
                Some(MessageCode::DeviceRegistrationConf),
                now,
            );
            return;
        }
        if accepted || (kept && proto::mqtt::topic::validate_id(&conf.device_id).is_ok()) {
            self.identity.device_id = Some(conf.device_id.clone());
            self.events.push_back(ClientEvent::Registered {
                device_id: conf.device_id,
            });
            self.phase = Phase::Booting;
            self.send_boot(now, now);
        } else {
            self.metrics.error(
                ErrorKind::Rejected,
                Some(MessageCode::DeviceRegistrationReq),
                now,
            );
            self.events.push_back(ClientEvent::RegistrationRejected {
                status: conf.status(),
            });
            let retry = now + self.config.registration_retry;
            self.set_timer(Timer::LoginRetry, Some(retry));
        }
    }

    fn on_boot_conf(&mut self, now: Instant, conf: pb::BootNotificationConf) {
        if self.phase != Phase::Booting {
            self.metrics.error(
                ErrorKind::Unexpected,
                Some(MessageCode::BootNotificationConf),
                now,
            );
            return;
        }
        if conf.status() == pb::BootStatus::Accepted {
            self.phase = Phase::Online;
            self.stats.logins += 1;
            self.boot_reason = pb::BootReason::Reconnect;
            self.events.push_back(ClientEvent::BootAccepted);
            self.on_login(now);
            return;
        }
        self.metrics.error(
            ErrorKind::Rejected,
            Some(MessageCode::BootNotificationReq),
            now,
        );
        let retry_in = if conf.interval_s > 0 {
            Duration::from_secs(u64::from(conf.interval_s))
        } else {
            self.config.boot_retry
        };
        self.events.push_back(ClientEvent::BootRejected {
            status: conf.status(),
            retry_in,
        });
        self.set_timer(Timer::LoginRetry, Some(now + retry_in));
    }

    /// Logged in: ask for the tariff, replay the outbox, report every connector's status,
    /// re-send unconfirmed warnings, start the periodic reports.
    fn on_login(&mut self, now: Instant) {
        if self.config.request_tariff_on_boot {
            // Seed: the charger's SetTariffReq has an empty payload.
            self.send_request(
                now,
                now,
                pb::SetTariffReq::default().into(),
                Purpose::TariffRequest,
            );
        }
        self.firmware_after_login(now);
        self.outbox.on_login(now);
        self.pump_outbox(now);
        self.report_all_status(now);
        self.resend_warnings(now);
        self.arm_periodic(now);
    }

    fn arm_periodic(&mut self, now: Instant) {
        let t = self.config.telemetry_interval;
        self.set_timer(Timer::Telemetry, (t > Duration::ZERO).then(|| now + t));
        let c = self.config.charging_info_interval;
        self.set_timer(Timer::ChargingInfo, (c > Duration::ZERO).then(|| now + c));
    }

    /// Starts a reboot: disconnect now, reconnect after `reboot_duration`, then log in with
    /// `reason`.
    fn begin_reboot(&mut self, now: Instant, reason: pb::BootReason) {
        if self.phase == Phase::Rebooting {
            return;
        }
        self.go_offline(now);
        self.phase = Phase::Rebooting;
        self.boot_reason = reason;
        self.set_timer(Timer::Reconnect, None);
        self.set_timer(Timer::Reboot, Some(now + self.config.reboot_duration));
        if self.connected {
            self.transport.push_back(TransportCommand::Disconnect);
        }
    }

    fn finish_reboot(&mut self, now: Instant) {
        if self.phase != Phase::Rebooting {
            return;
        }
        self.connected = false;
        self.phase = Phase::Down;
        self.events.push_back(ClientEvent::Rebooted {
            reason: self.boot_reason,
        });
        self.backoff.reset();
        self.set_timer(Timer::Reconnect, Some(now));
    }

    // ---- sending -------------------------------------------------------------------------

    fn next_seq(&mut self) -> Seq {
        let seq = self.next_seq;
        // Seq 0 is "absent" in proto3; skip it on wrap-around.
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        seq
    }

    /// Sends a request that expects a confirmation; returns its seq, or `None` when it could
    /// not be published (not connected, or encoding failed).
    fn send_request(
        &mut self,
        now: Instant,
        intended: Instant,
        message: Message,
        purpose: Purpose,
    ) -> Option<Seq> {
        let seq = self.next_seq();
        let code = message.code();
        if !self.publish(now, seq, &message, code.class()) {
            return None;
        }
        if code.conf_of().is_some() || purpose == Purpose::TariffRequest {
            self.pending.push(Pending {
                seq,
                code,
                intended,
                sent: now,
                deadline: now + self.config.response_timeout,
                purpose,
            });
            self.arm_response_timer();
        }
        Some(seq)
    }

    /// Sends a message that gets no confirmation (telemetry) or is one (a Conf, `seq` echoed).
    fn send_plain(&mut self, now: Instant, seq: Option<Seq>, message: Message) {
        let seq = seq.unwrap_or_else(|| self.next_seq());
        let class = message.code().class();
        self.publish(now, seq, &message, class);
    }

    /// Answers an offending inbound APDU with MessageError on the class it came on.
    fn send_error(
        &mut self,
        now: Instant,
        class: TopicClass,
        offending_code: u32,
        seq: Seq,
        error_code: pb::ErrorCode,
        text: &str,
    ) {
        // Never answer an error with an error: two confused peers would ping-pong forever.
        if offending_code == u32::from(MessageCode::MessageError.value()) {
            return;
        }
        let message = pb::MessageError {
            error_code: error_code as i32,
            error_text: text.to_owned(),
            offending_code,
            offending_seq: seq,
        };
        if self.publish(now, seq, &message.into(), class) {
            self.stats.errors_sent += 1;
        }
    }

    fn publish(&mut self, now: Instant, seq: Seq, message: &Message, class: TopicClass) -> bool {
        if !self.connected {
            return false;
        }
        let code = message.code();
        let mut buf = self.pool.pop().unwrap_or_default();
        if message.encode_apdu(seq, &mut buf).is_err() {
            self.metrics
                .error(ErrorKind::PublishFailure, Some(code), now);
            self.recycle(buf);
            return false;
        }
        self.metrics.push(MetricRecord::Sent {
            code,
            direction: Direction::Up,
            class,
        });
        self.stats.published += 1;
        self.out.push_back(Outbound {
            class,
            qos: class.qos(),
            seq,
            code,
            payload: buf,
        });
        true
    }

    // ---- pending requests ----------------------------------------------------------------

    fn arm_response_timer(&mut self) {
        let next = self.pending.iter().map(|p| p.deadline).min();
        self.set_timer(Timer::Response, next);
    }

    /// Removes the pending request `seq` answered by `code` (a Conf or MessageError) and
    /// records its latency. `Err(true)` = a known seq answered twice or late (duplicate);
    /// `Err(false)` = an unknown seq or a Conf of the wrong type.
    fn take_pending(&mut self, now: Instant, seq: Seq, code: MessageCode) -> Result<Pending, bool> {
        let Some(index) = self.pending.iter().position(|p| p.seq == seq) else {
            return Err(self.recent_seqs.contains(&seq));
        };
        let expected = self.pending.get(index).and_then(|p| {
            if p.purpose == Purpose::TariffRequest {
                Some(MessageCode::SetTariffReq)
            } else {
                p.code.conf_of()
            }
        });
        if code != MessageCode::MessageError && expected != Some(code) {
            return Err(false);
        }
        let pending = self.pending.swap_remove(index);
        self.recent_seqs.insert(seq);
        if code != MessageCode::MessageError {
            self.metrics.push(MetricRecord::Latency {
                request: pending.code,
                intended: pending.intended,
                sent: pending.sent,
                done: now,
            });
        }
        self.arm_response_timer();
        Ok(pending)
    }

    fn expire_pending(&mut self, now: Instant) {
        let mut expired = Vec::new();
        self.pending.retain(|p| {
            if p.deadline <= now {
                expired.push(p.clone());
                false
            } else {
                true
            }
        });
        for p in expired {
            self.recent_seqs.insert(p.seq);
            self.metrics.error(ErrorKind::Timeout, Some(p.code), now);
            self.request_failed(now, p);
        }
        self.arm_response_timer();
    }

    /// A request timed out or was answered with MessageError.
    fn request_failed(&mut self, now: Instant, p: Pending) {
        match p.purpose {
            Purpose::Registration if self.phase == Phase::Registering => {
                let at = now + self.config.registration_retry;
                self.set_timer(Timer::LoginRetry, Some(at));
            }
            Purpose::Boot if self.phase == Phase::Booting => {
                self.set_timer(Timer::LoginRetry, Some(now + self.config.boot_retry));
            }
            Purpose::Authorize { connector, token } => {
                self.authorize_offline(now, connector, &token);
            }
            Purpose::Transaction { record_id } => self.transaction_failed(now, record_id),
            Purpose::Warning => self.warnings.unsent_again(),
            _ => {}
        }
    }

    fn connector(&self, connector: u32) -> Option<&Connector> {
        connector
            .checked_sub(1)
            .and_then(|i| self.connectors.get(i as usize))
    }

    fn connector_mut(&mut self, connector: u32) -> Option<&mut Connector> {
        connector
            .checked_sub(1)
            .and_then(|i| self.connectors.get_mut(i as usize))
    }
}
