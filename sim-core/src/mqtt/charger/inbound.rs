//! Inbound APDUs: decoding, routing checks, and the backend's requests and confirmations.
//!
//! Anything that does not decode, arrives on the wrong topic, or is a confirmation for a seq
//! the charger never used is counted and answered with MessageError (never a panic, never an
//! answer to a MessageError).

use proto::mqtt::apdu::Apdu;
use proto::mqtt::control::{RemoteCommand, ResetKind};
use proto::mqtt::message::check_route;
use proto::mqtt::pb;
use proto::mqtt::topic::{Direction, TopicClass};
use proto::mqtt::{Message, MessageCode, MqttWireError, Seq};

use super::{ChargerClient, ClientEvent, PendingStart, Phase, Purpose, Reservation, settings};
use crate::mqtt::metrics::ErrorKind;
use crate::time::{Duration, Instant};

impl ChargerClient {
    /// An MQTT publish arrived on the charger's `/D/<class>/<id>` topic.
    pub fn handle_publish(&mut self, now: Instant, class: TopicClass, payload: &[u8]) {
        self.tick(now);
        self.stats.received += 1;
        let apdu = match Apdu::decode_with_limit(payload, self.config.max_payload_len) {
            Ok(apdu) => apdu,
            Err(e) => {
                let code = match &e {
                    MqttWireError::UnknownCode { code } => u32::try_from(*code).unwrap_or(0),
                    _ => 0,
                };
                self.reject_inbound(now, class, code, 0, &e);
                return;
            }
        };
        let (code, seq) = (apdu.code, apdu.seq);
        let decoded = check_route(code, Direction::Down, class)
            .and_then(|()| Message::decode_payload(code, apdu.payload));
        match decoded {
            Ok(message) => self.dispatch(now, class, seq, message),
            Err(e) => self.reject_inbound(now, class, u32::from(code.value()), seq, &e),
        }
    }

    fn reject_inbound(
        &mut self,
        now: Instant,
        class: TopicClass,
        code: u32,
        seq: Seq,
        e: &MqttWireError,
    ) {
        let known = u8::try_from(code).ok().and_then(MessageCode::from_u8);
        self.metrics.error(ErrorKind::Decode, known, now);
        let text = e.to_string();
        self.send_error(now, class, code, seq, e.error_code(), &text);
    }

    fn dispatch(&mut self, now: Instant, class: TopicClass, seq: Seq, message: Message) {
        let code = message.code();
        if code.is_conf() {
            self.dispatch_conf(now, class, seq, message);
            return;
        }
        // A backend SetTariffReq that repeats our request's seq answers it.
        if code == MessageCode::SetTariffReq && self.answers_tariff_request(now, seq) {
            self.dispatch_request(now, seq, message);
            return;
        }
        if self.recent_inbound.contains(&(code, seq)) {
            // rumqttc hands a QoS 2 DUP re-send to the application again; act once.
            self.metrics.error(ErrorKind::Duplicate, Some(code), now);
            return;
        }
        self.recent_inbound.insert((code, seq));
        if self.phase != Phase::Online {
            self.metrics.error(ErrorKind::Unexpected, Some(code), now);
            let text = "charger is not logged in";
            self.send_error(
                now,
                class,
                u32::from(code.value()),
                seq,
                pb::ErrorCode::ProtocolError,
                text,
            );
            return;
        }
        self.dispatch_request(now, seq, message);
    }

    fn answers_tariff_request(&mut self, now: Instant, seq: Seq) -> bool {
        let ours = self
            .pending
            .iter()
            .any(|p| p.seq == seq && p.purpose == Purpose::TariffRequest);
        ours && self
            .take_pending(now, seq, MessageCode::SetTariffReq)
            .is_ok()
    }

