//! Wire formats of chargestorm, with no I/O.
//!
//! Every decoder here returns a typed error and never panics; encoders and decoders
//! round-trip. Nothing in this crate reads a clock, sleeps, spawns or touches a socket:
//! time arrives as a [`time::Instant`] argument.

pub mod can;
pub mod gbt27930;
pub mod modbus;
pub mod mqtt;
pub mod tcec;
pub mod time;
