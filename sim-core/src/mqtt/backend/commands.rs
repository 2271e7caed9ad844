//! Backend-initiated requests: configuration, remote control, remote start/stop, firmware,
//! tariffs, and raw publishes for fault tests.

use std::sync::Arc;

use proto::mqtt::control::{RemoteCommand, ResetKind};
use proto::mqtt::pb;
use proto::mqtt::topic::TopicClass;
use proto::mqtt::{Message, Seq};

use super::{Backend, Downlink, Order, Pending, Scheduled};
use crate::mqtt::charger::firmware_image;
use crate::mqtt::tariff::Tariff;
use crate::time::{Duration, Instant};

/// Why a backend command could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// No charger registered with this device id.
    #[error("no charger with device id {charger:?}")]
    UnknownCharger {
        /// The id given.
        charger: String,
    },
    /// The message is not a backend request (a Conf, or a charger-only request).
    #[error("{code:?} is not a request the backend sends")]
    NotABackendRequest {
        /// Its code.
        code: proto::mqtt::MessageCode,
    },
}

impl Backend {
    /// Sends a request to `charger` (device id) and tracks its confirmation; returns its seq.
    pub fn send_request(
        &mut self,
        now: Instant,
        charger: &str,
        message: Message,
    ) -> Result<Seq, BackendError> {
        self.send_request_intended(now, now, charger, message)
    }

    /// [`Backend::send_request`] for a request that was due at `intended` (≤ `now`): its
    /// latency runs from then.
    pub(super) fn send_request_intended(
        &mut self,
        now: Instant,
        intended: Instant,
        charger: &str,
        message: Message,
    ) -> Result<Seq, BackendError> {
        self.tick(now);
        let code = message.code();
        let backend_request = !code.is_conf()
            && code.may_travel(proto::mqtt::topic::Direction::Down)
            && code != proto::mqtt::MessageCode::MessageError;
        if !backend_request {
            return Err(BackendError::NotABackendRequest { code });
        }
        let c = self
            .chargers
            .get_mut(charger)
            .ok_or_else(|| BackendError::UnknownCharger {
                charger: charger.to_owned(),
            })?;
        let seq = c.next_seq;
        c.next_seq = c.next_seq.wrapping_add(1).max(1);
        let id = c.id.clone();
        if code.conf_of().is_some() {
            self.pending.push(Pending {
                charger: id.clone(),
                seq,
                code,
                intended,
                sent: now,
                deadline: now + self.config.response_timeout,
            });
        }
        self.queue(now, id, seq, &message, code.class(), false);
        Ok(seq)
    }

    /// Sends `message` to `charger` at `at` (e.g. a scenario's remote start).
    pub fn schedule(
        &mut self,
        at: Instant,
        charger: &str,
        message: Message,
    ) -> Result<(), BackendError> {
        let c = self
            .chargers
            .get(charger)
            .ok_or_else(|| BackendError::UnknownCharger {
                charger: charger.to_owned(),
            })?;
        self.scheduled.push(Scheduled {
            at,
            charger: c.id.clone(),
            message,
        });
        Ok(())
    }

    /// RemoteStartTransactionReq (seed 在线扫码充电); returns the order id. If the charger
    /// accepts but no StartTransactionReq with this order arrives within the plug-in timeout
    /// (plus a grace) while it is online, the order ends ([`super::BackendEvent::RemoteStartExpired`]).
    pub fn remote_start(
        &mut self,
        now: Instant,
        charger: &str,
        connector: u32,
        id_tag: &str,
        plan: pb::ChargingPlan,
        plug_in_timeout_s: u32,
    ) -> Result<String, BackendError> {
        let next = self.chargers.get(charger).map(|c| c.next_seq).unwrap_or(0);
        let order_id = format!("O{charger}-{next}");
        let req = pb::RemoteStartTransactionReq {
            connector_id: connector,
            id_tag: id_tag.to_owned(),
            order_id: order_id.clone(),
            plan: Some(plan),
            plug_in_timeout_s,
            reservation_id: 0,
        };
        let seq = self.send_request(now, charger, req.into())?;
        if let Some(c) = self.chargers.get_mut(charger) {
            c.orders.push(Order {
                order_id: order_id.clone(),
                seq,
                wait: Duration::from_secs(u64::from(plug_in_timeout_s)),
                deadline: None,
            });
            self.open_orders += 1;
        }
        Ok(order_id)
    }

