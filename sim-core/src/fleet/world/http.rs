//! The fleet's operator platform (T/CEC 102 / DB4403/T 77): stations, connector status,
//! BMS data, alarms and finished sessions go from the fleet into an [`OperatorPlatform`],
//! which pushes them to a monitoring platform and serves its queries. With the in-memory
//! transport the reference [`MonitoringPlatform`] runs in the same world on a simulated
//! network, and is told the fleet's ground truth so it can measure data correctness. For
//! real HTTP the operator is taken out of the world, served by the I/O shell, and fed
//! through an [`ExternalOperator`] handle.

use super::{Phase, World};
use crate::fleet::events::StopReason;
use crate::metrics::Metrics;
use crate::rng::{Domain, stream};
use crate::sched::{EntityKind, Key};
use crate::tcec::demo;
use crate::tcec::exchange::{HttpMachine, PeerId};
use crate::tcec::operator::{
    AlarmInput, ConnectorIdx, FleetCommand, OperatorConfig, OperatorPeer, OperatorPlatform, Pushes,
    SessionStats, StartFailure,
};
use crate::tcec::peer::PeerConfig;
use crate::tcec::platform::{MonitoringPlatform, PlatformConfig, PlatformFaults, PollSchedule};
use crate::tcec::simnet::{LinkModel, SimNet};
use crate::tcec::snapshot::ConnectorSnapshot;
use crate::time::{Duration, Instant};
use proto::tcec::codes::AlarmCode;
use proto::tcec::objects::{AlarmStatus, ConnectorStatus, StopReason as TcecStopReason};
use proto::tcec::{CivilEpoch, Dialect};
use std::collections::BTreeMap;

const HTTP: Key = Key {
    kind: EntityKind::Server,
    index: 1,
};

/// The platform's OperatorID when chargestorm plays it.
pub const PLATFORM_ID: &str = "SZJG00001";

/// How many requests one wake may process (a runaway bound, never reached in practice).
const MAX_EVENTS_PER_WAKE: u64 = 1_000_000;

/// An operator platform served outside the world (real HTTP): the world feeds it through
/// this handle.
pub trait ExternalOperator: Send {
    /// Runs `f` on the operator platform with its metrics and its clock's current time, then
    /// lets its driver send whatever the call produced.
    fn with(&self, f: &mut dyn FnMut(&mut OperatorPlatform, &mut Metrics, Instant));
}

enum Mode {
    Memory {
        operator: Box<OperatorPlatform>,
        platform: Box<MonitoringPlatform>,
        net: SimNet,
    },
    /// The operator waits to be served on real HTTP: inputs reach it, nothing is sent.
    Held(Box<OperatorPlatform>),
    /// The operator was taken out to be served on real HTTP and is not attached yet.
    Detached,
    External(Box<dyn ExternalOperator>),
}

/// The HTTP side of a world.
pub(super) struct HttpSide {
    mode: Mode,
    /// The operator's index of each local connector.
    connectors: Vec<Option<ConnectorIdx>>,
    /// The status code last reported per local connector.
    reported: Vec<Option<ConnectorStatus>>,
    /// When each charging connector's live values are next refreshed.
    refresh_at: Vec<Instant>,
    /// When each DC session's next BMS sample is due.
    bms_at: Vec<Instant>,
    refresh: Duration,
}

impl HttpSide {
    /// The operator platform served on real HTTP, once attached.
    pub(super) fn external_operator(&self) -> Option<&dyn ExternalOperator> {
        match &self.mode {
            Mode::External(ext) => Some(ext.as_ref()),
            _ => None,
        }
    }

    /// The operator platform for `world`'s stations, with the reference platform on the
    /// in-memory network.
    pub(super) fn new(
        world: &World,
        spec: &profiles::scenario::HttpSpec,
        epoch: CivilEpoch,
        external: bool,
    ) -> Result<HttpSide, String> {
        let (operator, platform) = http_configs(spec, world.seed, epoch)?;
        let operator = OperatorPlatform::new(operator).map_err(|e| e.to_string())?;
        let platform = MonitoringPlatform::new(platform).map_err(|e| e.to_string())?;
        let mut net = SimNet::new();
        let link = LinkModel::fixed(Duration::from_secs_f64(spec.latency_ms / 1000.0));
        let seed = world.seed;
        net.connect(
            0,
            PeerId(0),
            1,
            link,
            stream(seed, Domain::NetworkLink, u64::MAX - 1),
        );
        net.connect(
            1,
            PeerId(0),
            0,
            link,
            stream(seed, Domain::NetworkLink, u64::MAX - 2),
        );
        let n = world.connectors.len();
        let mode = if external {
            Mode::Held(Box::new(operator))
        } else {
            Mode::Memory {
                operator: Box::new(operator),
                platform: Box::new(platform),
                net,
            }
        };
        Ok(HttpSide {
            mode,
            connectors: vec![None; n],
            reported: vec![None; n],
            refresh_at: vec![Instant::ZERO; n],
            bms_at: vec![Instant::ZERO; n],
            refresh: Duration::from_secs(u64::from(spec.refresh_s.max(1))),
        })
    }