    fn dispatch_conf(&mut self, now: Instant, class: TopicClass, seq: Seq, message: Message) {
        let code = message.code();
        let pending = match self.take_pending(now, seq, code) {
            Ok(p) => Some(p),
            Err(true) => {
                // A late or repeated answer to a request we already settled.
                self.metrics.error(ErrorKind::Duplicate, Some(code), now);
                None
            }
            Err(false) if code == MessageCode::MessageError => {
                // An error report about something we did not ask: counted, never answered.
                self.metrics.error(ErrorKind::MessageError, None, now);
                return;
            }
            Err(false) => {
                self.metrics.error(ErrorKind::Unexpected, Some(code), now);
                let text = "confirmation does not match a pending request";
                self.send_error(
                    now,
                    class,
                    u32::from(code.value()),
                    seq,
                    pb::ErrorCode::ProtocolError,
                    text,
                );
                return;
            }
        };
        let record = |p: &Option<super::Pending>, echoed: u32| match p {
            Some(super::Pending {
                purpose: Purpose::Transaction { record_id },
                ..
            }) => *record_id,
            _ => echoed,
        };
        match message {
            Message::MessageError(e) => self.on_message_error(now, pending, &e),
            _ if pending.is_none() && !is_transaction_conf(code) => {}
            Message::DeviceRegistrationConf(c) => self.on_registration_conf(now, c),
            Message::BootNotificationConf(c) => self.on_boot_conf(now, c),
            Message::AuthorizeConf(c) => self.on_authorize_conf(now, pending, c),
            Message::StartTransactionConf(c) => {
                let r = record(&pending, c.record_id);
                self.on_start_conf(now, r, &c);
            }
            Message::StopTransactionConf(c) => {
                let r = record(&pending, c.record_id);
                self.on_stop_conf(now, r, &c);
            }
            Message::TransactionConf(c) => {
                let r = record(&pending, c.record_id);
                self.on_transaction_conf(now, r, &c);
            }
            Message::WarningConf(_) => self.on_warning_conf(now),
            // Status-notification confirmations carry nothing to act on.
            _ => {}
        }
    }

    fn on_message_error(
        &mut self,
        now: Instant,
        pending: Option<super::Pending>,
        e: &pb::MessageError,
    ) {
        let offending = u8::try_from(e.offending_code)
            .ok()
            .and_then(MessageCode::from_u8);
        match pending {
            Some(p) => {
                self.metrics
                    .error(ErrorKind::MessageError, Some(p.code), now);
                self.request_failed(now, p);
            }
            None => self.metrics.error(ErrorKind::MessageError, offending, now),
        }
    }

    fn on_authorize_conf(
        &mut self,
        now: Instant,
        pending: Option<super::Pending>,
        c: pb::AuthorizeConf,
    ) {
        let Some(super::Pending {
            purpose: Purpose::Authorize { connector, token },
            ..
        }) = pending
        else {
            return;
        };
        let info = c.id_tag_info.unwrap_or_default();
        let accepted = info.status() == pb::AuthorizationStatus::Accepted;
        if !accepted {
            self.metrics
                .error(ErrorKind::Rejected, Some(MessageCode::AuthorizeReq), now);
        }
        self.cache.learn(token.tag(), &info);
        self.events.push_back(ClientEvent::Authorized {
            connector,
            id_tag: token.tag().to_owned(),
            kind: token.kind(),
            accepted,
            offline: false,
        });
    }

    fn dispatch_request(&mut self, now: Instant, seq: Seq, message: Message) {
        match message {
            Message::ChangeConfigurationReq(r) => self.on_change_configuration(now, seq, r),
            Message::GetConfigurationReq(r) => self.on_get_configuration(now, seq, r),
            Message::RemoteControlReq(r) => self.on_remote_control(now, seq, r),
            Message::UpdateFirmwareReq(r) => self.on_update_firmware(now, seq, r),
            Message::GetDiagnosticsReq(r) => self.on_get_diagnostics(now, seq, r),
            Message::RemoteStartTransactionReq(r) => {
                let status = self.remote_start(now, r);
                let conf = pb::RemoteStartTransactionConf {
                    status: status.0 as i32,
                    reason: status.1.to_owned(),
                };
                self.send_plain(now, Some(seq), conf.into());
            }
            Message::RemoteStopTransactionReq(r) => {
                let status = self.remote_stop(r.transaction_id, r.connector_id);
                let conf = pb::RemoteStopTransactionConf {
                    status: status as i32,
                };
                self.send_plain(now, Some(seq), conf.into());
            }
            Message::ReserveNowReq(r) => self.on_reserve_now(now, seq, r),
            Message::CancelReservationReq(r) => self.on_cancel_reservation(now, seq, r),
            Message::UpdateIdCardCacheReq(r) => {
                let status = self.cache.update(&r);
                let conf = pb::UpdateIdCardCacheConf {
                    status: status as i32,
                    list_version: self.cache.list_version(),
                };
                self.send_plain(now, Some(seq), conf.into());
                self.events.push_back(ClientEvent::CardCacheUpdated {
                    list_version: self.cache.list_version(),
                    cards: self.cache.len(),
                });
            }
            Message::TriggerMessageReq(r) => self.on_trigger(now, seq, r),
            Message::GetTransactionsReq(r) => {
                let conf = self.transactions_conf(&r);
                self.send_plain(now, Some(seq), conf.into());
            }
            Message::GetWarningReq(r) => {
                let conf = self.warnings_conf(&r);
                self.send_plain(now, Some(seq), conf.into());
            }
            Message::SetTariffReq(r) => self.on_set_tariff(now, seq, &r),
            // Requests only the charger sends cannot arrive here: check_route refused them.
            _ => {}
        }
    }

