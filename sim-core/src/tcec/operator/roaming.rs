//! T/CEC 102.3 business flow, equipment-owning operator (CPO) side.
//!
//! ```text
//!  eMSP                              operator platform               fleet engine
//!   | query_equip_auth  ------------->| plugged in?                     |
//!   | query_start_charge ------------>| order Starting (1) -- StartCharge -->
//!   |<-- notification_start_charge_result (2 Charging) <-- charge_started
//!   |<-- notification_equip_charge_status (every 60 s while charging)   |
//!   | query_stop_charge ------------->| order Stopping (3) -- StopCharge --->
//!   |<-- notification_stop_charge_result (4) <------------ charge_stopped
//!   |<-- notification_charge_order_info (bill) <---------- session_finished
//!   |<-- check_charge_orders (reconciliation batch)                     |
//! ```
//!
//! Billing: every connector snapshot during an order adds its energy increase to the
//! time-of-use period it falls in ([`Tariff`]); a new period starts a new ChargeDetail (at
//! most 32, T/CEC SumPeriod). Money is rounded to 0.01 yuan per detail.
//!
//! Bounds: finished orders are kept for queries and reconciliation up to
//! [`Roaming::MAX_FINISHED`]; a reconciliation batch carries at most
//! [`Roaming::MAX_BATCH`] orders.

use std::collections::{BTreeMap, VecDeque};

use super::mirror::ConnectorIdx;
use super::{OpTag, OperatorPlatform, Served, SessionStats, Timer};
use crate::tcec::exchange::PeerId;
use crate::tcec::outbox::{LaneKey, Push};
use crate::tcec::serve::{Opened, Refusal, decode, respond};
use crate::tcec::snapshot::round_i32;
use crate::time::Instant;
use proto::tcec::objects::*;
use proto::tcec::{CivilTime, Dialect, Interface, Ret, TcecKeys};

/// One time-of-use price period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TariffPeriod {
    /// Start, seconds after local midnight.
    pub start_s_of_day: u32,
    /// Energy price, yuan/kWh.
    pub elec_price_yuan_per_kwh: f64,
    /// Service price, yuan/kWh.
    pub service_price_yuan_per_kwh: f64,
}

/// Prices by time of day; periods sorted by start, the first starting at 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Tariff {
    /// The periods (1–32).
    pub periods: Vec<TariffPeriod>,
}

impl Tariff {
    /// One price all day.
    pub fn flat(elec_price_yuan_per_kwh: f64, service_price_yuan_per_kwh: f64) -> Self {
        Tariff {
            periods: vec![TariffPeriod {
                start_s_of_day: 0,
                elec_price_yuan_per_kwh,
                service_price_yuan_per_kwh,
            }],
        }
    }

    /// The period in force at civil time `t`.
    pub fn period_at(&self, t: CivilTime) -> usize {
        let s = u32::from(t.hour()) * 3600 + u32::from(t.minute()) * 60 + u32::from(t.second());
        self.periods
            .iter()
            .rposition(|p| p.start_s_of_day <= s)
            .unwrap_or(0)
    }

    fn prices(&self, period: usize) -> (f64, f64) {
        self.periods.get(period).map_or((0.0, 0.0), |p| {
            (p.elec_price_yuan_per_kwh, p.service_price_yuan_per_kwh)
        })
    }
}

/// A start or stop the fleet engine must carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetCommand {
    /// Start charging on `connector` for roaming order `start_charge_seq`; answer with
    /// [`OperatorPlatform::charge_started`].
    StartCharge {
        /// The connector.
        connector: ConnectorIdx,
        /// The order.
        start_charge_seq: String,
    },
    /// Stop the session of roaming order `start_charge_seq`; answer with
    /// [`OperatorPlatform::charge_stopped`], then [`OperatorPlatform::session_finished`].
    StopCharge {
        /// The connector.
        connector: ConnectorIdx,
        /// The order.
        start_charge_seq: String,
    },
}

