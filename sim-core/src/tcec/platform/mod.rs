//! The reference monitoring platform (DB4403 市级监控平台), sans-IO.
//!
//! It serves `query_token` and the `notification_*` pushes: every push is authenticated
//! (token, Sig), decrypted, validated under the peer's dialect and only then stored. It polls
//! the operators on a schedule ([`PollSchedule`]): `query_stations_info` page by page,
//! `query_stations_status` in batches of 50, `query_bms_info`, the statistics, and
//! `query_frequency` once; after a charging session whose BMS pushes came up short it checks
//! `supplement_query_bms_intact` and re-collects with `supplement_collect`.
//!
//! It checks data correctness against the simulation's ground truth
//! ([`MonitoringPlatform::ground_truth`], see [`correctness`]) and injects faults on demand
//! ([`PlatformFaults`], drawn from a seeded RNG): slow answers (a future `respond_at`), HTTP
//! 500, `Ret -1` busy, responses with a corrupted Sig, and tokens that expire early.
//!
//! Metrics as for the operator platform, under the prefix `platform` by default.

mod correctness;
mod ingest;
mod poll;

use std::collections::{BTreeMap, VecDeque};

use crate::metrics::Metrics;
use crate::rng::EntityRng;
use crate::tcec::exchange::{
    Exchange, HttpMachine, InboundRequest, OutboundRequest, PeerId, RequestId, ServerResponse,
};
use crate::tcec::outbox::{Outbox, SendPolicy};
use crate::tcec::peer::{PeerConfig, TokenIssuer};
use crate::tcec::serve::Names;
use crate::tcec::snapshot::{ConnectorSnapshot, Tolerance};
use crate::time::{Duration, Instant};
use proto::tcec::objects::{AlarmInfo, BmsInfoReport, ConnectorStatusInfo, EventInfo, StationInfo};
use proto::tcec::time::TimeError;
use proto::tcec::{CivilEpoch, CivilTime, Dialect};

pub use correctness::{CorrectnessReport, Mismatch};
pub use poll::{ManualResponse, PollTag};

/// Faults the platform injects into its answers. Ratios are probabilities per request.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlatformFaults {
    /// Extra time before every answer.
    pub response_delay: Duration,
    /// A further uniform random delay in `0..=response_jitter`.
    pub response_jitter: Duration,
    /// Share of requests answered with HTTP 500 (nothing stored).
    pub error_500_ratio: f64,
    /// Share of requests answered `Ret -1` busy (nothing stored).
    pub busy_ratio: f64,
    /// Share of answers whose Sig is corrupted (the push *is* stored: the sender retries
    /// and the platform sees a duplicate, as with a real broken proxy).
    pub wrong_signature_ratio: f64,
    /// Tokens stop working this long after issue, whatever `TokenAvailableTime` said.
    pub expire_tokens_after: Option<Duration>,
}

/// What the platform polls and how often (`None` disables a poll).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollSchedule {
    /// `query_stations_info` (all pages; after the first round, `LastQueryTime` asks only
    /// for changes).
    pub stations_info: Option<Duration>,
    /// `PageSize` of `query_stations_info`.
    pub page_size: u32,
    /// `query_stations_status` for every known station, 50 per request.
    pub stations_status: Option<Duration>,
    /// `query_bms_info` for connectors the platform believes are charging.
    pub bms: Option<Duration>,
    /// Connectors per `query_bms_info` round.
    pub bms_batch: usize,
    /// `query_station_charge_stats` for every known station (today).
    pub stats: Option<Duration>,
    /// `ParaFrequency` sent once with `query_frequency` (5–60 s).
    pub frequency_s: Option<u32>,
    /// Check BMS completeness after sessions and re-collect what is missing.
    pub supplement_gaps: bool,
}

impl Default for PollSchedule {
    fn default() -> Self {
        PollSchedule {
            stations_info: Some(Duration::from_secs(3600)),
            page_size: 10,
            stations_status: Some(Duration::from_secs(300)),
            bms: None,
            bms_batch: 50,
            stats: None,
            frequency_s: None,
            supplement_gaps: true,
        }
    }
}

impl PollSchedule {
    /// No polling at all.
    pub const NONE: PollSchedule = PollSchedule {
        stations_info: None,
        page_size: 10,
        stations_status: None,
        bms: None,
        bms_batch: 50,
        stats: None,
        frequency_s: None,
        supplement_gaps: false,
    };
}

