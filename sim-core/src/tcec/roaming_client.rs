//! The T/CEC 102.3 customer-owning operator (客户归属运营商, eMSP), sans-IO.
//!
//! It drives roaming sessions on an operator platform under test: for
//! [`RoamingClient::start_session`] it calls `query_equip_auth`, then
//! `query_equip_business_policy`, then `query_start_charge`; [`RoamingClient::stop_session`]
//! calls `query_stop_charge`; [`RoamingClient::query_status`] calls
//! `query_equip_charge_status`. It serves the CPO's notifications (`notification_start_charge_result`,
//! `notification_equip_charge_status`, `notification_stop_charge_result`,
//! `notification_charge_order_info`, `check_charge_orders`, and the T/CEC 102.2
//! `notification_stationStatus`) and checks the bill against the prices the policy quoted:
//! an order whose money differs from energy × price by more than 0.05 yuan is disputed.
//!
//! Latency of the business interfaces lands under `emsp.{interface}` (the ≤ 3 s indicator of
//! T/CEC 102.1 §8.2).

use std::collections::BTreeMap;

use crate::metrics::Metrics;
use crate::tcec::exchange::{
    Exchange, HttpMachine, InboundRequest, OutboundRequest, PeerId, RequestId, ServerResponse,
};
use crate::tcec::outbox::{Outbox, Outcome, Push, SendPolicy};
use crate::tcec::peer::{PeerConfig, TokenIssuer};
use crate::tcec::serve::{self, Names, Opened, Refusal, decode, respond};
use crate::time::Instant;
use proto::tcec::envelope::decode_data;
use proto::tcec::objects::*;
use proto::tcec::qr::QrCode;
use proto::tcec::time::TimeError;
use proto::tcec::{CivilEpoch, CivilTime, Interface, Ret, TcecKeys};

use crate::rng::EntityRng;

/// Where a roaming session stands, from the eMSP's side.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionState {
    /// Authorising the connector.
    Authorising,
    /// Fetching the price policy.
    FetchingPolicy,
    /// `query_start_charge` sent.
    Starting,
    /// The CPO accepted; waiting for the start result.
    Accepted,
    /// Charging (start result said so).
    Charging,
    /// Stop requested.
    Stopping,
    /// Stopped; waiting for the order.
    Stopped,
    /// Billed.
    Billed,
    /// Refused or failed, with the reason.
    Failed(String),
}

/// One roaming session.
#[derive(Debug, Clone)]
pub struct RoamingSession {
    /// The CPO.
    pub peer: PeerId,
    /// The connector.
    pub connector_id: String,
    /// State.
    pub state: SessionState,
    /// Quoted prices.
    pub policy: Vec<PolicyInfo>,
    /// The latest charge status pushed or queried.
    pub status: Option<EquipChargeStatus>,
    /// Number of charge status pushes received.
    pub status_pushes: u32,
    /// The bill.
    pub order: Option<ChargeOrderInfo>,
    /// Whether the bill was disputed.
    pub disputed: bool,
}

/// What an eMSP request was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag {
    /// Step of the session `seq`.
    Session {
        /// StartChargeSeq.
        seq: String,
    },
}

/// The eMSP's settings.
#[derive(Debug, Clone)]
pub struct RoamingConfig {
    /// Our OperatorID (the first 9 characters of every sequence number).
    pub operator_id: String,
    /// Maps virtual time to civil time.
    pub epoch: CivilEpoch,
    /// The CPO platforms.
    pub peers: Vec<PeerConfig>,
    /// Token strings.
    pub rng: EntityRng,
    /// Sending and retrying.
    pub policy: SendPolicy,
    /// Metric prefix (default `emsp`).
    pub metrics_prefix: String,
}

/// The eMSP.
#[derive(Debug)]
pub struct RoamingClient {
    config: RoamingConfig,
    outboxes: Vec<Outbox<Tag>>,
    issuer: TokenIssuer,
    sessions: BTreeMap<String, RoamingSession>,
    counter: u64,
    statuses: BTreeMap<String, ConnectorStatusInfo>,
    now: Instant,
    civil_zero: CivilTime,
    names: Names,
    round_robin: usize,
}

