//! Uplink handling: everything chargers publish on `/U/<class>/<id>`.

use std::sync::Arc;

use proto::mqtt::apdu::Apdu;
use proto::mqtt::message::check_route;
use proto::mqtt::pb;
use proto::mqtt::topic::{Direction, TopicClass};
use proto::mqtt::{Message, MessageCode, MqttWireError, Seq};

use super::{Backend, BackendEvent, ChargerEntry, LedgerEntry, MetricRecord, OpenTx};
use crate::mqtt::metrics::ErrorKind;
use crate::time::Instant;

impl Backend {
    /// A charger published `payload` on `/U/<class>/<charger_id>` (`charger_id` is the serial
    /// for class R, the device id otherwise).
    pub fn handle_publish(
        &mut self,
        now: Instant,
        charger_id: &str,
        class: TopicClass,
        payload: &[u8],
    ) {
        self.tick(now);
        self.stats.received += 1;
        // Reuse the interned id of a known charger: no allocation per message.
        let topic_id = match self.chargers.get_key_value(charger_id) {
            Some((id, _)) => id.clone(),
            None if proto::mqtt::topic::validate_id(charger_id).is_ok() => {
                Arc::<str>::from(charger_id)
            }
            None => {
                self.metrics.error(ErrorKind::Decode, None, now);
                return;
            }
        };
        let apdu = match Apdu::decode_with_limit(payload, self.config.max_payload_len) {
            Ok(a) => a,
            Err(e) => {
                let code = match &e {
                    MqttWireError::UnknownCode { code } => u32::try_from(*code).unwrap_or(0),
                    _ => 0,
                };
                return self.reject(
                    ErrorKind::Decode,
                    now,
                    topic_id,
                    class,
                    code,
                    0,
                    e.error_code(),
                    &e.to_string(),
                );
            }
        };
        let (code, seq) = (apdu.code, apdu.seq);
        let decoded = check_route(code, Direction::Up, class)
            .and_then(|()| Message::decode_payload(code, apdu.payload));
        match decoded {
            Ok(message) => self.dispatch(now, topic_id, class, seq, message),
            Err(e) => {
                let c = u32::from(code.value());
                self.reject(
                    ErrorKind::Decode,
                    now,
                    topic_id,
                    class,
                    c,
                    seq,
                    e.error_code(),
                    &e.to_string(),
                );
            }
        }
    }

    /// Counts a bad uplink and answers MessageError (never to a MessageError).
    #[allow(clippy::too_many_arguments)]
    fn reject(
        &mut self,
        kind: ErrorKind,
        now: Instant,
        charger: Arc<str>,
        class: TopicClass,
        code: u32,
        seq: Seq,
        error: pb::ErrorCode,
        text: &str,
    ) {
        let known = u8::try_from(code).ok().and_then(MessageCode::from_u8);
        self.metrics.error(kind, known, now);
        if known == Some(MessageCode::MessageError) {
            return;
        }
        let message = pb::MessageError {
            error_code: error as i32,
            error_text: text.to_owned(),
            offending_code: code,
            offending_seq: seq,
        };
        self.stats.errors_sent += 1;
        self.queue(now, charger, seq, &message.into(), class, false);
    }

    fn dispatch(
        &mut self,
        now: Instant,
        id: Arc<str>,
        class: TopicClass,
        seq: Seq,
        message: Message,
    ) {
        let code = message.code();
        if let Message::DeviceRegistrationReq(req) = message {
            return self.on_registration(now, id, seq, req);
        }
        if !self.chargers.contains_key(&id) {
            let text = "device id is not registered";
            return self.reject(
                ErrorKind::Unexpected,
                now,
                id,
                class,
                u32::from(code.value()),
                seq,
                pb::ErrorCode::NotRegistered,
                text,
            );
        }
        if code.is_conf() {
            return self.on_conf(now, id, class, seq, message);
        }
        if let Message::BootNotificationReq(req) = message {
            return self.on_boot(now, id, seq, req);
        }
        if !self.chargers.get(&id).is_some_and(|c| c.logged_in) {
            let text = "BootNotificationReq not accepted yet";
            return self.reject(
                ErrorKind::Unexpected,
                now,
                id,
                class,
                u32::from(code.value()),
                seq,
                pb::ErrorCode::NotLoggedIn,
                text,
            );
        }
        if self.faults.never_answer.contains(&code) {
            return;
        }
        self.on_request(now, id, seq, message);
    }

