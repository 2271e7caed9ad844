//! Polling the operator platforms, and what comes back.

use std::collections::VecDeque;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{MonitoringPlatform, Timer};
use crate::tcec::outbox::{Outcome, Push, SendFailure};
use crate::time::{Duration, Instant};
use proto::tcec::envelope::decode_data;
use proto::tcec::objects::*;
use proto::tcec::{Interface, Validate};

/// What a platform request was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollTag {
    /// A `query_stations_info` page.
    StationsInfo {
        /// The page.
        page: u32,
        /// The `LastQueryTime` sent.
        since: Option<String>,
    },
    /// A `query_stations_status` batch.
    StationsStatus,
    /// A `query_bms_info`.
    Bms,
    /// A statistics query.
    Stats,
    /// The one `query_frequency`.
    Frequency,
    /// A completeness check before re-collecting a session's BMS data.
    BmsIntact {
        /// The connector.
        connector_id: String,
        /// BMS reports the platform received for the session.
        received: u32,
    },
    /// A `supplement_collect`.
    Supplement,
    /// A request made through [`MonitoringPlatform::request`].
    Manual,
}

/// The answer to a [`MonitoringPlatform::request`].
#[derive(Debug, Clone, PartialEq)]
pub struct ManualResponse {
    /// The interface called.
    pub interface: Interface,
    /// The decrypted response Data, or why there is none.
    pub result: Result<Option<Vec<u8>>, SendFailure>,
}

impl ManualResponse {
    /// Decodes the Data as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Option<T> {
        match &self.result {
            Ok(Some(data)) => decode_data(data).ok(),
            _ => None,
        }
    }
}

impl MonitoringPlatform {
    pub(super) fn schedule_polls(&mut self) {
        let polls = self.config.polls;
        // Polls start one second in, after the first token fetch has gone out.
        let start = Instant::from_secs(1);
        for peer in 0..self.config.peers.len() {
            for (period, timer) in [
                (polls.stations_info, Timer::StationsInfo(peer)),
                (polls.stations_status, Timer::StationsStatus(peer)),
                (polls.bms, Timer::Bms(peer)),
                (polls.stats, Timer::Stats(peer)),
            ] {
                if period.is_some() {
                    self.timers.insert((start, timer));
                }
            }
            if let Some(f) = polls.frequency_s {
                self.enqueue(
                    Instant::ZERO,
                    peer,
                    Interface::QueryFrequency,
                    &QueryFrequencyRequest {
                        para_frequency_s: f,
                    },
                    PollTag::Frequency,
                );
                if let Some(sent) = self.frequency_sent.get_mut(peer) {
                    *sent = true;
                }
            }
        }
    }

    fn enqueue<T: Serialize>(
        &mut self,
        now: Instant,
        peer: usize,
        iface: Interface,
        data: &T,
        tag: PollTag,
    ) {
        if let (Ok(bytes), Some(o)) = (serde_json::to_vec(data), self.outboxes.get_mut(peer)) {
            o.enqueue_free(Push::new(iface, bytes, tag, now));
        }
    }

    /// Sends `data` to `interface` of peer `peer` now; the answer is kept for
    /// [`MonitoringPlatform::take_responses`]. For tests and ad-hoc queries.
    pub fn request<T: Serialize>(
        &mut self,
        now: Instant,
        peer: crate::tcec::PeerId,
        interface: Interface,
        data: &T,
    ) {
        self.now = self.now.max(now);
        self.enqueue(now, usize::from(peer.0), interface, data, PollTag::Manual);
    }

    /// Takes the answers to [`MonitoringPlatform::request`] received so far.
    pub fn take_responses(&mut self) -> VecDeque<ManualResponse> {
        std::mem::take(&mut self.manual)
    }

    fn rearm(&mut self, now: Instant, period: Option<Duration>, timer: Timer) {
        if let Some(p) = period {
            self.timers.insert((now + p, timer));
        }
    }

    pub(super) fn fire_poll(&mut self, now: Instant, timer: Timer) {
        let polls = self.config.polls;
        match timer {
            Timer::StationsInfo(peer) => {
                let since = self.last_info_query.get(&peer).map(|t| t.format_datetime());
                self.last_info_query.insert(peer, self.civil(now));
                self.stations_info_page(now, peer, 1, since);
                self.rearm(now, polls.stations_info, timer);
            }
            Timer::StationsStatus(peer) => {
                let ids: Vec<String> = self.stations_of(peer);
                for chunk in ids.chunks(50) {
                    let data = StationIdsRequest {
                        station_ids: chunk.to_vec(),
                    };
                    let iface = match self.dialect(peer) {
                        proto::tcec::Dialect::Db4403 => Interface::QueryStationsStatus,
                        proto::tcec::Dialect::Tcec => Interface::QueryStationStatus,
                    };
                    self.enqueue(now, peer, iface, &data, PollTag::StationsStatus);
                }
                self.rearm(now, polls.stations_status, timer);
            }
            Timer::Bms(peer) => {
                let charging: Vec<String> = self
                    .store
                    .connectors
                    .iter()
                    .filter(|((p, _), v)| *p == peer && v.charging_since.is_some())
                    .map(|((_, id), _)| id.clone())
                    .take(polls.bms_batch.max(1))
                    .collect();
                for id in charging {
                    let data = ConnectorIdRequest { connector_id: id };
                    self.enqueue(now, peer, Interface::QueryBmsInfo, &data, PollTag::Bms);
                }
                self.rearm(now, polls.bms, timer);
            }
            Timer::Stats(peer) => {
                let day = self.civil(now).format_date();
                for station_id in self.stations_of(peer) {
                    let data = StatsQueryRequest {
                        station_id,
                        start_time: day.clone(),
                        end_time: day.clone(),
                    };
                    self.enqueue(
                        now,
                        peer,
                        Interface::QueryStationChargeStats,
                        &data,
                        PollTag::Stats,
                    );
                }
                self.rearm(now, polls.stats, timer);
            }
            Timer::Checks => {}
        }
    }

