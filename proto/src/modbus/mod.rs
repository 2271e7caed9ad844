//! Modbus: the wire layer (PDUs, RTU and TCP framing, CRC) and the register maps of the
//! energy meters chargestorm emulates and reads.
//!
//! Everything here is sans-IO: byte slices in, byte vectors out. The `hil` crate drives real
//! serial lines and sockets with tokio-modbus and uses this module for register images,
//! meter decoding and for frames tokio-modbus cannot produce (wrong CRCs, malformed PDUs).

pub mod crc;
pub mod exception;
pub mod pdu;
pub mod rtu;
pub mod tcp;
pub mod words;

pub use exception::ExceptionCode;
pub use pdu::{FunctionCode, PduError, Request, Response};
pub use words::WordOrder;
