//! [`Message`]: one enum over every seed-004 payload, with APDU encode/decode.
//!
//! ```text
//! MQTT payload = APDU { code, seq, payload }      (apdu.rs, protobuf chargestorm.v1.Apdu)
//!                             └── pb::<code's message>  (charger.proto)
//! ```
//!
//! `Message::decode_apdu` parses the framing, looks the code up in the seed table and decodes
//! the payload as the code's protobuf type; `Message::encode_apdu` writes the framing and the
//! payload into the caller's buffer in one pass, without an intermediate payload `Vec`.
//! `Message::decode_apdu_on` also checks the code against the topic it arrived on (direction
//! and class) before decoding the payload, so a misrouted message costs no payload decode.

use prost::Message as _;

use super::apdu::{self, Apdu, MessageCode, Seq};
use super::error::MqttWireError;
use super::pb;
use super::topic::{Direction, Topic, TopicClass};

/// Generates [`Message`] and its per-variant dispatch from the list of message names; each
/// name is at once the `MessageCode` variant, the `pb` type and the `Message` variant, so a code
/// without a message (or the reverse) fails to compile.
macro_rules! messages {
    ($($name:ident),* $(,)?) => {
        /// A decoded seed-004 message: the payload of one APDU, typed by its message code.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Message {
            $(
                #[doc = concat!("Payload of [`MessageCode::", stringify!($name), "`].")]
                $name(pb::$name),
            )*
        }

        impl Message {
            /// The message code of this payload.
            pub const fn code(&self) -> MessageCode {
                match self {
                    $( Self::$name(_) => MessageCode::$name, )*
                }
            }

            /// Decodes `payload` as the protobuf type that `code` names.
            pub fn decode_payload(code: MessageCode, payload: &[u8]) -> Result<Self, MqttWireError> {
                let decoded = match code {
                    $( MessageCode::$name => pb::$name::decode(payload).map(Self::$name), )*
                };
                decoded.map_err(|source| MqttWireError::Payload { code, source })
            }

            /// The length of the encoded payload (without the APDU framing).
            pub fn encoded_payload_len(&self) -> usize {
                match self {
                    $( Self::$name(m) => m.encoded_len(), )*
                }
            }

            /// Appends the encoded payload to `out`.
            fn encode_payload_raw(&self, out: &mut Vec<u8>) {
                match self {
                    $( Self::$name(m) => m.encode_raw(out), )*
                }
            }
        }

        $(
            impl From<pb::$name> for Message {
                fn from(message: pb::$name) -> Self {
                    Self::$name(message)
                }
            }
        )*
    };
}

messages! {
    BootNotificationReq,
    ChangeConfigurationReq,
    GetConfigurationReq,
    RemoteControlReq,
    UpdateFirmwareReq,
    FirmwareStatusNotificationReq,
    GetDiagnosticsReq,
    DiagnosticsStatusNotificationReq,
    DeviceRegistrationReq,
    RemoteStartTransactionReq,
    RemoteStopTransactionReq,
    StartTransactionReq,
    StopTransactionReq,
    AuthorizeReq,
    ReserveNowReq,
    CancelReservationReq,
    UpdateIdCardCacheReq,
    TelemetryReq,
    ChargingInfoReq,
    TriggerMessageReq,
    GetTransactionsReq,
    TransactionReq,
    GetWarningReq,
    WarningReq,
    SetTariffReq,
    BootNotificationConf,
    ChangeConfigurationConf,
    GetConfigurationConf,
    RemoteControlConf,
    UpdateFirmwareConf,
    FirmwareStatusNotificationConf,
    GetDiagnosticsConf,
    DiagnosticsStatusNotificationConf,
    DeviceRegistrationConf,
    RemoteStartTransactionConf,
    RemoteStopTransactionConf,
    StartTransactionConf,
    StopTransactionConf,
    AuthorizeConf,
    ReserveNowConf,
    CancelReservationConf,
    UpdateIdCardCacheConf,
    TriggerMessageConf,
    GetTransactionsConf,
    TransactionConf,
    GetWarningConf,
    WarningConf,
    SetTariffConf,
    MessageError,
}

impl Message {
    /// Clears `out` and writes this message as an APDU with sequence number `seq`, so one
    /// buffer serves every publish. A payload over [`apdu::DEFAULT_MAX_PAYLOAD_LEN`] is
    /// [`MqttWireError::Oversized`] and leaves `out` empty.
    pub fn encode_apdu(&self, seq: Seq, out: &mut Vec<u8>) -> Result<(), MqttWireError> {
        out.clear();
        let payload_len = self.encoded_payload_len();
        apdu::check_payload_len(payload_len, apdu::DEFAULT_MAX_PAYLOAD_LEN)?;
        out.reserve(apdu::header_len(self.code(), seq, payload_len) + payload_len);
        apdu::encode_header(self.code(), seq, payload_len, out);
        self.encode_payload_raw(out);
        Ok(())
    }

    /// The length of the APDU [`Self::encode_apdu`] writes.
    pub fn encoded_apdu_len(&self, seq: Seq) -> usize {
        let payload_len = self.encoded_payload_len();
        apdu::header_len(self.code(), seq, payload_len) + payload_len
    }

    /// Decodes an APDU and its payload, with the default payload size limit.
    pub fn decode_apdu(bytes: &[u8]) -> Result<(Seq, Self), MqttWireError> {
        Self::decode_apdu_with_limit(bytes, apdu::DEFAULT_MAX_PAYLOAD_LEN)
    }

    /// Decodes an APDU and its payload; a payload over `max_payload_len` bytes is
    /// [`MqttWireError::Oversized`].
    pub fn decode_apdu_with_limit(
        bytes: &[u8],
        max_payload_len: usize,
    ) -> Result<(Seq, Self), MqttWireError> {
        let apdu = Apdu::decode_with_limit(bytes, max_payload_len)?;
        Ok((apdu.seq, Self::decode_payload(apdu.code, apdu.payload)?))
    }

    /// Decodes an APDU received on `topic`, rejecting a code that may not travel in the topic's
    /// direction ([`MqttWireError::WrongDirection`]) or class ([`MqttWireError::WrongClass`])
    /// before its payload is decoded.
    pub fn decode_apdu_on(topic: &Topic<'_>, bytes: &[u8]) -> Result<(Seq, Self), MqttWireError> {
        let apdu = Apdu::decode(bytes)?;
        check_route(apdu.code, topic.direction, topic.class)?;
        Ok((apdu.seq, Self::decode_payload(apdu.code, apdu.payload)?))
    }
}

/// Checks that `code` may travel on a topic of `direction` and `class` (seed table columns
/// "消息" and "发送方").
pub fn check_route(
    code: MessageCode,
    direction: Direction,
    class: TopicClass,
) -> Result<(), MqttWireError> {
    check_direction(code, direction)?;
    if code.may_use_class(class) {
        Ok(())
    } else {
        Err(MqttWireError::WrongClass {
            code,
            expected: code.class(),
            found: class,
        })
    }
}

fn check_direction(code: MessageCode, direction: Direction) -> Result<(), MqttWireError> {
    if code.may_travel(direction) {
        Ok(())
    } else {
        Err(MqttWireError::WrongDirection {
            code,
            sender: code.sender(),
            direction,
        })
    }
}

#[cfg(test)]
mod samples;
#[cfg(test)]
mod tests;