    fn stations_of(&self, peer: usize) -> Vec<String> {
        self.store
            .stations
            .keys()
            .filter(|(p, _)| *p == peer)
            .map(|(_, id)| id.clone())
            .collect()
    }

    fn stations_info_page(&mut self, now: Instant, peer: usize, page: u32, since: Option<String>) {
        let data = QueryStationsInfoRequest {
            last_query_time: since.clone(),
            page_no: Some(page),
            page_size: Some(self.config.polls.page_size.max(1)),
        };
        self.enqueue(
            now,
            peer,
            Interface::QueryStationsInfo,
            &data,
            PollTag::StationsInfo { page, since },
        );
    }

    pub(super) fn poll_outcome(&mut self, now: Instant, peer: usize, outcome: Outcome<PollTag>) {
        let (iface, tag, data) = match outcome {
            Outcome::Delivered {
                interface,
                tag,
                data,
            } => (interface, tag, Ok(data)),
            Outcome::Failed {
                interface,
                tag,
                reason,
            } => (interface, tag, Err(reason)),
        };
        if tag == PollTag::Manual {
            self.manual.push_back(ManualResponse {
                interface: iface,
                result: data,
            });
            while self.manual.len() > 1024 {
                self.manual.pop_front();
            }
            return;
        }
        let Ok(Some(data)) = data else {
            return;
        };
        let dialect = self.dialect(peer);
        match tag {
            PollTag::StationsInfo { page, since } => {
                let Some(r) = typed::<QueryStationsInfoResponse>(&data, dialect) else {
                    return;
                };
                for s in r.station_infos {
                    self.station_info(peer, StationInfoNotification { station_info: s });
                }
                if page < r.page_count {
                    self.stations_info_page(now, peer, page + 1, since);
                }
            }
            PollTag::StationsStatus => {
                let Some(r) = typed::<StationStatusResponse>(&data, dialect) else {
                    return;
                };
                for c in r
                    .station_status_infos
                    .into_iter()
                    .flat_map(|s| s.connector_status_infos)
                {
                    self.status_received(now, peer, c);
                }
            }
            PollTag::Bms => {
                if let Some(r) = typed::<BmsInfoReport>(&data, dialect)
                    && let Some(view) = self
                        .store
                        .connectors
                        .get_mut(&(peer, r.connector_id.clone()))
                {
                    view.bms = Some(r);
                }
            }
            PollTag::BmsIntact {
                connector_id,
                received,
            } => self.bms_intact_answer(now, peer, connector_id, received, &data),
            PollTag::Supplement => {
                if let Some(r) = typed::<SupplementCollectResponse>(&data, dialect) {
                    self.store.counts.supplemented += r.objects.len() as u64;
                }
            }
            PollTag::Stats | PollTag::Frequency | PollTag::Manual => {}
        }
    }

    fn bms_intact_answer(
        &mut self,
        now: Instant,
        peer: usize,
        connector_id: String,
        received: u32,
        data: &[u8],
    ) {
        let Some(r) = typed::<BmsIntactResponse>(data, self.dialect(peer)) else {
            return;
        };
        if r.bms_record_num <= received {
            return;
        }
        let (station_id, equipment_id) = self
            .connector_homes
            .get(&(peer, connector_id.clone()))
            .cloned()
            .unwrap_or_default();
        let Some(operator_id) = self
            .config
            .peers
            .get(peer)
            .map(|p| p.inbound.operator_id.clone())
        else {
            return;
        };
        let request = SupplementCollectRequest {
            operator_id,
            station_id,
            connector_id,
            equipment_id,
            missing_time: format!("{{{}}}", r.charge_start_time),
            interface_name: SupplementInterface::BmsInfo,
        };
        self.enqueue(
            now,
            peer,
            Interface::SupplementCollect,
            &request,
            PollTag::Supplement,
        );
    }
}

/// Decodes and validates response Data; invalid answers are ignored (the operator side
/// counts them when it is chargestorm's own, and a foreign operator's bad answer is not
/// stored).
fn typed<T: DeserializeOwned + Validate>(data: &[u8], dialect: proto::tcec::Dialect) -> Option<T> {
    let value: T = decode_data(data).ok()?;
    value.validate_for(dialect).ok()?;
    Some(value)
}