impl RoamingClient {
    /// An eMSP with no sessions.
    pub fn new(config: RoamingConfig) -> Result<Self, TimeError> {
        let civil_zero = config.epoch.civil_at(Instant::ZERO)?;
        let outboxes = config
            .peers
            .iter()
            .enumerate()
            .map(|(i, p)| Outbox::new(PeerId(i as u16), p.clone(), config.policy))
            .collect();
        Ok(RoamingClient {
            issuer: TokenIssuer::new(config.rng.clone()),
            names: Names::new(&config.metrics_prefix),
            outboxes,
            sessions: BTreeMap::new(),
            counter: 0,
            statuses: BTreeMap::new(),
            now: Instant::ZERO,
            civil_zero,
            round_robin: 0,
            config,
        })
    }

    /// The session `seq`.
    pub fn session(&self, seq: &str) -> Option<&RoamingSession> {
        self.sessions.get(seq)
    }

    /// Every session.
    pub fn sessions(&self) -> &BTreeMap<String, RoamingSession> {
        &self.sessions
    }

    /// The latest T/CEC 102.2 status pushed for a connector.
    pub fn pushed_status(&self, connector_id: &str) -> Option<&ConnectorStatusInfo> {
        self.statuses.get(connector_id)
    }

    /// Whether nothing is queued or in flight.
    pub fn is_idle(&self) -> bool {
        self.outboxes.iter().all(Outbox::is_idle)
    }

    fn next_seq(&mut self) -> String {
        self.counter += 1;
        format!("{}{:018}", self.config.operator_id, self.counter)
    }

    fn send<T: serde::Serialize>(&mut self, now: Instant, seq: &str, iface: Interface, data: &T) {
        let peer = self.sessions.get(seq).map_or(0, |s| usize::from(s.peer.0));
        if let (Ok(bytes), Some(o)) = (serde_json::to_vec(data), self.outboxes.get_mut(peer)) {
            o.enqueue_free(Push::new(
                iface,
                bytes,
                Tag::Session {
                    seq: seq.to_owned(),
                },
                now,
            ));
        }
    }

    /// Starts a roaming session on `connector_id` of CPO `peer`; returns its StartChargeSeq.
    pub fn start_session(&mut self, now: Instant, peer: PeerId, connector_id: &str) -> String {
        self.now = self.now.max(now);
        let seq = self.next_seq();
        self.sessions.insert(
            seq.clone(),
            RoamingSession {
                peer,
                connector_id: connector_id.to_owned(),
                state: SessionState::Authorising,
                policy: Vec::new(),
                status: None,
                status_pushes: 0,
                order: None,
                disputed: false,
            },
        );
        let data = QueryEquipAuthRequest {
            equip_auth_seq: seq.clone(),
            connector_id: connector_id.to_owned(),
        };
        self.send(now, &seq, Interface::QueryEquipAuth, &data);
        seq
    }

    /// Asks the CPO to stop session `seq`.
    pub fn stop_session(&mut self, now: Instant, seq: &str) {
        self.now = self.now.max(now);
        let Some(s) = self.sessions.get_mut(seq) else {
            return;
        };
        s.state = SessionState::Stopping;
        let data = QueryStopChargeRequest {
            start_charge_seq: seq.to_owned(),
            connector_id: s.connector_id.clone(),
        };
        self.send(now, seq, Interface::QueryStopCharge, &data);
    }

    /// Queries the charge status of session `seq`.
    pub fn query_status(&mut self, now: Instant, seq: &str) {
        self.now = self.now.max(now);
        let data = StartChargeSeqRequest {
            start_charge_seq: seq.to_owned(),
        };
        self.send(now, seq, Interface::QueryEquipChargeStatus, &data);
    }

    fn fail(&mut self, seq: &str, why: String) {
        if let Some(s) = self.sessions.get_mut(seq) {
            s.state = SessionState::Failed(why);
        }
    }