    /// Runs `f` on the operator platform, wherever it lives (`None` while detached).
    fn op<R>(
        &mut self,
        metrics: &mut Metrics,
        now: Instant,
        f: impl FnOnce(&mut OperatorPlatform, Instant) -> R,
    ) -> Option<R> {
        match &mut self.mode {
            Mode::Memory { operator, .. } | Mode::Held(operator) => {
                let _ = metrics;
                Some(f(operator, now))
            }
            Mode::External(ext) => {
                let mut f = Some(f);
                let mut out = None;
                ext.with(&mut |op, _, t| {
                    if let Some(f) = f.take() {
                        out = Some(f(op, t));
                    }
                });
                out
            }
            Mode::Detached => None,
        }
    }
}

/// The operator's and the reference platform's configurations for a scenario: keys derived
/// from the root seed (both sides of chargestorm's own pairing), the platform's faults and
/// polling. A real platform's keys come from a keys file instead (`--tcec-keys`).
pub fn http_configs(
    spec: &profiles::scenario::HttpSpec,
    seed: u64,
    epoch: CivilEpoch,
) -> Result<(OperatorConfig, PlatformConfig), String> {
    let op_keys = demo::keys(&spec.operator_id, seed).map_err(|e| e.to_string())?;
    let platform_keys = demo::keys(PLATFORM_ID, seed).map_err(|e| e.to_string())?;
    let (op_sees_platform, platform_sees_op) = PeerConfig::pair(
        Dialect::Db4403,
        "chargestorm operator",
        op_keys,
        "monitoring platform",
        platform_keys,
        Duration::from_secs(7200),
    );
    let operator = operator_config(spec, seed, epoch, op_sees_platform);
    let mut pc = PlatformConfig::new(
        epoch,
        vec![platform_sees_op],
        stream(seed, Domain::Backend, 1),
    );
    let f = &spec.platform_faults;
    pc.faults = PlatformFaults {
        response_delay: Duration::from_secs_f64(f.response_delay_ms / 1000.0),
        response_jitter: Duration::ZERO,
        error_500_ratio: f.error_500_ratio,
        busy_ratio: f.busy_ratio,
        wrong_signature_ratio: f.wrong_signature_ratio,
        expire_tokens_after: (f.expire_tokens_after_s > 0)
            .then(|| Duration::from_secs(u64::from(f.expire_tokens_after_s))),
    };
    pc.polls = PollSchedule {
        stations_status: (spec.poll_status_s > 0)
            .then(|| Duration::from_secs(u64::from(spec.poll_status_s))),
        ..PollSchedule::NONE
    };
    Ok((operator, pc))
}

/// The operator's configuration with a given view of its monitoring platform.
pub fn operator_config(
    spec: &profiles::scenario::HttpSpec,
    seed: u64,
    epoch: CivilEpoch,
    platform: PeerConfig,
) -> OperatorConfig {
    OperatorConfig::new(
        &spec.operator_id,
        epoch,
        vec![OperatorPeer {
            config: platform,
            pushes: Pushes::MONITORING,
        }],
        stream(seed, Domain::Protocol, u64::MAX),
    )
}

fn tcec_stop_reason(reason: StopReason) -> TcecStopReason {
    match reason {
        StopReason::UserStopped => TcecStopReason::UserStopped,
        StopReason::RemoteStop => TcecStopReason::CustomerOperatorStopped,
        StopReason::TargetSocReached | StopReason::BatteryFull | StopReason::BmsFault => {
            TcecStopReason::BmsStopped
        }
        StopReason::CommunicationLost => TcecStopReason::ConnectorDisconnected,
        _ => TcecStopReason::ChargerFault,
    }
}