    fn on_registration(
        &mut self,
        now: Instant,
        serial: Arc<str>,
        seq: Seq,
        req: pb::DeviceRegistrationReq,
    ) {
        use pb::RegistrationStatus as S;
        let code_ok = self.config.registration_codes.is_empty()
            || self
                .config
                .registration_codes
                .contains(&req.registration_code);
        let (status, device_id) = if req.serial_number != *serial || !code_ok {
            (S::InvalidRegistrationCode, String::new())
        } else if let Some(existing) = self.serials.get(&*serial) {
            // Registered once, identity kept: a charger that lost the first answer gets its
            // id back with ALREADY_REGISTERED instead of being locked out.
            (S::AlreadyRegistered, existing.to_string())
        } else {
            let id = self.register(&serial);
            self.events.push_back(BackendEvent::Registered {
                serial: serial.to_string(),
                charger: id.clone(),
            });
            (S::Accepted, id.to_string())
        };
        if status == S::InvalidRegistrationCode {
            self.metrics.error(
                ErrorKind::Rejected,
                Some(MessageCode::DeviceRegistrationReq),
                now,
            );
            self.events.push_back(BackendEvent::RegistrationRefused {
                serial: serial.to_string(),
                status,
            });
        }
        if self
            .faults
            .never_answer
            .contains(&MessageCode::DeviceRegistrationReq)
        {
            return;
        }
        let conf = pb::DeviceRegistrationConf {
            status: status as i32,
            device_id,
        };
        self.queue(
            now,
            serial,
            seq,
            &conf.into(),
            TopicClass::Registration,
            true,
        );
    }