    fn outcome(&mut self, now: Instant, outcome: Outcome<Tag>) {
        let (iface, Tag::Session { seq }, data) = match outcome {
            Outcome::Delivered {
                interface,
                tag,
                data,
            } => (interface, tag, data),
            Outcome::Failed {
                interface,
                tag: Tag::Session { seq },
                reason,
            } => {
                self.fail(&seq, format!("{interface}: {reason:?}"));
                return;
            }
        };
        let data = data.unwrap_or_default();
        match iface {
            Interface::QueryEquipAuth => match decode_data::<QueryEquipAuthResponse>(&data) {
                Ok(r) if r.succ_stat == SuccStat::Success => {
                    let Some(s) = self.sessions.get_mut(&seq) else {
                        return;
                    };
                    s.state = SessionState::FetchingPolicy;
                    let req = QueryEquipBusinessPolicyRequest {
                        equip_biz_seq: seq.clone(),
                        connector_id: s.connector_id.clone(),
                    };
                    self.send(now, &seq, Interface::QueryEquipBusinessPolicy, &req);
                }
                Ok(r) => self.fail(&seq, format!("auth refused: {}", r.fail_reason)),
                Err(e) => self.fail(&seq, e.to_string()),
            },
            Interface::QueryEquipBusinessPolicy => self.policy_answer(now, &seq, &data),
            Interface::QueryStartCharge => match decode_data::<QueryStartChargeResponse>(&data) {
                Ok(r) if r.succ_stat == SuccStat::Success => {
                    if let Some(s) = self.sessions.get_mut(&seq)
                        && s.state == SessionState::Starting
                    {
                        s.state = SessionState::Accepted;
                    }
                }
                Ok(r) => self.fail(&seq, format!("start refused: {}", r.fail_reason)),
                Err(e) => self.fail(&seq, e.to_string()),
            },
            Interface::QueryEquipChargeStatus => {
                if let (Ok(r), Some(s)) = (
                    decode_data::<EquipChargeStatus>(&data),
                    self.sessions.get_mut(&seq),
                ) {
                    s.status = Some(r);
                }
            }
            Interface::QueryStopCharge => match decode_data::<QueryStopChargeResponse>(&data) {
                Ok(r) if r.succ_stat == SuccStat::Success => {}
                Ok(r) => self.fail(&seq, format!("stop refused: {}", r.fail_reason)),
                Err(e) => self.fail(&seq, e.to_string()),
            },
            _ => {}
        }
    }

    fn policy_answer(&mut self, now: Instant, seq: &str, data: &[u8]) {
        match decode_data::<QueryEquipBusinessPolicyResponse>(data) {
            Ok(r) if r.succ_stat == SuccStat::Success => {
                let Some(s) = self.sessions.get_mut(seq) else {
                    return;
                };
                s.policy = r.policy_infos;
                s.state = SessionState::Starting;
                let operator_id = self
                    .config
                    .peers
                    .get(usize::from(s.peer.0))
                    .map(|p| p.inbound.operator_id.clone())
                    .unwrap_or_default();
                let req = QueryStartChargeRequest {
                    start_charge_seq: seq.to_owned(),
                    connector_id: s.connector_id.clone(),
                    qr_code: QrCode::new(s.connector_id.clone(), operator_id).to_string(),
                };
                self.send(now, seq, Interface::QueryStartCharge, &req);
            }
            Ok(r) => self.fail(seq, format!("policy refused: {}", r.fail_reason)),
            Err(e) => self.fail(seq, e.to_string()),
        }
    }

