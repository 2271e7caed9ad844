//! Modbus: the wire layer (PDUs, RTU and TCP framing, CRC) and the register maps of the
//! energy meters chargestorm emulates and reads.
//!
//! Everything here is sans-IO: byte slices in, byte vectors out. The `hil` crate drives real
//! serial lines and sockets with tokio-modbus and uses this module for register images,
//! meter decoding and for frames tokio-modbus cannot produce (wrong CRCs, malformed PDUs).

pub mod config;
pub mod crc;
pub mod decode;
pub mod exception;
pub mod image;
pub mod map;
pub mod pdu;
pub mod reading;
pub mod render;
pub mod rtu;
pub mod tcp;
pub mod words;

pub use config::{MeterConfig, MeterModel};
pub use decode::{DecodeError, decode_reading};
pub use exception::ExceptionCode;
pub use image::RegisterImage;
pub use map::{Quantity, RegisterDef, RegisterMap, Table};
pub use pdu::{FunctionCode, PduError, Request, Response};
pub use reading::{AcReading, DcReading, MeterKind, MeterReading};
pub use render::{read_registers, read_registers_into, render_image, respond};
pub use words::WordOrder;
