//! Modbus: the wire layer (PDUs, RTU and TCP framing, CRC) and the register maps of the
//! energy meters chargestorm emulates and reads.
//!
//! Everything here is sans-IO: byte slices in, byte vectors out. The `hil` crate drives real
//! serial lines and sockets with tokio-modbus and uses this module for register images,
//! meter decoding and for frames tokio-modbus cannot produce (wrong CRCs, malformed PDUs).
//!
//! Emulating a meter: keep a [`MeterConfig`] and the current [`MeterReading`]; answer each
//! request with [`respond`] (or [`read_registers`] / [`write_registers`] when tokio-modbus has
//! already parsed it). To freeze or corrupt values, render once with [`render_image`], edit
//! the [`RegisterImage`] and serve it with [`RegisterImage::serve`]. Staying silent for other
//! unit ids and delaying replies are the I/O shell's job.
//!
//! Reading a real meter: send the requests of the model's
//! [`poll_plan`](RegisterMap::poll_plan), store each response with
//! [`RegisterImage::insert_response`], then [`decode_reading`].
//!
//! Decisions where the reference leaves room: FC03 and FC04 reach one bank on the Chint
//! meters only (the DJSF1352 answers FC04 with exception 01; Eastron measurements are input
//! registers only); a read that covers any unmapped register fails with exception 02, while
//! reserved registers inside documented blocks read as zero; a read that cuts a 32-bit value
//! is served unless [`config::SplitReads::Reject`] is set; the configured word order applies
//! to every 32-bit value, integers included.

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
pub mod write;

pub use config::{MeterConfig, MeterModel};
pub use decode::{DecodeError, decode_reading};
pub use exception::ExceptionCode;
pub use image::RegisterImage;
pub use map::{Quantity, RegisterDef, RegisterMap, Table};
pub use pdu::{FunctionCode, PduError, Request, Response};
pub use reading::{AcReading, DcReading, MeterKind, MeterReading};
pub use render::{read_registers, read_registers_into, render_image, respond};
pub use words::WordOrder;
pub use write::write_registers;
