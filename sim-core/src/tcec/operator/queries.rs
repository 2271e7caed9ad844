//! The interfaces the operator platform serves (DB4403 chapter 9, T/CEC 102.2/102.3).

use super::mirror::{Connector, Station, day_number};
use super::{OperatorPlatform, Served};
use crate::tcec::serve::{self, Opened, Refusal, decode, respond};
use crate::time::{Duration, Instant};
use proto::tcec::objects::*;
use proto::tcec::{CivilTime, Dialect, Interface, Ret};

fn unknown(what: &str, id: &str) -> Refusal {
    let id: String = id.chars().take(32).collect();
    Refusal::new(Ret::BusinessParamInvalid, format!("unknown {what} {id:?}"))
}

fn parse_day(field: &str, s: &str) -> Result<i64, Refusal> {
    CivilTime::parse_date(s)
        .map(day_number)
        .map_err(|e| Refusal::new(Ret::BusinessParamInvalid, format!("{field}: {e}")))
}

impl OperatorPlatform {
    /// Serves an opened request: decodes, validates, answers.
    pub(super) fn serve(&mut self, now: Instant, opened: &Opened) -> Served {
        let Some(peer) = self.peers.get(opened.peer).cloned() else {
            return (
                Ret::SystemError,
                serve::error_response(now, None, Ret::SystemError, "no peer"),
            );
        };
        let keys = &peer.inbound;
        let d = opened.dialect.unwrap_or(peer.dialect);
        let p = opened.plaintext.as_slice();
        use Interface as I;
        match opened.interface {
            I::QueryToken => {
                let result = serve::serve_query_token(now, opened, &peer, &mut self.issuer);
                respond(now, keys, result)
            }
            I::QueryStationsInfo => {
                respond(now, keys, decode(p, d).and_then(|r| self.stations_info(&r)))
            }
            I::QueryStationsStatus | I::QueryStationStatus => {
                respond(now, keys, decode(p, d).map(|r| self.stations_status(&r, d)))
            }
            I::QueryStationChargeStats => {
                respond(now, keys, decode(p, d).and_then(|r| self.charge_stats(&r)))
            }
            I::QueryStationDischargeStats => respond(
                now,
                keys,
                decode(p, d).and_then(|r| self.discharge_stats(&r)),
            ),
            I::QueryStationStats => {
                respond(now, keys, decode(p, d).and_then(|r| self.tcec_stats(&r)))
            }
            I::QueryBmsInfo => {
                respond(now, keys, decode(p, d).and_then(|r| self.bms_info(now, &r)))
            }
            I::QueryAlarmInfo => respond(now, keys, decode(p, d).and_then(|r| self.alarm_info(&r))),
            I::QueryEventInfo => respond(now, keys, decode(p, d).and_then(|r| self.event_info(&r))),
            I::QueryFrequency => respond(now, keys, decode(p, d).map(|r| self.frequency(now, &r))),
            I::QueryDisEquipmentStatusInfo => {
                respond(now, keys, decode(p, d).and_then(|r| self.dis_status(&r)))
            }
            I::SupplementCollect => {
                respond(now, keys, decode(p, d).and_then(|r| self.supplement(r)))
            }
            I::SupplementStationInfo => {
                respond(now, keys, decode(p, d).and_then(|r| self.station_ref(&r)))
            }
            I::SupplementQueryBmsIntact => respond(
                now,
                keys,
                decode(p, d).and_then(|r| self.bms_intact(now, &r)),
            ),
            I::QueryVideoInfo => respond(now, keys, decode(p, d).and_then(|r| self.videos(&r))),
            _ => self.serve_roaming(now, opened, keys, d),
        }
    }

    fn station_by_id(&self, id: &str) -> Result<&Station, Refusal> {
        self.mirror
            .station_index(id)
            .and_then(|i| self.mirror.stations.get(i as usize))
            .ok_or_else(|| unknown("StationID", id))
    }

    fn connector_by_id(&self, id: &str) -> Result<&Connector, Refusal> {
        self.mirror
            .connector_index(id)
            .and_then(|i| self.mirror.connectors.get(i as usize))
            .ok_or_else(|| unknown("ConnectorID", id))
    }

