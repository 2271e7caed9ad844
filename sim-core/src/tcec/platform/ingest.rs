//! Serving: tokens, push ingestion, and fault injection.

use rand::RngExt as _;

use super::{MonitoringPlatform, PollTag};
use crate::metrics::Metrics;
use crate::tcec::exchange::{InboundRequest, ServerResponse};
use crate::tcec::outbox::Push;
use crate::tcec::serve::{self, Opened, Refusal, decode, respond};
use crate::time::{Duration, Instant};
use proto::tcec::objects::*;
use proto::tcec::{Dialect, Interface, ResponseEnvelope, Ret, TcecKeys};

/// Interfaces the monitoring platform serves.
fn serves(i: Interface) -> bool {
    use Interface as I;
    matches!(
        i,
        I::QueryToken
            | I::NotificationStationInfo
            | I::NotificationStationStatus
            | I::NotificationBmsInfo
            | I::NotificationAlarmInfo
            | I::NotificationEventInfo
    )
}

const ACCEPTED: StatusAck = StatusAck {
    status: AckStatus::Accepted,
};

impl MonitoringPlatform {
    fn roll(&mut self, p: f64) -> bool {
        p > 0.0 && !p.is_nan() && self.rng.random_bool(p.min(1.0))
    }

    fn delay(&mut self) -> Duration {
        let f = self.config.faults;
        let jitter = f.response_jitter.as_micros();
        let extra = if jitter > 0 {
            self.rng.random_range(0..=jitter)
        } else {
            0
        };
        f.response_delay + Duration::from_micros(extra)
    }

    pub(super) fn serve(
        &mut self,
        now: Instant,
        request: InboundRequest<'_>,
        metrics: &mut Metrics,
    ) -> ServerResponse {
        let opened =
            match serve::open_inbound(now, request, &self.config.peers, &self.issuer, serves) {
                Ok(o) => o,
                Err((iface, response)) => {
                    self.store.counts.refused += 1;
                    let ret =
                        ResponseEnvelope::parse(&response.body).map_or(Ret::Other(404), |e| e.ret);
                    self.names.count_served(metrics, iface, ret, now, "refused");
                    return response;
                }
            };
        let Some(keys) = self
            .config
            .peers
            .get(opened.peer)
            .map(|p| p.inbound.clone())
        else {
            return serve::error_response(now, None, Ret::SystemError, "no peer");
        };
        let delay = self.delay();
        let faults = self.config.faults;
        let (ret, mut response) = if self.roll(faults.error_500_ratio) {
            self.store.counts.faulted += 1;
            let mut r = serve::error_response(
                now,
                Some(&keys),
                Ret::SystemError,
                "injected fault: system error",
            );
            r.status = 500;
            (Ret::SystemError, r)
        } else if self.roll(faults.busy_ratio) {
            self.store.counts.faulted += 1;
            let r = serve::error_response(
                now,
                Some(&keys),
                Ret::Busy,
                "injected fault: busy, retry later",
            );
            (Ret::Busy, r)
        } else {
            self.dispatch(now, &opened, &keys)
        };
        if !ret.is_success() {
            self.store.counts.refused += 1;
        }
        if self.roll(faults.wrong_signature_ratio) {
            self.store.counts.faulted += 1;
            corrupt_signature(&mut response);
        }
        self.names
            .count_served(metrics, Some(opened.interface), ret, now, "refused");
        response.respond_at = now + delay;
        response
    }

    fn dispatch(
        &mut self,
        now: Instant,
        opened: &Opened,
        keys: &TcecKeys,
    ) -> (Ret, ServerResponse) {
        let peer = opened.peer;
        let Some(config) = self.config.peers.get(peer).cloned() else {
            return (
                Ret::SystemError,
                serve::error_response(now, None, Ret::SystemError, "no peer"),
            );
        };
        let d = opened.dialect.unwrap_or(config.dialect);
        let p = opened.plaintext.as_slice();
        use Interface as I;
        match opened.interface {
            I::QueryToken => {
                let result = serve::serve_query_token(now, opened, &config, &mut self.issuer);
                if matches!(&result, Ok(r) if r.succ_stat == SuccStat::Success) {
                    self.store.counts.tokens_issued += 1;
                    if let Some(after) = self.config.faults.expire_tokens_after {
                        self.issuer.cut_lifetimes(peer, now + after);
                    }
                }
                respond(now, keys, result)
            }
            I::NotificationStationInfo => {
                respond(now, keys, decode(p, d).map(|r| self.station_info(peer, r)))
            }
            I::NotificationStationStatus => respond(
                now,
                keys,
                decode(p, d).map(|r: StationStatusNotification| {
                    self.store.counts.station_status += 1;
                    self.status_received(now, peer, r.connector_status_info);
                    ACCEPTED
                }),
            ),
            I::NotificationBmsInfo => {
                respond(now, keys, decode(p, d).map(|r| self.bms_received(peer, r)))
            }
            I::NotificationAlarmInfo => {
                respond(now, keys, decode(p, d).map(|r| self.alarms_received(r)))
            }
            I::NotificationEventInfo => {
                respond(now, keys, decode(p, d).map(|r| self.events_received(r)))
            }
            other => respond::<()>(
                now,
                keys,
                Err(Refusal::new(
                    Ret::BusinessParamInvalid,
                    format!("{other} is not served here"),
                )),
            ),
        }
    }

