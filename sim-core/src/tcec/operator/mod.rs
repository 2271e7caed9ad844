//! chargestorm's operator platform (运营商平台 / 设备归属运营商) for a whole fleet, sans-IO.
//!
//! # The seam with the fleet engine
//!
//! The fleet engine registers stations with [`OperatorPlatform::add_station`] (a wire
//! [`StationInfo`] with its chargers and connectors; it gets back [`ConnectorIdx`] handles)
//! and then reports what happens through plain inputs, each stamped with virtual `now`:
//!
//! | input | effect |
//! |---|---|
//! | [`connector_status`](OperatorPlatform::connector_status) | mirror updated; a status/park/lock change is pushed at once (`notification_stationStatus`); while charging, a refresh every 10 min (DB4403 §8.4 b); BMS pushes start and stop |
//! | [`bms_sample`](OperatorPlatform::bms_sample) | the latest BMS data, pushed every reporting period (5–60 s, default 60 s, `query_frequency` changes it live) while charging |
//! | [`alarm`](OperatorPlatform::alarm) | `notification_alarmInfo` at once (the deadline is 5–60 s), with BmsInfo for DC connectors |
//! | [`event`](OperatorPlatform::event) | `notification_eventInfo` |
//! | [`session_finished`](OperatorPlatform::session_finished) | energy statistics; closes a roaming order |
//! | [`update_station`](OperatorPlatform::update_station) | `notification_stationInfo` (one station, ≤ 100 chargers per push) |
//! | [`charge_started`](OperatorPlatform::charge_started), [`charge_stopped`](OperatorPlatform::charge_stopped) | results of [`FleetCommand`]s |
//!
//! Roaming (T/CEC 102.3): when another platform calls `query_start_charge`/`query_stop_charge`,
//! the operator emits a [`FleetCommand`] through [`OperatorPlatform::poll_command`]; the fleet
//! engine really starts or stops the charger and reports back.
//!
//! # Metrics
//!
//! Every `handle_*` call of [`HttpMachine`] takes the run's `&mut Metrics`: latency per
//! interface from the intended send time under `{prefix}.{interface}` (prefix from
//! [`OperatorConfig::metrics_prefix`], default `http`), errors under
//! `{prefix}.{interface}.{ret_4002|timeout|http_500|…}`, served requests under
//! `{prefix}.in.{interface}`. Pass the same `Metrics` every time.

mod inputs;
pub mod mirror;
mod queries;
pub mod roaming;

use proto::tcec::TcecKeys;
use std::collections::{BTreeSet, VecDeque};

use crate::metrics::Metrics;
use crate::rng::EntityRng;
use crate::tcec::exchange::{
    Exchange, HttpMachine, InboundRequest, OutboundRequest, PeerId, RequestId, ServerResponse,
};
use crate::tcec::outbox::{Outbox, Outcome, SendPolicy};
use crate::tcec::peer::{PeerConfig, TokenIssuer};
use crate::tcec::serve::{self, Names};
use crate::time::{Duration, Instant};
use proto::tcec::objects::StationInfo;
use proto::tcec::time::TimeError;
use proto::tcec::{CivilEpoch, CivilTime, Interface, Ret, ServedBy};

pub use inputs::{AlarmInput, EventInput, SessionStats};
pub use mirror::{ConnectorIdx, HistoryLimits, StationHandle, StationIdx};
pub use roaming::{FleetCommand, StartFailure, Tariff, TariffPeriod};

/// Which pushes a peer receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushes {
    /// `notification_stationInfo`.
    pub station_info: bool,
    /// `notification_stationStatus`.
    pub station_status: bool,
    /// `notification_bmsInfo`.
    pub bms: bool,
    /// `notification_alarmInfo`.
    pub alarm: bool,
    /// `notification_eventInfo`.
    pub event: bool,
}

impl Pushes {
    /// Everything: a DB4403 monitoring platform.
    pub const MONITORING: Pushes = Pushes {
        station_info: true,
        station_status: true,
        bms: true,
        alarm: true,
        event: true,
    };
    /// Status only: a T/CEC 102.2 data demander or roaming partner.
    pub const STATUS_ONLY: Pushes = Pushes {
        station_info: false,
        station_status: true,
        bms: false,
        alarm: false,
        event: false,
    };
}

/// One peer of the operator platform.
#[derive(Debug, Clone)]
pub struct OperatorPeer {
    /// Keys, dialect and token lifetime.
    pub config: PeerConfig,
    /// What it is pushed.
    pub pushes: Pushes,
}

