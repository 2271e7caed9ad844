//! The transaction outbox: every transaction record stays here until the backend confirms its
//! end, and is (re-)sent after every login whatever the broker kept.
//!
//! Seed 离线约定: (1) after reconnecting, every transaction still running re-sends
//! StartTransactionReq, and ChargingInfoReq for it waits for the StartTransactionConf; (2) the
//! charger reports offline orders after reconnecting; (3) an order without
//! StopTransactionConf is an offline order. So a record that stops while the charger is not
//! logged in, or whose StopTransactionReq is still unconfirmed when the link drops, is reported
//! with TransactionReq instead of StopTransactionReq.
//!
//! Delivery follows OCPP 1.6 §3.7: one transaction message in flight at a time, oldest record
//! first (chronological order), a failed message retried after `retry_interval × attempts`,
//! and after `transaction_attempts` failures the record is parked: it steps out of the line and
//! is retried at the longest interval (a new login gives it its attempts back). Never
//! discarded, so nothing is lost silently.

use proto::mqtt::pb;

use super::{ChargerClient, ClientEvent, Phase, Purpose, RecordId, Timer};
use crate::mqtt::metrics::ErrorKind;
use crate::mqtt::tariff::Bill;
use crate::time::Instant;

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq)]
pub struct StopInfo {
    /// The meter register at stop.
    pub meter_stop_wh: f64,
    /// When it stopped.
    pub at: Instant,
    /// Why.
    pub reason: pb::StopReason,
    /// The bill.
    pub cost: pb::CostDetail,
    /// Vehicle SOC at the end, 0.1 %.
    pub end_soc_permille: u32,
}

/// One transaction, from start until the backend confirmed its end.
#[derive(Debug, Clone)]
pub struct TxRecord {
    /// Seed 桩端记录号, unique per charger.
    pub record_id: RecordId,
    /// The connector.
    pub connector: u32,
    /// Who charges.
    pub id_tag: String,
    /// How they were identified.
    pub id_tag_kind: pb::IdTagKind,
    /// The meter register at start.
    pub meter_start_wh: f64,
    /// When it started.
    pub started_at: Instant,
    /// The mode and target.
    pub plan: pb::ChargingPlan,
    /// The backend's order number (remote starts).
    pub order_id: String,
    /// The reservation used, 0 = none.
    pub reservation_id: u32,
    /// Started while not logged in (authorized from the card cache).
    pub offline_start: bool,
    /// The backend's transaction id, 0 until StartTransactionConf (or TransactionConf).
    pub transaction_id: u32,
    /// How it ended, once it has.
    pub stop: Option<StopInfo>,
    /// Reported as an offline order (TransactionReq) rather than StopTransactionReq.
    pub offline_order: bool,
    /// The last meter register seen.
    pub last_register_wh: f64,
    pub(super) bill: Bill,
    /// StartTransactionConf received during the current login.
    pub(super) start_acked: bool,
    pub(super) attempts: u32,
    pub(super) ready_at: Instant,
    pub(super) parked: bool,
    /// A StopRequested event was emitted (target reached), so it is not emitted again.
    pub(super) stop_requested: bool,
}

/// Which message a record needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Start,
    Stop,
    Order,
}

impl TxRecord {
    fn next(&self) -> Option<Next> {
        match &self.stop {
            None if !self.start_acked => Some(Next::Start),
            None => None,
            Some(_) if self.offline_order => Some(Next::Order),
            Some(_) if !self.start_acked => Some(Next::Start),
            Some(_) => Some(Next::Stop),
        }
    }

    /// Energy delivered so far (or in total once stopped).
    pub fn energy_wh(&self) -> f64 {
        let end = self
            .stop
            .as_ref()
            .map_or(self.last_register_wh, |s| s.meter_stop_wh);
        (end - self.meter_start_wh).max(0.0)
    }

