//! Application inputs: what the charger's connectors (the fleet engine) tell the client.

use proto::mqtt::pb;

use super::outbox::{StopInfo, TxRecord};
use super::{
    ChargerClient, ClientError, ClientEvent, IdToken, Phase, Purpose, RecordId, Sample, Timer,
};
use crate::mqtt::tariff::Bill;
use crate::time::{Duration, Instant};

impl ChargerClient {
    /// The connector's status changed (OCPP ChargePointStatus). While logged in, reports it
    /// with TelemetryReq (seed: connector status and available-connector count on change).
    pub fn set_connector_status(
        &mut self,
        now: Instant,
        connector: u32,
        status: pb::ConnectorStatus,
    ) -> Result<(), ClientError> {
        self.tick(now);
        let c = self
            .connector_mut(connector)
            .ok_or(ClientError::NoSuchConnector { connector })?;
        if c.status == status {
            return Ok(());
        }
        c.status = status;
        if self.phase == Phase::Online {
            self.report_status(now, connector);
        }
        Ok(())
    }

    /// A user presented `token` at `connector`. Online: AuthorizeReq, answered by
    /// [`ClientEvent::Authorized`]. Offline (or when the backend does not answer in time): the
    /// ID-card cache decides, if `LocalAuthorizeOffline` is on.
    pub fn authorize(
        &mut self,
        now: Instant,
        connector: u32,
        token: IdToken,
    ) -> Result<(), ClientError> {
        self.tick(now);
        let c = self
            .connector(connector)
            .ok_or(ClientError::NoSuchConnector { connector })?;
        if let Some(r) = &c.reservation
            && r.id_tag != token.tag()
        {
            self.events.push_back(ClientEvent::Authorized {
                connector,
                id_tag: token.tag().to_owned(),
                kind: token.kind(),
                accepted: false,
                offline: self.phase != Phase::Online,
            });
            return Ok(());
        }
        if self.phase == Phase::Online {
            let req = pb::AuthorizeReq {
                id_tag: token.tag().to_owned(),
                id_tag_kind: token.kind() as i32,
                connector_id: connector,
            };
            let purpose = Purpose::Authorize {
                connector,
                token: token.clone(),
            };
            if self.send_request(now, now, req.into(), purpose).is_some() {
                return Ok(());
            }
        }
        self.authorize_offline(now, connector, &token);
        Ok(())
    }

    /// Decides an authorization from the card cache (seed 离线鉴权).
    pub(super) fn authorize_offline(&mut self, now: Instant, connector: u32, token: &IdToken) {
        let unix = self.config.clock.unix_s(now);
        let accepted = self.config.local_authorize_offline && self.cache.accepts(token.tag(), unix);
        self.events.push_back(ClientEvent::Authorized {
            connector,
            id_tag: token.tag().to_owned(),
            kind: token.kind(),
            accepted,
            offline: true,
        });
    }