/// The operator platform's settings.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Our OperatorID (9 characters), written into AlarmInfo and EventInfo.
    pub operator_id: String,
    /// Maps virtual time to the civil time of TimeStamps and data fields.
    pub epoch: CivilEpoch,
    /// The platforms we talk to.
    pub peers: Vec<OperatorPeer>,
    /// Seed of the token strings we issue (derive it with [`crate::rng::stream`]).
    pub token_rng: EntityRng,
    /// Sending and retrying.
    pub policy: SendPolicy,
    /// BMS reporting period until `query_frequency` changes it (DB4403 §8.1.2: 60 s).
    pub bms_period: Duration,
    /// BMS period while a DC alarm is active (表19: "告警时周期 <10 秒"; default 5 s).
    pub alarm_bms_period: Duration,
    /// Status refresh while charging, `None` to push changes only (DB4403 §8.4 b: 10 min).
    pub status_refresh_while_charging: Option<Duration>,
    /// Deadline of an alarm push after the alarm (DB4403 §8.7: 5–60 s; default 60 s).
    pub alarm_deadline: Duration,
    /// History bounds.
    pub history: HistoryLimits,
    /// Largest PageSize honoured by `query_stations_info` (larger requests are clamped).
    pub max_page_size: u32,
    /// Prices for T/CEC 102.3 roaming orders.
    pub tariff: Tariff,
    /// Period of `notification_equip_charge_status` while a roaming order charges.
    pub charge_status_period: Duration,
    /// Period of `check_charge_orders` reconciliation, `None` for on demand only.
    pub reconcile_period: Option<Duration>,
    /// Prefix of metric names.
    pub metrics_prefix: String,
}

impl OperatorConfig {
    /// Defaults for `operator_id` with the given peers and token RNG.
    pub fn new(
        operator_id: &str,
        epoch: CivilEpoch,
        peers: Vec<OperatorPeer>,
        token_rng: EntityRng,
    ) -> Self {
        OperatorConfig {
            operator_id: operator_id.to_owned(),
            epoch,
            peers,
            token_rng,
            policy: SendPolicy::default(),
            bms_period: Duration::from_secs(60),
            alarm_bms_period: Duration::from_secs(5),
            status_refresh_while_charging: Some(Duration::from_secs(600)),
            alarm_deadline: Duration::from_secs(60),
            history: HistoryLimits::default(),
            max_page_size: 100,
            tariff: Tariff::flat(1.0, 0.8),
            charge_status_period: Duration::from_secs(60),
            reconcile_period: None,
            metrics_prefix: "http".to_owned(),
        }
    }
}

/// Counters a test or report can read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperatorStats {
    /// Pushes the peer acknowledged with `Ret 0`.
    pub pushes_delivered: u64,
    /// Pushes given up (after retries or on a permanent error).
    pub pushes_failed: u64,
    /// Pushes dropped because their lane was full.
    pub pushes_dropped: u64,
    /// Alarm pushes acknowledged after their deadline.
    pub alarms_late: u64,
    /// Requests served with `Ret 0`.
    pub served_ok: u64,
    /// Requests refused.
    pub served_refused: u64,
}

/// A served request's `Ret` and response.
type Served = (Ret, ServerResponse);

/// What a queued push is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpTag {
    Status,
    StationInfo,
    Bms,
    Alarm { deadline: Instant },
    Event,
    Roaming(roaming::Tag),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Bms(u32),
    StatusRefresh(u32),
    ChargeStatus(u32),
    Reconcile,
}

/// The operator platform. See the module documentation for the seam.
#[derive(Debug)]
pub struct OperatorPlatform {
    config: OperatorConfig,
    peers: Vec<PeerConfig>,
    pushes: Vec<Pushes>,
    outboxes: Vec<Outbox<OpTag>>,
    issuer: TokenIssuer,
    mirror: mirror::Mirror,
    roaming: roaming::Roaming,
    bms_period: Duration,
    timers: BTreeSet<(Instant, Timer)>,
    now: Instant,
    civil_zero: CivilTime,
    names: Names,
    stats: OperatorStats,
    round_robin: usize,
    deferred_errors: VecDeque<(Interface, String, String, Instant)>,
}

