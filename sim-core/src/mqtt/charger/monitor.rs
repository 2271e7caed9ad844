//! Monitoring (seed 设备监控): TelemetryReq on status changes and periodically, ChargingInfoReq
//! at a fixed interval while charging, WarningReq when a warning is raised or cleared.

use std::collections::VecDeque;

use proto::mqtt::pb;

use super::{ChargerClient, ClientError, Phase, Purpose, Timer};
use crate::time::Instant;

/// The warning records kept for GetWarningReq, and those not yet confirmed by WarningConf.
#[derive(Debug, Clone)]
pub(super) struct WarningLog {
    log: VecDeque<pb::WarningRecord>,
    capacity: usize,
    next_id: u32,
    queued: Vec<pb::WarningRecord>,
    in_flight: Vec<pb::WarningRecord>,
}

impl WarningLog {
    pub(super) fn new(capacity: usize) -> Self {
        WarningLog {
            log: VecDeque::new(),
            capacity: capacity.max(1),
            next_id: 0,
            queued: Vec::new(),
            in_flight: Vec::new(),
        }
    }

    /// The request carrying the warnings in flight failed: queue them again, first.
    pub(super) fn unsent_again(&mut self) {
        let mut again = std::mem::take(&mut self.in_flight);
        again.append(&mut self.queued);
        self.queued = again;
    }
}

fn value(measurand: pb::Measurand, v: f64) -> pb::SampledValue {
    pb::SampledValue {
        measurand: measurand as i32,
        vendor_ex: String::new(),
        value: v.round().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32,
    }
}

fn scaled(v: f64, scale: f64) -> u32 {
    (v * scale).round().clamp(0.0, f64::from(u32::MAX)) as u32
}

impl ChargerClient {
    /// Reports one connector's status and the station's available-connector count.
    pub(super) fn report_status(&mut self, now: Instant, connector: u32) {
        let Some(c) = self.connector(connector) else {
            return;
        };
        let report = pb::TelemetryReq {
            component: pb::Component::Connector as i32,
            connector_id: connector as i32,
            values: vec![value(
                pb::Measurand::ConnectorStatus,
                f64::from(c.status as i32),
            )],
            warning_bitmap: c.warnings.0,
            record_id: c.active.map_or(0, |r| r as i32),
            timestamp_unix_s: self.config.clock.unix_s(now),
        };
        self.send_telemetry(now, report);
        self.report_available(now);
    }

    fn report_available(&mut self, now: Instant) {
        let available = self
            .connectors
            .iter()
            .filter(|c| c.status == pb::ConnectorStatus::Available)
            .count();
        let report = pb::TelemetryReq {
            component: pb::Component::None as i32,
            values: vec![value(pb::Measurand::ConnectorAvailable, available as f64)],
            timestamp_unix_s: self.config.clock.unix_s(now),
            ..Default::default()
        };
        self.send_telemetry(now, report);
    }

    /// Every connector's status, then the count (after login).
    pub(super) fn report_all_status(&mut self, now: Instant) {
        for index in 0..self.connectors.len() {
            let Some(c) = self.connectors.get(index) else {
                continue;
            };
            let report = pb::TelemetryReq {
                component: pb::Component::Connector as i32,
                connector_id: index as i32 + 1,
                values: vec![value(
                    pb::Measurand::ConnectorStatus,
                    f64::from(c.status as i32),
                )],
                warning_bitmap: c.warnings.0,
                record_id: c.active.map_or(0, |r| r as i32),
                timestamp_unix_s: self.config.clock.unix_s(now),
            };
            self.send_telemetry(now, report);
        }
        self.report_available(now);
    }

    fn send_telemetry(&mut self, now: Instant, report: pb::TelemetryReq) {
        self.stats.telemetries += 1;
        self.send_plain(now, None, report.into());
    }

    /// The periodic measurements of every connector with a sample, plus the modem RSSI.
    pub(super) fn periodic_telemetry(&mut self, deadline: Instant, now: Instant) {
        if self.phase != Phase::Online {
            return;
        }
        self.send_measurements(now);
        let interval = self.config.telemetry_interval;
        if interval > crate::time::Duration::ZERO {
            let next = (deadline + interval).max(now);
            self.set_timer(Timer::Telemetry, Some(next));
        }
    }

    /// Sends the measurement telemetry now (periodic, or TriggerMessage).
    pub(super) fn send_measurements(&mut self, now: Instant) {
        for index in 0..self.connectors.len() {
            let Some(c) = self.connectors.get(index) else {
                continue;
            };
            let Some(s) = c.sample else { continue };
            let mut values = vec![
                value(pb::Measurand::Temperature, s.temperature_c),
                value(pb::Measurand::Voltage, s.voltage_v * 10.0),
                value(pb::Measurand::Current, s.current_a * 10.0),
                value(pb::Measurand::Electricity, s.energy_wh / 10.0),
                value(pb::Measurand::PowerWatts, s.power_w * 100.0),
                value(
                    pb::Measurand::ContactorStatus,
                    f64::from(u8::from(s.contactor_closed)),
                ),
            ];
            if let Some(soc) = s.soc_pct {
                values.push(value(pb::Measurand::Soc, soc));
            }
            let report = pb::TelemetryReq {
                component: pb::Component::Connector as i32,
                connector_id: index as i32 + 1,
                values,
                warning_bitmap: c.warnings.0,
                record_id: c.active.map_or(0, |r| r as i32),
                timestamp_unix_s: self.config.clock.unix_s(now),
            };
            self.send_telemetry(now, report);
        }
        let rssi = 20 + (rand::Rng::next_u32(&mut self.rng) % 11);
        let system = pb::TelemetryReq {
            component: pb::Component::System as i32,
            values: vec![value(pb::Measurand::Rssi, f64::from(rssi))],
            timestamp_unix_s: self.config.clock.unix_s(now),
            ..Default::default()
        };
        self.send_telemetry(now, system);
    }