    fn wire_record(&self, clock: &crate::mqtt::clock::WallClock) -> pb::TransactionRecord {
        let stop = self.stop.as_ref();
        pb::TransactionRecord {
            record_id: self.record_id,
            transaction_id: self.transaction_id,
            connector_id: self.connector,
            id_tag: self.id_tag.clone(),
            id_tag_kind: self.id_tag_kind as i32,
            start_unix_s: clock.unix_s(self.started_at),
            stop_unix_s: stop.map_or(0, |s| clock.unix_s(s.at)),
            meter_start_wh: wh(self.meter_start_wh),
            meter_stop_wh: stop.map_or(0, |s| wh(s.meter_stop_wh)),
            stop_reason: stop.map_or(0, |s| s.reason as i32),
            plan: Some(self.plan),
            cost: stop.map(|s| s.cost.clone()),
            offline: self.offline_start,
            order_id: self.order_id.clone(),
            vin: String::new(),
            reservation_id: self.reservation_id,
        }
    }
}

/// A meter register as the wire's whole watt-hours.
pub(super) fn wh(value: f64) -> u64 {
    if value.is_nan() || value <= 0.0 {
        0
    } else {
        value.round().min(u64::MAX as f64) as u64
    }
}

/// Outbox counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Records created (transactions started).
    pub created: u64,
    /// Records confirmed and removed.
    pub confirmed: u64,
    /// Of those, confirmed as offline orders.
    pub confirmed_offline: u64,
    /// Transaction messages sent (first sends and re-sends).
    pub sends: u64,
    /// Transaction messages that failed (timeout, MessageError, rejected).
    pub failures: u64,
    /// Times a record was parked after exhausting its attempts.
    pub parked: u64,
}

/// The records, oldest first, and the one message in flight.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    records: Vec<TxRecord>,
    next_record_id: RecordId,
    in_flight: Option<RecordId>,
    stats: OutboxStats,
}

impl Outbox {
    pub(super) fn records(&self) -> impl Iterator<Item = &TxRecord> {
        self.records.iter()
    }

    pub(super) fn stats(&self) -> OutboxStats {
        self.stats
    }

    pub(super) fn get(&self, record_id: RecordId) -> Option<&TxRecord> {
        self.records.iter().find(|r| r.record_id == record_id)
    }

    pub(super) fn get_mut(&mut self, record_id: RecordId) -> Option<&mut TxRecord> {
        self.records.iter_mut().find(|r| r.record_id == record_id)
    }

    pub(super) fn by_transaction(&self, transaction_id: u32) -> Option<&TxRecord> {
        self.records
            .iter()
            .find(|r| r.transaction_id == transaction_id && r.stop.is_none())
    }

    pub(super) fn new_record_id(&mut self) -> RecordId {
        self.next_record_id = self.next_record_id.wrapping_add(1).max(1);
        self.stats.created += 1;
        self.next_record_id
    }

    pub(super) fn push(&mut self, record: TxRecord) {
        self.records.push(record);
    }

    /// The link dropped: nothing is in flight, every start must be re-sent after the next
    /// login, and finished records become offline orders (seed 离线约定 3).
    pub(super) fn on_link_lost(&mut self) {
        self.in_flight = None;
        for r in &mut self.records {
            r.start_acked = false;
            if r.stop.is_some() {
                r.offline_order = true;
            }
        }
    }

    /// A new login at `now`: every record gets its full attempts again and is due at once.
    pub(super) fn on_login(&mut self, now: Instant) {
        self.in_flight = None;
        for r in &mut self.records {
            r.attempts = 0;
            r.parked = false;
            r.ready_at = now;
        }
    }

    /// Finished records reported as offline orders, oldest first (GetTransactionsReq).
    pub(super) fn offline_orders(&self) -> impl Iterator<Item = &TxRecord> {
        self.records
            .iter()
            .filter(|r| r.stop.is_some() && r.offline_order)
    }

    fn remove(&mut self, record_id: RecordId) -> Option<TxRecord> {
        let index = self.records.iter().position(|r| r.record_id == record_id)?;
        Some(self.records.remove(index))
    }
}

