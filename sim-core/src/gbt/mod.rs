//! GB/T 27930-2015 charging sessions between an off-board charger and a vehicle BMS.
//!
//! - [`charger::ChargerSession`] and [`bms::BmsSession`]: the two sans-IO state machines.
//! - [`segment::Segment`]: the in-process CAN segment between them, with bus timing, a
//!   tap and a fault layer.
//! - [`pair::Pair`]: one charger, one BMS and their segment, driven together; what a DC
//!   connector embeds.
//! - [`faults`]: the fault hooks as data.

pub mod bms;
pub mod charger;
mod common;
pub mod conformance;
pub mod faults;
pub mod pair;
pub mod segment;

#[cfg(test)]
mod tests;

pub use common::{Counters, PGN_SLOTS, PgnCounts, SLOT_PGNS, Version, pgn_slot};
pub(crate) use common::{NEVER, deadline};