    /// Stores a station; chargers of paged pushes are merged by EquipmentID.
    pub(super) fn station_info(&mut self, peer: usize, r: StationInfoNotification) -> StatusAck {
        self.store.counts.station_info += 1;
        let info = r.station_info;
        for e in &info.equipment_infos {
            for c in &e.connector_infos {
                let home = (info.station_id.clone(), e.equipment_id.clone());
                self.connector_homes
                    .insert((peer, c.connector_id.clone()), home);
            }
        }
        let key = (peer, info.station_id.clone());
        match self.store.stations.get_mut(&key) {
            Some(existing) => {
                let mut merged = info.clone();
                let mut equipment = std::mem::take(&mut existing.equipment_infos);
                for e in info.equipment_infos {
                    match equipment
                        .iter_mut()
                        .find(|x| x.equipment_id == e.equipment_id)
                    {
                        Some(slot) => *slot = e,
                        None => equipment.push(e),
                    }
                }
                merged.equipment_infos = equipment;
                *existing = merged;
            }
            None => {
                self.store.stations.insert(key, info);
            }
        }
        ACCEPTED
    }

    /// Stores a status (from a push or a poll) and follows charging sessions.
    pub(super) fn status_received(
        &mut self,
        now: Instant,
        peer: usize,
        status: ConnectorStatusInfo,
    ) {
        let max = self.config.status_history.max(1);
        let key = (peer, status.connector_id.clone());
        let view = self.store.connectors.entry(key).or_default();
        let was = view.latest().map(|s| s.status);
        let now_charging = status.status == ConnectorStatus::OccupiedCharging;
        while view.statuses.len() >= max {
            view.statuses.pop_front();
        }
        view.statuses.push_back((now, status.clone()));
        let was_charging = was == Some(ConnectorStatus::OccupiedCharging);
        if now_charging && !was_charging {
            view.charging_since = Some(now);
            view.session_bms = 0;
            view.session_start = None;
        } else if was_charging && !now_charging {
            let since = view.charging_since.take();
            let (count, start) = (view.session_bms, view.session_start.clone());
            if let (Some(since), Some(start)) = (since, start) {
                self.session_ended(now, peer, &status.connector_id, since, start, count);
            }
        }
    }

    pub(super) fn bms_received(&mut self, peer: usize, r: BmsInfoReport) -> StatusAck {
        self.store.counts.bms += 1;
        let key = (peer, r.connector_id.clone());
        let view = self.store.connectors.entry(key).or_default();
        let start = r
            .bms_info
            .as_ref()
            .and_then(|b| b.start_charging_time.clone());
        if start.is_some() && start != view.session_start {
            view.session_start = start;
            view.session_bms = 0;
        }
        view.session_bms = view.session_bms.saturating_add(1);
        view.bms = Some(r);
        ACCEPTED
    }

    fn alarms_received(&mut self, r: AlarmInfos) -> StatusAck {
        let max = self.config.max_records.max(1);
        for a in r.alarm_infos {
            self.store.counts.alarms += 1;
            while self.store.alarms.len() >= max {
                self.store.alarms.pop_front();
            }
            self.store.alarms.push_back(a);
        }
        ACCEPTED
    }

    fn events_received(&mut self, r: EventInfos) -> StatusAck {
        let max = self.config.max_records.max(1);
        for e in r.event_infos {
            self.store.counts.events += 1;
            while self.store.events.len() >= max {
                self.store.events.pop_front();
            }
            self.store.events.push_back(e);
        }
        ACCEPTED
    }

    /// After a charging session: when fewer BMS reports arrived than the period implies,
    /// ask the operator whether its record is complete (`supplement_query_bms_intact`).
    fn session_ended(
        &mut self,
        now: Instant,
        peer: usize,
        connector_id: &str,
        since: Instant,
        start: String,
        received: u32,
    ) {
        if !self.config.polls.supplement_gaps {
            return;
        }
        let period_s = u64::from(self.config.polls.frequency_s.unwrap_or(60).max(1));
        let expected = (now - since).as_micros() / 1_000_000 / period_s;
        if u64::from(received) + 1 >= expected {
            return;
        }
        let Some((station_id, equipment_id)) = self
            .connector_homes
            .get(&(peer, connector_id.to_owned()))
            .cloned()
        else {
            return;
        };
        let Some(config) = self.config.peers.get(peer) else {
            return;
        };
        let request = BmsIntactRequest {
            operator_id: config.inbound.operator_id.clone(),
            station_id,
            connector_id: connector_id.to_owned(),
            equipment_id,
            missing_time: format!("{{{start}}}"),
        };
        let tag = PollTag::BmsIntact {
            connector_id: connector_id.to_owned(),
            received,
        };
        if let (Ok(bytes), Some(o)) = (serde_json::to_vec(&request), self.outboxes.get_mut(peer)) {
            o.enqueue_free(Push::new(
                Interface::SupplementQueryBmsIntact,
                bytes,
                tag,
                now,
            ));
        }
    }

    /// The dialect of peer `peer`.
    pub(super) fn dialect(&self, peer: usize) -> Dialect {
        self.config
            .peers
            .get(peer)
            .map_or(Dialect::Db4403, |p| p.dialect)
    }
}

/// Flips the first character of the Sig of a response envelope.
fn corrupt_signature(response: &mut ServerResponse) {
    if let Ok(mut envelope) = ResponseEnvelope::parse(&response.body) {
        let flipped = match envelope.sig.chars().next() {
            Some('0') => '1',
            _ => '0',
        };
        let rest: String = envelope.sig.chars().skip(1).collect();
        envelope.sig = if envelope.sig.is_empty() {
            "00000000000000000000000000000000".to_owned()
        } else {
            format!("{flipped}{rest}")
        };
        response.body = envelope.to_json().into_bytes();
    }
}