    /// Charging started on `connector` for `token` with the meter at `meter_start_wh`.
    /// Creates the transaction record (seed 桩端记录号) and queues StartTransactionReq; a start
    /// while not logged in is flagged offline and reported after the next login. A pending
    /// remote start on the connector (same tag) contributes its order id and reservation.
    pub fn start_transaction(
        &mut self,
        now: Instant,
        connector: u32,
        token: IdToken,
        meter_start_wh: f64,
        mut plan: pb::ChargingPlan,
    ) -> Result<RecordId, ClientError> {
        self.tick(now);
        let c = self
            .connector(connector)
            .ok_or(ClientError::NoSuchConnector { connector })?;
        if let Some(record_id) = c.active {
            return Err(ClientError::ConnectorBusy {
                connector,
                record_id,
            });
        }
        let mut reservation_id = match &c.reservation {
            Some(r) if r.id_tag != token.tag() => return Err(ClientError::Reserved { connector }),
            Some(r) => r.id,
            None => 0,
        };
        let mut order_id = String::new();
        if let Some(p) = &c.pending_start
            && p.id_tag == token.tag()
        {
            order_id = p.order_id.clone();
            if plan.mode() == pb::ChargingMode::Unspecified {
                plan = p.plan;
            }
            if reservation_id == 0 {
                reservation_id = p.reservation_id;
            }
        }
        let record_id = self.outbox.new_record_id();
        let tariff = self.tariff.clone().unwrap_or_default();
        let record = TxRecord {
            record_id,
            connector,
            id_tag: token.tag().to_owned(),
            id_tag_kind: token.kind(),
            meter_start_wh,
            started_at: now,
            plan,
            order_id,
            reservation_id,
            offline_start: self.phase != Phase::Online,
            transaction_id: 0,
            stop: None,
            offline_order: false,
            last_register_wh: meter_start_wh,
            bill: Bill::new(tariff, self.config.clock, now, meter_start_wh),
            start_acked: false,
            attempts: 0,
            ready_at: now,
            parked: false,
            stop_requested: false,
        };
        self.outbox.push(record);
        if let Some(c) = self.connector_mut(connector) {
            c.active = Some(record_id);
            c.pending_start = None;
            c.reservation = None;
        }
        self.rearm_connector_timer();
        self.pump_outbox(now);
        Ok(record_id)
    }

    /// The transaction `record_id` stopped with the meter at `meter_stop_wh`. The bill is
    /// closed and StopTransactionReq queued (or, when not logged in, the record becomes an
    /// offline order).
    pub fn stop_transaction(
        &mut self,
        now: Instant,
        record_id: RecordId,
        meter_stop_wh: f64,
        reason: pb::StopReason,
    ) -> Result<(), ClientError> {
        self.tick(now);
        let online = self.phase == Phase::Online;
        let end_soc = |c: &super::Connector| {
            c.sample
                .and_then(|s| s.soc_pct)
                .map_or(0, |p| (p * 10.0).round().clamp(0.0, 1000.0) as u32)
        };
        let r = self
            .outbox
            .get_mut(record_id)
            .filter(|r| r.stop.is_none())
            .ok_or(ClientError::NoSuchTransaction { record_id })?;
        r.bill.add_reading(now, meter_stop_wh);
        r.last_register_wh = r.last_register_wh.max(meter_stop_wh);
        let connector = r.connector;
        r.stop = Some(StopInfo {
            meter_stop_wh,
            at: now,
            reason,
            cost: r.bill.cost(now),
            end_soc_permille: 0,
        });
        if !online {
            r.offline_order = true;
        }
        r.ready_at = r.ready_at.max(now);
        let soc = self.connector(connector).map_or(0, end_soc);
        if let Some(stop) = self.outbox.get_mut(record_id).and_then(|r| r.stop.as_mut()) {
            stop.end_soc_permille = soc;
        }
        if let Some(c) = self.connector_mut(connector)
            && c.active == Some(record_id)
        {
            c.active = None;
        }
        self.rearm_connector_timer();
        self.pump_outbox(now);
        Ok(())
    }

    /// A measurement of `connector`: kept for telemetry and ChargingInfoReq, and added to the
    /// running transaction's bill. Emits [`ClientEvent::StopRequested`] once the energy or
    /// amount target of the charging plan is reached.
    pub fn sample(
        &mut self,
        now: Instant,
        connector: u32,
        sample: Sample,
    ) -> Result<(), ClientError> {
        self.tick(now);
        let c = self
            .connector_mut(connector)
            .ok_or(ClientError::NoSuchConnector { connector })?;
        c.sample = Some(sample);
        let Some(record_id) = c.active else {
            return Ok(());
        };
        let Some(r) = self.outbox.get_mut(record_id) else {
            return Ok(());
        };
        r.bill.add_reading(now, sample.energy_wh);
        r.last_register_wh = r.last_register_wh.max(sample.energy_wh);
        if r.stop_requested {
            return Ok(());
        }
        let reason = match r.plan.mode() {
            pb::ChargingMode::Energy
                if r.plan.energy_wh > 0 && r.energy_wh() >= f64::from(r.plan.energy_wh) =>
            {
                Some(pb::StopReason::EnergyTargetReached)
            }
            pb::ChargingMode::Amount
                if r.plan.amount_milliyuan > 0
                    && r.bill.total_milliyuan(now) >= r.plan.amount_milliyuan =>
            {
                Some(pb::StopReason::AmountExhausted)
            }
            _ => None,
        };
        if let Some(reason) = reason {
            r.stop_requested = true;
            self.events.push_back(ClientEvent::StopRequested {
                connector,
                record_id,
                reason,
            });
        }
        Ok(())
    }

