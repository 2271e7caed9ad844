//! Modbus exception codes.
//!
//! A server that understands a request but cannot serve it answers with an exception
//! response: the function code with its high bit set, then one of these codes. The codes and
//! their meanings come from the MODBUS Application Protocol Specification V1.1b3, section 7
//! ("MODBUS Exception Responses"), cited below as "MB AP §7".
//!
//! This type is independent of tokio-modbus on purpose: `proto` has no I/O dependencies, and the
//! `hil` crate converts at its edge.

use core::fmt;

/// An exception code carried in a Modbus exception response (MB AP §7).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ExceptionCode {
    /// 0x01 ILLEGAL FUNCTION: the function code is not an allowable action for the server
    /// (MB AP §7, code 01).
    IllegalFunction,
    /// 0x02 ILLEGAL DATA ADDRESS: the data address, or the combination of starting address and
    /// quantity, is not an allowable address for the server (MB AP §7, code 02).
    IllegalDataAddress,
    /// 0x03 ILLEGAL DATA VALUE: a value in the request data field is not allowable, e.g. a
    /// quantity out of range or an implied length that is wrong (MB AP §7, code 03).
    IllegalDataValue,
    /// 0x04 SERVER DEVICE FAILURE: an unrecoverable error occurred while the server was
    /// performing the requested action (MB AP §7, code 04).
    ServerDeviceFailure,
    /// 0x05 ACKNOWLEDGE: the request was accepted but needs a long time to process
    /// (MB AP §7, code 05).
    Acknowledge,
    /// 0x06 SERVER DEVICE BUSY: the server is processing a long-duration command; the client
    /// should retry later (MB AP §7, code 06).
    ServerDeviceBusy,
    /// 0x08 MEMORY PARITY ERROR: the server found a parity error in its extended memory while
    /// serving a file record request (MB AP §7, code 08).
    MemoryParityError,
    /// 0x0A GATEWAY PATH UNAVAILABLE: a gateway could not allocate a path to the target
    /// (MB AP §7, code 0A).
    GatewayPathUnavailable,
    /// 0x0B GATEWAY TARGET DEVICE FAILED TO RESPOND: a gateway got no response from the target
    /// device (MB AP §7, code 0B).
    GatewayTargetDeviceFailedToRespond,
    /// Any other code byte. The specification defines none; a misbehaving device may still send
    /// one, and fault injection may want to.
    Custom(u8),
}

impl ExceptionCode {
    /// The code for a byte received on the wire. Every byte maps to some variant.
    pub const fn new(value: u8) -> Self {
        match value {
            0x01 => Self::IllegalFunction,
            0x02 => Self::IllegalDataAddress,
            0x03 => Self::IllegalDataValue,
            0x04 => Self::ServerDeviceFailure,
            0x05 => Self::Acknowledge,
            0x06 => Self::ServerDeviceBusy,
            0x08 => Self::MemoryParityError,
            0x0A => Self::GatewayPathUnavailable,
            0x0B => Self::GatewayTargetDeviceFailedToRespond,
            other => Self::Custom(other),
        }
    }

    /// The byte sent on the wire.
    pub const fn value(self) -> u8 {
        match self {
            Self::IllegalFunction => 0x01,
            Self::IllegalDataAddress => 0x02,
            Self::IllegalDataValue => 0x03,
            Self::ServerDeviceFailure => 0x04,
            Self::Acknowledge => 0x05,
            Self::ServerDeviceBusy => 0x06,
            Self::MemoryParityError => 0x08,
            Self::GatewayPathUnavailable => 0x0A,
            Self::GatewayTargetDeviceFailedToRespond => 0x0B,
            Self::Custom(other) => other,
        }
    }

    /// The specification's name for the code.
    pub const fn name(self) -> &'static str {
        match self {
            Self::IllegalFunction => "illegal function",
            Self::IllegalDataAddress => "illegal data address",
            Self::IllegalDataValue => "illegal data value",
            Self::ServerDeviceFailure => "server device failure",
            Self::Acknowledge => "acknowledge",
            Self::ServerDeviceBusy => "server device busy",
            Self::MemoryParityError => "memory parity error",
            Self::GatewayPathUnavailable => "gateway path unavailable",
            Self::GatewayTargetDeviceFailedToRespond => "gateway target device failed to respond",
            Self::Custom(_) => "non-standard exception",
        }
    }
}

impl fmt::Display for ExceptionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exception {:02X} ({})", self.value(), self.name())
    }
}

impl std::error::Error for ExceptionCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        for byte in 0..=u8::MAX {
            assert_eq!(ExceptionCode::new(byte).value(), byte);
        }
    }

    #[test]
    fn spec_codes_have_named_variants() {
        assert_eq!(ExceptionCode::new(0x01), ExceptionCode::IllegalFunction);
        assert_eq!(ExceptionCode::new(0x02), ExceptionCode::IllegalDataAddress);
        assert_eq!(ExceptionCode::new(0x03), ExceptionCode::IllegalDataValue);
        assert_eq!(ExceptionCode::new(0x04), ExceptionCode::ServerDeviceFailure);
        assert_eq!(ExceptionCode::new(0x06), ExceptionCode::ServerDeviceBusy);
        assert_eq!(ExceptionCode::new(0x07), ExceptionCode::Custom(0x07));
        assert_eq!(
            ExceptionCode::IllegalDataAddress.to_string(),
            "exception 02 (illegal data address)"
        );
    }
}