/// Why the fleet engine could not start a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFailure {
    /// No vehicle is plugged in.
    NotPluggedIn,
    /// The charger faulted during start-up (insulation check, BMS handshake…).
    Fault(String),
}

/// What a roaming push is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// `notification_start_charge_result`.
    StartResult,
    /// `notification_equip_charge_status`.
    ChargeStatus,
    /// `notification_stop_charge_result`.
    StopResult,
    /// `notification_charge_order_info`.
    OrderInfo,
    /// `check_charge_orders`.
    CheckOrders,
}

#[derive(Debug, Clone)]
struct Detail {
    start: CivilTime,
    end: CivilTime,
    period: usize,
    energy_kwh: f64,
}

#[derive(Debug, Clone)]
struct Order {
    connector: u32,
    peer: usize,
    state: StartChargeSeqStat,
    started: Option<CivilTime>,
    ended: Option<CivilTime>,
    last_energy_kwh: f64,
    details: Vec<Detail>,
    stop_requested: bool,
    total_kwh: f64,
    total_money_yuan: f64,
}

/// Counters of the roaming flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoamingStats {
    /// Orders accepted by `query_start_charge`.
    pub orders_started: u64,
    /// Orders billed.
    pub orders_finished: u64,
    /// Orders the eMSP disputed (ConfirmResult ≠ 0 or listed in `check_charge_orders`).
    pub orders_disputed: u64,
}

/// The CPO's order book.
#[derive(Debug, Default)]
pub struct Roaming {
    orders: BTreeMap<String, Order>,
    active: BTreeMap<u32, String>,
    finished: VecDeque<String>,
    unreconciled: BTreeMap<usize, Vec<String>>,
    /// Commands for the fleet engine.
    pub commands: VecDeque<FleetCommand>,
    check_counter: u64,
    /// Counters.
    pub stats: RoamingStats,
}

impl Roaming {
    /// Finished orders kept.
    pub const MAX_FINISHED: usize = 4096;
    /// Orders per `check_charge_orders` batch.
    pub const MAX_BATCH: usize = 1000;
}