/// The platform's settings.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// Maps virtual time to civil time.
    pub epoch: CivilEpoch,
    /// The operator platforms it monitors.
    pub peers: Vec<PeerConfig>,
    /// Randomness for tokens and faults.
    pub rng: EntityRng,
    /// Injected faults.
    pub faults: PlatformFaults,
    /// Polling.
    pub polls: PollSchedule,
    /// Sending and retrying polls.
    pub policy: SendPolicy,
    /// How long after a ground truth its check is evaluated (default 10 s).
    pub settle: Duration,
    /// Correctness tolerance.
    pub tolerance: Tolerance,
    /// Alarms and events kept (default 10,000 each; counts are kept beyond).
    pub max_records: usize,
    /// Status records kept per connector for correctness checks (default 16).
    pub status_history: usize,
    /// Prefix of metric names (default `platform`).
    pub metrics_prefix: String,
}

impl PlatformConfig {
    /// Defaults with the given peers and RNG.
    pub fn new(epoch: CivilEpoch, peers: Vec<PeerConfig>, rng: EntityRng) -> Self {
        PlatformConfig {
            epoch,
            peers,
            rng,
            faults: PlatformFaults::default(),
            polls: PollSchedule::default(),
            policy: SendPolicy::default(),
            settle: Duration::from_secs(10),
            tolerance: Tolerance::default(),
            max_records: 10_000,
            status_history: 16,
            metrics_prefix: "platform".to_owned(),
        }
    }
}

/// What the platform knows about one connector.
#[derive(Debug, Clone, Default)]
pub struct ConnectorView {
    /// Statuses received (pushes and polls), newest last, with their arrival time.
    pub statuses: VecDeque<(Instant, ConnectorStatusInfo)>,
    /// The latest BMS report.
    pub bms: Option<BmsInfoReport>,
    /// BMS reports received in the current or last session.
    pub session_bms: u32,
    /// `StartChargingTime` of that session.
    pub session_start: Option<String>,
    /// When the platform saw the connector start charging.
    pub charging_since: Option<Instant>,
}

impl ConnectorView {
    /// The latest status.
    pub fn latest(&self) -> Option<&ConnectorStatusInfo> {
        self.statuses.back().map(|(_, s)| s)
    }
}

/// Counts of accepted and refused pushes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounts {
    /// `notification_stationInfo` accepted.
    pub station_info: u64,
    /// `notification_stationStatus` accepted.
    pub station_status: u64,
    /// `notification_bmsInfo` accepted.
    pub bms: u64,
    /// `notification_alarmInfo` accepted (alarms, not requests).
    pub alarms: u64,
    /// `notification_eventInfo` accepted (events, not requests).
    pub events: u64,
    /// Requests refused (any Ret ≠ 0, HTTP 404).
    pub refused: u64,
    /// Requests answered with an injected fault.
    pub faulted: u64,
    /// Records recovered through `supplement_collect`.
    pub supplemented: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
}

/// What the platform stored.
#[derive(Debug, Default)]
pub struct Store {
    /// Stations by (peer, StationID), chargers merged across paged pushes.
    pub stations: BTreeMap<(usize, String), StationInfo>,
    /// Connectors by (peer, ConnectorID).
    pub connectors: BTreeMap<(usize, String), ConnectorView>,
    /// The latest alarms.
    pub alarms: VecDeque<AlarmInfo>,
    /// The latest events.
    pub events: VecDeque<EventInfo>,
    /// Counts.
    pub counts: IngestCounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    StationsInfo(usize),
    StationsStatus(usize),
    Bms(usize),
    Stats(usize),
    Checks,
}

/// The reference monitoring platform.
#[derive(Debug)]
pub struct MonitoringPlatform {
    config: PlatformConfig,
    outboxes: Vec<Outbox<PollTag>>,
    issuer: TokenIssuer,
    rng: EntityRng,
    store: Store,
    correctness: correctness::Correctness,
    timers: std::collections::BTreeSet<(Instant, Timer)>,
    last_info_query: BTreeMap<usize, CivilTime>,
    frequency_sent: Vec<bool>,
    connector_homes: BTreeMap<(usize, String), (String, String)>,
    manual: VecDeque<poll::ManualResponse>,
    now: Instant,
    civil_zero: CivilTime,
    names: Names,
    round_robin: usize,
}

