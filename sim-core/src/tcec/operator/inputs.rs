//! The fleet engine's inputs and the pushes they cause.

use serde::Serialize;

use super::mirror::{ConnectorIdx, SessionRecord, StationIdx, bounded_push, day_number};
use super::{OpTag, OperatorPlatform, Timer};
use crate::tcec::outbox::{LaneKey, Push};
use crate::tcec::snapshot::ConnectorSnapshot;
use crate::time::{Duration, Instant};
use proto::tcec::codes::{AlarmCode, AlarmLevel, EventCode};
use proto::tcec::objects::{
    AlarmInfo, AlarmInfos, AlarmStatus, BmsInfo, BmsInfoReport, ConnectorStatus,
    DisEquipmentStatusInfo, EventInfo, EventInfos, StationInfoNotification,
    StationStatusNotification, StopReason, VideoInfo,
};
use proto::tcec::{Dialect, Interface};

/// Most chargers per `notification_stationInfo` push (DB4403 §8.3: 不超过 100 条).
pub const MAX_EQUIPMENT_PER_PUSH: usize = 100;

/// An alarm raised or cleared on a connector.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmInput {
    /// The connector.
    pub connector: ConnectorIdx,
    /// 表B.3 code; its category comes from the code.
    pub code: AlarmCode,
    /// Raised or recovered.
    pub status: AlarmStatus,
    /// Level; `None` takes the table's default for the code.
    pub level: Option<AlarmLevel>,
    /// Remark.
    pub note: Option<String>,
}

/// An event at a station.
#[derive(Debug, Clone, PartialEq)]
pub struct EventInput {
    /// The station.
    pub station: StationIdx,
    /// 表B.4 code; its category comes from the code.
    pub code: EventCode,
    /// Remark.
    pub note: Option<String>,
}

/// The totals of a finished charging session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionStats {
    /// Energy charged, kWh.
    pub charged_kwh: f64,
    /// Energy discharged (V2G), kWh.
    pub discharged_kwh: f64,
    /// Why it ended (for a roaming order's `StopReason`).
    pub stop_reason: StopReason,
}

impl OperatorPlatform {
    /// Enqueues `data` as `interface` to every peer `wants`, on `lane`. `payload` builds the
    /// Data per dialect (T/CEC peers get the reduced objects).
    pub(super) fn push_to_peers<T: Serialize>(
        &mut self,
        now: Instant,
        interface: Interface,
        lane: LaneKey,
        tag: OpTag,
        wants: impl Fn(&super::Pushes) -> bool,
        payload: impl Fn(Dialect) -> T,
    ) {
        let mut cache: [Option<Vec<u8>>; 2] = [None, None];
        for i in 0..self.outboxes.len() {
            if !self.pushes.get(i).is_some_and(&wants) {
                continue;
            }
            let dialect = self.peers.get(i).map_or(Dialect::Db4403, |p| p.dialect);
            let slot = &mut cache[usize::from(dialect == Dialect::Tcec)];
            let bytes = match slot {
                Some(b) => b.clone(),
                None => match serde_json::to_vec(&payload(dialect)) {
                    Ok(b) => slot.insert(b).clone(),
                    Err(e) => {
                        let text = e.to_string();
                        self.deferred_errors
                            .push_back((interface, "encode".into(), text, now));
                        continue;
                    }
                },
            };
            self.enqueue(i, lane, Push::new(interface, bytes, tag, now));
        }
    }

    /// Enqueues on peer `i`, counting a drop.
    pub(super) fn enqueue(&mut self, i: usize, lane: LaneKey, push: Push<OpTag>) {
        let Some(outbox) = self.outboxes.get_mut(i) else {
            return;
        };
        if let Some(dropped) = outbox.enqueue(lane, push) {
            self.stats.pushes_dropped += 1;
            let text = "lane full, oldest push dropped (kept in history for supplement_collect)";
            self.deferred_errors.push_back((
                dropped.interface,
                "dropped_queue_full".into(),
                text.into(),
                self.now,
            ));
        }
    }