fn alarm_code(reason: StopReason) -> Option<AlarmCode> {
    Some(match reason {
        StopReason::InsulationFault => AlarmCode::InsulationMonitorFault,
        StopReason::OverTemperature => AlarmCode::ConnectorOverTemperature,
        StopReason::EmergencyStop => AlarmCode::EmergencyStop,
        StopReason::CommunicationLost => AlarmCode::BmsCommTimeout,
        StopReason::ChargerFault => AlarmCode::PowerModuleFault,
        _ => return None,
    })
}

impl World {
    /// Registers every station of this world with the operator platform.
    pub(super) fn http_register_stations(
        &mut self,
        spec: &profiles::scenario::HttpSpec,
        groups: &[profiles::ResolvedGroup],
    ) {
        let Some(h) = self.http.as_mut() else { return };
        let (Mode::Memory { operator, .. } | Mode::Held(operator)) = &mut h.mode else {
            return;
        };
        let mut by_station: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (k, ch) in self.chargers.iter().enumerate() {
            by_station.entry(ch.station).or_default().push(k);
        }
        for (station, ks) in by_station {
            let profile = &groups[self.chargers[ks[0]].group].charger;
            let dc = profile.kind == profiles::ChargerKind::Dc;
            let guns = u32::from(profile.connectors);
            let mut info = demo::station(&spec.operator_id, station, ks.len() as u32, guns, dc);
            let gun_kw = match (&profile.dc, &profile.ac) {
                (Some(d), _) => (d.output_voltage_max_v * d.output_current_max_a / 1000.0)
                    .min(d.cabinet_power_w() / 1000.0),
                (None, Some(a)) => a.power_w() / 1000.0,
                _ => 0.0,
            };
            for (eq, &k) in info.equipment_infos.iter_mut().zip(&ks) {
                eq.equipment_model = if profile.model.is_empty() {
                    profile.name.clone()
                } else {
                    profile.model.clone()
                };
                eq.equipment_name = Some(format!(
                    "{} #{}",
                    profile.name,
                    self.chargers[k].global_index + 1
                ));
                for c in &mut eq.connector_infos {
                    c.power_kw = (gun_kw * 10.0).round() / 10.0;
                    if let Some(d) = &profile.dc {
                        c.voltage_upper_limit_v = d.output_voltage_max_v.round() as u32;
                        c.voltage_lower_limit_v = d.output_voltage_min_v.round() as u32;
                        c.current_a = d.output_current_max_a.round() as u32;
                    }
                }
            }
            let handle = operator.add_station(Instant::ZERO, info);
            let mut idx = handle.connectors.into_iter();
            for &k in &ks {
                for ci in self.chargers[k].connectors.clone() {
                    h.connectors[ci] = idx.next();
                }
            }
        }
    }

    /// Runs the in-memory HTTP machines and network to now and re-arms them; carries out
    /// roaming commands in either mode.
    pub(super) fn wake_http(&mut self) {
        let now = self.now;
        let Some(h) = self.http.as_mut() else { return };
        if let Mode::Memory {
            operator,
            platform,
            net,
        } = &mut h.mode
        {
            let mut nodes: [&mut dyn HttpMachine; 2] = [operator.as_mut(), platform.as_mut()];
            // Pushes queued since the last wake (alarms, statuses) leave now, not at the
            // time the network last ran: otherwise their retries' back-off is computed
            // from a stale clock and several attempts fire at once.
            net.advance_to(now);
            net.run_until(now, &mut nodes, &mut self.metrics, MAX_EVENTS_PER_WAKE);
            let next = net.next_due(&nodes);
            self.sched.arm(HTTP, next.map(|t| t.max(now)));
            if let Some(t) = self.timeline.as_mut() {
                let store = platform.store();
                t.journal.alarms_arrived(now, store);
                let c = &store.counts;
                t.journal.data_seen(super::expect::DataSample {
                    at: now,
                    faulted: c.faulted,
                    accepted: c.station_status + c.bms + c.alarms + c.events,
                    supplemented: c.supplemented,
                    given_up: operator.stats().pushes_failed,
                    pending: operator.pending_pushes(),
                });
            }
        }
        let mut commands = Vec::new();
        h.op(&mut self.metrics, now, |op, _| {
            while let Some(c) = op.poll_command() {
                commands.push(c);
            }
        });
        for c in commands {
            self.roaming_command(c);
        }
    }