    fn on_change_configuration(&mut self, now: Instant, seq: Seq, req: pb::ChangeConfigurationReq) {
        let mut results = Vec::with_capacity(req.configuration_key.len());
        let mut overall = pb::ConfigurationStatus::Accepted;
        for kv in &req.configuration_key {
            let status = settings::write(&kv.key, &kv.value, &mut self.config);
            if status == pb::ConfigurationStatus::Accepted {
                self.events.push_back(ClientEvent::ConfigurationChanged {
                    key: kv.key.clone(),
                    value: kv.value.clone(),
                });
            } else if overall == pb::ConfigurationStatus::Accepted {
                overall = status;
            }
            results.push(pb::KeyStatus {
                key: kv.key.clone(),
                status: status as i32,
            });
        }
        if overall != pb::ConfigurationStatus::Accepted {
            self.metrics.error(
                ErrorKind::Rejected,
                Some(MessageCode::ChangeConfigurationReq),
                now,
            );
        }
        // New intervals take effect from the next period.
        self.arm_periodic(now);
        let conf = pb::ChangeConfigurationConf {
            status: overall as i32,
            results,
        };
        self.send_plain(now, Some(seq), conf.into());
    }

    fn on_get_configuration(&mut self, now: Instant, seq: Seq, req: pb::GetConfigurationReq) {
        let version = self.cache.list_version();
        let keys: Vec<String> = if req.key.is_empty() {
            settings::KEYS
                .iter()
                .map(|(k, _)| (*k).to_owned())
                .collect()
        } else {
            req.key
        };
        let mut conf = pb::GetConfigurationConf::default();
        for key in keys {
            match settings::read(&key, &self.config, &self.identity, version) {
                Some(value) => conf.configuration_key.push(pb::KeyValue {
                    readonly: settings::is_readonly(&key).unwrap_or(true),
                    key,
                    value,
                }),
                None => conf.unknown_key.push(key),
            }
        }
        self.send_plain(now, Some(seq), conf.into());
    }

    fn on_remote_control(&mut self, now: Instant, seq: Seq, req: pb::RemoteControlReq) {
        use pb::RemoteControlStatus as S;
        let (status, after): (S, Option<ResetKind>) = match RemoteCommand::from_pb(&req) {
            Err(_) => (S::Rejected, None),
            Ok(RemoteCommand::Reset(kind)) => (S::Accepted, Some(kind)),
            Ok(RemoteCommand::RemoteStart { connector_id }) => {
                let start = pb::RemoteStartTransactionReq {
                    connector_id,
                    id_tag: "remote-control".to_owned(),
                    ..Default::default()
                };
                match self.remote_start(now, start).0 {
                    pb::RemoteStartStopStatus::Accepted => (S::Accepted, None),
                    _ => (S::Rejected, None),
                }
            }
            Ok(RemoteCommand::RemoteStop { connector_id }) => {
                match self.remote_stop(0, connector_id) {
                    pb::RemoteStartStopStatus::Accepted => (S::Accepted, None),
                    _ => (S::Rejected, None),
                }
            }
            Ok(RemoteCommand::Debug(on)) => {
                self.events.push_back(ClientEvent::Debug { on });
                (S::Accepted, None)
            }
            Ok(RemoteCommand::Vendor { .. }) => (S::NotSupported, None),
        };
        let conf = pb::RemoteControlConf {
            status: status as i32,
        };
        self.send_plain(now, Some(seq), conf.into());
        if let Some(kind) = after {
            // The application stops running sessions on this event, before the reboot.
            self.events.push_back(ClientEvent::Reset { kind });
            let reason = pb::BootReason::Reboot;
            self.begin_reboot(now, reason);
        }
    }