    pub(super) fn push_station_info(&mut self, now: Instant, station: u32) {
        let Some(s) = self.mirror.stations.get(station as usize) else {
            return;
        };
        let info = s.info.clone();
        let chunks: Vec<_> = if info.equipment_infos.is_empty() {
            vec![Vec::new()]
        } else {
            info.equipment_infos
                .chunks(MAX_EQUIPMENT_PER_PUSH)
                .map(<[_]>::to_vec)
                .collect()
        };
        for chunk in chunks {
            let mut page = info.clone();
            page.equipment_infos = chunk;
            let data = StationInfoNotification { station_info: page };
            self.push_to_peers(
                now,
                Interface::NotificationStationInfo,
                LaneKey::Station(station),
                OpTag::StationInfo,
                |p| p.station_info,
                |_| &data,
            );
        }
    }

    /// A connector's state at `now`. Status, park and lock changes are pushed at once; the
    /// electrical values are kept for queries and periodic pushes.
    pub fn connector_status(
        &mut self,
        now: Instant,
        connector: ConnectorIdx,
        snapshot: &ConnectorSnapshot,
    ) {
        self.now = self.now.max(now);
        let c = connector.0;
        let Some(conn) = self.mirror.connectors.get_mut(c as usize) else {
            return;
        };
        let changed = !conn.seen || conn.snapshot.codes_differ(snapshot);
        let was_charging = conn.snapshot.status == ConnectorStatus::OccupiedCharging;
        let charging = snapshot.status == ConnectorStatus::OccupiedCharging;
        conn.snapshot = snapshot.clone();
        conn.seen = true;
        self.roaming_energy(now, c);
        if !changed {
            return;
        }
        if charging && !was_charging {
            self.session_begins(now, c);
        } else if was_charging && !charging {
            self.session_ends(now, c);
        }
        self.push_status(now, c);
    }

    /// Pushes connector `c`'s current status and records it in the history.
    pub(super) fn push_status(&mut self, now: Instant, c: u32) {
        let civil = self.civil(now);
        let limit = self.config.history.status_reports;
        let Some(conn) = self.mirror.connectors.get_mut(c as usize) else {
            return;
        };
        let wire = conn.snapshot.to_wire(&conn.id);
        let tcec = conn.snapshot.to_wire_tcec(&conn.id);
        bounded_push(&mut conn.status_history, (civil, wire.clone()), limit);
        let charging = conn.snapshot.status == ConnectorStatus::OccupiedCharging;
        if let (true, Some(every)) = (charging, self.config.status_refresh_while_charging) {
            conn.status_refresh_due = Some(now + every);
            self.arm(now + every, Timer::StatusRefresh(c));
        } else {
            conn.status_refresh_due = None;
        }
        self.push_to_peers(
            now,
            Interface::NotificationStationStatus,
            LaneKey::Connector(c),
            OpTag::Status,
            |p| p.station_status,
            |d| StationStatusNotification {
                connector_status_info: if d == Dialect::Tcec {
                    tcec.clone()
                } else {
                    wire.clone()
                },
            },
        );
    }

    fn session_begins(&mut self, now: Instant, c: u32) {
        let civil = self.civil(now);
        let period_s = (self.bms_period.as_micros() / 1_000_000) as u32;
        let sessions = self.config.history.bms_sessions;
        let due = now + self.current_bms_period(c);
        let Some(conn) = self.mirror.connectors.get_mut(c as usize) else {
            return;
        };
        conn.session_started = Some(now);
        let record = SessionRecord {
            start: civil,
            end: None,
            bms: Vec::new(),
            report_period_s: period_s,
        };
        bounded_push(&mut conn.sessions, record, sessions + 1);
        conn.bms_due = Some(due);
        self.arm(due, Timer::Bms(c));
    }

    fn session_ends(&mut self, now: Instant, c: u32) {
        let civil = self.civil(now);
        let Some(conn) = self.mirror.connectors.get_mut(c as usize) else {
            return;
        };
        conn.session_started = None;
        conn.bms_due = None;
        conn.status_refresh_due = None;
        if let Some(s) = conn.sessions.back_mut().filter(|s| s.end.is_none()) {
            s.end = Some(civil);
        }
    }

    /// The BMS period for connector `c`: shorter while a DC alarm is active.
    pub(super) fn current_bms_period(&self, c: u32) -> Duration {
        let alarmed = self
            .mirror
            .connectors
            .get(c as usize)
            .is_some_and(|conn| conn.dc && conn.active_alarms > 0);
        if alarmed {
            self.bms_period.min(self.config.alarm_bms_period)
        } else {
            self.bms_period
        }
    }