impl MonitoringPlatform {
    /// A platform with nothing stored. Fails when the epoch is outside the civil range.
    pub fn new(config: PlatformConfig) -> Result<Self, TimeError> {
        let civil_zero = config.epoch.civil_at(Instant::ZERO)?;
        let outboxes = config
            .peers
            .iter()
            .enumerate()
            .map(|(i, p)| Outbox::new(PeerId(i as u16), p.clone(), config.policy))
            .collect();
        let mut platform = MonitoringPlatform {
            issuer: TokenIssuer::new(config.rng.clone()),
            rng: config.rng.clone(),
            names: Names::new(&config.metrics_prefix),
            frequency_sent: vec![false; config.peers.len()],
            outboxes,
            store: Store::default(),
            correctness: correctness::Correctness::default(),
            timers: Default::default(),
            last_info_query: BTreeMap::new(),
            connector_homes: BTreeMap::new(),
            manual: VecDeque::new(),
            now: Instant::ZERO,
            civil_zero,
            round_robin: 0,
            config,
        };
        platform.schedule_polls();
        Ok(platform)
    }

    /// The civil time at `now`.
    pub fn civil(&self, now: Instant) -> CivilTime {
        self.config.epoch.civil_at(now).unwrap_or(self.civil_zero)
    }

    /// What was stored.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Ingest counts.
    pub fn counts(&self) -> IngestCounts {
        self.store.counts
    }

    /// The view of connector `connector_id` of peer `peer`.
    pub fn connector(&self, peer: PeerId, connector_id: &str) -> Option<&ConnectorView> {
        self.store
            .connectors
            .get(&(usize::from(peer.0), connector_id.to_owned()))
    }

    /// The injected faults in effect.
    pub fn faults(&self) -> &PlatformFaults {
        &self.config.faults
    }

    /// Changes the injected faults (takes effect for the next request).
    pub fn set_faults(&mut self, faults: PlatformFaults) {
        self.config.faults = faults;
    }

    /// The true state of a connector at `now`, to be compared `settle` later with what the
    /// platform received. Call it whenever the fleet engine changes the connector's state
    /// (and, if wanted, periodically).
    pub fn ground_truth(
        &mut self,
        now: Instant,
        peer: PeerId,
        connector_id: &str,
        truth: &ConnectorSnapshot,
    ) {
        self.now = self.now.max(now);
        let dialect = self
            .config
            .peers
            .get(usize::from(peer.0))
            .map_or(Dialect::Db4403, |p| p.dialect);
        let expected = match dialect {
            Dialect::Db4403 => truth.to_wire(connector_id),
            Dialect::Tcec => truth.to_wire_tcec(connector_id),
        };
        let check = correctness::Check {
            peer: usize::from(peer.0),
            connector_id: connector_id.to_owned(),
            expected,
            at: now,
        };
        self.correctness.add(now + self.config.settle, check);
        if let Some(due) = self.correctness.next_due() {
            self.timers.insert((due, Timer::Checks));
        }
    }

    /// The correctness tally so far.
    pub fn correctness(&self) -> CorrectnessReport {
        self.correctness.report()
    }

    /// Whether no poll is queued or in flight.
    pub fn is_idle(&self) -> bool {
        self.outboxes.iter().all(Outbox::is_idle)
    }

    fn run_checks(&mut self, now: Instant) {
        let store = &self.store;
        self.correctness
            .run_due(now, &self.config.tolerance, |peer, id| {
                store
                    .connectors
                    .get(&(peer, id.to_owned()))
                    .map(|v| &v.statuses)
            });
        if let Some(due) = self.correctness.next_due() {
            self.timers.insert((due, Timer::Checks));
        }
    }
}

impl HttpMachine for MonitoringPlatform {
    fn handle_request(
        &mut self,
        now: Instant,
        request: InboundRequest<'_>,
        metrics: &mut Metrics,
    ) -> ServerResponse {
        self.now = self.now.max(now);
        self.serve(now, request, metrics)
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
        let peer = usize::from(id.peer().0);
        let outcome = match self.outboxes.get_mut(peer) {
            Some(o) => o.handle_response(now, id, exchange, &self.names, metrics),
            None => None,
        };
        if let Some(outcome) = outcome {
            self.poll_outcome(now, peer, outcome);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let timers = self.timers.first().map(|(t, _)| *t);
        self.outboxes
            .iter()
            .filter_map(Outbox::poll_timeout)
            .chain(timers)
            .min()
    }

    fn handle_timeout(&mut self, now: Instant, _metrics: &mut Metrics) {
        self.now = self.now.max(now);
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::Checks => self.run_checks(now),
                other => self.fire_poll(now, other),
            }
        }
        for o in &mut self.outboxes {
            o.handle_timeout(now);
        }
    }
}
