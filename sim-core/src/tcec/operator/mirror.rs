//! The operator platform's mirror of the fleet, and the history it keeps for
//! `supplement_collect`, `supplement_query_bms_intact` and the statistics queries.
//!
//! History bounds (all per entity, oldest dropped first):
//! - status reports: the last [`HistoryLimits::status_reports`] per connector;
//! - BMS reports: every report of the current session and of the last
//!   [`HistoryLimits::bms_sessions`] sessions per connector, at most
//!   [`HistoryLimits::bms_reports_per_session`] per session;
//! - alarms and events: the last [`HistoryLimits::alarms`] / [`HistoryLimits::events`] per
//!   station;
//! - energy statistics: per connector and civil day, the last [`HistoryLimits::stat_days`]
//!   days.

use std::collections::{BTreeMap, VecDeque};

use crate::tcec::snapshot::ConnectorSnapshot;
use crate::time::Instant;
use proto::tcec::CivilTime;
use proto::tcec::objects::{
    AlarmInfo, BmsInfo, BmsInfoReport, ConnectorStatusInfo, DisEquipmentStatusInfo, EquipmentType,
    EventInfo, StationInfo, VideoInfo,
};

/// How much history the operator platform keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Status reports kept per connector (default 256).
    pub status_reports: usize,
    /// Finished sessions whose BMS reports are kept per connector (default 4).
    pub bms_sessions: usize,
    /// BMS reports kept per session (default 4,096: 68 h at the default 60 s period).
    pub bms_reports_per_session: usize,
    /// Alarms kept per station (default 256).
    pub alarms: usize,
    /// Events kept per station (default 256).
    pub events: usize,
    /// Days of energy statistics kept per connector (default 400).
    pub stat_days: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits {
            status_reports: 256,
            bms_sessions: 4,
            bms_reports_per_session: 4096,
            alarms: 256,
            events: 256,
            stat_days: 400,
        }
    }
}

/// A station's index in the operator platform (assigned by `add_station`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StationIdx(pub u32);

/// A connector's index in the operator platform (assigned by `add_station`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectorIdx(pub u32);

/// What `add_station` assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationHandle {
    /// The station.
    pub station: StationIdx,
    /// Its connectors, in EquipmentInfos → ConnectorInfos order.
    pub connectors: Vec<ConnectorIdx>,
}

/// One charging session's BMS record.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// Civil start time (the `MissingTime` of `supplement_bmsInfo`).
    pub start: CivilTime,
    /// Civil end time, `None` while charging.
    pub end: Option<CivilTime>,
    /// The BMS reports pushed during the session.
    pub bms: Vec<BmsInfoReport>,
    /// The BMS reporting period in force, seconds.
    pub report_period_s: u32,
}

/// A connector of the mirror.
#[derive(Debug, Clone)]
pub struct Connector {
    /// ConnectorID.
    pub id: String,
    /// EquipmentID of its charger.
    pub equipment_id: String,
    /// Its station.
    pub station: u32,
    /// Whether the charger is DC (alarms then carry BmsInfo).
    pub dc: bool,
    /// The latest snapshot from the fleet engine.
    pub snapshot: ConnectorSnapshot,
    /// Whether any snapshot was received yet.
    pub seen: bool,
    /// Status reports as pushed, with their civil report time.
    pub status_history: VecDeque<(CivilTime, ConnectorStatusInfo)>,
    /// The latest BMS sample.
    pub bms: Option<BmsInfo>,
    /// Virtual start of the current charging session.
    pub session_started: Option<Instant>,
    /// BMS history by session, oldest first; the last one may be open.
    pub sessions: VecDeque<SessionRecord>,
    /// Next BMS push deadline while charging.
    pub bms_due: Option<Instant>,
    /// Next periodic status push while charging.
    pub status_refresh_due: Option<Instant>,
    /// Alarms raised and not yet recovered.
    pub active_alarms: u32,
    /// Energy charged and discharged per civil day number (days since 1970-01-01), kWh.
    pub daily_kwh: BTreeMap<i64, (f64, f64)>,
}