    /// The latest BMS data of a connector; pushed on the reporting period while charging.
    pub fn bms_sample(&mut self, now: Instant, connector: ConnectorIdx, bms: BmsInfo) {
        self.now = self.now.max(now);
        if let Some(conn) = self.mirror.connectors.get_mut(connector.0 as usize) {
            conn.bms = Some(bms);
        }
    }

    /// The BmsInfo of connector `c` as pushed: identification and times filled in.
    pub(super) fn bms_report(&self, now: Instant, c: u32) -> Option<BmsInfoReport> {
        let conn = self.mirror.connectors.get(c as usize)?;
        let charging = conn.snapshot.status == ConnectorStatus::OccupiedCharging;
        let bms_info = conn.bms.clone().filter(|_| charging).map(|mut b| {
            b.connector_id = Some(conn.id.clone());
            b.fresh_time = Some(self.civil(now).format_datetime());
            if let Some(start) = conn.session_started {
                b.start_charging_time = Some(self.civil(start).format_datetime());
                b.charging_session_s = Some(((now - start).as_micros() / 1_000_000) as u32);
            }
            b
        });
        Some(BmsInfoReport {
            connector_id: conn.id.clone(),
            status: conn.snapshot.status,
            bms_info,
        })
    }

    pub(super) fn bms_timer(&mut self, now: Instant, at: Instant, c: u32) {
        let period = self.current_bms_period(c);
        let limit = self.config.history.bms_reports_per_session;
        let Some(conn) = self.mirror.connectors.get(c as usize) else {
            return;
        };
        if conn.bms_due != Some(at) || conn.session_started.is_none() {
            return;
        }
        let report = self.bms_report(now, c).filter(|r| r.bms_info.is_some());
        if let Some(conn) = self.mirror.connectors.get_mut(c as usize) {
            conn.bms_due = Some(now + period);
            if let (Some(r), Some(s)) = (&report, conn.sessions.back_mut())
                && s.bms.len() < limit
            {
                s.bms.push(r.clone());
            }
        }
        self.arm(now + period, Timer::Bms(c));
        if let Some(report) = report {
            self.push_to_peers(
                now,
                Interface::NotificationBmsInfo,
                LaneKey::Connector(c),
                OpTag::Bms,
                |p| p.bms,
                |_| &report,
            );
        }
    }

    pub(super) fn status_refresh_timer(&mut self, now: Instant, at: Instant, c: u32) {
        let due = self
            .mirror
            .connectors
            .get(c as usize)
            .and_then(|conn| conn.status_refresh_due);
        if due == Some(at) {
            self.push_status(now, c);
        }
    }

    /// Sets the BMS reporting period (`query_frequency`): every charging connector's next
    /// push moves to its last push plus the new period, or now if that has passed.
    pub(super) fn set_bms_period(&mut self, now: Instant, period: Duration) {
        let old = self.bms_period;
        self.bms_period = period;
        let mut rearm = Vec::new();
        for (i, conn) in self.mirror.connectors.iter_mut().enumerate() {
            if let Some(due) = conn.bms_due {
                let last = due - old;
                let next = (last + period).max(now);
                conn.bms_due = Some(next);
                rearm.push((next, i as u32));
            }
        }
        for (at, c) in rearm {
            self.arm(at, Timer::Bms(c));
        }
        // Sessions in progress report the period in force when they are checked.
        let period_s = (period.as_micros() / 1_000_000) as u32;
        for s in self
            .mirror
            .connectors
            .iter_mut()
            .filter_map(|c| c.sessions.back_mut())
            .filter(|s| s.end.is_none())
        {
            s.report_period_s = period_s;
        }
    }

