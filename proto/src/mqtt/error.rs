//! The error of the seed-004 wire layer (APDU framing and payload decoding).

use super::apdu::MessageCode;
use super::pb;
use super::topic::{Direction, TopicClass};

/// Why an APDU could not be encoded or decoded. Each variant carries what was received.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MqttWireError {
    /// The input ends inside a field: a cut-off MQTT payload.
    #[error("APDU truncated: field at byte {offset} runs past the end of the {len}-byte input")]
    Truncated {
        /// Where the cut-off field starts.
        offset: usize,
        /// The input length.
        len: usize,
    },
    /// The input is not a protobuf APDU (bad wire type, over-long varint, field number 0, ...).
    #[error("APDU malformed at byte {offset}: {reason}")]
    Malformed {
        /// Where the offending key or value starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The APDU has no message code (field 1 absent, or 0).
    #[error("APDU has no message code")]
    MissingCode,
    /// The message code is not in the seed-004 table.
    #[error("unknown message code {code:#04x}")]
    UnknownCode {
        /// The code received (wider than a byte when the sender sent a wider value).
        code: u64,
    },
    /// The payload, or the whole APDU, is over the size limit.
    #[error("APDU payload of {len} bytes exceeds the limit of {max} bytes")]
    Oversized {
        /// The payload (or input) length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The payload is not a valid protobuf message of the type the code names.
    #[error("payload of {code:?} does not decode: {source}")]
    Payload {
        /// The APDU's message code.
        code: MessageCode,
        /// prost's description of the failure.
        source: prost::DecodeError,
    },
    /// The message was received on a topic of the wrong direction (e.g. a backend-only command
    /// published by a charger on `/U/C/...`).
    #[error("{code:?} is sent by the {sender:?} side, not on a {direction:?} topic")]
    WrongDirection {
        /// The APDU's message code.
        code: MessageCode,
        /// Who may send it.
        sender: super::apdu::Sender,
        /// The topic's direction.
        direction: Direction,
    },
    /// The message was received on a topic of the wrong class (e.g. telemetry on `/U/C/...`).
    #[error("{code:?} belongs on {expected:?} topics, not {found:?}")]
    WrongClass {
        /// The APDU's message code.
        code: MessageCode,
        /// The class the seed gives the code.
        expected: TopicClass,
        /// The topic's class.
        found: TopicClass,
    },
}

impl MqttWireError {
    /// The [`pb::ErrorCode`] to answer with in a [`pb::MessageError`] (seed 0xFF), after the
    /// OCPP-J CALLERROR codes: unknown codes are NotImplemented, undecodable input is a
    /// FormationViolation, a message from the wrong side is a ProtocolError.
    pub fn error_code(&self) -> pb::ErrorCode {
        match self {
            Self::UnknownCode { .. } => pb::ErrorCode::NotImplemented,
            Self::Truncated { .. }
            | Self::Malformed { .. }
            | Self::MissingCode
            | Self::Payload { .. } => pb::ErrorCode::FormationViolation,
            Self::Oversized { .. } => pb::ErrorCode::PropertyConstraintViolation,
            Self::WrongDirection { .. } | Self::WrongClass { .. } => pb::ErrorCode::ProtocolError,
        }
    }
}