    /// RemoteStopTransactionReq for a transaction id.
    pub fn remote_stop(
        &mut self,
        now: Instant,
        charger: &str,
        transaction_id: u32,
    ) -> Result<Seq, BackendError> {
        let req = pb::RemoteStopTransactionReq {
            transaction_id,
            connector_id: 0,
        };
        self.send_request(now, charger, req.into())
    }

    /// RemoteControlReq `Reset` (0 = system, 1 = program).
    pub fn reset(
        &mut self,
        now: Instant,
        charger: &str,
        kind: ResetKind,
    ) -> Result<Seq, BackendError> {
        self.send_request(now, charger, RemoteCommand::Reset(kind).to_pb().into())
    }

    /// ChangeConfigurationReq with several keys at once.
    pub fn change_configuration(
        &mut self,
        now: Instant,
        charger: &str,
        keys: &[(&str, &str)],
    ) -> Result<Seq, BackendError> {
        let req = pb::ChangeConfigurationReq {
            configuration_key: keys
                .iter()
                .map(|(k, v)| pb::KeyValue {
                    key: (*k).to_owned(),
                    readonly: false,
                    value: (*v).to_owned(),
                })
                .collect(),
        };
        self.send_request(now, charger, req.into())
    }

    /// GetConfigurationReq (empty = every key).
    pub fn get_configuration(
        &mut self,
        now: Instant,
        charger: &str,
        keys: &[&str],
    ) -> Result<Seq, BackendError> {
        let req = pb::GetConfigurationReq {
            key: keys.iter().map(|k| (*k).to_owned()).collect(),
        };
        self.send_request(now, charger, req.into())
    }

    /// UpdateFirmwareReq from `ftp://firmware.invalid/` for `file_name` at `version`, with
    /// the image's real MD5 unless `md5_hex` overrides it (to provoke DOWNLOAD_FAILED).
    pub fn update_firmware(
        &mut self,
        now: Instant,
        charger: &str,
        file_name: &str,
        version: &str,
        md5_hex: Option<&str>,
    ) -> Result<Seq, BackendError> {
        let md5 = md5_hex.map_or_else(
            || crate::mqtt::charger::md5_hex(&firmware_image(file_name, version)),
            str::to_owned,
        );
        let req = pb::UpdateFirmwareReq {
            location_url: "ftp://firmware.invalid/images/".to_owned(),
            file_name: file_name.to_owned(),
            md5_hex: md5,
            version: version.to_owned(),
            ..Default::default()
        };
        self.send_request(now, charger, req.into())
    }

    /// SetTariffReq pushed to `charger` (seed 计费模版 way 2).
    pub fn push_tariff(
        &mut self,
        now: Instant,
        charger: &str,
        tariff: &Tariff,
    ) -> Result<Seq, BackendError> {
        self.send_request(now, charger, tariff.to_pb().into())
    }

    /// Publishes arbitrary bytes to `charger` (fault tests: garbage, unknown codes, wrong
    /// seqs, oversized payloads). Not tracked as a request.
    pub fn send_raw(
        &mut self,
        now: Instant,
        charger: &str,
        class: TopicClass,
        payload: Vec<u8>,
    ) -> Result<(), BackendError> {
        self.tick(now);
        let id: Arc<str> = match class {
            TopicClass::Registration => Arc::from(charger),
            _ => self
                .chargers
                .get(charger)
                .map(|c| c.id.clone())
                .ok_or_else(|| BackendError::UnknownCharger {
                    charger: charger.to_owned(),
                })?,
        };
        self.ready.push_back(Downlink {
            charger_id: id,
            class,
            qos: class.qos(),
            payload,
        });
        Ok(())
    }
}