impl OperatorPlatform {
    /// Replaces the keys of peer `peer`: `outbound` are the keys the peer issued to us (our
    /// OperatorID, OperatorSecret, DataSecret, DataSecretIV, SigSecret as it knows them),
    /// `inbound` the keys we issued to it. For a real platform's keys from a file.
    pub fn set_peer_keys(&mut self, peer: PeerId, outbound: TcecKeys, inbound: TcecKeys) {
        let i = usize::from(peer.0);
        if let (Some(p), Some(o)) = (self.peers.get_mut(i), self.outboxes.get_mut(i)) {
            p.inbound = inbound.clone();
            p.outbound = outbound.clone();
            o.set_keys(inbound, outbound);
        }
    }

    /// An operator platform with no stations. Fails when the epoch is outside the civil range.
    pub fn new(config: OperatorConfig) -> Result<Self, TimeError> {
        let civil_zero = config.epoch.civil_at(Instant::ZERO)?;
        let peers: Vec<PeerConfig> = config.peers.iter().map(|p| p.config.clone()).collect();
        let outboxes = peers
            .iter()
            .enumerate()
            .map(|(i, p)| Outbox::new(PeerId(i as u16), p.clone(), config.policy))
            .collect();
        let mut timers = BTreeSet::new();
        if let Some(period) = config.reconcile_period {
            timers.insert((Instant::ZERO + period, Timer::Reconcile));
        }
        Ok(OperatorPlatform {
            pushes: config.peers.iter().map(|p| p.pushes).collect(),
            issuer: TokenIssuer::new(config.token_rng.clone()),
            bms_period: config.bms_period,
            names: Names::new(&config.metrics_prefix),
            peers,
            outboxes,
            mirror: mirror::Mirror::default(),
            roaming: roaming::Roaming::default(),
            timers,
            now: Instant::ZERO,
            civil_zero,
            stats: OperatorStats::default(),
            round_robin: 0,
            deferred_errors: VecDeque::new(),
            config,
        })
    }

    /// Starts the platform's clock at `now`: a platform built ahead of a real-time run
    /// (its stations mirrored, pushes queued) is handed to a wall clock that reads `now`.
    /// Its time and the intended send times of queued pushes move up to `now`, so the
    /// first requests are neither stamped with a stale time nor charged the setup.
    pub fn start_clock(&mut self, now: Instant) {
        self.now = self.now.max(now);
        for outbox in &mut self.outboxes {
            outbox.rebase(now);
        }
    }

    /// The civil time at `now`.
    pub fn civil(&self, now: Instant) -> CivilTime {
        self.config.epoch.civil_at(now).unwrap_or(self.civil_zero)
    }

    /// The current BMS reporting period.
    pub fn bms_period(&self) -> Duration {
        self.bms_period
    }

    /// Counters.
    pub fn stats(&self) -> OperatorStats {
        self.stats
    }

    /// The connector index of a ConnectorID.
    pub fn connector_index(&self, connector_id: &str) -> Option<ConnectorIdx> {
        self.mirror.connector_index(connector_id).map(ConnectorIdx)
    }

    /// The ConnectorID of a connector index.
    pub fn connector_id(&self, connector: ConnectorIdx) -> Option<&str> {
        self.mirror
            .connectors
            .get(connector.0 as usize)
            .map(|c| c.id.as_str())
    }

    /// Number of stations.
    pub fn station_count(&self) -> usize {
        self.mirror.stations.len()
    }

    /// Pushes queued or in flight on every peer.
    pub fn pending_pushes(&self) -> usize {
        self.outboxes
            .iter()
            .map(|o| o.queued() + o.in_flight())
            .sum()
    }

    /// Whether nothing is queued or in flight.
    pub fn is_idle(&self) -> bool {
        self.outboxes.iter().all(Outbox::is_idle)
    }

    /// The next command for the fleet engine (roaming starts and stops).
    pub fn poll_command(&mut self) -> Option<FleetCommand> {
        self.roaming.commands.pop_front()
    }

    fn arm(&mut self, at: Instant, timer: Timer) {
        self.timers.insert((at, timer));
    }

    /// Adds a station (or replaces one with the same StationID) and pushes it to the peers
    /// that take `notification_stationInfo`.
    pub fn add_station(&mut self, now: Instant, info: StationInfo) -> StationHandle {
        self.update_station(now, info)
    }

    /// Replaces a station's description (StationID decides which) and pushes the change.
    pub fn update_station(&mut self, now: Instant, info: StationInfo) -> StationHandle {
        self.now = self.now.max(now);
        let civil = self.civil(now);
        let handle = self.mirror.upsert_station(info, civil);
        self.push_station_info(now, handle.station.0);
        handle
    }