/// A station of the mirror.
#[derive(Debug, Clone)]
pub struct Station {
    /// The description as last given.
    pub info: StationInfo,
    /// Civil time of the last change (for `LastQueryTime` filtering).
    pub modified: CivilTime,
    /// Its connectors' indices.
    pub connectors: Vec<u32>,
    /// Alarms with their civil report time.
    pub alarms: VecDeque<(CivilTime, AlarmInfo)>,
    /// Events with their civil report time.
    pub events: VecDeque<(CivilTime, EventInfo)>,
    /// Video access records.
    pub videos: Vec<VideoInfo>,
    /// Distribution equipment status, by DisequipmentID.
    pub dis_equipment: BTreeMap<String, DisEquipmentStatusInfo>,
}

/// The mirror: stations and connectors by index and by wire id.
#[derive(Debug, Default)]
pub struct Mirror {
    /// Stations by index.
    pub stations: Vec<Station>,
    /// Connectors by index.
    pub connectors: Vec<Connector>,
    station_ids: BTreeMap<String, u32>,
    connector_ids: BTreeMap<String, u32>,
    /// Stations in order of modification time, for paging `query_stations_info`.
    pub by_modified: BTreeMap<(CivilTime, u32), ()>,
}

/// Pushes an item, dropping the oldest beyond `max`.
pub fn bounded_push<T>(queue: &mut VecDeque<T>, item: T, max: usize) {
    while queue.len() >= max.max(1) {
        queue.pop_front();
    }
    queue.push_back(item);
}

impl Mirror {
    /// The station index of a StationID.
    pub fn station_index(&self, id: &str) -> Option<u32> {
        self.station_ids.get(id).copied()
    }

    /// The connector index of a ConnectorID.
    pub fn connector_index(&self, id: &str) -> Option<u32> {
        self.connector_ids.get(id).copied()
    }

    /// Adds a station, or replaces it when its StationID is known; returns its index and
    /// its connectors' indices (existing connectors keep theirs).
    pub fn upsert_station(&mut self, info: StationInfo, modified: CivilTime) -> StationHandle {
        let idx = match self.station_ids.get(&info.station_id) {
            Some(&i) => i,
            None => {
                let i = self.stations.len() as u32;
                self.station_ids.insert(info.station_id.clone(), i);
                self.stations.push(Station {
                    info: info.clone(),
                    modified,
                    connectors: Vec::new(),
                    alarms: VecDeque::new(),
                    events: VecDeque::new(),
                    videos: Vec::new(),
                    dis_equipment: BTreeMap::new(),
                });
                i
            }
        };
        let connectors = self.register_connectors(idx, &info);
        if let Some(s) = self.stations.get_mut(idx as usize) {
            self.by_modified.remove(&(s.modified, idx));
            s.info = info;
            s.modified = modified;
            s.connectors = connectors.iter().map(|c| c.0).collect();
        }
        self.by_modified.insert((modified, idx), ());
        StationHandle {
            station: StationIdx(idx),
            connectors,
        }
    }

    fn register_connectors(&mut self, station: u32, info: &StationInfo) -> Vec<ConnectorIdx> {
        let mut out = Vec::new();
        for e in &info.equipment_infos {
            let dc = matches!(
                e.equipment_type,
                EquipmentType::Dc | EquipmentType::AcDc | EquipmentType::ChargeDischarge
            );
            for c in &e.connector_infos {
                let idx = match self.connector_ids.get(&c.connector_id) {
                    Some(&i) => i,
                    None => {
                        let i = self.connectors.len() as u32;
                        self.connector_ids.insert(c.connector_id.clone(), i);
                        self.connectors
                            .push(new_connector(c.connector_id.clone(), station));
                        i
                    }
                };
                if let Some(conn) = self.connectors.get_mut(idx as usize) {
                    conn.equipment_id = e.equipment_id.clone();
                    conn.station = station;
                    conn.dc = dc;
                }
                out.push(ConnectorIdx(idx));
            }
        }
        out
    }
}