    /// RemoteStartTransactionReq: accept when the connector exists, is free and not reserved
    /// for someone else; the application then starts the session (seed 在线扫码充电).
    fn remote_start(
        &mut self,
        now: Instant,
        req: pb::RemoteStartTransactionReq,
    ) -> (pb::RemoteStartStopStatus, &'static str) {
        use pb::RemoteStartStopStatus as S;
        let default_wait = self.config.plug_in_timeout;
        let Some(c) = self.connector_mut(req.connector_id) else {
            return (S::Rejected, "no such connector");
        };
        let refusal = if c.active.is_some() || c.pending_start.is_some() {
            Some("connector occupied")
        } else if matches!(
            c.status,
            pb::ConnectorStatus::Faulted | pb::ConnectorStatus::Unavailable
        ) {
            Some("connector unavailable")
        } else if c
            .reservation
            .as_ref()
            .is_some_and(|r| r.id_tag != req.id_tag && r.id != req.reservation_id)
        {
            Some("connector reserved")
        } else {
            None
        };
        if let Some(reason) = refusal {
            return (S::Rejected, reason);
        }
        let wait = if req.plug_in_timeout_s > 0 {
            Duration::from_secs(u64::from(req.plug_in_timeout_s))
        } else {
            default_wait
        };
        let plan = req.plan.unwrap_or(pb::ChargingPlan {
            mode: pb::ChargingMode::Full as i32,
            ..Default::default()
        });
        c.pending_start = Some(PendingStart {
            id_tag: req.id_tag.clone(),
            plan,
            order_id: req.order_id,
            reservation_id: req.reservation_id,
            deadline: now + wait,
        });
        self.events.push_back(ClientEvent::RemoteStart {
            connector: req.connector_id,
            id_tag: req.id_tag,
            plan,
            plug_in_timeout: wait,
        });
        self.rearm_connector_timer();
        (S::Accepted, "")
    }

    fn remote_stop(&mut self, transaction_id: u32, connector: u32) -> pb::RemoteStartStopStatus {
        let found = if transaction_id != 0 {
            self.outbox
                .by_transaction(transaction_id)
                .map(|r| (r.connector, r.record_id))
        } else {
            self.active_transaction(connector).map(|r| (connector, r))
        };
        match found {
            Some((connector, record_id)) => {
                self.events.push_back(ClientEvent::RemoteStop {
                    connector,
                    record_id,
                });
                pb::RemoteStartStopStatus::Accepted
            }
            None => pb::RemoteStartStopStatus::Rejected,
        }
    }

    fn on_reserve_now(&mut self, now: Instant, seq: Seq, req: pb::ReserveNowReq) {
        use pb::ReservationStatus as S;
        let unix = self.config.clock.unix_s(now);
        let connector = if req.connector_id == 0 {
            (1..=self.identity.connectors)
                .find(|&n| {
                    self.connector(n)
                        .is_some_and(|c| c.status == pb::ConnectorStatus::Available)
                })
                .unwrap_or(0)
        } else {
            req.connector_id
        };
        let lifetime = u64::try_from(req.expiry_unix_s.saturating_sub(unix)).unwrap_or(0);
        let status = match self.connector_mut(connector) {
            None => S::Unavailable,
            Some(_) if lifetime == 0 => S::Rejected,
            Some(c) if c.status == pb::ConnectorStatus::Faulted => S::Faulted,
            Some(c) if c.status == pb::ConnectorStatus::Unavailable => S::Unavailable,
            Some(c) if c.active.is_some() || c.pending_start.is_some() => S::Occupied,
            Some(c)
                if c.reservation
                    .as_ref()
                    .is_some_and(|r| r.id != req.reservation_id) =>
            {
                S::Occupied
            }
            Some(c) => {
                c.reservation = Some(Reservation {
                    id: req.reservation_id,
                    id_tag: req.id_tag.clone(),
                    expiry: now + Duration::from_secs(lifetime),
                });
                S::Accepted
            }
        };
        self.send_plain(
            now,
            Some(seq),
            pb::ReserveNowConf {
                status: status as i32,
            }
            .into(),
        );
        if status == S::Accepted {
            self.events.push_back(ClientEvent::ReservationMade {
                connector,
                reservation_id: req.reservation_id,
            });
            self.rearm_connector_timer();
            let available =
                self.connector_status(connector) == Some(pb::ConnectorStatus::Available);
            if available {
                // The status report goes out through the normal path.
                let _ = self.set_connector_status(now, connector, pb::ConnectorStatus::Reserved);
            }
        }
    }

