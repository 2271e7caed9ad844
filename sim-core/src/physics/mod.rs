//! Physics models (placeholder header, replaced below).

pub mod battery;
pub mod bms;
pub mod common;
pub mod dc;
pub mod grid;
pub mod spread;