fn new_connector(id: String, station: u32) -> Connector {
    Connector {
        id,
        equipment_id: String::new(),
        station,
        dc: false,
        snapshot: ConnectorSnapshot::idle(),
        seen: false,
        status_history: VecDeque::new(),
        bms: None,
        session_started: None,
        sessions: VecDeque::new(),
        bms_due: None,
        status_refresh_due: None,
        active_alarms: 0,
        daily_kwh: BTreeMap::new(),
    }
}

/// Days since 1970-01-01 of a civil time.
pub fn day_number(t: CivilTime) -> i64 {
    t.to_unix_seconds().div_euclid(86_400)
}

impl Connector {
    /// Adds energy to the civil day `day`, keeping at most `max_days` days.
    pub fn add_energy(&mut self, day: i64, charged_kwh: f64, discharged_kwh: f64, max_days: usize) {
        let e = self.daily_kwh.entry(day).or_insert((0.0, 0.0));
        e.0 += charged_kwh.max(0.0);
        e.1 += discharged_kwh.max(0.0);
        while self.daily_kwh.len() > max_days.max(1) {
            self.daily_kwh.pop_first();
        }
    }

    /// Energy charged and discharged over the civil days `first..=last`, kWh.
    pub fn energy_between(&self, first: i64, last: i64) -> (f64, f64) {
        self.daily_kwh
            .range(first..=last)
            .fold((0.0, 0.0), |(c, d), (_, (ec, ed))| (c + ec, d + ed))
    }

    /// The session whose civil start is `start`.
    pub fn session_started_at(&self, start: CivilTime) -> Option<&SessionRecord> {
        self.sessions.iter().find(|s| s.start == start)
    }

    /// The status reported as of civil time `at`: the last report at or before it.
    pub fn status_as_of(&self, at: CivilTime) -> Option<&ConnectorStatusInfo> {
        self.status_history
            .iter()
            .rev()
            .find(|(t, _)| *t <= at)
            .map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcec::demo;

    #[test]
    fn stations_and_connectors_get_stable_indices() {
        let mut m = Mirror::default();
        let t0 = CivilTime::new(2024, 1, 1, 0, 0, 0).unwrap();
        let h = m.upsert_station(demo::station("MA5DA0053", 1, 2, 2, true), t0);
        assert_eq!(h.station, StationIdx(0));
        assert_eq!(h.connectors.len(), 4);
        let h2 = m.upsert_station(demo::station("MA5DA0053", 2, 1, 1, false), t0);
        assert_eq!(h2.connectors, vec![ConnectorIdx(4)]);
        let t1 = t0.add_seconds(60).unwrap();
        let again = m.upsert_station(demo::station("MA5DA0053", 1, 2, 2, true), t1);
        assert_eq!(again, h);
        assert_eq!(m.by_modified.len(), 2);
        assert_eq!(m.by_modified.keys().last(), Some(&(t1, 0)));
        let id = &m.connectors[3].id;
        assert_eq!(m.connector_index(id), Some(3));
        assert!(m.connectors[3].dc && !m.connectors[4].dc);
    }

    #[test]
    fn energy_is_kept_per_day_and_bounded() {
        let mut c = new_connector("c".into(), 0);
        for day in 0..10 {
            c.add_energy(day, 1.0, 0.5, 5);
        }
        assert_eq!(c.daily_kwh.len(), 5);
        assert_eq!(c.energy_between(0, 100), (5.0, 2.5));
        assert_eq!(c.energy_between(8, 8), (1.0, 0.5));
        let mut q = VecDeque::new();
        for i in 0..5 {
            bounded_push(&mut q, i, 3);
        }
        assert_eq!(q, [2, 3, 4]);
    }
}