    /// Assigns the device id of `serial`: `D` and 16 hex digits of a hash of the serial, which
    /// is a valid topic id whatever the serial looks like.
    fn register(&mut self, serial: &str) -> Arc<str> {
        let mut h = crate::rng::mix64(serial.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
        }));
        let id: Arc<str> = loop {
            let candidate: Arc<str> = Arc::from(format!("D{h:016X}"));
            if !self.chargers.contains_key(&candidate) {
                break candidate;
            }
            h = crate::rng::mix64(h);
        };
        self.serials.insert(serial.to_owned(), id.clone());
        self.chargers.insert(
            id.clone(),
            ChargerEntry {
                id: id.clone(),
                logged_in: false,
                online: true,
                firmware_version: String::new(),
                next_seq: 1,
                tx_counter: 0,
                records: Default::default(),
                open: Default::default(),
                started_this_login: Vec::new(),
                orders: Vec::new(),
                warnings: Default::default(),
                last_charging_info: None,
            },
        );
        id
    }

    fn on_boot(&mut self, now: Instant, id: Arc<str>, seq: Seq, req: pb::BootNotificationReq) {
        if self
            .faults
            .never_answer
            .contains(&MessageCode::BootNotificationReq)
        {
            return;
        }
        let reject =
            self.faults.reject_boot_ratio > 0.0 && self.chance(self.faults.reject_boot_ratio);
        let status = if reject {
            self.stats.rejected_boots += 1;
            pb::BootStatus::Rejected
        } else {
            pb::BootStatus::Accepted
        };
        if let Some(c) = self.chargers.get_mut(&id) {
            c.online = true;
            c.logged_in = !reject;
            c.started_this_login.clear();
            if !reject {
                c.firmware_version = req.firmware_version.clone();
            }
        }
        self.events.push_back(BackendEvent::Booted {
            charger: id.clone(),
            accepted: !reject,
            reason: req.reason(),
            firmware_version: req.firmware_version,
        });
        let conf = pb::BootNotificationConf {
            status: status as i32,
            interval_s: if reject {
                self.config.boot_retry_interval_s
            } else {
                0
            },
            current_time_unix_s: self.config.clock.unix_s(now),
        };
        self.queue(now, id, seq, &conf.into(), TopicClass::Command, true);
    }

    fn on_request(&mut self, now: Instant, id: Arc<str>, seq: Seq, message: Message) {
        let reply: Option<Message> = match message {
            Message::AuthorizeReq(r) => Some(
                pb::AuthorizeConf {
                    id_tag_info: Some(self.card_info(&r.id_tag, r.id_tag_kind(), now)),
                }
                .into(),
            ),
            Message::StartTransactionReq(r) => Some(self.on_start(now, &id, r).into()),
            Message::StopTransactionReq(r) => Some(self.on_stop(now, &id, r).into()),
            Message::TransactionReq(r) => Some(self.on_offline_order(now, &id, r).into()),
            m @ (Message::WarningReq(_)
            | Message::FirmwareStatusNotificationReq(_)
            | Message::DiagnosticsStatusNotificationReq(_)) => Some(self.on_notification(&id, m)),
            Message::SetTariffReq(_) => {
                if let Some(t) = &self.config.tariff {
                    // The answer is a SetTariffReq with the charger's seq, which the charger
                    // confirms with SetTariffConf: track it like a backend request.
                    self.pending.push(super::Pending {
                        charger: id.clone(),
                        seq,
                        code: MessageCode::SetTariffReq,
                        intended: now,
                        sent: now,
                        deadline: now + self.config.response_timeout,
                    });
                    Some(t.to_pb().into())
                } else {
                    let code = u32::from(MessageCode::SetTariffReq.value());
                    let text = "no tariff configured";
                    let class = TopicClass::Command;
                    self.reject(
                        ErrorKind::Unexpected,
                        now,
                        id,
                        class,
                        code,
                        seq,
                        pb::ErrorCode::NotSupported,
                        text,
                    );
                    return;
                }
            }
            Message::TelemetryReq(_) => {
                self.stats.telemetry += 1;
                None
            }
            Message::ChargingInfoReq(r) => {
                self.on_charging_info(&id, r);
                None
            }
            _ => None,
        };
        let Some(reply) = reply else {
            return;
        };
        self.queue(now, id, seq, &reply, TopicClass::Command, true);
    }

    /// Warnings and status notifications: recorded, reported as events, confirmed.
    fn on_notification(&mut self, id: &Arc<str>, message: Message) -> Message {
        let conf: Message = match &message {
            Message::WarningReq(r) => {
                if let Some(c) = self.chargers.get_mut(id) {
                    for w in &r.warnings {
                        c.warnings.insert(w.warning_id, w.clone());
                    }
                }
                pb::WarningConf {}.into()
            }
            Message::FirmwareStatusNotificationReq(_) => {
                pb::FirmwareStatusNotificationConf {}.into()
            }
            _ => pb::DiagnosticsStatusNotificationConf {}.into(),
        };
        self.events.push_back(BackendEvent::Notification {
            charger: id.clone(),
            message,
        });
        conf
    }

    fn card_info(&self, id_tag: &str, kind: pb::IdTagKind, now: Instant) -> pb::IdTagInfo {
        let unix = self.config.clock.unix_s(now);
        match self.cards.get(id_tag) {
            Some(info) if info.expiry_unix_s != 0 && info.expiry_unix_s <= unix => pb::IdTagInfo {
                status: pb::AuthorizationStatus::Expired as i32,
                ..info.clone()
            },
            Some(info) => info.clone(),
            // App accounts are authorized by the app before the backend sends the remote start.
            None if matches!(kind, pb::IdTagKind::App | pb::IdTagKind::Bluetooth) => {
                pb::IdTagInfo {
                    status: pb::AuthorizationStatus::Accepted as i32,
                    ..Default::default()
                }
            }
            None => pb::IdTagInfo {
                status: pb::AuthorizationStatus::Invalid as i32,
                ..Default::default()
            },
        }
    }

    /// StartTransactionReq: a re-sent start (same record id) gets the same transaction id.
    fn on_start(
        &mut self,
        now: Instant,
        id: &Arc<str>,
        r: pb::StartTransactionReq,
    ) -> pb::StartTransactionConf {
        let mut info = self.card_info(&r.id_tag, r.id_tag_kind(), now);
        let Some(c) = self.chargers.get_mut(id) else {
            return pb::StartTransactionConf::default();
        };
        if let Some(pos) = c
            .orders
            .iter()
            .position(|o| !r.order_id.is_empty() && o.order_id == r.order_id)
        {
            c.orders.remove(pos);
            self.open_orders -= 1;
            info.status = pb::AuthorizationStatus::Accepted as i32;
        }
        let (transaction_id, repeat) = match c.records.get(&r.record_id) {
            Some(&tx) => (tx, true),
            None => {
                let tx = Self::next_transaction_id(c);
                c.records.insert(r.record_id, tx);
                (tx, false)
            }
        };
        let booked = self.ledger.get(id, transaction_id).is_some();
        if !booked {
            c.open.insert(
                transaction_id,
                OpenTx {
                    meter_start_wh: r.meter_start_wh,
                    start_unix_s: r.timestamp_unix_s,
                    offline_start: r.offline,
                    order_id: r.order_id.clone(),
                },
            );
        }
        if !c.started_this_login.contains(&r.record_id) {
            c.started_this_login.push(r.record_id);
        }
        self.events.push_back(BackendEvent::TransactionStarted {
            charger: id.clone(),
            transaction_id,
            record_id: r.record_id,
            repeat,
        });
        pb::StartTransactionConf {
            transaction_id,
            id_tag_info: Some(info),
            record_id: r.record_id,
        }
    }

    fn on_stop(
        &mut self,
        now: Instant,
        id: &Arc<str>,
        r: pb::StopTransactionReq,
    ) -> pb::StopTransactionConf {
        let info = self.card_info(&r.id_tag, pb::IdTagKind::Card, now);
        let Some(c) = self.chargers.get_mut(id) else {
            return pb::StopTransactionConf::default();
        };
        let transaction_id = match c.records.get(&r.record_id) {
            Some(&tx) => tx,
            None => {
                let tx = if r.transaction_id != 0 {
                    r.transaction_id
                } else {
                    Self::next_transaction_id(c)
                };
                c.records.insert(r.record_id, tx);
                tx
            }
        };
        let open = c.open.remove(&transaction_id);
        let entry = LedgerEntry {
            charger: id.clone(),
            transaction_id,
            record_id: r.record_id,
            connector: r.connector_id,
            id_tag: r.id_tag.clone(),
            meter_start_wh: open.as_ref().map_or_else(
                || r.meter_stop_wh.saturating_sub(u64::from(r.energy_wh)),
                |o| o.meter_start_wh,
            ),
            meter_stop_wh: r.meter_stop_wh,
            start_unix_s: open.as_ref().map_or(0, |o| o.start_unix_s),
            stop_unix_s: r.timestamp_unix_s,
            reason: r.reason(),
            cost: r.cost.clone().unwrap_or_default(),
            offline_order: false,
            offline_start: open.as_ref().is_some_and(|o| o.offline_start),
            order_id: open.map(|o| o.order_id).unwrap_or_default(),
        };
        self.book(id, entry);
        pb::StopTransactionConf {
            id_tag_info: Some(info),
            record_id: r.record_id,
        }
    }

    /// TransactionReq (seed 离线订单): book it unless its record is booked already.
    fn on_offline_order(
        &mut self,
        _now: Instant,
        id: &Arc<str>,
        r: pb::TransactionReq,
    ) -> pb::TransactionConf {
        let record = r.record.unwrap_or_default();
        let Some(c) = self.chargers.get_mut(id) else {
            return pb::TransactionConf::default();
        };
        let transaction_id = match c.records.get(&record.record_id) {
            Some(&tx) => tx,
            None => {
                let tx = Self::next_transaction_id(c);
                c.records.insert(record.record_id, tx);
                tx
            }
        };
        c.open.remove(&transaction_id);
        if let Some(pos) = c
            .orders
            .iter()
            .position(|o| !record.order_id.is_empty() && o.order_id == record.order_id)
        {
            c.orders.remove(pos);
            self.open_orders -= 1;
        }
        let entry = LedgerEntry {
            charger: id.clone(),
            transaction_id,
            record_id: record.record_id,
            connector: record.connector_id,
            id_tag: record.id_tag.clone(),
            meter_start_wh: record.meter_start_wh,
            meter_stop_wh: record.meter_stop_wh,
            start_unix_s: record.start_unix_s,
            stop_unix_s: record.stop_unix_s,
            reason: record.stop_reason(),
            cost: record.cost.clone().unwrap_or_default(),
            offline_order: true,
            offline_start: record.offline,
            order_id: record.order_id.clone(),
        };
        let new = self.book(id, entry);
        let status = if new {
            pb::TransactionAckStatus::Accepted
        } else {
            pb::TransactionAckStatus::Duplicate
        };
        pb::TransactionConf {
            record_id: record.record_id,
            status: status as i32,
            transaction_id,
        }
    }

    fn book(&mut self, id: &Arc<str>, entry: LedgerEntry) -> bool {
        let (transaction_id, offline_order) = (entry.transaction_id, entry.offline_order);
        let new = self.ledger.book(entry);
        self.events.push_back(BackendEvent::TransactionEnded {
            charger: id.clone(),
            transaction_id,
            offline_order,
            duplicate: !new,
        });
        new
    }

    fn on_charging_info(&mut self, id: &Arc<str>, r: pb::ChargingInfoReq) {
        self.stats.charging_info += 1;
        let Some(c) = self.chargers.get_mut(id) else {
            return;
        };
        if !c.started_this_login.contains(&r.record_id) {
            self.stats.charging_info_before_start += 1;
        }
        c.last_charging_info = Some(r);
    }

    /// A confirmation of one of the backend's requests.
    fn on_conf(
        &mut self,
        now: Instant,
        id: Arc<str>,
        class: TopicClass,
        seq: Seq,
        message: Message,
    ) {
        let code = message.code();
        let Some(expected) = self.pending.find(&id, seq, code).map(|p| p.code.conf_of()) else {
            if let Message::MessageError(error) = message {
                self.metrics.error(ErrorKind::MessageError, None, now);
                self.events
                    .push_back(BackendEvent::MessageErrorReceived { charger: id, error });
                return;
            }
            let text = "confirmation does not match a pending request";
            return self.reject(
                ErrorKind::Unexpected,
                now,
                id,
                class,
                u32::from(code.value()),
                seq,
                pb::ErrorCode::ProtocolError,
                text,
            );
        };
        if code != MessageCode::MessageError && expected != Some(code) {
            let text = "confirmation of the wrong type for this seq";
            return self.reject(
                ErrorKind::Unexpected,
                now,
                id,
                class,
                u32::from(code.value()),
                seq,
                pb::ErrorCode::ProtocolError,
                text,
            );
        }
        let Some(p) = self.pending.take(&id, seq, code) else {
            return;
        };
        if let Message::MessageError(error) = message {
            self.metrics
                .error(ErrorKind::MessageError, Some(p.code), now);
            self.events
                .push_back(BackendEvent::MessageErrorReceived { charger: id, error });
            return;
        }
        self.metrics.push(MetricRecord::Latency {
            request: p.code,
            intended: p.intended,
            sent: p.sent,
            done: now,
        });
        self.after_conf(now, &id, seq, &message);
        self.events.push_back(BackendEvent::Response {
            charger: id,
            request: p.code,
            message,
        });
    }

    /// Side effects of a confirmation: a remote start's order starts its wait-for-plug clock.
    fn after_conf(&mut self, now: Instant, id: &Arc<str>, seq: Seq, message: &Message) {
        let grace = self.config.remote_start_grace;
        let Some(c) = self.chargers.get_mut(id) else {
            return;
        };
        if let Message::RemoteStartTransactionConf(conf) = message {
            let accepted = conf.status() == pb::RemoteStartStopStatus::Accepted;
            if accepted {
                for o in c.orders.iter_mut().filter(|o| o.seq == seq) {
                    o.deadline = Some(now + o.wait + grace);
                }
            } else {
                let before = c.orders.len();
                c.orders.retain(|o| o.seq != seq);
                self.open_orders -= before - c.orders.len();
                self.metrics.error(
                    ErrorKind::Rejected,
                    Some(MessageCode::RemoteStartTransactionReq),
                    now,
                );
            }
        }
    }
}