    /// ChargingInfoReq for every running transaction whose StartTransactionConf arrived in
    /// this login (seed 离线约定 1: nothing before the re-sent start is confirmed).
    pub(super) fn periodic_charging_info(&mut self, deadline: Instant, now: Instant) {
        if self.phase != Phase::Online {
            return;
        }
        self.send_charging_infos(now, 0);
        let interval = self.config.charging_info_interval;
        if interval > crate::time::Duration::ZERO {
            let next = (deadline + interval).max(now);
            self.set_timer(Timer::ChargingInfo, Some(next));
        }
    }

    /// Sends ChargingInfoReq for `connector` (0 = every connector) now.
    pub(super) fn send_charging_infos(&mut self, now: Instant, connector: u32) {
        let dc = self.identity.kind == pb::ChargerKind::Dc;
        let mut infos = Vec::new();
        for r in self.outbox.records() {
            if r.stop.is_some() || !r.start_acked || (connector != 0 && r.connector != connector) {
                continue;
            }
            let Some(c) = self.connector(r.connector) else {
                continue;
            };
            let s = c.sample.unwrap_or_default();
            infos.push(pb::ChargingInfoReq {
                record_id: r.record_id,
                connector_id: r.connector,
                elapsed_s: u32::try_from((now - r.started_at).as_micros() / 1_000_000)
                    .unwrap_or(u32::MAX),
                energy_wh: scaled(r.energy_wh(), 1.0),
                cost_milliyuan: r.bill.total_milliyuan(now),
                power_w: scaled(s.power_w, 1.0),
                remaining_s: s.remaining_s.unwrap_or(0),
                transaction_id: r.transaction_id,
                voltage_mv: scaled(s.voltage_v, 1_000.0),
                current_ma: scaled(s.current_a, 1_000.0),
                meter_wh: super::outbox::wh(r.last_register_wh),
                timestamp_unix_s: self.config.clock.unix_s(now),
                dc: if dc { c.bms.clone() } else { None },
            });
        }
        for info in infos {
            self.stats.charging_infos += 1;
            self.send_plain(now, None, info.into());
        }
    }

    /// A warning became active (`active`) or cleared on `connector` (0 = the station):
    /// recorded, mirrored in the telemetry bitmap and reported with WarningReq.
    pub fn set_warning(
        &mut self,
        now: Instant,
        connector: u32,
        code: pb::WarningCode,
        active: bool,
        level: pb::WarningLevel,
    ) -> Result<(), ClientError> {
        self.tick(now);
        if connector != 0 {
            let c = self
                .connector_mut(connector)
                .ok_or(ClientError::NoSuchConnector { connector })?;
            if active {
                c.warnings.set(code);
            } else {
                c.warnings.clear(code);
            }
        }
        self.warnings.next_id = self.warnings.next_id.wrapping_add(1).max(1);
        let record = pb::WarningRecord {
            warning_id: self.warnings.next_id,
            code: code as i32,
            component: if connector == 0 {
                pb::Component::System
            } else {
                pb::Component::Connector
            } as i32,
            connector_id: connector,
            active,
            timestamp_unix_s: self.config.clock.unix_s(now),
            level: level as i32,
            vendor_code: String::new(),
            info: String::new(),
            record_id: self.active_transaction(connector).unwrap_or(0),
        };
        if self.warnings.log.len() == self.warnings.capacity {
            self.warnings.log.pop_front();
        }
        self.warnings.log.push_back(record.clone());
        self.warnings.queued.push(record);
        self.flush_warnings(now);
        Ok(())
    }

    /// Sends the queued warnings in one WarningReq if none is in flight.
    fn flush_warnings(&mut self, now: Instant) {
        if self.phase != Phase::Online
            || !self.warnings.in_flight.is_empty()
            || self.warnings.queued.is_empty()
        {
            return;
        }
        let warnings = std::mem::take(&mut self.warnings.queued);
        let req = pb::WarningReq {
            warnings: warnings.clone(),
        };
        if self
            .send_request(now, now, req.into(), Purpose::Warning)
            .is_some()
        {
            self.warnings.in_flight = warnings;
        } else {
            self.warnings.queued = warnings;
        }
    }

    /// WarningConf arrived: the warnings in flight are confirmed.
    pub(super) fn on_warning_conf(&mut self, now: Instant) {
        self.warnings.in_flight.clear();
        self.flush_warnings(now);
    }

    /// After a login: re-send what was never confirmed.
    pub(super) fn resend_warnings(&mut self, now: Instant) {
        self.warnings.unsent_again();
        self.flush_warnings(now);
    }

    /// GetWarningConf: records at or after `since`, oldest first; with `active_only`, only
    /// raises whose code is still active.
    pub(super) fn warnings_conf(&self, req: &pb::GetWarningReq) -> pb::GetWarningConf {
        let max = if req.max_count == 0 {
            50
        } else {
            req.max_count.min(500)
        } as usize;
        let still_active = |w: &pb::WarningRecord| {
            let code = w.code();
            if w.connector_id == 0 {
                return true;
            }
            self.connector(w.connector_id)
                .is_some_and(|c| c.warnings.contains(code))
        };
        let mut warnings = Vec::new();
        let mut more = false;
        for w in self
            .warnings
            .log
            .iter()
            .filter(|w| w.timestamp_unix_s >= req.since_unix_s)
        {
            if req.active_only && !(w.active && still_active(w)) {
                continue;
            }
            if warnings.len() == max {
                more = true;
                break;
            }
            warnings.push(w.clone());
        }
        pb::GetWarningConf { warnings, more }
    }
}
