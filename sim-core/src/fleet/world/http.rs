//! The fleet's operator platform (T/CEC 102 / DB4403/T 77): stations, connector status,
//! BMS data, alarms and finished sessions go from the fleet into an [`OperatorPlatform`],
//! which pushes them to a monitoring platform and serves its queries. With the in-memory
//! transport the reference [`MonitoringPlatform`] runs in the same world on a simulated
//! network, and is told the fleet's ground truth so it can measure data correctness.

use super::{Phase, World};
use crate::fleet::events::StopReason;
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

enum Mode {
    Memory {
        platform: Box<MonitoringPlatform>,
        net: SimNet,
    },
}

/// The HTTP side of a world.
pub(super) struct HttpSide {
    operator: Box<OperatorPlatform>,
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
    /// The operator platform for `world`'s stations, with the reference platform on the
    /// in-memory network.
    pub(super) fn new(
        world: &World,
        spec: &profiles::scenario::HttpSpec,
        epoch: CivilEpoch,
    ) -> Result<HttpSide, String> {
        let seed = world.seed;
        let op_keys = demo::keys(&spec.operator_id, seed).map_err(|e| e.to_string())?;
        let platform_keys = demo::keys(PLATFORM_ID, seed).map_err(|e| e.to_string())?;
        let lifetime = Duration::from_secs(7200);
        let (op_sees_platform, platform_sees_op) = PeerConfig::pair(
            Dialect::Db4403,
            "chargestorm operator",
            op_keys,
            "monitoring platform",
            platform_keys,
            lifetime,
        );
        let operator = OperatorPlatform::new(OperatorConfig::new(
            &spec.operator_id,
            epoch,
            vec![OperatorPeer {
                config: op_sees_platform,
                pushes: Pushes::MONITORING,
            }],
            stream(seed, Domain::Protocol, u64::MAX),
        ))
        .map_err(|e| e.to_string())?;
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
        let platform = MonitoringPlatform::new(pc).map_err(|e| e.to_string())?;
        let mut net = SimNet::new();
        let link = LinkModel::fixed(Duration::from_secs_f64(spec.latency_ms / 1000.0));
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
        Ok(HttpSide {
            operator: Box::new(operator),
            mode: Mode::Memory {
                platform: Box::new(platform),
                net,
            },
            connectors: vec![None; n],
            reported: vec![None; n],
            refresh_at: vec![Instant::ZERO; n],
            bms_at: vec![Instant::ZERO; n],
            refresh: Duration::from_secs(u64::from(spec.refresh_s.max(1))),
        })
    }
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
        let mut by_station: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (k, ch) in self.chargers.iter().enumerate() {
            by_station.entry(ch.station).or_default().push(k);
        }
        for (station, ks) in by_station {
            let g = &groups[self.chargers[ks[0]].group];
            let profile = &g.charger;
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
            let handle = h.operator.add_station(Instant::ZERO, info);
            let mut idx = handle.connectors.into_iter();
            for &k in &ks {
                for ci in self.chargers[k].connectors.clone() {
                    h.connectors[ci] = idx.next();
                }
            }
        }
    }

    /// Runs the HTTP machines and the network to now, then re-arms them.
    pub(super) fn wake_http(&mut self) {
        let now = self.now;
        let Some(h) = self.http.as_mut() else { return };
        let Mode::Memory { platform, net } = &mut h.mode;
        let mut nodes: [&mut dyn HttpMachine; 2] = [h.operator.as_mut(), platform.as_mut()];
        net.run_until(now, &mut nodes, &mut self.metrics, MAX_EVENTS_PER_WAKE);
        let next = net.next_due(&nodes);
        self.sched.arm(HTTP, next.map(|t| t.max(now)));
        let mut commands = Vec::new();
        while let Some(c) = h.operator.poll_command() {
            commands.push(c);
        }
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
                h.operator.charge_started(now, connector, result);
            }
        } else {
            self.request_session_stop(ci, StopReason::RemoteStop);
            if let Some(h) = self.http.as_mut() {
                h.operator.charge_stopped(now, connector);
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
        h.operator.connector_status(now, idx, &snapshot);
        let changed = h.reported[ci] != Some(snapshot.status);
        h.reported[ci] = Some(snapshot.status);
        h.refresh_at[ci] = now + h.refresh;
        // DB4403 §8.4 a) pushes a connector at once when its status changes; that snapshot
        // is what a correct platform must hold shortly after. Live values in between are
        // only refreshed on the operator's own schedule, so they are not ground truth.
        let Mode::Memory { platform, .. } = &mut h.mode;
        if changed && let Some(id) = h.operator.connector_id(idx) {
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
        let info = crate::fleet::gbt_pb::bms_info(link, ev, now, *since, h.operator.civil(now));
        h.operator.bms_sample(now, idx, info);
        h.bms_at[ci] = now + h.operator.bms_period();
        self.wake_http();
    }

    /// A session ended: statistics, and an alarm when it ended on a fault.
    pub(super) fn http_session_end(&mut self, ci: usize, reason: StopReason, energy_kwh: f64) {
        let now = self.now;
        let Some(h) = self.http.as_mut() else { return };
        let Some(idx) = h.connectors[ci] else { return };
        if let Some(code) = alarm_code(reason) {
            h.operator.alarm(
                now,
                AlarmInput {
                    connector: idx,
                    code,
                    status: AlarmStatus::Occurred,
                    level: None,
                    note: Some(format!("{reason:?}")),
                },
            );
        }
        h.operator.session_finished(
            now,
            idx,
            SessionStats {
                charged_kwh: energy_kwh,
                discharged_kwh: 0.0,
                stop_reason: tcec_stop_reason(reason),
            },
        );
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
            let ac3 = c.phases == 3;
            s.current_a = if ac3 { [i, i, i] } else { [i, 0.0, 0.0] };
            s.voltage_v = if ac3 { [v, v, v] } else { [v, 0.0, 0.0] };
            s.connector_temp_c = Some(gun_c);
            s.charged_energy_kwh = c.plant.session_energy_wh() / 1000.0;
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
        let Mode::Memory { platform, .. } = &h.mode;
        let correctness = platform.correctness();
        crate::tcec::indicators::assertions(&self.metrics, Some(&correctness))
    }
}
