//! GB/T 27930-2015: DC charging communication between an off-board charger and the vehicle
//! BMS over CAN (reference: `/work/shared/reference/gbt27930.md`).
//!
//! - [`id`]: the J1939 29-bit identifier, PGNs, addresses and the receive filter.
//! - [`msg`]: the 22 messages as typed structs, their codecs and the timing table.
//! - [`tp`]: the J1939-21 transport protocol (RTS/CTS) as sans-IO sender and receiver.
//! - [`candump`]: the can-utils candump log format, read and write.

pub mod candump;
pub mod id;
pub mod msg;
pub mod tp;