    fn stations_info(
        &self,
        r: &QueryStationsInfoRequest,
    ) -> Result<QueryStationsInfoResponse, Refusal> {
        let since = match r.last_query_time.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => Some(CivilTime::parse_datetime(t).map_err(|e| {
                Refusal::new(Ret::BusinessParamInvalid, format!("LastQueryTime: {e}"))
            })?),
        };
        let size = r
            .page_size_or_default()
            .clamp(1, self.config.max_page_size.max(1));
        let page_no = r.page_no_or_default().max(1);
        let matching = || {
            self.mirror
                .by_modified
                .keys()
                .filter(move |(t, _)| since.is_none_or(|s| *t >= s))
        };
        let item_size = matching().count() as u32;
        let skip = (page_no as usize - 1).saturating_mul(size as usize);
        let station_infos = matching()
            .skip(skip)
            .take(size as usize)
            .filter_map(|(_, i)| self.mirror.stations.get(*i as usize))
            .map(|s| s.info.clone())
            .collect();
        Ok(QueryStationsInfoResponse {
            page_no,
            page_count: item_size.div_ceil(size),
            item_size,
            station_infos,
        })
    }

    fn stations_status(&self, r: &StationIdsRequest, dialect: Dialect) -> StationStatusResponse {
        let station_status_infos: Vec<StationStatusInfo> = r
            .station_ids
            .iter()
            .filter_map(|id| self.station_by_id(id).ok())
            .map(|s| StationStatusInfo {
                station_id: s.info.station_id.clone(),
                connector_status_infos: s
                    .connectors
                    .iter()
                    .filter_map(|c| self.mirror.connectors.get(*c as usize))
                    .map(|c| match dialect {
                        Dialect::Tcec => c.snapshot.to_wire_tcec(&c.id),
                        Dialect::Db4403 => c.snapshot.to_wire(&c.id),
                    })
                    .collect(),
            })
            .collect();
        StationStatusResponse {
            total: Some(station_status_infos.len() as u32),
            station_status_infos,
        }
    }

    /// Energy per equipment and connector of a station over a day range: `(charged,
    /// discharged)` totals and per-equipment lists of `(EquipmentID, [(ConnectorID, c, d)])`.
    #[allow(clippy::type_complexity)]
    fn energy(
        &self,
        r: &StatsQueryRequest,
    ) -> Result<(f64, f64, Vec<(String, Vec<(String, f64, f64)>)>), Refusal> {
        let first = parse_day("StartTime", &r.start_time)?;
        let last = parse_day("EndTime", &r.end_time)?;
        let station = self.station_by_id(&r.station_id)?;
        let mut per_equipment: Vec<(String, Vec<(String, f64, f64)>)> = Vec::new();
        let (mut total_c, mut total_d) = (0.0, 0.0);
        for c in station
            .connectors
            .iter()
            .filter_map(|c| self.mirror.connectors.get(*c as usize))
        {
            let (ch, dis) = c.energy_between(first, last);
            total_c += ch;
            total_d += dis;
            match per_equipment.iter_mut().find(|(e, _)| *e == c.equipment_id) {
                Some((_, list)) => list.push((c.id.clone(), ch, dis)),
                None => per_equipment.push((c.equipment_id.clone(), vec![(c.id.clone(), ch, dis)])),
            }
        }
        Ok((total_c, total_d, per_equipment))
    }

    fn charge_stats(&self, r: &StatsQueryRequest) -> Result<StationChargeStatsResponse, Refusal> {
        let (total, _, eq) = self.energy(r)?;
        let r1 = |x: f64| (x * 10.0).round() / 10.0;
        Ok(StationChargeStatsResponse {
            station_stats: StationChargeStatsInfo {
                station_id: r.station_id.clone(),
                start_time: r.start_time.clone(),
                end_time: r.end_time.clone(),
                station_charge_energy_kwh: r1(total),
                equipment_charge_stats_infos: eq
                    .into_iter()
                    .map(|(id, cs)| EquipmentChargeStatsInfo {
                        equipment_id: id,
                        equipment_charge_energy_kwh: r1(cs.iter().map(|c| c.1).sum()),
                        connector_charge_stats_infos: cs
                            .into_iter()
                            .map(|(id, c, _)| ConnectorChargeStatsInfo {
                                connector_id: id,
                                connector_charge_energy_kwh: Some(r1(c)),
                            })
                            .collect(),
                    })
                    .collect(),
            },
        })
    }

    fn discharge_stats(
        &self,
        r: &StatsQueryRequest,
    ) -> Result<StationDischargeStatsResponse, Refusal> {
        let (_, total, eq) = self.energy(r)?;
        let r1 = |x: f64| (x * 10.0).round() / 10.0;
        Ok(StationDischargeStatsResponse {
            station_stats: StationDischargeStatsInfo {
                station_id: r.station_id.clone(),
                start_time: r.start_time.clone(),
                end_time: r.end_time.clone(),
                station_discharge_energy_kwh: r1(total),
                equipment_discharge_stats_infos: eq
                    .into_iter()
                    .map(|(id, cs)| EquipmentDischargeStatsInfo {
                        equipment_id: id,
                        equipment_discharge_energy_kwh: r1(cs.iter().map(|c| c.2).sum()),
                        connector_discharge_stats_infos: cs
                            .into_iter()
                            .map(|(id, _, d)| ConnectorDischargeStatsInfo {
                                connector_id: id,
                                connector_discharge_energy_kwh: Some(r1(d)),
                            })
                            .collect(),
                    })
                    .collect(),
            },
        })
    }

    fn tcec_stats(&self, r: &StatsQueryRequest) -> Result<StationStatsResponse, Refusal> {
        let (total, _, eq) = self.energy(r)?;
        let r1 = |x: f64| (x * 10.0).round() / 10.0;
        Ok(StationStatsResponse {
            station_stats: StationStatsInfo {
                station_id: r.station_id.clone(),
                start_time: r.start_time.clone(),
                end_time: r.end_time.clone(),
                station_energy_kwh: r1(total),
                equipment_stats_infos: eq
                    .into_iter()
                    .map(|(id, cs)| EquipmentStatsInfo {
                        equipment_id: id,
                        equipment_energy_kwh: r1(cs.iter().map(|c| c.1).sum()),
                        connector_stats_infos: cs
                            .into_iter()
                            .map(|(id, c, _)| ConnectorStatsInfo {
                                connector_id: id,
                                connector_energy_kwh: r1(c),
                            })
                            .collect(),
                    })
                    .collect(),
            },
        })
    }

    fn bms_info(&self, now: Instant, r: &ConnectorIdRequest) -> Result<BmsInfoReport, Refusal> {
        let c = self
            .mirror
            .connector_index(&r.connector_id)
            .ok_or_else(|| unknown("ConnectorID", &r.connector_id))?;
        self.bms_report(now, c)
            .ok_or_else(|| unknown("ConnectorID", &r.connector_id))
    }

    fn alarm_info(&self, r: &QueryAlarmInfoRequest) -> Result<AlarmInfos, Refusal> {
        let station = self.station_by_id(&r.station_id)?;
        let alarm_infos = station
            .alarms
            .iter()
            .map(|(_, a)| a)
            .filter(|a| r.equipment_id.is_empty() || a.equipment_id == r.equipment_id)
            .cloned()
            .collect();
        Ok(AlarmInfos { alarm_infos })
    }

    fn event_info(&self, r: &QueryEventInfoRequest) -> Result<EventInfos, Refusal> {
        let first = parse_day("StartTime", &r.start_time)?;
        let last = parse_day("EndTime", &r.end_time)?;
        let station = self.station_by_id(&r.station_id)?;
        let event_infos = station
            .events
            .iter()
            .filter(|(t, _)| (first..=last).contains(&day_number(*t)))
            .map(|(_, e)| e.clone())
            .collect();
        Ok(EventInfos { event_infos })
    }

    fn frequency(&mut self, now: Instant, r: &QueryFrequencyRequest) -> StatusAck {
        self.set_bms_period(now, Duration::from_secs(u64::from(r.para_frequency_s)));
        StatusAck {
            status: AckStatus::Accepted,
        }
    }

    fn dis_status(
        &self,
        r: &QueryDisEquipmentStatusRequest,
    ) -> Result<DisEquipmentStatusInfos, Refusal> {
        let station = self.station_by_id(&r.station_id)?;
        let dis_equipment_status_infos = station
            .dis_equipment
            .values()
            .filter(|d| r.disequipment_id.is_empty() || d.disequipment_id == r.disequipment_id)
            .cloned()
            .collect();
        Ok(DisEquipmentStatusInfos {
            dis_equipment_status_infos,
        })
    }

    fn station_ref(&self, r: &StationRefRequest) -> Result<StationInfoNotification, Refusal> {
        Ok(StationInfoNotification {
            station_info: self.station_by_id(&r.station_id)?.info.clone(),
        })
    }

    fn videos(&self, r: &StationRefRequest) -> Result<VideoInfos, Refusal> {
        Ok(VideoInfos {
            video_infos: self.station_by_id(&r.station_id)?.videos.clone(),
        })
    }

    /// `supplement_collect`: per MissingTime, the status as of that time, the alarms and
    /// events reported in that second, or every BMS report of the session that started then.
    fn supplement(
        &self,
        r: SupplementCollectRequest,
    ) -> Result<SupplementCollectResponse, Refusal> {
        let times = missing_times(&r.missing_time)
            .into_iter()
            .map(CivilTime::parse_datetime)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Refusal::new(Ret::BusinessParamInvalid, format!("MissingTime: {e}")))?;
        let encode = |e: proto::tcec::TcecError| Refusal::new(Ret::SystemError, e.to_string());
        match r.interface_name {
            SupplementInterface::StationStatus => {
                let c = self.connector_by_id(&r.connector_id)?;
                let objects: Vec<_> = times
                    .iter()
                    .filter_map(|t| c.status_as_of(*t))
                    .cloned()
                    .collect();
                SupplementCollectResponse::new(r, &objects).map_err(encode)
            }
            SupplementInterface::BmsInfo => {
                let c = self.connector_by_id(&r.connector_id)?;
                let objects: Vec<_> = times
                    .first()
                    .and_then(|t| c.session_started_at(*t))
                    .map(|s| s.bms.clone())
                    .unwrap_or_default();
                SupplementCollectResponse::new(r, &objects).map_err(encode)
            }
            SupplementInterface::AlarmInfo => {
                let objects = self.records_at(&r, &times, |s| &s.alarms, |a| &a.connector_id)?;
                SupplementCollectResponse::new(r, &objects).map_err(encode)
            }
            SupplementInterface::EventInfo => {
                let objects = self.records_at(&r, &times, |s| &s.events, |_| "")?;
                SupplementCollectResponse::new(r, &objects).map_err(encode)
            }
            SupplementInterface::Other(name) => Err(unknown("InterfaceName", &name)),
        }
    }

    /// Alarm or event records of the request's station reported at one of `times`.
    fn records_at<T: Clone>(
        &self,
        r: &SupplementCollectRequest,
        times: &[CivilTime],
        list: impl Fn(&Station) -> &std::collections::VecDeque<(CivilTime, T)>,
        connector_of: impl Fn(&T) -> &str,
    ) -> Result<Vec<T>, Refusal> {
        let station = if r.station_id.is_empty() {
            let c = self.connector_by_id(&r.connector_id)?;
            self.mirror
                .stations
                .get(c.station as usize)
                .ok_or_else(|| unknown("StationID", ""))?
        } else {
            self.station_by_id(&r.station_id)?
        };
        Ok(times
            .iter()
            .flat_map(|t| list(station).iter().filter(move |(at, _)| at == t))
            .map(|(_, x)| x)
            .filter(|x| {
                let c = connector_of(x);
                r.connector_id.is_empty() || c.is_empty() || c == r.connector_id
            })
            .cloned()
            .collect())
    }

    fn bms_intact(&self, now: Instant, r: &BmsIntactRequest) -> Result<BmsIntactResponse, Refusal> {
        let c = self.connector_by_id(&r.connector_id)?;
        let start = missing_times(&r.missing_time)
            .first()
            .map(|t| CivilTime::parse_datetime(t))
            .transpose()
            .map_err(|e| Refusal::new(Ret::BusinessParamInvalid, format!("MissingTime: {e}")))?
            .ok_or_else(|| Refusal::new(Ret::BusinessParamInvalid, "MissingTime is empty"))?;
        let session = c
            .session_started_at(start)
            .ok_or_else(|| unknown("charging session starting", &start.format_datetime()))?;
        let end = session.end.unwrap_or_else(|| self.civil(now));
        Ok(BmsIntactResponse {
            charge_start_time: session.start.format_datetime(),
            charge_end_time: end.format_datetime(),
            bms_record_num: session.bms.len() as u32,
            report_frequency_s: session.report_period_s.max(1),
        })
    }
}