    /// Carries out a roaming start or stop from another operator's platform.
    fn roaming_command(&mut self, command: FleetCommand) {
        let now = self.now;
        let (connector, start) = match &command {
            FleetCommand::StartCharge { connector, .. } => (*connector, true),
            FleetCommand::StopCharge { connector, .. } => (*connector, false),
        };
        let Some(ci) = self
            .http
            .as_ref()
            .and_then(|h| h.connectors.iter().position(|c| *c == Some(connector)))
        else {
            return;
        };
        if start {
            let k = self.connectors[ci].charger;
            let result = match std::mem::replace(&mut self.connectors[ci].phase, Phase::Moving) {
                Phase::Plugged { ev, .. } | Phase::Authorizing { ev, .. } => {
                    self.start(ci, k, ev);
                    Ok(())
                }
                other => {
                    self.connectors[ci].phase = other;
                    Err(StartFailure::NotPluggedIn)
                }
            };
            if let Some(h) = self.http.as_mut() {
                h.op(&mut self.metrics, now, |op, t| {
                    op.charge_started(t, connector, result);
                });
            }
        } else {
            self.request_session_stop(ci, StopReason::RemoteStop);
            if let Some(h) = self.http.as_mut() {
                h.op(&mut self.metrics, now, |op, t| {
                    op.charge_stopped(t, connector)
                });
            }
        }
    }

    /// Reports connector `ci`'s state to the operator platform (and, in memory mode, to
    /// the reference platform as ground truth).
    pub(super) fn http_status(&mut self, ci: usize) {
        let now = self.now;
        let snapshot = self.connector_snapshot(ci);
        let Some(h) = self.http.as_mut() else { return };
        let Some(idx) = h.connectors[ci] else { return };
        h.op(&mut self.metrics, now, |op, t| {
            op.connector_status(t, idx, &snapshot)
        });
        let changed = h.reported[ci] != Some(snapshot.status);
        h.reported[ci] = Some(snapshot.status);
        h.refresh_at[ci] = now + h.refresh;
        // DB4403 §8.4 a) pushes a connector at once when its status changes; that snapshot
        // is what a correct platform must hold shortly after. Live values in between are
        // only refreshed on the operator's own schedule, so they are not ground truth.
        if let Mode::Memory {
            operator, platform, ..
        } = &mut h.mode
            && changed
            && let Some(id) = operator.connector_id(idx)
        {
            platform.ground_truth(now, PeerId(0), id, &snapshot);
        }
        self.wake_http();
    }

    /// Refreshes a charging connector's live values and BMS data when they are due.
    pub(super) fn http_tick(&mut self, ci: usize) {
        let now = self.now;
        let Some(h) = self.http.as_ref() else { return };
        let refresh = now >= h.refresh_at[ci];
        let bms = self.connectors[ci].link.is_some() && now >= h.bms_at[ci];
        if refresh {
            self.http_status(ci);
        }
        if bms {
            self.http_bms(ci);
        }
    }

    fn http_bms(&mut self, ci: usize) {
        let now = self.now;
        let c = &self.connectors[ci];
        let (Some(link), Phase::Charging { ev, since, .. }) = (&c.link, &c.phase) else {
            return;
        };
        let Some(h) = self.http.as_mut() else { return };
        let Some(idx) = h.connectors[ci] else { return };
        let Some(civil) = h.op(&mut self.metrics, now, |op, t| op.civil(t)) else {
            return;
        };
        let info = crate::fleet::gbt_pb::bms_info(link, ev, now, *since, civil);
        let period = h.op(&mut self.metrics, now, |op, t| {
            op.bms_sample(t, idx, info);
            op.bms_period()
        });
        h.bms_at[ci] = now + period.unwrap_or(Duration::from_secs(60));
        self.wake_http();
    }

    /// A session ended: statistics, and an alarm when it ended on a fault.
    pub(super) fn http_session_end(&mut self, ci: usize, reason: StopReason, energy_kwh: f64) {
        let now = self.now;
        let Some(h) = self.http.as_mut() else { return };
        let Some(idx) = h.connectors[ci] else { return };
        let alarm = alarm_code(reason).map(|code| AlarmInput {
            connector: idx,
            code,
            status: AlarmStatus::Occurred,
            level: None,
            note: Some(format!("{reason:?}")),
        });
        let stats = SessionStats {
            charged_kwh: energy_kwh,
            discharged_kwh: 0.0,
            stop_reason: tcec_stop_reason(reason),
        };
        h.op(&mut self.metrics, now, |op, t| {
            if let Some(alarm) = alarm {
                op.alarm(t, alarm);
            }
            op.session_finished(t, idx, stats);
        });
        self.http_status(ci);
    }