    fn serve(&mut self, now: Instant, opened: &Opened, keys: &TcecKeys) -> (Ret, ServerResponse) {
        let Some(peer) = self.config.peers.get(opened.peer).cloned() else {
            return (
                Ret::SystemError,
                serve::error_response(now, None, Ret::SystemError, "no peer"),
            );
        };
        let d = opened.dialect.unwrap_or(peer.dialect);
        let p = opened.plaintext.as_slice();
        match opened.interface {
            Interface::QueryToken => respond(
                now,
                keys,
                serve::serve_query_token(now, opened, &peer, &mut self.issuer),
            ),
            Interface::NotificationStationStatus => respond(
                now,
                keys,
                decode::<StationStatusNotification>(p, d).map(|r| {
                    let c = r.connector_status_info;
                    self.statuses.insert(c.connector_id.clone(), c);
                    StatusAck {
                        status: AckStatus::Accepted,
                    }
                }),
            ),
            Interface::NotificationStartChargeResult => respond(
                now,
                keys,
                decode(p, d).map(|r: StartChargeResultNotification| self.start_result(r)),
            ),
            Interface::NotificationEquipChargeStatus => respond(
                now,
                keys,
                decode(p, d).map(|r: EquipChargeStatus| self.charge_status(r)),
            ),
            Interface::NotificationStopChargeResult => respond(
                now,
                keys,
                decode(p, d).map(|r: StopChargeResultNotification| self.stop_result(r)),
            ),
            Interface::NotificationChargeOrderInfo => {
                respond(now, keys, decode(p, d).map(|r| self.order_info(r)))
            }
            Interface::CheckChargeOrders => {
                respond(now, keys, decode(p, d).map(|r| self.check_orders(r)))
            }
            other => respond::<()>(
                now,
                keys,
                Err(Refusal::new(
                    Ret::BusinessParamInvalid,
                    format!("{other} not served"),
                )),
            ),
        }
    }

    fn start_result(&mut self, r: StartChargeResultNotification) -> NotificationResultAck {
        let known = self.sessions.get_mut(&r.start_charge_seq).map(|s| {
            s.state = match r.start_charge_seq_stat {
                StartChargeSeqStat::Charging => SessionState::Charging,
                other => SessionState::Failed(format!("start result {other}")),
            };
        });
        NotificationResultAck {
            start_charge_seq: r.start_charge_seq,
            succ_stat: if known.is_some() {
                SuccStat::Success
            } else {
                SuccStat::Failure
            },
            fail_reason: if known.is_some() {
                GenericFailReason::NoFailure
            } else {
                GenericFailReason::ReceiveFailed
            },
        }
    }

    fn charge_status(&mut self, r: EquipChargeStatus) -> ChargeStatusAck {
        let seq = r.start_charge_seq.clone();
        let known = self.sessions.get_mut(&seq).map(|s| {
            s.status_pushes += 1;
            s.status = Some(r);
        });
        ChargeStatusAck {
            start_charge_seq: seq,
            succ_stat: if known.is_some() {
                SuccStat::Success
            } else {
                SuccStat::Failure
            },
        }
    }

    fn stop_result(&mut self, r: StopChargeResultNotification) -> NotificationResultAck {
        let known = self.sessions.get_mut(&r.start_charge_seq).map(|s| {
            if s.state != SessionState::Billed {
                s.state = SessionState::Stopped;
            }
        });
        NotificationResultAck {
            start_charge_seq: r.start_charge_seq,
            succ_stat: if known.is_some() {
                SuccStat::Success
            } else {
                SuccStat::Failure
            },
            fail_reason: GenericFailReason::NoFailure,
        }
    }

    /// Expected money for `energy_kwh` under the quoted policy (first period's prices when
    /// details are absent).
    fn expected_money(policy: &[PolicyInfo], order: &ChargeOrderInfo) -> f64 {
        match &order.charge_details {
            Some(details) if !details.is_empty() => details
                .iter()
                .map(|d| {
                    d.detail_energy_kwh
                        * (d.elec_price_yuan_per_kwh.unwrap_or(0.0)
                            + d.service_price_yuan_per_kwh.unwrap_or(0.0))
                })
                .sum(),
            _ => policy.first().map_or(0.0, |p| {
                order.total_energy_kwh * (p.elec_price_yuan_per_kwh + p.service_price_yuan_per_kwh)
            }),
        }
    }

    fn order_info(&mut self, r: ChargeOrderInfo) -> ChargeOrderInfoAck {
        let seq = r.start_charge_seq.clone();
        let connector_id = r.connector_id.clone();
        let confirm = match self.sessions.get_mut(&seq) {
            Some(s) => {
                let want = Self::expected_money(&s.policy, &r);
                let got = r.total_money_yuan.unwrap_or(0.0);
                s.disputed = (want - got).abs() > 0.05;
                s.state = SessionState::Billed;
                s.order = Some(r);
                if s.disputed {
                    ConfirmResult::Disputed
                } else {
                    ConfirmResult::Agreed
                }
            }
            None => ConfirmResult::Disputed,
        };
        ChargeOrderInfoAck {
            start_charge_seq: seq,
            connector_id,
            confirm_result: confirm,
        }
    }