    fn on_cancel_reservation(&mut self, now: Instant, seq: Seq, req: pb::CancelReservationReq) {
        let found = (1..=self.identity.connectors).find(|&n| {
            self.connector(n)
                .and_then(|c| c.reservation.as_ref())
                .is_some_and(|r| r.id == req.reservation_id)
        });
        let status = match found {
            Some(connector) => {
                if let Some(c) = self.connector_mut(connector) {
                    c.reservation = None;
                }
                self.events.push_back(ClientEvent::ReservationEnded {
                    connector,
                    reservation_id: req.reservation_id,
                    expired: false,
                });
                if self.connector_status(connector) == Some(pb::ConnectorStatus::Reserved) {
                    let _ =
                        self.set_connector_status(now, connector, pb::ConnectorStatus::Available);
                }
                self.rearm_connector_timer();
                pb::RequestStatus::Accepted
            }
            None => pb::RequestStatus::Rejected,
        };
        self.send_plain(
            now,
            Some(seq),
            pb::CancelReservationConf {
                status: status as i32,
            }
            .into(),
        );
    }

    fn on_trigger(&mut self, now: Instant, seq: Seq, req: pb::TriggerMessageReq) {
        use pb::TriggerMessageStatus as S;
        let requested = u8::try_from(req.requested_code)
            .ok()
            .and_then(MessageCode::from_u8);
        let status = match requested {
            Some(
                MessageCode::BootNotificationReq
                | MessageCode::TelemetryReq
                | MessageCode::ChargingInfoReq
                | MessageCode::FirmwareStatusNotificationReq
                | MessageCode::DiagnosticsStatusNotificationReq
                | MessageCode::WarningReq,
            ) => S::Accepted,
            _ => S::NotImplemented,
        };
        self.send_plain(
            now,
            Some(seq),
            pb::TriggerMessageConf {
                status: status as i32,
            }
            .into(),
        );
        match requested {
            Some(MessageCode::BootNotificationReq) => {
                let boot = pb::BootNotificationReq {
                    reason: pb::BootReason::Unspecified as i32,
                    ..self.boot_message()
                };
                self.send_plain(now, None, boot.into());
            }
            Some(MessageCode::TelemetryReq) => {
                self.report_all_status(now);
                self.send_measurements(now);
            }
            Some(MessageCode::ChargingInfoReq) => self.send_charging_infos(now, req.connector_id),
            Some(MessageCode::FirmwareStatusNotificationReq) => self.resend_firmware_status(now),
            Some(MessageCode::DiagnosticsStatusNotificationReq) => {
                self.resend_diagnostics_status(now)
            }
            Some(MessageCode::WarningReq) => {
                let active = self.warnings_conf(&pb::GetWarningReq {
                    active_only: true,
                    ..Default::default()
                });
                if !active.warnings.is_empty() {
                    let req = pb::WarningReq {
                        warnings: active.warnings,
                    };
                    self.send_request(now, now, req.into(), Purpose::Notification);
                }
            }
            _ => {}
        }
    }

    fn on_set_tariff(&mut self, now: Instant, seq: Seq, req: &pb::SetTariffReq) {
        let tariff = crate::mqtt::tariff::Tariff::from_pb(req);
        let status = match tariff {
            Ok(t) => {
                self.events
                    .push_back(ClientEvent::TariffChanged { tariff_id: t.id });
                self.tariff = Some(t);
                pb::RequestStatus::Accepted
            }
            Err(_) => {
                self.metrics
                    .error(ErrorKind::Rejected, Some(MessageCode::SetTariffReq), now);
                pb::RequestStatus::Rejected
            }
        };
        let conf = pb::SetTariffConf {
            status: status as i32,
            tariff_id: req.tariff_id,
        };
        self.send_plain(now, Some(seq), conf.into());
    }
}

fn is_transaction_conf(code: MessageCode) -> bool {
    matches!(
        code,
        MessageCode::StartTransactionConf
            | MessageCode::StopTransactionConf
            | MessageCode::TransactionConf
    )
}