    /// Connector `ci`'s state as DB4403 ConnectorStatusInfo sees it.
    fn connector_snapshot(&self, ci: usize) -> ConnectorSnapshot {
        let c = &self.connectors[ci];
        let offline = self.mqtt.as_ref().is_some_and(|m| !m.online(c.charger));
        let (status, ev) = match &c.phase {
            _ if offline => (ConnectorStatus::Offline, None),
            Phase::Idle { .. } | Phase::Moving => (ConnectorStatus::Idle, None),
            Phase::Plugged { ev, .. }
            | Phase::Authorizing { ev, .. }
            | Phase::Starting { ev, .. } => (ConnectorStatus::OccupiedNotCharging, Some(ev)),
            Phase::Charging { ev, .. } => (ConnectorStatus::OccupiedCharging, Some(ev)),
            Phase::Finishing { ev, .. } => (ConnectorStatus::ChargeComplete, Some(ev)),
        };
        let mut s = ConnectorSnapshot::idle();
        s.status = status;
        if status == ConnectorStatus::OccupiedCharging {
            let (v, i, gun_c) = c.last_tick;
            let three = c.phases == 3;
            s.current_a = if three { [i, i, i] } else { [i, 0.0, 0.0] };
            s.voltage_v = if three { [v, v, v] } else { [v, 0.0, 0.0] };
            s.connector_temp_c = Some(gun_c);
            s.charged_energy_kwh =
                self.reported_session_wh(ci, c.plant.session_energy_wh()) / 1000.0;
        }
        if let (Some(ev), true) = (ev, c.link.is_some()) {
            s.soc_percent = Some((ev.soc_pct() * 10.0).round() / 10.0);
        }
        s
    }

    /// The seed's indicators (response times, data correctness) as report assertions.
    pub(super) fn http_assertions(&self) -> Vec<crate::report::Assertion> {
        let Some(h) = self.http.as_ref() else {
            return Vec::new();
        };
        let correctness = match &h.mode {
            Mode::Memory { platform, .. } => Some(platform.correctness()),
            Mode::External(_) | Mode::Detached | Mode::Held(_) => None,
        };
        crate::tcec::indicators::assertions(&self.metrics, correctness.as_ref())
    }

    /// The reference platform's faults, when it runs in-process.
    pub(super) fn platform_faults(&self) -> Option<PlatformFaults> {
        match &self.http.as_ref()?.mode {
            Mode::Memory { platform, .. } => Some(*platform.faults()),
            _ => None,
        }
    }

    /// Whether the reference platform runs in-process (its received alarms are visible).
    pub(super) fn http_in_memory(&self) -> bool {
        matches!(
            self.http.as_ref().map(|h| &h.mode),
            Some(Mode::Memory { .. })
        )
    }

    /// Replaces the in-process reference platform's faults; false without one.
    pub(super) fn set_platform_faults(&mut self, faults: PlatformFaults) -> bool {
        match self.http.as_mut().map(|h| &mut h.mode) {
            Some(Mode::Memory { platform, .. }) => {
                platform.set_faults(faults);
                true
            }
            _ => false,
        }
    }

    /// Takes the operator platform out of a world built with `http_external`, with every
    /// station registered and its first pushes queued, to be served on real HTTP; attach the
    /// served one with [`World::attach_http_operator`].
    pub fn take_http_operator(&mut self) -> Option<OperatorPlatform> {
        let h = self.http.as_mut()?;
        match std::mem::replace(&mut h.mode, Mode::Detached) {
            Mode::Held(operator) => Some(*operator),
            other => {
                h.mode = other;
                None
            }
        }
    }

    /// Feeds the fleet into an operator platform served elsewhere.
    pub fn attach_http_operator(&mut self, operator: Box<dyn ExternalOperator>) {
        if let Some(h) = self.http.as_mut() {
            h.mode = Mode::External(operator);
        }
    }

    /// Carries out roaming commands the external operator received (call it regularly).
    pub fn poll_http_commands(&mut self) {
        if matches!(self.http.as_ref().map(|h| &h.mode), Some(Mode::External(_))) {
            self.wake_http();
        }
    }

    /// Adds metrics recorded elsewhere (the external operator's) to the run's.
    pub fn absorb_metrics(&mut self, other: &Metrics) {
        self.metrics.absorb(other);
    }
}