    /// The GB/T 27930 session data of a DC connector, sent in ChargingInfoReq.
    pub fn set_bms_info(
        &mut self,
        connector: u32,
        info: pb::DcChargingInfo,
    ) -> Result<(), ClientError> {
        let c = self
            .connector_mut(connector)
            .ok_or(ClientError::NoSuchConnector { connector })?;
        c.bms = Some(Box::new(info));
        Ok(())
    }

    /// Wait-for-plug, reservation expiry and time targets that are due.
    pub(super) fn connector_deadlines(&mut self, now: Instant) {
        for index in 0..self.connectors.len() {
            let connector = index as u32 + 1;
            self.expire_pending_start(now, connector);
            self.expire_reservation(now, connector);
        }
        let due: Vec<(u32, RecordId)> = self
            .outbox
            .records()
            .filter(|r| r.stop.is_none() && !r.stop_requested)
            .filter(|r| time_target(r).is_some_and(|t| t <= now))
            .map(|r| (r.connector, r.record_id))
            .collect();
        for (connector, record_id) in due {
            if let Some(r) = self.outbox.get_mut(record_id) {
                r.stop_requested = true;
            }
            self.events.push_back(ClientEvent::StopRequested {
                connector,
                record_id,
                reason: pb::StopReason::TimeTargetReached,
            });
        }
        self.rearm_connector_timer();
    }

    fn expire_pending_start(&mut self, now: Instant, connector: u32) {
        let Some(c) = self.connector_mut(connector) else {
            return;
        };
        if c.pending_start.as_ref().is_some_and(|p| p.deadline <= now) {
            c.pending_start = None;
            self.events
                .push_back(ClientEvent::RemoteStartExpired { connector });
        }
    }

    fn expire_reservation(&mut self, now: Instant, connector: u32) {
        let Some(c) = self.connector_mut(connector) else {
            return;
        };
        if let Some(r) = c.reservation.take_if(|r| r.expiry <= now) {
            let was_reserved = c.status == pb::ConnectorStatus::Reserved;
            if was_reserved {
                c.status = pb::ConnectorStatus::Available;
            }
            self.events.push_back(ClientEvent::ReservationEnded {
                connector,
                reservation_id: r.id,
                expired: true,
            });
            if was_reserved && self.phase == Phase::Online {
                self.report_status(now, connector);
            }
        }
    }

    /// Re-arms the connector timer to the earliest per-connector deadline.
    pub(super) fn rearm_connector_timer(&mut self) {
        let starts = self
            .connectors
            .iter()
            .filter_map(|c| c.pending_start.as_ref().map(|p| p.deadline));
        let reservations = self
            .connectors
            .iter()
            .filter_map(|c| c.reservation.as_ref().map(|r| r.expiry));
        let targets = self
            .outbox
            .records()
            .filter(|r| r.stop.is_none() && !r.stop_requested)
            .filter_map(time_target);
        let next = starts.chain(reservations).chain(targets).min();
        self.set_timer(Timer::Connector, next);
    }
}

/// When a time-mode transaction reaches its target.
fn time_target(r: &TxRecord) -> Option<Instant> {
    (r.plan.mode() == pb::ChargingMode::Time && r.plan.duration_s > 0)
        .then(|| r.started_at + Duration::from_secs(u64::from(r.plan.duration_s)))
}