    /// An alarm raised or recovered; pushed at once (with BmsInfo when the charger is DC and a
    /// sample exists), recorded for `query_alarm_info` and `supplement_alarmInfo`.
    pub fn alarm(&mut self, now: Instant, alarm: AlarmInput) {
        self.now = self.now.max(now);
        let c = alarm.connector.0;
        let civil = self.civil(now);
        let bms = self.bms_report(now, c).and_then(|r| r.bms_info);
        let Some(conn) = self.mirror.connectors.get_mut(c as usize) else {
            return;
        };
        match alarm.status {
            AlarmStatus::Occurred => conn.active_alarms = conn.active_alarms.saturating_add(1),
            _ => conn.active_alarms = conn.active_alarms.saturating_sub(1),
        }
        // A DC alarm while charging shortens the BMS period at once (表19: < 10 s).
        let sooner = now + self.config.alarm_bms_period;
        if conn.dc && conn.active_alarms > 0 && conn.bms_due.is_some_and(|due| due > sooner) {
            conn.bms_due = Some(sooner);
            self.timers.insert((sooner, Timer::Bms(c)));
        }
        let Some(station) = self.mirror.stations.get_mut(conn.station as usize) else {
            return;
        };
        let info = AlarmInfo {
            station_id: station.info.station_id.clone(),
            operator_id: self.config.operator_id.clone(),
            equipment_owner_id: station.info.equipment_owner_id.clone(),
            station_name: station.info.station_name.clone(),
            equipment_id: conn.equipment_id.clone(),
            connector_id: conn.id.clone(),
            alarm_status: alarm.status,
            alarm_code: alarm.code,
            alarm_type: alarm
                .code
                .alarm_type()
                .unwrap_or(proto::tcec::codes::AlarmType::Other(0)),
            alarm_level: alarm
                .level
                .or(alarm.code.default_level())
                .unwrap_or(AlarmLevel::Notice),
            alarm_time: civil.format_datetime(),
            note: alarm.note,
            bms_info: if conn.dc { bms } else { None },
        };
        bounded_push(
            &mut station.alarms,
            (civil, info.clone()),
            self.config.history.alarms,
        );
        let deadline = now + self.config.alarm_deadline;
        let data = AlarmInfos {
            alarm_infos: vec![info],
        };
        self.push_to_peers(
            now,
            Interface::NotificationAlarmInfo,
            LaneKey::Connector(c),
            OpTag::Alarm { deadline },
            |p| p.alarm,
            |_| &data,
        );
    }

    /// An event at a station; pushed and recorded.
    pub fn event(&mut self, now: Instant, event: EventInput) {
        self.now = self.now.max(now);
        let civil = self.civil(now);
        let s = event.station.0;
        let Some(station) = self.mirror.stations.get_mut(s as usize) else {
            return;
        };
        let info = EventInfo {
            station_id: station.info.station_id.clone(),
            operator_id: self.config.operator_id.clone(),
            equipment_owner_id: station.info.equipment_owner_id.clone(),
            station_name: station.info.station_name.clone(),
            event_type: event
                .code
                .event_type()
                .unwrap_or(proto::tcec::codes::EventType::Other(0)),
            event_code: event.code,
            event_time: civil.format_datetime(),
            note: event.note,
        };
        bounded_push(
            &mut station.events,
            (civil, info.clone()),
            self.config.history.events,
        );
        let data = EventInfos {
            event_infos: vec![info],
        };
        self.push_to_peers(
            now,
            Interface::NotificationEventInfo,
            LaneKey::Station(s),
            OpTag::Event,
            |p| p.event,
            |_| &data,
        );
    }

    /// A session on `connector` ended with `stats`: the energy counts towards the day's
    /// statistics, and a roaming order on the connector is closed and billed.
    pub fn session_finished(&mut self, now: Instant, connector: ConnectorIdx, stats: SessionStats) {
        self.now = self.now.max(now);
        let day = day_number(self.civil(now));
        let max_days = self.config.history.stat_days;
        if let Some(conn) = self.mirror.connectors.get_mut(connector.0 as usize) {
            conn.add_energy(day, stats.charged_kwh, stats.discharged_kwh, max_days);
        }
        self.roaming_finished(now, connector.0, stats);
    }

    /// Sets (adds or replaces, by DisequipmentID) a distribution equipment record of a station.
    pub fn dis_equipment_status(
        &mut self,
        now: Instant,
        station: StationIdx,
        status: DisEquipmentStatusInfo,
    ) {
        self.now = self.now.max(now);
        if let Some(s) = self.mirror.stations.get_mut(station.0 as usize) {
            s.dis_equipment
                .insert(status.disequipment_id.clone(), status);
        }
    }

    /// Sets the video access records `query_video_info` returns for a station.
    pub fn set_videos(&mut self, station: StationIdx, videos: Vec<VideoInfo>) {
        if let Some(s) = self.mirror.stations.get_mut(station.0 as usize) {
            s.videos = videos;
        }
    }
}