impl ChargerClient {
    /// Sends the oldest transaction message due, if none is in flight. Records wait their
    /// turn in order; a parked record steps out of the line and is retried on its own slower
    /// schedule, so one message the backend keeps refusing does not block the others.
    pub(super) fn pump_outbox(&mut self, now: Instant) {
        self.set_timer(Timer::Outbox, None);
        if self.phase != Phase::Online || self.outbox.in_flight.is_some() {
            return;
        }
        let mut wake: Option<Instant> = None;
        let mut chosen = None;
        for r in self.outbox.records.iter().filter(|r| r.next().is_some()) {
            if r.ready_at <= now {
                chosen = Some((r.record_id, r.ready_at));
                break;
            }
            wake = Some(wake.map_or(r.ready_at, |w: Instant| w.min(r.ready_at)));
            if !r.parked {
                // Chronological order: nothing newer goes before this one.
                break;
            }
        }
        let Some((record_id, intended)) = chosen else {
            self.set_timer(Timer::Outbox, wake);
            return;
        };
        let next = self.outbox.get(record_id).and_then(TxRecord::next);
        let Some(message) = next.and_then(|n| self.transaction_message(record_id, n)) else {
            return;
        };
        self.outbox.stats.sends += 1;
        let purpose = Purpose::Transaction { record_id };
        if self.send_request(now, intended, message, purpose).is_some() {
            self.outbox.in_flight = Some(record_id);
        }
    }

    fn transaction_message(&self, record_id: RecordId, next: Next) -> Option<proto::mqtt::Message> {
        let r = self.outbox.get(record_id)?;
        let clock = &self.config.clock;
        Some(match next {
            Next::Start => pb::StartTransactionReq {
                connector_id: r.connector,
                id_tag: r.id_tag.clone(),
                id_tag_kind: r.id_tag_kind as i32,
                meter_start_wh: wh(r.meter_start_wh),
                timestamp_unix_s: clock.unix_s(r.started_at),
                reservation_id: r.reservation_id,
                plan: Some(r.plan),
                record_id: r.record_id,
                order_id: r.order_id.clone(),
                offline: r.offline_start,
                vin: String::new(),
            }
            .into(),
            Next::Stop => {
                let stop = r.stop.as_ref()?;
                pb::StopTransactionReq {
                    transaction_id: r.transaction_id,
                    record_id: r.record_id,
                    connector_id: r.connector,
                    id_tag: r.id_tag.clone(),
                    meter_stop_wh: wh(stop.meter_stop_wh),
                    timestamp_unix_s: clock.unix_s(stop.at),
                    reason: stop.reason as i32,
                    energy_wh: u32::try_from(wh(r.energy_wh())).unwrap_or(u32::MAX),
                    cost: Some(stop.cost.clone()),
                    end_soc_permille: stop.end_soc_permille,
                    bms_end: None,
                }
                .into()
            }
            Next::Order => pb::TransactionReq {
                record: Some(r.wire_record(clock)),
            }
            .into(),
        })
    }

    /// A transaction message failed (timeout, MessageError, REJECTED): retry after
    /// `retry_interval × attempts`; after `transaction_attempts` failures the record is parked:
    /// it leaves the head of the line and keeps being retried at the longest interval
    /// (OCPP 1.6 §3.7.1 would discard it; chargestorm never drops a transaction).
    pub(super) fn transaction_failed(&mut self, now: Instant, record_id: RecordId) {
        if self.outbox.in_flight == Some(record_id) {
            self.outbox.in_flight = None;
        }
        self.outbox.stats.failures += 1;
        let attempts_max = self.config.transaction_attempts.max(1);
        let interval = self.config.transaction_retry_interval;
        let mut newly_parked = false;
        if let Some(r) = self.outbox.get_mut(record_id) {
            r.attempts = r.attempts.saturating_add(1);
            let n = r.attempts.min(attempts_max);
            r.ready_at = now + interval.saturating_mul(u64::from(n));
            if r.attempts >= attempts_max && !r.parked {
                r.parked = true;
                newly_parked = true;
            }
        }
        if newly_parked {
            self.outbox.stats.parked += 1;
            self.metrics.error(ErrorKind::Rejected, None, now);
        }
        self.pump_outbox(now);
    }

    /// The record a transaction Conf is for: the pending request's, else the echoed one.
    fn settle(&mut self, record_id: RecordId) {
        if self.outbox.in_flight == Some(record_id) {
            self.outbox.in_flight = None;
        }
    }