fn money(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl OperatorPlatform {
    /// Roaming counters.
    pub fn roaming_stats(&self) -> RoamingStats {
        self.roaming.stats
    }

    pub(super) fn serve_roaming(
        &mut self,
        now: Instant,
        opened: &Opened,
        keys: &TcecKeys,
        d: Dialect,
    ) -> Served {
        let p = opened.plaintext.as_slice();
        match opened.interface {
            Interface::QueryEquipAuth => {
                respond(now, keys, decode(p, d).map(|r| self.equip_auth(&r)))
            }
            Interface::QueryEquipBusinessPolicy => {
                respond(now, keys, decode(p, d).map(|r| self.policy(&r)))
            }
            Interface::QueryStartCharge => respond(
                now,
                keys,
                decode::<QueryStartChargeRequest>(p, d)
                    .map(|r| self.start_charge(opened.peer, r.start_charge_seq, &r.connector_id)),
            ),
            Interface::QueryStartChargeWithCar => respond(
                now,
                keys,
                decode::<QueryStartChargeWithCarRequest>(p, d)
                    .map(|r| self.start_charge(opened.peer, r.start_charge_seq, &r.connector_id)),
            ),
            Interface::QueryEquipChargeStatus => respond(
                now,
                keys,
                decode(p, d).and_then(|r: StartChargeSeqRequest| {
                    self.charge_status(now, &r.start_charge_seq)
                }),
            ),
            Interface::QueryStopCharge => {
                respond(now, keys, decode(p, d).map(|r| self.stop_charge(&r)))
            }
            other => {
                let msg = format!("interface {other} is not served by the operator platform");
                respond::<()>(now, keys, Err(Refusal::new(Ret::BusinessParamInvalid, msg)))
            }
        }
    }

    fn equip_auth(&self, r: &QueryEquipAuthRequest) -> QueryEquipAuthResponse {
        let status = self
            .mirror
            .connector_index(&r.connector_id)
            .and_then(|c| self.mirror.connectors.get(c as usize))
            .map(|c| c.snapshot.status);
        let fail_reason = match status {
            Some(ConnectorStatus::OccupiedNotCharging) => EquipAuthFailReason::NoFailure,
            Some(ConnectorStatus::Idle) => EquipAuthFailReason::NotPluggedIn,
            _ => EquipAuthFailReason::DetectionFailed,
        };
        QueryEquipAuthResponse {
            equip_auth_seq: r.equip_auth_seq.clone(),
            connector_id: r.connector_id.clone(),
            succ_stat: if fail_reason == EquipAuthFailReason::NoFailure {
                SuccStat::Success
            } else {
                SuccStat::Failure
            },
            fail_reason,
        }
    }

    fn policy(&self, r: &QueryEquipBusinessPolicyRequest) -> QueryEquipBusinessPolicyResponse {
        let known = self.mirror.connector_index(&r.connector_id).is_some();
        let periods: Vec<PolicyInfo> = self
            .config
            .tariff
            .periods
            .iter()
            .take(32)
            .map(|p| PolicyInfo {
                start_time: format!(
                    "{:02}{:02}{:02}",
                    p.start_s_of_day / 3600 % 24,
                    p.start_s_of_day / 60 % 60,
                    p.start_s_of_day % 60
                ),
                elec_price_yuan_per_kwh: p.elec_price_yuan_per_kwh,
                service_price_yuan_per_kwh: p.service_price_yuan_per_kwh,
            })
            .filter(|_| known)
            .collect();
        QueryEquipBusinessPolicyResponse {
            equip_biz_seq: r.equip_biz_seq.clone(),
            connector_id: r.connector_id.clone(),
            succ_stat: if known {
                SuccStat::Success
            } else {
                SuccStat::Failure
            },
            fail_reason: if known {
                GenericFailReason::NoFailure
            } else {
                GenericFailReason::Other(2)
            },
            sum_period: periods.len() as u8,
            policy_infos: periods,
        }
    }

    fn start_charge(
        &mut self,
        peer: usize,
        seq: String,
        connector_id: &str,
    ) -> QueryStartChargeResponse {
        let reply = |stat, fail: StartChargeFailReason| QueryStartChargeResponse {
            start_charge_seq: seq.clone(),
            start_charge_seq_stat: stat,
            connector_id: connector_id.to_owned(),
            succ_stat: if fail == StartChargeFailReason::NoFailure {
                SuccStat::Success
            } else {
                SuccStat::Failure
            },
            fail_reason: fail,
        };
        if let Some(order) = self.roaming.orders.get(&seq) {
            // A repeated request (the eMSP retried): answer with the order's state.
            return reply(order.state, StartChargeFailReason::NoFailure);
        }
        let Some(c) = self.mirror.connector_index(connector_id) else {
            return reply(
                StartChargeSeqStat::Unknown,
                StartChargeFailReason::NoSuchEquipment,
            );
        };
        let status = self
            .mirror
            .connectors
            .get(c as usize)
            .map(|x| x.snapshot.status);
        if matches!(
            status,
            Some(ConnectorStatus::Offline | ConnectorStatus::Fault) | None
        ) {
            return reply(
                StartChargeSeqStat::Unknown,
                StartChargeFailReason::EquipmentOffline,
            );
        }
        if self.roaming.active.contains_key(&c) {
            // 3: operator-defined "connector busy with another order".
            return reply(StartChargeSeqStat::Unknown, StartChargeFailReason::Other(3));
        }
        self.roaming.orders.insert(
            seq.clone(),
            Order {
                connector: c,
                peer,
                state: StartChargeSeqStat::Starting,
                started: None,
                ended: None,
                last_energy_kwh: 0.0,
                details: Vec::new(),
                stop_requested: false,
                total_kwh: 0.0,
                total_money_yuan: 0.0,
            },
        );
        self.roaming.active.insert(c, seq.clone());
        self.roaming.stats.orders_started += 1;
        self.roaming.commands.push_back(FleetCommand::StartCharge {
            connector: ConnectorIdx(c),
            start_charge_seq: seq.clone(),
        });
        reply(
            StartChargeSeqStat::Starting,
            StartChargeFailReason::NoFailure,
        )
    }

    fn equip_charge_status(&self, now: Instant, seq: &str, order: &Order) -> EquipChargeStatus {
        let snap = self.mirror.connectors.get(order.connector as usize);
        let (elec, service) = self.bill(order);
        let details = self.details(order);
        let civil_now = self.civil(now);
        EquipChargeStatus {
            start_charge_seq: seq.to_owned(),
            start_charge_seq_stat: order.state,
            connector_id: snap.map(|c| c.id.clone()).unwrap_or_default(),
            connector_status: snap.map_or(ConnectorStatus::Offline, |c| c.snapshot.status),
            phase_a_current_a: snap.map_or(0.0, |c| c.snapshot.current_a[0]),
            phase_b_current_a: snap.map_or(0.0, |c| c.snapshot.current_a[1]),
            phase_c_current_a: snap.map_or(0.0, |c| c.snapshot.current_a[2]),
            phase_a_voltage_v: snap.map_or(0.0, |c| c.snapshot.voltage_v[0]),
            phase_b_voltage_v: snap.map_or(0.0, |c| c.snapshot.voltage_v[1]),
            phase_c_voltage_v: snap.map_or(0.0, |c| c.snapshot.voltage_v[2]),
            soc_percent: snap
                .and_then(|c| c.snapshot.soc_percent)
                .map_or(0.0, |s| f64::from(round_i32(s).clamp(0, 100))),
            start_time: order.started.unwrap_or(civil_now).format_datetime(),
            end_time: order.ended.unwrap_or(civil_now).format_datetime(),
            total_energy_kwh: money(order.total_kwh),
            elec_money_yuan: Some(elec),
            service_money_yuan: Some(service),
            total_money_yuan: Some(money(elec + service)),
            sum_period: Some(details.len() as u8),
            charge_details: Some(details),
        }
    }

    fn charge_status(&self, now: Instant, seq: &str) -> Result<EquipChargeStatus, Refusal> {
        let order = self.roaming.orders.get(seq).ok_or_else(|| {
            Refusal::new(
                Ret::BusinessParamInvalid,
                format!("unknown StartChargeSeq {seq:?}"),
            )
        })?;
        Ok(self.equip_charge_status(now, seq, order))
    }

    fn stop_charge(&mut self, r: &QueryStopChargeRequest) -> QueryStopChargeResponse {
        let reply = |stat, fail: StopChargeFailReason| QueryStopChargeResponse {
            start_charge_seq: r.start_charge_seq.clone(),
            start_charge_seq_stat: stat,
            succ_stat: if fail == StopChargeFailReason::NoFailure {
                SuccStat::Success
            } else {
                SuccStat::Failure
            },
            fail_reason: fail,
        };
        let Some(order) = self.roaming.orders.get_mut(&r.start_charge_seq) else {
            return reply(
                StartChargeSeqStat::Unknown,
                StopChargeFailReason::NoSuchEquipment,
            );
        };
        match order.state {
            StartChargeSeqStat::Finished => {
                reply(order.state, StopChargeFailReason::AlreadyStopped)
            }
            StartChargeSeqStat::Stopping => reply(order.state, StopChargeFailReason::NoFailure),
            _ => {
                order.state = StartChargeSeqStat::Stopping;
                order.stop_requested = true;
                self.roaming.commands.push_back(FleetCommand::StopCharge {
                    connector: ConnectorIdx(order.connector),
                    start_charge_seq: r.start_charge_seq.clone(),
                });
                reply(
                    StartChargeSeqStat::Stopping,
                    StopChargeFailReason::NoFailure,
                )
            }
        }
    }

    fn bill(&self, order: &Order) -> (f64, f64) {
        order.details.iter().fold((0.0, 0.0), |(e, s), d| {
            let (pe, ps) = self.config.tariff.prices(d.period);
            (money(e + d.energy_kwh * pe), money(s + d.energy_kwh * ps))
        })
    }

    fn details(&self, order: &Order) -> Vec<ChargeDetail> {
        order
            .details
            .iter()
            .take(32)
            .map(|d| {
                let (pe, ps) = self.config.tariff.prices(d.period);
                ChargeDetail {
                    detail_start_time: d.start.format_datetime(),
                    detail_end_time: d.end.format_datetime(),
                    elec_price_yuan_per_kwh: Some(pe),
                    service_price_yuan_per_kwh: Some(ps),
                    detail_energy_kwh: money(d.energy_kwh),
                    detail_elec_money_yuan: Some(money(d.energy_kwh * pe)),
                    detail_service_money_yuan: Some(money(d.energy_kwh * ps)),
                }
            })
            .collect()
    }

    /// Accounts connector `c`'s energy increase to its charging order.
    pub(super) fn roaming_energy(&mut self, now: Instant, c: u32) {
        let Some(seq) = self.roaming.active.get(&c) else {
            return;
        };
        let civil = self.civil(now);
        let period = self.config.tariff.period_at(civil);
        let energy = self
            .mirror
            .connectors
            .get(c as usize)
            .map_or(0.0, |x| x.snapshot.charged_energy_kwh);
        let Some(order) = self.roaming.orders.get_mut(seq) else {
            return;
        };
        if order.started.is_none() || order.state == StartChargeSeqStat::Finished {
            return;
        }
        let delta = (energy - order.last_energy_kwh).max(0.0);
        order.last_energy_kwh = energy;
        order.total_kwh += delta;
        let full = order.details.len() >= 32;
        match order.details.last_mut() {
            Some(d) if d.period == period || full => {
                d.energy_kwh += delta;
                d.end = civil;
            }
            _ => order.details.push(Detail {
                start: civil,
                end: civil,
                period,
                energy_kwh: delta,
            }),
        }
    }

    fn push_roaming<T: serde::Serialize>(
        &mut self,
        now: Instant,
        peer: usize,
        c: u32,
        iface: Interface,
        tag: Tag,
        data: &T,
    ) {
        match serde_json::to_vec(data) {
            Ok(bytes) => {
                let push = Push::new(iface, bytes, OpTag::Roaming(tag), now);
                self.enqueue(peer, LaneKey::Connector(c), push);
            }
            Err(e) => self
                .deferred_errors
                .push_back((iface, "encode".into(), e.to_string(), now)),
        }
    }

    /// The fleet engine's answer to [`FleetCommand::StartCharge`]: the session delivers
    /// energy (`Ok`) or could not start.
    pub fn charge_started(
        &mut self,
        now: Instant,
        connector: ConnectorIdx,
        result: Result<(), StartFailure>,
    ) {
        self.now = self.now.max(now);
        let c = connector.0;
        let civil = self.civil(now);
        let energy = self
            .mirror
            .connectors
            .get(c as usize)
            .map_or(0.0, |x| x.snapshot.charged_energy_kwh);
        let Some(seq) = self.roaming.active.get(&c).cloned() else {
            return;
        };
        let Some(order) = self.roaming.orders.get_mut(&seq) else {
            return;
        };
        let peer = order.peer;
        order.started = Some(civil);
        order.last_energy_kwh = energy;
        order.state = if result.is_ok() {
            StartChargeSeqStat::Charging
        } else {
            StartChargeSeqStat::Finished
        };
        let note = StartChargeResultNotification {
            start_charge_seq: seq.clone(),
            start_charge_seq_stat: order.state,
            connector_id: self
                .mirror
                .connectors
                .get(c as usize)
                .map(|x| x.id.clone())
                .unwrap_or_default(),
            start_time: civil.format_datetime(),
            ident_code: None,
        };
        self.push_roaming(
            now,
            peer,
            c,
            Interface::NotificationStartChargeResult,
            Tag::StartResult,
            &note,
        );
        match result {
            Ok(()) => self.arm(
                now + self.config.charge_status_period,
                Timer::ChargeStatus(c),
            ),
            Err(_) => self.finish_order(now, c, StopReason::ChargerFault),
        }
    }

    /// The fleet engine's answer to [`FleetCommand::StopCharge`]: the charger stopped.
    pub fn charge_stopped(&mut self, now: Instant, connector: ConnectorIdx) {
        self.now = self.now.max(now);
        let c = connector.0;
        let Some(seq) = self.roaming.active.get(&c).cloned() else {
            return;
        };
        let Some(order) = self.roaming.orders.get_mut(&seq) else {
            return;
        };
        if !order.stop_requested {
            return;
        }
        let peer = order.peer;
        let note = StopChargeResultNotification {
            start_charge_seq: seq,
            start_charge_seq_stat: StartChargeSeqStat::Finished,
            connector_id: self
                .mirror
                .connectors
                .get(c as usize)
                .map(|x| x.id.clone())
                .unwrap_or_default(),
            succ_stat: SuccStat::Success,
            fail_reason: StopChargeFailReason::NoFailure,
        };
        self.push_roaming(
            now,
            peer,
            c,
            Interface::NotificationStopChargeResult,
            Tag::StopResult,
            &note,
        );
    }

    pub(super) fn roaming_finished(&mut self, now: Instant, c: u32, stats: SessionStats) {
        let reason = match self
            .roaming
            .active
            .get(&c)
            .and_then(|s| self.roaming.orders.get(s))
        {
            Some(o) if o.stop_requested => StopReason::CustomerOperatorStopped,
            Some(_) => stats.stop_reason,
            None => return,
        };
        self.roaming_energy(now, c);
        self.finish_order(now, c, reason);
    }

    fn finish_order(&mut self, now: Instant, c: u32, reason: StopReason) {
        let civil = self.civil(now);
        let Some(seq) = self.roaming.active.remove(&c) else {
            return;
        };
        let Some(order) = self.roaming.orders.get_mut(&seq) else {
            return;
        };
        order.state = StartChargeSeqStat::Finished;
        order.ended = Some(civil);
        let order = order.clone();
        let (elec, service) = self.bill(&order);
        let details = self.details(&order);
        if let Some(o) = self.roaming.orders.get_mut(&seq) {
            o.total_money_yuan = money(elec + service);
        }
        let info = ChargeOrderInfo {
            start_charge_seq: seq.clone(),
            connector_id: self
                .mirror
                .connectors
                .get(c as usize)
                .map(|x| x.id.clone())
                .unwrap_or_default(),
            start_time: order.started.unwrap_or(civil).format_datetime(),
            end_time: civil.format_datetime(),
            total_energy_kwh: money(order.total_kwh),
            total_elec_money_yuan: Some(elec),
            total_service_money_yuan: Some(service),
            total_money_yuan: Some(money(elec + service)),
            stop_reason: reason,
            sum_period: Some(details.len() as u8),
            charge_details: Some(details),
        };
        self.roaming.stats.orders_finished += 1;
        self.roaming
            .unreconciled
            .entry(order.peer)
            .or_default()
            .push(seq.clone());
        self.roaming.finished.push_back(seq);
        while self.roaming.finished.len() > Roaming::MAX_FINISHED {
            if let Some(old) = self.roaming.finished.pop_front() {
                self.roaming.orders.remove(&old);
            }
        }
        self.push_roaming(
            now,
            order.peer,
            c,
            Interface::NotificationChargeOrderInfo,
            Tag::OrderInfo,
            &info,
        );
    }

    pub(super) fn charge_status_timer(&mut self, now: Instant, c: u32) {
        let Some(seq) = self.roaming.active.get(&c).cloned() else {
            return;
        };
        let Some(order) = self.roaming.orders.get(&seq) else {
            return;
        };
        if order.state != StartChargeSeqStat::Charging {
            return;
        }
        let peer = order.peer;
        let status = self.equip_charge_status(now, &seq, order);
        self.push_roaming(
            now,
            peer,
            c,
            Interface::NotificationEquipChargeStatus,
            Tag::ChargeStatus,
            &status,
        );
        self.arm(
            now + self.config.charge_status_period,
            Timer::ChargeStatus(c),
        );
    }

    /// Sends the orders finished since the last reconciliation with `peer` as one
    /// `check_charge_orders` batch (nothing when there are none).
    pub fn reconcile(&mut self, now: Instant, peer: PeerId) {
        let p = usize::from(peer.0);
        let Some(list) = self.roaming.unreconciled.get_mut(&p) else {
            return;
        };
        let take = list.len().min(Roaming::MAX_BATCH);
        let seqs: Vec<String> = list.drain(..take).collect();
        let orders: Vec<ChargeOrder> = seqs
            .iter()
            .filter_map(|s| self.roaming.orders.get(s).map(|o| (s, o)))
            .map(|(s, o)| ChargeOrder {
                start_charge_seq: s.clone(),
                total_energy_kwh: money(o.total_kwh),
                total_money_yuan: o.total_money_yuan,
            })
            .collect();
        if orders.is_empty() {
            return;
        }
        self.roaming.check_counter += 1;
        let civil = self.civil(now);
        let first = orders
            .first()
            .map(|o| o.start_charge_seq.clone())
            .unwrap_or_default();
        let request = CheckChargeOrdersRequest {
            check_order_seq: format!(
                "{}{:018}",
                self.config.operator_id, self.roaming.check_counter
            ),
            start_time: civil
                .add_seconds(-86_400)
                .unwrap_or(civil)
                .format_datetime(),
            end_time: civil.format_datetime(),
            order_count: orders.len() as u32,
            total_order_energy_kwh: money(orders.iter().map(|o| o.total_energy_kwh).sum()),
            total_order_money_yuan: money(orders.iter().map(|o| o.total_money_yuan).sum()),
            charge_orders: orders,
        };
        let c = self.roaming.orders.get(&first).map_or(0, |o| o.connector);
        self.push_roaming(
            now,
            p,
            c,
            Interface::CheckChargeOrders,
            Tag::CheckOrders,
            &request,
        );
    }

    pub(super) fn roaming_ack(
        &mut self,
        now: Instant,
        _peer: PeerId,
        tag: Tag,
        data: Option<&[u8]>,
    ) {
        let Some(data) = data else {
            return;
        };
        let disputed = match tag {
            Tag::OrderInfo => proto::tcec::envelope::decode_data::<ChargeOrderInfoAck>(data)
                .map_or(0, |a| u64::from(a.confirm_result != ConfirmResult::Agreed)),
            Tag::CheckOrders => {
                proto::tcec::envelope::decode_data::<CheckChargeOrdersResponse>(data)
                    .map_or(0, |r| r.dispute_orders.len() as u64)
            }
            _ => 0,
        };
        if disputed > 0 {
            self.roaming.stats.orders_disputed += disputed;
            let iface = match tag {
                Tag::OrderInfo => Interface::NotificationChargeOrderInfo,
                _ => Interface::CheckChargeOrders,
            };
            let text = format!("{disputed} order(s) disputed by the customer's operator");
            self.deferred_errors
                .push_back((iface, "disputed".into(), text, now));
        }
    }
}