    fn fire_timer(&mut self, now: Instant, at: Instant, timer: Timer) {
        match timer {
            Timer::Bms(c) => self.bms_timer(now, at, c),
            Timer::StatusRefresh(c) => self.status_refresh_timer(now, at, c),
            Timer::ChargeStatus(c) => self.charge_status_timer(now, c),
            Timer::Reconcile => {
                for peer in 0..self.outboxes.len() {
                    self.reconcile(now, PeerId(peer as u16));
                }
                if let Some(period) = self.config.reconcile_period {
                    self.arm(now + period, Timer::Reconcile);
                }
            }
        }
    }

    fn flush_deferred(&mut self, metrics: &mut Metrics) {
        while let Some((iface, kind, text, at)) = self.deferred_errors.pop_front() {
            self.names.count_error(metrics, iface, &kind, at, &text);
        }
    }

    fn handle_outcome(&mut self, now: Instant, peer: PeerId, outcome: Outcome<OpTag>) {
        match outcome {
            Outcome::Delivered { tag, data, .. } => {
                self.stats.pushes_delivered += 1;
                match tag {
                    OpTag::Alarm { deadline } if now > deadline => {
                        self.stats.alarms_late += 1;
                        self.deferred_errors.push_back((
                            Interface::NotificationAlarmInfo,
                            "deadline_missed".to_owned(),
                            format!("alarm acknowledged {} after its deadline", now - deadline),
                            now,
                        ));
                    }
                    OpTag::Roaming(tag) => self.roaming_ack(now, peer, tag, data.as_deref()),
                    _ => {}
                }
            }
            // The outbox counted the error by kind; the push stays in the history, so the
            // platform can still re-collect it with supplement_collect.
            Outcome::Failed { .. } => self.stats.pushes_failed += 1,
        }
    }
}

impl HttpMachine for OperatorPlatform {
    fn handle_request(
        &mut self,
        now: Instant,
        request: InboundRequest<'_>,
        metrics: &mut Metrics,
    ) -> ServerResponse {
        self.now = self.now.max(now);
        let serves = |i: Interface| i.served_by() != ServedBy::Peer;
        let opened = serve::open_inbound(now, request, &self.peers, &self.issuer, serves);
        let (iface, ret, response) = match opened {
            Err((iface, response)) => (iface, response_ret(&response), response),
            Ok(opened) => {
                let (ret, response) = self.serve(now, &opened);
                (Some(opened.interface), ret, response)
            }
        };
        if ret.is_success() {
            self.stats.served_ok += 1;
        } else {
            self.stats.served_refused += 1;
        }
        self.names.count_served(metrics, iface, ret, now, "refused");
        response
    }

    fn poll_request(&mut self) -> Option<OutboundRequest> {
        let n = self.outboxes.len();
        let civil = self.civil(self.now);
        for k in 0..n {
            let i = (self.round_robin + k) % n;
            if let Some(req) = self
                .outboxes
                .get_mut(i)
                .and_then(|o| o.poll(self.now, civil))
            {
                self.round_robin = (i + 1) % n;
                return Some(req);
            }
        }
        None
    }

    fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        exchange: Exchange,
        metrics: &mut Metrics,
    ) {
        self.now = self.now.max(now);
        let peer = id.peer();
        let outcome = match self.outboxes.get_mut(usize::from(peer.0)) {
            Some(o) => o.handle_response(now, id, exchange, &self.names, metrics),
            None => None,
        };
        if let Some(outcome) = outcome {
            self.handle_outcome(now, peer, outcome);
        }
        self.flush_deferred(metrics);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let timers = self.timers.first().map(|(t, _)| *t);
        self.outboxes
            .iter()
            .filter_map(Outbox::poll_timeout)
            .chain(timers)
            .min()
    }

    fn handle_timeout(&mut self, now: Instant, metrics: &mut Metrics) {
        self.now = self.now.max(now);
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            self.fire_timer(now, at, timer);
        }
        for o in &mut self.outboxes {
            o.handle_timeout(now);
        }
        self.flush_deferred(metrics);
    }
}

/// The `Ret` inside a refusal (for counting), `Other(404)` for a path not served here.
fn response_ret(response: &ServerResponse) -> Ret {
    proto::tcec::ResponseEnvelope::parse(&response.body).map_or(Ret::Other(404), |e| e.ret)
}