    pub(super) fn on_start_conf(
        &mut self,
        now: Instant,
        record_id: RecordId,
        conf: &pb::StartTransactionConf,
    ) {
        self.settle(record_id);
        let info = conf.id_tag_info.clone().unwrap_or_default();
        let accepted = info.status() == pb::AuthorizationStatus::Accepted;
        let mut deauthorize = None;
        if let Some(r) = self.outbox.get_mut(record_id) {
            r.start_acked = true;
            r.attempts = 0;
            r.parked = false;
            if conf.transaction_id != 0 {
                r.transaction_id = conf.transaction_id;
            }
            if !accepted && r.stop.is_none() && !r.stop_requested {
                r.stop_requested = true;
                deauthorize = Some(r.connector);
            }
            let tag = r.id_tag.clone();
            self.cache.learn(&tag, &info);
            self.events.push_back(ClientEvent::TransactionStarted {
                record_id,
                transaction_id: conf.transaction_id,
                accepted,
            });
        }
        if let Some(connector) = deauthorize {
            self.metrics.error(ErrorKind::Rejected, None, now);
            self.events.push_back(ClientEvent::StopRequested {
                connector,
                record_id,
                reason: pb::StopReason::DeAuthorized,
            });
        }
        self.pump_outbox(now);
    }

    pub(super) fn on_stop_conf(
        &mut self,
        now: Instant,
        record_id: RecordId,
        conf: &pb::StopTransactionConf,
    ) {
        self.settle(record_id);
        if let Some(info) = &conf.id_tag_info
            && let Some(r) = self.outbox.get(record_id)
        {
            let tag = r.id_tag.clone();
            self.cache.learn(&tag, info);
        }
        self.confirm(record_id, false);
        self.pump_outbox(now);
    }

    pub(super) fn on_transaction_conf(
        &mut self,
        now: Instant,
        record_id: RecordId,
        conf: &pb::TransactionConf,
    ) {
        match conf.status() {
            pb::TransactionAckStatus::Accepted | pb::TransactionAckStatus::Duplicate => {
                self.settle(record_id);
                if let Some(r) = self.outbox.get_mut(record_id)
                    && r.transaction_id == 0
                {
                    r.transaction_id = conf.transaction_id;
                }
                self.confirm(record_id, true);
                self.pump_outbox(now);
            }
            _ => {
                self.metrics.error(ErrorKind::Rejected, None, now);
                self.transaction_failed(now, record_id);
            }
        }
    }

    /// Removes a confirmed record (only a finished one: a Conf for a running record's stop
    /// cannot exist, so such a Conf is ignored).
    fn confirm(&mut self, record_id: RecordId, offline_order: bool) {
        let finished = self.outbox.get(record_id).is_some_and(|r| r.stop.is_some());
        if !finished {
            return;
        }
        if let Some(r) = self.outbox.remove(record_id) {
            self.outbox.stats.confirmed += 1;
            if offline_order {
                self.outbox.stats.confirmed_offline += 1;
            }
            self.events.push_back(ClientEvent::TransactionConfirmed {
                record_id,
                transaction_id: r.transaction_id,
                offline_order,
            });
        }
    }

    /// Builds GetTransactionsConf: offline orders stopped at or after `since`, oldest first,
    /// at most `max` (50 when 0, keeping the payload small).
    pub(super) fn transactions_conf(
        &self,
        req: &pb::GetTransactionsReq,
    ) -> pb::GetTransactionsConf {
        let max = if req.max_count == 0 {
            50
        } else {
            req.max_count.min(500)
        } as usize;
        let clock = &self.config.clock;
        let matching = self.outbox.offline_orders().filter(|r| {
            r.stop
                .as_ref()
                .is_some_and(|s| clock.unix_s(s.at) >= req.since_unix_s)
        });
        let mut transactions = Vec::new();
        let mut more = false;
        for r in matching {
            if transactions.len() == max {
                more = true;
                break;
            }
            transactions.push(r.wire_record(clock));
        }
        pb::GetTransactionsConf { transactions, more }
    }
}