    fn check_orders(&mut self, r: CheckChargeOrdersRequest) -> CheckChargeOrdersResponse {
        let mut disputes = Vec::new();
        for o in &r.charge_orders {
            let mine = self
                .sessions
                .get(&o.start_charge_seq)
                .and_then(|s| s.order.as_ref());
            let reason = match mine {
                None => Some(DisputeReason::NoSuchOrder),
                Some(m) if (m.total_energy_kwh - o.total_energy_kwh).abs() > 0.01 => {
                    Some(DisputeReason::EnergyMismatch)
                }
                Some(m)
                    if (m.total_money_yuan.unwrap_or(0.0) - o.total_money_yuan).abs() > 0.01 =>
                {
                    Some(DisputeReason::MoneyMismatch)
                }
                Some(_) => None,
            };
            if let Some(dispute_reason) = reason {
                disputes.push(DisputeOrder {
                    start_charge_seq: o.start_charge_seq.clone(),
                    total_energy_kwh: o.total_energy_kwh,
                    total_money_yuan: o.total_money_yuan,
                    dispute_reason,
                });
            }
        }
        CheckChargeOrdersResponse {
            check_order_seq: r.check_order_seq,
            start_time: r.start_time,
            end_time: r.end_time,
            total_dispute_order: disputes.len() as u32,
            total_dispute_energy_kwh: disputes.iter().map(|d| d.total_energy_kwh).sum(),
            total_dispute_money_yuan: disputes.iter().map(|d| d.total_money_yuan).sum(),
            dispute_orders: disputes,
        }
    }

    /// The civil time at `now`.
    pub fn civil(&self, now: Instant) -> CivilTime {
        self.config.epoch.civil_at(now).unwrap_or(self.civil_zero)
    }
}

fn serves(i: Interface) -> bool {
    use Interface as I;
    matches!(
        i,
        I::QueryToken
            | I::NotificationStationStatus
            | I::NotificationStartChargeResult
            | I::NotificationEquipChargeStatus
            | I::NotificationStopChargeResult
            | I::NotificationChargeOrderInfo
            | I::CheckChargeOrders
    )
}

impl HttpMachine for RoamingClient {
    fn handle_request(
        &mut self,
        now: Instant,
        request: InboundRequest<'_>,
        metrics: &mut Metrics,
    ) -> ServerResponse {
        self.now = self.now.max(now);
        let opened =
            match serve::open_inbound(now, request, &self.config.peers, &self.issuer, serves) {
                Ok(o) => o,
                Err((iface, response)) => {
                    let ret = proto::tcec::ResponseEnvelope::parse(&response.body)
                        .map_or(Ret::Other(404), |e| e.ret);
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
        let (ret, response) = self.serve(now, &opened, &keys);
        self.names
            .count_served(metrics, Some(opened.interface), ret, now, "refused");
        response
    }

    fn poll_request(&mut self) -> Option<OutboundRequest> {
        let n = self.outboxes.len();
        let civil = self.civil(self.now);
        for k in 0..n {
            let i = (self.round_robin + k) % n;
            if let Some(req) = self
                .outboxes
                .get_mut(i)
                .and_then(|o| o.poll(self.now, civil))
            {
                self.round_robin = (i + 1) % n;
                return Some(req);
            }
        }
        None
    }

    fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        exchange: Exchange,
        metrics: &mut Metrics,
    ) {
        self.now = self.now.max(now);
        let outcome = match self.outboxes.get_mut(usize::from(id.peer().0)) {
            Some(o) => o.handle_response(now, id, exchange, &self.names, metrics),
            None => None,
        };
        if let Some(outcome) = outcome {
            self.outcome(now, outcome);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.outboxes.iter().filter_map(Outbox::poll_timeout).min()
    }

    fn handle_timeout(&mut self, now: Instant, _metrics: &mut Metrics) {
        self.now = self.now.max(now);
        for o in &mut self.outboxes {
            o.handle_timeout(now);
        }
    }
}
